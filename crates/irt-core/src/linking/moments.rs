//! The moment methods: closed forms over the common items, with their derivatives in each
//! 'from' item for the delta method. The slopes are pooled one per item, the difficulties over
//! every item's: a right/wrong item's b, each threshold of an item in categories (Kim & Lee
//! 2006, plink 1.5-1).

use crate::error::LinkingError;
use crate::model::{ItemParams, MAX_COORDS};

/// ∂(A, B)/∂(the IRT form) of one 'from' item: rows A and B, columns its coordinates.
pub(super) type ItemJacobian = [[f64; MAX_COORDS]; 2];

/// Closed-form constants with their derivatives w.r.t. each 'from' item.
pub(super) struct MomentFit {
    pub(super) slope: f64,
    pub(super) intercept: f64,
    pub(super) jacobian: Vec<ItemJacobian>,
}

/// Every item's difficulties, pooled.
fn pooled(items: &[ItemParams]) -> Vec<f64> {
    items
        .iter()
        .flat_map(|p| {
            let x = p.irt_coords();
            p.difficulty_coords().map(move |r| x[r])
        })
        .collect()
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
pub(super) fn mean_mean(from: &[ItemParams], to: &[ItemParams]) -> MomentFit {
    let n = from.len() as f64;
    let mean_a_to = mean(to.iter().map(ItemParams::slope));
    let b_from = pooled(from);
    let mean_b_from = mean(b_from.iter().copied());
    let slope = mean(from.iter().map(ItemParams::slope)) / mean_a_to;
    let intercept = mean(pooled(to).into_iter()) - slope * mean_b_from;
    let da = 1.0 / (n * mean_a_to);
    let db = -slope / b_from.len() as f64;
    let jacobian = from
        .iter()
        .map(|p| {
            let mut j = [[0.0; MAX_COORDS]; 2];
            j[0][0] = da;
            j[1][0] = -mean_b_from * da;
            for r in p.difficulty_coords() {
                j[1][r] = db;
            }
            j
        })
        .collect();
    MomentFit {
        slope,
        intercept,
        jacobian,
    }
}

/// A = sd(b_to)/sd(b_from), B = mean(b_to) − A·mean(b_from).
pub(super) fn mean_sigma(
    from: &[ItemParams],
    to: &[ItemParams],
) -> Result<MomentFit, LinkingError> {
    let (b_from, b_to) = (pooled(from), pooled(to));
    let (sd_from, sd_to) = (sample_sd(&b_from), sample_sd(&b_to));
    let slope = sd_to / sd_from;
    // Either sd zero (or overflowing) leaves A zero, infinite or NaN.
    if !(slope > 0.0 && slope.is_finite()) {
        return Err(LinkingError::DegenerateSpread);
    }
    let n = b_from.len() as f64;
    let mean_b_from = mean(b_from.iter().copied());
    let intercept = mean(b_to.iter().copied()) - slope * mean_b_from;
    // ∂sd_from/∂b = (b − mean)/((n − 1)·sd_from), and A ∝ 1/sd_from.
    let jacobian = from
        .iter()
        .map(|p| {
            let x = p.irt_coords();
            let mut j = [[0.0; MAX_COORDS]; 2];
            for r in p.difficulty_coords() {
                let d_slope = -slope * (x[r] - mean_b_from) / ((n - 1.0) * sd_from * sd_from);
                j[0][r] = d_slope;
                j[1][r] = -mean_b_from * d_slope - slope / n;
            }
            j
        })
        .collect();
    Ok(MomentFit {
        slope,
        intercept,
        jacobian,
    })
}
