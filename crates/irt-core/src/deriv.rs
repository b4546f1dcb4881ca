//! A log density with its gradient and Hessian in an item's coordinates: (a, d, logit c) of a
//! right/wrong item, (a, d_1 … d_(K−1)) of an item in K categories.

/// The most coordinates an item has: a slope and up to nine intercepts.
pub const MAX_COORDS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Deriv {
    pub value: f64,
    pub grad: [f64; MAX_COORDS],
    pub hess: [[f64; MAX_COORDS]; MAX_COORDS],
}

impl Default for Deriv {
    fn default() -> Self {
        Self {
            value: 0.0,
            grad: [0.0; MAX_COORDS],
            hess: [[0.0; MAX_COORDS]; MAX_COORDS],
        }
    }
}

impl Deriv {
    /// Adds another term (a prior's, say) to this one.
    pub(crate) fn add(&mut self, other: &Deriv) {
        self.value += other.value;
        for r in 0..MAX_COORDS {
            self.grad[r] += other.grad[r];
            for c in 0..MAX_COORDS {
                self.hess[r][c] += other.hess[r][c];
            }
        }
    }
}
