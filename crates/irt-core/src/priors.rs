//! Priors for maximum a posteriori item estimation.
//!
//! Defaults, and why: log a ~ N(0, 0.5) keeps slopes positive and pulls an item seen by few
//! people towards 1 without moving well-measured ones (BILOG-MG's choice); b ~ N(0, 2) stops a
//! difficulty from running to ±∞ when a sparse item is nearly all right or all wrong, while an
//! item at b = 3 loses only 1.1 log-prior units; logit c ~ N(logit 0.2, 0.5) places c in about
//! [0.09, 0.40], the range of a four- or five-option item, which is what lets 3PL converge on
//! tests like SAT12 where plain MML does not. `none` gives plain MML, mirt's default.
//!
//! `bank` learns the priors from the bank's own anchors, as BILOG-MG's floating priors learn
//! theirs from the items: the median and the robust SD (0.74·IQR, as the drift screening's) of
//! the usable anchors' stored log a, b and logit c, so that a few odd anchors cannot move them,
//! each SD held within [`BANK_SD_BOUNDS`] so that no bank makes a prior absurdly tight or
//! empty. The numbers are on the anchors' scale: they are the new items' prior where the fit is
//! on that scale (anchors held fixed), and are carried to a separate fit's own scale by its link
//! (see `pipeline::anchors`). Fewer than [`BANK_MIN_ANCHORS`] usable anchors say too little about
//! a distribution; the run then takes the default priors and records why.

use crate::error::{CoreError, Result};
use crate::model::{Deriv, ItemParams};
use crate::stats::{median, robust_spread};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormalPrior {
    pub mean: f64,
    pub sd: f64,
}

impl NormalPrior {
    /// Value, first and second derivative of the log density (without its constant).
    fn log_density(&self, x: f64) -> (f64, f64, f64) {
        let z = (x - self.mean) / self.sd;
        (-0.5 * z * z, -z / self.sd, -1.0 / (self.sd * self.sd))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Priors {
    /// On log a.
    pub slope: Option<NormalPrior>,
    /// On b.
    pub difficulty: Option<NormalPrior>,
    /// On logit c (3PL only).
    pub guessing: Option<NormalPrior>,
}

impl Priors {
    pub const NONE: Priors = Priors {
        slope: None,
        difficulty: None,
        guessing: None,
    };
    pub const DEFAULT: Priors = Priors {
        slope: Some(NormalPrior { mean: 0.0, sd: 0.5 }),
        difficulty: Some(NormalPrior { mean: 0.0, sd: 2.0 }),
        guessing: Some(NormalPrior {
            mean: -1.386_294_361_119_890_6,
            sd: 0.5,
        }),
    };
    pub const PRESETS: [(&'static str, Priors); 2] =
        [("default", Self::DEFAULT), ("none", Self::NONE)];

    pub fn preset(name: &str) -> Result<Priors> {
        Self::PRESETS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|&(_, p)| p)
            .ok_or_else(|| CoreError::InvalidSetting {
                field: "priors",
                reason: format!(
                    "unknown priors \"{name}\"; valid priors are {}, bank",
                    Self::PRESETS.map(|(n, _)| n).join(", ")
                ),
            })
    }

    /// The priors of a new item on a scale θ' = (θ − B)/A, given them on θ's: a' = A·a moves
    /// the mean of log a by ln A; b' = (b − B)/A moves and rescales b; c does not change.
    pub fn rescaled(&self, slope: f64, intercept: f64) -> Priors {
        Priors {
            slope: self.slope.map(|p| NormalPrior {
                mean: p.mean + slope.ln(),
                sd: p.sd,
            }),
            difficulty: self.difficulty.map(|p| NormalPrior {
                mean: (p.mean - intercept) / slope,
                sd: p.sd / slope,
            }),
            guessing: self.guessing,
        }
    }

    pub fn check(&self) -> Result<()> {
        for (field, prior) in [
            ("slope prior", self.slope),
            ("difficulty prior", self.difficulty),
            ("guessing prior", self.guessing),
        ] {
            if let Some(p) = prior {
                if !(p.mean.is_finite() && p.sd.is_finite() && p.sd > 0.0) {
                    return Err(CoreError::InvalidSetting {
                        field,
                        reason: format!(
                            "mean {} and sd {} must be finite with sd > 0",
                            p.mean, p.sd
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The log prior of one item. `slope` says whether a is this item's own parameter (with
    /// a common 1PL slope its prior is counted once, by the caller); `guessing` whether c is
    /// estimated. Returns −∞ where the slope prior forbids a ≤ 0.
    pub fn item_log_density(&self, p: &ItemParams, slope: bool, guessing: bool) -> Deriv {
        let mut out = Deriv::default();
        if let (true, Some(prior)) = (slope, self.slope) {
            out.add(&self.slope_log_density(p.slope(), prior));
        }
        // An item in categories takes the slope prior alone: no prior on its K − 1 locations
        // is defined yet.
        if let (Some(prior), None) = (self.difficulty, p.steps()) {
            let (b, db, d2b) = p.location_derivatives();
            let (v, g, h) = prior.log_density(b);
            out.value += v;
            for r in 0..3 {
                out.grad[r] += g * db[r];
                for c in 0..3 {
                    out.hess[r][c] += h * db[r] * db[c] + g * d2b[r][c];
                }
            }
        }
        if let (true, Some(prior)) = (guessing, self.guessing) {
            let (v, g, h) = prior.log_density(crate::model::logit(p.guessing()));
            out.value += v;
            out.grad[2] += g;
            out.hess[2][2] += h;
        }
        out
    }

    /// The slope prior alone (for a common 1PL slope), in a.
    pub fn common_slope_log_density(&self, a: f64) -> Deriv {
        self.slope
            .map_or_else(Deriv::default, |prior| self.slope_log_density(a, prior))
    }

    fn slope_log_density(&self, a: f64, prior: NormalPrior) -> Deriv {
        let mut out = Deriv::default();
        if a <= 0.0 {
            out.value = f64::NEG_INFINITY;
            return out;
        }
        // Lognormal in a: log p = −log a + φ(log a); derivatives via u = log a.
        let (v, g, h) = prior.log_density(a.ln());
        let du = g - 1.0;
        out.value = v - a.ln();
        out.grad[0] = du / a;
        out.hess[0][0] = (h - du) / (a * a);
        out
    }
}

/// The setting `priors`: a preset, or learned from the bank's anchors in each run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PriorsSetting {
    Preset(Priors),
    Bank,
}

impl PriorsSetting {
    pub fn parse(name: &str) -> Result<Self> {
        if name.trim().eq_ignore_ascii_case("bank") {
            return Ok(Self::Bank);
        }
        Priors::preset(name).map(Self::Preset)
    }
}

/// Fewer usable anchors than this: `priors => 'bank'` takes the default priors. The robust SD
/// of 10 values is within about ±35 % of the truth (one SD); below that the learned prior could
/// be far tighter than the bank.
pub const BANK_MIN_ANCHORS: usize = 10;
/// The bounds of a learned SD, for log a, b and logit c: the floors keep a bank of near-equal
/// anchors from pinning every new item to them, the caps keep a scattered bank's prior at least
/// as informative as the default (log a: 0.5, logit c: 0.5) or a little weaker (b: 2 → 3).
pub const BANK_SD_BOUNDS: [(f64, f64); 3] = [(0.15, 0.5), (0.5, 3.0), (0.25, 0.5)];

/// Priors learned from the stored parameters of `anchors` (on the anchors' scale), or None when
/// there are fewer than [`BANK_MIN_ANCHORS`]. The guessing prior is learned from the anchors with
/// c > 0 when there are [`BANK_MIN_ANCHORS`] of them, and is the default's otherwise.
pub fn learned_from(anchors: &[ItemParams]) -> Option<Priors> {
    if anchors.len() < BANK_MIN_ANCHORS {
        return None;
    }
    let robust = |values: Vec<f64>, (floor, cap): (f64, f64)| NormalPrior {
        mean: median(values.clone()),
        sd: robust_spread(values).clamp(floor, cap),
    };
    let guessing: Vec<f64> = anchors
        .iter()
        .filter(|p| p.has_guessing())
        .map(|p| crate::model::logit(p.guessing()))
        .collect();
    Some(Priors {
        slope: Some(robust(
            anchors.iter().map(|p| p.slope().ln()).collect(),
            BANK_SD_BOUNDS[0],
        )),
        difficulty: Some(robust(
            anchors.iter().map(ItemParams::location).collect(),
            BANK_SD_BOUNDS[1],
        )),
        guessing: if guessing.len() >= BANK_MIN_ANCHORS {
            Some(robust(guessing, BANK_SD_BOUNDS[2]))
        } else {
            Priors::DEFAULT.guessing
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Analytic derivatives against central differences in (a, d, logit c).
    #[test]
    fn derivatives_match_finite_differences() {
        let priors = Priors::DEFAULT;
        let at = |x: [f64; 3]| ItemParams::new(x[0], x[1], crate::model::logistic(x[2]));
        let x = [1.3, -0.4, -1.0];
        let f = |x: [f64; 3]| priors.item_log_density(&at(x), true, true);
        let base = f(x);
        let h = 1e-5;
        for r in 0..3 {
            let (mut up, mut down) = (x, x);
            up[r] += h;
            down[r] -= h;
            let (fu, fd) = (f(up), f(down));
            approx::assert_relative_eq!(
                base.grad[r],
                (fu.value - fd.value) / (2.0 * h),
                epsilon = 1e-7
            );
            for c in 0..3 {
                approx::assert_relative_eq!(
                    base.hess[r][c],
                    (fu.grad[c] - fd.grad[c]) / (2.0 * h),
                    epsilon = 1e-6
                );
            }
        }
    }

    /// 200 anchors drawn from log a ~ N(0.1, 0.3²), b ~ N(0.4, 0.9²), c ~ logistic(N(−1.5,
    /// 0.4²)): the learned means and SDs within three standard errors of the truth (median:
    /// 1.25·σ/√n; 0.74·IQR: 1.17·σ/√n), with a few wild anchors among them.
    #[test]
    fn the_bank_prior_learns_the_generating_moments() {
        let mut rng = crate::simulate::Rng::new(7);
        let mut anchors: Vec<ItemParams> = (0..200)
            .map(|_| {
                let a = (0.1 + 0.3 * rng.normal()).exp();
                let b = 0.4 + 0.9 * rng.normal();
                let c = crate::model::logistic(-1.5 + 0.4 * rng.normal());
                ItemParams::from_irt(a, b, c)
            })
            .collect();
        for p in anchors.iter_mut().take(6) {
            *p = ItemParams::from_irt(p.slope() * 20.0, p.b() + 15.0, 0.9);
        }
        let learned = learned_from(&anchors).unwrap();
        let n = 200f64.sqrt();
        for (prior, mean, sd) in [
            (learned.slope, 0.1, 0.3),
            (learned.difficulty, 0.4, 0.9),
            (learned.guessing, -1.5, 0.4),
        ] {
            let p = prior.unwrap();
            assert!(
                (p.mean - mean).abs() < 3.0 * 1.25 * sd / n,
                "{p:?} vs {mean}"
            );
            assert!((p.sd - sd).abs() < 3.0 * 1.17 * sd / n, "{p:?} vs {sd}");
        }
    }

    #[test]
    fn a_small_or_odd_bank_gives_no_or_bounded_priors() {
        let same = vec![ItemParams::from_irt(1.0, 0.0, 0.0); BANK_MIN_ANCHORS];
        let learned = learned_from(&same).unwrap();
        assert_eq!(learned.slope.unwrap().sd, BANK_SD_BOUNDS[0].0);
        assert_eq!(learned.difficulty.unwrap().sd, BANK_SD_BOUNDS[1].0);
        // No anchor has a lower asymptote: the default's guessing prior.
        assert_eq!(learned.guessing, Priors::DEFAULT.guessing);
        assert!(learned_from(&same[1..]).is_none());
    }

    /// An item's b and log a priors, carried by θ' = (θ − B)/A, give the carried item the same
    /// standardised position as the item had.
    #[test]
    fn rescaled_priors_follow_the_items() {
        let (slope, intercept) = (1.3, 0.4);
        let on_anchors = Priors::DEFAULT;
        let carried = on_anchors.rescaled(slope, intercept);
        let (a, b) = (0.8, 1.1);
        let z = |p: Option<NormalPrior>, x: f64| {
            let p = p.unwrap();
            (x - p.mean) / p.sd
        };
        let (a2, b2) = (a * slope, (b - intercept) / slope);
        assert!((z(on_anchors.slope, f64::ln(a)) - z(carried.slope, f64::ln(a2))).abs() < 1e-12);
        assert!((z(on_anchors.difficulty, b) - z(carried.difficulty, b2)).abs() < 1e-12);
    }

    #[test]
    fn presets_parse_and_list_names() {
        assert_eq!(Priors::preset("NONE").unwrap(), Priors::NONE);
        assert!(Priors::preset("flat")
            .unwrap_err()
            .to_string()
            .contains("default, none, bank"));
        assert_eq!(PriorsSetting::parse(" Bank ").unwrap(), PriorsSetting::Bank);
        let bad = Priors {
            slope: Some(NormalPrior { mean: 0.0, sd: 0.0 }),
            ..Priors::NONE
        };
        assert!(bad.check().is_err());
        assert_eq!(
            Priors::DEFAULT
                .item_log_density(&ItemParams::new(-1.0, 0.0, 0.0), true, false)
                .value,
            f64::NEG_INFINITY
        );
    }
}
