//! Start values: given ones where the caller has them, else classical test theory estimates
//! (p-value and point-biserial through the normal-ogive relations), which put EM near the
//! answer and save cycles. mirt-compatible mode starts where mirt does instead, since where
//! mirt stops short of the maximum depends on where it started.

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

use crate::model::{ItemModel, ItemParams, Steps};
use crate::params::{Algorithm, FitConfig};
use crate::responses::ItemStats;

/// Normal-ogive slopes times 1.702 are logistic slopes.
const OGIVE_TO_LOGISTIC: f64 = 1.702;
const START_GUESSING: f64 = 0.2;
/// mirt's start: slope 0.5 and intercept Φ⁻¹(p)/√0.75 on the normal-ogive scale, g = 0.15.
const MIRT_OGIVE_SLOPE: f64 = 0.5;
const MIRT_GUESSING: f64 = 0.15;

pub fn start_values(config: &FitConfig, stats: &[ItemStats]) -> Vec<ItemParams> {
    let defaults: Vec<ItemParams> = stats
        .iter()
        .zip(&config.categories)
        .map(|(s, categories)| match (categories, config.algorithm) {
            (&Some((steps, k)), Algorithm::MirtCompatible) => {
                mirt_start_in_categories(s, steps, k, config.model)
            }
            (&Some((steps, k)), _) => in_categories(s, steps, k),
            (None, Algorithm::Squarem | Algorithm::Em) => classical_estimate(s),
            (None, Algorithm::MirtCompatible) => mirt_start(s, config.model),
        })
        .collect();
    let free_defaults = || {
        defaults
            .iter()
            .zip(&config.fixed)
            .filter(|(_, f)| f.is_none())
            .map(|(p, _)| p.slope())
    };
    let common_slope = free_defaults().sum::<f64>() / free_defaults().count().max(1) as f64;
    defaults
        .iter()
        .enumerate()
        .map(|(j, &default)| {
            if let Some(fixed) = config.fixed[j] {
                return fixed;
            }
            let given = config.start[j].unwrap_or(default);
            let model = config.item_models[j];
            if config.categories[j].is_some() {
                return model.shaped(&given, common_slope, 0.0);
            }
            // A given start without guessing keeps the default's lower asymptote.
            let c = if given.has_guessing() {
                given.guessing()
            } else {
                default.guessing()
            };
            model.shaped(&given, common_slope, c)
        })
        .collect()
}

/// An item in `k` categories as `classical_estimate` takes a right/wrong one, by the normal
/// ogive: the polyserial correlation r with the rest score, from the item–rest correlation
/// (Olsson, Drasgow & Dorans 1982: r·σ_x / Σ_m φ(τ_m), τ_m = Φ⁻¹(P(X ≥ m))), gives the slope
/// 1.702·r/√(1 − r²) and the cumulative thresholds −τ_m / r (shares with halves added, so that
/// none is 0 or 1); a partial credit item starts at those thresholds as its steps.
fn in_categories(s: &ItemStats, steps: Steps, k: usize) -> ItemParams {
    let unit = Normal::standard();
    let share = |x: usize| (s.by_answer[x] as f64 + 0.5) / (s.n as f64 + 0.5 * k as f64);
    let tau: Vec<f64> = (1..k)
        .map(|m| probit((m..k).map(share).sum::<f64>()))
        .collect();
    let mean: f64 = (1..k).map(|x| x as f64 * share(x)).sum();
    let sd = (0..k)
        .map(|x| (x as f64 - mean).powi(2) * share(x))
        .sum::<f64>()
        .sqrt();
    let density: f64 = tau.iter().map(|&t| unit.pdf(t)).sum();
    let r = (s.point_biserial * sd / density).clamp(0.15, 0.85);
    let a = OGIVE_TO_LOGISTIC * r / (1.0 - r * r).sqrt();
    let thresholds: Vec<f64> = tau.iter().map(|t| -t / r).collect();
    ItemParams::from_thresholds(steps, a, &thresholds)
        .expect("the configured categories were checked")
}

fn classical_estimate(s: &ItemStats) -> ItemParams {
    let unit = Normal::standard();
    let p = (s.n_correct as f64 + 0.5) / (s.n as f64 + 1.0);
    let z = unit.inverse_cdf(p);
    let biserial = (s.point_biserial * (p * (1.0 - p)).sqrt() / unit.pdf(z)).clamp(0.15, 0.85);
    let a = OGIVE_TO_LOGISTIC * biserial / (1.0 - biserial * biserial).sqrt();
    ItemParams::from_irt(a, -z / biserial, START_GUESSING)
}

/// mirt's start values; its Rasch keeps the intercept with the slope at 1.
fn mirt_start(s: &ItemStats, model: ItemModel) -> ItemParams {
    ItemParams::new(
        mirt_slope(model),
        probit(s.p_value()) / mirt_divisor(),
        MIRT_GUESSING,
    )
}

/// mirt's start values of an item in `k` categories (its `model.elements`): graded intercepts
/// Φ⁻¹(P(X ≥ m)), partial credit ones Φ⁻¹(P(X = m)) − Φ⁻¹(P(X = 0)), from the categories'
/// shares, each over mirt's divisor; the slope as a right/wrong item's.
fn mirt_start_in_categories(s: &ItemStats, steps: Steps, k: usize, model: ItemModel) -> ItemParams {
    let share = |x: usize| s.by_answer[x] as f64 / s.n as f64;
    let d: Vec<f64> = (1..k)
        .map(|m| match steps {
            Steps::Graded => probit((m..k).map(share).sum::<f64>()),
            Steps::PartialCredit => probit(share(m)) - probit(share(0)),
        } / mirt_divisor())
        .collect();
    ItemParams::in_categories(steps, mirt_slope(model), &d)
        .expect("the configured categories were checked")
}

/// mirt's divisor of Φ⁻¹: √(1 − λ²) / 1.702 with its start loading λ = 0.5, which turns a
/// normal-ogive threshold into a logistic intercept.
fn mirt_divisor() -> f64 {
    (1.0 - MIRT_OGIVE_SLOPE * MIRT_OGIVE_SLOPE).sqrt() / OGIVE_TO_LOGISTIC
}

fn mirt_slope(model: ItemModel) -> f64 {
    if model == ItemModel::Rasch {
        1.0
    } else {
        MIRT_OGIVE_SLOPE * OGIVE_TO_LOGISTIC
    }
}

fn probit(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::simulate_graded;

    /// Graded items start near their truth (the polyserial correlation with the rest score, by
    /// the normal ogive): on 2,000 persons answering 30 items of four categories, slopes within
    /// 20 % and thresholds within 0.25 on average, where slope 1 at the categories' shares
    /// (the start before) missed the slopes by their spread and the thresholds by the slope.
    #[test]
    fn graded_items_start_near_their_truth() {
        let sim = simulate_graded(5, 2000, 30, 30, 4);
        let stats = sim.data.item_stats().unwrap();
        let (mut log_a, mut b, mut n) = (0.0, 0.0, 0.0);
        for (truth, s) in sim.items.iter().zip(&stats) {
            let start = in_categories(s, Steps::Graded, 4);
            let (x, y) = (start.irt_coords(), truth.irt_coords());
            log_a += (x[0] / y[0]).ln().abs();
            b += (1..4).map(|m| (x[m] - y[m]).abs()).sum::<f64>() / 3.0;
            n += 1.0;
        }
        let (log_a, b) = (log_a / n, b / n);
        println!("mean |Δ ln a| {log_a:.3}, mean |Δ b| {b:.3}");
        assert!(log_a < 0.2 && b < 0.25, "{log_a} {b}");
    }
}
