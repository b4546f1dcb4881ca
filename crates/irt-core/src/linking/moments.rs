//! The moment methods: closed forms over the common items, with their derivatives in each
//! 'from' item for the delta method.

use crate::error::LinkingError;
use crate::model::ItemPoint;

/// ∂(A, B)/∂(a, b, c) of one 'from' item: rows A and B.
pub(super) type ItemJacobian = [[f64; 3]; 2];

/// Closed-form constants with their derivatives w.r.t. each 'from' item.
pub(super) struct MomentFit {
    pub(super) slope: f64,
    pub(super) intercept: f64,
    pub(super) jacobian: Vec<ItemJacobian>,
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
pub(super) fn mean_mean(from: &[ItemPoint], to: &[ItemPoint]) -> MomentFit {
    let n = from.len() as f64;
    let mean_a_to = mean(to.iter().map(|p| p.a));
    let mean_b_from = mean(from.iter().map(|p| p.b));
    let slope = mean(from.iter().map(|p| p.a)) / mean_a_to;
    let intercept = mean(to.iter().map(|p| p.b)) - slope * mean_b_from;
    let da = 1.0 / (n * mean_a_to);
    let item = [[da, 0.0, 0.0], [-mean_b_from * da, -slope / n, 0.0]];
    MomentFit {
        slope,
        intercept,
        jacobian: vec![item; from.len()],
    }
}

/// A = sd(b_to)/sd(b_from), B = mean(b_to) − A·mean(b_from).
pub(super) fn mean_sigma(from: &[ItemPoint], to: &[ItemPoint]) -> Result<MomentFit, LinkingError> {
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
    Ok(MomentFit {
        slope,
        intercept,
        jacobian,
    })
}
