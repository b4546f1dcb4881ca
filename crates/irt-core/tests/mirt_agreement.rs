//! Agreement with R mirt 1.46.1 (shared/fixtures): same model, quadrature and convergence rule,
//! priors off. Each test prints its worst deviations.
//!
//! Three checks per fixture:
//! 1. Same objective: our marginal log-likelihood at mirt's reported parameters reproduces
//!    mirt's logLik (to 1e-10), so model, quadrature and prior weights are the same.
//! 2. At least as good: our logLik is not below mirt's.
//! 3. Same estimates within the tolerances below. mirt's Ramsay-accelerated EM stops where a
//!    cycle moves every parameter by < 1e-4, which leaves it short of the maximum: on LSAT7 2PL
//!    our fully converged estimates have a logLik higher by 1.4e-5 and differ from mirt's by
//!    1.7e-3 in one slope. Where the likelihood is that flat the tolerance is mirt's own slack,
//!    not ours; it is named per case.

mod common;

use std::ops::ControlFlow;

use common::*;
use irt_core::{fit, log_likelihood, FitParams, FitResult, Grid, ItemParams, Latent, Responses};

/// Item a and b, and EAP θ and SE (the 1e-3 where mirt itself converged tightly).
const PARAM_TOL: f64 = 1e-3;
/// 2PL slopes on LSAT7, SAT12 and sim_1000x20, where mirt stops up to 2.5e-3 short.
const PARAM_TOL_MIRT_SLACK: f64 = 3e-3;
/// LSAT7 3PL: mirt stops at c ≈ 1e-4 for four items, with logLik 5.6e-4 below the maximum.
const PARAM_TOL_3PL: f64 = 2.5e-2;
const EAP_TOL_3PL: f64 = 2e-3;
const LOGLIK_TOL: f64 = 1e-2;
/// Our logLik at mirt's estimates against mirt's own (measured ≤ 2.6e-11, the digits mirt writes).
const SAME_OBJECTIVE_TOL: f64 = 1e-10;
const EAP_TOL: f64 = 1e-3;
/// The simulated sets: a and b, EAP θ of every person.
const SIM_TOL: f64 = 2e-3;

fn calibrate(data: &Responses, model_name: &str) -> FitResult {
    let config = FitParams::new(model(model_name))
        .check(data.n_items())
        .unwrap();
    fit(data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap()
}

/// Returns mirt's logLik recomputed by us and mirt's own.
fn mirt_objective(data: &Responses, reference: &serde_json::Value) -> (f64, f64) {
    let items: Vec<ItemParams> = reference["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            ItemParams::new(
                i["a1"].as_f64().unwrap(),
                i["d"].as_f64().unwrap(),
                i["c"].as_f64().unwrap(),
            )
        })
        .collect();
    let latent = Latent {
        mean: reference["latent_mean"].as_f64().unwrap(),
        variance: reference["latent_var"].as_f64().unwrap(),
    };
    let grid = Grid::new(61, -6.0, 6.0).unwrap();
    (
        log_likelihood(data, &items, &[latent], &grid, &pool(2)).unwrap(),
        reference["logLik"].as_f64().unwrap(),
    )
}

struct Tolerances {
    a: f64,
    b: f64,
    c: f64,
    eap: f64,
}

fn check_classic(dataset: &str, model_name: &str, tol: Tolerances) {
    let data = read_long(&format!("classic/{dataset}_long.csv"));
    let reference = read_json(&format!("classic/{dataset}_{model_name}.json"));
    let result = calibrate(&data, model_name);
    assert!(
        result.converged(),
        "{dataset} {model_name} did not converge in {} cycles",
        result.cycles
    );
    let (ours_at_mirt, mirt_ll) = mirt_objective(&data, &reference);
    let items = reference["items"].as_array().unwrap();
    let field = |name: &'static str| items.iter().map(move |i| i[name].as_f64().unwrap());
    let (dev_a, at_a) = worst_item(&result, ItemParams::slope, field("a"));
    let (dev_b, at_b) = worst_item(&result, ItemParams::b, field("b"));
    let (dev_c, _) = worst_item(&result, ItemParams::guessing, field("c"));
    let scores = mirt_eap(&data, &result);
    let first20 = reference["eap_first20"].as_array().unwrap();
    let column = |name: &'static str| first20.iter().map(move |r| r[name].as_f64().unwrap());
    let (dev_theta, _) = worst(scores.iter().map(|s| s.theta).zip(column("theta")));
    let (dev_se, _) = worst(scores.iter().map(|s| s.se).zip(column("se")));
    let dev_var = (result.latent.variance - reference["latent_var"].as_f64().unwrap()).abs();
    println!(
        "{dataset} {model_name}: cycles {} (mirt {}); logLik ours − mirt {:+.2e}, ours at mirt's estimates − mirt {:+.1e}; \
         worst |Δa| {dev_a:.2e} (item {}), |Δb| {dev_b:.2e} (item {}), |Δc| {dev_c:.2e}, |Δvar| {dev_var:.2e}; \
         EAP persons 1–20 |Δθ| {dev_theta:.2e}, |ΔSE| {dev_se:.2e}",
        result.cycles,
        reference["em_cycles"],
        result.log_lik - mirt_ll,
        ours_at_mirt - mirt_ll,
        at_a + 1,
        at_b + 1,
    );
    assert!(
        (ours_at_mirt - mirt_ll).abs() < SAME_OBJECTIVE_TOL,
        "objective differs from mirt's"
    );
    assert!(
        result.log_lik >= mirt_ll - SAME_OBJECTIVE_TOL,
        "logLik below mirt's"
    );
    assert!(result.log_lik - mirt_ll < LOGLIK_TOL, "logLik off");
    assert!(dev_a < tol.a, "a off");
    assert!(dev_b < tol.b, "b off");
    assert!(dev_c < tol.c, "c off");
    assert!(dev_var < PARAM_TOL, "latent variance off");
    assert!(dev_theta < tol.eap && dev_se < tol.eap, "EAP off");
    assert_eq!(
        result.n_params as u64,
        reference["n_free_params"].as_u64().unwrap()
    );
    assert!((result.aic - reference["AIC"].as_f64().unwrap()).abs() < 2.0 * LOGLIK_TOL);
    assert!((result.bic - reference["BIC"].as_f64().unwrap()).abs() < 2.0 * LOGLIK_TOL);
}

const TIGHT: Tolerances = Tolerances {
    a: PARAM_TOL,
    b: PARAM_TOL,
    c: PARAM_TOL,
    eap: EAP_TOL,
};
const MIRT_SLACK: Tolerances = Tolerances {
    a: PARAM_TOL_MIRT_SLACK,
    b: PARAM_TOL_MIRT_SLACK,
    c: PARAM_TOL,
    eap: EAP_TOL,
};

#[test]
fn lsat7_2pl() {
    check_classic(
        "LSAT7",
        "2PL",
        Tolerances {
            b: PARAM_TOL,
            ..MIRT_SLACK
        },
    );
}

#[test]
fn lsat7_rasch() {
    check_classic("LSAT7", "Rasch", TIGHT);
}

#[test]
fn lsat7_3pl() {
    check_classic(
        "LSAT7",
        "3PL",
        Tolerances {
            a: PARAM_TOL_3PL,
            b: PARAM_TOL_3PL,
            c: PARAM_TOL_3PL,
            eap: EAP_TOL_3PL,
        },
    );
}

#[test]
fn sat12_2pl() {
    check_classic("SAT12", "2PL", MIRT_SLACK);
}

#[test]
fn sat12_rasch() {
    check_classic("SAT12", "Rasch", TIGHT);
}

fn check_sim(name: &str, long: &str, a_tol: f64) {
    let data = read_long(&format!("sim/{name}_{long}"));
    let result = calibrate(&data, "2PL");
    assert!(result.converged());
    let mirt_items = read_csv(&format!("sim/{name}_mirt_items.csv"));
    let (dev_a, _) = worst(
        result
            .items
            .iter()
            .map(|i| i.params.slope())
            .zip(mirt_items.iter().map(|r| r[1])),
    );
    let (dev_b, _) = worst(
        result
            .items
            .iter()
            .map(|i| i.params.b())
            .zip(mirt_items.iter().map(|r| r[2])),
    );
    let reference_eap = read_csv(&format!("sim/{name}_mirt_eap.csv"));
    let scores = mirt_eap(&data, &result);
    let (dev_theta, at) = worst(
        scores
            .iter()
            .map(|s| s.theta)
            .zip(reference_eap.iter().map(|r| r[1])),
    );
    let (dev_se, _) = worst(
        scores
            .iter()
            .map(|s| s.se)
            .zip(reference_eap.iter().map(|r| r[2])),
    );
    println!(
        "{name}: cycles {}; worst |Δa| {dev_a:.2e}, |Δb| {dev_b:.2e}; EAP over all {} persons |Δθ| {dev_theta:.2e} (person {}), |ΔSE| {dev_se:.2e}",
        result.cycles,
        scores.len(),
        at + 1,
    );
    assert!(dev_a < a_tol && dev_b < SIM_TOL, "item parameters off");
    assert!(dev_theta < SIM_TOL && dev_se < SIM_TOL, "EAP off");
}

#[test]
fn sim_1000x20() {
    check_sim("sim_1000x20", "long.csv", PARAM_TOL_MIRT_SLACK);
}

#[test]
fn sim_10000x50() {
    check_sim("sim_10000x50", "long.csv.gz", SIM_TOL);
}
