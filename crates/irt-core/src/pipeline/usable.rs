//! The anchors of a run: which of the bank's anchors can anchor it, and what became of the
//! others.

use std::collections::{HashMap, HashSet};

use crate::bank::Bank;
use crate::drift::AnchorDrift;
use crate::error::{CoreError, Result};
use crate::exclusion::Excluded;
use crate::model::{ItemParams, Steps};
use crate::settings::{Linking, Settings};

use super::categories::ItemKinds;
use super::reporter::{Relations, Reporter};

/// An anchor of this run: its item index, id and stored parameters.
#[derive(Clone, Debug)]
pub struct Anchor {
    pub item: usize,
    pub id: String,
    pub stored: ItemParams,
    /// Standard errors of the stored a and b, where the bank records them.
    pub stored_se: Option<[f64; 2]>,
    /// The run whose screening last flagged it with these stored parameters.
    pub flagged_by: Option<String>,
}

/// The bank's anchors that can anchor this run; the others are counted by what became of them
/// (and warned about where the run decided). An anchor whose last screening flagged it, with
/// the stored parameters it still has, is never used silently: a screening run starts without
/// it (purify) or says it is in the link (flag); a run that does not screen holds it out.
pub(super) fn usable_anchors(
    item_ids: &[String],
    kinds: &ItemKinds,
    excluded: &[Excluded],
    bank: &Bank,
    settings: &Settings,
    relations: &Relations,
    reporter: &mut impl Reporter,
) -> Result<(Vec<Anchor>, Vec<HeldOut>)> {
    if settings.linking == Linking::None {
        return Ok((Vec::new(), Vec::new()));
    }
    let index: HashMap<&str, usize> = item_ids
        .iter()
        .enumerate()
        .map(|(j, id)| (id.as_str(), j))
        .collect();
    let excluded: HashSet<&str> = excluded.iter().map(|e| e.item_id.as_str()).collect();
    let (mut anchors, mut held_out) = (Vec::new(), Vec::new());
    let (mut unanswered, mut excluded_anchors, mut mismatched, mut other_shape) = (0, 0, 0, 0);
    for (id, p) in &bank.anchors {
        match index.get(id.as_str()) {
            Some(&j) => {
                let shape = kinds.categories[j].as_ref().map(|c| (c.steps(), c.count()));
                let refused = if shape != p.shape() {
                    other_shape += 1;
                    Some(shape_mismatch(shape, p))
                } else if shape.is_none() {
                    let why = kinds.right_wrong_model(j, settings).anchor_mismatch(p);
                    mismatched += usize::from(why.is_some());
                    why
                } else {
                    None
                };
                if let Some(why) = refused {
                    reporter.warning(&format!("anchor {id} left out: {why}"));
                } else {
                    let flagged_by = bank.flagged_by(id, p).map(str::to_string);
                    match (&flagged_by, settings.anchor_drift) {
                        (Some(run), AnchorDrift::Off) => {
                            reporter.warning(&format!("anchor {id} left out: run {run} flagged it as drifted, its stored parameters have not changed since, and this run does not screen (anchor_drift => 'off'); review it, then update meta->'irt' or remove its \"anchor\" tag"));
                            held_out.push(HeldOut {
                                item: j,
                                reason: format!("anchor held out: flagged as drifted by run {run}"),
                            });
                            continue;
                        }
                        (Some(run), AnchorDrift::Purify) => reporter.warning(&format!("anchor {id} was flagged as drifted by run {run}: it starts outside the link and is screened again")),
                        (Some(run), AnchorDrift::Flag) => reporter.warning(&format!("anchor {id} was flagged as drifted by run {run} and is in the link (anchor_drift => 'flag')")),
                        (None, _) => {}
                    }
                    anchors.push(Anchor {
                        item: j,
                        id: id.clone(),
                        stored: *p,
                        stored_se: bank.anchor_se.get(id).copied(),
                        flagged_by,
                    });
                }
            }
            None if excluded.contains(id.as_str()) => excluded_anchors += 1,
            None => unanswered += 1,
        }
    }
    reporter.notice(&format!(
        "Loaded {} anchors from {}; {} usable, {excluded_anchors} excluded with their items, {unanswered} without answers in the window, {mismatched} left out for their lower asymptote, {} held out as drifted{}",
        bank.anchors.len(),
        relations.items,
        anchors.len(),
        held_out.len(),
        if other_shape > 0 {
            format!(", {other_shape} left out as stored in another shape")
        } else {
            String::new()
        }
    ));
    if anchors.len() < settings.min_anchors {
        return Err(CoreError::TooFewAnchors {
            usable: anchors.len(),
            min_anchors: settings.min_anchors,
            in_bank: bank.anchors.len(),
            items: relations.items.into(),
        });
    }
    Ok((anchors, held_out))
}

/// Why stored parameters of one shape cannot anchor an item answered in another.
fn shape_mismatch(answered: Option<(Steps, usize)>, stored: &ItemParams) -> String {
    let describe = |shape: Option<(Steps, usize)>| match shape {
        None => "right or wrong".to_string(),
        Some((Steps::Graded, k)) => format!("in {k} graded categories"),
        Some((Steps::PartialCredit, k)) => format!("in {k} partial credit categories"),
    };
    format!(
        "its answers in the window are {}, its stored parameters {}",
        describe(answered),
        describe(stored.shape())
    )
}

/// An anchor left out of an unscreened run because an earlier run flagged it.
pub struct HeldOut {
    pub item: usize,
    pub reason: String,
}
