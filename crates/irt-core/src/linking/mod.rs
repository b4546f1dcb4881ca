//! IRT scale linking: put a 'from' calibration on the scale of a 'to'
//! calibration using common (anchor) items.
//!
//! Conventions follow equateIRT 2.5.1 (`direc()`) for right/wrong items and plink 1.5-1 for
//! items in categories, so results can be checked against them: θ_to = A·θ_from + B, hence
//! every difficulty or threshold b_to = A·b_from + B, a_to = a_from/A and c is unchanged. Item
//! response functions are logistic without the 1.7 scaling constant (D = 1).
//!
//! * mean–mean and mean–sigma are closed forms over the common items;
//! * Haebara and Stocking–Lord minimise a characteristic-curve criterion on the
//!   'to' scale only, integrated over N(0, 1) with a 30-point Gauss–Hermite
//!   rule, using Newton's method with analytic derivatives.
//!
//! Standard errors use the delta method with the 'to' (anchor) parameters
//! treated as known constants.

mod curves;
mod moments;

pub use crate::error::LinkingError;
use crate::model::ItemParams;
use crate::names::named;
use crate::quadrature::Latent;

use curves::{characteristic_curve, CurveFit, CurveMethod};
use moments::{mean_mean, mean_sigma, ItemJacobian, MomentFit};

/// How the linking constants are estimated from the common items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkingMethod {
    /// Ratio of mean discriminations; ignores the spread of difficulties.
    MeanMean,
    /// Ratio of difficulty standard deviations; ignores discriminations.
    MeanSigma,
    /// Least squares between item characteristic curves, item by item.
    Haebara,
    /// Least squares between test characteristic curves (sums over items).
    StockingLord,
}

// Snake_case, as SQL arguments and output spell them.
named!(LinkingMethod, "method", "linking method", "methods", {
    MeanMean => "mean_mean",
    MeanSigma => "mean_sigma",
    Haebara => "haebara",
    StockingLord => "stocking_lord",
});

/// θ_to = slope·θ_from + intercept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkingConstants {
    /// A: multiplies 'from' abilities and difficulties, divides discriminations.
    pub slope: f64,
    /// B: added to the rescaled 'from' abilities and difficulties.
    pub intercept: f64,
    /// Delta-method standard error of A; `None` without item covariances.
    pub slope_se: Option<f64>,
    /// Delta-method standard error of B; `None` without item covariances.
    pub intercept_se: Option<f64>,
    /// Objective value at the optimum for Haebara/Stocking–Lord (with the 0.5
    /// factor, as equateIRT reports it); `None` for the moment methods.
    pub criterion: Option<f64>,
}

impl LinkingConstants {
    /// The scales are the same.
    pub const IDENTITY: Self = Self {
        slope: 1.0,
        intercept: 0.0,
        slope_se: None,
        intercept_se: None,
        criterion: None,
    };
}

/// Covariance of one right/wrong 'from' item's estimated (a, b, c) — 3x3, row-major; c row/col
/// zero when c is fixed.
pub type ItemCovariance = [[f64; 3]; 3];

/// The sampling covariance of all 'from' items' estimated IRT forms jointly, item after item:
/// (a, b, c) of a right/wrong item, (a, b_1 … b_(K−1)) of one in K categories. The entries
/// between items matter: items calibrated together share the latent scale, and in a 1PL one
/// slope.
#[derive(Clone, Debug, PartialEq)]
pub struct JointCovariance {
    /// Where each item's coordinates start; the last entry is the dimension.
    offsets: Vec<usize>,
    values: Vec<f64>,
}

impl JointCovariance {
    /// From each item's number of coordinates and the dimension² entries, row-major; None when
    /// their number is not that.
    pub fn new(sizes: &[usize], values: Vec<f64>) -> Option<Self> {
        let offsets: Vec<usize> = std::iter::once(0)
            .chain(sizes.iter().scan(0, |at, &n| {
                *at += n;
                Some(*at)
            }))
            .collect();
        let dim = offsets[sizes.len()];
        (values.len() == dim * dim).then_some(Self { offsets, values })
    }

    /// Independent right/wrong items: the per-item blocks on the diagonal, zero between items.
    pub fn block_diagonal(blocks: &[ItemCovariance]) -> Self {
        let n = blocks.len();
        let mut values = vec![0.0; 9 * n * n];
        for (i, block) in blocks.iter().enumerate() {
            for (r, row) in block.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    values[(3 * i + r) * 3 * n + 3 * i + c] = v;
                }
            }
        }
        Self::new(&vec![3; n], values).expect("(3n)² entries")
    }

    pub fn n_items(&self) -> usize {
        self.offsets.len() - 1
    }

    fn dim(&self) -> usize {
        self.offsets[self.n_items()]
    }

    fn size(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// Cov(coordinate r of item i, coordinate c of item j).
    pub fn entry(&self, i: usize, r: usize, j: usize, c: usize) -> f64 {
        self.values[(self.offsets[i] + r) * self.dim() + self.offsets[j] + c]
    }

    /// The covariance of the items `keep` (indices into this one's items), in that order.
    pub fn subset(&self, keep: &[usize]) -> Self {
        let sizes: Vec<usize> = keep.iter().map(|&i| self.size(i)).collect();
        let mut values = Vec::new();
        for &i in keep {
            for r in 0..self.size(i) {
                for &j in keep {
                    values.extend((0..self.size(j)).map(|c| self.entry(i, r, j, c)));
                }
            }
        }
        Self::new(&sizes, values).expect("the kept items' entries")
    }
}

/// Two constants need at least two items for every method (one item would
/// let mean–mean "succeed" while its intercept just copies that item).
const MIN_ITEMS: usize = 2;

/// Estimates θ_to = A·θ_from + B from paired common items, each pair of one shape (right/wrong,
/// or as many categories formed alike).
///
/// `from_cov` is the joint sampling covariance of the 'from' items' IRT forms; when given,
/// delta-method standard errors are returned (the 'to' items are known constants). It should be
/// positive semi-definite.
pub fn linking_constants(
    method: LinkingMethod,
    from: &[ItemParams],
    to: &[ItemParams],
    from_cov: Option<&JointCovariance>,
) -> Result<LinkingConstants, LinkingError> {
    validate(from, to, from_cov)?;
    let fit = match method {
        LinkingMethod::MeanMean => Fit::Moment(mean_mean(from, to)),
        LinkingMethod::MeanSigma => Fit::Moment(mean_sigma(from, to)?),
        LinkingMethod::Haebara => Fit::Curve(characteristic_curve(CurveMethod::Haebara, from, to)?),
        LinkingMethod::StockingLord => {
            Fit::Curve(characteristic_curve(CurveMethod::StockingLord, from, to)?)
        }
    };
    let (slope, intercept, criterion) = (fit.slope(), fit.intercept(), fit.criterion());
    // Checked because these were returned as inf, NaN or A = 0 (see `OutOfRange`).
    let in_range = slope.is_finite()
        && slope > 0.0
        && intercept.is_finite()
        && criterion.is_none_or(f64::is_finite);
    if !in_range {
        return Err(LinkingError::OutOfRange);
    }
    let (slope_se, intercept_se) = match from_cov {
        Some(cov) => {
            let [var_a, var_b] = delta_variances(&fit.jacobian(from, to), cov);
            (Some(var_a.sqrt()), Some(var_b.sqrt()))
        }
        None => (None, None),
    };
    Ok(LinkingConstants {
        slope,
        intercept,
        slope_se,
        intercept_se,
        criterion,
    })
}

/// The link of a calibration with anchors held fixed: the latent distribution estimated on the
/// anchors' scale, θ = σ·z + μ, so A = σ and B = μ, with delta-method standard errors from the
/// covariance of (μ, σ²): SE(A) = SE(σ²) / (2σ).
pub fn latent_as_constants(latent: Latent, cov: Option<[[f64; 2]; 2]>) -> LinkingConstants {
    let sd = latent.variance.sqrt();
    LinkingConstants {
        slope: sd,
        intercept: latent.mean,
        slope_se: cov.map(|c| c[1][1].max(0.0).sqrt() / (2.0 * sd)),
        intercept_se: cov.map(|c| c[0][0].max(0.0).sqrt()),
        criterion: None,
    }
}

/// The latent distribution on the 'to' scale.
pub fn transform_latent(l: Latent, k: &LinkingConstants) -> Latent {
    Latent {
        mean: k.slope * l.mean + k.intercept,
        variance: k.slope * k.slope * l.variance,
    }
}

/// Puts a 'from' ability (or any point on the θ scale) on the 'to' scale.
pub fn transform_theta(theta: f64, k: &LinkingConstants) -> f64 {
    k.slope * theta + k.intercept
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

fn validate(
    from: &[ItemParams],
    to: &[ItemParams],
    from_cov: Option<&JointCovariance>,
) -> Result<(), LinkingError> {
    let sizes_differ = |cov: &JointCovariance| {
        cov.n_items() != from.len() || (0..from.len()).any(|i| cov.size(i) != from[i].n_coords())
    };
    if from.len() != to.len() || from_cov.is_some_and(sizes_differ) {
        return Err(LinkingError::LengthMismatch);
    }
    if from.len() < MIN_ITEMS {
        return Err(LinkingError::TooFewItems {
            needed: MIN_ITEMS,
            got: from.len(),
        });
    }
    if let Some(index) = (0..from.len()).find(|&i| from[i].shape() != to[i].shape()) {
        return Err(LinkingError::ShapeMismatch { index });
    }
    validate_items(from, ["from.a", "from.b", "from.c"])?;
    validate_items(to, ["to.a", "to.b", "to.c"])?;
    if let Some(cov) = from_cov {
        // The first non-finite entry in row order names the item of its row.
        if let Some(at) = cov.values.iter().position(|v| !v.is_finite()) {
            let row = at / cov.dim();
            return Err(LinkingError::NonFinite {
                what: "from_cov",
                index: cov.offsets.partition_point(|&o| o <= row) - 1,
            });
        }
    }
    Ok(())
}

/// Each item's slope first (its sign decides what b means), then its difficulties or
/// thresholds, then a right/wrong item's lower asymptote.
fn validate_items(items: &[ItemParams], [a, b, c]: [&'static str; 3]) -> Result<(), LinkingError> {
    for (index, item) in items.iter().enumerate() {
        let slope = item.slope();
        if !slope.is_finite() {
            return Err(LinkingError::NonFinite { what: a, index });
        }
        if slope <= 0.0 {
            return Err(LinkingError::NonPositiveSlope { index });
        }
        if item.irt_coords()[item.difficulty_coords()]
            .iter()
            .any(|v| !v.is_finite())
        {
            return Err(LinkingError::NonFinite { what: b, index });
        }
        let guessing = item.guessing();
        if !guessing.is_finite() {
            return Err(LinkingError::NonFinite { what: c, index });
        }
        if !(0.0..1.0).contains(&guessing) {
            return Err(LinkingError::GuessingOutOfRange { index });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Fits and the delta method
// ---------------------------------------------------------------------------

/// A solved method, kept until the Jacobian is known to be needed.
enum Fit {
    Moment(MomentFit),
    Curve(CurveFit),
}

impl Fit {
    fn slope(&self) -> f64 {
        match self {
            Fit::Moment(m) => m.slope,
            Fit::Curve(c) => c.x[0],
        }
    }

    fn intercept(&self) -> f64 {
        match self {
            Fit::Moment(m) => m.intercept,
            Fit::Curve(c) => c.x[1],
        }
    }

    fn criterion(&self) -> Option<f64> {
        match self {
            Fit::Moment(_) => None,
            Fit::Curve(c) => Some(c.at_optimum.value),
        }
    }

    fn jacobian(&self, from: &[ItemParams], to: &[ItemParams]) -> Vec<ItemJacobian> {
        match self {
            Fit::Moment(m) => m.jacobian.clone(),
            Fit::Curve(c) => c.jacobian(from, to),
        }
    }
}

/// Var(A) and Var(B) = diag J·Cov·Jᵀ, over every pair of items: the cross-item covariances of
/// estimates calibrated together are kept (dropping them made SE(B) 12–45 % too small for
/// Haebara and Stocking–Lord against equateIRT, and SE(A) of a 1PL too small by about the root
/// of the number of anchors). The 'to' anchors are known constants.
fn delta_variances(jacobian: &[ItemJacobian], cov: &JointCovariance) -> [f64; 2] {
    let mut var = [0.0; 2];
    for (row, v) in var.iter_mut().enumerate() {
        for (i, ji) in jacobian.iter().enumerate() {
            for (j, jj) in jacobian.iter().enumerate() {
                for (r, &x) in ji[row][..cov.size(i)].iter().enumerate() {
                    for (c, &y) in jj[row][..cov.size(j)].iter().enumerate() {
                        *v += x * cov.entry(i, r, j, c) * y;
                    }
                }
            }
        }
    }
    // A PSD covariance gives var ≥ 0; clamp only rounding below zero.
    var.map(|v| v.max(0.0))
}
