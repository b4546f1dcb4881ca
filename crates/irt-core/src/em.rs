//! Bock–Aitkin EM with SQUAREM acceleration.
//!
//! Every cycle is one E-step plus M-step (the EM map). SQUAREM (Varadhan & Roland, 2008)
//! extrapolates along two EM steps and then takes one more EM step from the extrapolated point;
//! the extrapolation is kept only if the log posterior there is no lower than after the first
//! EM step, so the sequence stays monotone. Convergence is declared only when a plain EM step
//! moved no parameter by more than the tolerance — never on an extrapolated move, which can be
//! small while EM is still going somewhere (mirt issue #257). Plain EM and mirt's own EM
//! (`mirt_compat`) run on the same engine.

use std::ops::ControlFlow;

use rayon::ThreadPool;

pub use crate::engine::{CycleReport, Termination};

use crate::engine::{norm, Engine, Progress, Step};
use crate::error::{CoreError, Result};
use crate::layout::Layout;
use crate::mirt_compat;
use crate::model::{ItemModel, ItemParams, ParamCovariance};
use crate::params::{Algorithm, FitConfig, StandardErrors};
use crate::quadrature::{Grid, Latent};
use crate::responses::{check_categories, ItemStats, Responses};
use crate::stderr::{item_covariances, JointCovariance, SE_METHOD, SE_METHOD_BLOCKS};

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
    /// Covariance of the IRT form; rows of parameters not estimated are zero.
    pub covariance: Option<ParamCovariance>,
    /// For an item held fixed: where the data would move it if it alone were released, from the
    /// final E-step (its M-step from the fixed values; Winsteps calls the move displacement).
    pub released: Option<ItemParams>,
    /// For an item in [`FitConfig::screened`]: the final E-step's expected counts.
    pub counts: Option<NodeCounts>,
}

/// An item's expected answers in each category at each node of the fit's grid (a right/wrong
/// item's: wrong, right).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCounts {
    pub categories: Vec<Vec<f64>>,
}

impl ItemEstimate {
    /// Standard errors of the IRT form, (a, b, c) or (a, b_1 …); zero for a parameter not
    /// estimated.
    pub fn standard_errors(&self) -> Option<Vec<f64>> {
        self.covariance.map(|c| c.standard_errors())
    }

    /// Standard error of a dichotomous item's d = −a·b by the delta method.
    pub fn d_standard_error(&self) -> Option<f64> {
        Some(self.params.d_standard_error(&self.covariance?.abc()))
    }
}

#[derive(Clone, Debug)]
pub struct FitResult {
    pub model: ItemModel,
    pub items: Vec<ItemEstimate>,
    pub item_stats: Vec<ItemStats>,
    /// The reference group's latent distribution (everyone's without groups).
    pub latent: Latent,
    /// Each group's, the reference group's first.
    pub group_latents: Vec<Latent>,
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
    /// Covariance of the reference group's latent (mean, variance), zero where they are fixed.
    pub latent_covariance: Option<[[f64; 2]; 2]>,
    /// Each group's, the reference group's first.
    pub group_latent_covariances: Option<Vec<[[f64; 2]; 2]>>,
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
    if data.n_groups() > 1 && config.algorithm == Algorithm::MirtCompatible {
        // As with anchors: the groups' latent distributions need mirt's latent-parameter
        // optimiser, which that mode does not reproduce.
        return Err(CoreError::InvalidSetting {
            field: "algorithm",
            reason: "mirt-compatible mode fits one group; calibrate groups with squarem or em"
                .into(),
        });
    }
    let item_stats = data.check()?;
    check_categories(&item_stats, |j| config.categories[j].map(|(_, k)| k), true)?;
    let mut engine = Engine::new(data, config, pool, &item_stats)?;
    let mut x = engine.layout.pack(&engine.template, &engine.start_latent);
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
    let (items, latents) = engine.unpack(&x);
    let counts = engine.e_step(&items, &latents)?;
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
            &latents,
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
                Layout::item_coords(config, j),
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
                    categories: (0..params.categories())
                        .map(|x| counts.category(j, x).to_vec())
                        .collect(),
                }),
            })
            .collect(),
        item_stats,
        latent: latents[0],
        group_latents: latents,
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
        latent_covariance: covariances.as_ref().map(|c| c.latent[0]),
        group_latent_covariances: covariances.as_ref().map(|c| c.latent.clone()),
        grid: config.grid.clone(),
        joint_covariance: covariances.map(|c| c.joint),
    })
}
