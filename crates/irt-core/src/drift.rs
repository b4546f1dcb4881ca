//! Anchor drift screening: does each anchor still behave as its stored parameters say, once the
//! new calibration is on the anchors' scale? Per anchor the displacements d_a = ln a_new − ln
//! a_stored and d_b = b_new − b_stored are turned into robust z-scores, (d − median) / (0.74 ·
//! IQR) (Huynh & Meyer's robust z: 0.74·IQR estimates the SD of a normal sample and one drifted
//! anchor cannot move it), and the weighted area between the stored and the new curve is
//! recorded: sqrt(∫ (P_new − P_stored)² dG) over the population on the anchors' scale.
//! An anchor is flagged when |z_a| or |z_b| reaches the threshold.

use crate::error::{CoreError, Result};
use crate::linking::{quadrature, ItemPoint};
use crate::quadrature::Latent;

/// The default threshold: the two-sided 1 % point of the normal.
pub const DEFAULT_THRESHOLD: f64 = 2.576;
/// Purification relinks (and with fixed anchors refits) until the flagged set repeats, at most
/// this many times.
pub const MAX_ITERATIONS: usize = 10;
/// A robust z needs a spread; with fewer anchors the quartiles say nothing.
const MIN_SCREENED: usize = 4;

/// What a run does about drifted anchors (`anchor_drift`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorDrift {
    /// Screen, drop the flagged anchors from the link, relink, until nothing changes.
    Purify,
    /// Screen and record, but link with every anchor.
    Flag,
    Off,
}

impl AnchorDrift {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "purify" => Ok(Self::Purify),
            "flag" => Ok(Self::Flag),
            "off" => Ok(Self::Off),
            _ => Err(CoreError::InvalidArgument {
                message: format!(
                    "unknown anchor_drift \"{s}\"; valid values are purify, flag, off"
                ),
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Purify => "purify",
            Self::Flag => "flag",
            Self::Off => "off",
        }
    }
}

/// One anchor's screening.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnchorCheck {
    pub stored: ItemPoint,
    /// The new estimate on the anchors' scale.
    pub new: ItemPoint,
    pub d_a: f64,
    pub d_b: f64,
    /// None where the spread of the displacements is zero or too few anchors are screened, and
    /// for slopes a model shares between items (Rasch, 1PL).
    pub z_a: Option<f64>,
    pub z_b: Option<f64>,
    pub area: f64,
    pub flagged: bool,
}

/// Screens every anchor: `stored` and `new` pair up item by item; `population` is the latent
/// distribution on the anchors' scale; `slopes` says whether the model estimates a slope per
/// item (otherwise a is not screened).
pub fn screen(
    stored: &[ItemPoint],
    new: &[ItemPoint],
    population: Latent,
    slopes: bool,
    threshold: f64,
) -> Vec<AnchorCheck> {
    let d_a: Vec<f64> = stored
        .iter()
        .zip(new)
        .map(|(s, n)| n.a.ln() - s.a.ln())
        .collect();
    let d_b: Vec<f64> = stored.iter().zip(new).map(|(s, n)| n.b - s.b).collect();
    let z_a = if slopes {
        robust_z(&d_a)
    } else {
        vec![None; d_a.len()]
    };
    let z_b = robust_z(&d_b);
    let beyond = |z: Option<f64>| z.is_some_and(|z| z.abs() >= threshold);
    (0..stored.len())
        .map(|i| AnchorCheck {
            stored: stored[i],
            new: new[i],
            d_a: d_a[i],
            d_b: d_b[i],
            z_a: z_a[i],
            z_b: z_b[i],
            area: area_between(&stored[i], &new[i], population),
            flagged: beyond(z_a[i]) || beyond(z_b[i]),
        })
        .collect()
}

/// (d − median) / (0.74 · IQR), quartiles as R's default (type 7) computes them.
fn robust_z(d: &[f64]) -> Vec<Option<f64>> {
    let mut sorted = d.to_vec();
    sorted.sort_by(f64::total_cmp);
    let spread = 0.74 * (quantile(&sorted, 0.75) - quantile(&sorted, 0.25));
    if d.len() < MIN_SCREENED || spread.is_nan() || spread <= 0.0 {
        return vec![None; d.len()];
    }
    let median = quantile(&sorted, 0.5);
    d.iter().map(|x| Some((x - median) / spread)).collect()
}

/// Type-7 quantile of sorted values: linear between the order statistics at (n − 1)·p.
pub(crate) fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// sqrt(∫ (P_new − P_stored)² dG), G the population on the anchors' scale, by the linking's
/// Gauss–Hermite rule (equateIRT's 30 points, computed once).
fn area_between(stored: &ItemPoint, new: &ItemPoint, population: Latent) -> f64 {
    let (nodes, weights) = quadrature();
    let sd = population.variance.sqrt();
    nodes
        .iter()
        .zip(weights)
        .map(|(&z, &w)| {
            let theta = population.mean + sd * z;
            w * (curve(new, theta) - curve(stored, theta)).powi(2)
        })
        .sum::<f64>()
        .sqrt()
}

fn curve(p: &ItemPoint, theta: f64) -> f64 {
    p.c + (1.0 - p.c) / (1.0 + (-p.a * (theta - p.b)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linking::normal_quadrature;

    fn point(a: f64, b: f64) -> ItemPoint {
        ItemPoint { a, b, c: 0.0 }
    }

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
    }

    #[test]
    fn one_shifted_anchor_among_noisy_ones_is_flagged_and_only_it() {
        let noise = [
            0.03, -0.05, 0.01, 0.04, -0.02, 0.0, -0.04, 0.02, 0.05, -0.01,
        ];
        let stored: Vec<ItemPoint> = (0..10)
            .map(|i| point(1.0 + 0.1 * i as f64, -1.0 + 0.2 * i as f64))
            .collect();
        let mut new: Vec<ItemPoint> = stored
            .iter()
            .zip(noise)
            .map(|(p, e)| point(p.a * (1.0 + e), p.b + e))
            .collect();
        new[3].b += 1.0;
        let checks = screen(&stored, &new, Latent::STANDARD, true, DEFAULT_THRESHOLD);
        let flagged: Vec<usize> = (0..10).filter(|&i| checks[i].flagged).collect();
        assert_eq!(flagged, [3]);
        assert!(checks[3].z_b.unwrap() > 10.0);
        // Its curve moved by a logit in b: a large area; the others' are small.
        assert!(checks[3].area > 0.1 && checks[0].area < 0.02, "{checks:?}");
    }

    #[test]
    fn the_area_is_zero_for_the_same_curve_and_the_rms_distance_otherwise() {
        let p = point(1.2, 0.3);
        assert_eq!(area_between(&p, &p, Latent::STANDARD), 0.0);
        // A constant lower asymptote shift of 0.1 moves the curve by 0.1·(1 − P).
        let q = ItemPoint { c: 0.1, ..p };
        let (nodes, weights) = normal_quadrature(200);
        let exact: f64 = nodes
            .iter()
            .zip(&weights)
            .map(|(&t, &w)| w * (0.1 * (1.0 - curve(&p, t))).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((area_between(&p, &q, Latent::STANDARD) - exact).abs() < 1e-10);
    }

    #[test]
    fn shared_slopes_and_too_few_anchors_give_no_z() {
        let stored = [point(1.0, 0.0), point(1.0, 1.0), point(1.0, 2.0)];
        let new = [point(1.0, 0.1), point(1.0, 1.5), point(1.0, 2.0)];
        let checks = screen(&stored, &new, Latent::STANDARD, true, DEFAULT_THRESHOLD);
        assert!(checks
            .iter()
            .all(|c| c.z_a.is_none() && c.z_b.is_none() && !c.flagged));
        let stored: Vec<ItemPoint> = (0..6).map(|i| point(1.0 + 0.1 * i as f64, 0.0)).collect();
        let checks = screen(&stored, &stored, Latent::STANDARD, false, DEFAULT_THRESHOLD);
        assert!(checks.iter().all(|c| c.z_a.is_none()));
    }

    #[test]
    fn anchor_drift_names_parse() {
        assert_eq!(AnchorDrift::parse(" Purify ").unwrap(), AnchorDrift::Purify);
        assert_eq!(AnchorDrift::parse("off").unwrap().name(), "off");
        assert!(AnchorDrift::parse("sometimes")
            .unwrap_err()
            .to_string()
            .contains("purify, flag, off"));
    }
}
