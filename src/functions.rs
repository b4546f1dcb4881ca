//! Standalone helpers, usable without a calibration: linking constants, the item response
//! function, information, the test characteristic curve and EAP scoring of one pattern.
//! All immutable, strict and parallel safe; where c is optional there is an overload without it
//! (a NULL default would make a strict function return NULL).

use irt_core::linking::{linking_constants, ItemPoint, LinkingMethod};
use irt_core::scoring::{test_characteristic, test_information, DEFAULT_SCORING_POINTS};
use irt_core::{score, Grid, ItemParams, Latent, Responses, ScoreMethod};
use pgrx::prelude::*;

use crate::errors::{invalid_argument, raise_core, raise_linking};

fn method(name: &str) -> LinkingMethod {
    LinkingMethod::parse(name).unwrap_or_else(|| {
        let valid: Vec<&str> = LinkingMethod::ALL.iter().map(|m| m.name()).collect();
        invalid_argument(format!(
            "unknown linking method \"{name}\"; valid methods are {}",
            valid.join(", ")
        ))
    })
}

/// Items from parallel arrays; c is zero where not given.
fn items(what: &str, a: &[f64], b: &[f64], c: Option<&[f64]>) -> Vec<ItemParams> {
    if a.len() != b.len() || c.is_some_and(|c| c.len() != a.len()) {
        invalid_argument(format!("{what}: a, b (and c) must have the same length"));
    }
    (0..a.len())
        .map(|i| {
            let p = ItemParams::from_irt(a[i], b[i], c.map_or(0.0, |c| c[i]));
            p.check(i).unwrap_or_else(|e| raise_core(e));
            p
        })
        .collect()
}

fn points(p: &[ItemParams]) -> Vec<ItemPoint> {
    p.iter()
        .map(|p| ItemPoint {
            a: p.a,
            b: p.b(),
            c: p.c,
        })
        .collect()
}

fn constants(
    method_name: &str,
    from: Vec<ItemParams>,
    to: Vec<ItemParams>,
) -> TableIterator<
    'static,
    (
        name!(slope, f64),
        name!(intercept, f64),
        name!(slope_se, Option<f64>),
        name!(intercept_se, Option<f64>),
        name!(criterion, Option<f64>),
    ),
> {
    let k = linking_constants(method(method_name), &points(&from), &points(&to), None)
        .unwrap_or_else(|e| raise_linking(e));
    TableIterator::once((
        k.slope,
        k.intercept,
        k.slope_se,
        k.intercept_se,
        k.criterion,
    ))
}

/// Constants of θ_to = slope·θ_from + intercept from common items (c = 0).
#[pg_extern(name = "mirt_linking_constants", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_linking_constants(
    method: &str,
    from_a: Vec<f64>,
    from_b: Vec<f64>,
    to_a: Vec<f64>,
    to_b: Vec<f64>,
) -> TableIterator<
    'static,
    (
        name!(slope, f64),
        name!(intercept, f64),
        name!(slope_se, Option<f64>),
        name!(intercept_se, Option<f64>),
        name!(criterion, Option<f64>),
    ),
> {
    constants(
        method,
        items("from", &from_a, &from_b, None),
        items("to", &to_a, &to_b, None),
    )
}

/// The same with lower asymptotes.
#[pg_extern(name = "mirt_linking_constants", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn mirt_linking_constants_3pl(
    method: &str,
    from_a: Vec<f64>,
    from_b: Vec<f64>,
    to_a: Vec<f64>,
    to_b: Vec<f64>,
    from_c: Vec<f64>,
    to_c: Vec<f64>,
) -> TableIterator<
    'static,
    (
        name!(slope, f64),
        name!(intercept, f64),
        name!(slope_se, Option<f64>),
        name!(intercept_se, Option<f64>),
        name!(criterion, Option<f64>),
    ),
> {
    constants(
        method,
        items("from", &from_a, &from_b, Some(&from_c)),
        items("to", &to_a, &to_b, Some(&to_c)),
    )
}

/// P(correct | θ) = c + (1 − c) / (1 + exp(−a(θ − b))).
#[pg_extern(immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_irf(theta: f64, a: f64, b: f64, c: default!(f64, 0.0)) -> f64 {
    items("item", &[a], &[b], Some(&[c]))[0].prob(theta)
}

/// Fisher information of one item at θ.
#[pg_extern(immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_item_information(theta: f64, a: f64, b: f64, c: default!(f64, 0.0)) -> f64 {
    items("item", &[a], &[b], Some(&[c]))[0].information(theta)
}

fn curves(
    items: Vec<ItemParams>,
    theta_from: f64,
    theta_to: f64,
    points: i32,
) -> TableIterator<
    'static,
    (
        name!(theta, f64),
        name!(tcc, f64),
        name!(information, f64),
        name!(se, f64),
    ),
> {
    let valid = theta_from.is_finite() && theta_to.is_finite() && theta_from < theta_to;
    if !valid || !(2..=10_000).contains(&points) {
        invalid_argument("curves need theta_from < theta_to and between 2 and 10000 points");
    }
    let step = (theta_to - theta_from) / (points - 1) as f64;
    let rows: Vec<_> = (0..points)
        .map(|k| {
            let theta = theta_from + step * k as f64;
            let info = test_information(&items, theta);
            (
                theta,
                test_characteristic(&items, theta),
                info,
                1.0 / info.sqrt(),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Test characteristic curve (expected score), test information and its SE over a θ grid.
#[pg_extern(name = "mirt_test_curves", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_test_curves(
    a: Vec<f64>,
    b: Vec<f64>,
    theta_from: default!(f64, "-4.0"),
    theta_to: default!(f64, 4.0),
    points: default!(i32, 81),
) -> TableIterator<
    'static,
    (
        name!(theta, f64),
        name!(tcc, f64),
        name!(information, f64),
        name!(se, f64),
    ),
> {
    curves(items("items", &a, &b, None), theta_from, theta_to, points)
}

/// The same with lower asymptotes.
#[pg_extern(name = "mirt_test_curves", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_test_curves_3pl(
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    theta_from: default!(f64, "-4.0"),
    theta_to: default!(f64, 4.0),
    points: default!(i32, 81),
) -> TableIterator<
    'static,
    (
        name!(theta, f64),
        name!(tcc, f64),
        name!(information, f64),
        name!(se, f64),
    ),
> {
    curves(
        items("items", &a, &b, Some(&c)),
        theta_from,
        theta_to,
        points,
    )
}

fn score_pattern(
    correct: Vec<Option<bool>>,
    items: Vec<ItemParams>,
    mean: f64,
    sd: f64,
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    if correct.len() != items.len() {
        invalid_argument("correct must have one entry per item");
    }
    if !(mean.is_finite() && sd.is_finite() && sd > 0.0) {
        invalid_argument("the prior needs a finite mean and a positive sd");
    }
    // NULL entries are unanswered items.
    let mut data = Responses::with_items(items.len());
    data.push_person(
        correct
            .iter()
            .enumerate()
            .filter_map(|(j, x)| x.map(|x| (j as u32, x))),
    )
    .unwrap_or_else(|e| raise_core(e));
    let grid = Grid::new(DEFAULT_SCORING_POINTS, -6.0, 6.0).unwrap_or_else(|e| raise_core(e));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| invalid_argument(e.to_string()));
    let s = score(
        &data,
        &items,
        Latent {
            mean,
            variance: sd * sd,
        },
        &grid,
        ScoreMethod::Eap,
        &pool,
    )[0];
    TableIterator::once((s.theta, s.se))
}

/// EAP θ and posterior SD of one response pattern (NULL = not answered), prior N(mean, sd²).
#[pg_extern(name = "mirt_score_eap", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_score_eap(
    correct: Vec<Option<bool>>,
    a: Vec<f64>,
    b: Vec<f64>,
    mean: default!(f64, 0.0),
    sd: default!(f64, 1.0),
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    score_pattern(correct, items("items", &a, &b, None), mean, sd)
}

/// The same with lower asymptotes.
#[pg_extern(name = "mirt_score_eap", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_score_eap_3pl(
    correct: Vec<Option<bool>>,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    mean: default!(f64, 0.0),
    sd: default!(f64, 1.0),
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    score_pattern(correct, items("items", &a, &b, Some(&c)), mean, sd)
}
