//! The items of a finished calibration on the reported scale, as both front ends write them.

use serde_json::{json, Value};

use crate::alloc;
use crate::em::FitResult;
use crate::error::{CoreError, Result};
use crate::linking::{transform_item, LinkingConstants};
use crate::model::ItemParams;

/// One item of the finished calibration, on the reported scale.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedItem {
    pub params: ItemParams,
    /// Standard errors of (a, b, c, d), where they could be computed.
    pub standard_errors: Option<[f64; 4]>,
    pub fixed: bool,
    pub n_responses: u64,
    pub p_value: f64,
}

impl ReportedItem {
    /// The `params` column: a, b, c, d, their SEs and whether the item was held fixed.
    pub fn params_json(&self) -> String {
        let (p, d) = (self.params.irt(), self.params.intercept());
        let mut entry = json!({
            "a": finite(p.a), "b": finite(p.b), "c": finite(p.c), "d": finite(d),
            "fixed": self.fixed,
        });
        if let Some([sa, sb, sc, sd]) = self.standard_errors {
            entry["se_a"] = finite(sa);
            entry["se_b"] = finite(sb);
            entry["se_c"] = finite(sc);
            entry["se_d"] = finite(sd);
        }
        entry.to_string()
    }
}

/// Every item on the reported scale: (a/A, A·b + B, c), SEs scaled alike; d* = −a*·b*.
pub(super) fn reported_items(
    result: &FitResult,
    k: &LinkingConstants,
) -> Result<Vec<ReportedItem>> {
    let items = alloc::collect(
        result
            .items
            .iter()
            .zip(&result.item_stats)
            .map(|(est, stats)| {
                let t = transform_item(est.params.irt(), k);
                let standard_errors = est.covariance.map(|c| {
                    let c = c.abc();
                    let (a, b) = (est.params.slope(), est.params.b());
                    // d* = −(a/A)(A·b + B) = −a·b − a·B/A: gradient (−b − B/A, −a) in (a, b); the
                    // constants' own uncertainty is not added.
                    let (ga, gb) = (-b - k.intercept / k.slope, -a);
                    let se_d = (ga * ga * c[0][0] + 2.0 * ga * gb * c[0][1] + gb * gb * c[1][1])
                        .max(0.0)
                        .sqrt();
                    [
                        c[0][0].sqrt() / k.slope,
                        c[1][1].sqrt() * k.slope,
                        c[2][2].sqrt(),
                        se_d,
                    ]
                });
                ReportedItem {
                    params: t.into(),
                    standard_errors,
                    fixed: est.fixed,
                    n_responses: stats.n,
                    p_value: stats.p_value(),
                }
            }),
        "the item rows",
    )?;
    if items
        .iter()
        .any(|i| !(i.params.slope().is_finite() && i.params.b().is_finite()))
    {
        return Err(CoreError::NonFinite {
            what: "item parameter",
        });
    }
    Ok(items)
}

/// A number for the record, NULL where it is not finite.
pub(super) fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}
