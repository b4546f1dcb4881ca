//! Priors for maximum a posteriori item estimation.
//!
//! Defaults, and why: log a ~ N(0, 0.5) keeps slopes positive and pulls an item seen by few
//! people towards 1 without moving well-measured ones (BILOG-MG's choice); b ~ N(0, 2) stops a
//! difficulty from running to ±∞ when a sparse item is nearly all right or all wrong, while an
//! item at b = 3 loses only 1.1 log-prior units; logit c ~ N(logit 0.2, 0.5) places c in about
//! [0.09, 0.40], the range of a four- or five-option item, which is what lets 3PL converge on
//! tests like SAT12 where plain MML does not. `none` gives plain MML, mirt's default.

use crate::error::{CoreError, Result};
use crate::model::ItemParams;

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

/// A log density with its gradient and Hessian in (a, d, logit c).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Deriv3 {
    pub value: f64,
    pub grad: [f64; 3],
    pub hess: [[f64; 3]; 3],
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
                    "unknown priors \"{name}\"; valid priors are {}",
                    Self::PRESETS.map(|(n, _)| n).join(", ")
                ),
            })
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
    pub fn item_log_density(&self, p: &ItemParams, slope: bool, guessing: bool) -> Deriv3 {
        let mut out = Deriv3::default();
        if let (true, Some(prior)) = (slope, self.slope) {
            out.add(&self.slope_log_density(p.a, prior));
        }
        if let Some(prior) = self.difficulty {
            // b = −d/a: chain rule through (a, d).
            let (v, g, h) = prior.log_density(p.b());
            let db = [p.d / (p.a * p.a), -1.0 / p.a, 0.0];
            let mut d2b = [[0.0; 3]; 3];
            d2b[0][0] = -2.0 * p.d / p.a.powi(3);
            d2b[0][1] = 1.0 / (p.a * p.a);
            d2b[1][0] = d2b[0][1];
            out.value += v;
            for r in 0..3 {
                out.grad[r] += g * db[r];
                for c in 0..3 {
                    out.hess[r][c] += h * db[r] * db[c] + g * d2b[r][c];
                }
            }
        }
        if let (true, Some(prior)) = (guessing, self.guessing) {
            let (v, g, h) = prior.log_density(crate::model::logit(p.c));
            out.value += v;
            out.grad[2] += g;
            out.hess[2][2] += h;
        }
        out
    }

    /// The slope prior alone (for a common 1PL slope), in a.
    pub fn common_slope_log_density(&self, a: f64) -> Deriv3 {
        self.slope
            .map_or_else(Deriv3::default, |prior| self.slope_log_density(a, prior))
    }

    fn slope_log_density(&self, a: f64, prior: NormalPrior) -> Deriv3 {
        let mut out = Deriv3::default();
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

impl Deriv3 {
    fn add(&mut self, other: &Deriv3) {
        self.value += other.value;
        for r in 0..3 {
            self.grad[r] += other.grad[r];
            for c in 0..3 {
                self.hess[r][c] += other.hess[r][c];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Analytic derivatives against central differences in (a, d, logit c).
    #[test]
    fn derivatives_match_finite_differences() {
        let priors = Priors::DEFAULT;
        let at = |x: [f64; 3]| ItemParams {
            a: x[0],
            d: x[1],
            c: crate::model::logistic(x[2]),
        };
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

    #[test]
    fn presets_parse_and_list_names() {
        assert_eq!(Priors::preset("NONE").unwrap(), Priors::NONE);
        assert!(Priors::preset("flat")
            .unwrap_err()
            .to_string()
            .contains("default, none"));
        let bad = Priors {
            slope: Some(NormalPrior { mean: 0.0, sd: 0.0 }),
            ..Priors::NONE
        };
        assert!(bad.check().is_err());
        assert_eq!(
            Priors::DEFAULT
                .item_log_density(
                    &ItemParams {
                        a: -1.0,
                        d: 0.0,
                        c: 0.0
                    },
                    true,
                    false
                )
                .value,
            f64::NEG_INFINITY
        );
    }
}
