//! The rectangular quadrature of mirt: equally spaced nodes on [−6, 6] weighted by a normal
//! density and normalised to sum to one; for scoring, a grid that covers the latent distribution.
//! And the Gauss–Hermite rule of equateIRT for linking's and drift's integrals over N(0, 1).

use std::sync::OnceLock;

use crate::error::{CoreError, Result};

/// The most nodes [`Grid::covering`] lays.
pub const MAX_COVERING_POINTS: usize = 2_001;

#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    nodes: Vec<f64>,
}

/// The latent distribution N(mean, variance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latent {
    pub mean: f64,
    pub variance: f64,
}

impl Latent {
    pub const STANDARD: Latent = Latent {
        mean: 0.0,
        variance: 1.0,
    };

    /// The normal density at θ.
    pub fn density(&self, theta: f64) -> f64 {
        let z = (theta - self.mean) / self.variance.sqrt();
        (-0.5 * z * z).exp() / (std::f64::consts::TAU * self.variance).sqrt()
    }
}

impl Grid {
    pub fn new(points: usize, lower: f64, upper: f64) -> Result<Self> {
        if points < 5 {
            return Err(CoreError::InvalidSetting {
                field: "quadrature_points",
                reason: format!("{points} is fewer than 5"),
            });
        }
        if !(lower.is_finite() && upper.is_finite() && lower < upper) {
            return Err(CoreError::InvalidSetting {
                field: "theta_range",
                reason: format!("[{lower}, {upper}] is not an interval"),
            });
        }
        let step = (upper - lower) / (points - 1) as f64;
        Ok(Self {
            nodes: (0..points).map(|k| lower + step * k as f64).collect(),
        })
    }

    /// Nodes as far apart as `standard_points` on [−6, 6], over the union of [−6, 6] and
    /// mean ± 6 SD of each of `latents` (one per group of persons): mirt's grid for N(0, 1) and
    /// narrower populations, and for a shifted or wide one a grid that still holds its mass (on
    /// [−6, 6] alone, N(4, 2²) loses a sixth of it and its EAPs are pulled towards 6). At most
    /// `MAX_COVERING_POINTS` nodes: past that the spacing widens.
    pub fn covering(standard_points: usize, latents: &[Latent]) -> Result<Self> {
        let (mut lower, mut upper) = (-6.0f64, 6.0f64);
        for latent in latents {
            let sd = latent.variance.sqrt();
            if !(latent.mean.is_finite() && sd.is_finite() && sd > 0.0) {
                return Err(CoreError::NonFinite {
                    what: "latent distribution",
                });
            }
            lower = lower.min(latent.mean - 6.0 * sd);
            upper = upper.max(latent.mean + 6.0 * sd);
        }
        let step = 12.0 / standard_points.saturating_sub(1).max(1) as f64;
        // Less a hair, so that 12 / (12 / 120) rounding up past 120 does not add a node.
        let cells = ((upper - lower) / step - 1e-9).ceil() as usize;
        let points = (cells + 1).min(MAX_COVERING_POINTS);
        Self::new(points, lower, upper)
    }

    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// log of the normalised prior weights of N(mean, variance) at the nodes.
    pub fn log_weights(&self, latent: Latent) -> Vec<f64> {
        Self::log_weights_at(&self.nodes, latent)
    }

    /// [`Self::log_weights`] for any nodes.
    pub fn log_weights_at(nodes: &[f64], latent: Latent) -> Vec<f64> {
        let raw: Vec<f64> = nodes
            .iter()
            .map(|&t| -0.5 * (t - latent.mean).powi(2) / latent.variance)
            .collect();
        let norm = log_sum_exp(&raw);
        raw.into_iter().map(|w| w - norm).collect()
    }
}

/// log Σ exp(x), shifted by the maximum so that nothing under- or overflows.
pub fn log_sum_exp(x: &[f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

// ---------------------------------------------------------------------------
// Gauss–Hermite rule: linking's and drift's integrals over the anchors' N(0, 1)
// ---------------------------------------------------------------------------

/// Number of Gauss–Hermite points of linking's and drift's integrals over N(0, 1), matching
/// equateIRT's default `nq = 30`.
pub const GAUSS_HERMITE_POINTS: usize = 30;

/// The Gauss–Hermite rule of [`GAUSS_HERMITE_POINTS`] for N(0, 1), computed once per process.
pub(crate) fn gauss_hermite() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| normal_quadrature(GAUSS_HERMITE_POINTS))
}

/// Gauss–Hermite rule for the standard normal density: `(nodes, weights)`
/// with weights summing to 1 (statmod's `gauss.quad.prob(n, "normal")`).
///
/// Nodes are the zeros of the probabilists' Hermite polynomial He_n. They are
/// found by bisection, bracketed by the zeros of He_{n-1} (zeros of
/// consecutive orthogonal polynomials interlace), so no initial guesses or
/// tables are needed; weights are Christoffel numbers 1/Σ_{j<n} q_j(x)² of
/// the orthonormal polynomials q_j, which are accurate even in the far tails.
pub fn normal_quadrature(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes: Vec<f64> = Vec::new();
    for degree in 1..=n {
        nodes = hermite_zeros(degree, &nodes);
    }
    symmetrise(&mut nodes);
    let weights = nodes
        .iter()
        .map(|&x| 1.0 / orthonormal_hermite(n, x).1)
        .collect();
    (nodes, weights)
}

/// Orthonormal probabilists' Hermite polynomials w.r.t. N(0, 1):
/// q_0 = 1, q_{k+1} = (x·q_k − √k·q_{k−1})/√(k+1).
/// Returns (q_n(x), Σ_{j<n} q_j(x)²).
fn orthonormal_hermite(n: usize, x: f64) -> (f64, f64) {
    let (mut prev, mut cur, mut sum_sq) = (0.0, 1.0, 0.0);
    for k in 0..n {
        sum_sq += cur * cur;
        let next = (x * cur - (k as f64).sqrt() * prev) / ((k + 1) as f64).sqrt();
        prev = cur;
        cur = next;
    }
    (cur, sum_sq)
}

/// Zeros of q_degree, given the (sorted) zeros of q_{degree−1}: exactly one
/// lies between consecutive previous zeros and one beyond each end.
fn hermite_zeros(degree: usize, previous: &[f64]) -> Vec<f64> {
    // All zeros of He_n lie inside ±√(4n + 2).
    let bound = (4.0 * degree as f64 + 2.0).sqrt() + 1.0;
    let mut edges = Vec::with_capacity(degree + 1);
    edges.push(-bound);
    edges.extend_from_slice(previous);
    edges.push(bound);
    edges
        .windows(2)
        .map(|w| bisect(|x| orthonormal_hermite(degree, x).0, w[0], w[1]))
        .collect()
}

/// Bisection to the last representable midpoint; `g` changes sign on [lo, hi].
fn bisect(g: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let lo_sign = g(lo).signum();
    loop {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            return mid;
        }
        let value = g(mid);
        if value == 0.0 {
            return mid;
        }
        if value.signum() == lo_sign {
            lo = mid;
        } else {
            hi = mid;
        }
    }
}

/// The rule is symmetric about 0; averaging mirrored nodes removes the
/// last-ulp asymmetry bisection leaves.
fn symmetrise(nodes: &mut [f64]) {
    let n = nodes.len();
    for k in 0..n / 2 {
        let half = 0.5 * (nodes[n - 1 - k] - nodes[k]);
        nodes[k] = -half;
        nodes[n - 1 - k] = half;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latent_density_is_the_normal_one() {
        let latent = Latent {
            mean: 0.5,
            variance: 2.25,
        };
        // Peak 1/(σ√(2π)); one SD out, e^(-1/2) of it; integrates to 1.
        let peak = 1.0 / (1.5 * (2.0 * std::f64::consts::PI).sqrt());
        assert!((latent.density(0.5) - peak).abs() < 1e-15);
        assert!((latent.density(2.0) - peak * (-0.5f64).exp()).abs() < 1e-15);
        let step = 0.001;
        let total: f64 = (-12_000..12_000)
            .map(|k| latent.density(k as f64 * step) * step)
            .sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn weights_sum_to_one_and_centre_on_the_mean() {
        let grid = Grid::new(61, -6.0, 6.0).unwrap();
        assert_eq!(grid.nodes()[30], 0.0);
        let w: Vec<f64> = grid
            .log_weights(Latent {
                mean: 0.5,
                variance: 0.5,
            })
            .iter()
            .map(|l| l.exp())
            .collect();
        approx::assert_relative_eq!(w.iter().sum::<f64>(), 1.0, epsilon = 1e-14);
        let mean: f64 = w.iter().zip(grid.nodes()).map(|(w, t)| w * t).sum();
        approx::assert_relative_eq!(mean, 0.5, epsilon = 1e-9);
        assert!(Grid::new(3, -6.0, 6.0).is_err() && Grid::new(61, 1.0, -1.0).is_err());
    }

    #[test]
    fn a_covering_grid_is_mirts_for_a_standard_population_and_follows_a_shifted_one() {
        let standard = Grid::new(121, -6.0, 6.0).unwrap();
        assert_eq!(Grid::covering(121, &[Latent::STANDARD]).unwrap(), standard);
        let narrow = Latent {
            mean: 0.3,
            variance: 0.5,
        };
        assert_eq!(Grid::covering(121, &[narrow]).unwrap(), standard);
        let shifted = Latent {
            mean: 2.0,
            variance: 2.25,
        };
        let nodes = Grid::covering(121, &[shifted]).unwrap().nodes().to_vec();
        assert_eq!((nodes[0], *nodes.last().unwrap()), (-7.0, 11.0));
        assert_eq!(nodes.len(), 181);
        // Groups: the union of what each needs.
        let low = Latent {
            mean: -1.5,
            variance: 1.0,
        };
        let both = Grid::covering(121, &[shifted, low]).unwrap();
        assert_eq!(
            (both.nodes()[0], *both.nodes().last().unwrap()),
            (-7.5, 11.0)
        );
        let huge = Grid::covering(
            121,
            &[Latent {
                mean: 0.0,
                variance: 1e6,
            }],
        )
        .unwrap();
        assert_eq!(huge.len(), MAX_COVERING_POINTS);
        assert!(Grid::covering(
            121,
            &[Latent {
                mean: f64::NAN,
                variance: 1.0
            }]
        )
        .is_err());
    }
}
