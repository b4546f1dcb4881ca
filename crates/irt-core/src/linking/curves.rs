//! The characteristic-curve methods (Haebara, Stocking–Lord): a criterion on the 'to' scale
//! integrated over N(0, 1) by Gauss–Hermite, minimised by damped Newton with analytic
//! derivatives; the implicit-function Jacobian for the delta method.
//!
//! Items in categories as Kim & Lee (2006) and plink 1.5-1 take them: Haebara compares every
//! category's curve of such an item (a right/wrong item's right answer only, as equateIRT and
//! plink do), Stocking–Lord the test's expected score with categories scored 0 … K − 1.

use crate::error::LinkingError;
use crate::linalg::inverse_2x2;
use crate::model::{CurvePoint, CurvesAt, ItemParams, MAX_COORDS};
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
    from: &[ItemParams],
    to: &[ItemParams],
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
    pub(super) fn jacobian(&self, from: &[ItemParams], to: &[ItemParams]) -> Vec<ItemJacobian> {
        let inverse = inverse_2x2(&self.at_optimum.hess);
        cross_derivatives(self.method, from, to, self.x)
            .iter()
            .map(|m| {
                let mut j = [[0.0; MAX_COORDS]; 2];
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

/// Haebara: ½ Σ_q w_q Σ_i Σ_k (P_to,ik − P*_ik)² over the compared curves k of each item;
/// Stocking–Lord: ½ Σ_q w_q (Σ_i E_to,i − Σ_i E*_i)², E the expected score;
/// P* and E* of 'from' item i moved to the 'to' scale by x = (A, B), θ_q the nodes.
fn criterion(method: CurveMethod, from: &[ItemParams], to: &[ItemParams], x: [f64; 2]) -> Local {
    let (nodes, weights) = gauss_hermite();
    let mut total = Local::default();
    for (&theta, &w) in nodes.iter().zip(weights) {
        let node = Node::new(from, to, theta, x);
        for residual in node.residuals(method) {
            add_residual(&mut total, w, residual.r, &residual.model);
        }
    }
    total
}

/// ∂²F/∂(A, B)∂η_i for every 'from' item i and coordinate η of its IRT form: of −w·r·∇M, with
/// ∂r/∂η = −∂M/∂η, for each residual r = target − M the item's curves enter with their scores.
fn cross_derivatives(
    method: CurveMethod,
    from: &[ItemParams],
    to: &[ItemParams],
    x: [f64; 2],
) -> Vec<ItemJacobian> {
    let (nodes, weights) = gauss_hermite();
    let mut cross = vec![[[0.0; MAX_COORDS]; 2]; from.len()];
    for (&theta, &w) in nodes.iter().zip(weights) {
        let node = Node::new(from, to, theta, x);
        for residual in node.residuals(method) {
            for &(i, k, score) in &residual.members {
                let curve = &node.from[i][k];
                for (row, out) in cross[i].iter_mut().enumerate() {
                    for (eta, out) in out.iter_mut().enumerate() {
                        *out += w
                            * score
                            * (residual.model.grad[row] * curve.dp_deta[eta]
                                - residual.r * curve.d2p_deta[eta] * node.du[row]);
                    }
                }
            }
        }
    }
    cross
}

/// One quadrature node: the 'to' items' curves at θ, the 'from' items' at u = (θ − B)/A (the
/// curves of the moved items at θ), and u's derivatives in x = (A, B).
struct Node {
    to: Vec<CurvesAt>,
    from: Vec<CurvesAt>,
    categories: Vec<usize>,
    right_wrong: Vec<bool>,
    /// ∂u/∂(A, B) = (−u/A, −1/A).
    du: [f64; 2],
    /// ∂²u/∂(A, B)²: 2u/A², 1/A², 0.
    d2u: [[f64; 2]; 2],
}

/// A least-squares residual at a node: target − model, and the (item, category, score) of every
/// moved curve the model sums.
struct Residual {
    r: f64,
    model: CurveValue,
    members: Vec<(usize, usize, f64)>,
}

impl Node {
    fn new(
        from: &[ItemParams],
        to: &[ItemParams],
        theta: f64,
        [slope, intercept]: [f64; 2],
    ) -> Self {
        let u = (theta - intercept) / slope;
        let a2 = slope * slope;
        Self {
            to: to.iter().map(|p| p.curves(theta)).collect(),
            from: from.iter().map(|p| p.curves(u)).collect(),
            categories: from.iter().map(ItemParams::categories).collect(),
            right_wrong: from.iter().map(|p| p.steps().is_none()).collect(),
            du: [-u / slope, -1.0 / slope],
            d2u: [[2.0 * u / a2, 1.0 / a2], [1.0 / a2, 0.0]],
        }
    }

    /// A moved curve's value with its derivatives in x: P*(x) = P(u(x)), so ∂P*/∂x = P'·u_x and
    /// ∂²P*/∂x∂y = P''·u_x·u_y + P'·u_xy.
    fn moved(&self, curve: &CurvePoint) -> CurveValue {
        CurveValue {
            p: curve.p,
            grad: self.du.map(|d| curve.dp * d),
            hess: std::array::from_fn(|k| {
                std::array::from_fn(|l| {
                    curve.d2p * self.du[k] * self.du[l] + curve.dp * self.d2u[k][l]
                })
            }),
        }
    }

    /// Haebara: one residual per compared curve (every category of an item in categories, the
    /// right answer of a right/wrong item); Stocking–Lord: one for the test's expected score.
    fn residuals(&self, method: CurveMethod) -> Vec<Residual> {
        let compared = |i: usize| {
            let k = self.categories[i];
            let first = match (method, self.right_wrong[i]) {
                (CurveMethod::Haebara, true) | (CurveMethod::StockingLord, _) => 1,
                (CurveMethod::Haebara, false) => 0,
            };
            (first..k).map(move |c| (i, c))
        };
        let all = (0..self.from.len()).flat_map(compared);
        match method {
            CurveMethod::Haebara => all
                .map(|(i, c)| {
                    let model = self.moved(&self.from[i][c]);
                    Residual {
                        r: self.to[i][c].p - model.p,
                        model,
                        members: vec![(i, c, 1.0)],
                    }
                })
                .collect(),
            CurveMethod::StockingLord => {
                let (mut target, mut model) = (0.0, CurveValue::default());
                let mut members = Vec::new();
                for (i, c) in all {
                    let score = c as f64;
                    target += score * self.to[i][c].p;
                    model = model.plus(&self.moved(&self.from[i][c]), score);
                    members.push((i, c, score));
                }
                vec![Residual {
                    r: target - model.p,
                    model,
                    members,
                }]
            }
        }
    }
}

/// A (sum of) moved curve(s) with derivatives w.r.t. x = (A, B).
#[derive(Clone, Copy, Debug, Default)]
struct CurveValue {
    p: f64,
    grad: [f64; 2],
    hess: [[f64; 2]; 2],
}

impl CurveValue {
    /// self + score·other.
    fn plus(&self, other: &CurveValue, score: f64) -> CurveValue {
        let mut sum = *self;
        sum.p += score * other.p;
        for k in 0..2 {
            sum.grad[k] += score * other.grad[k];
            for l in 0..2 {
                sum.hess[k][l] += score * other.hess[k][l];
            }
        }
        sum
    }
}
