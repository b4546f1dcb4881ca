//! The information by blocks, for banks too large to invert whole: every estimated item's own
//! coordinates (a, d, logit c), the common slope of a 1PL, and the latent mean and variance each
//! form a block; entries between blocks are dropped. Memory and time grow with the bank, not its
//! square and cube; what is lost is the covariance between items (docs/estimation.md says how much).

use std::ops::Range;

use crate::alloc;
use crate::error::Result;
use crate::interrupt::Interrupt;
use crate::linalg::{cholesky, cholesky_solve};

pub(crate) struct BlockInformation {
    /// The block of each coordinate.
    block_of: Vec<u32>,
    /// Each block's coordinates.
    ranges: Vec<Range<usize>>,
    /// Where each block's len × len entries start in `values`.
    offsets: Vec<usize>,
    values: Vec<f64>,
}

impl BlockInformation {
    /// Blocks of consecutive coordinates that together cover 0..n once.
    pub fn new(ranges: Vec<Range<usize>>, n: usize) -> Result<Self> {
        let mut block_of = alloc::filled(n, 0u32, "the information blocks")?;
        let mut offsets = alloc::with_capacity(ranges.len(), "the information blocks")?;
        let mut size = 0;
        for (b, r) in ranges.iter().enumerate() {
            for k in r.clone() {
                block_of[k] = b as u32;
            }
            offsets.push(size);
            size += r.len() * r.len();
        }
        Ok(Self {
            block_of,
            values: alloc::filled(size, 0.0, "the information blocks")?,
            offsets,
            ranges,
        })
    }

    fn at(&self, u: usize, v: usize) -> Option<usize> {
        let b = self.block_of[u] as usize;
        if self.block_of[v] as usize != b {
            return None;
        }
        let r = &self.ranges[b];
        Some(self.offsets[b] + (u - r.start) * r.len() + (v - r.start))
    }

    /// Adds x to entry (u, v) if both are in one block.
    pub fn add(&mut self, u: usize, v: usize, x: f64) {
        if let Some(at) = self.at(u, v) {
            self.values[at] += x;
        }
    }

    /// Adds g gᵀ within blocks for a score vector with sorted coordinates.
    pub fn add_outer(&mut self, coords: &[usize], values: &[f64]) {
        let mut p = 0;
        while p < coords.len() {
            let b = self.block_of[coords[p]];
            let mut q = p;
            while q < coords.len() && self.block_of[coords[q]] == b {
                q += 1;
            }
            for r in p..q {
                for c in p..q {
                    self.add(coords[r], coords[c], values[r] * values[c]);
                }
            }
            p = q;
        }
    }

    /// Replaces every block by its inverse; false when one is not positive definite.
    pub fn invert(&mut self, interrupt: &Interrupt) -> Result<bool> {
        for (b, r) in self.ranges.iter().enumerate() {
            if b % 4096 == 0 {
                interrupt.check()?;
            }
            let len = r.len();
            let block = &mut self.values[self.offsets[b]..self.offsets[b] + len * len];
            let mut factor = block.to_vec();
            if cholesky(&mut factor, len, &Interrupt::never())?.is_none() {
                return Ok(false);
            }
            for column in 0..len {
                let unit: Vec<f64> = (0..len).map(|i| f64::from(u8::from(i == column))).collect();
                for (row, x) in cholesky_solve(&factor, len, &unit).into_iter().enumerate() {
                    block[row * len + column] = x;
                }
            }
        }
        Ok(true)
    }

    /// Entry (u, v) of the (inverted) block matrix: zero between blocks.
    pub fn entry(&self, u: usize, v: usize) -> f64 {
        self.at(u, v).map_or(0.0, |at| self.values[at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_inverted_alone_and_nothing_crosses_them() {
        let mut b = BlockInformation::new(vec![0..2, 2..3], 3).unwrap();
        // Outer products of (1, 2, 3) and (1, 0, 1), within blocks only.
        b.add_outer(&[0, 1, 2], &[1.0, 2.0, 3.0]);
        b.add_outer(&[0, 2], &[1.0, 1.0]);
        b.add(0, 0, 1.0);
        assert_eq!(
            [b.entry(0, 0), b.entry(0, 1), b.entry(1, 1), b.entry(2, 2)],
            [3.0, 2.0, 4.0, 10.0]
        );
        assert_eq!(b.entry(0, 2), 0.0);
        assert!(b.invert(&Interrupt::never()).unwrap());
        // [[3, 2], [2, 4]]⁻¹ = [[4, −2], [−2, 3]] / 8.
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        assert!(
            close(b.entry(0, 0), 0.5) && close(b.entry(0, 1), -0.25) && close(b.entry(1, 1), 0.375)
        );
        assert!(close(b.entry(2, 2), 0.1));
        let mut singular = BlockInformation::new(vec![Range { start: 0, end: 1 }], 1).unwrap();
        assert!(!singular.invert(&Interrupt::never()).unwrap());
    }
}
