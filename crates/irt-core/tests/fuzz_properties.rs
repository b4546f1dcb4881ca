//! Property-based tests of the core (proptest is its fuzzer): under arbitrary small response
//! sets and every setting, `fit` never panics and either refuses with the typed error that names
//! the problem or returns only finite numbers, and every person gets a finite score; estimates
//! do not depend on the order of persons or the numbering of items; linking recovers known
//! constants, moves with the 'to' difficulties and fails only with typed errors; the item
//! response function is finite and self-consistent everywhere.
//!
//! Each property's case count below is multiplied by `IRT_PROPTEST_SCALE` (default 1: about
//! 234,000 cases in a minute on two cores; 5 runs over a million). The scale overrides
//! proptest's own `PROPTEST_CASES`. Runs are deterministic, from a fixed seed, unless
//! `PROPTEST_RNG_SEED=<u64>` picks another: a fuzzing campaign varies it. Failures are not
//! persisted to files: proptest prints the shrunk input, which belongs in a regression test
//! (see the end of this file).

mod common;

use std::ops::ControlFlow;

use common::{pool, simulate};
use irt_core::linking::{
    linking_constants, ItemCovariance, JointCovariance, LinkingError, LinkingMethod,
};
use irt_core::params::{
    DEFAULT_MAX_CYCLES, DEFAULT_QUADRATURE_POINTS, DEFAULT_THETA_RANGE, DEFAULT_TOLERANCE,
};
use irt_core::scoring::DEFAULT_SCORING_POINTS;
use irt_core::{
    fit, score, Algorithm, CoreError, FitParams, FitResult, Grid, ItemModel, ItemParams, ItemPoint,
    Priors, Responses, ScoreMethod,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngSeed;
use rayon::ThreadPool;

/// Cases per property at scale 1; the cheap properties carry most of the cases.
const RESPONSE_FUNCTION_CASES: u32 = 200_000;
const LINKING_CASES: u32 = 10_000;
const SMALL_FIT_CASES: u32 = 4_000;
const PERMUTATION_CASES: u32 = 64;

/// The seed of every run that does not set PROPTEST_RNG_SEED.
const FIXED_SEED: u64 = 0;

/// Invariant fits converge to this tolerance, and must then agree to INVARIANCE relative.
const INVARIANCE_FIT_TOLERANCE: f64 = 1e-8;
const INVARIANCE: f64 = 1e-6;
/// Linking: a known A and B recovered to this, by every method.
const ROUND_TRIP: f64 = 1e-6;
/// Linking: the shift of the intercept by the closed-form moment methods and by the
/// characteristic-curve methods, which stop at a Newton tolerance.
const MOMENT_SHIFT: f64 = 1e-9;
const CURVE_SHIFT: f64 = 1e-6;
/// exp(log P) against P, relative.
const LOG_PROB: f64 = 1e-12;

fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("IRT_PROPTEST_SCALE").map_or(1.0, |s| {
        s.parse::<f64>()
            .ok()
            .filter(|x| *x > 0.0)
            .expect("IRT_PROPTEST_SCALE must be a positive number")
    });
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: (f64::from(cases) * scale).ceil() as u32,
        // Regression files would be written into the source tree.
        failure_persistence: None,
        // Deterministic like every other test; `defaults` holds PROPTEST_RNG_SEED if set.
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
            defaults.rng_seed
        } else {
            RngSeed::Fixed(FIXED_SEED)
        },
        ..defaults
    }
}

thread_local! {
    /// One thread per pool, one pool per test thread: the data are small, and the harness runs
    /// the properties in parallel already (a pool shared between them would serialise them).
    static POOL: ThreadPool = pool(1);
}

fn run(data: &Responses, params: &FitParams) -> Result<FitResult, CoreError> {
    let config = params.check(data.n_items())?;
    POOL.with(|pool| fit(data, &config, pool, |_| ControlFlow::Continue(())))
}

// ---------------------------------------------------------------------------------------------
// Small fits on arbitrary data
// ---------------------------------------------------------------------------------------------

/// A small calibration: person × item answers (None where unanswered) and its settings.
#[derive(Clone, Debug)]
struct SmallFit {
    n_items: usize,
    answers: Vec<Vec<Option<bool>>>,
    model: ItemModel,
    priors: Priors,
    algorithm: Algorithm,
    tolerance: f64,
    max_cycles: usize,
    /// Quadrature points on [−half width, half width].
    quadrature: (usize, f64),
    /// Item 0 held at these values.
    anchor: Option<ItemParams>,
}

impl SmallFit {
    fn responses(&self) -> Responses {
        let mut data = Responses::with_items(self.n_items);
        for row in &self.answers {
            let answered = row
                .iter()
                .enumerate()
                .filter_map(|(j, x)| x.map(|x| (j as u32, x)));
            data.push_person(answered).unwrap();
        }
        data
    }

    fn params(&self) -> FitParams {
        let (points, half_width) = self.quadrature;
        let params = FitParams::new(self.model)
            .priors(self.priors)
            .algorithm(self.algorithm)
            .tolerance(self.tolerance)
            .max_cycles(self.max_cycles)
            .quadrature(points, -half_width, half_width);
        match self.anchor {
            Some(anchor) => params.fix_item(0, anchor),
            None => params,
        }
    }

    /// The error `fit` must give, worked out without the core: the settings first (mirt mode's
    /// limits, then an anchor on the only item), then the data in `Responses::check`'s order.
    fn expected_error(&self) -> Option<CoreError> {
        let mirt_refuses = self.algorithm == Algorithm::MirtCompatible
            && (self.priors != Priors::NONE
                || self.model == ItemModel::OnePL
                || self.anchor.is_some());
        if mirt_refuses {
            return Some(CoreError::InvalidSetting {
                field: "algorithm",
                reason: String::new(),
            });
        }
        if self.anchor.is_some() && self.n_items == 1 {
            return Some(CoreError::NothingToEstimate);
        }
        if self.answers.iter().flatten().all(Option::is_none) {
            return Some(CoreError::NoAnswers);
        }
        if let Some(person) = self
            .answers
            .iter()
            .position(|row| row.iter().all(Option::is_none))
        {
            return Some(CoreError::EmptyPerson { person });
        }
        (0..self.n_items).find_map(|item| {
            let answers: Vec<bool> = self.answers.iter().filter_map(|row| row[item]).collect();
            match answers.first() {
                None => Some(CoreError::EmptyItem { item }),
                Some(&first) if answers.iter().all(|&x| x == first) => {
                    Some(CoreError::ConstantItem {
                        item,
                        all_correct: first,
                    })
                }
                Some(_) => None,
            }
        })
    }
}

/// Setting errors carry a free-text reason; the field is what identifies them.
fn same_error(expected: &CoreError, got: &CoreError) -> bool {
    match (expected, got) {
        (
            CoreError::InvalidSetting { field: e, .. },
            CoreError::InvalidSetting { field: g, .. },
        ) => e == g,
        _ => expected == got,
    }
}

/// A probability that often sits at an end, where data degenerate: no answers, constant items.
fn probability() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 1 => Just(1.0), 6 => 0.0..=1.0]
}

/// Answers without structure: each cell answered with one probability, right with another.
fn noise_answers() -> impl Strategy<Value = (usize, Vec<Vec<Option<bool>>>)> {
    (1..=40usize, 1..=12usize, probability(), probability()).prop_flat_map(
        |(persons, items, answered, right)| {
            let cell = (prop::bool::weighted(answered), prop::bool::weighted(right))
                .prop_map(|(answered, right)| answered.then_some(right));
            (Just(items), vec(vec(cell, items), persons))
        },
    )
}

/// Person × item answers of `data`, None where unanswered.
fn matrix_of(data: &Responses) -> Vec<Vec<Option<bool>>> {
    (0..data.n_persons())
        .map(|i| {
            let mut row = vec![None; data.n_items()];
            for (j, x) in answers_of(data, i) {
                row[j as usize] = Some(x);
            }
            row
        })
        .collect()
}

/// Answers from a 2PL population, each person answering a random subset of the items.
fn simulated_answers() -> impl Strategy<Value = (usize, Vec<Vec<Option<bool>>>)> {
    (
        any::<u64>(),
        // Fewer persons mostly give constant items, which the noise answers cover.
        10..=40usize,
        1..=12usize,
        0.0..=1.0f64,
        -2.0..=2.0f64,
        0.1..=3.0f64,
    )
        .prop_map(|(seed, persons, items, share, mean, sd)| {
            let per_person = 1 + (share * (items - 1) as f64).round() as usize;
            let data = simulate(seed, persons, items, per_person, mean, sd).data;
            (items, matrix_of(&data))
        })
}

/// Anchor-like item parameters: a in [0.3, 3], b in [−3, 3], c in [0, 0.3].
fn anchor_point() -> impl Strategy<Value = ItemPoint> {
    (
        0.3..=3.0f64,
        -3.0..=3.0f64,
        prop_oneof![Just(0.0), 0.0..=0.3f64],
    )
        .prop_map(|(a, b, c)| ItemPoint { a, b, c })
}

fn small_fit() -> impl Strategy<Value = SmallFit> {
    (
        prop_oneof![1 => noise_answers(), 2 => simulated_answers()],
        select(ItemModel::ALL.to_vec()),
        select(vec![Priors::DEFAULT, Priors::NONE]),
        select(Algorithm::ALL.to_vec()),
        -8.0..=-1.0f64,
        1..=500usize,
        (5..=61usize, 3.0..=8.0f64),
        prop::option::weighted(0.2, anchor_point()),
    )
        .prop_map(
            |(
                (n_items, answers),
                model,
                priors,
                algorithm,
                log_tolerance,
                max_cycles,
                quadrature,
                anchor,
            )| SmallFit {
                n_items,
                answers,
                model,
                priors,
                algorithm,
                tolerance: 10f64.powf(log_tolerance),
                max_cycles,
                quadrature,
                anchor: anchor.map(|p| ItemParams::from_irt(p.a, p.b, p.c)),
            },
        )
}

fn assert_finite(what: &str, x: f64) -> Result<(), TestCaseError> {
    prop_assert!(x.is_finite(), "{} = {}", what, x);
    Ok(())
}

/// Every number of a fit is finite and lies where the model puts it.
fn assert_sound_fit(case: &SmallFit, result: &FitResult) -> Result<(), TestCaseError> {
    prop_assert_eq!(result.items.len(), case.n_items);
    let free_slopes: Vec<f64> = result
        .items
        .iter()
        .filter(|e| !e.fixed)
        .map(|e| e.params.slope())
        .collect();
    for (j, estimate) in result.items.iter().enumerate() {
        let p = estimate.params;
        for (what, x) in [
            ("a", p.slope()),
            ("d", p.intercept()),
            ("c", p.guessing()),
            ("b", p.b()),
        ] {
            assert_finite(&format!("item {j} {what}"), x)?;
        }
        prop_assert!(
            (0.0..1.0).contains(&p.guessing()),
            "item {} c = {}",
            j,
            p.guessing()
        );
        let anchored = j == 0 && case.anchor.is_some();
        prop_assert_eq!(estimate.fixed, anchored);
        if anchored {
            prop_assert_eq!(Some(p), case.anchor);
            prop_assert!(estimate.covariance.is_none());
        } else {
            match case.model {
                ItemModel::Rasch => prop_assert_eq!(p.slope(), 1.0),
                ItemModel::OnePL => prop_assert_eq!(p.slope(), free_slopes[0]),
                _ => {}
            }
            if !case.model.has_guessing() {
                prop_assert_eq!(p.guessing(), 0.0);
            }
        }
        for (r, row) in estimate.covariance.iter().flat_map(|c| c.abc()).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                assert_finite(&format!("item {j} covariance[{r}][{c}]"), v)?;
            }
            prop_assert!(row[r] >= 0.0, "item {} variance {} = {}", j, r, row[r]);
        }
    }
    let latent = result.latent;
    assert_finite("latent mean", latent.mean)?;
    assert_finite("latent variance", latent.variance)?;
    prop_assert!(latent.variance > 0.0, "latent variance {}", latent.variance);
    if case.anchor.is_none() {
        prop_assert_eq!(latent.mean, 0.0);
        if case.model != ItemModel::Rasch {
            prop_assert_eq!(latent.variance, 1.0);
        }
    }
    for (what, x) in [
        ("log_lik", result.log_lik),
        ("aic", result.aic),
        ("bic", result.bic),
        ("max_change", result.max_change),
    ] {
        assert_finite(what, x)?;
    }
    prop_assert!(result.log_lik <= 0.0, "log_lik {}", result.log_lik);
    prop_assert!((1..=case.max_cycles).contains(&result.cycles));
    if result.converged() {
        prop_assert!(result.max_change < case.tolerance);
    }
    Ok(())
}

/// EAP and MAP give every person a finite θ and a positive, finite SE.
fn assert_sound_scores(data: &Responses, result: &FitResult) -> Result<(), TestCaseError> {
    let (lower, upper) = DEFAULT_THETA_RANGE;
    let grid = Grid::new(DEFAULT_SCORING_POINTS, lower, upper).unwrap();
    for method in [ScoreMethod::Eap, ScoreMethod::Map] {
        let items = result.item_params();
        let scores = POOL
            .with(|pool| {
                score(
                    data,
                    &items,
                    &[result.latent],
                    &grid,
                    method,
                    pool,
                    &irt_core::Interrupt::never(),
                )
            })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(scores.len(), data.n_persons());
        for (i, s) in scores.iter().enumerate() {
            prop_assert!(
                s.theta.is_finite() && s.se.is_finite() && s.se > 0.0,
                "{:?} person {}: {:?}",
                method,
                i,
                s
            );
        }
    }
    Ok(())
}

/// `fit` refuses impossible data or settings with exactly the right error, and otherwise
/// returns a sound fit whose persons all score soundly.
fn assert_typed_error_or_sound(case: &SmallFit) -> Result<(), TestCaseError> {
    let data = case.responses();
    match (case.expected_error(), run(&data, &case.params())) {
        (Some(expected), Err(got)) => {
            prop_assert!(
                same_error(&expected, &got),
                "expected {:?}, got {:?}",
                expected,
                got
            );
        }
        (Some(expected), Ok(_)) => prop_assert!(false, "expected {:?}, got a fit", expected),
        (None, Err(got)) => prop_assert!(false, "valid input refused: {:?}", got),
        (None, Ok(result)) => {
            assert_sound_fit(case, &result)?;
            assert_sound_scores(&data, &result)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(SMALL_FIT_CASES))]

    #[test]
    fn small_fits_are_typed_errors_or_finite(case in small_fit()) {
        assert_typed_error_or_sound(&case)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Invariance of converged fits
// ---------------------------------------------------------------------------------------------

/// A converged fit of a simulated population: well posed, so its maximum is unique.
#[derive(Clone, Debug)]
struct WellPosed {
    seed: u64,
    persons: usize,
    items: usize,
    per_person: usize,
    model: ItemModel,
    priors: Priors,
    algorithm: Algorithm,
}

impl WellPosed {
    fn data(&self) -> Responses {
        simulate(
            self.seed,
            self.persons,
            self.items,
            self.per_person,
            0.0,
            1.0,
        )
        .data
    }

    fn params(&self) -> FitParams {
        FitParams::new(self.model)
            .priors(self.priors)
            .algorithm(self.algorithm)
            .tolerance(INVARIANCE_FIT_TOLERANCE)
            .max_cycles(5_000)
    }
}

/// Settings whose converged fit is the maximum, unique on these data: SQUAREM or plain EM (mirt
/// mode stops short of the maximum once its truncated BFGS steps are small, at a point that
/// depends on the path), and item slopes only with their priors (without them a slope or a
/// lower asymptote of a few hundred persons can run off along a flat ridge, where EM's small
/// steps meet the tolerance at no particular point).
fn well_posed_settings() -> impl Strategy<Value = (ItemModel, Priors, Algorithm)> {
    let combinations: Vec<_> = ItemModel::ALL
        .into_iter()
        .flat_map(|m| [Priors::DEFAULT, Priors::NONE].map(|p| (m, p)))
        .filter(|&(m, p)| !m.has_item_slopes() || p == Priors::DEFAULT)
        .flat_map(|(m, p)| [Algorithm::Squarem, Algorithm::Em].map(|a| (m, p, a)))
        .collect();
    select(combinations)
}

fn well_posed() -> impl Strategy<Value = WellPosed> {
    (
        any::<u64>(),
        200..=500usize,
        3..=10usize,
        0.5..=1.0f64,
        well_posed_settings(),
    )
        .prop_map(
            |(seed, persons, items, share, (model, priors, algorithm))| WellPosed {
                seed,
                persons,
                items,
                per_person: ((share * items as f64).round() as usize).max(2),
                model,
                priors,
                algorithm,
            },
        )
}

fn shuffled(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<_>>()).prop_shuffle()
}

/// The fit of `case`, skipped (not failed) when the data happen to be unusable or EM does not
/// converge: only a converged fit is a well-defined point to compare.
fn converged_fit(case: &WellPosed, data: &Responses) -> Result<FitResult, TestCaseError> {
    prop_assume!(data.check().is_ok());
    let result = run(data, &case.params()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assume!(result.converged());
    Ok(result)
}

/// Equal up to what another summation order leaves after convergence: INVARIANCE relative, or
/// absolute below 1.
fn assert_close(what: &str, x: f64, y: f64) -> Result<(), TestCaseError> {
    prop_assert!(
        (x - y).abs() <= INVARIANCE * x.abs().max(y.abs()).max(1.0),
        "{}: {} vs {}",
        what,
        x,
        y
    );
    Ok(())
}

/// Item `j` of `original` is item `new_index[j]` of `moved`; the rest agrees as is.
fn assert_same_fit(
    original: &FitResult,
    moved: &FitResult,
    new_index: &[usize],
) -> Result<(), TestCaseError> {
    for (j, e) in original.items.iter().enumerate() {
        let m = moved.items[new_index[j]].params;
        assert_close(&format!("item {j} a"), e.params.slope(), m.slope())?;
        assert_close(&format!("item {j} d"), e.params.intercept(), m.intercept())?;
        assert_close(&format!("item {j} c"), e.params.guessing(), m.guessing())?;
    }
    assert_close("latent mean", original.latent.mean, moved.latent.mean)?;
    assert_close(
        "latent variance",
        original.latent.variance,
        moved.latent.variance,
    )?;
    assert_close("log_lik", original.log_lik, moved.log_lik)
}

fn answers_of(data: &Responses, i: usize) -> impl Iterator<Item = (u32, bool)> + '_ {
    let (items, correct) = data.person(i);
    items.iter().zip(correct).map(|(&j, &x)| (j, x == 1))
}

proptest! {
    #![proptest_config(config(PERMUTATION_CASES))]

    #[test]
    fn person_order_does_not_change_estimates(
        (case, order) in well_posed().prop_flat_map(|c| {
            let n = c.persons;
            (Just(c), shuffled(n))
        })
    ) {
        let data = case.data();
        let mut reordered = Responses::with_items(data.n_items());
        for &i in &order {
            reordered.push_person(answers_of(&data, i)).unwrap();
        }
        let original = converged_fit(&case, &data)?;
        let moved = converged_fit(&case, &reordered)?;
        let identity: Vec<usize> = (0..case.items).collect();
        assert_same_fit(&original, &moved, &identity)?;
    }

    #[test]
    fn renumbering_items_permutes_estimates(
        (case, new_index) in well_posed().prop_flat_map(|c| {
            let n = c.items;
            (Just(c), shuffled(n))
        })
    ) {
        let data = case.data();
        let mut renumbered = Responses::with_items(data.n_items());
        for i in 0..data.n_persons() {
            let answers = answers_of(&data, i).map(|(j, x)| (new_index[j as usize] as u32, x));
            renumbered.push_person(answers).unwrap();
        }
        let original = converged_fit(&case, &data)?;
        let moved = converged_fit(&case, &renumbered)?;
        assert_same_fit(&original, &moved, &new_index)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Linking
// ---------------------------------------------------------------------------------------------

fn is_curve_method(method: LinkingMethod) -> bool {
    matches!(method, LinkingMethod::Haebara | LinkingMethod::StockingLord)
}

/// θ_to = slope·θ_from + intercept with A in [0.3, 3], B in [−2, 2].
fn known_link() -> impl Strategy<Value = (f64, f64)> {
    (0.3..=3.0f64, -2.0..=2.0f64)
}

/// Two unrelated anchor sets of the same length, 3 to 20 items.
fn anchor_pair() -> impl Strategy<Value = (Vec<ItemPoint>, Vec<ItemPoint>)> {
    (3..=20usize).prop_flat_map(|n| (vec(anchor_point(), n), vec(anchor_point(), n)))
}

fn moved(items: &[ItemPoint], slope: f64, intercept: f64) -> Vec<ItemPoint> {
    items
        .iter()
        .map(|&p| ItemParams::from(p).on_scale(slope, intercept).irt())
        .collect()
}

fn params(items: &[ItemPoint]) -> Vec<ItemParams> {
    items.iter().map(|&p| p.into()).collect()
}

fn link(
    method: LinkingMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
) -> Result<(f64, f64), TestCaseError> {
    linking_constants(method, &params(from), &params(to), None)
        .map(|k| (k.slope, k.intercept))
        .map_err(|e| TestCaseError::fail(format!("{}: {e}", method.name())))
}

/// Any finite value, mostly everyday ones: zero, negatives, subnormals and 1e308 included.
fn any_finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -4.0..4.0f64,
        1 => Just(0.0),
        1 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
    ]
}

/// Mostly plausible items, so that linking gets past validation, with arbitrary ones mixed in.
fn any_point() -> impl Strategy<Value = ItemPoint> {
    (
        prop_oneof![3 => 0.2..3.0f64, 1 => any_finite()],
        any_finite(),
        prop_oneof![3 => 0.0..0.5f64, 1 => any_finite()],
    )
        .prop_map(|(a, b, c)| ItemPoint { a, b, c })
}

/// Arbitrary finite linking input; lengths mostly agree.
#[derive(Clone, Debug)]
struct AnyLink {
    method: LinkingMethod,
    from: Vec<ItemPoint>,
    to: Vec<ItemPoint>,
    cov: Option<Vec<ItemCovariance>>,
}

fn any_link() -> impl Strategy<Value = AnyLink> {
    let covariance = || prop::array::uniform3(prop::array::uniform3(any_finite()));
    (0..=6usize).prop_flat_map(move |n| {
        (
            select(LinkingMethod::ALL.to_vec()),
            vec(any_point(), n),
            prop_oneof![4 => vec(any_point(), n), 1 => vec(any_point(), 0..=6)],
            prop::option::of(prop_oneof![
                4 => vec(covariance(), n),
                1 => vec(covariance(), 0..=6),
            ]),
        )
            .prop_map(|(method, from, to, cov)| AnyLink {
                method,
                from,
                to,
                cov,
            })
    })
}

impl AnyLink {
    /// The error validation must give, in its order; inputs are finite by construction.
    fn invalid(&self) -> Option<LinkingError> {
        let n = self.from.len();
        if self.to.len() != n || self.cov.as_ref().is_some_and(|c| c.len() != n) {
            return Some(LinkingError::LengthMismatch);
        }
        if n < 2 {
            return Some(LinkingError::TooFewItems { needed: 2, got: n });
        }
        // A finite (a, b) whose intercept −a·b overflows has no finite b left.
        let error = |i: usize, p: &ItemPoint| {
            let (index, side) = (i % n, if i < n { "from.b" } else { "to.b" });
            if p.a <= 0.0 {
                Some(LinkingError::NonPositiveSlope { index })
            } else if !ItemParams::from(*p).b().is_finite() {
                Some(LinkingError::NonFinite { what: side, index })
            } else if !(0.0..1.0).contains(&p.c) {
                Some(LinkingError::GuessingOutOfRange { index })
            } else {
                None
            }
        };
        self.from
            .iter()
            .chain(&self.to)
            .enumerate()
            .find_map(|(i, p)| error(i, p))
    }

    /// What only the method itself can find out about valid input; parameters near f64::MAX
    /// can overflow any method.
    fn may_fail_with(&self, e: &LinkingError) -> bool {
        if *e == LinkingError::OutOfRange {
            return true;
        }
        match self.method {
            LinkingMethod::MeanMean => false,
            LinkingMethod::MeanSigma => *e == LinkingError::DegenerateSpread,
            LinkingMethod::Haebara | LinkingMethod::StockingLord => {
                *e == LinkingError::NoConvergence
            }
        }
    }
}

proptest! {
    #![proptest_config(config(LINKING_CASES))]

    /// Items moved by known constants give those constants back, by every method.
    #[test]
    fn linking_recovers_known_constants(
        (from, _) in anchor_pair(),
        (slope, intercept) in known_link(),
    ) {
        let to = moved(&from, slope, intercept);
        for method in LinkingMethod::ALL {
            let (a, b) = link(method, &from, &to)?;
            prop_assert!(
                (a - slope).abs() <= ROUND_TRIP && (b - intercept).abs() <= ROUND_TRIP,
                "{}: ({}, {}) for ({}, {})", method.name(), a, b, slope, intercept
            );
        }
    }

    /// Adding k to every 'to' difficulty adds k to B and leaves A. The moment methods are
    /// exactly equivariant for any anchors; the curve methods integrate over N(0, 1) on the 'to'
    /// scale, which the shift moves, so for them it holds only where the link is exact.
    #[test]
    fn shifting_to_difficulties_shifts_the_intercept(
        (from, unrelated) in anchor_pair(),
        (slope, intercept) in known_link(),
        k in -3.0..=3.0f64,
    ) {
        let exact = moved(&from, slope, intercept);
        for method in LinkingMethod::ALL {
            let (to, tolerance) = if is_curve_method(method) {
                (&exact, CURVE_SHIFT)
            } else {
                (&unrelated, MOMENT_SHIFT)
            };
            let shifted: Vec<ItemPoint> =
                to.iter().map(|&p| ItemPoint { b: p.b + k, ..p }).collect();
            let (a, b) = link(method, &from, to)?;
            let (a_shifted, b_shifted) = link(method, &from, &shifted)?;
            prop_assert!(
                (a_shifted - a).abs() <= tolerance * a
                    && (b_shifted - b - k).abs() <= tolerance * (1.0 + b.abs()),
                "{}: ({}, {}) became ({}, {}) for k = {}",
                method.name(), a, b, a_shifted, b_shifted, k
            );
        }
    }

    /// Arbitrary finite input never panics: it is refused with the right typed error or gives
    /// finite constants.
    #[test]
    fn linking_is_typed_or_finite_on_any_input(case in any_link()) {
        let joint = case.cov.as_deref().map(JointCovariance::block_diagonal);
        let result =
            linking_constants(case.method, &params(&case.from), &params(&case.to), joint.as_ref());
        match (case.invalid(), result) {
            (Some(expected), result) => prop_assert_eq!(result, Err(expected)),
            (None, Err(e)) => prop_assert!(case.may_fail_with(&e), "{:?}", e),
            (None, Ok(k)) => {
                prop_assert!(k.slope.is_finite() && k.slope > 0.0, "{:?}", k);
                prop_assert!(k.intercept.is_finite(), "{:?}", k);
                prop_assert_eq!(k.criterion.is_some(), is_curve_method(case.method));
                prop_assert!(k.criterion.is_none_or(|c| c.is_finite() && c >= 0.0), "{:?}", k);
                prop_assert_eq!(k.slope_se.is_some(), case.cov.is_some());
                // An SE may overflow for covariances near f64::MAX, but it is never NaN.
                for se in [k.slope_se, k.intercept_se].into_iter().flatten() {
                    prop_assert!(se >= 0.0, "{:?}", k);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The item response function
// ---------------------------------------------------------------------------------------------

/// Slopes and intercepts from everyday to 1e150 (either sign, subnormals included): beyond
/// that a·θ + d or a² can overflow, where the true log P or information is outside f64.
fn coefficient() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -10.0..10.0f64,
        1 => (prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL)
            .prop_filter("|x| <= 1e150", |x| x.abs() <= 1e150),
    ]
}

/// c in [0, 1): zero, everyday values, any double below 1 (down to 5e-324), and 1 − 2⁻⁵³.
fn lower_asymptote() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        0.0..1.0f64,
        (1u64..1.0f64.to_bits()).prop_map(f64::from_bits),
        Just(1.0 - f64::EPSILON / 2.0),
    ]
}

proptest! {
    #![proptest_config(config(RESPONSE_FUNCTION_CASES))]

    /// P, log P, log Q and the information are finite and agree with each other: exp(log P) is
    /// P to LOG_PROB relative (or below the smallest normal double), exp(log Q) is 1 − P up to the
    /// rounding of 1 − P.
    #[test]
    fn response_function_is_finite_and_consistent(
        a in coefficient().prop_filter("a != 0", |a| *a != 0.0),
        d in coefficient(),
        c in lower_asymptote(),
        theta in -50.0..=50.0f64,
    ) {
        let item = ItemParams::new(a, d, c);
        let p = item.prob(theta);
        let (log_p, log_q) = item.log_probs(theta);
        let info = item.information(theta);
        prop_assert!(p.is_finite() && (c..=1.0).contains(&p), "P = {}", p);
        prop_assert!(log_p.is_finite() && log_p <= 0.0, "log P = {}", log_p);
        prop_assert!(log_q.is_finite() && log_q <= 0.0, "log Q = {}", log_q);
        prop_assert!(
            (log_p.exp() - p).abs() <= LOG_PROB * p + f64::MIN_POSITIVE,
            "exp(log P) = {} vs P = {}", log_p.exp(), p
        );
        prop_assert!(
            (log_q.exp() - (1.0 - p)).abs() <= LOG_PROB * (1.0 - p) + 4.0 * f64::EPSILON,
            "exp(log Q) = {} vs 1 - P = {}", log_q.exp(), 1.0 - p
        );
        prop_assert!(info.is_finite() && info >= 0.0, "information = {}", info);
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the properties found (and shrank), each once a failure of the core
// ---------------------------------------------------------------------------------------------

/// Rows of '1' (right), '0' (wrong) and '.' (unanswered), one string per person.
fn answers(rows: &[&str]) -> (usize, Vec<Vec<Option<bool>>>) {
    let matrix = rows
        .iter()
        .map(|row| {
            row.chars()
                .map(|x| (x != '.').then_some(x == '1'))
                .collect()
        })
        .collect();
    (rows[0].len(), matrix)
}

/// A fit with the default settings of `FitParams`.
fn default_fit(model: ItemModel, (n_items, answers): (usize, Vec<Vec<Option<bool>>>)) -> SmallFit {
    SmallFit {
        n_items,
        answers,
        model,
        priors: Priors::NONE,
        algorithm: Algorithm::Squarem,
        tolerance: DEFAULT_TOLERANCE,
        max_cycles: DEFAULT_MAX_CYCLES,
        quadrature: (DEFAULT_QUADRATURE_POINTS, DEFAULT_THETA_RANGE.1),
        anchor: None,
    }
}

/// 3PL without priors on ordinary data hung: logit c ran past −745, c rounded to 0, the M-step's
/// Hessian went NaN and its Newton loop never ended.
#[test]
fn three_pl_without_priors_finishes() {
    let data = simulate(0, 300, 10, 10, 0.0, 1.0).data;
    let case = default_fit(ItemModel::ThreePL, (10, matrix_of(&data)));
    assert_typed_error_or_sound(&case).unwrap();
}

/// The item information was 0/0 where the logistic rounds to 1, so MAP scores were NaN.
#[test]
fn map_scores_of_steep_items_are_finite() {
    let case = SmallFit {
        algorithm: Algorithm::MirtCompatible,
        tolerance: 7.934288691507871e-7,
        max_cycles: 452,
        quadrature: (37, 3.433932461537677),
        ..default_fit(
            ItemModel::ThreePL,
            answers(&[
                "..........0",
                "..........0",
                "..........0",
                ".1.........",
                "..1...1.1..",
                ".......0.1.",
                "0..10101000",
                "10001001001",
            ]),
        )
    };
    assert_typed_error_or_sound(&case).unwrap();
}

/// Slopes running off without priors made a posterior narrower than the scoring grid's cells,
/// whose EAP standard error came out as exactly 0.
#[test]
fn eap_standard_errors_of_steep_items_are_positive() {
    let case = SmallFit {
        tolerance: 0.1,
        max_cycles: 160,
        quadrature: (9, 7.937584523493305),
        ..default_fit(
            ItemModel::TwoPL,
            answers(&[
                ".1..10", "1.0..0", "..1.11", "0.01..", ".11.0.", ".01..1", ".11..0", "0.0.0.",
                "..000.", "..0.11", "010...", ".1.10.", ".0.10.", "010...", "0.1..1", "..110.",
                ".1.0.0", "...101", "0.1..0", "1.10..", "..101.", ".10.0.", "0.1.0.", "..101.",
                "11..0.", "11..1.", ".111..", ".11.1.", "01..0.", "0.1..0",
            ]),
        )
    };
    assert_typed_error_or_sound(&case).unwrap();
}

/// A lower asymptote run off towards 0 left an information matrix whose inverse overflowed:
/// standard errors came out NaN instead of absent.
#[test]
fn covariances_of_an_unidentified_asymptote_are_absent() {
    let case = SmallFit {
        algorithm: Algorithm::Em,
        tolerance: 0.010680225188464936,
        max_cycles: 16,
        quadrature: (19, 3.796303714321881),
        ..default_fit(
            ItemModel::ThreePL,
            answers(&[
                "11", "01", "01", "11", "00", "11", "11", "11", "11", "11", "11", "11", "11", "11",
                "11", "11", "10", "01", "11",
            ]),
        )
    };
    assert_typed_error_or_sound(&case).unwrap();
}

/// Where persons cannot be told apart (one item each) the Rasch latent variance collapsed to 0
/// (the fit failed as non-finite) or nearly so (EAP standard errors of exactly 0).
#[test]
fn rasch_latent_variance_stays_positive() {
    let collapsed = SmallFit {
        quadrature: (9, 6.0),
        ..default_fit(ItemModel::Rasch, answers(&["1", "0"]))
    };
    let nearly = SmallFit {
        priors: Priors::DEFAULT,
        tolerance: 0.1,
        max_cycles: 3,
        quadrature: (7, 7.679588883336805),
        ..default_fit(ItemModel::Rasch, answers(&["0", "0", "0", "0", "1"]))
    };
    for case in [collapsed, nearly] {
        assert_typed_error_or_sound(&case).unwrap();
    }
}

/// SQUAREM ran one cycle past `max_cycles` when a rejected extrapolation's EM step converged
/// on the last cycle allowed.
#[test]
fn squarem_stops_at_max_cycles() {
    let case = SmallFit {
        priors: Priors::DEFAULT,
        tolerance: 8.18879980704902e-6,
        max_cycles: 54,
        quadrature: (7, 3.0),
        ..default_fit(
            ItemModel::Rasch,
            answers(&[
                "10", "01", "10", "00", "00", "10", "11", "11", "00", "10", "00", "10", "11", "11",
                "00", "11", "11",
            ]),
        )
    };
    assert_typed_error_or_sound(&case).unwrap();
}
