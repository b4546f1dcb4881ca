//! Differential item functioning: does an item measure alike in a focal group and the reference
//! group at the same ability? Mantel–Haenszel on the matching score (`mantel_haenszel`), with
//! the score purified of the items it flags; the IRT likelihood-ratio test of a multiple-group
//! calibration (`likelihood_ratio`).

mod areas;
mod likelihood_ratio;
mod mantel_haenszel;

pub use areas::{areas, Areas};
pub use likelihood_ratio::{likelihood_ratio, LikelihoodRatio, LikelihoodRatioTests};
pub use mantel_haenszel::{ets_class, mantel_haenszel, EtsClass, MantelHaenszel, Stratum};

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

/// Mantel–Haenszel for every right/wrong item of `data` between the persons `side` puts in the
/// focal and the reference group (the others left out), stratified by the matching score: the
/// sum of a person's scores on the matching items, the studied item included (Holland &
/// Thayer). Every person answered every item (`data` complete: a number-right score is
/// comparable only across persons who took the same items). With `purify`, items flagged B or
/// C leave the matching score and the screening runs again, until the flagged set repeats.
pub fn screen(
    data: &Responses,
    side: &[Option<Side>],
    right_wrong: &[bool],
    purify: bool,
) -> Screening {
    let n_items = data.n_items();
    let mut matching = vec![true; n_items];
    let mut screenings = 0;
    loop {
        screenings += 1;
        let items: Vec<Option<MantelHaenszel>> = (0..n_items)
            .map(|j| {
                if !right_wrong[j] {
                    return None;
                }
                mantel_haenszel(&strata(data, side, &matching, j))
            })
            .collect();
        let next: Vec<bool> = items
            .iter()
            .map(|m| m.is_none_or(|m| m.class == EtsClass::A))
            .collect();
        if !purify || next == matching || screenings == MAX_SCREENINGS {
            let p: Vec<f64> = items.iter().flatten().map(|m| m.p).collect();
            let mut adjusted = benjamini_hochberg(&p).into_iter();
            let adjusted_p = items.iter().map(|m| m.and(adjusted.next())).collect();
            return Screening {
                items,
                adjusted_p,
                screenings,
            };
        }
        matching = next;
    }
}

/// The 2 × 2 tables of item j by matching score (the scores of the items `matching` keeps, and
/// of item j), one per score that occurs.
fn strata(data: &Responses, side: &[Option<Side>], matching: &[bool], j: usize) -> Vec<Stratum> {
    let mut by_score: Vec<Stratum> = Vec::new();
    for (i, side) in side.iter().enumerate() {
        let Some(side) = side else { continue };
        let (items, scores) = data.person(i);
        let (mut score, mut answer) = (0usize, None);
        for (&k, &x) in items.iter().zip(scores) {
            let k = k as usize;
            if k == j {
                answer = Some(x);
            }
            if k == j || matching[k] {
                score += usize::from(x);
            }
        }
        let Some(x) = answer else { continue };
        if by_score.len() <= score {
            by_score.resize(score + 1, Stratum::default());
        }
        let t = &mut by_score[score];
        match (side, x > 0) {
            (Side::Reference, true) => t.reference_right += 1.0,
            (Side::Reference, false) => t.reference_wrong += 1.0,
            (Side::Focal, true) => t.focal_right += 1.0,
            (Side::Focal, false) => t.focal_wrong += 1.0,
        }
    }
    by_score
}
