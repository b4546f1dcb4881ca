//! Every item's status after a run, by the gates of `lifecycle`, from its fit, its parameters and
//! the drift screening, the DIF screening and the trend across runs.

use std::collections::HashMap;

use crate::alloc;
use crate::error::Result;
use crate::exclusion::Kept;
use crate::item_fit::{FitReport, ItemFit};
use crate::lifecycle::{self, Evidence, Status};
use crate::settings::Settings;

use super::anchors::{last_screening, DriftRow};
use super::dif_screening::DifScreening;
use super::reported::ReportedItem;
use super::usable::{Anchor, HeldOut};

/// One item's fit and status after the run.
#[derive(Clone, Debug)]
pub struct ItemReview {
    pub item_id: String,
    /// None for an excluded item.
    pub fit: Option<ItemFit>,
    pub status: Status,
    pub reason: Option<String>,
}

/// Every item's status: the calibrated items in order, then the excluded ones.
#[allow(clippy::too_many_arguments)]
pub(super) fn review(
    kept: &Kept,
    items: &[ReportedItem],
    report: &FitReport,
    anchors: &[Anchor],
    drift: &[DriftRow],
    held_out: &[HeldOut],
    // The DIF screening and the groups' names.
    dif: Option<(&DifScreening, &[String])>,
    // Why each item whose trend alarms is trending, by item.
    trending: &HashMap<usize, String>,
    settings: &Settings,
) -> Result<Vec<ItemReview>> {
    let mut drifted: HashMap<usize, String> = held_out
        .iter()
        .map(|h| (h.item, h.reason.clone()))
        .collect();
    for (a, row) in anchors.iter().zip(last_screening(drift)) {
        let c = &row.check;
        if c.flagged {
            let z = |z: Option<f64>| z.map_or("-".into(), |z| format!("{z:.2}"));
            drifted.insert(
                a.item,
                format!(
                    "anchor flagged by drift screening: z_a {}, z_b {}, p {}, area {:.3}",
                    z(c.z_a),
                    z(c.z_b),
                    c.p_value.map_or("-".into(), |p| format!("{p:.2e}")),
                    c.area
                ),
            );
        }
    }
    let mut reviews =
        alloc::with_capacity(kept.item_ids.len() + kept.excluded.len(), "the item rows")?;
    for (j, id) in kept.item_ids.iter().enumerate() {
        let fit = report.items[j];
        let dif_reason = dif.and_then(|(d, names)| d.reason(j, names));
        let (status, reason) = lifecycle::status(&Evidence {
            drifted: drifted.get(&j).map(String::as_str),
            dif: dif_reason.as_deref(),
            trending: trending.get(&j).map(String::as_str),
            s_x2_p: fit.s_x2_p,
            rmsd: fit.rmsd,
            answers: items[j].n_responses,
            slope: settings
                .model
                .has_item_slopes()
                .then_some(items[j].params.slope()),
            p_value: items[j].p_value,
        });
        reviews.push(ItemReview {
            item_id: id.clone(),
            fit: Some(fit),
            status,
            reason,
        });
    }
    reviews.extend(kept.excluded.iter().map(|e| ItemReview {
        item_id: e.item_id.clone(),
        fit: None,
        status: Status::Excluded,
        reason: Some(e.reason.clone()),
    }));
    Ok(reviews)
}
