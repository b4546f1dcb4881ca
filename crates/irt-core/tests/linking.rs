mod common;

use irt_core::linking::*;
use irt_core::quadrature::{normal_quadrature, GAUSS_HERMITE_POINTS};
use irt_core::{ItemParams, ItemPoint, Steps};
use serde_json::Value;

fn fixture() -> Value {
    let path = common::fixtures_dir().join("linking_cases.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("linking_cases.json is valid JSON")
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn items(side: &Value) -> Vec<ItemPoint> {
    let (a, b, c) = (
        numbers(&side["a"]),
        numbers(&side["b"]),
        numbers(&side["c"]),
    );
    (0..a.len())
        .map(|i| ItemPoint {
            a: a[i],
            b: b[i],
            c: c[i],
        })
        .collect()
}

/// (case name, from, to, equateIRT results) for every fixture case.
fn cases() -> Vec<(String, Vec<ItemPoint>, Vec<ItemPoint>, Value)> {
    let fx = fixture();
    fx["cases"]
        .as_object()
        .expect("cases object")
        .iter()
        .map(|(name, case)| {
            (
                name.clone(),
                items(&case["from"]),
                items(&case["to"]),
                case["results"].clone(),
            )
        })
        .collect()
}

fn equate_irt_key(method: LinkingMethod) -> &'static str {
    match method {
        LinkingMethod::MeanMean => "mean-mean",
        LinkingMethod::MeanSigma => "mean-sigma",
        LinkingMethod::Haebara => "Haebara",
        LinkingMethod::StockingLord => "Stocking-Lord",
    }
}

fn params(items: &[ItemPoint]) -> Vec<ItemParams> {
    items.iter().map(|&p| p.into()).collect()
}

fn solve(method: LinkingMethod, from: &[ItemPoint], to: &[ItemPoint]) -> LinkingConstants {
    linking_constants(method, &params(from), &params(to), None).expect("linking succeeds")
}

/// max(|ΔA|, |ΔB|) between our constants and a fixture {A, B} object.
fn deviation(k: &LinkingConstants, reference: &Value) -> f64 {
    let a = reference["A"].as_f64().expect("A");
    let b = reference["B"].as_f64().expect("B");
    (k.slope - a).abs().max((k.intercept - b).abs())
}

const CURVE_METHODS: [LinkingMethod; 2] = [LinkingMethod::Haebara, LinkingMethod::StockingLord];

#[test]
fn reproduces_equate_irt_for_every_method_and_case() {
    let cases = cases();
    assert_eq!(cases.len(), 2);
    for method in LinkingMethod::ALL {
        let mut worst = 0.0_f64;
        for (name, from, to, results) in &cases {
            let k = solve(method, from, to);
            let d = deviation(&k, &results[equate_irt_key(method)]);
            println!(
                "{:>13} {name}: A = {:.12}, B = {:.12}, max |Δ| vs equateIRT = {d:.3e}",
                method.name(),
                k.slope,
                k.intercept
            );
            worst = worst.max(d);
        }
        println!(
            "{:>13} worst deviation from equateIRT: {worst:.3e}",
            method.name()
        );
        // The moment methods are closed forms; for the curve methods equateIRT's nlminb stops
        // up to 2.8e-8 from the minimiser (we are within 1e-9 of it, see the next test).
        let tolerance = if CURVE_METHODS.contains(&method) {
            5e-8
        } else {
            1e-13
        };
        assert!(worst <= tolerance, "{}: {worst}", method.name());
    }
}

#[test]
fn curve_methods_reach_the_exact_minimiser() {
    for (name, from, to, results) in cases() {
        for method in CURVE_METHODS {
            let k = solve(method, &from, &to);
            let reference = &results[equate_irt_key(method)];
            let exact = &reference["exact_minimizer_check"];
            let to_exact = deviation(&k, exact);
            let to_nlminb = deviation(&k, reference);
            let objective = exact["objective"].as_f64().expect("objective");
            let criterion = k.criterion.expect("curve methods report a criterion");
            let relative = (criterion - objective).abs() / objective;
            println!(
                "{:>13} {name}: max |Δ| to exact minimiser = {to_exact:.3e}, to nlminb = \
                 {to_nlminb:.3e}, criterion {criterion:.15e} (rel. diff {relative:.1e})",
                method.name()
            );
            assert!(to_exact <= 1e-9, "{name} {}: {to_exact}", method.name());
            assert!(relative <= 1e-10, "{name} {}: {relative}", method.name());
        }
    }
}

#[test]
fn moment_methods_report_no_criterion() {
    let (_, from, to, _) = &cases()[0];
    for method in [LinkingMethod::MeanMean, LinkingMethod::MeanSigma] {
        assert_eq!(solve(method, from, to).criterion, None);
    }
}

#[test]
fn quadrature_matches_statmod() {
    let fx = fixture();
    let quad = &fx["definitions"]["quadrature"];
    let (nodes, weights) = normal_quadrature(GAUSS_HERMITE_POINTS);
    let (ref_nodes, ref_weights) = (numbers(&quad["nodes"]), numbers(&quad["weights"]));
    assert_eq!(nodes.len(), ref_nodes.len());
    assert_eq!(weights.len(), ref_weights.len());
    let mut worst = (0.0_f64, 0.0_f64);
    for (x, r) in nodes.iter().zip(&ref_nodes) {
        let err = (x - r).abs() / r.abs().max(1.0);
        worst.0 = worst.0.max(err);
        assert!(err <= 1e-12, "node {x} vs {r}");
    }
    for (w, r) in weights.iter().zip(&ref_weights) {
        // Relative even for the 1e-21 tail weights.
        let err = (w - r).abs() / r;
        worst.1 = worst.1.max(err);
        assert!(err <= 1e-12, "weight {w} vs {r}");
    }
    println!(
        "worst relative error vs statmod: nodes {:.1e}, weights {:.1e}",
        worst.0, worst.1
    );
    let total: f64 = weights.iter().sum();
    assert!((total - 1.0).abs() <= 1e-14, "weights sum to {total}");
    let mean: f64 = nodes.iter().zip(&weights).map(|(x, w)| x * w).sum();
    let variance: f64 = nodes.iter().zip(&weights).map(|(x, w)| x * x * w).sum();
    assert!(mean.abs() <= 1e-15 && (variance - 1.0).abs() <= 1e-13);
}

fn item(a: f64, b: f64, c: f64) -> ItemPoint {
    ItemPoint { a, b, c }
}

fn anchor_items(c: f64) -> Vec<ItemPoint> {
    [
        (0.8, -1.6),
        (1.4, -0.9),
        (1.1, -0.2),
        (0.6, 0.1),
        (1.9, 0.5),
        (1.0, 1.2),
        (1.3, 1.9),
        (0.9, 2.4),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(a, b))| item(a, b, c * (i % 3) as f64))
    .collect()
}

/// Items moved by known constants give them back, by every method.
fn assert_round_trip(from: &[ItemParams]) {
    // The last two are far from the start (1, 0): from there alone Newton
    // drifts to A → 0, so they exercise the second (mean–mean) start.
    let constants = [
        (1.3, 0.4),
        (0.7, -0.5),
        (2.5, -1.2),
        (0.4, 1.5),
        (0.25, 2.5),
        (0.5, -2.5),
    ];
    for (slope, intercept) in constants {
        let to: Vec<ItemParams> = from.iter().map(|p| p.on_scale(slope, intercept)).collect();
        for method in LinkingMethod::ALL {
            let k = linking_constants(method, from, &to, None).expect("linking succeeds");
            let err = (k.slope - slope).abs().max((k.intercept - intercept).abs());
            assert!(
                err <= 1e-9,
                "{} ({slope}, {intercept}): {err}",
                method.name()
            );
        }
    }
}

#[test]
fn round_trip_recovers_known_constants() {
    assert_round_trip(&params(&anchor_items(0.0)));
}

#[test]
fn round_trip_with_guessing_parameters() {
    assert_round_trip(&params(&anchor_items(0.12)));
}

#[test]
fn round_trip_with_only_two_items() {
    assert_round_trip(&params(&anchor_items(0.0)[2..4]));
    assert_round_trip(&params(&anchor_items(0.12)[4..6]));
}

#[test]
fn method_names_round_trip_and_parse_leniently() {
    for method in LinkingMethod::ALL {
        assert_eq!(LinkingMethod::find(method.name()), Some(method));
        assert_eq!(
            LinkingMethod::find(&method.name().to_uppercase()),
            Some(method)
        );
        assert_eq!(LinkingMethod::find(equate_irt_key(method)), Some(method));
    }
    assert_eq!(
        LinkingMethod::find("Mean-Sigma"),
        Some(LinkingMethod::MeanSigma)
    );
    assert_eq!(
        LinkingMethod::find("stocking-lord"),
        Some(LinkingMethod::StockingLord)
    );
    assert_eq!(LinkingMethod::find("lord"), None);
    assert_eq!(LinkingMethod::find(""), None);
}

fn error_of(
    method: LinkingMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
    cov: Option<&[ItemCovariance]>,
) -> LinkingError {
    let joint = cov.map(JointCovariance::block_diagonal);
    linking_constants(method, &params(from), &params(to), joint.as_ref())
        .expect_err("input must be rejected")
}

#[test]
fn rejects_invalid_input_with_typed_errors() {
    let good = anchor_items(0.0);
    let method = LinkingMethod::StockingLord;
    let with = |i: usize, f: fn(&mut ItemPoint)| {
        let mut v = good.clone();
        f(&mut v[i]);
        v
    };
    assert_eq!(
        error_of(method, &good, &good[..7], None),
        LinkingError::LengthMismatch
    );
    for m in LinkingMethod::ALL {
        assert_eq!(
            error_of(m, &good[..1], &good[..1], None),
            LinkingError::TooFewItems { needed: 2, got: 1 }
        );
    }
    assert_eq!(
        error_of(method, &[], &[], None),
        LinkingError::TooFewItems { needed: 2, got: 0 }
    );
    assert_eq!(
        error_of(method, &with(3, |p| p.b = f64::NAN), &good, None),
        LinkingError::NonFinite {
            what: "from.b",
            index: 3
        }
    );
    assert_eq!(
        error_of(method, &good, &with(5, |p| p.a = f64::INFINITY), None),
        LinkingError::NonFinite {
            what: "to.a",
            index: 5
        }
    );
    assert_eq!(
        error_of(method, &good, &with(0, |p| p.c = f64::NAN), None),
        LinkingError::NonFinite {
            what: "to.c",
            index: 0
        }
    );
    assert_eq!(
        error_of(method, &with(2, |p| p.a = 0.0), &good, None),
        LinkingError::NonPositiveSlope { index: 2 }
    );
    assert_eq!(
        error_of(method, &good, &with(6, |p| p.a = -1.0), None),
        LinkingError::NonPositiveSlope { index: 6 }
    );
    assert_eq!(
        error_of(method, &with(1, |p| p.c = 1.0), &good, None),
        LinkingError::GuessingOutOfRange { index: 1 }
    );
    assert_eq!(
        error_of(method, &good, &with(3, |p| p.c = -0.1), None),
        LinkingError::GuessingOutOfRange { index: 3 }
    );
}

#[test]
fn rejects_bad_covariances() {
    let good = anchor_items(0.0);
    let cov = vec![[[0.01, 0.0, 0.0], [0.0, 0.02, 0.0], [0.0; 3]]; good.len()];
    assert_eq!(
        error_of(LinkingMethod::MeanMean, &good, &good, Some(&cov[1..])),
        LinkingError::LengthMismatch
    );
    let mut bad = cov.clone();
    bad[4][1][1] = f64::NAN;
    assert_eq!(
        error_of(LinkingMethod::Haebara, &good, &good, Some(&bad)),
        LinkingError::NonFinite {
            what: "from_cov",
            index: 4
        }
    );
}

#[test]
fn mean_sigma_rejects_zero_spread() {
    let from: Vec<ItemPoint> = [0.7, 1.2, 1.5].iter().map(|&a| item(a, 0.3, 0.0)).collect();
    let to = anchor_items(0.0)[..3].to_vec();
    assert_eq!(
        error_of(LinkingMethod::MeanSigma, &from, &to, None),
        LinkingError::DegenerateSpread
    );
    assert_eq!(
        error_of(LinkingMethod::MeanSigma, &to, &from, None),
        LinkingError::DegenerateSpread
    );
}

/// Regression (found by tests/fuzz_properties.rs): finite slopes near f64::MAX gave an
/// infinite A as a result. (Their b stay small: the intercept −a·b must be finite too.)
#[test]
fn constants_out_of_numeric_range_are_an_error() {
    let huge = [item(1e308, 0.0, 0.0), item(1e308, 1e-300, 0.0)];
    let unit = [item(1.0, 0.0, 0.0), item(1.0, 1.0, 0.0)];
    assert_eq!(
        error_of(LinkingMethod::MeanMean, &huge, &unit, None),
        LinkingError::OutOfRange
    );
}

#[test]
fn curve_methods_report_no_convergence_on_a_flat_criterion() {
    // 'From' items so far off the quadrature range that every P* underflows
    // to exactly 0: the criterion is flat, so there is no minimum to find.
    let from = vec![item(50.0, 60.0, 0.0), item(40.0, 70.0, 0.0)];
    let to = anchor_items(0.0)[..2].to_vec();
    for method in CURVE_METHODS {
        assert_eq!(
            error_of(method, &from, &to, None),
            LinkingError::NoConvergence
        );
    }
}

#[test]
fn error_messages_are_lowercase_without_trailing_period() {
    let errors = [
        LinkingError::TooFewItems { needed: 2, got: 1 },
        LinkingError::LengthMismatch,
        LinkingError::NonFinite {
            what: "from.a",
            index: 0,
        },
        LinkingError::NonPositiveSlope { index: 1 },
        LinkingError::DegenerateSpread,
        LinkingError::NoConvergence,
        LinkingError::OutOfRange,
    ];
    for e in errors {
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        let msg = boxed.to_string();
        assert!(!msg.is_empty() && !msg.ends_with('.'), "{msg}");
        assert!(
            msg.chars().next().is_some_and(|c| c.is_lowercase()),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------------------
// Standard errors
// ---------------------------------------------------------------------------

/// Fixture case 1, optionally with guessing parameters on both forms so the
/// c-derivatives of the curve criteria are exercised too.
fn se_data(c: f64) -> (Vec<ItemPoint>, Vec<ItemPoint>) {
    let (_, from, to, _) = cases().remove(0);
    let with_c = |v: Vec<ItemPoint>| v.into_iter().map(|p| item(p.a, p.b, c)).collect();
    (with_c(from), with_c(to))
}

/// ∂(A, B)/∂(a_i, b_i, c_i) by central differences of `linking_constants`.
fn numeric_jacobian(
    method: LinkingMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
) -> Vec<[[f64; 3]; 2]> {
    let h = 1e-5;
    let shifted = |i: usize, j: usize, delta: f64| {
        let mut moved = from.to_vec();
        let p = &mut moved[i];
        *[&mut p.a, &mut p.b, &mut p.c][j] += delta;
        solve(method, &moved, to)
    };
    (0..from.len())
        .map(|i| {
            let columns = [0, 1, 2].map(|j| {
                if j == 2 && from[i].c < h {
                    // c = 0 is the edge of its range: the one-sided second-order difference.
                    let (f0, f1, f2) =
                        (shifted(i, j, 0.0), shifted(i, j, h), shifted(i, j, 2.0 * h));
                    let d = |g: fn(&LinkingConstants) -> f64| {
                        (-3.0 * g(&f0) + 4.0 * g(&f1) - g(&f2)) / (2.0 * h)
                    };
                    return [d(|k| k.slope), d(|k| k.intercept)];
                }
                let (plus, minus) = (shifted(i, j, h), shifted(i, j, -h));
                [
                    (plus.slope - minus.slope) / (2.0 * h),
                    (plus.intercept - minus.intercept) / (2.0 * h),
                ]
            });
            [0, 1].map(|row| columns.map(|column| column[row]))
        })
        .collect()
}

fn unit_covariance(n: usize, item: usize, param: usize) -> Vec<ItemCovariance> {
    let mut cov = vec![[[0.0; 3]; 3]; n];
    cov[item][param][param] = 1.0;
    cov
}

/// A positive-definite covariance per item with correlated a, b and c.
fn full_covariance(n: usize) -> Vec<ItemCovariance> {
    (0..n)
        .map(|i| {
            let s = 1.0 + 0.1 * i as f64;
            let l = [
                [0.1 * s, 0.0, 0.0],
                [0.03, 0.15 * s, 0.0],
                [-0.01, 0.02, 0.05],
            ];
            let mut cov = [[0.0; 3]; 3];
            for (r, row) in cov.iter_mut().enumerate() {
                for (c, out) in row.iter_mut().enumerate() {
                    *out = (0..3).map(|k| l[r][k] * l[c][k]).sum();
                }
            }
            cov
        })
        .collect()
}

fn with_cov(
    method: LinkingMethod,
    from: &[ItemPoint],
    to: &[ItemPoint],
    cov: &[ItemCovariance],
) -> (f64, f64) {
    let joint = JointCovariance::block_diagonal(cov);
    let k = linking_constants(method, &params(from), &params(to), Some(&joint))
        .expect("linking succeeds");
    (
        k.slope_se.expect("slope se"),
        k.intercept_se.expect("intercept se"),
    )
}

/// Central differences with h = 1e-5 are good to ~1e-10 here.
fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-8 * (1.0 + y.abs())
}

/// vᵀ·M·v.
fn quadratic_form(v: &[f64; 3], m: &ItemCovariance) -> f64 {
    let mv = m.map(|row| row.iter().zip(v).map(|(x, y)| x * y).sum::<f64>());
    v.iter().zip(&mv).map(|(x, y)| x * y).sum()
}

#[test]
fn standard_errors_match_finite_difference_jacobian() {
    for c in [0.0, 0.2] {
        let (from, to) = se_data(c);
        for method in LinkingMethod::ALL {
            let numeric = numeric_jacobian(method, &from, &to);
            let mut worst = 0.0_f64;
            // A unit variance on one parameter makes the SE equal |∂(A, B)/∂θ|.
            for (i, jac) in numeric.iter().enumerate() {
                for (j, (da, db)) in jac[0].iter().zip(&jac[1]).enumerate() {
                    let (se_a, se_b) =
                        with_cov(method, &from, &to, &unit_covariance(from.len(), i, j));
                    let (da, db) = (da.abs(), db.abs());
                    worst = worst.max((se_a - da).abs()).max((se_b - db).abs());
                    assert!(
                        close(se_a, da) && close(se_b, db),
                        "{} c={c} item {i} param {j}",
                        method.name()
                    );
                }
            }
            // Full correlated covariances: compare with J_num·Cov·J_numᵀ.
            let cov = full_covariance(from.len());
            let (se_a, se_b) = with_cov(method, &from, &to, &cov);
            let var = |row: usize| -> f64 {
                numeric
                    .iter()
                    .zip(&cov)
                    .map(|(jac, c)| quadratic_form(&jac[row], c))
                    .sum()
            };
            assert!(
                close(se_a, var(0).sqrt()) && close(se_b, var(1).sqrt()),
                "{} c={c}",
                method.name()
            );
            println!(
                "{:>13} c={c}: SE(A) = {se_a:.6}, SE(B) = {se_b:.6}; \
                 worst |analytic − finite-difference| Jacobian entry {worst:.1e}",
                method.name()
            );
        }
    }
}

#[test]
fn larger_covariance_gives_larger_standard_errors() {
    let (from, to) = se_data(0.2);
    let cov = full_covariance(from.len());
    let scaled: Vec<ItemCovariance> = cov
        .iter()
        .map(|c| c.map(|row| row.map(|v| 4.0 * v)))
        .collect();
    let inflated: Vec<ItemCovariance> = cov
        .iter()
        .map(|c| {
            let mut c = *c;
            c[1][1] += 0.05;
            c
        })
        .collect();
    for method in LinkingMethod::ALL {
        assert_eq!(solve(method, &from, &to).slope_se, None);
        assert_eq!(solve(method, &from, &to).intercept_se, None);
        let (a1, b1) = with_cov(method, &from, &to, &cov);
        let (a4, b4) = with_cov(method, &from, &to, &scaled);
        assert!(
            close(a4, 2.0 * a1) && close(b4, 2.0 * b1),
            "{}",
            method.name()
        );
        let (ai, bi) = with_cov(method, &from, &to, &inflated);
        assert!(ai >= a1 && bi > b1, "{}", method.name());
    }
}

// ---------------------------------------------------------------------------
// Items in categories
// ---------------------------------------------------------------------------

/// One item of `tests/fixtures/poly_linking.json` as plink takes it: "drm" right/wrong (a, b,
/// c), "grm" graded and "gpcm" generalized partial credit with slope a and thresholds.
fn plink_item(item: &Value) -> ItemParams {
    let a = item["a"].as_f64().unwrap();
    let steps = match item["model"].as_str().unwrap() {
        "drm" => {
            let (b, c) = (item["b"].as_f64().unwrap(), item["c"].as_f64().unwrap());
            return ItemParams::from_irt(a, b, c);
        }
        "grm" => Steps::Graded,
        "gpcm" => Steps::PartialCredit,
        other => panic!("model {other}"),
    };
    ItemParams::from_thresholds(steps, a, &numbers(&item["thresholds"])).unwrap()
}

fn plink_key(method: LinkingMethod) -> &'static str {
    match method {
        LinkingMethod::MeanMean => "mean_mean",
        LinkingMethod::MeanSigma => "mean_sigma",
        LinkingMethod::Haebara => "haebara",
        LinkingMethod::StockingLord => "stocking_lord",
    }
}

/// plink 1.5-1 (`scripts/fixtures/poly_linking.R`) on graded, generalized partial credit and
/// mixed anchors: every method's constants within plink's rounding to six decimals, and the
/// curve methods' criterion at the optimum equal to plink's objective (its Haebara divides by
/// the number of compared curves, both leave out our ½), which pins down the criterion itself:
/// which curves are compared and how categories are scored.
#[test]
fn agrees_with_plink_over_items_in_categories() {
    let fixture = common::read_local_json("poly_linking.json");
    let (mut worst_constant, mut worst_objective) = (0.0_f64, 0.0_f64);
    for (name, case) in fixture["cases"].as_object().unwrap() {
        let side = |key: &str| -> Vec<ItemParams> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(plink_item)
                .collect()
        };
        let (from, to) = (side("from"), side("to"));
        for method in LinkingMethod::ALL {
            let reference = &case["results"][plink_key(method)];
            let k = linking_constants(method, &from, &to, None).unwrap();
            let d = deviation(&k, reference);
            worst_constant = worst_constant.max(d);
            assert!(d <= 1.5e-6, "{name} {}: {d}", method.name());
            let Some(objective) = reference["objective"].as_f64() else {
                continue;
            };
            let compared: usize = from
                .iter()
                .map(|p| {
                    if p.steps().is_none() {
                        1
                    } else {
                        p.categories()
                    }
                })
                .sum();
            let ours = match method {
                LinkingMethod::Haebara => 2.0 * k.criterion.unwrap() / compared as f64,
                _ => 2.0 * k.criterion.unwrap(),
            };
            let relative = (ours - objective).abs() / objective;
            worst_objective = worst_objective.max(relative);
            assert!(
                relative <= 1e-7,
                "{name} {}: {ours} vs {objective}",
                method.name()
            );
        }
    }
    println!(
        "plink: worst |ΔA|, |ΔB| {worst_constant:.1e}, worst relative criterion {worst_objective:.1e}"
    );
}

/// Graded, partial credit and right/wrong anchors together.
fn mixed_anchors() -> Vec<ItemParams> {
    vec![
        ItemParams::from_irt(1.1, -0.8, 0.0),
        ItemParams::from_irt(0.8, 0.6, 0.15),
        ItemParams::from_thresholds(Steps::Graded, 1.3, &[-1.4, -0.2, 0.9]).unwrap(),
        ItemParams::from_thresholds(Steps::Graded, 0.7, &[-0.5, 1.6]).unwrap(),
        ItemParams::from_thresholds(Steps::PartialCredit, 1.0, &[0.4, -0.6, 1.1]).unwrap(),
        ItemParams::from_thresholds(Steps::PartialCredit, 1.6, &[-1.0, 0.2]).unwrap(),
    ]
}

#[test]
fn anchors_in_categories_moved_by_known_constants_give_them_back() {
    assert_round_trip(&mixed_anchors());
}

#[test]
fn anchors_of_another_shape_are_refused() {
    let from = mixed_anchors();
    let mut to = from.clone();
    to[3] = ItemParams::from_thresholds(Steps::PartialCredit, 0.7, &[-0.5, 1.6]).unwrap();
    for method in LinkingMethod::ALL {
        assert_eq!(
            linking_constants(method, &from, &to, None).unwrap_err(),
            LinkingError::ShapeMismatch { index: 3 }
        );
    }
}

/// The delta method over anchors in categories: with a unit variance on one coordinate of one
/// item's IRT form, each SE is |∂(A, B)/∂ that coordinate|, here against central differences of
/// the constants themselves; and a full joint covariance gives J·Σ·Jᵀ.
#[test]
fn standard_errors_over_anchors_in_categories_match_finite_differences() {
    let from = mixed_anchors();
    let to: Vec<ItemParams> = from
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // Not an exact link: each 'to' item off by a little.
            let mut x = p.on_scale(1.2, -0.3).irt_coords();
            x[1] += 0.05 * (i as f64 - 2.5);
            x[0] *= 1.0 + 0.03 * (i % 3) as f64;
            p.with_irt_coords(&x)
        })
        .collect();
    let sizes: Vec<usize> = from.iter().map(ItemParams::n_coords).collect();
    let dim: usize = sizes.iter().sum();
    let offsets: Vec<usize> = sizes
        .iter()
        .scan(0, |at, &n| {
            *at += n;
            Some(*at - n)
        })
        .collect();
    let h = 1e-5;
    for method in LinkingMethod::ALL {
        let solve = |items: &[ItemParams]| linking_constants(method, items, &to, None).unwrap();
        let mut jacobian = vec![[0.0; 2]; dim];
        for (i, p) in from.iter().enumerate() {
            for r in 0..p.n_coords() {
                // A right/wrong item's c = 0 is the edge of its range: a one-sided difference.
                let edge = p.steps().is_none() && r == 2 && p.guessing() == 0.0;
                let at = |delta: f64| {
                    let mut x = p.irt_coords();
                    x[r] += delta;
                    let mut moved = from.clone();
                    moved[i] = p.with_irt_coords(&x);
                    let k = solve(&moved);
                    [k.slope, k.intercept]
                };
                let (plus, minus, span) = if edge {
                    (at(h), at(0.0), h)
                } else {
                    (at(h), at(-h), 2.0 * h)
                };
                jacobian[offsets[i] + r] = [0, 1].map(|k| (plus[k] - minus[k]) / span);
                if edge {
                    continue;
                }
                let mut unit = vec![0.0; dim * dim];
                unit[(offsets[i] + r) * dim + offsets[i] + r] = 1.0;
                let joint = JointCovariance::new(&sizes, unit).unwrap();
                let k = linking_constants(method, &from, &to, Some(&joint)).unwrap();
                let [da, db] = jacobian[offsets[i] + r];
                assert!(
                    (k.slope_se.unwrap() - da.abs()).abs() <= 1e-7 * (1.0 + da.abs())
                        && (k.intercept_se.unwrap() - db.abs()).abs() <= 1e-7 * (1.0 + db.abs()),
                    "{} item {i} coordinate {r}: ({}, {}) vs ({da}, {db})",
                    method.name(),
                    k.slope_se.unwrap(),
                    k.intercept_se.unwrap()
                );
            }
        }
        // A full covariance with entries between items: J·Σ·Jᵀ (Σ = L·Lᵀ, L banded).
        let l = |u: usize, v: usize| match u.abs_diff(v) {
            0 => 0.1 + 0.01 * u as f64,
            1 if v < u => 0.02,
            _ => 0.0,
        };
        let sigma: Vec<f64> = (0..dim * dim)
            .map(|e| (0..dim).map(|w| l(e / dim, w) * l(e % dim, w)).sum())
            .collect();
        let joint = JointCovariance::new(&sizes, sigma.clone()).unwrap();
        let k = linking_constants(method, &from, &to, Some(&joint)).unwrap();
        let var = |row: usize| -> f64 {
            (0..dim * dim)
                .map(|e| jacobian[e / dim][row] * sigma[e] * jacobian[e % dim][row])
                .sum()
        };
        let (se_a, se_b) = (k.slope_se.unwrap(), k.intercept_se.unwrap());
        assert!(
            (se_a - var(0).sqrt()).abs() <= 1e-6 * se_a
                && (se_b - var(1).sqrt()).abs() <= 1e-6 * se_b,
            "{}: ({se_a}, {se_b}) vs ({}, {})",
            method.name(),
            var(0).sqrt(),
            var(1).sqrt()
        );
        println!("{:>13}: SE(A) {se_a:.6}, SE(B) {se_b:.6}", method.name());
    }
}
