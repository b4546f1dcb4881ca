//! Curve values over θ. Every probability and information comes from irt-core's
//! `ItemParams::prob` and `ItemParams::information`; points that are not finite are dropped.

use std::ops::Range;

use irt_core::{Grid, ItemParams, Latent, MAX_CATEGORIES};

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

/// The item characteristic curve P(θ); of an item in K categories its expected score as a
/// share of the highest, E X / (K − 1), which is P(θ) on an item in two.
pub fn icc(item: &ItemParams, theta: &[f64]) -> Vec<(f64, f64)> {
    let highest = (item.categories() - 1) as f64;
    over(theta, |t| item.expected_score(t) / highest)
}

/// Each category's response curve P(X = k | θ) of an item in categories.
pub fn category_curves(item: &ItemParams, theta: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let k = item.categories();
    let mut curves = vec![Vec::with_capacity(theta.len()); k];
    let mut p = [0.0; MAX_CATEGORIES];
    for &t in theta {
        item.category_probs(t, &mut p[..k]);
        for (curve, &y) in curves.iter_mut().zip(&p) {
            if t.is_finite() && y.is_finite() {
                curve.push((t, y));
            }
        }
    }
    curves
}

/// The test characteristic curve: the expected summed score Σ E Xᵢ(θ).
pub fn test_characteristic(items: &[ItemParams], theta: &[f64]) -> Vec<(f64, f64)> {
    over(theta, |t| {
        items.iter().map(|item| item.expected_score(t)).sum()
    })
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

    /// An item in categories, as the report reads it from `params`, draws its expected score:
    /// a share of the highest for the item, in score points for the test.
    #[test]
    fn an_item_in_categories_draws_its_expected_score() {
        let params = serde_json::json!({
            "model": "GRM", "categories": 3, "a": 1.2, "b": 0.0, "c": 0,
            "intercepts": [1.0, -1.0], "thresholds": [-0.8333, 0.8333], "fixed": false
        });
        let item = crate::doc::Params::read(&params).curve().unwrap();
        assert_eq!(item.categories(), 3);
        // Symmetric thresholds: at θ = 0 the expected score is 1 of 2.
        assert!((icc(&item, &[0.0])[0].1 - 0.5).abs() < 1e-12);
        assert!((test_characteristic(&[item, item], &[0.0])[0].1 - 2.0).abs() < 1e-12);
        let far = icc(&item, &[8.0])[0].1;
        assert!(far > 0.99 && far < 1.0, "{far}");
    }
}
