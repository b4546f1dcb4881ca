//! Start values: given ones where the caller has them, else classical test theory estimates
//! (p-value and point-biserial through the normal-ogive relations), which put EM near the
//! answer and save cycles. mirt-compatible mode starts where mirt does instead, since where
//! mirt stops short of the maximum depends on where it started.

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

use crate::model::{logit, ItemModel, ItemParams, Steps};
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

/// An item in `k` categories at slope 1, its intercepts from the categories' shares (halves
/// added, so that no share is 0): where the curves cross the shares at θ = 0.
fn in_categories(s: &ItemStats, steps: Steps, k: usize) -> ItemParams {
    let share = |x: usize| (s.by_answer[x] as f64 + 0.5) / (s.n as f64 + 0.5 * k as f64);
    let d: Vec<f64> = (1..k)
        .map(|m| match steps {
            // P(X ≥ m) = s(d_m).
            Steps::Graded => logit((m..k).map(share).sum::<f64>()),
            // P(X = m) / P(X = 0) = exp(d_m).
            Steps::PartialCredit => (share(m) / share(0)).ln(),
        })
        .collect();
    ItemParams::in_categories(steps, 1.0, &d).expect("the configured categories were checked")
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
