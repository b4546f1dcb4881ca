//! The rectangular quadrature of mirt: equally spaced nodes on [−6, 6] weighted by a normal
//! density and normalised to sum to one.

use crate::error::{CoreError, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
