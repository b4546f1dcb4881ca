//! The E-step: every person's posterior over the quadrature nodes, in log space, summed into
//! expected counts of right and wrong answers per item and node.

use ndarray::{Array2, Zip};

use rayon::ThreadPool;

use crate::model::ItemParams;
use crate::quadrature::{log_sum_exp, Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::Responses;

/// log P and log Q of every item at every node, so that the per-answer work is one add per node.
pub struct LogTables {
    pub log_p: Array2<f64>,
    pub log_q: Array2<f64>,
}

impl LogTables {
    pub fn new(items: &[ItemParams], nodes: &[f64]) -> Self {
        let shape = (items.len(), nodes.len());
        let mut log_p = Array2::zeros(shape);
        let mut log_q = Array2::zeros(shape);
        Zip::indexed(&mut log_p)
            .and(&mut log_q)
            .for_each(|(j, k), lp, lq| {
                (*lp, *lq) = items[j].log_probs(nodes[k]);
            });
        Self { log_p, log_q }
    }

    /// Adds person i's log-likelihood at every node to `out` (which starts as the log prior).
    pub fn add_person(&self, data: &Responses, i: usize, out: &mut [f64]) {
        let (items, correct) = data.person(i);
        for (&j, &x) in items.iter().zip(correct) {
            let row = if x == 1 {
                self.log_p.row(j as usize)
            } else {
                self.log_q.row(j as usize)
            };
            for (o, l) in out.iter_mut().zip(row) {
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
        let log_lik = log_sum_exp(post);
        for p in post.iter_mut() {
            *p = (*p - log_lik).exp();
        }
        log_lik
    }
}

/// Expected counts at the nodes given the current parameters.
#[derive(Clone, Debug)]
pub struct Counts {
    /// Posterior mass of right answers, items × nodes.
    pub right: Array2<f64>,
    /// Posterior mass of wrong answers, items × nodes.
    pub wrong: Array2<f64>,
    /// Posterior mass of persons at each node.
    pub mass: Vec<f64>,
    /// The marginal log-likelihood of the data at the parameters used.
    pub log_lik: f64,
}

impl Counts {
    fn zeros(n_items: usize, n_nodes: usize) -> Self {
        Self {
            right: Array2::zeros((n_items, n_nodes)),
            wrong: Array2::zeros((n_items, n_nodes)),
            mass: vec![0.0; n_nodes],
            log_lik: 0.0,
        }
    }

    fn merge(mut self, other: Self) -> Self {
        self.right += &other.right;
        self.wrong += &other.wrong;
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
    let leaves = Leaves::for_accumulators(data, 2 * items.len() * grid.len());
    expected_counts(data, &leaves, items, latent, grid, pool).log_lik
}

/// Runs the E-step on the current thread pool (call inside `pool.install`).
fn e_step(data: &Responses, leaves: &Leaves, tables: &LogTables, log_weights: &[f64]) -> Counts {
    let (n_items, n_nodes) = tables.log_p.dim();
    leaves.reduce(
        |persons| {
            let mut acc = Counts::zeros(n_items, n_nodes);
            let mut post = vec![0.0; n_nodes];
            for i in persons {
                acc.log_lik += tables.posterior(data, i, log_weights, &mut post);
                for (m, p) in acc.mass.iter_mut().zip(&post) {
                    *m += p;
                }
                let (items, correct) = data.person(i);
                for (&j, &x) in items.iter().zip(correct) {
                    let target = if x == 1 {
                        &mut acc.right
                    } else {
                        &mut acc.wrong
                    };
                    for (t, p) in target.row_mut(j as usize).iter_mut().zip(&post) {
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
        approx::assert_relative_eq!(
            counts.right.sum() + counts.wrong.sum(),
            2000.0,
            epsilon = 1e-9
        );
    }
}
