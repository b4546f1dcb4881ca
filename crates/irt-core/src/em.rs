//! Bock–Aitkin EM with SQUAREM acceleration.
//!
//! Every cycle is one E-step plus M-step (the EM map). SQUAREM (Varadhan & Roland, 2008)
//! extrapolates along two EM steps and then takes one more EM step from the extrapolated point;
//! the extrapolation is kept only if the log posterior there is no lower than after the first
//! EM step, so the sequence stays monotone. Convergence is declared only when a plain EM step
//! moved no parameter by more than the tolerance — never on an extrapolated move, which can be
//! small while EM is still going somewhere (mirt issue #257). Plain EM and mirt's own EM
//! (`mirt_compat`) run on the same engine.

use std::borrow::Cow;
use std::ops::ControlFlow;

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::error::{CoreError, Result};
use crate::estep::{expected_counts, Counts, Posteriors};
use crate::forms::Forms;
use crate::mirt_compat;
use crate::model::{ItemModel, ItemParams};
use crate::mstep::{coords, latent_moments, maximise_common_slope, FreeCoords, ItemCounts};
use crate::params::{Algorithm, FitConfig, StandardErrors};
use crate::quadrature::{Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::{ItemStats, Responses};
use crate::start::start_values;
use crate::stderr::{
    item_covariances, ItemCovariance, JointCovariance, SE_METHOD, SE_METHOD_BLOCKS,
};

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

/// Whether a fit's standard errors were computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeStatus {
    Ok,
    /// The information matrix is not positive definite, or inverts to values that are not
    /// finite: the data do not identify every parameter where the estimates ended.
    NotPositiveDefinite,
    /// Not asked for, or the run was interrupted.
    Skipped,
}

impl SeStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotPositiveDefinite => "not_positive_definite",
            Self::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ItemEstimate {
    pub params: ItemParams,
    pub fixed: bool,
    /// Covariance of (a, b, c); rows of parameters not estimated are zero.
    pub covariance: Option<ItemCovariance>,
    /// For an item held fixed: where the data would move it if it alone were released, from the
    /// final E-step (its M-step from the fixed values; Winsteps calls the move displacement).
    pub released: Option<ItemParams>,
    /// For an item in [`FitConfig::screened`]: the final E-step's expected counts.
    pub counts: Option<NodeCounts>,
}

/// An item's expected right and wrong answers at each node of the fit's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCounts {
    pub right: Vec<f64>,
    pub wrong: Vec<f64>,
}

impl ItemEstimate {
    /// Standard errors of (a, b, c); zero for a parameter not estimated.
    pub fn standard_errors(&self) -> Option<[f64; 3]> {
        self.covariance
            .map(|c| [c[0][0].sqrt(), c[1][1].sqrt(), c[2][2].sqrt()])
    }

    /// Standard error of d = −a·b by the delta method.
    pub fn d_standard_error(&self) -> Option<f64> {
        let c = self.covariance?;
        let (a, b) = (self.params.a, self.params.b());
        Some(
            (b * b * c[0][0] + 2.0 * a * b * c[0][1] + a * a * c[1][1])
                .max(0.0)
                .sqrt(),
        )
    }
}

#[derive(Clone, Debug)]
pub struct FitResult {
    pub model: ItemModel,
    pub items: Vec<ItemEstimate>,
    pub item_stats: Vec<ItemStats>,
    pub latent: Latent,
    pub log_lik: f64,
    pub n_params: usize,
    pub n_persons: usize,
    pub aic: f64,
    pub bic: f64,
    pub cycles: usize,
    /// The log-likelihood at the start of every EM cycle (a regrid starts a new stretch).
    pub log_lik_trace: Vec<f64>,
    pub termination: Termination,
    pub max_change: f64,
    /// How the standard errors were computed.
    pub se_method: &'static str,
    pub se_status: SeStatus,
    /// Covariance of the (a, b, c) of `FitConfig::joint`'s items, across items.
    pub joint_covariance: Option<JointCovariance>,
    /// Covariance of the latent (mean, variance), zero where they are fixed.
    pub latent_covariance: Option<[[f64; 2]; 2]>,
    /// The quadrature the estimates are for: the configured one, or one that follows a free
    /// latent distribution.
    pub grid: Grid,
}

impl FitResult {
    pub fn converged(&self) -> bool {
        self.termination == Termination::Converged
    }

    pub fn item_params(&self) -> Vec<ItemParams> {
        self.items.iter().map(|i| i.params).collect()
    }
}

/// Where each estimated quantity sits in the flat parameter vector that EM moves.
pub(crate) struct Layout {
    pub model: ItemModel,
    /// Free items with the coordinates each estimates, in item order.
    pub free: Vec<(usize, FreeCoords)>,
    pub free_mean: bool,
    pub free_variance: bool,
}

impl Layout {
    /// What a free item of `model` estimates.
    fn coords(model: ItemModel) -> FreeCoords {
        match model {
            ItemModel::Rasch | ItemModel::OnePL => FreeCoords::Intercept,
            ItemModel::TwoPL => FreeCoords::SlopeIntercept,
            ItemModel::ThreePL => FreeCoords::SlopeInterceptGuessing,
        }
    }

    pub(crate) fn new(config: &FitConfig) -> Self {
        let coords = Self::coords(config.model);
        Self {
            model: config.model,
            free: (0..config.fixed.len())
                .filter(|&j| config.fixed[j].is_none())
                .map(|j| (j, coords))
                .collect(),
            free_mean: config.free_mean(),
            free_variance: config.free_variance(),
        }
    }

    pub fn common_slope(&self) -> bool {
        self.model == ItemModel::OnePL
    }

    /// Offsets of each free item's coordinates, then of the common slope, mean and variance.
    pub fn offsets(&self) -> (Vec<usize>, Option<usize>, Option<usize>, Option<usize>) {
        let mut next = 0;
        let items = self
            .free
            .iter()
            .map(|(_, c)| {
                let at = next;
                next += c.indices().len();
                at
            })
            .collect();
        let mut take = |on: bool| {
            on.then(|| {
                next += 1;
                next - 1
            })
        };
        let slope = take(self.common_slope());
        let mean = take(self.free_mean);
        let variance = take(self.free_variance);
        (items, slope, mean, variance)
    }

    pub fn len(&self) -> usize {
        let (_, _, mean, variance) = self.offsets();
        self.n_item_coords() + [mean, variance].iter().flatten().count()
    }

    /// How many leading coordinates belong to items (the common slope included); the latent
    /// mean and variance follow.
    pub fn n_item_coords(&self) -> usize {
        let own: usize = self.free.iter().map(|(_, c)| c.indices().len()).sum();
        own + usize::from(self.common_slope())
    }

    fn pack(&self, items: &[ItemParams], latent: Latent) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.len());
        for &(j, free) in &self.free {
            let c = coords(&items[j]);
            x.extend(free.indices().iter().map(|&i| c[i]));
        }
        if self.common_slope() {
            x.push(items[self.free[0].0].a);
        }
        if self.free_mean {
            x.push(latent.mean);
        }
        if self.free_variance {
            x.push(latent.variance);
        }
        x
    }

    fn unpack(
        &self,
        x: &[f64],
        template: &[ItemParams],
        latent: Latent,
    ) -> (Vec<ItemParams>, Latent) {
        let (offsets, slope, mean, variance) = self.offsets();
        let mut items = template.to_vec();
        for (&(j, free), &at) in self.free.iter().zip(&offsets) {
            let mut c = coords(&items[j]);
            for (k, &i) in free.indices().iter().enumerate() {
                c[i] = x[at + k];
            }
            items[j] = ItemParams {
                a: slope.map_or(c[0], |s| x[s]),
                d: c[1],
                c: if free.guessing() {
                    crate::model::guessing_at_logit(c[2])
                } else {
                    items[j].c
                },
            };
        }
        let latent = Latent {
            mean: mean.map_or(latent.mean, |m| x[m]),
            variance: variance.map_or(latent.variance, |v| x[v]),
        };
        (items, latent)
    }
}

/// One EM evaluation: the E-step at a point and the M-step from it.
struct Step {
    next: Vec<f64>,
    log_lik: f64,
    log_posterior: f64,
}

/// The data, settings and parameter layout that every EM variant works with.
pub(crate) struct Engine<'a> {
    data: &'a Responses,
    /// The settings; its grid is replaced when it must follow a free latent distribution.
    pub config: Cow<'a, FitConfig>,
    pool: &'a ThreadPool,
    leaves: Leaves,
    forms: Forms,
    pub layout: Layout,
    template: Vec<ItemParams>,
    start_latent: Latent,
    /// Nodes of the grid as configured, which a grid following the latent keeps the spacing of.
    standard_points: usize,
}

impl Engine<'_> {
    pub fn e_step(&self, items: &[ItemParams], latent: Latent) -> Result<Counts> {
        let posteriors = Posteriors::new(
            self.data,
            &self.forms,
            items,
            latent,
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

    /// The items and latent distribution at a point of the parameter vector.
    pub fn unpack(&self, x: &[f64]) -> (Vec<ItemParams>, Latent) {
        self.layout.unpack(x, &self.template, self.start_latent)
    }

    pub fn item_counts<'c>(&'c self, counts: &'c Counts, item: usize) -> ItemCounts<'c> {
        ItemCounts {
            right: counts.right(item),
            wrong: counts.wrong(item),
            nodes: self.config.grid.nodes(),
        }
    }

    fn log_prior(&self, items: &[ItemParams]) -> f64 {
        let priors = &self.config.priors;
        let mut total: f64 = self
            .layout
            .free
            .iter()
            .map(|&(j, free)| {
                priors
                    .item_log_density(&items[j], free != FreeCoords::Intercept, free.guessing())
                    .value
            })
            .sum();
        if self.layout.common_slope() {
            total += priors
                .common_slope_log_density(items[self.layout.free[0].0].a)
                .value;
        }
        total
    }

    /// False where a point has left the parameter space (an extrapolation can do that).
    fn feasible(&self, x: &[f64]) -> bool {
        let (items, latent) = self.unpack(x);
        x.iter().all(|v| v.is_finite())
            && latent.variance > 0.0
            && self.log_prior(&items).is_finite()
    }

    /// The M-step from `items` and `latent` given their E-step: every item's Newton maximum
    /// and the latent moments.
    pub fn m_step(&self, items: &[ItemParams], latent: Latent, counts: &Counts) -> Vec<f64> {
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
        let next_latent = if self.layout.free_variance {
            latent_moments(
                &counts.mass,
                self.config.grid.nodes(),
                self.layout.free_mean,
                latent,
            )
        } else {
            latent
        };
        self.layout.pack(&next, next_latent)
    }

    /// The largest change between two points, on the scale mirt judges convergence on: slopes,
    /// intercepts, lower asymptotes as probabilities (on the logit scale an asymptote drifting
    /// towards 0 never stops moving), and the latent mean and variance.
    pub fn max_change(&self, from: &[f64], to: &[f64]) -> f64 {
        let (before, latent_before) = self.unpack(from);
        let (after, latent_after) = self.unpack(to);
        let latent = (latent_before.mean - latent_after.mean)
            .abs()
            .max((latent_before.variance - latent_after.variance).abs());
        before.iter().zip(&after).fold(latent, |m, (p, q)| {
            m.max((p.a - q.a).abs())
                .max((p.d - q.d).abs())
                .max((p.c - q.c).abs())
        })
    }

    /// A grid that covers the latent distribution at `x`, when the latent distribution is free,
    /// the current grid does not reach 5.5 SD either side of its mean, and the algorithm is not
    /// mirt's (which keeps [−6, 6]). A population far from N(0, 1) on the anchors' scale then
    /// loses no prior mass: with N(4, 1.5²) on [−6, 6] the latent mean came out 0.31 low.
    fn grid_for_latent(&self, x: &[f64]) -> Result<Option<Grid>> {
        let free = self.layout.free_mean || self.layout.free_variance;
        if !free || self.config.algorithm == Algorithm::MirtCompatible {
            return Ok(None);
        }
        let (_, latent) = self.unpack(x);
        let (reach, nodes) = (5.5 * latent.variance.sqrt(), self.config.grid.nodes());
        let covered =
            nodes[0] <= latent.mean - reach && nodes[nodes.len() - 1] >= latent.mean + reach;
        if covered {
            return Ok(None);
        }
        Grid::covering(self.standard_points, latent).map(Some)
    }

    fn step(&self, x: &[f64]) -> Result<Step> {
        let (items, latent) = self.unpack(x);
        let counts = self.e_step(&items, latent)?;
        Ok(Step {
            next: self.m_step(&items, latent, &counts),
            log_lik: counts.log_lik,
            log_posterior: counts.log_lik + self.log_prior(&items),
        })
    }
}

/// Counts the EM cycles, reports each to the observer and says when to stop.
pub(crate) struct Progress<F> {
    observer: F,
    tolerance: f64,
    max_cycles: usize,
    pub cycles: usize,
    pub max_change: f64,
    /// The log-likelihood each cycle started from, for the run's record.
    pub log_liks: Vec<f64>,
}

impl<F: FnMut(&CycleReport) -> ControlFlow<()>> Progress<F> {
    fn new(config: &FitConfig, observer: F) -> Self {
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

/// EM from `x`, with SQUAREM when `accelerate`; returns where it stopped and why.
fn run_em(
    engine: &Engine,
    progress: &mut Progress<impl FnMut(&CycleReport) -> ControlFlow<()>>,
    mut x: Vec<f64>,
    accelerate: bool,
) -> Result<(Vec<f64>, Termination)> {
    // One EM cycle, recorded; Some(termination) when the loop must stop at its `next`.
    let cycle = |progress: &mut Progress<_>, from: &[f64]| -> Result<(Step, Option<Termination>)> {
        let step = engine.step(from)?;
        let stop = progress.record(step.log_lik, engine.max_change(from, &step.next));
        Ok((step, stop))
    };
    loop {
        let (first, stop) = cycle(progress, &x)?;
        if !first.next.iter().all(|v| v.is_finite()) {
            return Err(CoreError::NonFinite {
                what: "item parameters",
            });
        }
        if let Some(t) = stop {
            return Ok((first.next, t));
        }
        if !accelerate {
            x = first.next;
            continue;
        }
        let (second, stop) = cycle(progress, &first.next)?;
        if let Some(t) = stop {
            return Ok((second.next, t));
        }
        let r: Vec<f64> = first.next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let v: Vec<f64> = second
            .next
            .iter()
            .zip(&first.next)
            .zip(&r)
            .map(|((a, b), r)| a - b - r)
            .collect();
        let alpha = -norm(&r) / norm(&v);
        // NaN (no movement) or a step no longer than plain EM's: nothing to extrapolate.
        if alpha.is_nan() || alpha >= -1.0 {
            x = second.next;
            continue;
        }
        let extrapolated: Vec<f64> = x
            .iter()
            .zip(&r)
            .zip(&v)
            .map(|((x0, r), v)| x0 - 2.0 * alpha * r + alpha * alpha * v)
            .collect();
        if !engine.feasible(&extrapolated) {
            x = second.next;
            continue;
        }
        let (third, stop) = cycle(progress, &extrapolated)?;
        let kept = third.log_posterior >= second.log_posterior;
        x = if kept { third.next } else { second.next };
        let stop = match stop {
            // Convergence seen from a rejected extrapolation says nothing about `x`: go on, but
            // not past the cycle limit (one cycle more than allowed used to run).
            Some(Termination::Converged) if !kept => {
                (progress.cycles >= progress.max_cycles).then_some(Termination::MaxCycles)
            }
            other => other,
        };
        if let Some(t) = stop {
            return Ok((x, t));
        }
    }
}

pub(crate) fn norm(u: &[f64]) -> f64 {
    u.iter().map(|e| e * e).sum::<f64>().sqrt()
}

/// How many times a fit may move its grid to follow the latent distribution: once is the rule,
/// a second when the first move shifted the estimate enough to need it.
const MAX_REGRIDS: usize = 3;

/// Calibrates `data` under `config` on `pool`. `observer` is called on the calling thread after
/// every EM cycle, between parallel sections, so it may check for cancellation and report
/// progress; returning `Break` ends the loop with [`Termination::Interrupted`].
pub fn fit(
    data: &Responses,
    config: &FitConfig,
    pool: &ThreadPool,
    observer: impl FnMut(&CycleReport) -> ControlFlow<()>,
) -> Result<FitResult> {
    if config.fixed.len() != data.n_items() {
        return Err(CoreError::InvalidSetting {
            field: "items",
            reason: format!(
                "settings cover {} items, the data {}",
                config.fixed.len(),
                data.n_items()
            ),
        });
    }
    let item_stats = data.check()?;
    let layout = Layout::new(config);
    let template = start_values(config, &item_stats);
    let mut engine = Engine {
        data,
        config: Cow::Borrowed(config),
        pool,
        leaves: Leaves::for_accumulators(data, data.n_items()),
        forms: Forms::detect(data)?,
        layout,
        template,
        start_latent: Latent::STANDARD,
        standard_points: config.grid.len(),
    };
    let mut x = engine.layout.pack(&engine.template, engine.start_latent);
    let mut progress = Progress::new(config, observer);
    let mut regrids = 0;
    let termination = loop {
        let (next, termination) = match config.algorithm {
            Algorithm::Squarem => run_em(&engine, &mut progress, x, true)?,
            Algorithm::Em => run_em(&engine, &mut progress, x, false)?,
            Algorithm::MirtCompatible => mirt_compat::run(&engine, &mut progress, x)?,
        };
        x = next;
        let regrid = termination == Termination::Converged
            && regrids < MAX_REGRIDS
            && progress.cycles < progress.max_cycles;
        match engine.grid_for_latent(&x)? {
            Some(grid) if regrid => {
                engine.config.to_mut().grid = grid;
                regrids += 1;
            }
            _ => break termination,
        }
    };
    let config = &*engine.config;
    let (items, latent) = engine.unpack(&x);
    let counts = engine.e_step(&items, latent)?;
    if !counts.log_lik.is_finite() {
        return Err(CoreError::NonFinite {
            what: "log-likelihood",
        });
    }
    let n_params = engine.layout.len();
    let mode = config.standard_errors.resolve(n_params);
    let wanted = mode != StandardErrors::None && termination != Termination::Interrupted;
    let covariances = if wanted {
        item_covariances(
            data,
            &engine.forms,
            config,
            &engine.layout,
            &items,
            latent,
            pool,
        )?
    } else {
        None
    };
    let se_status = match (wanted, &covariances) {
        (false, _) => SeStatus::Skipped,
        (true, None) => SeStatus::NotPositiveDefinite,
        (true, Some(_)) => SeStatus::Ok,
    };
    let n_persons = data.n_persons();
    let released = |j: usize| {
        config.fixed[j].map(|fixed| {
            engine.item_counts(&counts, j).maximise(
                fixed,
                Layout::coords(config.model),
                &config.priors,
            )
        })
    };
    let mut screened = vec![false; items.len()];
    for &j in &config.screened {
        screened[j] = true;
    }
    Ok(FitResult {
        model: config.model,
        items: items
            .iter()
            .enumerate()
            .map(|(j, &params)| ItemEstimate {
                params,
                fixed: config.fixed[j].is_some(),
                covariance: covariances.as_ref().and_then(|c| c.items[j]),
                released: released(j),
                counts: screened[j].then(|| NodeCounts {
                    right: counts.right(j).to_vec(),
                    wrong: counts.wrong(j).to_vec(),
                }),
            })
            .collect(),
        item_stats,
        latent,
        log_lik: counts.log_lik,
        n_params,
        n_persons,
        aic: -2.0 * counts.log_lik + 2.0 * n_params as f64,
        bic: -2.0 * counts.log_lik + n_params as f64 * (n_persons as f64).ln(),
        cycles: progress.cycles,
        log_lik_trace: progress.log_liks,
        termination,
        max_change: progress.max_change,
        se_method: if mode == StandardErrors::Item {
            SE_METHOD_BLOCKS
        } else {
            SE_METHOD
        },
        se_status,
        latent_covariance: covariances.as_ref().map(|c| c.latent),
        grid: config.grid.clone(),
        joint_covariance: covariances.map(|c| c.joint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let engine = Engine {
            data: &sim.data,
            config: Cow::Borrowed(&config),
            pool: &pool,
            leaves: Leaves::for_accumulators(&sim.data, 4),
            forms: Forms::detect(&sim.data).unwrap(),
            layout: Layout::new(&config),
            template: start_values(&config, &stats),
            start_latent: Latent::STANDARD,
            standard_points: config.grid.len(),
        };
        let items: Vec<ItemParams> = (0..4)
            .map(|_| ItemParams::from_irt(1.0, 0.0, 1e-6))
            .collect();
        let from = engine.layout.pack(&items, Latent::STANDARD);
        // Coordinates per item: slope, intercept, logit c.
        let mut to = from.clone();
        to[2] += 0.5;
        let change = engine.max_change(&from, &to);
        assert!(change < 1e-6 && change > 0.0, "{change}");
        to[0] += 0.5;
        assert_eq!(engine.max_change(&from, &to), 0.5);
    }
}
