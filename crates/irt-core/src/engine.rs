//! The machinery every EM variant runs on (SQUAREM and plain EM in `em`, R mirt's own EM in
//! `mirt_compat`): the data, settings and parameter layout, one E-step plus M-step at a point,
//! and the cycle count with its stopping rule.

use std::borrow::Cow;
use std::ops::ControlFlow;

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::error::Result;
use crate::estep::{expected_counts, Counts, Posteriors};
use crate::forms::Forms;
use crate::layout::Layout;
use crate::model::ItemParams;
use crate::mstep::{latent_moments, maximise_common_slope, ItemCounts};
use crate::params::{Algorithm, FitConfig};
use crate::quadrature::{Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::{ItemStats, Responses};
use crate::start::start_values;

/// Why the EM loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    Converged,
    MaxCycles,
    /// The observer asked to stop.
    Interrupted,
}

/// What the observer sees after every EM cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CycleReport {
    pub cycle: usize,
    /// Marginal log-likelihood at the parameters this cycle started from.
    pub log_lik: f64,
    /// Largest absolute parameter change made by this cycle's EM step.
    pub max_change: f64,
}

/// One EM evaluation: the E-step at a point and the M-step from it.
pub(crate) struct Step {
    pub next: Vec<f64>,
    pub log_lik: f64,
    pub log_posterior: f64,
}

/// The data, settings and parameter layout that every EM variant works with.
pub(crate) struct Engine<'a> {
    data: &'a Responses,
    /// The settings; its grid is replaced when it must follow a free latent distribution.
    pub config: Cow<'a, FitConfig>,
    pool: &'a ThreadPool,
    leaves: Leaves,
    pub forms: Forms,
    pub layout: Layout,
    pub template: Vec<ItemParams>,
    /// Each group's latent distribution at the start: N(0, 1).
    pub start_latent: Vec<Latent>,
    /// Nodes of the grid as configured, which a grid following the latent keeps the spacing of.
    standard_points: usize,
}

impl<'a> Engine<'a> {
    /// The engine of a fit of `data` (whose item statistics are `item_stats`) under `config`,
    /// starting from the classical estimates or the configured start values.
    pub fn new(
        data: &'a Responses,
        config: &'a FitConfig,
        pool: &'a ThreadPool,
        item_stats: &[ItemStats],
    ) -> Result<Self> {
        let template = start_values(config, item_stats);
        Ok(Self {
            data,
            config: Cow::Borrowed(config),
            pool,
            leaves: Leaves::for_accumulators(data, data.n_items()),
            forms: Forms::detect(data)?,
            layout: Layout::new(config, data.n_groups()),
            template,
            start_latent: vec![Latent::STANDARD; data.n_groups()],
            standard_points: config.grid.len(),
        })
    }

    pub fn e_step(&self, items: &[ItemParams], latents: &[Latent]) -> Result<Counts> {
        let posteriors = Posteriors::new(
            self.data,
            &self.forms,
            items,
            latents,
            self.config.grid.nodes(),
        )?;
        expected_counts(
            self.data,
            &self.leaves,
            &posteriors,
            self.pool,
            &self.config.interrupt,
        )
    }

    /// The items and each group's latent distribution at a point of the parameter vector.
    pub fn unpack(&self, x: &[f64]) -> (Vec<ItemParams>, Vec<Latent>) {
        self.layout.unpack(x, &self.template, &self.start_latent)
    }

    pub fn item_counts<'c>(&'c self, counts: &'c Counts, item: usize) -> ItemCounts<'c> {
        ItemCounts::in_categories(
            (0..self.template[item].categories()).map(|x| counts.category(item, x)),
            self.config.grid.nodes(),
        )
    }

    pub(crate) fn log_prior(&self, items: &[ItemParams]) -> f64 {
        let priors = &self.config.priors;
        let mut total: f64 = self
            .layout
            .free
            .iter()
            .map(|&(j, free)| {
                priors
                    .item_log_density(&items[j], free.slope(), free.guessing())
                    .value
            })
            .sum();
        if self.layout.common_slope() {
            total += priors
                .common_slope_log_density(items[self.layout.free[0].0].slope())
                .value;
        }
        total
    }

    /// False where a point has left the parameter space (an extrapolation can do that).
    pub(crate) fn feasible(&self, x: &[f64]) -> bool {
        let (items, latents) = self.unpack(x);
        x.iter().all(|v| v.is_finite())
            && latents.iter().all(|l| l.variance > 0.0)
            && self.log_prior(&items).is_finite()
    }

    /// The M-step from `items` and `latents` given their E-step: every item's Newton maximum
    /// and each group's latent moments.
    pub fn m_step(&self, items: &[ItemParams], latents: &[Latent], counts: &Counts) -> Vec<f64> {
        let priors = &self.config.priors;
        let mut next = items.to_vec();
        if self.layout.common_slope() {
            let free: Vec<usize> = self.layout.free.iter().map(|&(j, _)| j).collect();
            let counts: Vec<ItemCounts> =
                free.iter().map(|&j| self.item_counts(counts, j)).collect();
            let start: Vec<ItemParams> = free.iter().map(|&j| items[j]).collect();
            for (j, p) in free
                .iter()
                .zip(maximise_common_slope(&counts, &start, priors))
            {
                next[*j] = p;
            }
        } else {
            let fitted: Vec<ItemParams> = self.pool.install(|| {
                self.layout
                    .free
                    .par_iter()
                    .map(|&(j, free)| self.item_counts(counts, j).maximise(items[j], free, priors))
                    .collect()
            });
            for (&(j, _), p) in self.layout.free.iter().zip(fitted) {
                next[j] = p;
            }
        }
        let next_latents: Vec<Latent> = latents
            .iter()
            .enumerate()
            .map(|(g, &latent)| match self.layout.group_free(g) {
                (free_mean, true) => {
                    latent_moments(counts.mass(g), self.config.grid.nodes(), free_mean, latent)
                }
                _ => latent,
            })
            .collect();
        self.layout.pack(&next, &next_latents)
    }

    /// The largest change between two points, on the scale mirt judges convergence on: slopes,
    /// intercepts, lower asymptotes as probabilities (on the logit scale an asymptote drifting
    /// towards 0 never stops moving), and the latent mean and variance.
    pub fn max_change(&self, from: &[f64], to: &[f64]) -> f64 {
        let (before, latents_before) = self.unpack(from);
        let (after, latents_after) = self.unpack(to);
        let latent = latents_before
            .iter()
            .zip(&latents_after)
            .map(|(b, a)| (b.mean - a.mean).abs().max((b.variance - a.variance).abs()))
            .fold(0.0, f64::max);
        before
            .iter()
            .zip(&after)
            .fold(latent, |m, (p, q)| p.max_change(q, m))
    }

    /// A grid that covers every group's latent distribution at `x`, when one is free, the
    /// current grid does not reach 5.5 SD either side of a group's mean, and the algorithm is
    /// not mirt's (which keeps [−6, 6]). A population far from N(0, 1) on the anchors' scale
    /// then loses no prior mass: with N(4, 1.5²) on [−6, 6] the latent mean came out 0.31 low.
    pub(crate) fn grid_for_latent(&self, x: &[f64]) -> Result<Option<Grid>> {
        if !self.config.follow_latent
            || !self.layout.any_latent_free()
            || self.config.algorithm == Algorithm::MirtCompatible
        {
            return Ok(None);
        }
        let (_, latents) = self.unpack(x);
        let nodes = self.config.grid.nodes();
        let covered = latents.iter().all(|latent| {
            let reach = 5.5 * latent.variance.sqrt();
            nodes[0] <= latent.mean - reach && nodes[nodes.len() - 1] >= latent.mean + reach
        });
        if covered {
            return Ok(None);
        }
        Grid::covering(self.standard_points, &latents).map(Some)
    }

    pub(crate) fn step(&self, x: &[f64]) -> Result<Step> {
        let (items, latents) = self.unpack(x);
        let counts = self.e_step(&items, &latents)?;
        Ok(Step {
            next: self.m_step(&items, &latents, &counts),
            log_lik: counts.log_lik,
            log_posterior: counts.log_lik + self.log_prior(&items),
        })
    }
}

/// Counts the EM cycles, reports each to the observer and says when to stop.
pub(crate) struct Progress<F> {
    observer: F,
    tolerance: f64,
    pub max_cycles: usize,
    pub cycles: usize,
    pub max_change: f64,
    /// The log-likelihood each cycle started from, for the run's record.
    pub log_liks: Vec<f64>,
}

impl<F: FnMut(&CycleReport) -> ControlFlow<()>> Progress<F> {
    pub(crate) fn new(config: &FitConfig, observer: F) -> Self {
        Self {
            observer,
            tolerance: config.tolerance,
            max_cycles: config.max_cycles,
            cycles: 0,
            max_change: f64::INFINITY,
            log_liks: Vec::new(),
        }
    }

    /// Records a cycle that started at log-likelihood `log_lik` and moved the parameters by
    /// `max_change`; Some(termination) when the loop must stop.
    pub fn record(&mut self, log_lik: f64, max_change: f64) -> Option<Termination> {
        self.cycles += 1;
        self.max_change = max_change;
        self.log_liks.push(log_lik);
        let report = CycleReport {
            cycle: self.cycles,
            log_lik,
            max_change,
        };
        if (self.observer)(&report).is_break() {
            Some(Termination::Interrupted)
        } else if !max_change.is_finite() {
            None
        } else if max_change < self.tolerance {
            Some(Termination::Converged)
        } else if self.cycles >= self.max_cycles {
            Some(Termination::MaxCycles)
        } else {
            None
        }
    }
}

/// The Euclidean norm.
pub(crate) fn norm(u: &[f64]) -> f64 {
    u.iter().map(|e| e * e).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ItemModel;
    use crate::params::FitParams;

    /// Convergence is judged on the lower asymptote as a probability, as mirt judges it: an
    /// asymptote near 0 whose logit still moves by half a unit has all but stopped, while the
    /// same move of a slope is a real change.
    #[test]
    fn an_asymptote_is_judged_on_the_probability_scale() {
        let sim = crate::simulate::simulate(3, 200, 4, 4, 0.0, 1.0);
        let config = FitParams::new(ItemModel::ThreePL).check(4).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let stats = sim.data.check().unwrap();
        let engine = Engine::new(&sim.data, &config, &pool, &stats).unwrap();
        let items: Vec<ItemParams> = (0..4)
            .map(|_| ItemParams::from_irt(1.0, 0.0, 1e-6))
            .collect();
        let from = engine.layout.pack(&items, &[Latent::STANDARD]);
        // Coordinates per item: slope, intercept, logit c.
        let mut to = from.clone();
        to[2] += 0.5;
        let change = engine.max_change(&from, &to);
        assert!(change < 1e-6 && change > 0.0, "{change}");
        to[0] += 0.5;
        assert_eq!(engine.max_change(&from, &to), 0.5);
    }
}
