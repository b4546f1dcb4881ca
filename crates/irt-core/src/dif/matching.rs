//! Matching persons who took different items: each is scored by EAP on the matching items they
//! answered, under one prior for everyone, and matched on the expected score of every matching
//! item at that θ, rounded (Zwick, Thayer & Wingersky 1994, for adaptive tests). One prior for
//! both groups, the reference group's: under each group's own prior, persons with the same
//! answers would land in different strata, and the groups' difference in ability would be read
//! as DIF.

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::alloc;
use crate::error::Result;
use crate::interrupt::Interrupt;
use crate::model::ItemParams;
use crate::quadrature::Latent;
use crate::responses::Responses;
use crate::scoring::{score, scoring_grid, ScoreMethod};

/// Each person's stratum given the matching items: the rounded expected score on them at the
/// person's EAP θ from their answers to them (None: no answer to any).
pub fn expected_score_strata(
    data: &Responses,
    items: &[ItemParams],
    prior: Latent,
    matching: &[bool],
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<Vec<Option<u32>>> {
    let grid = scoring_grid(&[prior])?;
    let kept: Vec<ItemParams> = (0..data.n_items())
        .filter(|&j| matching[j])
        .map(|j| items[j])
        .collect();
    let mut theta_of = alloc::filled(data.n_persons(), None, "the matching scores")?;
    if matching.iter().all(|&m| m) {
        // Every item matches: the data as they are, whose persons the run has already grouped
        // by test form, each group under the one prior.
        let priors = alloc::filled(data.n_groups(), prior, "the matching priors")?;
        let scores = score(
            data,
            items,
            &priors,
            &grid,
            ScoreMethod::Eap,
            pool,
            interrupt,
        )?;
        for (i, (theta, s)) in theta_of.iter_mut().zip(&scores).enumerate() {
            if !data.person(i).0.is_empty() {
                *theta = Some(s.theta);
            }
        }
    } else {
        let mut new_index = alloc::filled(data.n_items(), None, "the matching items")?;
        for (k, j) in (0..data.n_items()).filter(|&j| matching[j]).enumerate() {
            new_index[j] = Some(k as u32);
        }
        let (answers, persons) = data.keep_items(&new_index, kept.len())?;
        let scores = score(
            &answers,
            &kept,
            &[prior],
            &grid,
            ScoreMethod::Eap,
            pool,
            interrupt,
        )?;
        for (i, s) in persons.into_iter().zip(scores) {
            theta_of[i] = Some(s.theta);
        }
    }
    let mut strata = alloc::filled(data.n_persons(), None, "the matching strata")?;
    pool.install(|| {
        strata
            .par_iter_mut()
            .zip(theta_of.par_iter())
            .for_each(|(stratum, theta)| {
                *stratum = theta.map(|theta| {
                    let t: f64 = kept.iter().map(|p| p.expected_score(theta)).sum();
                    t.round() as u32
                });
            });
    });
    Ok(strata)
}
