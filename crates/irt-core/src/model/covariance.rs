//! The sampling covariance of one item's parameters in the IRT form.

use std::ops::Range;

use crate::deriv::MAX_COORDS;

/// The covariance of an item's IRT form ([`super::ItemParams::irt_coords`]): (a, b, c) of a
/// dichotomous item, (a, b_1 … b_(K−1)) of an item in K categories; zero in the rows of
/// parameters not estimated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamCovariance {
    n: usize,
    /// Where the difficulties lie (`ItemParams::difficulty_coords`): first and past the last.
    difficulties: (usize, usize),
    m: [[f64; MAX_COORDS]; MAX_COORDS],
}

impl ParamCovariance {
    /// The leading n × n block of `m`, an IRT form whose difficulties are `difficulties`.
    pub(crate) fn new(
        n: usize,
        difficulties: Range<usize>,
        m: [[f64; MAX_COORDS]; MAX_COORDS],
    ) -> Self {
        Self {
            n,
            difficulties: (difficulties.start, difficulties.end),
            m,
        }
    }

    pub fn entry(&self, r: usize, c: usize) -> f64 {
        self.m[r][c]
    }

    /// The standard error of each coordinate of the IRT form, in its order.
    pub fn standard_errors(&self) -> Vec<f64> {
        (0..self.n).map(|r| self.m[r][r].sqrt()).collect()
    }

    /// The (a, b, c) block: a dichotomous item's whole covariance.
    pub fn abc(&self) -> [[f64; 3]; 3] {
        std::array::from_fn(|r| std::array::from_fn(|c| self.m[r][c]))
    }

    /// The covariance of the slope and the location (`ItemParams::location`: b, or the mean of
    /// the thresholds, a linear map of them).
    pub fn slope_and_location(&self) -> [[f64; 2]; 2] {
        let (first, end) = self.difficulties;
        let weight = 1.0 / (end - first) as f64;
        let with_location = |r: usize| -> f64 { (first..end).map(|t| weight * self.m[r][t]).sum() };
        let location: f64 = (first..end).map(|t| weight * with_location(t)).sum();
        [
            [self.m[0][0], with_location(0)],
            [with_location(0), location],
        ]
    }

    pub fn is_finite(&self) -> bool {
        self.m.iter().flatten().all(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (a, b) of a right/wrong item is its own block; of an item in categories the location is
    /// the thresholds' mean, so its variance is the mean of their covariances and its
    /// covariance with a the mean of theirs with a.
    #[test]
    fn the_location_is_the_mean_of_the_thresholds() {
        let mut m = [[0.0; MAX_COORDS]; MAX_COORDS];
        for (r, row) in m.iter_mut().enumerate().take(4) {
            for (c, v) in row.iter_mut().enumerate().take(4) {
                *v = if r == c {
                    1.0 + r as f64
                } else {
                    0.1 * (r + c) as f64
                };
            }
        }
        let right_wrong = ParamCovariance::new(3, 1..2, m).slope_and_location();
        assert_eq!(right_wrong, [[m[0][0], m[0][1]], [m[1][0], m[1][1]]]);
        let [[aa, al], [la, ll]] = ParamCovariance::new(4, 1..4, m).slope_and_location();
        let thresholds: f64 = (1..4)
            .flat_map(|r| (1..4).map(move |c| (r, c)))
            .map(|(r, c)| m[r][c])
            .sum();
        assert_eq!(aa, m[0][0]);
        assert!((al - (m[0][1] + m[0][2] + m[0][3]) / 3.0).abs() < 1e-15 && al == la);
        assert!((ll - thresholds / 9.0).abs() < 1e-15);
    }
}
