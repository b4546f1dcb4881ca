//! Standalone helpers, usable without a calibration: linking constants (of right/wrong items,
//! or of any items given as their stored parameters), the item response function, information,
//! the test characteristic curve and EAP scoring of one pattern (of right/wrong answers, or of
//! scores on items given as their stored parameters).
//! All immutable, strict (a NULL argument gives a NULL result) and parallel safe; where c is
//! optional there is an overload without it (a NULL default would make a strict function return
//! NULL). Item parameters follow the anchors' rule (`ItemParams::given`); an array element that
//! is NULL is an error, except in `correct` and `scores`, where it means "not answered".

use irt_core::bank::{category_of, parse_irt};
use irt_core::linking::{linking_constants, LinkingMethod};
use irt_core::scoring::{scoring_grid, test_characteristic, test_information};
use irt_core::{alloc, score, Interrupt, ItemParams, Latent, Responses, ScoreMethod};
use pgrx::prelude::*;

use irt_core::settings::{finite, float_in, int_in, required};

use crate::errors::{invalid_argument, OrRaise};
use crate::panics;

/// Points of a curve, and the prior of one pattern's EAP.
const CURVE_POINTS: std::ops::RangeInclusive<i32> = 2..=10_000;
const PRIOR_MEAN: std::ops::RangeInclusive<f64> = -100.0..=100.0;
const PRIOR_SD_MAX: f64 = 100.0;

fn method(name: &str) -> LinkingMethod {
    LinkingMethod::parse(name).or_raise()
}

/// The elements of an array argument, none of them NULL, copied into memory allocated
/// fallibly (an array can hold up to a gigabyte).
fn floats(array: &Array<'_, f64>, name: &str) -> Vec<f64> {
    let mut out = alloc::with_capacity(array.len(), "an array argument").or_raise();
    for (k, value) in array.iter().enumerate() {
        out.push(required(value, &format!("{name}[{}]", k + 1)).or_raise());
    }
    out
}

/// One item's parameters, by the rule the anchors follow too.
fn item(what: &str, a: f64, b: f64, c: f64) -> ItemParams {
    ItemParams::given(a, b, c).unwrap_or_else(|why| invalid_argument(format!("{what}: {why}")))
}

/// Items from parallel array arguments (`prefix` names them: `from_a`, `from_b`, …); c is zero
/// where not given.
fn items(
    prefix: &str,
    a: &Array<'_, f64>,
    b: &Array<'_, f64>,
    c: Option<&Array<'_, f64>>,
) -> Vec<ItemParams> {
    let a = floats(a, &format!("{prefix}a"));
    let b = floats(b, &format!("{prefix}b"));
    let c = c.map(|c| floats(c, &format!("{prefix}c")));
    if a.len() != b.len() || c.as_ref().is_some_and(|c| c.len() != a.len()) {
        invalid_argument(format!(
            "{prefix}a, {prefix}b{} must have the same length, got {}, {}{}",
            if c.is_some() {
                format!(" and {prefix}c")
            } else {
                String::new()
            },
            a.len(),
            b.len(),
            c.as_ref()
                .map_or(String::new(), |c| format!(", {}", c.len())),
        ));
    }
    if a.is_empty() {
        invalid_argument(format!("{prefix}a must hold at least one item"));
    }
    let mut out = alloc::with_capacity(a.len(), "an array argument").or_raise();
    for k in 0..a.len() {
        let c = c.as_ref().map_or(0.0, |c| c[k]);
        out.push(item(
            &format!("item {} of {prefix}a, {prefix}b", k + 1),
            a[k],
            b[k],
            c,
        ));
    }
    out
}

/// Items given as `mirt_item_params.params` and `meta->'irt'` hold them (`parse_irt`), none
/// NULL, with their JSON: `{"a", "b", "c"}` for a right/wrong item, `{"model", "a",
/// "thresholds"}` for an item in categories, `"D"` honoured.
fn stored_items(
    name: &str,
    params: &Array<'_, pgrx::JsonB>,
) -> Vec<(ItemParams, serde_json::Value)> {
    if params.is_empty() {
        invalid_argument(format!("{name} must hold at least one item"));
    }
    let mut out = alloc::with_capacity(params.len(), "an array argument").or_raise();
    for (k, given) in params.iter().enumerate() {
        let given = required(given, &format!("{name}[{}]", k + 1)).or_raise().0;
        let (item, _) = parse_irt(&given)
            .unwrap_or_else(|why| invalid_argument(format!("{name}[{}]: {why}", k + 1)));
        out.push((item, given));
    }
    out
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
        name!(criterion, Option<f64>),
    ),
> {
    let k = linking_constants(method(method_name), &from, &to, None)
        .map_err(irt_core::CoreError::from)
        .or_raise();
    TableIterator::once((k.slope, k.intercept, k.criterion))
}

/// Constants of θ_to = slope·θ_from + intercept from common items (c = 0).
#[pg_extern(name = "mirt_linking_constants", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_linking_constants(
    method: &str,
    from_a: Array<'_, f64>,
    from_b: Array<'_, f64>,
    to_a: Array<'_, f64>,
    to_b: Array<'_, f64>,
) -> TableIterator<
    'static,
    (
        name!(slope, f64),
        name!(intercept, f64),
        name!(criterion, Option<f64>),
    ),
> {
    panics::guarded("mirt_linking_constants", || {
        constants(
            method,
            items("from_", &from_a, &from_b, None),
            items("to_", &to_a, &to_b, None),
        )
    })
}

/// The same with lower asymptotes.
#[pg_extern(name = "mirt_linking_constants", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn mirt_linking_constants_3pl(
    method: &str,
    from_a: Array<'_, f64>,
    from_b: Array<'_, f64>,
    to_a: Array<'_, f64>,
    to_b: Array<'_, f64>,
    from_c: Array<'_, f64>,
    to_c: Array<'_, f64>,
) -> TableIterator<
    'static,
    (
        name!(slope, f64),
        name!(intercept, f64),
        name!(criterion, Option<f64>),
    ),
> {
    panics::guarded("mirt_linking_constants", || {
        constants(
            method,
            items("from_", &from_a, &from_b, Some(&from_c)),
            items("to_", &to_a, &to_b, Some(&to_c)),
        )
    })
}

/// The same from items given as their stored parameters: right/wrong items and items in
/// categories alike, each pair of one shape (Kim & Lee's extension of the four methods).
#[pg_extern(name = "mirt_linking_constants", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_linking_constants_params(
    method: &str,
    from_params: Array<'_, pgrx::JsonB>,
    to_params: Array<'_, pgrx::JsonB>,
) -> TableIterator<
    'static,
    (
        name!(slope, f64),
        name!(intercept, f64),
        name!(criterion, Option<f64>),
    ),
> {
    panics::guarded("mirt_linking_constants", || {
        let items = |name, params| -> Vec<ItemParams> {
            stored_items(name, params)
                .into_iter()
                .map(|(item, _)| item)
                .collect()
        };
        let (from, to) = (
            items("from_params", &from_params),
            items("to_params", &to_params),
        );
        if from.len() != to.len() {
            invalid_argument(format!(
                "from_params and to_params must have the same length, got {} and {}",
                from.len(),
                to.len()
            ));
        }
        constants(method, from, to)
    })
}

/// P(correct | θ) = c + (1 − c) / (1 + exp(−a(θ − b))).
#[pg_extern(immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_irf(theta: f64, a: f64, b: f64, c: default!(f64, 0.0)) -> f64 {
    panics::guarded("mirt_irf", || {
        item("item", a, b, c).prob(finite(theta, "theta").or_raise())
    })
}

/// Fisher information of one item at θ.
#[pg_extern(immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_item_information(theta: f64, a: f64, b: f64, c: default!(f64, 0.0)) -> f64 {
    panics::guarded("mirt_item_information", || {
        item("item", a, b, c).information(finite(theta, "theta").or_raise())
    })
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
    let (from, to) = (
        finite(theta_from, "theta_from").or_raise(),
        finite(theta_to, "theta_to").or_raise(),
    );
    if from >= to {
        invalid_argument(format!(
            "theta_from must be less than theta_to, got {from} and {to}"
        ));
    }
    let points = int_in(points, "points", CURVE_POINTS).or_raise();
    let step = (to - from) / (points - 1) as f64;
    let rows: Vec<_> = (0..points)
        .map(|k| {
            let theta = from + step * k as f64;
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
    a: Array<'_, f64>,
    b: Array<'_, f64>,
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
    panics::guarded("mirt_test_curves", || {
        curves(items("", &a, &b, None), theta_from, theta_to, points)
    })
}

/// The same with lower asymptotes.
#[pg_extern(name = "mirt_test_curves", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_test_curves_3pl(
    a: Array<'_, f64>,
    b: Array<'_, f64>,
    c: Array<'_, f64>,
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
    panics::guarded("mirt_test_curves", || {
        curves(items("", &a, &b, Some(&c)), theta_from, theta_to, points)
    })
}

/// EAP θ and posterior SD of one person's `answers` (item index, category) to `items`, prior
/// N(mean, sd²).
fn score_answers(
    answers: impl IntoIterator<Item = (u32, u8)>,
    items: Vec<ItemParams>,
    mean: f64,
    sd: f64,
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    let mean = float_in(mean, "mean", PRIOR_MEAN).or_raise();
    if !(sd > 0.0 && sd <= PRIOR_SD_MAX) {
        invalid_argument(format!(
            "sd must be positive and at most {}, got {sd}",
            PRIOR_SD_MAX
        ));
    }
    let mut data = Responses::with_items(items.len());
    data.push_scored_person(answers).or_raise();
    let latent = Latent {
        mean,
        variance: sd * sd,
    };
    let grid = scoring_grid(&[latent]).or_raise();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| invalid_argument(e.to_string()));
    let s = score(
        &data,
        &items,
        &[latent],
        &grid,
        ScoreMethod::Eap,
        &pool,
        &Interrupt::never(),
    )
    .or_raise()[0];
    TableIterator::once((s.theta, s.se))
}

/// Right/wrong answers, NULL entries unanswered.
fn score_pattern(
    correct: &Array<'_, bool>,
    items: Vec<ItemParams>,
    mean: f64,
    sd: f64,
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    if correct.len() != items.len() {
        invalid_argument(format!(
            "correct must have one entry per item, got {} entries for {} items",
            correct.len(),
            items.len()
        ));
    }
    let answers = correct
        .iter()
        .enumerate()
        .filter_map(|(j, x)| x.map(|x| (j as u32, u8::from(x))));
    score_answers(answers, items, mean, sd)
}

/// EAP θ and posterior SD of one response pattern (NULL = not answered), prior N(mean, sd²).
#[pg_extern(name = "mirt_score_eap", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_score_eap(
    correct: Array<'_, bool>,
    a: Array<'_, f64>,
    b: Array<'_, f64>,
    mean: default!(f64, 0.0),
    sd: default!(f64, 1.0),
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    panics::guarded("mirt_score_eap", || {
        score_pattern(&correct, items("", &a, &b, None), mean, sd)
    })
}

/// The same with lower asymptotes.
#[pg_extern(name = "mirt_score_eap", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_score_eap_3pl(
    correct: Array<'_, bool>,
    a: Array<'_, f64>,
    b: Array<'_, f64>,
    c: Array<'_, f64>,
    mean: default!(f64, 0.0),
    sd: default!(f64, 1.0),
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    panics::guarded("mirt_score_eap", || {
        score_pattern(&correct, items("", &a, &b, Some(&c)), mean, sd)
    })
}

/// EAP θ and posterior SD of one pattern of scores (NULL = not answered) on items given as
/// `mirt_item_params.params` and `meta->'irt'` hold them: `{"a", "b", "c"}` for a right/wrong
/// item, `{"model", "a", "thresholds"}` for an item in categories, `"D"` honoured; a score
/// is the item's category, or the one `"scores"` says it stands for.
#[pg_extern(name = "mirt_score_eap", immutable, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn mirt_score_eap_params(
    scores: Array<'_, i32>,
    params: Array<'_, pgrx::JsonB>,
    mean: default!(f64, 0.0),
    sd: default!(f64, 1.0),
) -> TableIterator<'static, (name!(theta, f64), name!(se, f64))> {
    panics::guarded("mirt_score_eap", || {
        if scores.len() != params.len() {
            invalid_argument(format!(
                "scores must have one entry per item of params, got {} entries for {} items",
                scores.len(),
                params.len()
            ));
        }
        let stored = stored_items("params", &params);
        let mut items = alloc::with_capacity(stored.len(), "an array argument").or_raise();
        let mut answers = alloc::with_capacity(stored.len(), "an array argument").or_raise();
        for (k, (score, (item, given))) in scores.iter().zip(stored).enumerate() {
            if let Some(score) = score {
                let category = category_of(&given, &item, score.into())
                    .unwrap_or_else(|why| invalid_argument(format!("scores[{}]: {why}", k + 1)));
                answers.push((k as u32, category));
            }
            items.push(item);
        }
        score_answers(answers, items, mean, sd)
    })
}
