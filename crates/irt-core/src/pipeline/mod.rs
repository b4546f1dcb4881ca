//! One calibration from start to finish, behind both front ends: the answers read from a
//! source and the item bank in; exclusions, the fit, the link, the scores and everything put on
//! the reported scale out, with the record of the run. The extension and the `pg-irt` command
//! only read, write, report progress and translate errors; every number they write is made
//! here, once. `anchors` fits, links and screens the anchors, `review` gives each item its
//! status, `columns` lays out what is written.

use std::collections::HashMap;
use std::time::Instant;

use rayon::ThreadPool;
use serde_json::{json, Value};

mod anchors;
mod categories;
mod columns;
mod dif_screening;
mod groups;
mod plan;
mod reported;
mod reporter;
mod review;
mod trends;
mod usable;

pub use anchors::DriftRow;
pub use categories::{Categories, ItemKinds};
pub use columns::{Columns, DifColumns, DriftColumns, ItemFitColumns, TrendColumns};
pub use dif_screening::{
    DifRow, DifScreening, FocalScreening, LrTest, DIF_LEVEL, MAX_LR_TESTS, MIN_LR_ANCHORS,
};
pub use groups::Groups;
pub use plan::AUTO_FIXED_BELOW;
pub use reported::ReportedItem;
pub use reporter::{Quiet, Relations, Reporter};
pub use review::ItemReview;
pub use trends::TrendRow;
// What `calibrate` takes: the window as a front end read it.
pub use crate::window::Answers;

use anchors::{fit_and_link, last_screening, Anchored, Context, FirstFit};
use dif_screening::screen_dif;
use plan::Plan;
use reported::{finite, reported_items};
use reporter::ms_since;
use review::review;
use trends::item_trends;
use usable::usable_anchors;

use crate::alloc;
use crate::bank::Bank;
use crate::em::{FitResult, SeStatus};
use crate::error::{CoreError, Result};
use crate::exclusion::{exclude_items, Excluded};
use crate::item_fit::fit_statistics;
use crate::layout::Layout;
use crate::lifecycle::Status;
use crate::linking::{transform_latent, LinkingConstants};
use crate::memory::RunShape;
use crate::quadrature::Latent;
use crate::scoring::{score, scoring_grid, Score, ScoreMethod};
use crate::settings::{Linking, Settings};
use crate::stats::two_sided_level;
use crate::trend::{self, Previous};

/// Milliseconds of the phases the core runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreTimings {
    pub fit: f64,
    pub link: f64,
    pub score: f64,
    pub item_fit: f64,
    pub dif: f64,
}

/// A finished calibration.
pub struct Calibration {
    pub settings: Settings,
    pub item_ids: Vec<String>,
    pub items: Vec<ReportedItem>,
    /// What each item is (in `item_ids` order): its categories, its own model.
    pub kinds: ItemKinds,
    pub user_ids: Vec<String>,
    /// Per user, in `user_ids` order, on the reported scale.
    pub abilities: Vec<Score>,
    pub answers_per_user: Vec<i32>,
    /// The latent distribution on the reported scale (the reference group's, with groups).
    pub latent: Latent,
    /// The groups of persons, with theirs.
    pub groups: Option<Groups>,
    /// The DIF screening of a run with groups.
    pub dif: Option<DifScreening>,
    /// θ_anchors = slope·θ_fit + intercept, with standard errors where known.
    pub constants: LinkingConstants,
    pub n_anchors: usize,
    /// The anchors the link used, after the drift screening.
    pub anchors_used: Vec<String>,
    /// Every screening of every anchor (empty with `anchor_drift => 'off'` or no anchors).
    pub drift: Vec<DriftRow>,
    /// Every item's fit and status: calibrated items in `item_ids` order, then excluded ones.
    pub reviews: Vec<ItemReview>,
    /// The trend across runs of every calibrated item with an estimate of its own this run.
    pub trends: Vec<TrendRow>,
    /// Person fit lz per user, in `user_ids` order.
    pub zh: Vec<f64>,
    /// Why S-X2 was not computed, where it was not.
    pub s_x2_skipped: Option<String>,
    pub n_answers: usize,
    pub excluded: Vec<Excluded>,
    pub rows_in_window: i64,
    pub null_answers: i64,
    pub repeated: i64,
    /// Rows skipped for a NULL group.
    pub null_groups: i64,
    pub fit: FitResult,
    pub timings: CoreTimings,
    /// Why `linking => 'auto'` chose the method in `settings.linking`.
    pub linking_reason: Option<String>,
    /// The priors the new items had, on the anchors' scale, and where they came from.
    pub priors_used: Value,
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
        last_screening(&self.drift)
            .filter(|r| r.check.flagged)
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
            "model": s.run_model.name(),
            "n_items": self.item_ids.len(),
            "n_users": self.user_ids.len(),
            "n_anchors": self.n_anchors,
            "n_observations": self.n_answers,
            "lookback_days": s.lookback_days,
            "source": provenance.source,
            "items": provenance.items,
            "window": provenance.window,
            "linking_method": s.linking.name(),
            "linking_requested": if s.linking_auto { "auto" } else { s.linking.name() },
            "linking_reason": self.linking_reason,
            "anchors_used": self.anchors_used,
            "anchor_drift": {
                "mode": s.anchor_drift.name(),
                "z": s.drift_z,
                "level": two_sided_level(s.drift_z),
                "rule": s.drift_rule.name(),
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
            "priors_used": self.priors_used,
            "algorithm": s.algorithm.name(),
            "threads": provenance.threads,
            "se_method": self.fit.se_method,
            "excluded_items": self.excluded.iter().map(|e| json!({"item_id": e.item_id, "reason": e.reason})).collect::<Vec<_>>(),
            "skipped_rows": {"null_answers": self.null_answers, "repeated_attempts": self.repeated, "rows_in_window": self.rows_in_window, "null_groups": self.null_groups},
            "groups": self.groups.as_ref().map(Groups::record),
            "dif": self.dif.as_ref().zip(self.groups.as_ref()).map(|(d, g)| d.record(&g.names)),
            "trend": {"reference": trend::REFERENCE, "decision": trend::DECISION, "items": self.trends.len(),
                      "alarms": self.trends.iter().filter(|t| t.trend.alarm()).count()},
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
            "em_trace": r.log_lik_trace.iter().map(|&l| finite(l)).collect::<Vec<_>>(),
            "max_change": finite(r.max_change), "se_status": r.se_status.name(),
            "ms": {"load": load_ms, "fit": t.fit, "score": t.score, "link": t.link, "item_fit": t.item_fit, "dif": t.dif},
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
            Status::Dif,
            Status::Trending,
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

    /// Item j's model as `mirt_item_params.model` records it: the model of its categories, its
    /// own right/wrong model, or the run's right/wrong model (`2PL` for the right/wrong items of
    /// a GRM run).
    pub fn item_model_name(&self, j: usize) -> &'static str {
        self.kinds.model_name(j, &self.settings)
    }

    /// The columns both front ends write, allocated fallibly.
    pub fn columns(&self) -> Result<Columns> {
        let (items, users) = (self.items.len(), self.abilities.len());
        let mut c = Columns {
            params: alloc::with_capacity(items, "the item rows")?,
            models: alloc::with_capacity(items, "the item rows")?,
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
            trend: TrendColumns::of(&self.trends, &self.item_ids)?,
            dif: match (&self.dif, &self.groups) {
                (Some(d), Some(g)) => DifColumns::of(d, &self.item_ids, &g.names, &self.kinds)?,
                _ => DifColumns::default(),
            },
        };
        for (j, (item, categories)) in self.items.iter().zip(&self.kinds.categories).enumerate() {
            c.params
                .push(item.params_json(categories.as_ref(), self.kinds.pair_scores[j]));
            c.models.push(self.item_model_name(j).to_string());
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

/// Runs a calibration of `answers` under `settings`, on `pool`; refuses before the fit when the
/// run would hold more than `max_memory` bytes. `previous` holds each item's latest trend.
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    answers: Answers,
    bank: &Bank,
    previous: &HashMap<String, Previous>,
    mut settings: Settings,
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
    let null_groups = answers.null_groups;
    let mut kept = exclude_items(answers, settings.min_responses)?;
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
    let mut groups = match settings.groups.as_ref().zip(kept.groups.take()) {
        Some((setting, read)) => {
            if null_groups > 0 {
                reporter.warning(&format!(
                    "{null_groups} rows with a NULL {} skipped: their answers are not calibrated, and a user with no other answer is not scored",
                    setting.column
                ));
            }
            let (groups, emptied) = groups::arrange(&mut kept.responses, read, setting)?;
            for name in emptied {
                reporter.warning(&format!(
                    "group {name} has no answers left after the exclusions: it is not calibrated"
                ));
            }
            Some(groups)
        }
        None => None,
    };
    let kinds = ItemKinds::of(&mut kept, bank, &settings, reporter)?;
    let (anchors, held_out) = usable_anchors(
        &kept.item_ids,
        &kinds,
        &kept.excluded,
        bank,
        &settings,
        relations,
        reporter,
    )?;

    let plan = Plan::new(&kept, &anchors, &settings)?;
    settings.linking = plan.linking;
    if let Some(fallback) = plan.priors_record["fallback"].as_str() {
        reporter.notice(&format!("priors => 'bank': {fallback}"));
    }
    let interrupt = reporter.interrupt();
    let mut cx = Context {
        kept: &kept,
        kinds: &kinds,
        bank,
        anchors: &anchors,
        settings: &settings,
        plan: &plan,
        pool,
        reporter,
    };
    let first = FirstFit::new(&cx)?;
    RunShape {
        answers: kept.responses.n_answers(),
        persons: kept.responses.n_persons(),
        items: kept.responses.n_items(),
        parameters: Layout::new(&first.config, kept.responses.n_groups()).len(),
        quadrature_points: settings.quadrature_points,
        forms: crate::forms::Forms::detect(&kept.responses)?.len(),
        threads: pool.current_num_threads(),
        standard_errors: settings.standard_errors,
        categories: kinds
            .categories
            .iter()
            .flatten()
            .map(Categories::count)
            .max()
            .unwrap_or(2),
        dif: groups.is_some(),
    }
    .check(max_memory)?;
    cx.reporter.notice(&format!(
        "Model: {}, Anchors: {}, Linking: {}{}",
        settings.run_model.name(),
        anchors.len(),
        settings.linking.name(),
        plan.linking_reason
            .as_ref()
            .map_or(String::new(), |why| format!(" (auto: {why})"))
    ));
    let Anchored {
        fit: result,
        constants,
        used,
        drift,
        fit_ms,
        link_ms,
    } = fit_and_link(&mut cx, first)?;
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
    if let Some(groups) = &mut groups {
        groups.report(&result, &applied);
        for ((name, persons), latent) in groups
            .names
            .iter()
            .zip(&groups.persons)
            .zip(&groups.latents)
        {
            reporter.notice(&format!(
                "Group {name}: {persons} persons, latent mean {:.4}, variance {:.4}",
                latent.mean, latent.variance
            ));
        }
    }
    reporter.notice(&format!(
        "Linking constants: slope {:.4}, intercept {:.4}",
        constants.slope, constants.intercept
    ));

    let t = Instant::now();
    let grid = scoring_grid(&result.group_latents)?;
    let mut abilities = score(
        &kept.responses,
        &result.item_params(),
        &result.group_latents,
        &grid,
        ScoreMethod::Eap,
        pool,
        &interrupt,
    )?;
    let score_ms = ms_since(t);

    let t = Instant::now();
    let dif = match &groups {
        Some(g) => {
            let d = screen_dif(
                &kept,
                &kinds,
                &settings,
                &result,
                g.latents[0],
                &g.names,
                pool,
                reporter,
            )?;
            for f in &d.focal {
                let flagged: Vec<&str> = d
                    .rows
                    .iter()
                    .filter(|r| r.focal == f.focal && r.flagged)
                    .map(|r| kept.item_ids[r.item].as_str())
                    .collect();
                reporter.notice(&format!(
                    "DIF, group {} against {}: {} items flagged{}{}",
                    g.names[f.focal],
                    g.names[0],
                    flagged.len(),
                    if flagged.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flagged.join(", "))
                    },
                    f.lr_skipped.as_ref().map_or(String::new(), |why| format!(
                        "; no likelihood-ratio test: {why}"
                    )),
                ));
            }
            Some(d)
        }
        None => None,
    };
    let dif_ms = ms_since(t);

    let t = Instant::now();
    let thetas = alloc::collect(abilities.iter().map(|s| s.theta), "the ability rows")?;
    // What S-X2's df subtracts, as mirt counts it: the item's free parameters and a parameter
    // every item shares (the Rasch model's latent variance, the 1PL's common slope).
    let shared = usize::from(!settings.model.has_item_slopes());
    let estimated = alloc::collect(
        result.items.iter().enumerate().map(|(j, i)| {
            shared
                + if i.fixed {
                    0
                } else {
                    kinds.estimated_parameters(j, &settings)
                }
        }),
        "the item rows",
    )?;
    let fit_report = fit_statistics(
        &kept.responses,
        &result.item_params(),
        &estimated,
        &result.group_latents,
        &thetas,
        pool,
        &interrupt,
    )?;
    let trends = item_trends(
        &kept.item_ids,
        &items,
        &kinds,
        &anchors,
        &drift,
        previous,
        &settings,
    )?;
    let reviews = review(
        &kept,
        &items,
        &fit_report,
        &anchors,
        &drift,
        &held_out,
        dif.as_ref()
            .zip(groups.as_ref().map(|g| g.names.as_slice())),
        &trends
            .iter()
            .filter_map(|t| Some((t.item, t.reason()?)))
            .collect(),
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
        latent: transform_latent(result.latent, &applied),
        groups,
        dif,
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
        trends,
        zh: fit_report.zh,
        s_x2_skipped: fit_report.s_x2_skipped,
        n_answers: kept.responses.n_answers(),
        item_ids: kept.item_ids,
        items,
        kinds,
        user_ids: kept.user_ids,
        abilities,
        answers_per_user,
        excluded: kept.excluded,
        rows_in_window,
        null_answers,
        repeated,
        null_groups,
        fit: result,
        timings: CoreTimings {
            fit: fit_ms,
            link: link_ms,
            score: score_ms,
            item_fit: item_fit_ms,
            dif: dif_ms,
        },
        linking_reason: plan.linking_reason,
        priors_used: plan.priors_record,
        settings,
    })
}
