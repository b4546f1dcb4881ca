//! Each calibrated item's trend across runs (`trend`): its estimate on the anchors' scale in this
//! run, the change since its previous run, and the CUSUM that sums them.

use std::collections::HashMap;

use crate::alloc;
use crate::error::Result;
use crate::settings::Settings;
use crate::trend::{self, Estimate, Previous, Trend, DECISION};

use super::anchors::{last_screening, DriftRow};
use super::categories::ItemKinds;
use super::reported::ReportedItem;
use super::usable::Anchor;

/// One item's trend after the run.
#[derive(Clone, Debug)]
pub struct TrendRow {
    /// The item's index among the calibrated items.
    pub item: usize,
    pub model: &'static str,
    pub trend: Trend,
}

impl TrendRow {
    /// Why the item's status is `trending`, if it is.
    pub fn reason(&self) -> Option<String> {
        let c = &self.trend.cusum;
        let sums = [
            ("b up", Some(c.b_up)),
            ("b down", Some(c.b_down)),
            ("ln a up", self.trend.estimate.log_a.map(|_| c.a_up)),
            ("ln a down", self.trend.estimate.log_a.map(|_| c.a_down)),
        ];
        let over: Vec<String> = sums
            .iter()
            .filter_map(|&(name, s)| {
                s.filter(|&s| s > DECISION)
                    .map(|s| format!("{name} {s:.1}"))
            })
            .collect();
        (!over.is_empty()).then(|| {
            format!(
                "trend across runs: CUSUM {} > {DECISION} over {} runs",
                over.join(", "),
                self.trend.runs
            )
        })
    }
}

/// The trend of every calibrated item with an estimate of its own: an anchor's from its last
/// drift screening (where the answers move it from its stored values, whether it was held fixed
/// or estimated), another item's from its reported estimate; an item held fixed without a
/// screening, or without standard errors, has none this run (its series resumes at its next).
pub(super) fn item_trends(
    item_ids: &[String],
    items: &[ReportedItem],
    kinds: &ItemKinds,
    anchors: &[Anchor],
    drift: &[DriftRow],
    previous: &HashMap<String, Previous>,
    settings: &Settings,
) -> Result<Vec<TrendRow>> {
    let slopes = settings.model.has_item_slopes();
    let screened: HashMap<usize, &DriftRow> = anchors
        .iter()
        .zip(last_screening(drift))
        .map(|(a, row)| (a.item, row))
        .collect();
    let mut rows = alloc::with_capacity(items.len(), "the trend rows")?;
    for (j, item) in items.iter().enumerate() {
        let estimate = match screened.get(&j) {
            Some(row) => row.check.new_se.map(|[se_a, se_b]| Estimate {
                log_a: slopes.then(|| (row.check.new.a.ln(), se_a)),
                b: (row.check.new.b, se_b),
                answers: item.n_responses,
            }),
            None => own_estimate(item, slopes),
        };
        let Some(estimate) = estimate.filter(finite) else {
            continue;
        };
        let model = kinds.model_name(j, settings);
        rows.push(TrendRow {
            item: j,
            model,
            trend: trend::step(
                previous.get(&item_ids[j]),
                estimate,
                model,
                f64::from(settings.lookback_days),
            ),
        });
    }
    Ok(rows)
}

/// An estimated item's (ln a, b) with their SEs: b is a right/wrong item's difficulty or an item
/// in categories' location, the SEs the reported ones (ln a's is a's over a).
fn own_estimate(item: &ReportedItem, slopes: bool) -> Option<Estimate> {
    if item.fixed {
        return None;
    }
    let se = item.standard_errors.as_ref()?;
    let p = &item.params;
    let (b, se_b) = match p.steps() {
        None => (p.irt().b, se[1]),
        Some(_) => (p.location(), se[p.categories()]),
    };
    let a = p.slope();
    Some(Estimate {
        log_a: slopes.then(|| (a.ln(), se[0] / a)),
        b: (b, se_b),
        answers: item.n_responses,
    })
}

/// Every number finite and every SE positive.
fn finite(e: &Estimate) -> bool {
    let ok = |(x, se): (f64, f64)| x.is_finite() && se.is_finite() && se > 0.0;
    ok(e.b) && e.log_a.is_none_or(ok)
}
