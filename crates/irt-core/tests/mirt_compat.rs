//! mirt-compatible mode against R mirt 1.46.1 (shared/fixtures): the same EM run, so the same
//! stopping point short of the maximum, and the same number of cycles. Each test prints its
//! worst deviations.
//!
//! The criterion is 1e-3 in a and b. For 2PL and 3PL the run is mirt's to rounding, so
//! the estimates are held to PARITY_TOL as well. mirt's Rasch optimises the latent variance
//! with nlminb, which is not reproduced (see `mirt_compat`): its estimates differ by up to 5e-5,
//! though it still stops on the same cycle here.

mod common;

use std::ops::ControlFlow;

use common::*;
use irt_core::{fit, Algorithm, FitParams, FitResult, ItemParams, Responses, Termination};

/// The criterion: a, b and c, and the latent variance.
const PARAM_TOL: f64 = 1e-3;
/// Where mirt's run is reproduced, a, b and c agree to (measured: 2PL and SAT12's 3PL ≤ 6e-11,
/// LSAT7's 3PL, whose asymptotes run towards 0, 4e-7; Rasch 5e-5, where mirt estimates the
/// variance with nlminb and we with Newton steps).
const PARITY_2PL: f64 = 1e-10;
const PARITY_LSAT7_3PL: f64 = 1e-6;
const PARITY_RASCH: f64 = 1e-4;
const LOGLIK_TOL: f64 = 1e-2;
const EAP_TOL: f64 = 1e-3;

fn calibrate(data: &Responses, model_name: &str) -> FitResult {
    let config = FitParams::new(model(model_name))
        .algorithm(Algorithm::MirtCompatible)
        .check(data.n_items())
        .unwrap();
    fit(data, &config, &pool(2), |_| ControlFlow::Continue(())).unwrap()
}

/// Worst |Δa| and |Δb| against mirt's, with their items (1-based).
fn item_deviations(result: &FitResult, mirt_a: &[f64], mirt_b: &[f64]) -> [(f64, usize); 2] {
    let (dev_a, at_a) = worst(
        result
            .items
            .iter()
            .map(|i| i.params.slope())
            .zip(mirt_a.iter().copied()),
    );
    let (dev_b, at_b) = worst(
        result
            .items
            .iter()
            .map(|i| i.params.b())
            .zip(mirt_b.iter().copied()),
    );
    [(dev_a, at_a + 1), (dev_b, at_b + 1)]
}

fn check_classic(dataset: &str, model_name: &str, termination: Termination, parity: f64) {
    let data = read_long(&format!("classic/{dataset}_long.csv"));
    let reference = read_json(&format!("classic/{dataset}_{model_name}.json"));
    let result = calibrate(&data, model_name);
    let items = reference["items"].as_array().unwrap();
    let field =
        |name: &str| -> Vec<f64> { items.iter().map(|i| i[name].as_f64().unwrap()).collect() };
    let [(dev_a, at_a), (dev_b, at_b)] = item_deviations(&result, &field("a"), &field("b"));
    let (dev_c, _) = worst_item(&result, ItemParams::guessing, field("c"));
    let dev_var = (result.latent.variance - reference["latent_var"].as_f64().unwrap()).abs();
    let dev_ll = (result.log_lik - reference["logLik"].as_f64().unwrap()).abs();
    let scores = mirt_eap(&data, &result);
    let first20 = reference["eap_first20"].as_array().unwrap();
    let column = |name: &'static str| first20.iter().map(move |r| r[name].as_f64().unwrap());
    let (dev_theta, _) = worst(scores.iter().map(|s| s.theta).zip(column("theta")));
    let (dev_se, _) = worst(scores.iter().map(|s| s.se).zip(column("se")));
    let mirt_cycles = reference["em_cycles"].as_u64().unwrap() as usize;
    println!(
        "{dataset} {model_name}: cycles {} (mirt {mirt_cycles}), {:?}; |ΔlogLik| {dev_ll:.1e}; \
         worst |Δa| {dev_a:.1e} (item {at_a}), |Δb| {dev_b:.1e} (item {at_b}), |Δc| {dev_c:.1e}, \
         |Δvar| {dev_var:.1e}; EAP persons 1–20 |Δθ| {dev_theta:.1e}, |ΔSE| {dev_se:.1e}",
        result.cycles, result.termination,
    );
    assert_eq!(result.termination, termination);
    assert!(
        dev_a < PARAM_TOL && dev_b < PARAM_TOL && dev_c < PARAM_TOL,
        "items off"
    );
    assert!(dev_var < PARAM_TOL, "latent variance off");
    assert!(dev_ll < LOGLIK_TOL, "logLik off");
    assert!(dev_theta < EAP_TOL && dev_se < EAP_TOL, "EAP off");
    assert_eq!(result.cycles, mirt_cycles);
    assert!(
        dev_a < parity && dev_b < parity && dev_c < parity,
        "not mirt's run"
    );
}

#[test]
fn lsat7_2pl() {
    check_classic("LSAT7", "2PL", Termination::Converged, PARITY_2PL);
}

#[test]
fn lsat7_rasch() {
    check_classic("LSAT7", "Rasch", Termination::Converged, PARITY_RASCH);
}

#[test]
fn lsat7_3pl() {
    check_classic("LSAT7", "3PL", Termination::Converged, PARITY_LSAT7_3PL);
}

#[test]
fn sat12_2pl() {
    check_classic("SAT12", "2PL", Termination::Converged, PARITY_2PL);
}

#[test]
fn sat12_rasch() {
    check_classic("SAT12", "Rasch", Termination::Converged, PARITY_RASCH);
}

/// mirt does not converge here in 500 cycles; neither does its run reproduced.
#[test]
fn sat12_3pl_runs_out_of_cycles_as_mirt_does() {
    check_classic("SAT12", "3PL", Termination::MaxCycles, PARITY_2PL);
}

fn check_sim(name: &str, long: &str) {
    let data = read_long(&format!("sim/{name}_{long}"));
    let result = calibrate(&data, "2PL");
    let timings = read_json("mirt_timings.json");
    let reference = timings["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dataset"] == name)
        .unwrap();
    let mirt_items = read_csv(&format!("sim/{name}_mirt_items.csv"));
    let column = |rows: &[Vec<f64>], k: usize| -> Vec<f64> { rows.iter().map(|r| r[k]).collect() };
    let [(dev_a, at_a), (dev_b, at_b)] =
        item_deviations(&result, &column(&mirt_items, 1), &column(&mirt_items, 2));
    let dev_ll = (result.log_lik - reference["logLik"].as_f64().unwrap()).abs();
    let mirt_eap_rows = read_csv(&format!("sim/{name}_mirt_eap.csv"));
    let scores = mirt_eap(&data, &result);
    let (dev_theta, _) = worst(
        scores
            .iter()
            .map(|s| s.theta)
            .zip(column(&mirt_eap_rows, 1)),
    );
    let (dev_se, _) = worst(scores.iter().map(|s| s.se).zip(column(&mirt_eap_rows, 2)));
    let mirt_cycles = reference["em_cycles"].as_u64().unwrap() as usize;
    println!(
        "{name}: cycles {} (mirt {mirt_cycles}); |ΔlogLik| {dev_ll:.1e}; worst |Δa| {dev_a:.1e} \
         (item {at_a}), |Δb| {dev_b:.1e} (item {at_b}); EAP over all {} persons |Δθ| \
         {dev_theta:.1e}, |ΔSE| {dev_se:.1e}",
        result.cycles,
        scores.len(),
    );
    assert!(result.converged());
    assert_eq!(result.cycles, mirt_cycles);
    assert!(dev_a < PARITY_2PL && dev_b < PARITY_2PL, "items off");
    assert!(dev_ll < LOGLIK_TOL, "logLik off");
    assert!(dev_theta < EAP_TOL && dev_se < EAP_TOL, "EAP off");
}

#[test]
fn sim_1000x20() {
    check_sim("sim_1000x20", "long.csv");
}

#[test]
fn sim_10000x50() {
    check_sim("sim_10000x50", "long.csv.gz");
}
