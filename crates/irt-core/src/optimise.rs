//! Damped Newton, the one home of its loops. In n variables, for the M-step: an ascent with a
//! step cap and backtracking, on Levenberg-shifted steps. In two, for linking's
//! characteristic-curve criteria: the exact Hessian where it is positive definite and a
//! Levenberg-shifted one where not, an Armijo line search that tolerates the criterion's
//! rounding error, and a step limit and a domain the caller sets. (BFGS, bit for bit as R's
//! `optim` for mirt's own M-step, is `bfgs`.)

use crate::linalg::{det_2x2, inverse_2x2, positive_definite_2x2, solve_spd};

/// Newton iterations of an ascent.
pub(crate) const MAX_NEWTON: usize = 100;
/// Largest move of any coordinate in one ascent step: keeps a bad early step from jumping out
/// of the region where the quadratic model means anything.
pub(crate) const MAX_STEP: f64 = 1.0;
/// An ascent ends when its step is shorter than this.
pub(crate) const STEP_TOL: f64 = 1e-10;

/// Maximises from x0: `newton` gives the value at x and an ascent step, `value` the value
/// anywhere (−∞ or NaN where infeasible); steps are halved until the value does not fall.
pub(crate) fn ascend(
    mut x: Vec<f64>,
    value: impl Fn(&[f64]) -> f64,
    newton: impl Fn(&[f64]) -> (f64, Vec<f64>),
) -> Vec<f64> {
    for _ in 0..MAX_NEWTON {
        let (f0, step) = newton(&x);
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        if !largest.is_finite() || largest < STEP_TOL {
            break;
        }
        let mut t = (MAX_STEP / largest).min(1.0);
        let slack = 1e-13 * (1.0 + f0.abs());
        let accepted = loop {
            let candidate: Vec<f64> = x.iter().zip(&step).map(|(xi, s)| xi + t * s).collect();
            let f = value(&candidate);
            if f >= f0 - slack {
                break Some(candidate);
            }
            t *= 0.5;
            if t * largest < STEP_TOL {
                break None;
            }
        };
        match accepted {
            Some(next) => {
                x = next;
                if t * largest < STEP_TOL {
                    break;
                }
            }
            None => break,
        }
    }
    x
}

/// Solves (−H + λI) s = g for a small dense H, raising λ until −H + λI is positive definite.
pub(crate) fn newton_step(h: &[Vec<f64>], g: &[f64]) -> Vec<f64> {
    let n = g.len();
    let scale = (0..n).map(|i| h[i][i].abs()).fold(1e-12f64, f64::max);
    let mut lambda = 0.0;
    loop {
        let m: Vec<f64> = (0..n * n)
            .map(|rc| -h[rc / n][rc % n] + if rc / n == rc % n { lambda } else { 0.0 })
            .collect();
        if let Some(s) = solve_spd(m, g) {
            return s;
        }
        // A non-finite Hessian never becomes definite: no step (`ascend` stops), rather than
        // raising λ for ever.
        if !lambda.is_finite() {
            return vec![f64::NAN; n];
        }
        lambda = if lambda == 0.0 {
            1e-8 * scale
        } else {
            lambda * 10.0
        };
    }
}

// ---------------------------------------------------------------------------
// Two variables, minimising
// ---------------------------------------------------------------------------

/// Newton converges quadratically; hitting this means something is wrong (two variables).
const MAX_ITERATIONS: usize = 200;
/// Relative Newton-step size at which the optimum is considered exact.
const TOLERANCE: f64 = 1e-12;
/// Sufficient-decrease constant of the Armijo line search.
const ARMIJO: f64 = 1e-4;
/// Step halvings before the line search gives up.
const MAX_HALVINGS: usize = 60;
/// Multiple of the estimated rounding error of F tolerated by the line search.
const ROUNDING_MARGIN: f64 = 8.0;

/// Value, gradient and Hessian of a criterion at a point, and the rounding error of the value
/// divided by ε.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Local {
    pub value: f64,
    pub grad: [f64; 2],
    pub hess: [[f64; 2]; 2],
    pub rounding: f64,
}

/// Where the iteration may go: the largest change of each coordinate in one step from x, and
/// the domain of the criterion.
pub(crate) struct Newton2 {
    pub max_step: fn([f64; 2]) -> [f64; 2],
    pub inside: fn([f64; 2]) -> bool,
}

/// Damped Newton from `start`.
///
/// Each step solves with the exact Hessian when it is positive definite and
/// with a Levenberg-shifted one otherwise, then backtracks (Armijo) so the
/// criterion decreases and A stays positive. Converges when the Newton step
/// is below 1e-12 relative and the Hessian there is positive definite (a
/// strict minimum, so −H⁻¹ exists for the standard errors).
pub(crate) fn newton_2d(
    f: impl Fn([f64; 2]) -> Local,
    start: [f64; 2],
    bounds: &Newton2,
) -> Option<([f64; 2], Local)> {
    let mut x = start;
    let mut current = f(x);
    for _ in 0..MAX_ITERATIONS {
        let direction = trust_limited((bounds.max_step)(x), descent_direction(&current));
        // The Newton step estimates the distance to the optimum. Once it is
        // negligible, it is still applied if it moves x at all (leaving an
        // error of order its square), and the iteration ends.
        let converged = norm(direction) <= TOLERANCE * (1.0 + norm(x));
        match line_search(&f, bounds, x, &current, direction) {
            Some(next) => (x, current) = next,
            None if !converged => return None,
            None => {}
        }
        if converged {
            return strict_minimum(x, current);
        }
    }
    None
}

fn strict_minimum(x: [f64; 2], at: Local) -> Option<([f64; 2], Local)> {
    positive_definite_2x2(&at.hess).then_some((x, at))
}

/// Scales a step so no coordinate changes by more than its `max_step`.
fn trust_limited(max_step: [f64; 2], direction: [f64; 2]) -> [f64; 2] {
    let limit = (max_step[0] / direction[0].abs())
        .min(max_step[1] / direction[1].abs())
        .min(1.0);
    direction.map(|d| d * limit)
}

/// Newton direction −H⁻¹g, with H shifted by μI when it is not positive
/// definite so the direction is always a descent direction.
fn descent_direction(at: &Local) -> [f64; 2] {
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
    f: &impl Fn([f64; 2]) -> Local,
    bounds: &Newton2,
    x: [f64; 2],
    at: &Local,
    direction: [f64; 2],
) -> Option<([f64; 2], Local)> {
    let slope = at.grad[0] * direction[0] + at.grad[1] * direction[1];
    let slack = ROUNDING_MARGIN * f64::EPSILON * (at.value.abs() + at.rounding);
    let mut t = 1.0;
    for _ in 0..MAX_HALVINGS {
        let candidate = [x[0] + t * direction[0], x[1] + t * direction[1]];
        if candidate == x {
            break;
        }
        if (bounds.inside)(candidate) {
            let next = f(candidate);
            if next.value <= at.value + ARMIJO * t * slope + slack {
                return Some((candidate, next));
            }
        }
        t *= 0.5;
    }
    None
}

fn norm(v: [f64; 2]) -> f64 {
    v[0].hypot(v[1])
}
