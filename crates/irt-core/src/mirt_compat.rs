//! mirt-compatible EM: the EM of R mirt 1.46 reproduced cycle for cycle, so that estimates can
//! be checked against mirt's to about 1e-6. mirt's convergence test is met while EM still
//! creeps towards the maximum, so where it stops depends on every rule of its run:
//!
//! - start values: mirt's (see `start`), an item in categories' included;
//! - M-step: one BFGS over all free item parameters (a, d or d_1 … d_(K−1), logit g) together,
//!   from the cycle's start, stopped at optim's relative tolerance or max(⌈50 · rate⌉, 15)
//!   iterations, where the rate starts at 0.4 and becomes exp(−gain) after a cycle whose
//!   log-likelihood rose by gain;
//! - convergence: every parameter (g on the probability scale) moved less than the tolerance
//!   in the cycle's M-step, the unaccelerated M-step result is returned;
//! - Ramsay acceleration on every third cycle while the rate exceeds 0.01.
//!
//! mirt's Rasch estimates the latent variance jointly with the intercepts by nlminb; here the
//! intercepts' exact maximum and the variance moment (the default M-step) stand in, which lands
//! within about 5e-5 of mirt. mirt also clamps aθ + d to ±35 and replaces a non-finite
//! objective by a huge value; the log-space likelihood here needs neither (a non-finite value
//! fails the line search), and the clamp changes nothing measurable on mirt's reference fits.

use std::ops::ControlFlow;

use crate::bfgs;
use crate::engine::{norm, CycleReport, Engine, Progress, Termination};
use crate::error::{CoreError, Result};
use crate::estep::Counts;
use crate::model::{ItemModel, ItemParams};
use crate::quadrature::Latent;

const INITIAL_RATE: f64 = 0.4;
/// BFGS iterations per M-step: ⌈ITERATIONS_PER_RATE · rate⌉, at least MIN_ITERATIONS.
const ITERATIONS_PER_RATE: f64 = 50.0;
const MIN_ITERATIONS: usize = 15;
/// optim's default relative tolerance, √ε.
const REL_TOL: f64 = 1.490_116_119_384_765_6e-8;
/// Ramsay acceleration on every ACCELERATION_PERIOD-th cycle while the rate exceeds MIN_RATE.
const ACCELERATION_PERIOD: usize = 3;
const MIN_RATE: f64 = 0.01;
/// Largest extrapolation factor: mirt bounds its acceleration coefficient 1 − ratio below by −5.
const MAX_RATIO: f64 = 6.0;

/// mirt's EM from `x`; returns where it stopped and why.
pub(crate) fn run(
    engine: &Engine,
    progress: &mut Progress<impl FnMut(&CycleReport) -> ControlFlow<()>>,
    mut x: Vec<f64>,
) -> Result<(Vec<f64>, Termination)> {
    let mut rate = INITIAL_RATE;
    // +∞ so that the first cycle, which has no predecessor, leaves the rate alone.
    let mut last_log_lik = f64::INFINITY;
    let mut last_move = vec![0.0; x.len()];
    loop {
        let (items, latents) = engine.unpack(&x);
        let counts = engine.e_step(&items, &latents)?;
        if counts.log_lik > last_log_lik {
            rate = (last_log_lik - counts.log_lik).exp();
        }
        last_log_lik = counts.log_lik;
        let next = m_step(engine, &x, &items, &latents, &counts, rate);
        if !next.iter().all(|v| v.is_finite()) {
            return Err(CoreError::NonFinite {
                what: "item parameters",
            });
        }
        let stop = progress.record(counts.log_lik, engine.max_change(&x, &next));
        let moved: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        // At the cycle limit mirt still extrapolates: its loop ends after the acceleration.
        let accelerate = progress.cycles.is_multiple_of(ACCELERATION_PERIOD)
            && rate > MIN_RATE
            && !matches!(
                stop,
                Some(Termination::Converged | Termination::Interrupted)
            );
        x = if accelerate {
            ramsay(engine, &x, next, &moved, &last_move)
        } else {
            next
        };
        last_move = moved;
        if let Some(t) = stop {
            return Ok((x, t));
        }
    }
}

/// BFGS on the items' expected log-likelihood; Rasch takes the default M-step instead.
fn m_step(
    engine: &Engine,
    x: &[f64],
    items: &[ItemParams],
    latents: &[Latent],
    counts: &Counts,
    rate: f64,
) -> Vec<f64> {
    if engine.config.model == ItemModel::Rasch {
        return engine.m_step(items, latents, counts);
    }
    let max_iterations = ((ITERATIONS_PER_RATE * rate).ceil() as usize).max(MIN_ITERATIONS);
    bfgs::minimise(x.to_vec(), max_iterations, REL_TOL, |y| {
        negative_log_lik(engine, counts, y)
    })
}

/// Minus the expected complete-data log-likelihood of the items at `x`, with its gradient.
fn negative_log_lik(engine: &Engine, counts: &Counts, x: &[f64]) -> (f64, Vec<f64>) {
    let (items, _) = engine.unpack(x);
    let (offsets, ..) = engine.layout.offsets();
    let mut value = 0.0;
    let mut grad = vec![0.0; x.len()];
    for (&(j, free), at) in engine.layout.free.iter().zip(offsets) {
        let d = engine
            .item_counts(counts, j)
            .log_lik(&items[j], free.guessing());
        value -= d.value;
        for (k, &i) in free.indices().iter().enumerate() {
            grad[at + k] = -d.grad[i];
        }
    }
    (value, grad)
}

/// Ramsay's acceleration as mirt applies it: the item coordinates go `ratio` times this cycle's
/// move `moved` from `from`, with ratio = ‖moved‖ / ‖moved − last_move‖ over all coordinates,
/// at most MAX_RATIO; the latent distribution keeps its M-step value `next`.
fn ramsay(
    engine: &Engine,
    from: &[f64],
    mut next: Vec<f64>,
    moved: &[f64],
    last_move: &[f64],
) -> Vec<f64> {
    let bend: Vec<f64> = moved.iter().zip(last_move).map(|(a, b)| a - b).collect();
    let ratio = norm(moved) / norm(&bend);
    // Two identical moves (no curvature to measure) give no ratio.
    if !ratio.is_finite() {
        return next;
    }
    let ratio = ratio.min(MAX_RATIO);
    let n_items = engine.layout.n_item_coords();
    for ((n, f), m) in next.iter_mut().zip(from).zip(moved).take(n_items) {
        *n = f + ratio * m;
    }
    next
}
