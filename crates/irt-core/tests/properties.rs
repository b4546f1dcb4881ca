//! Determinism across thread counts, typed errors for impossible input, and the observer.

mod common;

use std::ops::ControlFlow;

use common::*;
use irt_core::{
    fit, score, Algorithm, CoreError, FitParams, Grid, ItemModel, ItemParams, Priors, Responses,
    ScoreMethod, Termination,
};

#[test]
fn one_and_many_threads_give_identical_bits() {
    let sim = simulate(21, 30_000, 120, 30, 0.0, 1.0);
    for model in [ItemModel::TwoPL, ItemModel::ThreePL] {
        let config = FitParams::new(model)
            .priors(Priors::DEFAULT)
            .check(120)
            .unwrap();
        let run = |threads| {
            fit(&sim.data, &config, &pool(threads), |_| {
                ControlFlow::Continue(())
            })
            .unwrap()
        };
        let (one, many) = (run(1), run(4));
        assert_eq!(one.log_lik.to_bits(), many.log_lik.to_bits(), "{model:?}");
        assert_eq!(one.cycles, many.cycles);
        for (a, b) in one.items.iter().zip(&many.items) {
            assert_eq!(a, b, "{model:?}");
        }
        let grid = Grid::new(121, -6.0, 6.0).unwrap();
        let s1 = score(
            &sim.data,
            &one.item_params(),
            &[one.latent],
            &grid,
            ScoreMethod::Eap,
            &pool(1),
            &irt_core::Interrupt::never(),
        )
        .unwrap();
        let s4 = score(
            &sim.data,
            &one.item_params(),
            &[one.latent],
            &grid,
            ScoreMethod::Eap,
            &pool(4),
            &irt_core::Interrupt::never(),
        )
        .unwrap();
        assert_eq!(s1, s4);
        println!(
            "{model:?}: 1 and 4 threads agree to the bit over {} cycles",
            one.cycles
        );
    }
}

fn tiny(triples: &[(u32, u32, bool)], n_persons: usize, n_items: usize) -> Responses {
    Responses::from_triples(n_persons, n_items, triples).unwrap()
}

fn fit_error(data: &Responses, params: FitParams) -> CoreError {
    let config = params.check(data.n_items()).unwrap();
    fit(data, &config, &pool(1), |_| ControlFlow::Continue(())).unwrap_err()
}

#[test]
fn impossible_input_gives_typed_errors() {
    let two_pl = || FitParams::new(ItemModel::TwoPL);
    assert_eq!(
        fit_error(&Responses::with_items(2), two_pl()),
        CoreError::NoAnswers
    );
    let all_right = tiny(
        &[(0, 0, true), (0, 1, false), (1, 0, true), (1, 1, true)],
        2,
        2,
    );
    assert_eq!(
        fit_error(&all_right, two_pl()),
        CoreError::ConstantItem {
            item: 0,
            all_correct: true
        }
    );
    let all_wrong = tiny(
        &[(0, 0, false), (0, 1, false), (1, 0, false), (1, 1, true)],
        2,
        2,
    );
    assert_eq!(
        fit_error(&all_wrong, two_pl()),
        CoreError::ConstantItem {
            item: 0,
            all_correct: false
        }
    );
    let unanswered = tiny(&[(0, 0, false), (1, 0, true)], 2, 2);
    assert_eq!(
        fit_error(&unanswered, two_pl()),
        CoreError::EmptyItem { item: 1 }
    );
    let silent_person = tiny(&[(0, 0, false), (1, 0, true)], 3, 1);
    assert_eq!(
        fit_error(&silent_person, two_pl()),
        CoreError::EmptyPerson { person: 2 }
    );
    let mismatch = FitParams::new(ItemModel::TwoPL).check(5).unwrap();
    let err = fit(&unanswered, &mismatch, &pool(1), |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(matches!(
        err,
        CoreError::InvalidSetting { field: "items", .. }
    ));
    // Every message reads as a sentence fragment for an SQL error: lowercase, no period.
    for e in [
        CoreError::NoAnswers,
        CoreError::EmptyItem { item: 3 },
        CoreError::NothingToEstimate,
    ] {
        let text = e.to_string();
        assert!(
            text.chars().next().unwrap().is_lowercase() && !text.ends_with('.'),
            "{text}"
        );
    }
}

#[test]
fn observer_sees_every_cycle_and_can_interrupt() {
    let sim = simulate(22, 2_000, 20, 20, 0.0, 1.0);
    let config = FitParams::new(ItemModel::TwoPL).check(20).unwrap();
    let mut seen = Vec::new();
    let result = fit(&sim.data, &config, &pool(2), |r| {
        seen.push(*r);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen.len(), result.cycles);
    assert!(seen.windows(2).all(|w| w[1].cycle == w[0].cycle + 1));
    assert!(seen.last().unwrap().max_change < 1e-4);
    let stopped = fit(&sim.data, &config, &pool(2), |r| {
        if r.cycle == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(
        (stopped.termination, stopped.cycles),
        (Termination::Interrupted, 3)
    );
    let capped = FitParams::new(ItemModel::TwoPL)
        .max_cycles(2)
        .check(20)
        .unwrap();
    let capped = fit(&sim.data, &capped, &pool(2), |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(
        (capped.termination, capped.cycles),
        (Termination::MaxCycles, 2)
    );
}

#[test]
fn plain_em_and_squarem_reach_the_same_maximum() {
    let sim = simulate(23, 3_000, 25, 25, 0.0, 1.0);
    let run = |algorithm| {
        let config = FitParams::new(ItemModel::TwoPL)
            .tolerance(1e-7)
            .algorithm(algorithm)
            .check(25)
            .unwrap();
        fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap()
    };
    let (plain, fast) = (run(Algorithm::Em), run(Algorithm::Squarem));
    println!(
        "tolerance 1e-7: plain EM {} cycles, SQUAREM {} cycles",
        plain.cycles, fast.cycles
    );
    let (dev, _) = worst(
        plain
            .items
            .iter()
            .zip(&fast.items)
            .map(|(p, f)| (p.params.slope(), f.params.slope())),
    );
    assert!(dev < 1e-5 && fast.cycles < plain.cycles);
    assert!((plain.log_lik - fast.log_lik).abs() < 1e-6);
}

#[test]
fn given_start_values_are_used() {
    let sim = simulate(24, 2_000, 10, 10, 0.0, 1.0);
    let mut params = FitParams::new(ItemModel::TwoPL);
    for (j, &truth) in sim.items.iter().enumerate() {
        params = params.start_item(j, truth);
    }
    // The first cycle starts where it was told to: its log-likelihood is the truth's.
    let mut first = None;
    let from_truth = fit(&sim.data, &params.check(10).unwrap(), &pool(1), |r| {
        first.get_or_insert(r.log_lik);
        ControlFlow::Continue(())
    })
    .unwrap();
    let grid = irt_core::Grid::new(61, -6.0, 6.0).unwrap();
    let at_truth = irt_core::log_likelihood(
        &sim.data,
        &sim.items,
        &[irt_core::Latent::STANDARD],
        &grid,
        &pool(1),
    )
    .unwrap();
    approx::assert_relative_eq!(first.unwrap(), at_truth, max_relative = 1e-12);
    let classical = FitParams::new(ItemModel::TwoPL).check(10).unwrap();
    let classical = fit(&sim.data, &classical, &pool(1), |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    let (dev, _) = worst(
        from_truth
            .items
            .iter()
            .zip(&classical.items)
            .map(|(a, b)| (a.params.b(), b.params.b())),
    );
    assert!(dev < 1e-3, "{dev}");
    let bad = FitParams::new(ItemModel::TwoPL).start_item(0, ItemParams::new(f64::NAN, 0.0, 0.0));
    assert!(matches!(
        bad.check(10),
        Err(CoreError::InvalidItemParams { item: 0, .. })
    ));
}
