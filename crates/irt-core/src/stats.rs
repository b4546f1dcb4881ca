//! The few statistics several modules share: R's quantiles, the median and the robust spread
//! of the drift screening and the bank's priors, the normal tail the drift level is set by, and
//! the Benjamini–Hochberg adjustment of the DIF screening.

use statrs::distribution::{ContinuousCDF, Normal};

/// Type-7 quantile of sorted values (R's default): linear between the order statistics at
/// (n − 1)·p.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

pub fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    quantile(&x, 0.5)
}

/// 0.74 · IQR: the SD of a normal sample, which a few outliers cannot move.
pub fn robust_spread(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    0.74 * (quantile(&x, 0.75) - quantile(&x, 0.25))
}

/// The two-sided tail probability of the standard normal beyond ±z.
pub fn two_sided_level(z: f64) -> f64 {
    2.0 * Normal::standard().sf(z)
}

/// Benjamini–Hochberg adjusted p-values (R's `p.adjust(p, "BH")`): p_(i)·n/i, made monotone
/// from the largest down, at most 1; in the order given.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let n = p.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| p[j].total_cmp(&p[i]));
    let mut adjusted = vec![0.0; n];
    let mut smallest = 1.0_f64;
    for (rank_from_top, &i) in order.iter().enumerate() {
        let rank = (n - rank_from_top) as f64;
        smallest = smallest.min(p[i] * n as f64 / rank);
        adjusted[i] = smallest;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_are_r_type_7() {
        // R: quantile(c(1, 2, 4, 7, 11), c(.25, .5, .75)) = 2, 4, 7;
        // quantile(c(1, 2, 4, 7), c(.25, .75)) = 1.75, 4.75.
        let v = [1.0, 2.0, 4.0, 7.0, 11.0];
        assert_eq!(
            [quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75)],
            [2.0, 4.0, 7.0]
        );
        let v = [1.0, 2.0, 4.0, 7.0];
        assert_eq!([quantile(&v, 0.25), quantile(&v, 0.75)], [1.75, 4.75]);
        assert_eq!(median(vec![7.0, 1.0, 4.0]), 4.0);
        assert!((robust_spread(vec![11.0, 1.0, 4.0, 2.0, 7.0]) - 0.74 * 5.0).abs() < 1e-15);
        // R: 2 * pnorm(-2.576) = 0.009995065
        assert!((two_sided_level(2.576) - 0.009_995_065).abs() < 1e-9);
    }
}
