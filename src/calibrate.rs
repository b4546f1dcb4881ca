//! `mirt_calibrate`: read, fit, link, score and write, all in the caller's transaction.

use std::ops::ControlFlow;
use std::time::Instant;

use irt_core::linking::{
    latent_as_constants, linking_constants, transform_item, ItemPoint, LinkingConstants,
    LinkingMethod,
};
use irt_core::scoring::scoring_grid;
use irt_core::{
    fit, score, Algorithm, FitParams, FitResult, ItemModel, ItemParams, Latent, Priors, Score,
    ScoreMethod, SeStatus, Termination,
};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::args::{self, int_in, required, required_float, required_int};
use crate::errors::{invalid_argument, raise, raise_core, raise_linking};
use crate::load::{read_answers, read_bank, AttemptRule, Relation};
use crate::memory::TrimOnExit;
use crate::panics;
use crate::prepare::exclude_items;
use crate::write::{write_run, RunRecord};

/// How the new calibration is put on the anchors' scale.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Linking {
    /// Separate calibration, then θ* = A·θ + B from the anchors.
    Separate(LinkingMethod),
    /// Anchors held at their stored values during estimation.
    Fixed,
    None,
}

impl Linking {
    fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "fixed" => Self::Fixed,
            "none" => Self::None,
            other => LinkingMethod::parse(other)
                .map(Self::Separate)
                .unwrap_or_else(|| {
                    let mut valid: Vec<&str> =
                        LinkingMethod::ALL.iter().map(|m| m.name()).collect();
                    valid.extend(["fixed", "none"]);
                    invalid_argument(format!(
                        "unknown linking method \"{s}\"; valid methods are {}",
                        valid.join(", ")
                    ))
                }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Separate(m) => m.name(),
            Self::Fixed => "fixed",
            Self::None => "none",
        }
    }
}

/// Milliseconds spent in each phase of a run.
#[derive(Default)]
pub struct Phases {
    pub load: f64,
    pub fit: f64,
    pub score: f64,
    pub link: f64,
    pub write: f64,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
pub fn mirt_calibrate(
    model: default!(Option<&str>, "'2PL'"),
    lookback_days: default!(Option<i32>, 60),
    linking: default!(Option<&str>, "'stocking_lord'"),
    priors: default!(Option<&str>, "'default'"),
    source: default!(Option<&str>, "'attempt'"),
    items: default!(Option<&str>, "'question'"),
    max_cycles: default!(Option<i32>, 500),
    tolerance: default!(Option<f64>, 1e-4),
    quadrature_points: default!(Option<i32>, 61),
    threads: default!(Option<i32>, "NULL"),
    accept_nonconverged: default!(Option<bool>, false),
    min_anchors: default!(Option<i32>, 5),
    min_responses: default!(Option<i32>, 5),
    attempt: default!(Option<&str>, "'first'"),
    algorithm: default!(Option<&str>, "'squarem'"),
) -> TableIterator<
    'static,
    (
        name!(run_id, String),
        name!(model, String),
        name!(n_items, i32),
        name!(n_users, i32),
        name!(n_anchors, i32),
        name!(n_observations, i64),
        name!(slope, f64),
        name!(intercept, f64),
        name!(loglik, f64),
        name!(aic, f64),
        name!(bic, f64),
        name!(em_cycles, i32),
        name!(converged, bool),
        name!(elapsed_ms, f64),
    ),
> {
    panics::guarded("mirt_calibrate", || {
        let _trim = TrimOnExit;
        let started = Instant::now();
        // Every argument is checked before anything is read; NULL means the default only for
        // threads.
        let model = required(model, "model");
        let item_model = parse_model(model);
        let lookback_days = lookback(required(lookback_days, "lookback_days"));
        let priors = required(priors, "priors");
        let item_priors = Priors::preset(priors).unwrap_or_else(|e| raise_core(e));
        let linking = Linking::parse(required(linking, "linking"));
        let source = required(source, "source");
        let items = required(items, "items");
        let max_cycles = required_int(max_cycles, "max_cycles", args::MAX_CYCLES);
        let tolerance = required_float(tolerance, "tolerance", args::TOLERANCE);
        let quadrature_points = required_int(
            quadrature_points,
            "quadrature_points",
            args::QUADRATURE_POINTS,
        );
        let threads =
            crate::guc::threads(threads.map(|n| int_in(n, "threads", args::THREADS) as usize));
        let accept_nonconverged = required(accept_nonconverged, "accept_nonconverged");
        let min_anchors = required_int(min_anchors, "min_anchors", args::MIN_COUNT);
        let min_responses = required_int(min_responses, "min_responses", args::MIN_COUNT);
        let rule = AttemptRule::parse(required(attempt, "attempt"));
        let algorithm = required(algorithm, "algorithm");
        let em_algorithm = Algorithm::parse(algorithm).unwrap_or_else(|e| raise_core(e));
        let locked = Spi::get_one::<bool>(
            "SELECT pg_try_advisory_xact_lock(hashtext('pg_irt.mirt_calibrate'))",
        )
        .ok()
        .flatten()
        .unwrap_or(false);
        if !locked {
            raise(
            PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE,
            "another mirt_calibrate is running",
            None,
            Some("Wait for it to finish; runs are serialised by an advisory lock so that two runs never interleave their writes."),
        );
        }

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap_or_else(|e| {
                raise(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES,
                    format!("cannot start {threads} threads: {e}"),
                    None,
                    None,
                )
            });
        let mut phases = Phases::default();
        let t = Instant::now();
        let (answers, bank, source_name, items_name) = Spi::connect(|client| {
            let source_rel = Relation::resolve(client, source, "source");
            let items_rel = Relation::resolve(client, items, "items");
            let answers = read_answers(client, &source_rel, lookback_days, rule, &pool);
            // Read without linking too: the bank's other known parameters are start values.
            let bank = read_bank(client, &items_rel);
            (answers, bank, source_rel.quoted, items_rel.quoted)
        });
        let (rows_in_window, null_answers, repeated) = (
            answers.rows_in_window,
            answers.null_answers,
            answers.repeated,
        );
        notice!("Loaded {} observations from {source_name} ({null_answers} NULL answers skipped, {repeated} repeated attempts ignored)", answers.responses.n_answers());
        let prepared = exclude_items(answers, min_responses as i64);
        for e in &prepared.excluded {
            warning!("item {} excluded: {}", e.item_id, e.reason);
        }
        if prepared.responses.n_answers() == 0 {
            raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("no usable answers in {source_name} in the last {lookback_days} days"),
            Some(format!(
                "{rows_in_window} rows in the window, {null_answers} with a NULL answer, {} items excluded.",
                prepared.excluded.len()
            )),
            Some("Widen lookback_days, or check that the source relation holds recent answers."),
        );
        }
        let item_index: std::collections::HashMap<&str, usize> = prepared
            .item_ids
            .iter()
            .enumerate()
            .map(|(j, id)| (id.as_str(), j))
            .collect();
        let excluded: std::collections::HashSet<&str> = prepared
            .excluded
            .iter()
            .map(|e| e.item_id.as_str())
            .collect();
        let mut anchors: Vec<(usize, ItemParams)> = Vec::new();
        let n_bank_anchors = bank.anchors.len();
        if linking != Linking::None {
            let (mut unanswered, mut excluded_anchors, mut mismatched) = (0, 0, 0);
            for (id, p) in &bank.anchors {
                match item_index.get(id.as_str()) {
                    Some(&j) => match item_model.anchor_mismatch(p) {
                        Some(why) => {
                            warning!("anchor {id} left out: {why}");
                            mismatched += 1;
                        }
                        None => anchors.push((j, *p)),
                    },
                    None if excluded.contains(id.as_str()) => excluded_anchors += 1,
                    None => unanswered += 1,
                }
            }
            notice!(
                "Loaded {n_bank_anchors} anchors from {items_name}; {} usable, {excluded_anchors} excluded with their items, {unanswered} without answers in the window, {mismatched} left out for their lower asymptote",
                anchors.len()
            );
            if anchors.len() < min_anchors as usize {
                raise(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                format!("{} usable anchors, fewer than min_anchors = {min_anchors}", anchors.len()),
                Some(format!("{n_bank_anchors} anchors in {items_name}, {} usable.", anchors.len())),
                Some("Tag more items with \"anchor\" and give them meta->'irt', lower min_anchors, or calibrate without linking (linking => 'none')."),
            );
            }
        }
        phases.load = ms_since(t);

        let t = Instant::now();
        let mut params = FitParams::new(item_model)
            .priors(item_priors)
            .max_cycles(max_cycles as usize)
            .tolerance(tolerance)
            .algorithm(em_algorithm)
            .quadrature(quadrature_points as usize, -6.0, 6.0);
        for (id, p) in &bank.starts {
            if let Some(&j) = item_index.get(id.as_str()) {
                params = params.start_item(j, *p);
            }
        }
        match linking {
            Linking::Fixed => {
                for &(j, p) in &anchors {
                    params = params.fix_item(j, p);
                }
            }
            // The link's standard errors need the anchors' estimates jointly.
            Linking::Separate(_) => {
                params = params.joint_covariance_of(anchors.iter().map(|&(j, _)| j).collect());
            }
            Linking::None => {}
        }
        let config = params
            .check(prepared.responses.n_items())
            .unwrap_or_else(|e| raise_core(e));
        notice!(
            "Model: {}, Anchors: {}, Linking: {}",
            item_model.name(),
            anchors.len(),
            linking.name()
        );
        let result = fit(&prepared.responses, &config, &pool, |r| {
            pgrx::check_for_interrupts!();
            if r.cycle % 10 == 0 {
                notice!(
                    "EM cycle {}: logLik {:.4}, max change {:.2e}",
                    r.cycle,
                    r.log_lik,
                    r.max_change
                );
            }
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| raise_core(e));
        phases.fit = ms_since(t);
        if result.termination != Termination::Converged {
            let message = format!(
            "EM did not converge in {} cycles (largest change {:.2e}, tolerance {tolerance:.1e})",
            result.cycles, result.max_change
        );
            if !accept_nonconverged {
                raise(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                message,
                Some("Nothing was written; the previous calibration stays current.".into()),
                Some("Raise max_cycles, use default priors, or accept the run with accept_nonconverged => true."),
            );
            }
            warning!("{message}; written with status not_converged");
        }

        if result.se_status == SeStatus::NotPositiveDefinite {
            warning!("standard errors not computed: the information matrix is not positive definite where the estimates ended, so the data do not identify every parameter there; the run is written without item and linking standard errors (metrics->>'se_status' = 'not_positive_definite')");
        }
        let t = Instant::now();
        let constants = link(&result, &anchors, linking);
        // With fixed anchors the estimates are already on the anchors' scale.
        let applied = if linking == Linking::Fixed {
            LinkingConstants {
                slope: 1.0,
                intercept: 0.0,
                ..constants
            }
        } else {
            constants
        };
        phases.link = ms_since(t);
        notice!(
            "Linking constants: slope {:.4}, intercept {:.4}",
            constants.slope,
            constants.intercept
        );

        let t = Instant::now();
        let grid = scoring_grid(result.latent).unwrap_or_else(|e| raise_core(e));
        let mut scores = score(
            &prepared.responses,
            &result.item_params(),
            result.latent,
            &grid,
            ScoreMethod::Eap,
            &pool,
        )
        .unwrap_or_else(|e| raise_core(e));
        for s in &mut scores {
            *s = Score {
                theta: applied.slope * s.theta + applied.intercept,
                se: applied.slope * s.se,
            };
        }
        phases.score = ms_since(t);

        let record = RunRecord {
            model: item_model,
            lookback_days,
            linking: linking.name(),
            constants,
            applied,
            priors,
            algorithm: em_algorithm.name(),
            tolerance,
            threads,
            n_anchors: anchors.len(),
            rows_in_window,
            null_answers,
            repeated,
            source: &source_name,
            items: &items_name,
        };
        let run_id = write_run(&prepared, &result, &scores, &record, &mut phases, started);
        notice!(
            "Calibration upsert completed: {} items, {} abilities",
            prepared.item_ids.len(),
            scores.len()
        );

        TableIterator::once((
            run_id,
            item_model.name().to_string(),
            prepared.item_ids.len() as i32,
            prepared.user_ids.len() as i32,
            anchors.len() as i32,
            prepared.responses.n_answers() as i64,
            constants.slope,
            constants.intercept,
            result.log_lik,
            result.aic,
            result.bic,
            result.cycles as i32,
            result.converged(),
            ms_since(started),
        ))
    })
}

pub fn parse_model(model: &str) -> ItemModel {
    ItemModel::parse(model).unwrap_or_else(|e| raise_core(e))
}

/// A window of one day up to a century.
pub fn lookback(lookback_days: i32) -> i32 {
    int_in(lookback_days, "lookback_days", args::LOOKBACK_DAYS)
}

/// The constants of θ_anchor = slope·θ_new + intercept.
fn link(result: &FitResult, anchors: &[(usize, ItemParams)], linking: Linking) -> LinkingConstants {
    let identity = LinkingConstants {
        slope: 1.0,
        intercept: 0.0,
        slope_se: None,
        intercept_se: None,
        criterion: None,
    };
    match linking {
        Linking::None => identity,
        // The fixed anchors define the scale; the latent distribution found on it is the link.
        Linking::Fixed => latent_as_constants(result.latent, result.latent_covariance),
        Linking::Separate(method) => {
            let point = |p: &ItemParams| ItemPoint {
                a: p.a,
                b: p.b(),
                c: p.c,
            };
            let from: Vec<ItemPoint> = anchors
                .iter()
                .map(|&(j, _)| point(&result.items[j].params))
                .collect();
            let to: Vec<ItemPoint> = anchors.iter().map(|(_, p)| point(p)).collect();
            linking_constants(method, &from, &to, result.joint_covariance.as_ref())
                .unwrap_or_else(|e| raise_linking(e))
        }
    }
}

/// An item's parameters on the linked scale.
pub fn linked_item(p: &ItemParams, k: &LinkingConstants) -> ItemParams {
    let t = transform_item(
        ItemPoint {
            a: p.a,
            b: p.b(),
            c: p.c,
        },
        k,
    );
    ItemParams::from_irt(t.a, t.b, t.c)
}

/// The latent distribution on the linked scale.
pub fn linked_latent(l: Latent, k: &LinkingConstants) -> Latent {
    Latent {
        mean: k.slope * l.mean + k.intercept,
        variance: k.slope * k.slope * l.variance,
    }
}
