//! The characteristic-curve methods (Haebara, Stocking–Lord): a criterion on the 'to' scale
//! integrated over N(0, 1) by Gauss–Hermite, minimised by damped Newton with analytic
//! derivatives; the implicit-function Jacobian for the delta method.

use crate::error::LinkingError;
use crate::linalg::inverse_2x2;
use crate::model::{logistic, ItemPoint};
use crate::optimise::{newton_2d, Local, Newton2};
use crate::quadrature::gauss_hermite;

use super::moments::{mean_mean, ItemJacobian};

/// The damped Newton of both criteria in x = (A, B): A stays positive and changes by at most
/// half its value in one step, B by at most one 'to'-scale SD. Far from the optimum a full
/// Newton step can overshoot to A ≈ 0, where every moved curve is a step function and the
/// criteria have spurious flat minima; near the optimum steps are small and pass unchanged.
const NEWTON: Newton2 = Newton2 {
    max_step: |x| [0.5 * x[0], 1.0],
    inside: |x| x[0] > 0.0,
};

/// The two characteristic-curve criteria (a narrower type than
/// `LinkingMethod`, so matches on it need no unreachable arms).
#[derive(Clone, Copy)]
pub(super) enum CurveMethod {
    Haebara,
    StockingLord,
}

/// The minimiser of a curve criterion and the criterion's derivatives there.
pub(super) struct CurveFit {
    method: CurveMethod,
    pub(super) x: [f64; 2],
    pub(super) at_optimum: Local,
}

/// Minimises from equateIRT's start (1, 0) and from the mean–mean constants,
/// keeping the lower optimum. Far from (1, 0) (large shifts or rescalings) the
/// criterion can slope down towards A → 0, where every moved curve becomes a
/// step and quadrature leaves spurious minima; the moment start lies in the
/// right basin there. On equal criterion values (1, 0)'s result is kept.
pub(super) fn characteristic_curve(
    method: CurveMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
) -> Result<CurveFit, LinkingError> {
    let f = |x| criterion(method, from, to, x);
    let moment = mean_mean(from, to);
    let starts = [[1.0, 0.0], [moment.slope, moment.intercept]];
    // `min_by` keeps the first of equal values, i.e. equateIRT's start.
    let (x, at_optimum) = starts
        .into_iter()
        .filter_map(|start| newton_2d(f, start, &NEWTON))
        .min_by(|p, q| p.1.value.total_cmp(&q.1.value))
        .ok_or(LinkingError::NoConvergence)?;
    Ok(CurveFit {
        method,
        x,
        at_optimum,
    })
}

impl CurveFit {
    /// Implicit function theorem: the optimum solves ∇F(A, B; θ_from) = 0, so
    /// ∂(A, B)/∂θ_i = −H⁻¹ · ∂²F/∂(A, B)∂θ_i.
    pub(super) fn jacobian(&self, from: &[ItemPoint], to: &[ItemPoint]) -> Vec<ItemJacobian> {
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

/// Adds ½·w·r² with r = target − model to `total`; the model's derivatives give the exact (not
/// Gauss–Newton) Hessian, needed for quadratic convergence and for the implicit-function
/// standard errors. Each residual is a difference of (sums of) probabilities, known only to ε
/// times their size: for Stocking–Lord this rounding dominates, F may have only ~12 correct
/// digits.
fn add_residual(total: &mut Local, w: f64, r: f64, model: &CurveValue) {
    total.value += 0.5 * w * r * r;
    let target = r + model.p;
    total.rounding += w * r.abs() * (target.abs() + model.p.abs());
    for k in 0..2 {
        total.grad[k] -= w * r * model.grad[k];
        for l in 0..2 {
            total.hess[k][l] += w * (model.grad[k] * model.grad[l] - r * model.hess[k][l]);
        }
    }
}

/// Haebara: ½ Σ_q w_q Σ_i (P_to,i − P*_i)²;
/// Stocking–Lord: ½ Σ_q w_q (Σ_i P_to,i − Σ_i P*_i)²;
/// P*_i is 'from' item i moved to the 'to' scale by x = (A, B), θ_q the nodes.
fn criterion(method: CurveMethod, from: &[ItemPoint], to: &[ItemPoint], x: [f64; 2]) -> Local {
    let (nodes, weights) = gauss_hermite();
    let mut total = Local::default();
    for (&theta, &w) in nodes.iter().zip(weights) {
        for (r, model) in residuals(method, from, to, theta, x) {
            add_residual(&mut total, w, r, &model);
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
    let (nodes, weights) = gauss_hermite();
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
        .map(|(f, t)| (t.prob(theta), transformed_irf(f, theta, x)));
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

fn logistic_derivatives(z: f64) -> Logistic {
    let (p, q) = (logistic(z), logistic(-z));
    let d1 = p * q;
    Logistic {
        p,
        q,
        d1,
        d2: d1 * (q - p),
    }
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
        l: logistic_derivatives(item.a * (u - item.b)),
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
