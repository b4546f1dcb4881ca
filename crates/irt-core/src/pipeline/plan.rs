//! What `linking => 'auto'` and `priors => 'bank'` become in a run, decided from its data once
//! the usable anchors are known (the evidence is in docs/accuracy.md).

use serde_json::{json, Value};

use crate::error::Result;
use crate::exclusion::Kept;
use crate::linking::LinkingMethod;
use crate::priors::{learned_from, NormalPrior, Priors, PriorsSetting, BANK_MIN_ANCHORS};
use crate::settings::{Linking, Settings};

use super::usable::Anchor;

/// `auto` holds the anchors fixed when the median anchor has fewer answers in the window than
/// this, and links a separate calibration by Stocking–Lord otherwise. Below it, re-estimating
/// every anchor from its few answers costs more accuracy than the stored values' own error.
pub const AUTO_FIXED_BELOW: f64 = 500.0;

/// The run's linking and priors, resolved.
#[derive(Clone, Debug)]
pub struct Plan {
    pub linking: Linking,
    /// Why `auto` chose `linking` (None when the method was given).
    pub linking_reason: Option<String>,
    /// `auto` chose to hold anchors fixed: a separate Stocking–Lord calibration screens them
    /// first, so that only the anchors it keeps are ever held fixed.
    pub screen_first: bool,
    /// The new items' priors, on the anchors' scale.
    pub priors: Priors,
    /// Learned from the bank: a separate fit takes them through a provisional link.
    pub learned: bool,
    /// `model_spec->'priors_used'`.
    pub priors_record: Value,
}

impl Plan {
    pub(super) fn new(kept: &Kept, anchors: &[Anchor], settings: &Settings) -> Result<Self> {
        let median = median_anchor_answers(kept, anchors)?;
        let (linking, linking_reason) = if settings.linking_auto {
            let (linking, reason) = auto_linking(median);
            (linking, Some(reason))
        } else {
            (settings.linking, None)
        };
        let (priors, learned, fallback) = match settings.priors {
            PriorsSetting::Preset(p) => (p, false, None),
            PriorsSetting::Bank => {
                let stored: Vec<_> = anchors.iter().map(|a| a.stored).collect();
                match learned_from(&stored) {
                    None => (
                        Priors::DEFAULT,
                        false,
                        Some(format!(
                            "{} usable anchors, fewer than the {BANK_MIN_ANCHORS} a bank prior is learned from; the default priors were used",
                            anchors.len()
                        )),
                    ),
                    Some(_) if linking != Linking::Fixed && median >= AUTO_FIXED_BELOW => (
                        Priors::DEFAULT,
                        false,
                        Some(format!(
                            "the median anchor has {median} answers, at least {AUTO_FIXED_BELOW}: a separate calibration keeps the default priors, since the bank's would need a fit of their own to reach its scale and improve RMSE there by a few per cent"
                        )),
                    ),
                    Some(p) => (p, true, None),
                }
            }
        };
        let prior =
            |p: Option<NormalPrior>| p.map_or(Value::Null, |p| json!({"mean": p.mean, "sd": p.sd}));
        let priors_record = json!({
            "log_a": prior(priors.slope),
            "b": prior(priors.difficulty),
            "logit_c": prior(priors.guessing),
            "learned_from_anchors": if learned { json!(anchors.len()) } else { Value::Null },
            "fallback": fallback,
        });
        Ok(Self {
            screen_first: linking == Linking::Fixed && settings.linking_auto,
            linking,
            linking_reason,
            priors,
            learned,
            priors_record,
        })
    }
}

/// The answers in the window of the median usable anchor (0 without anchors).
fn median_anchor_answers(kept: &Kept, anchors: &[Anchor]) -> Result<f64> {
    if anchors.is_empty() {
        return Ok(0.0);
    }
    let stats = kept.responses.item_tallies()?;
    let mut per_anchor: Vec<u64> = anchors.iter().map(|a| stats[a.item].n).collect();
    per_anchor.sort_unstable();
    Ok(per_anchor.get(per_anchor.len() / 2).copied().unwrap_or(0) as f64)
}

/// Fixed below [`AUTO_FIXED_BELOW`] answers for the median anchor, Stocking–Lord from there.
fn auto_linking(median: f64) -> (Linking, String) {
    if median < AUTO_FIXED_BELOW {
        (
            Linking::Fixed,
            format!("the median anchor has {median} answers, fewer than {AUTO_FIXED_BELOW}: anchors screened by a separate calibration and those it keeps held fixed"),
        )
    } else {
        (
            Linking::Separate(LinkingMethod::StockingLord),
            format!("the median anchor has {median} answers, at least {AUTO_FIXED_BELOW}: separate calibration linked by Stocking–Lord"),
        )
    }
}
