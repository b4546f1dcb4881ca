//! Start values: given ones where the caller has them, else classical test theory estimates
//! (p-value and point-biserial through the normal-ogive relations), which put EM near the
//! answer and save cycles.

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

use crate::model::{ItemModel, ItemParams};
use crate::params::FitConfig;
use crate::responses::ItemStats;

/// Normal-ogive slopes times 1.702 are logistic slopes.
const OGIVE_TO_LOGISTIC: f64 = 1.702;
const START_GUESSING: f64 = 0.2;

pub fn start_values(config: &FitConfig, stats: &[ItemStats]) -> Vec<ItemParams> {
    let classical: Vec<ItemParams> = stats.iter().map(classical_estimate).collect();
    let free_classical = || {
        classical
            .iter()
            .zip(&config.fixed)
            .filter(|(_, f)| f.is_none())
            .map(|(p, _)| p.a)
    };
    let common_slope = free_classical().sum::<f64>() / free_classical().count().max(1) as f64;
    classical
        .iter()
        .enumerate()
        .map(|(j, &cl)| {
            if let Some(fixed) = config.fixed[j] {
                return fixed;
            }
            let given = config.start[j].unwrap_or(cl);
            let b = given.b();
            match config.model {
                ItemModel::Rasch => ItemParams::from_irt(1.0, b, 0.0),
                ItemModel::OnePL => ItemParams::from_irt(common_slope, b, 0.0),
                ItemModel::TwoPL => ItemParams::from_irt(given.a, b, 0.0),
                ItemModel::ThreePL => {
                    let c = if config.start[j].is_some_and(|s| s.c > 0.0) {
                        given.c
                    } else {
                        START_GUESSING
                    };
                    ItemParams::from_irt(given.a, b, c)
                }
            }
        })
        .collect()
}

fn classical_estimate(s: &ItemStats) -> ItemParams {
    let unit = Normal::standard();
    let p = (s.n_correct as f64 + 0.5) / (s.n as f64 + 1.0);
    let z = unit.inverse_cdf(p);
    let biserial = (s.point_biserial * (p * (1.0 - p)).sqrt() / unit.pdf(z)).clamp(0.15, 0.85);
    let a = OGIVE_TO_LOGISTIC * biserial / (1.0 - biserial * biserial).sqrt();
    ItemParams::from_irt(a, -z / biserial, 0.0)
}
