//! Differential item functioning: does an item measure alike in a focal group and the reference
//! group at the same ability? Mantel–Haenszel on the matching score (`mantel_haenszel`), with
//! the score purified of the items it flags; the IRT likelihood-ratio test of a multiple-group
//! calibration (`likelihood_ratio`).

mod areas;
mod likelihood_ratio;
mod mantel_haenszel;
pub mod matching;

pub use areas::{areas, Areas};
pub use likelihood_ratio::{likelihood_ratio, LikelihoodRatio, LikelihoodRatioTests};
pub use mantel_haenszel::{ets_class, mantel_haenszel, EtsClass, MantelHaenszel, Stratum};

use crate::alloc;
use crate::error::Result;
use crate::responses::Responses;
use crate::stats::benjamini_hochberg;

/// Which group a person is in, for one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Reference,
    Focal,
}

/// Purification stops when the flagged set repeats, or after this many screenings.
pub const MAX_SCREENINGS: usize = 10;

/// The Mantel–Haenszel screening of every item.
#[derive(Clone, Debug, PartialEq)]
pub struct Screening {
    /// Per item: its statistics, None for an item in categories (the test is of right/wrong
    /// answers) or one whose statistics are undefined on these answers.
    pub items: Vec<Option<MantelHaenszel>>,
    /// Per item with statistics: its p adjusted by Benjamini–Hochberg over those items, which
    /// bounds the false discovery rate across them.
    pub adjusted_p: Vec<Option<f64>>,
    /// How many screenings ran: the last one's matching score leaves out the items the one
    /// before flagged B or C (each studied item stays in its own).
    pub screenings: usize,
}

/// Each person's stratum given the matching items.
pub type StrataOf<'a> = dyn Fn(&[bool]) -> Result<Vec<Option<u32>>> + 'a;

/// How persons are matched for the Mantel–Haenszel tables.
pub enum Matching<'a> {
    /// The number-right score on the matching items, the studied item included (Holland &
    /// Thayer): for complete data, where every person answered every item (a number-right score
    /// is comparable only across persons who took the same items).
    NumberRight,
    /// Given the matching items, each person's stratum (None: left out of every table): for
    /// persons who took different items ([`matching::expected_score_strata`]).
    Strata(&'a StrataOf<'a>),
}

/// Mantel–Haenszel for every right/wrong item of `data` between the persons `side` puts in the
/// focal and the reference group (the others left out), stratified as `matching` says. With
/// `purify`, items flagged B or C leave the matching and the screening runs again, until the
/// flagged set repeats.
pub fn screen(
    data: &Responses,
    side: &[Option<Side>],
    right_wrong: &[bool],
    purify: bool,
    matching: &Matching,
) -> Result<Screening> {
    let n_items = data.n_items();
    let mut matching_items = vec![true; n_items];
    let mut screenings = 0;
    loop {
        screenings += 1;
        let tables = match matching {
            Matching::NumberRight => number_right_tables(data, side, right_wrong, &matching_items)?,
            Matching::Strata(strata_of) => {
                let strata = strata_of(&matching_items)?;
                tables_by(data, side, right_wrong, |i, _, _| {
                    strata[i].map(|s| s as usize)
                })?
            }
        };
        let items: Vec<Option<MantelHaenszel>> = tables
            .iter()
            .map(|t| t.as_deref().and_then(mantel_haenszel))
            .collect();
        let next: Vec<bool> = items
            .iter()
            .map(|m| m.is_none_or(|m| m.class == EtsClass::A))
            .collect();
        if !purify || next == matching_items || screenings == MAX_SCREENINGS {
            let p: Vec<f64> = items.iter().flatten().map(|m| m.p).collect();
            let mut adjusted = benjamini_hochberg(&p).into_iter();
            let adjusted_p = items.iter().map(|m| m.and(adjusted.next())).collect();
            return Ok(Screening {
                items,
                adjusted_p,
                screenings,
            });
        }
        matching_items = next;
    }
}

/// The tables of every right/wrong item by number-right score: the scores of the items
/// `matching` keeps, and of the studied item where it is not one of them.
fn number_right_tables(
    data: &Responses,
    side: &[Option<Side>],
    right_wrong: &[bool],
    matching: &[bool],
) -> Result<Vec<Option<Vec<Stratum>>>> {
    let mut scores = alloc::filled(data.n_persons(), 0usize, "the matching scores")?;
    for (i, score) in scores.iter_mut().enumerate() {
        let (items, answers) = data.person(i);
        *score = items
            .iter()
            .zip(answers)
            .filter(|(&k, _)| matching[k as usize])
            .map(|(_, &x)| usize::from(x))
            .sum();
    }
    tables_by(data, side, right_wrong, |i, j, x| {
        Some(scores[i] + if matching[j] { 0 } else { usize::from(x) })
    })
}

/// The 2 × 2 tables of every right/wrong item by stratum, `stratum(person, item, answer)` (None:
/// the person is left out), in one pass over the answers; None for the other items.
fn tables_by(
    data: &Responses,
    side: &[Option<Side>],
    right_wrong: &[bool],
    stratum: impl Fn(usize, usize, u8) -> Option<usize>,
) -> Result<Vec<Option<Vec<Stratum>>>> {
    let mut tables: Vec<Option<Vec<Stratum>>> = alloc::collect(
        right_wrong.iter().map(|&rw| rw.then(Vec::new)),
        "the Mantel–Haenszel tables",
    )?;
    for (i, side) in side.iter().enumerate() {
        let Some(side) = side else { continue };
        let (items, answers) = data.person(i);
        for (&j, &x) in items.iter().zip(answers) {
            let j = j as usize;
            let Some(table) = tables[j].as_mut() else {
                continue;
            };
            let Some(s) = stratum(i, j, x) else { continue };
            if table.len() <= s {
                alloc::grow(table, s + 1 - table.len(), "the Mantel–Haenszel tables")?;
                table.resize(s + 1, Stratum::default());
            }
            let t = &mut table[s];
            match (side, x > 0) {
                (Side::Reference, true) => t.reference_right += 1.0,
                (Side::Reference, false) => t.reference_wrong += 1.0,
                (Side::Focal, true) => t.focal_right += 1.0,
                (Side::Focal, false) => t.focal_wrong += 1.0,
            }
        }
    }
    Ok(tables)
}
