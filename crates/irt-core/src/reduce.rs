//! Deterministic parallel sums. Persons are cut into fixed leaves that depend only on the data,
//! and partial results are merged along a binary tree over leaf indices, so the order of every
//! floating-point addition, and hence every bit of the result, is the same for 1 or N threads.

use std::ops::Range;

use crate::responses::Responses;

/// Contiguous ranges of persons, each holding at least `min_answers` answers (the last may hold
/// fewer), so that per-leaf set-up is small beside the leaf's work.
#[derive(Clone, Debug)]
pub struct Leaves(Vec<Range<usize>>);

impl Leaves {
    pub fn new(data: &Responses, min_answers: usize) -> Self {
        let mut leaves = Vec::new();
        let mut start = 0;
        let mut answers = 0;
        for i in 0..data.n_persons() {
            answers += data.person(i).0.len();
            if answers >= min_answers {
                leaves.push(start..i + 1);
                start = i + 1;
                answers = 0;
            }
        }
        if start < data.n_persons() || leaves.is_empty() {
            leaves.push(start..data.n_persons());
        }
        Self(leaves)
    }

    /// Leaves for sums that keep a few numbers per item and node: about 64 leaves, enough to
    /// balance across threads, unless that would make a leaf's accumulator large beside its
    /// work (more than 160 answers per item is never needed; fewer than 4,096 answers is too
    /// little work to share).
    pub fn for_accumulators(data: &Responses, n_items: usize) -> Self {
        Self::new(data, (data.n_answers() / 64).min(160 * n_items).max(4_096))
    }

    /// Maps every leaf and merges the results along the fixed tree; call inside the pool.
    pub fn reduce<T, L, M>(&self, leaf: L, merge: M) -> T
    where
        T: Send,
        L: Fn(Range<usize>) -> T + Sync,
        M: Fn(T, T) -> T + Sync,
    {
        self.reduce_range(0..self.0.len(), &leaf, &merge)
    }

    fn reduce_range<T, L, M>(&self, range: Range<usize>, leaf: &L, merge: &M) -> T
    where
        T: Send,
        L: Fn(Range<usize>) -> T + Sync,
        M: Fn(T, T) -> T + Sync,
    {
        if range.len() == 1 {
            return leaf(self.0[range.start].clone());
        }
        let mid = range.start + range.len() / 2;
        let (left, right) = rayon::join(
            || self.reduce_range(range.start..mid, leaf, merge),
            || self.reduce_range(mid..range.end, leaf, merge),
        );
        merge(left, right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_cover_every_person_once() {
        let mut data = Responses::with_items(3);
        for i in 0..100u32 {
            data.push_person((0..1 + i % 3).map(|j| (j, true))).unwrap();
        }
        let leaves = Leaves::new(&data, 10);
        let covered: Vec<usize> = leaves.0.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(covered, (0..100).collect::<Vec<_>>());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let total = pool.install(|| leaves.reduce(|r| r.len(), |a, b| a + b));
        assert_eq!(total, 100);
    }
}
