//! What a run will hold, predicted before it allocates, part by part: a run larger than the
//! caller's limit is refused with the part that makes it so, instead of meeting the allocator's
//! refusal (or the kernel's OOM killer) half way through.

use crate::error::{CoreError, Result};
use crate::estep::group_bytes;
use crate::params::StandardErrors;

/// One part of a run's memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part {
    pub what: &'static str,
    pub bytes: u128,
}

/// The shape of a run, known once its answers are read and its items kept.
#[derive(Clone, Copy, Debug)]
pub struct RunShape {
    pub answers: usize,
    pub persons: usize,
    pub items: usize,
    /// Estimated parameters (2 per 2PL item, 3 per 3PL item, …).
    pub parameters: usize,
    pub quadrature_points: usize,
    /// Test forms the E-step's shortcut takes (see `forms`).
    pub forms: usize,
    pub threads: usize,
    pub standard_errors: StandardErrors,
    /// The most categories of an item: 2 on a right/wrong test. The E-step's and the item
    /// fit's tables hold a row per category.
    pub categories: usize,
    /// The run has groups, so it screens for DIF: its likelihood-ratio fits copy the two
    /// groups' answers twice (the pair, then with the tested items apart), beside the run's.
    pub dif: bool,
}

/// Leaves of the E-step's reduction whose accumulators can be alive at once, per thread: one
/// at each level of the tree (about 64 leaves) plus the one being filled.
const LIVE_LEAVES_PER_THREAD: u128 = 8;

impl RunShape {
    /// The parts of a run's peak, largest first.
    pub fn parts(&self) -> Vec<Part> {
        let (answers, persons, items) = (
            self.answers as u128,
            self.persons as u128,
            self.items as u128,
        );
        let (q, threads, n, k) = (
            self.quadrature_points as u128,
            self.threads.max(1) as u128,
            self.parameters as u128,
            self.categories.max(2) as u128,
        );
        let mut parts = vec![
            // An item index and a byte per answer, an offset per person.
            Part {
                what: "the answers",
                bytes: 5 * answers + 8 * persons,
            },
            // Per leaf: expected counts of answers in each category per item and node, as
            // much again for test forms, and the forms' waiting groups of persons.
            Part {
                what: "the E-step's accumulators",
                bytes: LIVE_LEAVES_PER_THREAD
                    * threads
                    * (16 * k * items * q + group_bytes(self.forms, self.quadrature_points)),
            },
            // Scores, test forms, the item statistics.
            Part {
                what: "the scores",
                bytes: 64 * persons + 64 * items,
            },
            Part {
                what: "the DIF screening's copies of the answers",
                bytes: if self.dif {
                    2 * (5 * answers + 8 * persons) + 24 * persons
                } else {
                    0
                },
            },
            Part {
                what: "the item fit's accumulators",
                bytes: crate::item_fit::ACCUMULATOR_BYTES_PER_ITEM * items * k / 2
                    + crate::item_fit::RMSD_LEAVES as u128
                        * group_bytes(self.forms, crate::item_fit::RMSD_POINTS)
                    + 8 * persons,
            },
        ];
        parts.push(match self.standard_errors.resolve(self.parameters) {
            // The information and its inverse, and a batch's score vectors stacked for their
            // product.
            StandardErrors::Full | StandardErrors::Auto => Part {
                what: "the information matrix",
                bytes: 16 * n * n + 8 * crate::stderr::BATCH as u128 * n,
            },
            // An item's block: its (a, d, logit c) or (a, d_1 … d_(K−1)).
            StandardErrors::Item => Part {
                what: "the information's blocks",
                bytes: 8 * k.max(3).pow(2) * n,
            },
            StandardErrors::None => Part {
                what: "the information matrix",
                bytes: 0,
            },
        });
        parts.sort_by_key(|p| std::cmp::Reverse(p.bytes));
        parts
    }

    pub fn total(&self) -> u128 {
        self.parts().iter().map(|p| p.bytes).sum()
    }

    /// Err when the run would hold more than `limit` bytes.
    pub fn check(&self, limit: u128) -> Result<()> {
        let total = self.total();
        if total <= limit {
            return Ok(());
        }
        let largest = self.parts()[0];
        Err(CoreError::MemoryLimit {
            total,
            limit,
            part: largest.what,
            part_bytes: largest.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(items: usize, mode: StandardErrors) -> RunShape {
        RunShape {
            answers: 10_000_000,
            persons: 200_000,
            items,
            parameters: 2 * items,
            quadrature_points: 61,
            forms: 0,
            threads: 2,
            standard_errors: mode,
            categories: 2,
            dif: false,
        }
    }

    /// Test forms' waiting groups count in the E-step's and the item fit's parts: five
    /// posteriors per form and leaf, and one table of subset sums, on each pass's nodes.
    #[test]
    fn test_forms_add_their_groups() {
        let part = |shape: &RunShape, what: &str| {
            shape.parts().iter().find(|p| p.what == what).unwrap().bytes
        };
        let plain = shape(150, StandardErrors::Auto);
        let with_forms = RunShape { forms: 10, ..plain };
        assert_eq!(
            part(&with_forms, "the E-step's accumulators")
                - part(&plain, "the E-step's accumulators"),
            8 * 2 * (10 * 5 + 32) * 61 * 8
        );
        assert_eq!(
            part(&with_forms, "the item fit's accumulators")
                - part(&plain, "the item fit's accumulators"),
            8 * (10 * 5 + 32) * 201 * 8
        );
    }

    #[test]
    fn the_largest_part_is_named() {
        // 10,000 items with the whole information: 16 · 20,000² bytes and a batch of 1,024
        // score vectors of 20,000 coordinates, 6.56 GB.
        let big = shape(10_000, StandardErrors::Full);
        assert_eq!(
            big.parts()[0],
            Part {
                what: "the information matrix",
                bytes: 6_400_000_000 + 163_840_000
            }
        );
        let err = big.check(4_000_000_000).unwrap_err();
        assert!(
            err.to_string()
                .contains("the largest part is the information matrix, 6.6 GB"),
            "{err}"
        );
        // By blocks, the per-item accumulators lead (RMSD's on 201 nodes) and the run fits.
        let blocks = shape(10_000, StandardErrors::Auto);
        assert_eq!(blocks.parts()[0].what, "the item fit's accumulators");
        assert!(blocks.check(4_000_000_000).is_ok());
        // 1,000 items, auto: the whole information and a batch, 80 MB.
        assert_eq!(
            shape(1_000, StandardErrors::Auto)
                .parts()
                .iter()
                .find(|p| p.what == "the information matrix")
                .unwrap()
                .bytes,
            64_000_000 + 16_384_000
        );
    }
}
