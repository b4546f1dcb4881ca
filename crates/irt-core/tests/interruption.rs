//! Every long phase stops when the caller's interrupt fires, on whatever thread polls it, with
//! `CoreError::Interrupted`: the E-step (within a cycle), the standard errors (between batches of persons, panels of the
//! factorisation, blocks of the inverse) and the scores (between chunks of persons).

mod common;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{pool, simulate};
use irt_core::linalg::{cholesky, InverseFromFactor};
use irt_core::{fit, score, CoreError, FitParams, Grid, Interrupt, ItemModel, ScoreMethod};

/// Fires from the `n`-th poll on; also returns the count of polls.
fn after(n: usize) -> (Interrupt, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    (
        Interrupt::new(move || counter.fetch_add(1, Ordering::SeqCst) + 1 >= n),
        polls,
    )
}

fn interrupted<T>(r: irt_core::Result<T>) -> bool {
    matches!(r, Err(CoreError::Interrupted { .. }))
}

/// A 600 × 600 positive definite matrix.
fn spd(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] = if i == j {
                n as f64
            } else {
                1.0 / (1.0 + (i + j) as f64)
            };
        }
    }
    m
}

#[test]
fn the_factorisation_and_the_inverse_stop_between_panels() {
    let n = 600;
    let (interrupt, polls) = after(10);
    let mut m = spd(n);
    assert!(interrupted(cholesky(&mut m, n, &interrupt)));
    // The rows of the panel after the one that fired are skipped: a poll or two more at most.
    let n_polls = polls.load(Ordering::SeqCst);
    assert!((10..=12).contains(&n_polls), "{n_polls} polls");
    let mut l = spd(n);
    cholesky(&mut l, n, &Interrupt::never()).unwrap().unwrap();
    let (interrupt, _) = after(5);
    let pool = pool(2);
    assert!(interrupted(
        pool.install(|| InverseFromFactor::new(&l, n, &interrupt))
    ));
}

/// Counts polls and fires from the `n`-th on, never if `n` is 0.
fn counting(n: usize) -> (Interrupt, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    (
        Interrupt::new(move || {
            let k = counter.fetch_add(1, Ordering::SeqCst) + 1;
            n > 0 && k >= n
        }),
        polls,
    )
}

#[test]
fn the_e_step_stops_within_a_cycle() {
    let sim = simulate(40, 20_000, 40, 40, 0.0, 1.0);
    let params = FitParams::new(ItemModel::TwoPL).standard_errors(irt_core::StandardErrors::None);
    let (interrupt, all_polls) = counting(0);
    let config = params.clone().interrupt(interrupt).check(40).unwrap();
    let whole = fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap();
    let per_cycle = all_polls.load(Ordering::SeqCst) / whole.cycles;
    // Fired at the first poll: every leaf of the first E-step polls as it starts and stops, and
    // no cycle runs to its end.
    let (interrupt, polls) = counting(1);
    let config = params.interrupt(interrupt).check(40).unwrap();
    let result = fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(()));
    assert!(interrupted(result));
    let n_polls = polls.load(Ordering::SeqCst);
    assert!(
        n_polls <= per_cycle,
        "{n_polls} polls; a whole cycle polls {per_cycle} times"
    );
}

#[test]
fn the_standard_errors_stop_between_batches() {
    let sim = simulate(41, 5_000, 40, 40, 0.0, 1.0);
    let params = FitParams::new(ItemModel::TwoPL);
    // The polls of EM alone (its E-steps), the same in every run of these data.
    let (interrupt, em_polls) = counting(0);
    let without = params
        .clone()
        .standard_errors(irt_core::StandardErrors::None)
        .interrupt(interrupt)
        .check(40)
        .unwrap();
    fit(&sim.data, &without, &pool(2), |_| ControlFlow::Continue(())).unwrap();
    let em_polls = em_polls.load(Ordering::SeqCst);
    // Fires at the standard errors' second poll.
    let (interrupt, polls) = counting(em_polls + 2);
    let config = params.interrupt(interrupt).check(40).unwrap();
    let result = fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(()));
    assert!(interrupted(result));
    assert_eq!(
        polls.load(Ordering::SeqCst),
        em_polls + 2,
        "the second batch of persons did not start"
    );
}

#[test]
fn scoring_stops_between_chunks() {
    let sim = simulate(42, 40_000, 20, 20, 0.0, 1.0);
    let grid = Grid::new(121, -6.0, 6.0).unwrap();
    let (interrupt, polls) = after(2);
    let result = score(
        &sim.data,
        &sim.items,
        &[irt_core::Latent::STANDARD],
        &grid,
        ScoreMethod::Eap,
        &pool(2),
        &interrupt,
    );
    assert!(interrupted(result));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}
