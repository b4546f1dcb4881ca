//! Items scored in K ordered categories: the category probabilities of the graded response model
//! (Samejima) and the generalized partial credit model (Muraki), their logs, and the M-step's
//! expected log-likelihood with its gradient and information, in mirt's slope–intercept form:
//! coordinates (a, d_1, …, d_{K−1}).
//!
//! - Graded: P(X ≥ k) = s(a·θ + d_k) for k = 1 … K−1 (d decreasing), P(X = k) its differences.
//! - Partial credit: P(X = k) ∝ exp(k·a·θ + d_k) with d_0 = 0.

use ndarray::ArrayView1;

use crate::deriv::{Deriv, MAX_COORDS};
use crate::logistic::{logistic, softplus};

/// The most categories an item may have: as many as it has coordinates (a slope and K − 1
/// intercepts).
pub const MAX_CATEGORIES: usize = MAX_COORDS;

/// How the categories of an item are formed from its slope and intercepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Steps {
    /// Cumulative: P(X ≥ k) is a logistic curve (graded response).
    Graded,
    /// Adjacent: P(X = k) / P(X = k − 1) is a logistic curve (partial credit).
    PartialCredit,
}

/// log P(X = k | θ) for k = 0 … K−1 into `out` (its length is K), without underflow in the
/// tails. `d` holds d_1 … d_{K−1}.
pub fn log_probs(steps: Steps, a: f64, d: &[f64], theta: f64, out: &mut [f64]) {
    let k = d.len() + 1;
    match steps {
        Steps::Graded => {
            // log(1 + e^z) of each cumulative logit once: each serves two categories.
            let mut sp = [0.0; MAX_CATEGORIES];
            for (s, &dk) in sp.iter_mut().zip(d) {
                *s = softplus(a * theta + dk);
            }
            out[0] = -sp[0];
            for c in 1..k - 1 {
                // log(s(x) − s(y)) for x > y: y + log(e^(x−y) − 1) − log(1 + e^x) − log(1 + e^y).
                let (x, y) = (a * theta + d[c - 1], a * theta + d[c]);
                out[c] = y + (x - y).exp_m1().ln() - sp[c - 1] - sp[c];
            }
            out[k - 1] = -softplus(-(a * theta + d[k - 2]));
        }
        Steps::PartialCredit => {
            out[0] = 0.0;
            for c in 1..k {
                out[c] = c as f64 * a * theta + d[c - 1];
            }
            let max = out[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + out[..k].iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
            for v in &mut out[..k] {
                *v -= log_sum;
            }
        }
    }
}

/// P(X = k | θ) for k = 0 … K−1 into `out`, with a transcendental function per category:
/// graded as differences of the cumulative curves, partial credit normalised from the largest
/// term. Each is known to ε absolutely (not relatively: a graded category far from θ is the
/// difference of two nearly equal curves); [`log_probs`] where the logarithm matters there.
pub fn probs(steps: Steps, a: f64, d: &[f64], theta: f64, out: &mut [f64]) {
    let k = d.len() + 1;
    match steps {
        Steps::Graded => {
            let s = cumulative(a, d, theta);
            for (x, p) in out[..k].iter_mut().enumerate() {
                *p = s[x] - s[x + 1];
            }
        }
        Steps::PartialCredit => {
            out[0] = 0.0;
            for c in 1..k {
                out[c] = c as f64 * a * theta + d[c - 1];
            }
            let max = out[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for v in &mut out[..k] {
                *v = (*v - max).exp();
                sum += *v;
            }
            for v in &mut out[..k] {
                *v /= sum;
            }
        }
    }
}

/// The cumulative curves s_k = P(X ≥ k) of a graded item at θ for k = 0 … K (s_0 = 1, s_K = 0).
fn cumulative(a: f64, d: &[f64], theta: f64) -> [f64; MAX_CATEGORIES + 1] {
    let mut s = [0.0; MAX_CATEGORIES + 1];
    s[0] = 1.0;
    for (k, &dk) in d.iter().enumerate() {
        s[k + 1] = logistic(a * theta + dk);
    }
    s
}

/// d log P(X = x | θ)/dθ. Graded: a·(1 − s_x − s_(x+1)), the quotient of P_x' = a·(w_x − w_(x+1))
/// (w = s(1 − s)) by P_x = s_x − s_(x+1) in closed form, exact where both round to 0. Partial
/// credit: a·(x − E X).
pub fn theta_score(steps: Steps, a: f64, d: &[f64], theta: f64, x: usize) -> f64 {
    match steps {
        Steps::Graded => {
            let s = cumulative(a, d, theta);
            a * (1.0 - s[x] - s[x + 1])
        }
        Steps::PartialCredit => {
            let (mean, _) = score_moments(a, d, theta);
            a * (x as f64 - mean)
        }
    }
}

/// The Fisher information of the item at θ, Σ_x P_x'² / P_x: graded a²·Σ_x P_x·(1 − s_x −
/// s_(x+1))², partial credit a²·Var X.
pub fn information(steps: Steps, a: f64, d: &[f64], theta: f64) -> f64 {
    let k = d.len() + 1;
    match steps {
        Steps::Graded => {
            let s = cumulative(a, d, theta);
            let mut logs = [0.0; MAX_CATEGORIES];
            log_probs(steps, a, d, theta, &mut logs[..k]);
            a * a
                * (0..k)
                    .map(|x| logs[x].exp() * (1.0 - s[x] - s[x + 1]).powi(2))
                    .sum::<f64>()
        }
        Steps::PartialCredit => a * a * score_moments(a, d, theta).1,
    }
}

/// The mean and variance of a partial credit item's score X at θ.
fn score_moments(a: f64, d: &[f64], theta: f64) -> (f64, f64) {
    let k = d.len() + 1;
    let mut logs = [0.0; MAX_CATEGORIES];
    log_probs(Steps::PartialCredit, a, d, theta, &mut logs[..k]);
    let mean: f64 = (0..k).map(|x| x as f64 * logs[x].exp()).sum();
    let var = (0..k)
        .map(|x| (x as f64 - mean).powi(2) * logs[x].exp())
        .sum();
    (mean, var)
}

/// d log P(X = c | θ)/dη for every category c and coordinate η of (a, d_1 … d_(K−1)), into
/// `out[c]`, finite wherever θ is, from the categories' log-probabilities at θ (`logs`, as
/// [`log_probs`] gives them): what the M-step's derivatives and a person's score in the
/// standard errors are made of.
///
/// Graded: with s_m = P(X ≥ m) and w_m = s_m(1 − s_m), d/da = θ·(1 − s_c − s_(c+1)) (the
/// quotient θ·(w_c − w_(c+1))/P_c reduced), d/dd_c = w_c/P_c and d/dd_(c+1) = −w_(c+1)/P_c,
/// taken as exp(log w − log P) so that a category too far away to have probability above 0
/// still has a finite score. Partial credit: the sufficient statistic's deviation from its
/// mean, θ·(c − E X) and 1{m = c} − P_m.
pub fn log_prob_gradients(
    steps: Steps,
    a: f64,
    d: &[f64],
    theta: f64,
    logs: &[f64],
    out: &mut [[f64; MAX_COORDS]; MAX_CATEGORIES],
) {
    let k = d.len() + 1;
    match steps {
        Steps::Graded => {
            let s = cumulative(a, d, theta);
            // log w_m for m = 1 … K−1.
            let mut log_w = [f64::NEG_INFINITY; MAX_CATEGORIES + 1];
            for m in 1..k {
                let z = a * theta + d[m - 1];
                log_w[m] = -softplus(z) - softplus(-z);
            }
            for (c, row) in out.iter_mut().enumerate().take(k) {
                row.fill(0.0);
                row[0] = theta * (1.0 - s[c] - s[c + 1]);
                if c >= 1 {
                    row[c] = (log_w[c] - logs[c]).exp();
                }
                if c + 1 < k {
                    row[c + 1] = -(log_w[c + 1] - logs[c]).exp();
                }
            }
        }
        Steps::PartialCredit => {
            let p: [f64; MAX_CATEGORIES] =
                std::array::from_fn(|c| if c < k { logs[c].exp() } else { 0.0 });
            let mean_score: f64 = (1..k).map(|c| c as f64 * p[c]).sum();
            for (c, row) in out.iter_mut().enumerate().take(k) {
                row.fill(0.0);
                row[0] = theta * (c as f64 - mean_score);
                for m in 1..k {
                    row[m] = f64::from(u8::from(m == c)) - p[m];
                }
            }
        }
    }
}

/// The expected complete-data log-likelihood of an item from its expected counts by category
/// (`rows[k]` at each node), with its gradient in (a, d_1 … d_{K−1}) and minus the Fisher
/// information Σ_c n·P_c·g_c·g_cᵀ (g_c the category's gradient; the exact Hessian for partial
/// credit, whose log-likelihood is an exponential family's, its expectation for graded items),
/// added to `out` in coordinates 0 … K−1. A caller with a fixed slope reads only coordinates
/// 1 … K−1.
pub fn expected_log_lik(
    steps: Steps,
    a: f64,
    d: &[f64],
    rows: &[ArrayView1<f64>],
    nodes: &[f64],
    out: &mut Deriv,
) {
    let k = d.len() + 1;
    let mut logs = [0.0; MAX_CATEGORIES];
    let mut g = [[0.0; MAX_COORDS]; MAX_CATEGORIES];
    for (q, &theta) in nodes.iter().enumerate() {
        log_probs(steps, a, d, theta, &mut logs[..k]);
        log_prob_gradients(steps, a, d, theta, &logs, &mut g);
        let n: f64 = rows.iter().map(|r| r[q]).sum();
        for c in 0..k {
            let (r, weight) = (rows[c][q], n * logs[c].exp());
            out.value += r * logs[c];
            for i in 0..k {
                out.grad[i] += r * g[c][i];
                for j in 0..k {
                    out.hess[i][j] -= weight * g[c][i] * g[c][j];
                }
            }
        }
    }
}

/// The IRT form's thresholds b_1 … b_(K−1) (`out`, length K − 1) from the slope–intercept
/// form: graded b_k = −d_k/a, where P(X ≥ k) is one half; partial credit (Muraki's steps)
/// b_k = −(d_k − d_(k−1))/a with d_0 = 0, where categories k − 1 and k are equally likely.
pub fn thresholds(steps: Steps, a: f64, d: &[f64], out: &mut [f64]) {
    for (m, b) in out.iter_mut().enumerate() {
        let previous = match steps {
            Steps::Graded => 0.0,
            Steps::PartialCredit if m == 0 => 0.0,
            Steps::PartialCredit => d[m - 1],
        };
        *b = -(d[m] - previous) / a;
    }
}

/// The intercepts d_1 … d_(K−1) (`out`) of the thresholds `b`: the inverse of [`thresholds`].
pub fn intercepts(steps: Steps, a: f64, b: &[f64], out: &mut [f64]) {
    let mut previous = 0.0;
    for (d, &b) in out.iter_mut().zip(b) {
        *d = match steps {
            Steps::Graded => -a * b,
            Steps::PartialCredit => previous - a * b,
        };
        previous = *d;
    }
}

/// ∂(a, b_1 … b_(K−1))/∂(a, d_1 … d_(K−1)) of [`thresholds`], for the delta method.
pub fn thresholds_jacobian(steps: Steps, a: f64, d: &[f64]) -> [[f64; MAX_COORDS]; MAX_COORDS] {
    let mut b = [0.0; MAX_CATEGORIES - 1];
    thresholds(steps, a, d, &mut b[..d.len()]);
    let mut j = [[0.0; MAX_COORDS]; MAX_COORDS];
    j[0][0] = 1.0;
    for m in 0..d.len() {
        // b = −(d_m − d_(m−1))/a: ∂b/∂a = −b/a.
        j[m + 1][0] = -b[m] / a;
        j[m + 1][m + 1] = -1.0 / a;
        if steps == Steps::PartialCredit && m > 0 {
            j[m + 1][m] = 1.0 / a;
        }
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(steps: Steps, a: f64, d: &[f64], theta: f64) -> Vec<f64> {
        let mut out = vec![0.0; d.len() + 1];
        log_probs(steps, a, d, theta, &mut out);
        out.iter().map(|l| l.exp()).collect()
    }

    #[test]
    fn graded_categories_are_differences_of_cumulative_curves() {
        let (a, d) = (1.3, [2.0, 0.5, -1.0]);
        for theta in [-3.0, 0.0, 0.7, 4.0] {
            let p = probs(Steps::Graded, a, &d, theta);
            let star = |k: usize| match k {
                0 => 1.0,
                4 => 0.0,
                _ => logistic(a * theta + d[k - 1]),
            };
            for (k, &pk) in p.iter().enumerate() {
                approx::assert_relative_eq!(pk, star(k) - star(k + 1), max_relative = 1e-12);
            }
        }
        let far = probs(Steps::Graded, 2.0, &d, -400.0);
        assert!(far[0] == 1.0 && far[1..].iter().all(|&p| p >= 0.0));
    }

    #[test]
    fn partial_credit_categories_follow_adjacent_odds() {
        let (a, d) = (0.8, [0.4, 0.9, -0.3]);
        for theta in [-2.0, 0.0, 1.5] {
            let p = probs(Steps::PartialCredit, a, &d, theta);
            approx::assert_relative_eq!(p.iter().sum::<f64>(), 1.0, max_relative = 1e-14);
            let mut prev = 0.0;
            for k in 1..4 {
                let logit = (p[k] / p[k - 1]).ln();
                approx::assert_relative_eq!(logit, a * theta + d[k - 1] - prev, epsilon = 1e-12);
                prev = d[k - 1];
            }
        }
    }

    #[test]
    fn two_categories_are_the_two_parameter_logistic() {
        for steps in [Steps::Graded, Steps::PartialCredit] {
            let p = probs(steps, 1.7, &[-0.4], 0.3);
            approx::assert_relative_eq!(p[1], logistic(1.7 * 0.3 - 0.4), max_relative = 1e-14);
        }
    }

    /// The score in θ against central differences of log P(x | θ), and the information against
    /// its definition Σ_x P_x'² / P_x by the same differences.
    #[test]
    fn theta_derivatives_match_finite_differences() {
        let d = [1.4, 0.1, -1.3];
        for steps in [Steps::Graded, Steps::PartialCredit] {
            for theta in [-2.5, -0.3, 0.8, 3.0] {
                let h = 1e-6;
                let (up, down) = (
                    probs(steps, 1.1, &d, theta + h),
                    probs(steps, 1.1, &d, theta - h),
                );
                let p = probs(steps, 1.1, &d, theta);
                let mut info = 0.0;
                for x in 0..4 {
                    let dp = (up[x] - down[x]) / (2.0 * h);
                    info += dp * dp / p[x];
                    approx::assert_relative_eq!(
                        theta_score(steps, 1.1, &d, theta, x),
                        dp / p[x],
                        epsilon = 1e-6,
                        max_relative = 1e-6
                    );
                }
                approx::assert_relative_eq!(
                    information(steps, 1.1, &d, theta),
                    info,
                    max_relative = 1e-6
                );
            }
        }
        // Far in a tail the quotients stay finite.
        assert!(theta_score(Steps::Graded, 2.0, &d, -400.0, 3).is_finite());
        assert!(information(Steps::Graded, 2.0, &d, 400.0).is_finite());
    }

    /// The gradient against central differences of the value, and the information against
    /// the gradient's own differences where the counts are what the curve expects (the Fisher
    /// information is then the Hessian's expectation and, for partial credit, the Hessian).
    #[test]
    fn derivatives_match_finite_differences() {
        let nodes: Vec<f64> = (0..21).map(|q| -4.0 + 0.4 * q as f64).collect();
        for steps in [Steps::Graded, Steps::PartialCredit] {
            let (a, d) = (1.2, [1.5, 0.2, -0.9]);
            let mut rows = vec![vec![0.0; nodes.len()]; 4];
            for (q, &t) in nodes.iter().enumerate() {
                for (k, p) in probs(steps, 0.9, &[1.1, 0.0, -1.2], t).iter().enumerate() {
                    rows[k][q] = 100.0 * (-0.5 * t * t).exp() * p;
                }
            }
            let views: Vec<ArrayView1<f64>> = rows.iter().map(ArrayView1::from).collect();
            let at = |x: &[f64; 4]| {
                let mut s = Deriv::default();
                expected_log_lik(steps, x[0], &x[1..], &views, &nodes, &mut s);
                s
            };
            let x = [a, d[0], d[1], d[2]];
            let base = at(&x);
            let h = 1e-6;
            for i in 0..4 {
                let (mut up, mut down) = (x, x);
                up[i] += h;
                down[i] -= h;
                let g = (at(&up).value - at(&down).value) / (2.0 * h);
                approx::assert_relative_eq!(base.grad[i], g, epsilon = 1e-5, max_relative = 1e-6);
            }
            if steps == Steps::PartialCredit {
                for i in 0..4 {
                    let (mut up, mut down) = (x, x);
                    up[i] += h;
                    down[i] -= h;
                    for j in 0..4 {
                        let hij = (at(&up).grad[j] - at(&down).grad[j]) / (2.0 * h);
                        approx::assert_relative_eq!(
                            base.hess[i][j],
                            hij,
                            epsilon = 1e-4,
                            max_relative = 1e-5
                        );
                    }
                }
            }
        }
    }

    /// Each category's gradient in (a, d_1 …) against central differences of its log
    /// probability, and finite far in the tails where the probability itself rounds to 0.
    #[test]
    fn log_prob_gradients_match_finite_differences() {
        let d = [1.4, 0.1, -1.3];
        for steps in [Steps::Graded, Steps::PartialCredit] {
            let at = |x: &[f64; 4], theta: f64| {
                let mut out = [0.0; 4];
                log_probs(steps, x[0], &x[1..], theta, &mut out);
                out
            };
            let x = [1.1, d[0], d[1], d[2]];
            for theta in [-2.5, 0.3, 2.0] {
                let mut g = [[0.0; MAX_COORDS]; MAX_CATEGORIES];
                log_prob_gradients(steps, x[0], &x[1..], theta, &at(&x, theta), &mut g);
                for i in 0..4 {
                    let (mut up, mut down) = (x, x);
                    up[i] += 1e-6;
                    down[i] -= 1e-6;
                    let (lu, ld) = (at(&up, theta), at(&down, theta));
                    for c in 0..4 {
                        let fd = (lu[c] - ld[c]) / 2e-6;
                        approx::assert_relative_eq!(
                            g[c][i],
                            fd,
                            epsilon = 1e-6,
                            max_relative = 1e-6
                        );
                    }
                }
            }
            let mut g = [[0.0; MAX_COORDS]; MAX_CATEGORIES];
            let far = at(&[3.0, d[0], d[1], d[2]], -400.0);
            log_prob_gradients(steps, 3.0, &d, -400.0, &far, &mut g);
            assert!(
                g.iter().flatten().all(|v| v.is_finite()),
                "{steps:?}: {g:?}"
            );
        }
    }

    /// The thresholds' Jacobian against central differences, the thresholds where mirt's IRT
    /// form puts them (Science, GPCM: Comfort's b = −3.2775, −2.8925, 1.5378), and the
    /// intercepts back from them.
    #[test]
    fn thresholds_and_their_jacobian() {
        for steps in [Steps::Graded, Steps::PartialCredit] {
            let (d, mut b, mut back) = ([1.2, 0.4, -0.7], [0.0; 3], [0.0; 3]);
            thresholds(steps, 1.3, &d, &mut b);
            intercepts(steps, 1.3, &b, &mut back);
            for (x, y) in d.iter().zip(back) {
                approx::assert_relative_eq!(*x, y, epsilon = 1e-14);
            }
        }
        let mut b = [0.0; 3];
        thresholds(
            Steps::PartialCredit,
            0.8611427876947291,
            &[2.8223604454753652, 5.313185082213725, 3.9889269252666097],
            &mut b,
        );
        for (ours, mirt) in
            b.iter()
                .zip([-3.277459308497255, -2.8924641445424792, 1.5377916135048197])
        {
            approx::assert_relative_eq!(*ours, mirt, max_relative = 1e-12);
        }
        for steps in [Steps::Graded, Steps::PartialCredit] {
            let x = [1.3, 1.2, 0.4, -0.7];
            let irt = |x: &[f64; 4]| {
                let mut b = [0.0; 3];
                thresholds(steps, x[0], &x[1..], &mut b);
                [x[0], b[0], b[1], b[2]]
            };
            let j = thresholds_jacobian(steps, x[0], &x[1..]);
            for i in 0..4 {
                let (mut up, mut down) = (x, x);
                up[i] += 1e-6;
                down[i] -= 1e-6;
                let (u, d) = (irt(&up), irt(&down));
                for r in 0..4 {
                    approx::assert_relative_eq!(j[r][i], (u[r] - d[r]) / 2e-6, epsilon = 1e-7);
                }
            }
        }
    }
}
