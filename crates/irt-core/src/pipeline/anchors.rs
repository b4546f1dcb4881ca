//! The anchors of a run: which can anchor it, the fit with them fixed or linked afterwards, and
//! the drift screening that decides which the link keeps.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rayon::ThreadPool;

use crate::bank::Bank;
use crate::drift::{self, AnchorCheck, AnchorDrift};
use crate::em::{fit, FitResult, Termination};
use crate::error::{CoreError, Result};
use crate::exclusion::{Excluded, Kept};
use crate::interrupt::Interrupt;
use crate::linking::{
    latent_as_constants, linking_constants, transform_item, ItemPoint, LinkingConstants,
};
use crate::model::ItemParams;
use crate::params::{FitConfig, FitParams};
use crate::quadrature::Latent;
use crate::responses::Responses;
use crate::settings::{Linking, Settings};

use super::{linked_latent, ms_since, Relations, Reporter};

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
pub(super) fn usable_anchors(
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
    let index: HashMap<&str, usize> = item_ids
        .iter()
        .enumerate()
        .map(|(j, id)| (id.as_str(), j))
        .collect();
    let excluded: HashSet<&str> = excluded.iter().map(|e| e.item_id.as_str()).collect();
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

/// The rows of the last screening, one per anchor in the anchors' order (none without screening).
pub(super) fn last_screening(drift: &[DriftRow]) -> impl Iterator<Item = &DriftRow> {
    let last = drift.last().map_or(0, |r| r.iteration);
    drift.iter().filter(move |r| r.iteration == last)
}

/// The fit on the anchors' scale: the constants from the anchors in `used`, after screening.
pub(super) struct Anchored {
    pub(super) fit: FitResult,
    pub(super) constants: LinkingConstants,
    pub(super) used: Vec<bool>,
    pub(super) drift: Vec<DriftRow>,
    pub(super) fit_ms: f64,
    pub(super) link_ms: f64,
}

/// Fits, links and screens the anchors; with `anchor_drift => 'purify'` drops the flagged
/// anchors and links again (with fixed anchors: fits again, from the last estimates, with only
/// the unflagged ones fixed) until the flagged set repeats.
pub(super) fn fit_and_link(
    kept: &Kept,
    bank: &Bank,
    anchors: &[Anchor],
    settings: &Settings,
    first: FirstFit,
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
) -> Result<Anchored> {
    let t = Instant::now();
    let FirstFit { config, mut used } = first;
    let mut result = fit_once(&kept.responses, &config, settings, pool, reporter)?;
    let mut fit_ms = ms_since(t);
    let mut link_ms = 0.0;
    let mut drift = Vec::new();
    let screening = settings.anchor_drift != AnchorDrift::Off && !anchors.is_empty();
    let mut iteration = 0;
    let constants = loop {
        iteration += 1;
        let t = Instant::now();
        let constants = link(&result, anchors, &used, settings.linking)?;
        if !screening {
            link_ms += ms_since(t);
            break constants;
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
            break constants;
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
    };
    Ok(Anchored {
        fit: result,
        constants,
        used,
        drift,
        fit_ms,
        link_ms,
    })
}

/// The first fit: its settings, and which anchors it uses.
pub(super) struct FirstFit {
    pub(super) config: FitConfig,
    pub(super) used: Vec<bool>,
}

impl FirstFit {
    pub(super) fn new(
        kept: &Kept,
        bank: &Bank,
        anchors: &[Anchor],
        settings: &Settings,
        interrupt: Interrupt,
    ) -> Result<Self> {
        let used = first_used(anchors, settings);
        let config = fit_params(&kept.item_ids, bank, anchors, settings, None, &used)
            .interrupt(interrupt)
            .check(kept.responses.n_items())?;
        Ok(Self { config, used })
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
    config: &FitConfig,
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

pub(super) fn point(p: &ItemParams) -> ItemPoint {
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
