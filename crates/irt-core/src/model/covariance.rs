//! The sampling covariance of one item's parameters in the IRT form.

use crate::deriv::MAX_COORDS;

/// The covariance of an item's IRT form ([`super::ItemParams::irt_coords`]): (a, b, c) of a
/// dichotomous item, (a, b_1 … b_(K−1)) of an item in K categories; zero in the rows of
/// parameters not estimated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamCovariance {
    n: usize,
    m: [[f64; MAX_COORDS]; MAX_COORDS],
}

impl ParamCovariance {
    /// The leading n × n block of `m`.
    pub(crate) fn new(n: usize, m: [[f64; MAX_COORDS]; MAX_COORDS]) -> Self {
        Self { n, m }
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

    pub fn is_finite(&self) -> bool {
        self.m.iter().flatten().all(|v| v.is_finite())
    }
}
