//! Which items of a run are scored in categories, and in how many: from their answers in the
//! window and, where given, `meta->'irt'->'categories'`. A category no one reached in the window
//! is merged away as mirt does ("re-mapped to ensure all categories have a distance of 1"): the
//! reached scores, in order, become categories 0 … K−1, and the NOTICE says so.

use crate::alloc;
use crate::bank::Bank;
use crate::error::{CoreError, Result};
use crate::exclusion::Kept;
use crate::model::{Steps, MAX_CATEGORIES};
use crate::settings::Settings;

use super::reporter::Reporter;

/// An item scored in three or more categories: how they are formed, and the score each stands
/// for (0 … K−1 unless a score was not reached).
#[derive(Clone, Debug, PartialEq)]
pub struct Categories {
    pub steps: Steps,
    pub scores: Vec<u8>,
}

impl Categories {
    pub fn count(&self) -> usize {
        self.scores.len()
    }
}

/// Per kept item, its categories where it has three or more (None: right or wrong, or two
/// categories, which the run's model fits as such). Renumbers the answers of items with a
/// category not reached. A source of right/wrong answers has none, and costs nothing here.
pub(super) fn item_categories(
    kept: &mut Kept,
    bank: &Bank,
    settings: &Settings,
    reporter: &mut impl Reporter,
) -> Result<Vec<Option<Categories>>> {
    let n_items = kept.item_ids.len();
    let mut out = alloc::with_capacity(n_items, "the items' categories")?;
    if !kept.scores {
        out.resize(n_items, None);
        return Ok(out);
    }
    let tallies = kept.responses.item_tallies()?;
    let mut renumber = alloc::filled(n_items, None, "the items' categories")?;
    for (j, (id, tally)) in kept.item_ids.iter().zip(&tallies).enumerate() {
        let reached: Vec<u8> = (0..MAX_CATEGORIES as u8)
            .filter(|&x| tally.by_answer[usize::from(x)] > 0)
            .collect();
        let highest = *reached.last().expect("constant items are excluded");
        let declared = bank.categories.get(id).copied();
        if let Some(k) = declared.filter(|&k| usize::from(highest) >= k) {
            return Err(CoreError::ScoreBeyondDeclared {
                item: id.clone(),
                score: highest,
                categories: k,
            });
        }
        let expected = declared.unwrap_or(usize::from(highest) + 1);
        if reached.len() < expected {
            let missing: Vec<String> = (0..expected as u8)
                .filter(|x| !reached.contains(x))
                .map(|x| x.to_string())
                .collect();
            reporter.notice(&format!(
                "item {id}: no answer in the window scored {} (of 0 to {}); its {} scores reached ({}) are fitted as categories 0 to {}, as mirt does",
                missing.join(", "),
                expected - 1,
                reached.len(),
                reached.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
                reached.len() - 1
            ));
            let mut map = [0u8; MAX_CATEGORIES];
            for (k, &x) in reached.iter().enumerate() {
                map[usize::from(x)] = k as u8;
            }
            renumber[j] = Some(map);
        }
        out.push(if reached.len() <= 2 {
            None
        } else {
            let steps = settings
                .run_model
                .steps()
                .ok_or(CoreError::CategoriesNeedModel {
                    item: id.clone(),
                    categories: reached.len(),
                    model: settings.run_model.name(),
                })?;
            Some(Categories {
                steps,
                scores: reached,
            })
        });
    }
    if renumber.iter().any(Option::is_some) {
        kept.responses
            .renumber_answers(|j, x| renumber[j].map_or(x, |map| map[usize::from(x)]));
    }
    Ok(out)
}
