//! IRT scale linking: put a 'from' calibration on the scale of a 'to'
//! calibration using common (anchor) items.
//!
//! Conventions follow equateIRT 2.5.1 (`direc()`), so results can be checked
//! against it: θ_to = A·θ_from + B, hence b_to = A·b_from + B, a_to = a_from/A
//! and c is unchanged. Item response functions are logistic without the 1.7
//! scaling constant (D = 1).
//!
//! * mean–mean and mean–sigma are closed forms over the common items;
//! * Haebara and Stocking–Lord minimise a characteristic-curve criterion on the
//!   'to' scale only, integrated over N(0, 1) with a 30-point Gauss–Hermite
//!   rule, using Newton's method with analytic derivatives.
//!
//! Standard errors use the delta method with the 'to' (anchor) parameters
//! treated as known constants.

use std::sync::OnceLock;

pub use crate::error::LinkingError;
use crate::linalg::{det_2x2, inverse_2x2, positive_definite_2x2};
use crate::quadrature::Latent;

/// Item parameters on one scale: logistic, no D (P = c + (1-c)/(1+exp(-a(θ-b)))).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemPoint {
    /// Discrimination (slope); must be positive.
    pub a: f64,
    /// Difficulty (location).
    pub b: f64,
    /// Lower asymptote (guessing); 0 for 1PL/2PL items.
    pub c: f64,
}

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

impl LinkingMethod {
    /// Every method, in a stable order, for iterating in reports and tests.
    pub const ALL: [LinkingMethod; 4] = [
        LinkingMethod::MeanMean,
        LinkingMethod::MeanSigma,
        LinkingMethod::Haebara,
        LinkingMethod::StockingLord,
    ];

    /// Canonical snake_case name, as used in SQL arguments and output.
    pub fn name(self) -> &'static str {
        match self {
            LinkingMethod::MeanMean => "mean_mean",
            LinkingMethod::MeanSigma => "mean_sigma",
            LinkingMethod::Haebara => "haebara",
            LinkingMethod::StockingLord => "stocking_lord",
        }
    }

    /// Parses a canonical name case-insensitively; '-' is accepted for '_'
    /// because equateIRT spells the methods "mean-mean", "Stocking-Lord", ….
    pub fn parse(s: &str) -> Option<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|m| m.name() == wanted)
    }
}

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

/// Covariance of one 'from' item's estimated (a, b, c) — 3x3, row-major; c row/col zero when c is fixed.
pub type ItemCovariance = [[f64; 3]; 3];

/// The sampling covariance of all 'from' items' estimated (a, b, c) jointly: a (3n)×(3n)
/// row-major matrix in the order (a₁, b₁, c₁, a₂, …). The entries between items matter: items
/// calibrated together share the latent scale, and in a 1PL one slope.
#[derive(Clone, Debug, PartialEq)]
pub struct JointCovariance {
    n_items: usize,
    values: Vec<f64>,
}

impl JointCovariance {
    /// From the (3n)² entries; None when their number is not that.
    pub fn new(n_items: usize, values: Vec<f64>) -> Option<Self> {
        (values.len() == 9 * n_items * n_items).then_some(Self { n_items, values })
    }

    /// Independent items: the per-item blocks on the diagonal, zero between items.
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
        Self { n_items: n, values }
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Cov(parameter r of item i, parameter c of item j), parameters in the order (a, b, c).
    pub fn entry(&self, i: usize, r: usize, j: usize, c: usize) -> f64 {
        self.values[(3 * i + r) * 3 * self.n_items + 3 * j + c]
    }

    /// The covariance of the items `keep` (indices into this one's items), in that order.
    pub fn subset(&self, keep: &[usize]) -> Self {
        let n = keep.len();
        let mut values = Vec::with_capacity(9 * n * n);
        for &i in keep {
            for r in 0..3 {
                for &j in keep {
                    values.extend((0..3).map(|c| self.entry(i, r, j, c)));
                }
            }
        }
        Self { n_items: n, values }
    }

    /// The block of item i, as [`ItemCovariance`].
    pub fn block(&self, i: usize) -> ItemCovariance {
        std::array::from_fn(|r| std::array::from_fn(|c| self.entry(i, r, i, c)))
    }
}

/// Number of Gauss–Hermite points, matching equateIRT's default `nq = 30`.
pub const QUADRATURE_POINTS: usize = 30;

/// Two constants need at least two items for every method (one item would
/// let mean–mean "succeed" while its intercept just copies that item).
const MIN_ITEMS: usize = 2;
/// Newton converges quadratically; hitting this means something is wrong.
const MAX_ITERATIONS: usize = 200;
/// Relative Newton-step size at which the optimum is considered exact.
const TOLERANCE: f64 = 1e-12;
/// Sufficient-decrease constant of the Armijo line search.
const ARMIJO: f64 = 1e-4;
/// Step halvings before the line search gives up.
const MAX_HALVINGS: usize = 60;
/// Multiple of the estimated rounding error of F tolerated by the line search.
const ROUNDING_MARGIN: f64 = 8.0;
/// Largest relative change of A in one Newton step (see `trust_limited`).
const MAX_SLOPE_CHANGE: f64 = 0.5;
/// Largest change of B in one Newton step, in 'to'-scale SD units.
const MAX_INTERCEPT_CHANGE: f64 = 1.0;

/// Estimates θ_to = A·θ_from + B from paired common items.
///
/// `from_cov` is the joint sampling covariance of the 'from' items' (a, b, c); when given,
/// delta-method standard errors are returned (the 'to' items are known constants). It should be
/// positive semi-definite.
pub fn linking_constants(
    method: LinkingMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
    from_cov: Option<&JointCovariance>,
) -> Result<LinkingConstants, LinkingError> {
    validate(from, to, from_cov)?;
    let fit = match method {
        LinkingMethod::MeanMean => mean_mean(from, to),
        LinkingMethod::MeanSigma => mean_sigma(from, to)?,
        LinkingMethod::Haebara => characteristic_curve(CurveMethod::Haebara, from, to)?,
        LinkingMethod::StockingLord => characteristic_curve(CurveMethod::StockingLord, from, to)?,
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

/// Puts a 'from' item on the 'to' scale: (a/A, A·b + B, c).
pub fn transform_item(p: ItemPoint, k: &LinkingConstants) -> ItemPoint {
    ItemPoint {
        a: p.a / k.slope,
        b: k.slope * p.b + k.intercept,
        c: p.c,
    }
}

/// Puts a 'to' item on the 'from' scale: the inverse of [`transform_item`].
pub fn untransform_item(p: ItemPoint, k: &LinkingConstants) -> ItemPoint {
    ItemPoint {
        a: p.a * k.slope,
        b: (p.b - k.intercept) / k.slope,
        c: p.c,
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

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

fn validate(
    from: &[ItemPoint],
    to: &[ItemPoint],
    from_cov: Option<&JointCovariance>,
) -> Result<(), LinkingError> {
    if from.len() != to.len() || from_cov.is_some_and(|cov| cov.n_items != from.len()) {
        return Err(LinkingError::LengthMismatch);
    }
    if from.len() < MIN_ITEMS {
        return Err(LinkingError::TooFewItems {
            needed: MIN_ITEMS,
            got: from.len(),
        });
    }
    validate_items(from, ["from.a", "from.b", "from.c"])?;
    validate_items(to, ["to.a", "to.b", "to.c"])?;
    if let Some(cov) = from_cov {
        // The first non-finite entry in row order names the item of its row.
        if let Some(at) = cov.values.iter().position(|v| !v.is_finite()) {
            return Err(LinkingError::NonFinite {
                what: "from_cov",
                index: at / (3 * cov.n_items) / 3,
            });
        }
    }
    Ok(())
}

fn validate_items(items: &[ItemPoint], names: [&'static str; 3]) -> Result<(), LinkingError> {
    for (index, item) in items.iter().enumerate() {
        for (value, what) in [item.a, item.b, item.c].into_iter().zip(names) {
            if !value.is_finite() {
                return Err(LinkingError::NonFinite { what, index });
            }
        }
        if item.a <= 0.0 {
            return Err(LinkingError::NonPositiveSlope { index });
        }
        if !(0.0..1.0).contains(&item.c) {
            return Err(LinkingError::GuessingOutOfRange { index });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Fits and the delta method
// ---------------------------------------------------------------------------

/// ∂(A, B)/∂(a, b, c) of one 'from' item: rows A and B.
type ItemJacobian = [[f64; 3]; 2];

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

    fn jacobian(&self, from: &[ItemPoint], to: &[ItemPoint]) -> Vec<ItemJacobian> {
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
                for (r, &x) in ji[row].iter().enumerate() {
                    for (c, &y) in jj[row].iter().enumerate() {
                        *v += x * cov.entry(i, r, j, c) * y;
                    }
                }
            }
        }
    }
    // A PSD covariance gives var ≥ 0; clamp only rounding below zero.
    var.map(|v| v.max(0.0))
}

// ---------------------------------------------------------------------------
// Moment methods
// ---------------------------------------------------------------------------

/// Closed-form constants with their derivatives w.r.t. each 'from' item.
struct MomentFit {
    slope: f64,
    intercept: f64,
    jacobian: Vec<ItemJacobian>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

/// Sample standard deviation (n − 1); only the ratio of two matters here.
fn sample_sd(values: &[f64]) -> f64 {
    let m = mean(values.iter().copied());
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// A = mean(a_from)/mean(a_to), B = mean(b_to) − A·mean(b_from).
fn mean_mean(from: &[ItemPoint], to: &[ItemPoint]) -> Fit {
    let n = from.len() as f64;
    let mean_a_to = mean(to.iter().map(|p| p.a));
    let mean_b_from = mean(from.iter().map(|p| p.b));
    let slope = mean(from.iter().map(|p| p.a)) / mean_a_to;
    let intercept = mean(to.iter().map(|p| p.b)) - slope * mean_b_from;
    let da = 1.0 / (n * mean_a_to);
    let item = [[da, 0.0, 0.0], [-mean_b_from * da, -slope / n, 0.0]];
    Fit::Moment(MomentFit {
        slope,
        intercept,
        jacobian: vec![item; from.len()],
    })
}

/// A = sd(b_to)/sd(b_from), B = mean(b_to) − A·mean(b_from).
fn mean_sigma(from: &[ItemPoint], to: &[ItemPoint]) -> Result<Fit, LinkingError> {
    let b_from: Vec<f64> = from.iter().map(|p| p.b).collect();
    let b_to: Vec<f64> = to.iter().map(|p| p.b).collect();
    let (sd_from, sd_to) = (sample_sd(&b_from), sample_sd(&b_to));
    let slope = sd_to / sd_from;
    // Either sd zero (or overflowing) leaves A zero, infinite or NaN.
    if !(slope > 0.0 && slope.is_finite()) {
        return Err(LinkingError::DegenerateSpread);
    }
    let n = from.len() as f64;
    let mean_b_from = mean(b_from.iter().copied());
    let intercept = mean(b_to.iter().copied()) - slope * mean_b_from;
    // ∂sd_from/∂b_i = (b_i − mean)/((n − 1)·sd_from), and A ∝ 1/sd_from.
    let jacobian = b_from
        .iter()
        .map(|b| {
            let d_slope = -slope * (b - mean_b_from) / ((n - 1.0) * sd_from * sd_from);
            [
                [0.0, d_slope, 0.0],
                [0.0, -mean_b_from * d_slope - slope / n, 0.0],
            ]
        })
        .collect();
    Ok(Fit::Moment(MomentFit {
        slope,
        intercept,
        jacobian,
    }))
}

// ---------------------------------------------------------------------------
// Characteristic-curve methods
// ---------------------------------------------------------------------------

/// The two characteristic-curve criteria (a narrower type than
/// `LinkingMethod`, so matches on it need no unreachable arms).
#[derive(Clone, Copy)]
enum CurveMethod {
    Haebara,
    StockingLord,
}

/// The minimiser of a curve criterion and the criterion's derivatives there.
struct CurveFit {
    method: CurveMethod,
    x: [f64; 2],
    at_optimum: Criterion,
}

/// Minimises from equateIRT's start (1, 0) and from the mean–mean constants,
/// keeping the lower optimum. Far from (1, 0) (large shifts or rescalings) the
/// criterion can slope down towards A → 0, where every moved curve becomes a
/// step and quadrature leaves spurious minima; the moment start lies in the
/// right basin there. On equal criterion values (1, 0)'s result is kept.
fn characteristic_curve(
    method: CurveMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
) -> Result<Fit, LinkingError> {
    let f = |x| criterion(method, from, to, x);
    let moment = mean_mean(from, to);
    let starts = [[1.0, 0.0], [moment.slope(), moment.intercept()]];
    // `min_by` keeps the first of equal values, i.e. equateIRT's start.
    let (x, at_optimum) = starts
        .into_iter()
        .filter_map(|start| minimise(f, start).ok())
        .min_by(|p, q| p.1.value.total_cmp(&q.1.value))
        .ok_or(LinkingError::NoConvergence)?;
    Ok(Fit::Curve(CurveFit {
        method,
        x,
        at_optimum,
    }))
}

impl CurveFit {
    /// Implicit function theorem: the optimum solves ∇F(A, B; θ_from) = 0, so
    /// ∂(A, B)/∂θ_i = −H⁻¹ · ∂²F/∂(A, B)∂θ_i.
    fn jacobian(&self, from: &[ItemPoint], to: &[ItemPoint]) -> Vec<ItemJacobian> {
        let inverse = inverse_2x2(&self.at_optimum.hess);
        cross_derivatives(self.method, from, to, self.x)
            .iter()
            .map(|m| {
                let mut j = [[0.0; 3]; 2];
                for (row, inv_row) in j.iter_mut().zip(&inverse) {
                    for (col, out) in row.iter_mut().enumerate() {
                        *out = -(inv_row[0] * m[0][col] + inv_row[1] * m[1][col]);
                    }
                }
                j
            })
            .collect()
    }
}

/// 30-point rule, computed once per process.
/// The Gauss–Hermite rule of [`QUADRATURE_POINTS`] for N(0, 1), computed once.
pub(crate) fn quadrature() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| normal_quadrature(QUADRATURE_POINTS))
}

/// Value, gradient and Hessian of a criterion in x = (A, B).
#[derive(Clone, Copy, Debug, Default)]
struct Criterion {
    value: f64,
    grad: [f64; 2],
    hess: [[f64; 2]; 2],
    /// Rounding error of `value` divided by ε: each residual is a difference
    /// of (sums of) probabilities, known only to ε times their size. For
    /// Stocking–Lord this dominates; F may have only ~12 correct digits.
    rounding: f64,
}

impl Criterion {
    /// Adds ½·w·r² with r = target − model; the model's derivatives give the
    /// exact (not Gauss–Newton) Hessian, needed for quadratic convergence and
    /// for the implicit-function standard errors.
    fn add_residual(&mut self, w: f64, r: f64, model: &CurveValue) {
        self.value += 0.5 * w * r * r;
        let target = r + model.p;
        self.rounding += w * r.abs() * (target.abs() + model.p.abs());
        for k in 0..2 {
            self.grad[k] -= w * r * model.grad[k];
            for l in 0..2 {
                self.hess[k][l] += w * (model.grad[k] * model.grad[l] - r * model.hess[k][l]);
            }
        }
    }
}

/// Haebara: ½ Σ_q w_q Σ_i (P_to,i − P*_i)²;
/// Stocking–Lord: ½ Σ_q w_q (Σ_i P_to,i − Σ_i P*_i)²;
/// P*_i is 'from' item i moved to the 'to' scale by x = (A, B), θ_q the nodes.
fn criterion(method: CurveMethod, from: &[ItemPoint], to: &[ItemPoint], x: [f64; 2]) -> Criterion {
    let (nodes, weights) = quadrature();
    let mut total = Criterion::default();
    for (&theta, &w) in nodes.iter().zip(weights) {
        for (r, model) in residuals(method, from, to, theta, x) {
            total.add_residual(w, r, &model);
        }
    }
    total
}

/// ∂²F/∂(A, B)∂(a_i, b_i, c_i) for every 'from' item i.
fn cross_derivatives(
    method: CurveMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
    x: [f64; 2],
) -> Vec<ItemJacobian> {
    let (nodes, weights) = quadrature();
    let mut cross = vec![[[0.0; 3]; 2]; from.len()];
    for (&theta, &w) in nodes.iter().zip(weights) {
        let terms = residuals(method, from, to, theta, x);
        for (i, (item, m)) in from.iter().zip(cross.iter_mut()).enumerate() {
            let (r, model) = &terms[residual_of_item(method, i)];
            let s = item_sensitivity(item, theta, x);
            // ∂/∂θ_i of −w·r·∇P*, with ∂r/∂θ_i = −∂P*_i/∂θ_i.
            for (k, row) in m.iter_mut().enumerate() {
                for (j, out) in row.iter_mut().enumerate() {
                    *out += w * (model.grad[k] * s.dp[j] - r * s.cross[k][j]);
                }
            }
        }
    }
    cross
}

/// Least-squares residuals at one node: one per item for Haebara, one for
/// the test characteristic curve for Stocking–Lord.
fn residuals(
    method: CurveMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
    theta: f64,
    x: [f64; 2],
) -> Vec<(f64, CurveValue)> {
    let pairs = from
        .iter()
        .zip(to)
        .map(|(f, t)| (irf(t, theta), transformed_irf(f, theta, x)));
    match method {
        CurveMethod::Haebara => pairs
            .map(|(target, model)| (target - model.p, model))
            .collect(),
        CurveMethod::StockingLord => {
            let (target, model) = pairs.fold((0.0, CurveValue::default()), |(t, m), (pt, pm)| {
                (t + pt, m.plus(&pm))
            });
            vec![(target - model.p, model)]
        }
    }
}

/// Index into `residuals` of the residual that item `i` contributes to.
fn residual_of_item(method: CurveMethod, i: usize) -> usize {
    match method {
        CurveMethod::Haebara => i,
        CurveMethod::StockingLord => 0,
    }
}

// ---------------------------------------------------------------------------
// Item response functions and their derivatives
// ---------------------------------------------------------------------------

/// Logistic σ(z), 1 − σ(z) and the first two derivatives, computed without
/// cancellation in either tail.
struct Logistic {
    p: f64,
    q: f64,
    d1: f64,
    d2: f64,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn logistic(z: f64) -> Logistic {
    let (p, q) = (sigmoid(z), sigmoid(-z));
    let d1 = p * q;
    Logistic {
        p,
        q,
        d1,
        d2: d1 * (q - p),
    }
}

fn irf(item: &ItemPoint, theta: f64) -> f64 {
    item.c + (1.0 - item.c) * sigmoid(item.a * (theta - item.b))
}

/// The logit of a 'from' item moved to the 'to' scale,
/// z = (a/A)(θ − A·b − B) = a(u − b) with u = (θ − B)/A, and ∂z/∂(A, B).
struct TransformedLogit {
    u: f64,
    l: Logistic,
    dz: [f64; 2],
}

fn transformed_logit(
    item: &ItemPoint,
    theta: f64,
    [slope, intercept]: [f64; 2],
) -> TransformedLogit {
    let u = (theta - intercept) / slope;
    TransformedLogit {
        u,
        l: logistic(item.a * (u - item.b)),
        dz: [-item.a * u / slope, -item.a / slope],
    }
}

/// A (sum of) transformed IRF(s) with derivatives w.r.t. x = (A, B).
#[derive(Clone, Copy, Debug, Default)]
struct CurveValue {
    p: f64,
    grad: [f64; 2],
    hess: [[f64; 2]; 2],
}

impl CurveValue {
    fn plus(&self, other: &CurveValue) -> CurveValue {
        let mut sum = *self;
        sum.p += other.p;
        for k in 0..2 {
            sum.grad[k] += other.grad[k];
            for l in 0..2 {
                sum.hess[k][l] += other.hess[k][l];
            }
        }
        sum
    }
}

/// P* = c + (1 − c)σ(z): ∂P*/∂x = (1 − c)σ'·∂z/∂x and
/// ∂²P*/∂x∂y = (1 − c)(σ''·∂z/∂x·∂z/∂y + σ'·∂²z/∂x∂y).
fn transformed_irf(item: &ItemPoint, theta: f64, x: [f64; 2]) -> CurveValue {
    let t = transformed_logit(item, theta, x);
    let slope = x[0];
    let s = 1.0 - item.c;
    let a_s2 = item.a / (slope * slope);
    // ∂²z/∂A² = 2a·u/A², ∂²z/∂A∂B = a/A², ∂²z/∂B² = 0.
    let d2z = [[2.0 * a_s2 * t.u, a_s2], [a_s2, 0.0]];
    let h = |k: usize, l: usize| s * (t.l.d2 * t.dz[k] * t.dz[l] + t.l.d1 * d2z[k][l]);
    CurveValue {
        p: item.c + s * t.l.p,
        grad: t.dz.map(|d| s * t.l.d1 * d),
        hess: [[h(0, 0), h(0, 1)], [h(1, 0), h(1, 1)]],
    }
}

/// Derivatives of P* w.r.t. the item's own (a, b, c), for standard errors.
struct ItemSensitivity {
    /// ∂P*/∂(a, b, c).
    dp: [f64; 3],
    /// ∂²P*/∂(A, B)∂(a, b, c).
    cross: [[f64; 3]; 2],
}

fn item_sensitivity(item: &ItemPoint, theta: f64, x: [f64; 2]) -> ItemSensitivity {
    let t = transformed_logit(item, theta, x);
    let slope = x[0];
    let s = 1.0 - item.c;
    // ∂z/∂(a, b) and ∂²z/∂(A, B)∂(a, b); z does not depend on c.
    let dz_item = [t.u - item.b, -item.a];
    let d2z = [[-t.u / slope, 0.0], [-1.0 / slope, 0.0]];
    let ab = |k: usize, j: usize| s * (t.l.d2 * t.dz[k] * dz_item[j] + t.l.d1 * d2z[k][j]);
    // ∂P*/∂x = (1 − c)σ'·∂z/∂x, so its c-derivative is −σ'·∂z/∂x.
    let c = |k: usize| -t.l.d1 * t.dz[k];
    let cross = [[ab(0, 0), ab(0, 1), c(0)], [ab(1, 0), ab(1, 1), c(1)]];
    ItemSensitivity {
        dp: [s * t.l.d1 * dz_item[0], s * t.l.d1 * dz_item[1], t.l.q],
        cross,
    }
}

// ---------------------------------------------------------------------------
// Newton minimisation in (A, B)
// ---------------------------------------------------------------------------

/// Damped Newton from `start`.
///
/// Each step solves with the exact Hessian when it is positive definite and
/// with a Levenberg-shifted one otherwise, then backtracks (Armijo) so the
/// criterion decreases and A stays positive. Converges when the Newton step
/// is below 1e-12 relative and the Hessian there is positive definite (a
/// strict minimum, so −H⁻¹ exists for the standard errors).
fn minimise(
    f: impl Fn([f64; 2]) -> Criterion,
    start: [f64; 2],
) -> Result<([f64; 2], Criterion), LinkingError> {
    let mut x = start;
    let mut current = f(x);
    for _ in 0..MAX_ITERATIONS {
        let direction = trust_limited(x, descent_direction(&current));
        // The Newton step estimates the distance to the optimum. Once it is
        // negligible, it is still applied if it moves x at all (leaving an
        // error of order its square), and the iteration ends.
        let converged = norm(direction) <= TOLERANCE * (1.0 + norm(x));
        match line_search(&f, x, &current, direction) {
            Ok(next) => (x, current) = next,
            Err(e) if !converged => return Err(e),
            Err(_) => {}
        }
        if converged {
            return strict_minimum(x, current);
        }
    }
    Err(LinkingError::NoConvergence)
}

fn strict_minimum(x: [f64; 2], at: Criterion) -> Result<([f64; 2], Criterion), LinkingError> {
    if positive_definite_2x2(&at.hess) {
        Ok((x, at))
    } else {
        Err(LinkingError::NoConvergence)
    }
}

/// Scales a step so A changes by at most half its value and B by at most one
/// unit. Far from the optimum a full Newton step can overshoot to A ≈ 0, where
/// every moved curve is a step function and the criteria have spurious flat
/// minima; near the optimum steps are small and pass unchanged.
fn trust_limited(x: [f64; 2], direction: [f64; 2]) -> [f64; 2] {
    let limit = (MAX_SLOPE_CHANGE * x[0] / direction[0].abs())
        .min(MAX_INTERCEPT_CHANGE / direction[1].abs())
        .min(1.0);
    direction.map(|d| d * limit)
}

/// Newton direction −H⁻¹g, with H shifted by μI when it is not positive
/// definite so the direction is always a descent direction.
fn descent_direction(at: &Criterion) -> [f64; 2] {
    let h = if positive_definite_2x2(&at.hess) {
        at.hess
    } else {
        levenberg_shift(&at.hess)
    };
    let inv = inverse_2x2(&h);
    [
        -(inv[0][0] * at.grad[0] + inv[0][1] * at.grad[1]),
        -(inv[1][0] * at.grad[0] + inv[1][1] * at.grad[1]),
    ]
}

/// H + μI with μ just past the most negative eigenvalue (plus a margin
/// relative to the spectrum), the smallest shift that makes H usable.
fn levenberg_shift(h: &[[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let half_trace = 0.5 * (h[0][0] + h[1][1]);
    let det = det_2x2(h);
    let radius = (half_trace * half_trace - det).max(0.0).sqrt();
    let (low, high) = (half_trace - radius, half_trace + radius);
    let mu = -low + 1e-3 * low.abs().max(high.abs()).max(f64::MIN_POSITIVE.sqrt());
    [[h[0][0] + mu, h[0][1]], [h[1][0], h[1][1] + mu]]
}

/// Backtracking until the Armijo condition holds, up to the rounding error
/// of F: the last Newton steps predict decreases below that error and must
/// not be rejected for noise. Fails once the step no longer moves x.
fn line_search(
    f: &impl Fn([f64; 2]) -> Criterion,
    x: [f64; 2],
    at: &Criterion,
    direction: [f64; 2],
) -> Result<([f64; 2], Criterion), LinkingError> {
    let slope = at.grad[0] * direction[0] + at.grad[1] * direction[1];
    let slack = ROUNDING_MARGIN * f64::EPSILON * (at.value.abs() + at.rounding);
    let mut t = 1.0;
    for _ in 0..MAX_HALVINGS {
        let candidate = [x[0] + t * direction[0], x[1] + t * direction[1]];
        if candidate == x {
            break;
        }
        if candidate[0] > 0.0 {
            let next = f(candidate);
            if next.value <= at.value + ARMIJO * t * slope + slack {
                return Ok((candidate, next));
            }
        }
        t *= 0.5;
    }
    Err(LinkingError::NoConvergence)
}

fn norm(v: [f64; 2]) -> f64 {
    v[0].hypot(v[1])
}

// ---------------------------------------------------------------------------
// Gauss–Hermite quadrature
// ---------------------------------------------------------------------------

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
