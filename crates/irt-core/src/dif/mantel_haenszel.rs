//! The Mantel–Haenszel test of one item on a 2 × 2 × K table (group × right/wrong × matching
//! score), as base R's `mantelhaen.test(correct = TRUE)` computes it, with the common odds
//! ratio's Robins–Breslow–Greenland SE and the ETS delta scale and A/B/C classes.

use statrs::function::erf::erfc;

/// One stratum of the matching score: the reference and the focal group's right and wrong
/// answers to the studied item.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stratum {
    pub reference_right: f64,
    pub reference_wrong: f64,
    pub focal_right: f64,
    pub focal_wrong: f64,
}

impl Stratum {
    fn n(&self) -> f64 {
        self.reference_right + self.reference_wrong + self.focal_right + self.focal_wrong
    }
}

/// ETS's classes of Mantel–Haenszel DIF (Zwick 2012): A negligible, B moderate, C large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtsClass {
    A,
    B,
    C,
}

impl EtsClass {
    pub fn name(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
        }
    }
}

/// The test's level for the χ² and for the test of |Δ| against 1 (one-sided 5 %: 1.645).
const LEVEL: f64 = 0.05;
const ONE_SIDED_Z: f64 = 1.644_853_626_951_472_2;

/// One item's Mantel–Haenszel statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MantelHaenszel {
    /// The continuity-corrected χ² (1 df) and its p.
    pub chi2: f64,
    pub p: f64,
    /// The common odds ratio α_MH, reference over focal (> 1: the item favours the reference
    /// group), and the Robins–Breslow–Greenland SE of its logarithm.
    pub alpha: f64,
    pub ln_alpha_se: f64,
    /// ETS's MH D-DIF, −2.35 ln α (negative: against the focal group), and its SE.
    pub delta: f64,
    pub delta_se: f64,
    pub class: EtsClass,
    /// Strata of two or more persons (a one-person stratum carries nothing and base R refuses
    /// it).
    pub strata: usize,
}

/// The statistics of `strata`; None where they are undefined: no stratum whose χ² variance is
/// positive, or an odds ratio of 0 or ∞ (no right answer of one group, or no wrong one, where
/// the other has some, in every stratum).
pub fn mantel_haenszel(strata: &[Stratum]) -> Option<MantelHaenszel> {
    let (mut deviation, mut variance) = (0.0, 0.0);
    let (mut r, mut s) = (0.0, 0.0);
    // Robins–Breslow–Greenland: Σ P·R, Σ (P·S + Q·R), Σ Q·S.
    let (mut pr, mut ps_qr, mut qs) = (0.0, 0.0, 0.0);
    let mut used = 0;
    for t in strata.iter().filter(|t| t.n() >= 2.0) {
        used += 1;
        let n = t.n();
        let (reference, focal) = (
            t.reference_right + t.reference_wrong,
            t.focal_right + t.focal_wrong,
        );
        let (right, wrong) = (
            t.reference_right + t.focal_right,
            t.reference_wrong + t.focal_wrong,
        );
        deviation += t.reference_right - reference * right / n;
        variance += reference * focal * right * wrong / (n * n * (n - 1.0));
        let (rk, sk) = (
            t.reference_right * t.focal_wrong / n,
            t.reference_wrong * t.focal_right / n,
        );
        let (pk, qk) = (
            (t.reference_right + t.focal_wrong) / n,
            (t.reference_wrong + t.focal_right) / n,
        );
        r += rk;
        s += sk;
        pr += pk * rk;
        ps_qr += pk * sk + qk * rk;
        qs += qk * sk;
    }
    if !(variance > 0.0 && r > 0.0 && s > 0.0) {
        return None;
    }
    // Base R corrects for continuity only where the deviation is at least the correction.
    let corrected = if deviation.abs() >= 0.5 {
        deviation.abs() - 0.5
    } else {
        deviation.abs()
    };
    let chi2 = corrected * corrected / variance;
    let alpha = r / s;
    let ln_alpha_se = (pr / (2.0 * r * r) + ps_qr / (2.0 * r * s) + qs / (2.0 * s * s)).sqrt();
    let delta = -2.35 * alpha.ln();
    let delta_se = 2.35 * ln_alpha_se;
    // The upper tail of χ² with 1 df: P(|Z| ≥ √χ²).
    let p = erfc((chi2 / 2.0).sqrt());
    Some(MantelHaenszel {
        chi2,
        p,
        alpha,
        ln_alpha_se,
        delta,
        delta_se,
        class: ets_class(p, delta, delta_se),
        strata: used,
    })
}

/// A where the χ² is not significant at 5 % or |Δ| < 1; C where |Δ| ≥ 1.5 and |Δ| is
/// significantly above 1 (one-sided 5 %); B otherwise.
pub fn ets_class(p: f64, delta: f64, delta_se: f64) -> EtsClass {
    let size = delta.abs();
    if p >= LEVEL || size < 1.0 {
        EtsClass::A
    } else if size >= 1.5 && (size - 1.0) / delta_se > ONE_SIDED_Z {
        EtsClass::C
    } else {
        EtsClass::B
    }
}
