//! Person scores given item parameters: EAP (posterior mean and SD on a fine grid, as mirt's
//! `fscores`) or MAP (posterior mode by Newton, SE from the test information plus the prior's).

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::estep::Posteriors;
use crate::forms::Forms;
use crate::interrupt::Interrupt;
use crate::model::ItemParams;
use crate::names::named;
use crate::optimise::{MAX_NEWTON, MAX_STEP, STEP_TOL};
use crate::quadrature::{Grid, Latent};
use crate::responses::Responses;
use crate::simd;

/// mirt's `fscores` integrates on 121 points over [−6, 6].
pub const DEFAULT_SCORING_POINTS: usize = 121;

/// The grid persons from `latents` (one per group) are scored on: mirt's for N(0, 1), wider
/// for a population that [−6, 6] would cut (see [`Grid::covering`]).
pub fn scoring_grid(latents: &[Latent]) -> Result<Grid> {
    Grid::covering(DEFAULT_SCORING_POINTS, latents)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreMethod {
    Eap,
    Map,
}

named!(ScoreMethod, "scoring", "scoring method", "methods", {
    Eap => "EAP",
    Map => "MAP",
});

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub theta: f64,
    /// Posterior SD (EAP) or asymptotic SE (MAP).
    pub se: f64,
}

/// Persons scored between two polls of the interrupt.
const SCORING_CHUNK: usize = 16_384;

/// Scores every person of `data` under their group's latent distribution (`latents`, one per
/// group); persons without answers get the prior's mean and SD. `interrupt` is polled between
/// chunks of persons.
pub fn score(
    data: &Responses,
    items: &[ItemParams],
    latents: &[Latent],
    grid: &Grid,
    method: ScoreMethod,
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<Vec<Score>> {
    data.check_answers(items)?;
    let forms = Forms::detect(data)?;
    let posteriors = Posteriors::new(data, &forms, items, latents, grid.nodes())?;
    let unscored = Score {
        theta: f64::NAN,
        se: f64::NAN,
    };
    let mut scores = alloc::filled(data.n_persons(), unscored, "the scores")?;
    pool.install(|| {
        for (c, chunk) in scores.chunks_mut(SCORING_CHUNK).enumerate() {
            interrupt.check()?;
            chunk.par_iter_mut().enumerate().for_each_init(
                || vec![0.0; grid.len()],
                |post, (k, out)| {
                    let i = c * SCORING_CHUNK + k;
                    let eap = eap(&posteriors, data, i, post, grid.nodes());
                    *out = match method {
                        ScoreMethod::Eap => eap,
                        ScoreMethod::Map => {
                            map_score(data, i, items, latents[data.group(i)], eap.theta)
                        }
                    };
                },
            );
        }
        Ok::<_, CoreError>(())
    })?;
    Ok(scores)
}

simd::multiversion! {
/// Person i's EAP and posterior SD, their posterior left in `post`.
fn eap(posteriors: &Posteriors, data: &Responses, i: usize, post: &mut [f64], nodes: &[f64]) -> Score {
    posteriors.posterior(data, i, post);
    posterior_moments(post, nodes)
}
}

#[inline(always)]
fn posterior_moments(post: &[f64], nodes: &[f64]) -> Score {
    let mean: f64 = post.iter().zip(nodes).map(|(p, t)| p * t).sum();
    let var: f64 = post
        .iter()
        .zip(nodes)
        .map(|(p, t)| p * (t - mean).powi(2))
        .sum();
    // A posterior narrower than a grid cell (very steep items, or a latent variance at its
    // bound) has all its mass on one node, and its SD came out as exactly 0. The grid resolves
    // no more than the cell, so report at least the SD of a uniform spread over it, h/√12.
    // (Not `max`, which would hide a NaN.)
    let resolution = (nodes[1] - nodes[0]) / 12f64.sqrt();
    let sd = var.sqrt();
    Score {
        theta: mean,
        se: if sd < resolution { resolution } else { sd },
    }
}

/// Fisher scoring on the log posterior from the EAP, with step halving.
fn map_score(
    data: &Responses,
    i: usize,
    items: &[ItemParams],
    latent: Latent,
    start: f64,
) -> Score {
    let (answered, correct) = data.person(i);
    let log_post = |theta: f64| -> f64 {
        let lik: f64 = answered
            .iter()
            .zip(correct)
            .map(|(&j, &x)| items[j as usize].log_prob(theta, x))
            .sum();
        lik - 0.5 * (theta - latent.mean).powi(2) / latent.variance
    };
    let info_and_grad = |theta: f64| -> (f64, f64) {
        let mut grad = -(theta - latent.mean) / latent.variance;
        let mut info = 1.0 / latent.variance;
        for (&j, &x) in answered.iter().zip(correct) {
            let p = &items[j as usize];
            grad += p.theta_score(theta, x);
            info += p.information(theta);
        }
        (info, grad)
    };
    // Fisher scoring with the M-step's limits; halving stops short of a rounding-level step.
    let mut theta = start;
    for _ in 0..MAX_NEWTON {
        let (info, grad) = info_and_grad(theta);
        let mut step = (grad / info).clamp(-MAX_STEP, MAX_STEP);
        let here = log_post(theta);
        while log_post(theta + step) < here && step.abs() > 1e-12 {
            step *= 0.5;
        }
        theta += step;
        if step.abs() < STEP_TOL {
            break;
        }
    }
    Score {
        theta,
        se: 1.0 / info_and_grad(theta).0.sqrt(),
    }
}

/// Information of the test (sum over items) at θ.
pub fn test_information(items: &[ItemParams], theta: f64) -> f64 {
    items.iter().map(|p| p.information(theta)).sum()
}

/// Expected number correct at θ.
pub fn test_characteristic(items: &[ItemParams], theta: f64) -> f64 {
    items.iter().map(|p| p.prob(theta)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scoring's AVX2 copy and its portable one give the same bits.
    #[test]
    fn both_copies_of_scoring_agree_bit_for_bit() {
        let sim = crate::simulate::simulate(9, 500, 30, 12, 0.2, 1.1);
        let grid = scoring_grid(&[Latent::STANDARD]).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (wide, portable) = crate::simd::tests::both(|| {
            let run = score(
                &sim.data,
                &sim.items,
                &[Latent::STANDARD],
                &grid,
                ScoreMethod::Eap,
                &pool,
                &Interrupt::never(),
            );
            run.unwrap()
        });
        assert!(wide.iter().zip(&portable).all(|(a, b)| {
            a.theta.to_bits() == b.theta.to_bits() && a.se.to_bits() == b.se.to_bits()
        }));
    }
}
