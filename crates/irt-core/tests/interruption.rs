//! Every long phase stops when the caller's interrupt fires, on whatever thread polls it, with
//! `CoreError::Interrupted`: the standard errors (between batches of persons, panels of the
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

#[test]
fn the_standard_errors_stop_between_batches() {
    let sim = simulate(41, 5_000, 40, 40, 0.0, 1.0);
    let (interrupt, polls) = after(2);
    let config = FitParams::new(ItemModel::TwoPL)
        .interrupt(interrupt)
        .check(40)
        .unwrap();
    // EM itself is stopped by its observer; the interrupt is for the phases after it.
    let result = fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(()));
    assert!(interrupted(result));
    assert_eq!(
        polls.load(Ordering::SeqCst),
        2,
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
        irt_core::Latent::STANDARD,
        &grid,
        ScoreMethod::Eap,
        &pool(2),
        &interrupt,
    );
    assert!(interrupted(result));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}
