//! The E-step: every person's posterior over the quadrature nodes, in log space, summed into
//! expected counts of right and wrong answers per item and node.

use ndarray::{Array2, ArrayView1};

use rayon::ThreadPool;

use crate::model::ItemParams;
use crate::quadrature::{Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::Responses;

/// log Q and log P of every item at every node, so that the per-answer work is one add per node.
/// Row `2j + x` holds item j's log-probability of answer x at each node, contiguous, so the inner
/// loops run over plain slices the compiler vectorises.
pub struct LogTables {
    by_answer: Vec<f64>,
    n_nodes: usize,
}

impl LogTables {
    pub fn new(items: &[ItemParams], nodes: &[f64]) -> Self {
        let mut by_answer = Vec::with_capacity(2 * items.len() * nodes.len());
        for item in items {
            let logs: Vec<(f64, f64)> = nodes.iter().map(|&t| item.log_probs(t)).collect();
            by_answer.extend(logs.iter().map(|l| l.1));
            by_answer.extend(logs.iter().map(|l| l.0));
        }
        Self {
            by_answer,
            n_nodes: nodes.len(),
        }
    }

    /// log P(x | θ) of item j at every node.
    pub fn row(&self, j: u32, x: u8) -> &[f64] {
        let at = (2 * j as usize + usize::from(x == 1)) * self.n_nodes;
        &self.by_answer[at..at + self.n_nodes]
    }

    /// Adds person i's log-likelihood at every node to `out` (which starts as the log prior).
    pub fn add_person(&self, data: &Responses, i: usize, out: &mut [f64]) {
        let (items, correct) = data.person(i);
        for (&j, &x) in items.iter().zip(correct) {
            for (o, l) in out.iter_mut().zip(self.row(j, x)) {
                *o += l;
            }
        }
    }

    /// Person i's normalised posterior into `post`; returns the log marginal likelihood.
    pub fn posterior(
        &self,
        data: &Responses,
        i: usize,
        log_weights: &[f64],
        post: &mut [f64],
    ) -> f64 {
        post.copy_from_slice(log_weights);
        self.add_person(data, i, post);
        normalise_log(post)
    }
}

/// Turns log densities into probabilities that sum to one, in place, with one exp per entry;
/// returns log Σ exp(x), shifted by the maximum so that nothing under- or overflows.
fn normalise_log(x: &mut [f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        x.fill(f64::NAN);
        return max;
    }
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let scale = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= scale;
    }
    max + sum.ln()
}

/// Expected counts at the nodes given the current parameters.
#[derive(Clone, Debug)]
pub struct Counts {
    /// Posterior mass of answers, row `2j + x` for answer x to item j, × nodes.
    pub by_answer: Array2<f64>,
    /// Posterior mass of persons at each node.
    pub mass: Vec<f64>,
    /// The marginal log-likelihood of the data at the parameters used.
    pub log_lik: f64,
}

impl Counts {
    fn zeros(n_items: usize, n_nodes: usize) -> Self {
        Self {
            by_answer: Array2::zeros((2 * n_items, n_nodes)),
            mass: vec![0.0; n_nodes],
            log_lik: 0.0,
        }
    }

    /// Posterior mass of right answers to item j at each node.
    pub fn right(&self, j: usize) -> ArrayView1<'_, f64> {
        self.by_answer.row(2 * j + 1)
    }

    /// Posterior mass of wrong answers to item j at each node.
    pub fn wrong(&self, j: usize) -> ArrayView1<'_, f64> {
        self.by_answer.row(2 * j)
    }

    fn merge(mut self, other: Self) -> Self {
        self.by_answer += &other.by_answer;
        for (m, o) in self.mass.iter_mut().zip(&other.mass) {
            *m += o;
        }
        self.log_lik += other.log_lik;
        self
    }
}

/// The E-step at the given parameters, on `pool`.
pub fn expected_counts(
    data: &Responses,
    leaves: &Leaves,
    items: &[ItemParams],
    latent: Latent,
    grid: &Grid,
    pool: &ThreadPool,
) -> Counts {
    let tables = LogTables::new(items, grid.nodes());
    let log_weights = grid.log_weights(latent);
    pool.install(|| e_step(data, leaves, &tables, &log_weights))
}

/// The marginal log-likelihood of `data` at the given parameters.
pub fn log_likelihood(
    data: &Responses,
    items: &[ItemParams],
    latent: Latent,
    grid: &Grid,
    pool: &ThreadPool,
) -> f64 {
    let leaves = Leaves::for_accumulators(data, items.len());
    expected_counts(data, &leaves, items, latent, grid, pool).log_lik
}

/// Runs the E-step on the current thread pool (call inside `pool.install`).
fn e_step(data: &Responses, leaves: &Leaves, tables: &LogTables, log_weights: &[f64]) -> Counts {
    let n_nodes = log_weights.len();
    leaves.reduce(
        |persons| {
            let mut acc = Counts::zeros(data.n_items(), n_nodes);
            let by_answer = acc
                .by_answer
                .as_slice_mut()
                .expect("a new array is contiguous");
            let mut post = vec![0.0; n_nodes];
            for i in persons {
                acc.log_lik += tables.posterior(data, i, log_weights, &mut post);
                for (m, p) in acc.mass.iter_mut().zip(&post) {
                    *m += p;
                }
                let (items, correct) = data.person(i);
                for (&j, &x) in items.iter().zip(correct) {
                    let at = (2 * j as usize + usize::from(x == 1)) * n_nodes;
                    for (t, p) in by_answer[at..at + n_nodes].iter_mut().zip(&post) {
                        *t += p;
                    }
                }
            }
            acc
        },
        Counts::merge,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A person with 2,000 answers has a likelihood far below f64's range at every node; the
    /// log-space E-step still gives a proper posterior and a finite log-likelihood.
    #[test]
    fn long_response_patterns_do_not_underflow() {
        let items: Vec<ItemParams> = (0..2000)
            .map(|j| ItemParams::from_irt(1.5, (j % 7) as f64 - 3.0, 0.0))
            .collect();
        let mut data = Responses::with_items(items.len());
        data.push_person((0..2000u32).map(|j| (j, j % 3 != 0)))
            .unwrap();
        let grid = Grid::new(61, -6.0, 6.0).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let counts = expected_counts(
            &data,
            &Leaves::new(&data, 1),
            &items,
            Latent::STANDARD,
            &grid,
            &pool,
        );
        assert!(
            counts.log_lik.is_finite() && counts.log_lik < -745.0,
            "{}",
            counts.log_lik
        );
        approx::assert_relative_eq!(counts.mass.iter().sum::<f64>(), 1.0, epsilon = 1e-12);
        approx::assert_relative_eq!(counts.by_answer.sum(), 2000.0, epsilon = 1e-9);
    }
}
