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
use crate::drift::{self, AnchorCheck, AnchorDrift};
use crate::em::{fit, CycleReport, FitResult, Layout, SeStatus, Termination};
use crate::error::{CoreError, Result};
use crate::exclusion::{exclude_items, Excluded};
use crate::interrupt::Interrupt;
use crate::item_fit::{fit_statistics, FitReport, ItemFit};
use crate::lifecycle::{self, Evidence, Status};
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
    pub item_fit: f64,
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
    /// The anchors the link used, after the drift screening.
    pub anchors_used: Vec<String>,
    /// Every screening of every anchor (empty with `anchor_drift => 'off'` or no anchors).
    pub drift: Vec<DriftRow>,
    /// Every item's fit and status: calibrated items in `item_ids` order, then excluded ones.
    pub reviews: Vec<ItemReview>,
    /// Person fit lz per user, in `user_ids` order.
    pub zh: Vec<f64>,
    /// Why S-X2 was not computed, where it was not.
    pub s_x2_skipped: Option<String>,
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

    /// The anchors the last screening flagged.
    pub fn drifted(&self) -> Vec<&str> {
        let last = self.drift.last().map_or(0, |r| r.iteration);
        self.drift
            .iter()
            .filter(|r| r.iteration == last && r.check.flagged)
            .map(|r| r.item_id.as_str())
            .collect()
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
            "anchors_used": self.anchors_used,
            "anchor_drift": {
                "mode": s.anchor_drift.name(),
                "z": s.drift_z,
                "screenings": self.drift.last().map_or(0, |r| r.iteration),
                "flagged": self.drifted(),
            },
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
            "ms": {"load": load_ms, "fit": t.fit, "score": t.score, "link": t.link, "item_fit": t.item_fit},
            "item_status": self.status_counts(),
            "s_x2_skipped": self.s_x2_skipped,
            "persons_zh_below_-1.96": self.zh.iter().filter(|&&z| z < -1.96).count(),
            "anchors_flagged": self.drifted().len(),
        })
    }

    /// How many items have each status.
    fn status_counts(&self) -> Value {
        let mut counts = serde_json::Map::new();
        for status in [
            Status::Ok,
            Status::Misfit,
            Status::LowDiscrimination,
            Status::Drifted,
            Status::Excluded,
        ] {
            let n = self.reviews.iter().filter(|r| r.status == status).count();
            counts.insert(status.name().into(), json!(n));
        }
        Value::Object(counts)
    }

    /// The payload of `pg_notify('pg_irt', …)` when the screening flagged anchors.
    pub fn notification(&self, run_id: &str) -> Option<String> {
        let flagged = self.drifted();
        (!flagged.is_empty()).then(|| {
            json!({"run_id": run_id, "event": "anchor_drift", "flagged": flagged.len(), "anchors": flagged})
                .to_string()
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
            zh: alloc::collect(
                self.zh.iter().map(|&z| z.is_finite().then_some(z)),
                "the ability rows",
            )?,
            drift: DriftColumns::of(&self.drift),
            item_fit: ItemFitColumns::of(&self.reviews)?,
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
    /// NULL where lz is not defined (a person whose every answer is certain under the model).
    pub zh: Vec<Option<f64>>,
    pub drift: DriftColumns,
    pub item_fit: ItemFitColumns,
}

/// The rows of `mirt_anchor_drift`, column by column.
#[derive(Default)]
pub struct DriftColumns {
    pub iteration: Vec<i32>,
    pub item_id: Vec<String>,
    pub stored_a: Vec<f64>,
    pub stored_b: Vec<f64>,
    pub stored_c: Vec<f64>,
    pub new_a: Vec<f64>,
    pub new_b: Vec<f64>,
    pub new_c: Vec<f64>,
    pub d_a: Vec<f64>,
    pub d_b: Vec<f64>,
    pub z_a: Vec<Option<f64>>,
    pub z_b: Vec<Option<f64>>,
    pub area: Vec<f64>,
    pub flagged: Vec<bool>,
}

impl DriftColumns {
    /// A few rows per anchor and screening: bounded by the bank, not by the data.
    fn of(rows: &[DriftRow]) -> Self {
        let mut c = Self::default();
        for r in rows {
            let k = &r.check;
            c.iteration.push(r.iteration as i32);
            c.item_id.push(r.item_id.clone());
            c.stored_a.push(k.stored.a);
            c.stored_b.push(k.stored.b);
            c.stored_c.push(k.stored.c);
            c.new_a.push(k.new.a);
            c.new_b.push(k.new.b);
            c.new_c.push(k.new.c);
            c.d_a.push(k.d_a);
            c.d_b.push(k.d_b);
            c.z_a.push(k.z_a);
            c.z_b.push(k.z_b);
            c.area.push(k.area);
            c.flagged.push(k.flagged);
        }
        c
    }
}

/// The rows of `mirt_item_fit`, column by column; NULL where a statistic is not available.
pub struct ItemFitColumns {
    pub item_id: Vec<String>,
    pub s_x2: Vec<Option<f64>>,
    pub s_x2_df: Vec<Option<i32>>,
    pub s_x2_p: Vec<Option<f64>>,
    pub s_x2_rmsea: Vec<Option<f64>>,
    pub infit: Vec<Option<f64>>,
    pub infit_z: Vec<Option<f64>>,
    pub outfit: Vec<Option<f64>>,
    pub outfit_z: Vec<Option<f64>>,
    pub rmsd: Vec<Option<f64>>,
    pub status: Vec<String>,
    pub reason: Vec<Option<String>>,
}

impl ItemFitColumns {
    fn of(reviews: &[ItemReview]) -> Result<Self> {
        let column = |f: &dyn Fn(&ItemFit) -> Option<f64>| {
            alloc::collect(
                reviews
                    .iter()
                    .map(|r| r.fit.as_ref().and_then(f).filter(|x| x.is_finite())),
                "the item fit rows",
            )
        };
        Ok(Self {
            item_id: alloc::collect(
                reviews.iter().map(|r| r.item_id.clone()),
                "the item fit rows",
            )?,
            s_x2: column(&|f| f.s_x2)?,
            s_x2_df: alloc::collect(
                reviews
                    .iter()
                    .map(|r| r.fit.as_ref().and_then(|f| f.s_x2_df).map(|d| d as i32)),
                "the item fit rows",
            )?,
            s_x2_p: column(&|f| f.s_x2_p)?,
            s_x2_rmsea: column(&|f| f.s_x2_rmsea)?,
            infit: column(&|f| Some(f.infit))?,
            infit_z: column(&|f| Some(f.infit_z))?,
            outfit: column(&|f| Some(f.outfit))?,
            outfit_z: column(&|f| Some(f.outfit_z))?,
            rmsd: column(&|f| Some(f.rmsd))?,
            status: alloc::collect(
                reviews.iter().map(|r| r.status.name().to_string()),
                "the item fit rows",
            )?,
            reason: alloc::collect(
                reviews.iter().map(|r| r.reason.clone()),
                "the item fit rows",
            )?,
        })
    }
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
    let (anchors, held_out) = usable_anchors(
        &kept.item_ids,
        &kept.excluded,
        bank,
        &settings,
        relations,
        reporter,
    )?;

    let interrupt = reporter.interrupt();
    let first = fit_params(
        &kept.item_ids,
        bank,
        &anchors,
        &settings,
        None,
        &first_used(&anchors, &settings),
    )
    .interrupt(interrupt.clone())
    .check(kept.responses.n_items())?;
    RunShape {
        answers: kept.responses.n_answers(),
        persons: kept.responses.n_persons(),
        items: kept.responses.n_items(),
        parameters: Layout::new(&first).len(),
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
    let Anchored {
        fit: result,
        constants,
        used,
        drift,
        fit_ms,
        link_ms,
    } = fit_and_link(&kept, bank, &anchors, &settings, first, pool, reporter)?;
    if result.se_status == SeStatus::NotPositiveDefinite {
        reporter.warning("standard errors not computed: the information matrix is not positive definite where the estimates ended, so the data do not identify every parameter there; the run is written without item and linking standard errors (metrics->>'se_status' = 'not_positive_definite')");
    }
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
    let score_ms = ms_since(t);

    let t = Instant::now();
    let thetas = alloc::collect(abilities.iter().map(|s| s.theta), "the ability rows")?;
    let estimated = alloc::collect(
        result.items.iter().map(|i| {
            if i.fixed {
                0
            } else {
                settings.model.parameters_per_item()
            }
        }),
        "the item rows",
    )?;
    let fit_report = fit_statistics(
        &kept.responses,
        &result.item_params(),
        &estimated,
        result.latent,
        &thetas,
        pool,
        &interrupt,
    )?;
    let reviews = review(
        &kept,
        &items,
        &fit_report,
        &anchors,
        &drift,
        &held_out,
        &settings,
    )?;
    let item_fit_ms = ms_since(t);

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

    Ok(Calibration {
        latent: linked_latent(result.latent, &applied),
        constants,
        n_anchors: anchors.len(),
        anchors_used: anchors
            .iter()
            .zip(&used)
            .filter(|(_, &u)| u)
            .map(|(a, _)| a.id.clone())
            .collect(),
        drift,
        reviews,
        zh: fit_report.zh,
        s_x2_skipped: fit_report.s_x2_skipped,
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
            item_fit: item_fit_ms,
        },
        settings,
    })
}

/// An anchor of this run: its item index, id and stored parameters.
#[derive(Clone, Debug)]
pub struct Anchor {
    pub item: usize,
    pub id: String,
    pub stored: ItemParams,
    /// The run whose screening last flagged it with these stored parameters.
    pub flagged_by: Option<String>,
}

/// The bank's anchors that can anchor this run; the others are counted by what became of them
/// (and warned about where the run decided). An anchor whose last screening flagged it, with
/// the stored parameters it still has, is never used silently: a screening run starts without
/// it (purify) or says it is in the link (flag); a run that does not screen holds it out.
fn usable_anchors(
    item_ids: &[String],
    excluded: &[Excluded],
    bank: &Bank,
    settings: &Settings,
    relations: &Relations,
    reporter: &mut impl Reporter,
) -> Result<(Vec<Anchor>, Vec<HeldOut>)> {
    if settings.linking == Linking::None {
        return Ok((Vec::new(), Vec::new()));
    }
    let index: std::collections::HashMap<&str, usize> = item_ids
        .iter()
        .enumerate()
        .map(|(j, id)| (id.as_str(), j))
        .collect();
    let excluded: std::collections::HashSet<&str> =
        excluded.iter().map(|e| e.item_id.as_str()).collect();
    let (mut anchors, mut held_out) = (Vec::new(), Vec::new());
    let (mut unanswered, mut excluded_anchors, mut mismatched) = (0, 0, 0);
    for (id, p) in &bank.anchors {
        match index.get(id.as_str()) {
            Some(&j) => {
                if let Some(why) = settings.model.anchor_mismatch(p) {
                    reporter.warning(&format!("anchor {id} left out: {why}"));
                    mismatched += 1;
                } else {
                    let flagged_by = bank.flagged_by(id, p).map(str::to_string);
                    match (&flagged_by, settings.anchor_drift) {
                        (Some(run), AnchorDrift::Off) => {
                            reporter.warning(&format!("anchor {id} left out: run {run} flagged it as drifted, its stored parameters have not changed since, and this run does not screen (anchor_drift => 'off'); review it, then update meta->'irt' or remove its \"anchor\" tag"));
                            held_out.push(HeldOut {
                                item: j,
                                reason: format!("anchor held out: flagged as drifted by run {run}"),
                            });
                            continue;
                        }
                        (Some(run), AnchorDrift::Purify) => reporter.warning(&format!("anchor {id} was flagged as drifted by run {run}: it starts outside the link and is screened again")),
                        (Some(run), AnchorDrift::Flag) => reporter.warning(&format!("anchor {id} was flagged as drifted by run {run} and is in the link (anchor_drift => 'flag')")),
                        (None, _) => {}
                    }
                    anchors.push(Anchor {
                        item: j,
                        id: id.clone(),
                        stored: *p,
                        flagged_by,
                    });
                }
            }
            None if excluded.contains(id.as_str()) => excluded_anchors += 1,
            None => unanswered += 1,
        }
    }
    reporter.notice(&format!(
        "Loaded {} anchors from {}; {} usable, {excluded_anchors} excluded with their items, {unanswered} without answers in the window, {mismatched} left out for their lower asymptote, {} held out as drifted",
        bank.anchors.len(),
        relations.items,
        anchors.len(),
        held_out.len()
    ));
    if anchors.len() < settings.min_anchors {
        return Err(CoreError::TooFewAnchors {
            usable: anchors.len(),
            min_anchors: settings.min_anchors,
            in_bank: bank.anchors.len(),
            items: relations.items.into(),
        });
    }
    Ok((anchors, held_out))
}

/// An anchor left out of an unscreened run because an earlier run flagged it.
pub struct HeldOut {
    pub item: usize,
    pub reason: String,
}

/// The fit's settings: start values from `previous` (a refit) or the bank's other known
/// parameters; the anchors in use fixed (fixed linking) or asked for jointly (their covariance
/// gives the link's standard errors).
fn fit_params(
    item_ids: &[String],
    bank: &Bank,
    anchors: &[Anchor],
    settings: &Settings,
    previous: Option<&FitResult>,
    used: &[bool],
) -> FitParams {
    let mut params = FitParams::new(settings.model)
        .priors(settings.priors)
        .max_cycles(settings.max_cycles)
        .tolerance(settings.tolerance)
        .algorithm(settings.algorithm)
        .standard_errors(settings.standard_errors)
        .quadrature(settings.quadrature_points, -6.0, 6.0);
    for (j, id) in item_ids.iter().enumerate() {
        let start = match previous {
            Some(fit) => Some(&fit.items[j].params),
            None => bank.starts.get(id),
        };
        if let Some(p) = start {
            params = params.start_item(j, *p);
        }
    }
    match settings.linking {
        Linking::Fixed => {
            for (a, _) in anchors.iter().zip(used).filter(|(_, &u)| u) {
                params = params.fix_item(a.item, a.stored);
            }
        }
        Linking::Separate(_) => {
            params = params.joint_covariance_of(anchors.iter().map(|a| a.item).collect());
        }
        Linking::None => {}
    }
    params
}

/// One anchor's screening in one iteration of the purification.
#[derive(Clone, Debug)]
pub struct DriftRow {
    pub iteration: usize,
    pub item_id: String,
    pub check: AnchorCheck,
}

/// The fit on the anchors' scale: the constants from the anchors in `used`, after screening.
struct Anchored {
    fit: FitResult,
    constants: LinkingConstants,
    used: Vec<bool>,
    drift: Vec<DriftRow>,
    fit_ms: f64,
    link_ms: f64,
}

/// Fits, links and screens the anchors; with `anchor_drift => 'purify'` drops the flagged
/// anchors and links again (with fixed anchors: fits again, from the last estimates, with only
/// the unflagged ones fixed) until the flagged set repeats.
fn fit_and_link(
    kept: &crate::exclusion::Kept,
    bank: &Bank,
    anchors: &[Anchor],
    settings: &Settings,
    first: crate::params::FitConfig,
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
) -> Result<Anchored> {
    let t = Instant::now();
    let mut result = fit_once(&kept.responses, &first, settings, pool, reporter)?;
    let mut fit_ms = ms_since(t);
    let mut link_ms = 0.0;
    let mut used = first_used(anchors, settings);
    let mut drift = Vec::new();
    let screening = settings.anchor_drift != AnchorDrift::Off && !anchors.is_empty();
    let mut iteration = 0;
    loop {
        iteration += 1;
        let t = Instant::now();
        let constants = link(&result, anchors, &used, settings.linking)?;
        if !screening {
            link_ms += ms_since(t);
            return Ok(Anchored {
                fit: result,
                constants,
                used,
                drift,
                fit_ms,
                link_ms,
            });
        }
        let checks = screen_anchors(&result, anchors, &used, &constants, settings);
        let flagged: Vec<&str> = anchors
            .iter()
            .zip(&checks)
            .filter(|(_, c)| c.flagged)
            .map(|(a, _)| a.id.as_str())
            .collect();
        if !flagged.is_empty() {
            reporter.notice(&format!(
                "Anchor drift screening {iteration}: {} of {} anchors flagged: {}",
                flagged.len(),
                anchors.len(),
                flagged.join(", ")
            ));
        }
        drift.extend(anchors.iter().zip(checks.iter()).map(|(a, c)| DriftRow {
            iteration,
            item_id: a.id.clone(),
            check: *c,
        }));
        let next: Vec<bool> = checks.iter().map(|c| !c.flagged).collect();
        link_ms += ms_since(t);
        let settled = settings.anchor_drift == AnchorDrift::Flag || next == used;
        if settled || iteration == drift::MAX_ITERATIONS {
            if !settled {
                reporter.warning(&format!("anchor drift purification did not settle in {iteration} screenings; the link uses the anchors of the last one"));
            }
            return Ok(Anchored {
                fit: result,
                constants,
                used,
                drift,
                fit_ms,
                link_ms,
            });
        }
        let survivors = next.iter().filter(|&&u| u).count();
        if survivors < settings.min_anchors {
            return Err(CoreError::DriftedAnchors {
                survivors,
                min_anchors: settings.min_anchors,
                flagged: flagged.iter().map(|s| s.to_string()).collect(),
            });
        }
        used = next;
        if settings.linking == Linking::Fixed {
            let t = Instant::now();
            let config = fit_params(
                &kept.item_ids,
                bank,
                anchors,
                settings,
                Some(&result),
                &used,
            )
            .interrupt(reporter.interrupt())
            .check(kept.responses.n_items())?;
            result = fit_once(&kept.responses, &config, settings, pool, reporter)?;
            fit_ms += ms_since(t);
        }
    }
}

/// The anchors the first link uses: purification starts from the last verdicts, so an anchor
/// flagged before must earn its way back into the link (and is never held fixed unscreened).
/// When too few unflagged ones remain to link with, it starts from every anchor.
fn first_used(anchors: &[Anchor], settings: &Settings) -> Vec<bool> {
    let used: Vec<bool> = anchors
        .iter()
        .map(|a| settings.anchor_drift != AnchorDrift::Purify || a.flagged_by.is_none())
        .collect();
    if used.iter().filter(|&&u| u).count() < settings.min_anchors {
        return vec![true; anchors.len()];
    }
    used
}

/// One EM fit, ended by the reporter or refused when it did not converge (unless accepted).
fn fit_once(
    data: &Responses,
    config: &crate::params::FitConfig,
    settings: &Settings,
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
) -> Result<FitResult> {
    let result = fit(data, config, pool, |r| {
        if r.cycle % 10 == 0 {
            reporter.notice(&format!(
                "EM cycle {}: logLik {:.4}, max change {:.2e}",
                r.cycle, r.log_lik, r.max_change
            ));
        }
        reporter.cycle(r)
    })?;
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
    Ok(result)
}

fn point(p: &ItemParams) -> ItemPoint {
    ItemPoint {
        a: p.a,
        b: p.b(),
        c: p.c,
    }
}

/// Every anchor's stored parameters against what this calibration says of it on the anchors'
/// scale: linked estimates, or with fixed anchors the estimate each would move to if released.
fn screen_anchors(
    result: &FitResult,
    anchors: &[Anchor],
    used: &[bool],
    constants: &LinkingConstants,
    settings: &Settings,
) -> Vec<AnchorCheck> {
    let (new, population): (Vec<ItemPoint>, Latent) = match settings.linking {
        Linking::Fixed => (
            anchors
                .iter()
                .zip(used)
                .map(|(a, &fixed)| {
                    let est = &result.items[a.item];
                    point(&if fixed {
                        est.released.unwrap_or(est.params)
                    } else {
                        est.params
                    })
                })
                .collect(),
            result.latent,
        ),
        _ => (
            anchors
                .iter()
                .map(|a| transform_item(point(&result.items[a.item].params), constants))
                .collect(),
            linked_latent(result.latent, constants),
        ),
    };
    let stored: Vec<ItemPoint> = anchors.iter().map(|a| point(&a.stored)).collect();
    drift::screen(
        &stored,
        &new,
        population,
        settings.model.has_item_slopes(),
        settings.drift_z,
    )
}

/// The constants of θ_anchor = slope·θ_new + intercept, from the anchors in `used`.
fn link(
    result: &FitResult,
    anchors: &[Anchor],
    used: &[bool],
    linking: Linking,
) -> Result<LinkingConstants> {
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
            let keep: Vec<usize> = (0..anchors.len()).filter(|&i| used[i]).collect();
            let from: Vec<ItemPoint> = keep
                .iter()
                .map(|&i| point(&result.items[anchors[i].item].params))
                .collect();
            let to: Vec<ItemPoint> = keep.iter().map(|&i| point(&anchors[i].stored)).collect();
            let cov = result.joint_covariance.as_ref().map(|c| c.subset(&keep));
            linking_constants(method, &from, &to, cov.as_ref())?
        }
    })
}

/// One item's fit and status after the run.
#[derive(Clone, Debug)]
pub struct ItemReview {
    pub item_id: String,
    /// None for an excluded item.
    pub fit: Option<ItemFit>,
    pub status: Status,
    pub reason: Option<String>,
}

/// Every item's status: the calibrated items in order, then the excluded ones.
fn review(
    kept: &crate::exclusion::Kept,
    items: &[ReportedItem],
    report: &FitReport,
    anchors: &[Anchor],
    drift: &[DriftRow],
    held_out: &[HeldOut],
    settings: &Settings,
) -> Result<Vec<ItemReview>> {
    let mut drifted: std::collections::HashMap<usize, String> = held_out
        .iter()
        .map(|h| (h.item, h.reason.clone()))
        .collect();
    let last = drift.last().map_or(0, |r| r.iteration);
    for (a, row) in anchors
        .iter()
        .zip(drift.iter().filter(|r| r.iteration == last))
    {
        let c = &row.check;
        if c.flagged {
            let z = |z: Option<f64>| z.map_or("-".into(), |z| format!("{z:.2}"));
            drifted.insert(
                a.item,
                format!(
                    "anchor flagged by drift screening: z_a {}, z_b {}, area {:.3}",
                    z(c.z_a),
                    z(c.z_b),
                    c.area
                ),
            );
        }
    }
    let mut reviews =
        alloc::with_capacity(kept.item_ids.len() + kept.excluded.len(), "the item rows")?;
    for (j, id) in kept.item_ids.iter().enumerate() {
        let fit = report.items[j];
        let (status, reason) = lifecycle::status(&Evidence {
            drifted: drifted.get(&j).map(String::as_str),
            s_x2_p: fit.s_x2_p,
            rmsd: fit.rmsd,
            slope: settings
                .model
                .has_item_slopes()
                .then_some(items[j].params.a),
            p_value: items[j].p_value,
        });
        reviews.push(ItemReview {
            item_id: id.clone(),
            fit: Some(fit),
            status,
            reason,
        });
    }
    reviews.extend(kept.excluded.iter().map(|e| ItemReview {
        item_id: e.item_id.clone(),
        fit: None,
        status: Status::Excluded,
        reason: Some(e.reason.clone()),
    }));
    Ok(reviews)
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
