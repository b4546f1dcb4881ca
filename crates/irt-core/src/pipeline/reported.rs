//! The items of a finished calibration on the reported scale, as both front ends write them.

use serde_json::{json, Value};

use crate::alloc;
use crate::em::FitResult;
use crate::error::{CoreError, Result};
use crate::linking::LinkingConstants;
use crate::model::{ItemParams, ParamCovariance};

use super::categories::Categories;

/// One item of the finished calibration, on the reported scale.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedItem {
    pub params: ItemParams,
    /// Standard errors where they could be computed: of (a, b, c, d) of a right/wrong item; of
    /// (a, b_1 … b_(K−1), b) of an item in categories, b the mean of its thresholds.
    pub standard_errors: Option<Vec<f64>>,
    pub fixed: bool,
    pub n_responses: u64,
    pub p_value: f64,
}

impl ReportedItem {
    /// The `params` column: a, b, c, d, their SEs and whether the item was held fixed, and the
    /// scores of a right/wrong item's pair where they are not 0 and 1 (`pair_scores`). An item
    /// in categories (`categories`: its model and scores) has its slope as `a`, its thresholds
    /// and intercepts as lists, and as `b` the mean of its thresholds (its location), so that a
    /// query that reads `a` and `b` as numbers reads every item.
    pub fn params_json(
        &self,
        categories: Option<&Categories>,
        pair_scores: Option<[u8; 2]>,
    ) -> String {
        let p = &self.params;
        let Some(categories) = categories else {
            let (irt, d) = (p.irt(), p.intercept());
            let mut entry = json!({
                "a": finite(irt.a), "b": finite(irt.b), "c": finite(irt.c), "d": finite(d),
                "fixed": self.fixed,
            });
            if let Some(se) = &self.standard_errors {
                for (key, v) in ["se_a", "se_b", "se_c", "se_d"].into_iter().zip(se) {
                    entry[key] = finite(*v);
                }
            }
            if let Some(scores) = pair_scores {
                entry["scores"] = json!(scores);
            }
            return entry.to_string();
        };
        let k = p.categories();
        let thresholds = &p.irt_coords()[1..k];
        let mut entry = json!({
            "model": categories.model.name(),
            "categories": k,
            "scores": categories.scores,
            "a": finite(p.slope()),
            "b": finite(p.location()),
            "c": 0,
            "thresholds": thresholds.iter().map(|&b| finite(b)).collect::<Vec<_>>(),
            "intercepts": p.intercepts().iter().map(|&d| finite(d)).collect::<Vec<_>>(),
            "fixed": self.fixed,
        });
        if let Some(se) = &self.standard_errors {
            entry["se_a"] = finite(se[0]);
            entry["se_thresholds"] = se[1..k].iter().map(|&v| finite(v)).collect();
            entry["se_b"] = finite(se[k]);
        }
        entry.to_string()
    }
}

/// Every item on the reported scale: a/A and every location A·b + B (`ItemParams::on_scale`),
/// SEs scaled alike; a right/wrong item's d* = −a*·b*.
pub(super) fn reported_items(
    result: &FitResult,
    k: &LinkingConstants,
) -> Result<Vec<ReportedItem>> {
    let items = alloc::collect(
        result
            .items
            .iter()
            .zip(&result.item_stats)
            .map(|(est, stats)| ReportedItem {
                params: est.params.on_scale(k.slope, k.intercept),
                standard_errors: est.covariance.map(|c| standard_errors(&est.params, &c, k)),
                fixed: est.fixed,
                n_responses: stats.n,
                // The mean score as a share of the highest: the proportion right of a
                // right/wrong item.
                p_value: stats.p_value() / (est.params.categories() - 1) as f64,
            }),
        "the item rows",
    )?;
    if items.iter().any(|i| {
        let n = i.params.n_coords();
        !i.params.irt_coords()[..n].iter().all(|v| v.is_finite())
    }) {
        return Err(CoreError::NonFinite {
            what: "item parameter",
        });
    }
    Ok(items)
}

/// The standard errors of an item on the reported scale, from the covariance of its IRT form
/// on the fit's; the constants' own uncertainty is not added.
fn standard_errors(p: &ItemParams, cov: &ParamCovariance, k: &LinkingConstants) -> Vec<f64> {
    if p.steps().is_none() {
        let c = cov.abc();
        let (a, b) = (p.slope(), p.b());
        // d* = −(a/A)(A·b + B) = −a·b − a·B/A: gradient (−b − B/A, −a) in (a, b).
        let (ga, gb) = (-b - k.intercept / k.slope, -a);
        let se_d = (ga * ga * c[0][0] + 2.0 * ga * gb * c[0][1] + gb * gb * c[1][1])
            .max(0.0)
            .sqrt();
        return vec![
            c[0][0].sqrt() / k.slope,
            c[1][1].sqrt() * k.slope,
            c[2][2].sqrt(),
            se_d,
        ];
    }
    let n = p.n_coords();
    let mut se = vec![cov.entry(0, 0).sqrt() / k.slope];
    se.extend((1..n).map(|m| cov.entry(m, m).sqrt() * k.slope));
    // The mean of the thresholds: Var = Σ_ij Cov(b_i, b_j) / (K − 1)².
    let var: f64 = (1..n)
        .flat_map(|r| (1..n).map(move |c| (r, c)))
        .map(|(r, c)| cov.entry(r, c))
        .sum();
    se.push(var.max(0.0).sqrt() / (n - 1) as f64 * k.slope);
    se
}

/// A number for the record, NULL where it is not finite.
pub(super) fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}
