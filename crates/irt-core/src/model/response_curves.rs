//! Each category's probability as a curve in θ, with its first two derivatives in θ and the
//! derivatives of the curve and of its slope in the item's IRT form (a, b, c) or (a, b_1 …
//! b_(K−1)): what linking's characteristic-curve criteria and their delta method are made of.
//! An item moved to another scale draws the same curves at u = (θ − B)/A, so their derivatives
//! in the constants (A, B) follow from those in θ.

use crate::deriv::MAX_COORDS;
use crate::logistic::logistic;

/// As many categories as an item has coordinates (`MAX_CATEGORIES`).
const MAX_CATEGORIES: usize = MAX_COORDS;

/// One category's curve at a point θ.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CurvePoint {
    /// P(X = k | θ).
    pub p: f64,
    /// ∂P/∂θ.
    pub dp: f64,
    /// ∂²P/∂θ².
    pub d2p: f64,
    /// ∂P/∂η for every coordinate η of the IRT form.
    pub dp_deta: [f64; MAX_COORDS],
    /// ∂²P/∂θ∂η.
    pub d2p_deta: [f64; MAX_COORDS],
}

/// An item's category curves at a point θ: `at[k]` for k = 0 … K − 1.
pub type CurvesAt = [CurvePoint; MAX_CATEGORIES];

/// The curves of a right/wrong item with slope a, difficulty b and lower asymptote c:
/// P = c + (1 − c)·s(a(θ − b)), the wrong answer its complement.
pub(super) fn right_wrong(a: f64, b: f64, c: f64, theta: f64) -> CurvesAt {
    let s = logistic(a * (theta - b));
    let (w, g) = (s * (1.0 - s), 1.0 - 2.0 * s);
    let t = theta - b;
    let right = CurvePoint {
        p: c + (1.0 - c) * s,
        dp: (1.0 - c) * a * w,
        d2p: (1.0 - c) * a * a * w * g,
        dp_deta: coords(&[(1.0 - c) * t * w, -(1.0 - c) * a * w, 1.0 - s]),
        d2p_deta: coords(&[
            (1.0 - c) * (w + a * t * w * g),
            -(1.0 - c) * a * a * w * g,
            -a * w,
        ]),
    };
    let mut at = [CurvePoint::default(); MAX_CATEGORIES];
    at[0] = negated(&right);
    at[0].p = (1.0 - c) * (1.0 - s);
    at[1] = right;
    at
}

/// Graded, K = `b.len() + 1` categories with slope a and thresholds b: P(X = k) = S_k − S_(k+1) with S_m = s(a(θ − b_m)) for m = 1 … K − 1, S_0 = 1 and
/// S_K = 0; each S_m is a right/wrong curve in (a, b_m).
pub(super) fn graded(a: f64, b: &[f64], theta: f64) -> CurvesAt {
    let k = b.len() + 1;
    let mut cumulative = [CurvePoint::default(); MAX_CATEGORIES + 1];
    cumulative[0].p = 1.0;
    for (m, &bm) in b.iter().enumerate() {
        let one = right_wrong(a, bm, 0.0, theta)[1];
        let s = &mut cumulative[m + 1];
        *s = one;
        // (a, b_m) of the right/wrong curve are coordinates 0 and m + 1 here.
        s.dp_deta = [0.0; MAX_COORDS];
        s.d2p_deta = [0.0; MAX_COORDS];
        s.dp_deta[0] = one.dp_deta[0];
        s.dp_deta[m + 1] = one.dp_deta[1];
        s.d2p_deta[0] = one.d2p_deta[0];
        s.d2p_deta[m + 1] = one.d2p_deta[1];
    }
    let mut at = [CurvePoint::default(); MAX_CATEGORIES];
    for (x, out) in at.iter_mut().enumerate().take(k) {
        *out = difference(&cumulative[x], &cumulative[x + 1]);
    }
    at
}

/// Partial credit: P(X = k) ∝ exp(z_k), z_k = Σ_(v ≤ k) a(θ − b_v). For any variable x,
/// ∂P_k/∂x = P_k(∂z_k/∂x − Σ_j P_j ∂z_j/∂x); in θ that is a·P_k(k − E), E the expected score,
/// and ∂²P_k/∂θ² = a²·P_k((k − E)² − V), V its variance. ∂z_k/∂a = z_k/a, ∂z_k/∂b_v = −a for
/// v ≤ k; and ∂(∂P_k/∂θ)/∂η = a(∂P_k/∂η)(k − E) − a·P_k·∂E/∂η, plus P_k(k − E) for η = a.
pub(super) fn partial_credit(a: f64, b: &[f64], theta: f64) -> CurvesAt {
    let k = b.len() + 1;
    let mut z = [0.0; MAX_CATEGORIES];
    for v in 1..k {
        z[v] = z[v - 1] + a * (theta - b[v - 1]);
    }
    let max = z[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut p = [0.0; MAX_CATEGORIES];
    for x in 0..k {
        p[x] = (z[x] - max).exp();
    }
    let total: f64 = p[..k].iter().sum();
    p[..k].iter_mut().for_each(|v| *v /= total);
    let mean: f64 = (0..k).map(|x| x as f64 * p[x]).sum();
    let var: f64 = (0..k).map(|x| (x as f64 - mean).powi(2) * p[x]).sum();
    // ∂z_x/∂η for η = a, b_1 … b_(K−1).
    let dz = |x: usize, eta: usize| -> f64 {
        match eta {
            0 => z[x] / a,
            v if v <= x => -a,
            _ => 0.0,
        }
    };
    let mut at = [CurvePoint::default(); MAX_CATEGORIES];
    for eta in 0..k {
        let mean_dz: f64 = (0..k).map(|j| p[j] * dz(j, eta)).sum();
        for (x, out) in at.iter_mut().enumerate().take(k) {
            out.dp_deta[eta] = p[x] * (dz(x, eta) - mean_dz);
        }
    }
    let d_mean: [f64; MAX_COORDS] =
        std::array::from_fn(|eta| (0..k).map(|j| j as f64 * at[j].dp_deta[eta]).sum());
    for (x, out) in at.iter_mut().enumerate().take(k) {
        let dev = x as f64 - mean;
        out.p = p[x];
        out.dp = a * p[x] * dev;
        out.d2p = a * a * p[x] * (dev * dev - var);
        for ((d2, &dp), &dm) in out
            .d2p_deta
            .iter_mut()
            .zip(&out.dp_deta)
            .zip(&d_mean)
            .take(k)
        {
            *d2 = a * dp * dev - a * p[x] * dm;
        }
        out.d2p_deta[0] += p[x] * dev;
    }
    at
}

fn coords(values: &[f64]) -> [f64; MAX_COORDS] {
    let mut out = [0.0; MAX_COORDS];
    out[..values.len()].copy_from_slice(values);
    out
}

fn negated(c: &CurvePoint) -> CurvePoint {
    CurvePoint {
        p: -c.p,
        dp: -c.dp,
        d2p: -c.d2p,
        dp_deta: c.dp_deta.map(|v| -v),
        d2p_deta: c.d2p_deta.map(|v| -v),
    }
}

fn difference(x: &CurvePoint, y: &CurvePoint) -> CurvePoint {
    CurvePoint {
        p: x.p - y.p,
        dp: x.dp - y.dp,
        d2p: x.d2p - y.d2p,
        dp_deta: std::array::from_fn(|i| x.dp_deta[i] - y.dp_deta[i]),
        d2p_deta: std::array::from_fn(|i| x.d2p_deta[i] - y.d2p_deta[i]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ItemParams, Steps};
    use super::*;

    /// Every derivative against central differences of the probabilities themselves.
    #[test]
    fn derivatives_agree_with_central_differences() {
        let items = [
            ItemParams::from_irt(1.3, 0.4, 0.2),
            ItemParams::from_thresholds(Steps::Graded, 0.9, &[-1.2, 0.1, 1.5]).unwrap(),
            ItemParams::from_thresholds(Steps::PartialCredit, 1.1, &[0.7, -0.4, 0.9]).unwrap(),
        ];
        let h = 1e-5;
        for item in items {
            let n = item.n_coords();
            let k = item.categories();
            let moved = |eta: usize, delta: f64| {
                let mut x = item.irt_coords();
                x[eta] += delta;
                item.with_irt_coords(&x)
            };
            for theta in [-2.0, 0.3, 1.7] {
                let at = item.curves(theta);
                let (up, down) = (item.curves(theta + h), item.curves(theta - h));
                let mut logs = [0.0; MAX_CATEGORIES];
                item.log_category_probs(theta, &mut logs[..k]);
                for x in 0..k {
                    assert!((at[x].p - logs[x].exp()).abs() < 1e-14);
                    let dp = (up[x].p - down[x].p) / (2.0 * h);
                    let d2p = (up[x].dp - down[x].dp) / (2.0 * h);
                    assert!((at[x].dp - dp).abs() < 1e-9, "{item:?} dP/dθ");
                    assert!((at[x].d2p - d2p).abs() < 1e-9, "{item:?} d²P/dθ²");
                    for eta in 0..n {
                        let (plus, minus) = (
                            moved(eta, h).curves(theta)[x],
                            moved(eta, -h).curves(theta)[x],
                        );
                        let dp = (plus.p - minus.p) / (2.0 * h);
                        let d2p = (plus.dp - minus.dp) / (2.0 * h);
                        assert!(
                            (at[x].dp_deta[eta] - dp).abs() < 1e-9,
                            "{item:?} ∂P/∂η{eta}"
                        );
                        assert!(
                            (at[x].d2p_deta[eta] - d2p).abs() < 1e-9,
                            "{item:?} ∂²P/∂θ∂η{eta}"
                        );
                    }
                }
            }
        }
    }
}
