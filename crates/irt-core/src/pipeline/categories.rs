//! Which items of a run are scored in categories, and in how many: from their answers in the
//! window and, where given, `meta->'irt'->'categories'`. A category no one reached in the window
//! is merged away as mirt does ("re-mapped to ensure all categories have a distance of 1"): the
//! reached scores, in order, become categories 0 … K−1, and the NOTICE says so. And each item's
//! own model, where `meta->'irt'->'model'` gives one: how its categories are formed (GRM, GPCM,
//! PCM), or a right/wrong item's 2PL or 3PL beside the run's other items.

use crate::alloc;
use crate::bank::Bank;
use crate::error::{CoreError, Result};
use crate::exclusion::Kept;
use crate::layout::Layout;
use crate::model::{ItemModel, RunModel, Steps, MAX_CATEGORIES};
use crate::settings::Settings;

use super::reporter::Reporter;

/// An item scored in three or more categories: the model that forms them (GRM, GPCM, PCM), and
/// the score each stands for (0 … K−1 unless a score was not reached).
#[derive(Clone, Debug, PartialEq)]
pub struct Categories {
    pub model: RunModel,
    pub scores: Vec<u8>,
}

impl Categories {
    pub fn count(&self) -> usize {
        self.scores.len()
    }

    pub fn steps(&self) -> Steps {
        self.model.steps().expect("a model of items in categories")
    }
}

/// What each item of a run is, in item order: its categories where it has three or more, and a
/// right/wrong model of its own where it has one.
pub struct ItemKinds {
    pub categories: Vec<Option<Categories>>,
    /// The scores a right/wrong item's two categories stand for where they are not 0 and 1 (an
    /// item of a score source whose other scores no one reached).
    pub pair_scores: Vec<Option<[u8; 2]>>,
    pub models: Vec<Option<ItemModel>>,
}

impl ItemKinds {
    /// Reads them from the answers and the bank; renumbers the answers of items with a
    /// category not reached (see [`item_categories`]).
    pub(super) fn of(
        kept: &mut Kept,
        bank: &Bank,
        settings: &Settings,
        reporter: &mut impl Reporter,
    ) -> Result<Self> {
        let mut own = alloc::with_capacity(kept.item_ids.len(), "the items' models")?;
        for id in &kept.item_ids {
            own.push(own_model(bank, id, settings)?);
        }
        let (categories, pair_scores) = item_categories(kept, &own, bank, settings, reporter)?;
        // An item in categories' own model only says how they are formed.
        let models = alloc::collect(
            own.iter().zip(&categories).map(|(own, c)| match own {
                Some(m) if c.is_none() && m.item_model() != settings.model => Some(m.item_model()),
                _ => None,
            }),
            "the items' models",
        )?;
        Ok(Self {
            categories,
            pair_scores,
            models,
        })
    }

    /// The model item j is fitted with, right or wrong: its own, or the run's.
    pub fn right_wrong_model(&self, j: usize, settings: &Settings) -> ItemModel {
        self.models[j].unwrap_or(settings.model)
    }

    /// The model item j is written with: its categories' model, its own, or the run's.
    pub fn model_name(&self, j: usize, settings: &Settings) -> &'static str {
        match (&self.categories[j], self.models[j]) {
            (Some(c), _) => c.model.name(),
            (None, Some(own)) => own.name(),
            (None, None) => settings.model.name(),
        }
    }

    /// The parameters a free item j estimates (a shared slope not counted): the layout's
    /// coordinates of its model, in its categories.
    pub fn estimated_parameters(&self, j: usize, settings: &Settings) -> usize {
        let coords = Layout::coords(self.right_wrong_model(j, settings));
        match &self.categories[j] {
            Some(c) => coords.in_categories(c.count()).indices().len(),
            None => coords.indices().len(),
        }
    }
}

/// Per kept item, its categories where it has three or more (None: right or wrong, or two
/// categories, which the run's model fits as such), and the scores of a pair where they are not
/// 0 and 1. Renumbers the answers of items with a category not reached. A source of right/wrong
/// answers has none, and costs nothing here.
#[allow(clippy::type_complexity)]
fn item_categories(
    kept: &mut Kept,
    own: &[Option<RunModel>],
    bank: &Bank,
    settings: &Settings,
    reporter: &mut impl Reporter,
) -> Result<(Vec<Option<Categories>>, Vec<Option<[u8; 2]>>)> {
    let n_items = kept.item_ids.len();
    let mut out = alloc::with_capacity(n_items, "the items' categories")?;
    let mut pairs = alloc::filled(n_items, None, "the items' categories")?;
    if !kept.scores {
        out.resize(n_items, None);
        return Ok((out, pairs));
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
            if reached != [0, 1] {
                pairs[j] = Some([reached[0], reached[1]]);
            }
            None
        } else {
            // The item's own model where it has one, else the run's.
            let model = own[j].unwrap_or(settings.run_model);
            if model.steps().is_none() {
                return Err(CoreError::CategoriesNeedModel {
                    item: id.clone(),
                    categories: reached.len(),
                    model: model.name(),
                });
            }
            Some(Categories {
                model,
                scores: reached,
            })
        });
    }
    if renumber.iter().any(Option::is_some) {
        kept.responses
            .renumber_answers(|j, x| renumber[j].map_or(x, |map| map[usize::from(x)]));
    }
    Ok((out, pairs))
}

/// An item's own model, where the bank gives one that a run of `settings.run_model` can fit
/// beside its others: a 2PL, 3PL, GRM or GPCM where the run's right/wrong items have slopes of
/// their own (2PL, 3PL, GRM, GPCM), PCM or Rasch where they have slope 1 (Rasch, PCM).
fn own_model(bank: &Bank, id: &str, settings: &Settings) -> Result<Option<RunModel>> {
    let Some(&own) = bank.models.get(id) else {
        return Ok(None);
    };
    let fits = if settings.model.has_item_slopes() {
        own.item_model().has_item_slopes()
    } else {
        own.item_model() == settings.model
    };
    if fits {
        return Ok(Some(own));
    }
    Err(CoreError::InvalidSetting {
        field: "meta->'irt'->'model'",
        reason: format!(
            "item {id} is a {} of its own, which a {} run cannot fit beside its other items: \
             an item's own model has slopes of its own (2PL, 3PL, GRM, GPCM) in a run whose \
             items do (2PL, 3PL, GRM, GPCM), and slope 1 (Rasch, PCM) in a run whose items do",
            own.name(),
            settings.run_model.name()
        ),
    })
}
