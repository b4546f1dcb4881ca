//! Standard errors against their references: item SEs against mirt 1.46.1's cross-product SEs
//! (`SE.type = 'crossprod'`, `shared/fixtures/se/mirt_item_se.json`), and the linking
//! constants' SEs against the delta method with the anchors' full covariance
//! (`shared/fixtures/se/linking_se.json`: equateIRT 2.5.1 and an independent computation).

mod common;

use std::ops::ControlFlow;

use common::{model, pool, read_json, read_long};
use irt_core::linking::{linking_constants, JointCovariance, LinkingMethod};
use irt_core::{fit, FitParams, FitResult, ItemModel, ItemParams, Priors, SeStatus};
use serde_json::Value;

/// Relative agreement with mirt's item SEs at its maximum (TOL = 1e-8): the same information.
const ITEM_SE_TOLERANCE: f64 = 1e-6;
/// Relative agreement of the linking SEs of our own fit with the reference's, whose estimates
/// come from mirt at TOL = 1e-4 (so they differ from ours in the fourth digit).
const LINK_SE_TOLERANCE: f64 = 1e-3;

fn fit_plain(data_file: &str, item_model: ItemModel, joint: Vec<usize>) -> FitResult {
    let data = read_long(data_file);
    // Tolerance 1e-8 reaches the maximum, as mirt's TOL = 1e-8 reference runs do.
    let config = FitParams::new(item_model)
        .priors(Priors::NONE)
        .tolerance(1e-8)
        .max_cycles(5_000)
        .joint_covariance_of(joint)
        .check(data.n_items())
        .unwrap();
    fit(&data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap()
}

fn relative(ours: f64, theirs: f64) -> f64 {
    (ours / theirs - 1.0).abs()
}

/// mirt's SEs of a, b, a1 = a and d, and its vcov in slope–intercept form, for one 2PL fit.
fn compare_item_ses(key: &str, data_file: &str) {
    let reference = &read_json("se/mirt_item_se.json")["fits"][key];
    let result = fit_plain(data_file, model("2PL"), Vec::new());
    assert_eq!(result.se_status, SeStatus::Ok);
    let mut worst = (0.0f64, String::new());
    let mut note = |what: String, ours: f64, theirs: f64| {
        let r = relative(ours, theirs);
        if r > worst.0 {
            worst = (r, format!("{what}: ours {ours:.6}, mirt {theirs:.6}"));
        }
    };
    for (j, item) in reference["items"].as_array().unwrap().iter().enumerate() {
        let est = &result.items[j];
        let se = est.standard_errors().unwrap();
        let (se_a, se_b) = (se[0], se[1]);
        note(
            format!("item {} SE(a)", j + 1),
            se_a,
            item["SE_a"].as_f64().unwrap(),
        );
        note(
            format!("item {} SE(b)", j + 1),
            se_b,
            item["SE_b"].as_f64().unwrap(),
        );
        note(
            format!("item {} SE(d)", j + 1),
            est.d_standard_error().unwrap(),
            item["SE_d"].as_f64().unwrap(),
        );
    }
    println!(
        "{key}: largest relative difference from mirt's crossprod SEs {:.2e} ({})",
        worst.0, worst.1
    );
    assert!(worst.0 <= ITEM_SE_TOLERANCE, "{key}: {}", worst.1);
}

#[test]
fn item_standard_errors_match_mirt_crossprod_on_lsat7() {
    compare_item_ses("LSAT7_2PL_crossprod_TOL1e-08", "classic/LSAT7_long.csv");
}

#[test]
fn item_standard_errors_match_mirt_crossprod_on_a_simulated_test() {
    compare_item_ses(
        "sim_1000x20_2PL_crossprod_TOL1e-08",
        "sim/sim_1000x20_long.csv",
    );
}

/// LSAT7's 3PL has lower asymptotes that run off towards 0 without a prior, where the data say
/// nothing about them: mirt reports SEs of logit g in the hundreds. Ours says so instead of
/// printing numbers that look precise: no SEs, and the status that names the cause.
#[test]
fn the_degenerate_lsat7_3pl_has_no_standard_errors_and_says_why() {
    let reference = &read_json("se/mirt_item_se.json")["fits"]["LSAT7_3PL_crossprod_TOL1e-04"];
    let degenerate = reference["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["c"].as_f64().unwrap() < 1e-3)
        .count();
    assert!(degenerate >= 3, "the reference is the degenerate case");
    let result = fit_plain("classic/LSAT7_long.csv", model("3PL"), Vec::new());
    let tiny = result
        .items
        .iter()
        .filter(|e| e.params.guessing() < 1e-3)
        .count();
    println!(
        "LSAT7 3PL without priors: {tiny} asymptotes below 1e-3, SE status {:?}",
        result.se_status
    );
    assert!(tiny >= 3);
    assert_eq!(result.se_status, SeStatus::NotPositiveDefinite);
    assert!(result.items.iter().all(|e| e.covariance.is_none()));
    assert!(result.joint_covariance.is_none() && result.latent_covariance.is_none());
}

fn linking_case() -> &'static Value {
    static CASE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    CASE.get_or_init(|| read_json("se/linking_se.json")["cases"]["sim_1000x20_to_truth"].clone())
}

fn points(items: &Value) -> Vec<ItemParams> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| ItemParams::from_irt(i["a"].as_f64().unwrap(), i["b"].as_f64().unwrap(), 0.0))
        .collect()
}

fn method_key(method: LinkingMethod) -> &'static str {
    match method {
        LinkingMethod::MeanMean => "mean-mean",
        LinkingMethod::MeanSigma => "mean-sigma",
        LinkingMethod::Haebara => "Haebara",
        LinkingMethod::StockingLord => "Stocking-Lord",
    }
}

/// The (a, b) covariance of the fixture, interleaved per item, as a joint (a, b, c) covariance.
fn fixture_covariance(case: &Value) -> JointCovariance {
    let rows: Vec<Vec<f64>> = case["from"]["cov_irt"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let n = rows.len() / 2;
    let mut values = vec![0.0; 9 * n * n];
    for (u, row) in rows.iter().enumerate() {
        for (v, &x) in row.iter().enumerate() {
            values[(3 * (u / 2) + u % 2) * 3 * n + 3 * (v / 2) + v % 2] = x;
        }
    }
    JointCovariance::new(&vec![3; n], values).unwrap()
}

/// With the fixture's own estimates and covariance, every method's SEs equal the independent
/// delta-method values (for mean–sigma equateIRT's SE(A) is short by (n − 1)/n).
#[test]
fn linking_standard_errors_use_the_full_covariance() {
    let case = linking_case();
    let (from, to) = (points(&case["from"]["items"]), points(&case["to"]["items"]));
    let joint = fixture_covariance(case);
    for method in LinkingMethod::ALL {
        let reference = &case["results"][method_key(method)];
        let independent = &reference["independent_delta"];
        let k = linking_constants(method, &from, &to, Some(&joint)).unwrap();
        let (se_a, se_b) = (k.slope_se.unwrap(), k.intercept_se.unwrap());
        let (want_a, want_b) = (
            independent["SE_A"].as_f64().unwrap(),
            independent["SE_B"].as_f64().unwrap(),
        );
        println!(
            "{:>13}: SE(A) {se_a:.6} (independent {want_a:.6}, equateIRT {:.6}), SE(B) {se_b:.6} (independent {want_b:.6}, equateIRT {:.6})",
            method.name(),
            reference["equateIRT"]["SE_A"].as_f64().unwrap(),
            reference["equateIRT"]["SE_B"].as_f64().unwrap()
        );
        assert!(
            relative(se_a, want_a) < 1e-6 && relative(se_b, want_b) < 1e-6,
            "{}",
            method.name()
        );
        let equate = &reference["equateIRT"];
        let (equate_a, equate_b) = (
            equate["SE_A"].as_f64().unwrap(),
            equate["SE_B"].as_f64().unwrap(),
        );
        if method == LinkingMethod::MeanSigma {
            // equateIRT's SE(A) is short by exactly (n − 1)/n here (see the fixture's notes).
            let n = from.len() as f64;
            assert!(
                relative(equate_a / se_a, (n - 1.0) / n) < 1e-3,
                "{equate_a} vs {se_a}"
            );
        } else {
            assert!(
                relative(se_a, equate_a) < 1e-6 && relative(se_b, equate_b) < 1e-6,
                "{}",
                method.name()
            );
        }
        // The block-diagonal approximation is what the old per-item sum gave.
        let blocks: Vec<[[f64; 3]; 3]> = (0..from.len())
            .map(|i| std::array::from_fn(|r| std::array::from_fn(|c| joint.entry(i, r, i, c))))
            .collect();
        let k = linking_constants(
            method,
            &from,
            &to,
            Some(&JointCovariance::block_diagonal(&blocks)),
        )
        .unwrap();
        let blocked_b = independent["SE_B_blockdiag"].as_f64().unwrap();
        assert!(
            relative(k.intercept_se.unwrap(), blocked_b) < 1e-6,
            "{}",
            method.name()
        );
    }
}

/// End to end: our own fit of sim_1000x20 (its joint covariance of items 1–10) linked to the
/// fixture's bank gives the reference constants and SEs within 0.1 %.
#[test]
fn a_fit_and_its_link_give_equate_irts_standard_errors() {
    let case = linking_case();
    let result = fit_plain("sim/sim_1000x20_long.csv", model("2PL"), (0..10).collect());
    let from: Vec<ItemParams> = result.items[..10].iter().map(|e| e.params).collect();
    let to = points(&case["to"]["items"]);
    for method in LinkingMethod::ALL {
        let independent = &case["results"][method_key(method)]["independent_delta"];
        let k = linking_constants(method, &from, &to, result.joint_covariance.as_ref()).unwrap();
        let want = |key: &str| independent[key].as_f64().unwrap();
        println!(
            "{:>13}: A {:.5} ({:.5}), B {:.5} ({:.5}), SE(A) {:.5} ({:.5}), SE(B) {:.5} ({:.5})",
            method.name(),
            k.slope,
            want("A"),
            k.intercept,
            want("B"),
            k.slope_se.unwrap(),
            want("SE_A"),
            k.intercept_se.unwrap(),
            want("SE_B")
        );
        assert!((k.slope - want("A")).abs() < 1e-3 && (k.intercept - want("B")).abs() < 1e-3);
        assert!(
            relative(k.slope_se.unwrap(), want("SE_A")) <= LINK_SE_TOLERANCE,
            "{}",
            method.name()
        );
        assert!(
            relative(k.intercept_se.unwrap(), want("SE_B")) <= LINK_SE_TOLERANCE,
            "{}",
            method.name()
        );
    }
}

/// A 1PL's anchors share one slope: mean–mean's A is that slope over the mean 'to' slope, so
/// its SE is exactly SE(slope) / mean(a_to) — which summing per-item blocks missed by about the
/// root of the number of anchors.
#[test]
fn a_common_slope_is_counted_once_per_link() {
    let anchors: Vec<usize> = (0..10).collect();
    let result = fit_plain("sim/sim_1000x20_long.csv", model("1PL"), anchors.clone());
    let joint = result.joint_covariance.as_ref().unwrap();
    let from: Vec<ItemParams> = anchors.iter().map(|&j| result.items[j].params).collect();
    let to = points(&linking_case()["to"]["items"]);
    let k = linking_constants(LinkingMethod::MeanMean, &from, &to, Some(joint)).unwrap();
    let slope_se = result.items[0].standard_errors().unwrap()[0];
    let mean_to = to.iter().map(ItemParams::slope).sum::<f64>() / to.len() as f64;
    approx::assert_relative_eq!(
        k.slope_se.unwrap(),
        slope_se / mean_to,
        max_relative = 1e-10
    );
    // Every anchor's slope is the one parameter: their covariances are all Var(slope).
    for i in 0..10 {
        approx::assert_relative_eq!(
            joint.entry(i, 0, 9 - i, 0),
            slope_se * slope_se,
            max_relative = 1e-10
        );
    }
}

/// With anchors held fixed, the constants are the latent SD and mean, and their SEs come from
/// the covariance of the estimated mean and variance. Checked against a simulation with known
/// truth: over 80 replications of 1,000 persons from N(0.3, 1.2²), 10 of 20 items fixed at
/// their true values, the z-scores (estimate − truth) / SE of A and B have SD 1 within sampling
/// error.
#[test]
fn fixed_anchor_constants_have_standard_errors_that_match_their_spread() {
    let (mean, sd) = (0.3, 1.2);
    let mut z = (Vec::new(), Vec::new());
    for seed in 0..80 {
        let sim = common::simulate(1_000 + seed, 1_000, 20, 20, mean, sd);
        let mut params = FitParams::new(model("2PL"))
            .priors(Priors::NONE)
            .tolerance(1e-6);
        for (j, &p) in sim.items.iter().enumerate().take(10) {
            params = params.fix_item(j, p);
        }
        let config = params.check(sim.data.n_items()).unwrap();
        let result = fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap();
        let k = irt_core::linking::latent_as_constants(result.latent, result.latent_covariance);
        approx::assert_relative_eq!(
            k.slope * k.slope,
            result.latent.variance,
            max_relative = 1e-12
        );
        z.0.push((k.slope - sd) / k.slope_se.unwrap());
        z.1.push((k.intercept - mean) / k.intercept_se.unwrap());
    }
    let spread = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    };
    let (sd_a, sd_b) = (spread(&z.0), spread(&z.1));
    println!("fixed anchors over 80 replications: SD of z(A) {sd_a:.3}, SD of z(B) {sd_b:.3}");
    assert!(
        (0.8..1.2).contains(&sd_a) && (0.8..1.2).contains(&sd_b),
        "{sd_a} {sd_b}"
    );
}

/// Per-item blocks against the whole inverse on a bank of 1,000 items (20,000 persons, 50 items
/// each): the SEs of a and b agree within the bounds the README states, and the linking SEs
/// (block-diagonal anchors' covariance) are the smaller ones.
#[test]
fn per_item_blocks_approximate_the_full_inverse() {
    let sim = common::simulate(51, 20_000, 1_000, 50, 0.0, 1.0);
    let run = |mode| {
        let config = FitParams::new(model("2PL"))
            .standard_errors(mode)
            .joint_covariance_of((0..20).collect())
            .check(1_000)
            .unwrap();
        fit(&sim.data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap()
    };
    let (full, blocks) = (
        run(irt_core::StandardErrors::Full),
        run(irt_core::StandardErrors::Item),
    );
    assert_eq!(
        full.items.iter().map(|e| e.params).collect::<Vec<_>>(),
        blocks.items.iter().map(|e| e.params).collect::<Vec<_>>()
    );
    assert_eq!(
        (full.se_method, blocks.se_method),
        ("crossprod", "crossprod, per-item blocks")
    );
    let mut ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (f, b) in full.items.iter().zip(&blocks.items) {
        let (f, b) = (f.standard_errors().unwrap(), b.standard_errors().unwrap());
        for p in 0..2 {
            ratios[p].push(b[p] / f[p] - 1.0);
        }
    }
    let mut summary = Vec::new();
    for (p, name) in [(0, "a"), (1, "b")] {
        let r = &mut ratios[p];
        r.sort_by(|x, y| x.total_cmp(y));
        let (low, median, high) = (r[0], r[r.len() / 2], r[r.len() - 1]);
        println!("per-item blocks vs full, SE({name}): relative difference from {low:.3} to {high:.3}, median {median:.3}");
        summary.push((name, low, median, high));
    }
    let link = |r: &irt_core::FitResult| r.joint_covariance.as_ref().unwrap().entry(0, 0, 1, 0);
    println!(
        "cross-item covariance of the first two anchors' a: full {:.2e}, blocks {:.2e}",
        link(&full),
        link(&blocks)
    );
    for (name, low, median, high) in summary {
        assert!(
            low > -0.1 && high < 0.01 && median < 0.0,
            "SE({name}): {low} {median} {high}"
        );
    }
}
