//! The M-step: each item's expected complete-data log posterior maximised by damped Newton
//! (Fisher scoring for 3PL) with backtracking (`optimise::ascend`), and the latent
//! distribution's moments.

use ndarray::ArrayView1;

use crate::model::{Deriv, ItemParams, MAX_CATEGORIES, MAX_COORDS};
use crate::optimise::{ascend, newton_step};
use crate::priors::Priors;
use crate::quadrature::Latent;

/// Which of an item's coordinates (a, d, logit c; or a, d_1 … d_(K−1)) it estimates: its
/// intercepts always, its slope and lower asymptote where these say so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeCoords {
    slope: bool,
    guessing: bool,
    categories: u8,
}

impl FreeCoords {
    /// d only: Rasch, or the item part of a common-slope 1PL.
    pub const INTERCEPT: Self = Self::dichotomous(false, false);
    pub const SLOPE_INTERCEPT: Self = Self::dichotomous(true, false);
    pub const SLOPE_INTERCEPT_GUESSING: Self = Self::dichotomous(true, true);

    const fn dichotomous(slope: bool, guessing: bool) -> Self {
        Self {
            slope,
            guessing,
            categories: 2,
        }
    }

    /// The same for an item scored in `categories` categories (which has no lower asymptote).
    pub fn in_categories(self, categories: usize) -> Self {
        Self {
            guessing: self.guessing && categories == 2,
            categories: categories as u8,
            ..self
        }
    }

    pub fn indices(self) -> &'static [usize] {
        const ALL: [usize; MAX_COORDS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        &ALL[usize::from(!self.slope)..usize::from(self.categories) + usize::from(self.guessing)]
    }

    /// Whether the item's own slope is estimated.
    pub fn slope(self) -> bool {
        self.slope
    }

    pub fn guessing(self) -> bool {
        self.guessing
    }
}

/// One item's expected counts at the nodes.
#[derive(Clone, Copy)]
pub struct ItemCounts<'a> {
    /// Expected answers in each category at the nodes (a dichotomous item's: wrong, right).
    rows: [ArrayView1<'a, f64>; MAX_CATEGORIES],
    categories: usize,
    pub nodes: &'a [f64],
}

impl<'a> ItemCounts<'a> {
    /// A dichotomous item's counts of right and wrong answers.
    pub fn dichotomous(
        right: ArrayView1<'a, f64>,
        wrong: ArrayView1<'a, f64>,
        nodes: &'a [f64],
    ) -> Self {
        Self::in_categories([wrong, right], nodes)
    }

    /// The counts of answers in each category, from category 0 (at most [`MAX_CATEGORIES`]).
    pub fn in_categories(
        rows: impl IntoIterator<Item = ArrayView1<'a, f64>>,
        nodes: &'a [f64],
    ) -> Self {
        let mut out = Self {
            rows: [ArrayView1::from(&[] as &[f64]); MAX_CATEGORIES],
            categories: 0,
            nodes,
        };
        for (slot, row) in out.rows.iter_mut().zip(rows) {
            *slot = row;
            out.categories += 1;
        }
        out
    }

    pub fn rows(&self) -> &[ArrayView1<'a, f64>] {
        &self.rows[..self.categories]
    }

    /// The item's expected log-likelihood on these counts (see
    /// [`ItemParams::expected_log_lik`]).
    pub fn log_lik(&self, p: &ItemParams, guessing: bool) -> Deriv {
        p.expected_log_lik(self.rows(), self.nodes, guessing)
    }

    /// Log posterior of the item (log-likelihood plus priors), derivatives included.
    pub fn log_posterior(&self, p: &ItemParams, free: FreeCoords, priors: &Priors) -> Deriv {
        let mut out = self.log_lik(p, free.guessing());
        out.add(&priors.item_log_density(p, free.slope(), free.guessing()));
        out
    }

    /// The M-step for one item with its own parameters.
    pub fn maximise(&self, start: ItemParams, free: FreeCoords, priors: &Priors) -> ItemParams {
        let idx = free.indices();
        let guessing = free.guessing();
        let base = start.coords();
        let full = |x: &[f64]| {
            let mut c = base;
            for (k, &i) in idx.iter().enumerate() {
                c[i] = x[k];
            }
            start.at_coords(&c, guessing)
        };
        let x0: Vec<f64> = idx.iter().map(|&i| base[i]).collect();
        let x = ascend(
            x0,
            |x| self.log_posterior(&full(x), free, priors).value,
            |x| {
                let d = self.log_posterior(&full(x), free, priors);
                let g: Vec<f64> = idx.iter().map(|&i| d.grad[i]).collect();
                let h: Vec<Vec<f64>> = idx
                    .iter()
                    .map(|&r| idx.iter().map(|&c| d.hess[r][c]).collect())
                    .collect();
                (d.value, newton_step(&h, &g))
            },
        );
        full(&x)
    }
}

/// Joint M-step of a common slope and the items' intercepts (1PL). The Hessian is an arrowhead
/// (slope row and column plus a diagonal), solved through its Schur complement in O(items).
pub fn maximise_common_slope(
    counts: &[ItemCounts],
    start: &[ItemParams],
    priors: &Priors,
) -> Vec<ItemParams> {
    let at = |x: &[f64]| -> Vec<ItemParams> {
        start
            .iter()
            .zip(&x[1..])
            .map(|(p, &d)| ItemParams::new(x[0], d, p.guessing()))
            .collect()
    };
    let eval = |x: &[f64]| -> Vec<Deriv> {
        counts
            .iter()
            .zip(at(x))
            .map(|(c, p)| c.log_posterior(&p, FreeCoords::INTERCEPT, priors))
            .collect()
    };
    let total = |x: &[f64], items: &[Deriv]| -> f64 {
        priors.common_slope_log_density(x[0]).value + items.iter().map(|d| d.value).sum::<f64>()
    };
    let mut x0 = vec![start.first().map_or(1.0, ItemParams::slope)];
    x0.extend(start.iter().map(ItemParams::intercept));
    let x = ascend(
        x0,
        |x| total(x, &eval(x)),
        |x| {
            let items = eval(x);
            let slope = priors.common_slope_log_density(x[0]);
            // −H = [alpha eᵀ; e D]; the slope gradient of an item sits at grad[0] (its own a).
            let mut alpha = -slope.hess[0][0];
            let mut g_a = slope.grad[0];
            for d in &items {
                alpha -= d.hess[0][0];
                g_a += d.grad[0];
            }
            let mut lambda = 0.0;
            loop {
                let dd: Vec<f64> = items.iter().map(|d| -d.hess[1][1] + lambda).collect();
                let schur = alpha + lambda
                    - items
                        .iter()
                        .zip(&dd)
                        .map(|(d, &dj)| d.hess[0][1] * d.hess[0][1] / dj)
                        .sum::<f64>();
                if dd.iter().all(|&v| v > 0.0) && schur > 0.0 {
                    // x_a = (g_a − Σ e_j g_j / D_j) / S with e_j = −H_ad.
                    let xa = (g_a
                        - items
                            .iter()
                            .zip(&dd)
                            .map(|(d, &dj)| -d.hess[0][1] * d.grad[1] / dj)
                            .sum::<f64>())
                        / schur;
                    let mut step = vec![xa];
                    step.extend(
                        items
                            .iter()
                            .zip(&dd)
                            .map(|(d, &dj)| (d.grad[1] + d.hess[0][1] * xa) / dj),
                    );
                    return (total(x, &items), step);
                }
                // A non-finite Hessian never becomes definite: no step (`ascend` stops), rather
                // than raising λ for ever.
                if !lambda.is_finite() {
                    return (total(x, &items), vec![f64::NAN; x.len()]);
                }
                lambda = if lambda == 0.0 {
                    1e-8 * (1.0 + alpha.abs())
                } else {
                    lambda * 10.0
                };
            }
        },
    );
    at(&x)
}

/// The smallest latent variance estimated: mirt's lower bound. Without it the variance can
/// collapse to exactly 0 where the data do not tell persons apart (a Rasch fit in which everyone
/// answers one item) or the grid is coarse, and the quadrature weights are then NaN.
pub const MIN_LATENT_VARIANCE: f64 = 1e-4;

/// The latent mean and variance that maximise the expected log density of the nodes' mass, the
/// variance at least [`MIN_LATENT_VARIANCE`].
pub fn latent_moments(mass: &[f64], nodes: &[f64], free_mean: bool, current: Latent) -> Latent {
    let total: f64 = mass.iter().sum();
    let mean = if free_mean {
        mass.iter().zip(nodes).map(|(m, t)| m * t).sum::<f64>() / total
    } else {
        current.mean
    };
    let variance = mass
        .iter()
        .zip(nodes)
        .map(|(m, t)| m * (t - mean).powi(2))
        .sum::<f64>()
        / total;
    // Not `max`, which would turn a NaN (caught later as non-finite) into the bound.
    let variance = if variance < MIN_LATENT_VARIANCE {
        MIN_LATENT_VARIANCE
    } else {
        variance
    };
    Latent { mean, variance }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    fn counts_for(truth: ItemParams, nodes: &[f64]) -> (Array1<f64>, Array1<f64>) {
        let mass: Vec<f64> = nodes
            .iter()
            .map(|t| 1000.0 * (-0.5 * t * t).exp())
            .collect();
        let right = nodes
            .iter()
            .zip(&mass)
            .map(|(&t, m)| m * truth.prob(t))
            .collect();
        let wrong = nodes
            .iter()
            .zip(&mass)
            .map(|(&t, m)| m * (1.0 - truth.prob(t)))
            .collect();
        (right, wrong)
    }

    /// With counts that are exactly expected under the truth, the M-step recovers it.
    #[test]
    fn maximise_recovers_exact_counts() {
        let nodes: Vec<f64> = (0..61).map(|k| -6.0 + 0.2 * k as f64).collect();
        for (truth, free) in [
            (
                ItemParams::from_irt(1.7, -0.5, 0.0),
                FreeCoords::SLOPE_INTERCEPT,
            ),
            (ItemParams::from_irt(1.0, 0.8, 0.0), FreeCoords::INTERCEPT),
            (
                ItemParams::from_irt(1.4, 0.3, 0.25),
                FreeCoords::SLOPE_INTERCEPT_GUESSING,
            ),
        ] {
            let (right, wrong) = counts_for(truth, &nodes);
            let counts = ItemCounts::dichotomous(right.view(), wrong.view(), &nodes);
            let start = ItemParams::new(1.0, 0.0, if free.guessing() { 0.2 } else { 0.0 });
            let fit = counts.maximise(start, free, &Priors::NONE);
            approx::assert_relative_eq!(fit.slope(), truth.slope(), epsilon = 1e-6);
            approx::assert_relative_eq!(fit.intercept(), truth.intercept(), epsilon = 1e-6);
            approx::assert_relative_eq!(fit.guessing(), truth.guessing(), epsilon = 1e-6);
        }
    }

    /// Regression (found by tests/fuzz_properties.rs): a non-finite Hessian made the λ loops of
    /// both Newton steps run for ever.
    #[test]
    fn newton_steps_end_on_a_non_finite_hessian() {
        let step = newton_step(&[vec![f64::NAN, 0.0], vec![0.0, 1.0]], &[1.0, 1.0]);
        assert!(step.iter().all(|s| s.is_nan()));
        let nodes = [-1.0, 0.0, 1.0];
        let (right, wrong) = (Array1::from(vec![f64::NAN, 1.0, 1.0]), Array1::ones(3));
        let counts = ItemCounts::dichotomous(right.view(), wrong.view(), &nodes);
        let start = ItemParams::new(1.0, 0.0, 0.0);
        assert_eq!(
            maximise_common_slope(&[counts, counts], &[start, start], &Priors::NONE),
            [start, start]
        );
    }

    #[test]
    fn common_slope_recovers_exact_counts() {
        let nodes: Vec<f64> = (0..61).map(|k| -6.0 + 0.2 * k as f64).collect();
        let truth: Vec<ItemParams> = [-1.0, 0.0, 1.5]
            .iter()
            .map(|&b| ItemParams::from_irt(1.3, b, 0.0))
            .collect();
        let tables: Vec<_> = truth.iter().map(|&t| counts_for(t, &nodes)).collect();
        let counts: Vec<ItemCounts> = tables
            .iter()
            .map(|(r, w)| ItemCounts::dichotomous(r.view(), w.view(), &nodes))
            .collect();
        let start = vec![ItemParams::new(1.0, 0.0, 0.0); 3];
        let fit = maximise_common_slope(&counts, &start, &Priors::NONE);
        for (f, t) in fit.iter().zip(&truth) {
            approx::assert_relative_eq!(f.slope(), t.slope(), epsilon = 1e-6);
            approx::assert_relative_eq!(f.intercept(), t.intercept(), epsilon = 1e-6);
        }
    }
}
