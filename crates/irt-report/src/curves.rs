//! Curve values over θ. Every probability and information comes from irt-core's
//! `ItemParams::prob` and `ItemParams::information`; points that are not finite are dropped.

use std::ops::Range;

use irt_core::{Grid, ItemParams, Latent};

/// Points per curve: a step of 0.1 across ±4 SD of N(0, 1), smooth enough and small in SVG.
pub const POINTS: usize = 81;

/// θ over the latent mean ± 4 SD; ±4 around 0 when the latent distribution is unknown.
pub fn theta_grid(latent: Option<Latent>) -> Vec<f64> {
    let latent = latent.unwrap_or(Latent::STANDARD);
    let sd = latent.variance.sqrt();
    grid(latent.mean - 4.0 * sd, latent.mean + 4.0 * sd)
}

/// [`POINTS`] equally spaced values from `lower` to `upper`; none when that is no interval.
pub fn grid(lower: f64, upper: f64) -> Vec<f64> {
    Grid::new(POINTS, lower, upper)
        .map(|grid| grid.nodes().to_vec())
        .unwrap_or_default()
}

/// The axis a grid spans.
pub fn extent(grid: &[f64]) -> Range<f64> {
    grid.first().copied().unwrap_or(-4.0)..grid.last().copied().unwrap_or(4.0)
}

fn over(theta: &[f64], f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    theta
        .iter()
        .map(|&t| (t, f(t)))
        .filter(|(t, y)| t.is_finite() && y.is_finite())
        .collect()
}

/// The item characteristic curve P(θ).
pub fn icc(item: &ItemParams, theta: &[f64]) -> Vec<(f64, f64)> {
    over(theta, |t| item.prob(t))
}

/// The test characteristic curve: the expected summed score Σ P(θ).
pub fn test_characteristic(items: &[ItemParams], theta: &[f64]) -> Vec<(f64, f64)> {
    over(theta, |t| items.iter().map(|item| item.prob(t)).sum())
}

/// The test information I(θ) = Σ Iᵢ(θ).
pub fn test_information(items: &[ItemParams], theta: &[f64]) -> Vec<(f64, f64)> {
    over(theta, |t| {
        items.iter().map(|item| item.information(t)).sum()
    })
}

/// The standard error of measurement 1/√I(θ) where the information is positive.
pub fn standard_error(information: &[(f64, f64)]) -> Vec<(f64, f64)> {
    information
        .iter()
        .filter(|(_, i)| *i > 0.0)
        .map(|&(t, i)| (t, 1.0 / i.sqrt()))
        .filter(|(_, se)| se.is_finite())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_spans_four_sd_around_the_mean() {
        let theta = theta_grid(Some(Latent {
            mean: 1.0,
            variance: 4.0,
        }));
        assert_eq!(theta.len(), POINTS);
        assert!((theta[0] + 7.0).abs() < 1e-12 && (theta[POINTS - 1] - 9.0).abs() < 1e-12);
    }

    #[test]
    fn information_gives_the_standard_error() {
        let item = ItemParams::from_irt(1.0, 0.0, 0.0);
        let info = test_information(&[item, item], &[0.0]);
        // Two items of a = 1 at θ = b: 2 · 0.25.
        assert!((info[0].1 - 0.5).abs() < 1e-12);
        assert!((standard_error(&info)[0].1 - 2f64.sqrt()).abs() < 1e-12);
        assert!(standard_error(&[(0.0, 0.0)]).is_empty());
    }
}
