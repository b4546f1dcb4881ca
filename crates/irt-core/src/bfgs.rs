//! Variable-metric minimisation: the BFGS method as Nash (1990, *Compact Numerical Methods for
//! Computers*, Algorithm 21) gives it, which is what R's `optim(method = "BFGS")` runs and so
//! what mirt's M-step runs. Reproducing mirt's stopping point needs its every rule: the inverse
//! Hessian starts at the identity and is reset whenever an update would lose positive
//! definiteness or a search fails; the line search backtracks from a unit step; iterations stop
//! at a relative tolerance on the objective or an iteration limit.

/// Sufficient decrease: accept a step when f falls by this fraction of the linear prediction.
const ACCEPTANCE: f64 = 1e-4;
/// Backtracking factor of the step length.
const SHRINK: f64 = 0.2;
/// A trial point counts as no move when every coordinate added to this gives the same double.
const REFERENCE: f64 = 10.0;

/// Minimises `objective` (value and gradient) from `x`. `max_iterations` counts gradient
/// evaluations, the first included; `reltol` is the relative change of the value below which
/// a step counts as no progress. A non-finite value marks a point as unacceptable.
pub(crate) fn minimise(
    mut x: Vec<f64>,
    max_iterations: usize,
    reltol: f64,
    mut objective: impl FnMut(&[f64]) -> (f64, Vec<f64>),
) -> Vec<f64> {
    let n = x.len();
    let (mut f, mut g) = objective(&x);
    if !f.is_finite() {
        return x;
    }
    let mut f_min = f;
    // Gradient evaluations, which are also the iterations counted against the limit.
    let mut gradients = 1;
    // The gradient count at the last reset of the inverse Hessian to the identity.
    let mut last_reset = gradients;
    let mut h = identity(n);
    loop {
        if last_reset == gradients {
            h = identity(n);
        }
        let from = x.clone();
        let direction: Vec<f64> = h.iter().map(|row| -dot(row, &g)).collect();
        let slope = dot(&direction, &g);
        let mut stalled;
        if slope < 0.0 {
            let mut step = 1.0;
            let accepted = loop {
                for ((xi, fi), di) in x.iter_mut().zip(&from).zip(&direction) {
                    *xi = fi + step * di;
                }
                if x.iter()
                    .zip(&from)
                    .all(|(a, b)| REFERENCE + a == REFERENCE + b)
                {
                    break None;
                }
                let (value, grad) = objective(&x);
                f = value;
                if f.is_finite() && f <= f_min + slope * step * ACCEPTANCE {
                    break Some(grad);
                }
                step *= SHRINK;
            };
            // `f` is the last value computed, possibly by an earlier search (kept as Nash does).
            let progress = (f - f_min).abs() > reltol * (f_min.abs() + reltol);
            if !progress {
                f_min = f;
            }
            match accepted.filter(|_| progress) {
                Some(new_g) => {
                    stalled = false;
                    f_min = f;
                    gradients += 1;
                    let moved: Vec<f64> = direction.iter().map(|d| step * d).collect();
                    let change: Vec<f64> = new_g.iter().zip(&g).map(|(a, b)| a - b).collect();
                    g = new_g;
                    if !update_inverse_hessian(&mut h, &moved, &change) {
                        last_reset = gradients;
                    }
                }
                None => {
                    stalled = true;
                    // A failed search from an updated metric is retried along the gradient.
                    if last_reset < gradients {
                        stalled = false;
                        last_reset = gradients;
                    }
                }
            }
        } else {
            // Not a descent direction: restart from the gradient, or stop if already there.
            stalled = last_reset == gradients;
            last_reset = gradients;
        }
        if gradients >= max_iterations {
            break;
        }
        if gradients - last_reset > 2 * n {
            last_reset = gradients;
        }
        if stalled && last_reset == gradients {
            break;
        }
    }
    x
}

/// The BFGS update of the inverse Hessian `h` after a move `s` that changed the gradient by
/// `y`; false (and `h` untouched) when sᵀy ≤ 0, where the update would not stay positive
/// definite.
fn update_inverse_hessian(h: &mut [Vec<f64>], s: &[f64], y: &[f64]) -> bool {
    let sy = dot(s, y);
    if sy <= 0.0 {
        return false;
    }
    let hy: Vec<f64> = h.iter().map(|row| dot(row, y)).collect();
    let scale = 1.0 + dot(&hy, y) / sy;
    // Lower triangle computed, mirrored, so that h stays exactly symmetric.
    for i in 0..s.len() {
        for j in 0..=i {
            let v = h[i][j] + (scale * s[i] * s[j] - hy[i] * s[j] - s[i] * hy[j]) / sy;
            h[i][j] = v;
            h[j][i] = v;
        }
    }
    true
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's valley, the classic test of a variable-metric method.
    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosenbrock = |x: &[f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            (
                a * a + 100.0 * b * b,
                vec![-2.0 * a - 400.0 * x[0] * b, 200.0 * b],
            )
        };
        let x = minimise(vec![-1.2, 1.0], 1000, 1e-12, rosenbrock);
        approx::assert_relative_eq!(x[0], 1.0, epsilon = 1e-5);
        approx::assert_relative_eq!(x[1], 1.0, epsilon = 1e-5);
    }

    /// The iteration limit stops the search early, as mirt's M-step relies on.
    #[test]
    fn stops_at_the_iteration_limit() {
        let mut calls = 0;
        minimise(vec![-1.2, 1.0], 3, 1e-12, |x| {
            calls += 1;
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            (
                a * a + 100.0 * b * b,
                vec![-2.0 * a - 400.0 * x[0] * b, 200.0 * b],
            )
        });
        assert!(calls < 20, "{calls}");
    }
}
