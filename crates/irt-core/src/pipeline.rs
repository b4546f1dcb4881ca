//! One calibration from start to finish, behind both front ends: the answers read from a
//! source and the item bank in; exclusions, the fit, the link, the scores and everything put on
//! the reported scale out, with the record of the run. The extension and the `pg-irt` command
//! only read, write, report progress and translate errors; every number they write is made
//! here, once.

use std::ops::ControlFlow;
use std::time::Instant;

use rayon::ThreadPool;
use serde_json::{json, Value};

use crate::alloc;
use crate::bank::Bank;
use crate::em::{fit, CycleReport, FitResult, Layout, SeStatus, Termination};
use crate::error::{CoreError, Result};
use crate::exclusion::{exclude_items, Excluded};
use crate::interrupt::Interrupt;
use crate::linking::{
    latent_as_constants, linking_constants, transform_item, ItemPoint, LinkingConstants,
};
use crate::memory::RunShape;
use crate::model::ItemParams;
use crate::params::FitParams;
use crate::quadrature::Latent;
use crate::responses::Responses;
use crate::scoring::{score, scoring_grid, Score, ScoreMethod};
use crate::settings::{Linking, Settings};

/// The answers in the window, one per user and item, grouped by user, as a front end read them.
pub struct Answers {
    pub user_ids: Vec<String>,
    pub item_ids: Vec<String>,
    pub responses: Responses,
    /// Rows in the window, NULL answers included.
    pub rows_in_window: i64,
    pub null_answers: i64,
    /// Later (or earlier) attempts at the same item that did not count.
    pub repeated: i64,
}

/// The relations a run read, as the database quotes them (they appear in messages).
pub struct Relations<'a> {
    pub source: &'a str,
    pub items: &'a str,
}

/// How a front end hears of a run as it goes: NOTICEs and WARNINGs in the extension, lines on
/// stderr for the command.
pub trait Reporter {
    fn notice(&mut self, message: &str);
    fn warning(&mut self, message: &str);
    /// After every EM cycle, on the calling thread, between parallel sections: where a front end
    /// checks for cancellation. `Break` ends the run.
    fn cycle(&mut self, report: &CycleReport) -> ControlFlow<()>;
    /// Why `cycle` asked to stop, for the error that ends the run.
    fn interruption(&self) -> String {
        "cancelled".into()
    }

    /// What the phases between cycles poll, from any thread (the standard errors, the scores).
    fn interrupt(&self) -> Interrupt {
        Interrupt::never()
    }
}

/// One item of the finished calibration, on the reported scale.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedItem {
    pub params: ItemParams,
    /// Standard errors of (a, b, c, d), where they could be computed.
    pub standard_errors: Option<[f64; 4]>,
    pub fixed: bool,
    pub n_responses: u64,
    pub p_value: f64,
}

impl ReportedItem {
    /// The `params` column: a, b, c, d, their SEs and whether the item was held fixed.
    pub fn params_json(&self) -> String {
        let p = &self.params;
        let mut entry = json!({
            "a": finite(p.a), "b": finite(p.b()), "c": finite(p.c), "d": finite(p.d),
            "fixed": self.fixed,
        });
        if let Some([sa, sb, sc, sd]) = self.standard_errors {
            entry["se_a"] = finite(sa);
            entry["se_b"] = finite(sb);
            entry["se_c"] = finite(sc);
            entry["se_d"] = finite(sd);
        }
        entry.to_string()
    }
}

/// Milliseconds of the phases the core runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreTimings {
    pub fit: f64,
    pub link: f64,
    pub score: f64,
}

/// A finished calibration.
pub struct Calibration {
    pub settings: Settings,
    pub item_ids: Vec<String>,
    pub items: Vec<ReportedItem>,
    pub user_ids: Vec<String>,
    /// Per user, in `user_ids` order, on the reported scale.
    pub abilities: Vec<Score>,
    pub answers_per_user: Vec<i32>,
    /// The latent distribution on the reported scale.
    pub latent: Latent,
    /// θ_anchors = slope·θ_fit + intercept, with standard errors where known.
    pub constants: LinkingConstants,
    pub n_anchors: usize,
    pub n_answers: usize,
    pub excluded: Vec<Excluded>,
    pub rows_in_window: i64,
    pub null_answers: i64,
    pub repeated: i64,
    pub fit: FitResult,
    pub timings: CoreTimings,
}

/// What a front end adds to the record of a run: where the answers came from and who wrote it.
pub struct Provenance<'a> {
    pub source: &'a str,
    pub items: &'a str,
    /// `{"start": …, "end": …}` of the window as the database computed it.
    pub window: Value,
    pub threads: usize,
    /// Which front end wrote the run (`extension` or `command`), and its version.
    pub written_by: &'a str,
    pub version: &'a str,
}

impl Calibration {
    pub fn converged(&self) -> bool {
        self.fit.converged()
    }

    /// `mirt_fit_meta.status`.
    pub fn status(&self) -> &'static str {
        if self.converged() {
            "succeeded"
        } else {
            "not_converged"
        }
    }

    /// `mirt_fit_meta.model_spec`: the same from both front ends but for the provenance.
    pub fn model_spec(&self, provenance: &Provenance) -> Value {
        let s = &self.settings;
        let grid = self.fit.grid.nodes();
        let k = &self.constants;
        json!({
            "model": s.model.name(),
            "n_items": self.item_ids.len(),
            "n_users": self.user_ids.len(),
            "n_anchors": self.n_anchors,
            "n_observations": self.n_answers,
            "lookback_days": s.lookback_days,
            "source": provenance.source,
            "items": provenance.items,
            "window": provenance.window,
            "linking_method": s.linking.name(),
            "linking_constants": {
                "slope": finite(k.slope),
                "intercept": finite(k.intercept),
                "slope_se": k.slope_se.map_or(Value::Null, finite),
                "intercept_se": k.intercept_se.map_or(Value::Null, finite),
            },
            "latent": {"mean": finite(self.latent.mean), "variance": finite(self.latent.variance)},
            "quadrature": {"points": grid.len(), "range": [grid[0], grid[grid.len() - 1]]},
            "tolerance": s.tolerance,
            "priors": s.priors_name,
            "algorithm": s.algorithm.name(),
            "threads": provenance.threads,
            "se_method": self.fit.se_method,
            "excluded_items": self.excluded.iter().map(|e| json!({"item_id": e.item_id, "reason": e.reason})).collect::<Vec<_>>(),
            "skipped_rows": {"null_answers": self.null_answers, "repeated_attempts": self.repeated, "rows_in_window": self.rows_in_window},
            "written_by": provenance.written_by,
            "extension_version": provenance.version,
        })
    }

    /// `mirt_fit_meta.metrics`, with the front end's load time; the write time and the total
    /// are added once the write is done.
    pub fn metrics(&self, load_ms: f64) -> Value {
        let r = &self.fit;
        let t = &self.timings;
        json!({
            "loglik": finite(r.log_lik), "aic": finite(r.aic), "bic": finite(r.bic),
            "n_params": r.n_params, "em_cycles": r.cycles, "converged": r.converged(),
            "max_change": finite(r.max_change), "se_status": r.se_status.name(),
            "ms": {"load": load_ms, "fit": t.fit, "score": t.score, "link": t.link},
        })
    }

    /// The columns both front ends write, allocated fallibly.
    pub fn columns(&self) -> Result<Columns> {
        let (items, users) = (self.items.len(), self.abilities.len());
        let mut c = Columns {
            params: alloc::with_capacity(items, "the item rows")?,
            n_responses: alloc::with_capacity(items, "the item rows")?,
            p_values: alloc::with_capacity(items, "the item rows")?,
            thetas: alloc::with_capacity(users, "the ability rows")?,
            ses: alloc::with_capacity(users, "the ability rows")?,
        };
        for item in &self.items {
            c.params.push(item.params_json());
            c.n_responses.push(item.n_responses as i64);
            c.p_values.push(item.p_value);
        }
        for s in &self.abilities {
            c.thetas.push(s.theta);
            c.ses.push(s.se);
        }
        Ok(c)
    }
}

/// The written columns of a calibration: per item in `item_ids` order, per user in `user_ids`
/// order (with `answers_per_user`).
pub struct Columns {
    pub params: Vec<String>,
    pub n_responses: Vec<i64>,
    pub p_values: Vec<f64>,
    pub thetas: Vec<f64>,
    pub ses: Vec<f64>,
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Runs a calibration of `answers` under `settings`, on `pool`; refuses before the fit when the
/// run would hold more than `max_memory` bytes.
pub fn calibrate(
    answers: Answers,
    bank: &Bank,
    settings: Settings,
    relations: &Relations,
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
    max_memory: u128,
) -> Result<Calibration> {
    let (rows_in_window, null_answers, repeated) = (
        answers.rows_in_window,
        answers.null_answers,
        answers.repeated,
    );
    reporter.notice(&format!(
        "Loaded {} observations from {} ({null_answers} NULL answers skipped, {repeated} repeated attempts ignored)",
        answers.responses.n_answers(),
        relations.source
    ));
    let kept = exclude_items(answers, settings.min_responses)?;
    for e in &kept.excluded {
        reporter.warning(&format!("item {} excluded: {}", e.item_id, e.reason));
    }
    if kept.responses.n_answers() == 0 {
        return Err(CoreError::NoUsableAnswers {
            source_name: relations.source.into(),
            lookback_days: settings.lookback_days,
            rows_in_window,
            null_answers,
            excluded: kept.excluded.len(),
        });
    }
    let anchors = usable_anchors(
        &kept.item_ids,
        &kept.excluded,
        bank,
        &settings,
        relations,
        reporter,
    )?;

    let t = Instant::now();
    let interrupt = reporter.interrupt();
    let config = fit_params(&kept.item_ids, bank, &anchors, &settings)
        .interrupt(interrupt.clone())
        .check(kept.responses.n_items())?;
    RunShape {
        answers: kept.responses.n_answers(),
        persons: kept.responses.n_persons(),
        items: kept.responses.n_items(),
        parameters: Layout::new(&config).len(),
        quadrature_points: settings.quadrature_points,
        threads: pool.current_num_threads(),
        standard_errors: settings.standard_errors,
    }
    .check(max_memory)?;
    reporter.notice(&format!(
        "Model: {}, Anchors: {}, Linking: {}",
        settings.model.name(),
        anchors.len(),
        settings.linking.name()
    ));
    let result = fit(&kept.responses, &config, pool, |r| {
        if r.cycle % 10 == 0 {
            reporter.notice(&format!(
                "EM cycle {}: logLik {:.4}, max change {:.2e}",
                r.cycle, r.log_lik, r.max_change
            ));
        }
        reporter.cycle(r)
    })?;
    let fit_ms = ms_since(t);
    if result.termination == Termination::Interrupted {
        return Err(CoreError::Interrupted {
            reason: reporter.interruption(),
        });
    }
    if result.termination != Termination::Converged {
        let error = CoreError::NotConverged {
            cycles: result.cycles,
            max_change: result.max_change,
            tolerance: settings.tolerance,
        };
        if !settings.accept_nonconverged {
            return Err(error);
        }
        reporter.warning(&format!("{error}; written with status not_converged"));
    }
    if result.se_status == SeStatus::NotPositiveDefinite {
        reporter.warning("standard errors not computed: the information matrix is not positive definite where the estimates ended, so the data do not identify every parameter there; the run is written without item and linking standard errors (metrics->>'se_status' = 'not_positive_definite')");
    }

    let t = Instant::now();
    let constants = link(&result, &anchors, settings.linking)?;
    // With fixed anchors the estimates are already on the anchors' scale.
    let applied = if settings.linking == Linking::Fixed {
        LinkingConstants {
            slope: 1.0,
            intercept: 0.0,
            ..constants
        }
    } else {
        constants
    };
    let items = reported_items(&result, &applied)?;
    let link_ms = ms_since(t);
    reporter.notice(&format!(
        "Linking constants: slope {:.4}, intercept {:.4}",
        constants.slope, constants.intercept
    ));

    let t = Instant::now();
    let grid = scoring_grid(result.latent)?;
    let mut abilities = score(
        &kept.responses,
        &result.item_params(),
        result.latent,
        &grid,
        ScoreMethod::Eap,
        pool,
        &interrupt,
    )?;
    for s in &mut abilities {
        *s = Score {
            theta: applied.slope * s.theta + applied.intercept,
            se: applied.slope * s.se,
        };
    }
    if abilities
        .iter()
        .any(|s| !(s.theta.is_finite() && s.se.is_finite()))
    {
        return Err(CoreError::NonFinite { what: "ability" });
    }
    let answers_per_user = alloc::collect(
        (0..kept.responses.n_persons()).map(|i| kept.responses.person(i).0.len() as i32),
        "the ability rows",
    )?;
    let score_ms = ms_since(t);

    Ok(Calibration {
        latent: linked_latent(result.latent, &applied),
        constants,
        n_anchors: anchors.len(),
        n_answers: kept.responses.n_answers(),
        item_ids: kept.item_ids,
        items,
        user_ids: kept.user_ids,
        abilities,
        answers_per_user,
        excluded: kept.excluded,
        rows_in_window,
        null_answers,
        repeated,
        fit: result,
        timings: CoreTimings {
            fit: fit_ms,
            link: link_ms,
            score: score_ms,
        },
        settings,
    })
}

/// The bank's anchors that can anchor this run, by item index; the others are counted by what
/// became of them (and warned about where the run decided).
fn usable_anchors(
    item_ids: &[String],
    excluded: &[Excluded],
    bank: &Bank,
    settings: &Settings,
    relations: &Relations,
    reporter: &mut impl Reporter,
) -> Result<Vec<(usize, ItemParams)>> {
    if settings.linking == Linking::None {
        return Ok(Vec::new());
    }
    let index: std::collections::HashMap<&str, usize> = item_ids
        .iter()
        .enumerate()
        .map(|(j, id)| (id.as_str(), j))
        .collect();
    let excluded: std::collections::HashSet<&str> =
        excluded.iter().map(|e| e.item_id.as_str()).collect();
    let mut anchors = Vec::new();
    let (mut unanswered, mut excluded_anchors, mut mismatched) = (0, 0, 0);
    for (id, p) in &bank.anchors {
        match index.get(id.as_str()) {
            Some(&j) => match settings.model.anchor_mismatch(p) {
                Some(why) => {
                    reporter.warning(&format!("anchor {id} left out: {why}"));
                    mismatched += 1;
                }
                None => anchors.push((j, *p)),
            },
            None if excluded.contains(id.as_str()) => excluded_anchors += 1,
            None => unanswered += 1,
        }
    }
    reporter.notice(&format!(
        "Loaded {} anchors from {}; {} usable, {excluded_anchors} excluded with their items, {unanswered} without answers in the window, {mismatched} left out for their lower asymptote",
        bank.anchors.len(),
        relations.items,
        anchors.len()
    ));
    if anchors.len() < settings.min_anchors {
        return Err(CoreError::TooFewAnchors {
            usable: anchors.len(),
            min_anchors: settings.min_anchors,
            in_bank: bank.anchors.len(),
            items: relations.items.into(),
        });
    }
    Ok(anchors)
}

/// The fit's settings: the bank's other known parameters as start values, the anchors fixed
/// (fixed linking) or asked for jointly (their covariance gives the link's standard errors).
fn fit_params(
    item_ids: &[String],
    bank: &Bank,
    anchors: &[(usize, ItemParams)],
    settings: &Settings,
) -> FitParams {
    let mut params = FitParams::new(settings.model)
        .priors(settings.priors)
        .max_cycles(settings.max_cycles)
        .tolerance(settings.tolerance)
        .algorithm(settings.algorithm)
        .standard_errors(settings.standard_errors)
        .quadrature(settings.quadrature_points, -6.0, 6.0);
    for (j, id) in item_ids.iter().enumerate() {
        if let Some(p) = bank.starts.get(id) {
            params = params.start_item(j, *p);
        }
    }
    match settings.linking {
        Linking::Fixed => {
            for &(j, p) in anchors {
                params = params.fix_item(j, p);
            }
        }
        Linking::Separate(_) => {
            params = params.joint_covariance_of(anchors.iter().map(|&(j, _)| j).collect());
        }
        Linking::None => {}
    }
    params
}

/// The constants of θ_anchor = slope·θ_new + intercept.
fn link(
    result: &FitResult,
    anchors: &[(usize, ItemParams)],
    linking: Linking,
) -> Result<LinkingConstants> {
    let point = |p: &ItemParams| ItemPoint {
        a: p.a,
        b: p.b(),
        c: p.c,
    };
    Ok(match linking {
        Linking::None => LinkingConstants {
            slope: 1.0,
            intercept: 0.0,
            slope_se: None,
            intercept_se: None,
            criterion: None,
        },
        // The fixed anchors define the scale; the latent distribution found on it is the link.
        Linking::Fixed => latent_as_constants(result.latent, result.latent_covariance),
        Linking::Separate(method) => {
            let from: Vec<ItemPoint> = anchors
                .iter()
                .map(|&(j, _)| point(&result.items[j].params))
                .collect();
            let to: Vec<ItemPoint> = anchors.iter().map(|(_, p)| point(p)).collect();
            linking_constants(method, &from, &to, result.joint_covariance.as_ref())?
        }
    })
}

/// Every item on the reported scale: (a/A, A·b + B, c), SEs scaled alike; d* = −a*·b*.
fn reported_items(result: &FitResult, k: &LinkingConstants) -> Result<Vec<ReportedItem>> {
    let items = alloc::collect(
        result
            .items
            .iter()
            .zip(&result.item_stats)
            .map(|(est, stats)| {
                let t = transform_item(
                    ItemPoint {
                        a: est.params.a,
                        b: est.params.b(),
                        c: est.params.c,
                    },
                    k,
                );
                let standard_errors = est.covariance.map(|c| {
                    let (a, b) = (est.params.a, est.params.b());
                    // d* = −(a/A)(A·b + B) = −a·b − a·B/A: gradient (−b − B/A, −a) in (a, b); the
                    // constants' own uncertainty is not added.
                    let (ga, gb) = (-b - k.intercept / k.slope, -a);
                    let se_d = (ga * ga * c[0][0] + 2.0 * ga * gb * c[0][1] + gb * gb * c[1][1])
                        .max(0.0)
                        .sqrt();
                    [
                        c[0][0].sqrt() / k.slope,
                        c[1][1].sqrt() * k.slope,
                        c[2][2].sqrt(),
                        se_d,
                    ]
                });
                ReportedItem {
                    params: ItemParams::from_irt(t.a, t.b, t.c),
                    standard_errors,
                    fixed: est.fixed,
                    n_responses: stats.n,
                    p_value: stats.p_value(),
                }
            }),
        "the item rows",
    )?;
    if items
        .iter()
        .any(|i| !(i.params.a.is_finite() && i.params.b().is_finite()))
    {
        return Err(CoreError::NonFinite {
            what: "item parameter",
        });
    }
    Ok(items)
}

/// The latent distribution on the linked scale.
fn linked_latent(l: Latent, k: &LinkingConstants) -> Latent {
    Latent {
        mean: k.slope * l.mean + k.intercept,
        variance: k.slope * k.slope * l.variance,
    }
}
