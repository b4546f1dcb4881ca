//! The fit of a run with its anchors fixed or linked afterwards, and the drift screening that
//! decides which the link keeps.

use std::time::Instant;

use ndarray::ArrayView1;
use rayon::ThreadPool;

use crate::bank::Bank;
use crate::drift::{self, AnchorCheck, AnchorDrift, Evidence};
use crate::em::{fit, FitResult, Termination};
use crate::error::{CoreError, Result};
use crate::exclusion::Kept;
use crate::linking::{
    latent_as_constants, linking_constants, transform_latent, LinkingConstants, LinkingMethod,
};
use crate::model::ItemParams;
use crate::mstep::ItemCounts;
use crate::params::{FitConfig, FitParams, StandardErrors, DEFAULT_THETA_RANGE};
use crate::priors::Priors;
use crate::quadrature::Latent;
use crate::responses::Responses;
use crate::settings::{Linking, Settings};

use super::categories::ItemKinds;
use super::plan::Plan;
use super::reporter::{ms_since, Reporter};
use super::usable::Anchor;

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

/// What the fitting and linking of a run work with.
pub(super) struct Context<'a, R> {
    pub(super) kept: &'a Kept,
    pub(super) bank: &'a Bank,
    pub(super) anchors: &'a [Anchor],
    pub(super) settings: &'a Settings,
    pub(super) plan: &'a Plan,
    pub(super) kinds: &'a ItemKinds,
    pub(super) pool: &'a ThreadPool,
    pub(super) reporter: &'a mut R,
}

impl<R: Reporter> Context<'_, R> {
    fn fit(&mut self, config: &FitConfig, fit_ms: &mut f64) -> Result<FitResult> {
        let t = Instant::now();
        let result = fit_once(
            &self.kept.responses,
            config,
            self.settings,
            self.pool,
            self.reporter,
        )?;
        *fit_ms += ms_since(t);
        Ok(result)
    }

    /// The fit's settings: start values from `previous` (a refit) or the bank's other known
    /// parameters; the anchors in use fixed (fixed linking) or asked for jointly (their
    /// covariance gives the link's standard errors).
    fn config(
        &self,
        linking: Linking,
        priors: Priors,
        previous: Option<&[ItemParams]>,
        used: &[bool],
    ) -> Result<FitConfig> {
        let settings = self.settings;
        let (lower, upper) = DEFAULT_THETA_RANGE;
        let mut params = FitParams::new(settings.model)
            .priors(priors)
            .max_cycles(settings.max_cycles)
            .tolerance(settings.tolerance)
            .algorithm(settings.algorithm)
            .standard_errors(settings.standard_errors)
            .quadrature(settings.quadrature_points, lower, upper)
            .interrupt(self.reporter.interrupt());
        let kinds = self.kinds;
        for (j, (c, own)) in kinds.categories.iter().zip(&kinds.models).enumerate() {
            if let Some(c) = c {
                params = params.in_categories(j, c.steps(), c.count());
            }
            if let Some(model) = own {
                params = params.item_model(j, *model);
            }
        }
        for (j, id) in self.kept.item_ids.iter().enumerate() {
            // Stored parameters start an item of their shape: as many categories, so formed.
            let shape = kinds.categories[j].as_ref().map(|c| (c.steps(), c.count()));
            let start = match previous {
                Some(items) => Some(&items[j]),
                None => self.bank.starts.get(id).filter(|p| p.shape() == shape),
            };
            if let Some(p) = start {
                params = params.start_item(j, *p);
            }
        }
        match linking {
            Linking::Fixed => {
                for (a, _) in self.anchors.iter().zip(used).filter(|(_, &u)| u) {
                    params = params.fix_item(a.item, a.stored);
                }
            }
            Linking::Separate(_) => {
                params = params.joint_covariance_of(self.anchors.iter().map(|a| a.item).collect());
            }
            Linking::None => {}
        }
        if settings.anchor_drift != AnchorDrift::Off {
            params = params.keep_counts_of(self.anchors.iter().map(|a| a.item).collect());
        }
        params.check(self.kept.responses.n_items())
    }
}

/// Fits, links and screens the anchors; with `anchor_drift => 'purify'` drops the flagged
/// anchors and links again (with fixed anchors: fits again, from the last estimates, with only
/// the unflagged ones fixed) until the flagged set repeats. Priors learned from the bank are on
/// the anchors' scale: a separate fit is first made under the default priors, and its link
/// carries the bank's priors to its own scale for the fit that counts. When `auto` holds the
/// anchors fixed, a separate Stocking–Lord calibration screens them first, and only the anchors
/// it keeps are held fixed (and screened again).
pub(super) fn fit_and_link<R: Reporter>(cx: &mut Context<R>, first: FirstFit) -> Result<Anchored> {
    let FirstFit {
        config,
        linking,
        mut used,
    } = first;
    let (mut fit_ms, mut link_ms) = (0.0, 0.0);
    let mut result = cx.fit(&config, &mut fit_ms)?;
    if carries_bank_priors(cx.plan, linking) {
        let provisional = link(&result, cx.anchors, &used, linking)?;
        let priors = cx
            .plan
            .priors
            .rescaled(provisional.slope, provisional.intercept);
        let config = cx.config(linking, priors, Some(&result.item_params()), &used)?;
        result = cx.fit(&config, &mut fit_ms)?;
    }
    let mut drift = Vec::new();
    let mut constants = purify(
        cx,
        linking,
        &mut result,
        &mut used,
        &mut drift,
        (&mut fit_ms, &mut link_ms),
    )?;
    if linking != cx.plan.linking {
        // The separate calibration's estimates, on the anchors' scale, start the fixed fit.
        let start: Vec<ItemParams> = result
            .items
            .iter()
            .map(|i| i.params.on_scale(constants.slope, constants.intercept))
            .collect();
        let config = cx.config(cx.plan.linking, cx.plan.priors, Some(&start), &used)?;
        result = cx.fit(&config, &mut fit_ms)?;
        constants = purify(
            cx,
            cx.plan.linking,
            &mut result,
            &mut used,
            &mut drift,
            (&mut fit_ms, &mut link_ms),
        )?;
    }
    Ok(Anchored {
        fit: result,
        constants,
        used,
        drift,
        fit_ms,
        link_ms,
    })
}

/// Links `result` under `linking` and, where the run screens, screens and purifies until the
/// flagged set repeats; screenings are numbered on from the last row of `drift`.
fn purify<R: Reporter>(
    cx: &mut Context<R>,
    linking: Linking,
    result: &mut FitResult,
    used: &mut Vec<bool>,
    drift: &mut Vec<DriftRow>,
    (fit_ms, link_ms): (&mut f64, &mut f64),
) -> Result<LinkingConstants> {
    let anchors = cx.anchors;
    let settings = cx.settings;
    let screening = settings.anchor_drift != AnchorDrift::Off && !anchors.is_empty();
    let before = drift.last().map_or(0, |r| r.iteration);
    let mut iteration = before;
    loop {
        iteration += 1;
        let t = Instant::now();
        let constants = link(result, anchors, used, linking)?;
        if !screening {
            *link_ms += ms_since(t);
            return Ok(constants);
        }
        let checks = screen_anchors(result, anchors, used, &constants, linking, settings);
        let flagged: Vec<&str> = anchors
            .iter()
            .zip(&checks)
            .filter(|(_, c)| c.flagged)
            .map(|(a, _)| a.id.as_str())
            .collect();
        if !flagged.is_empty() {
            cx.reporter.notice(&format!(
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
        *link_ms += ms_since(t);
        let settled = settings.anchor_drift == AnchorDrift::Flag || next == *used;
        if settled || iteration - before == drift::MAX_ITERATIONS {
            if !settled {
                cx.reporter.warning(&format!("anchor drift purification did not settle in {} screenings; the link uses the anchors of the last one", iteration - before));
            }
            return Ok(constants);
        }
        let survivors = next.iter().filter(|&&u| u).count();
        if survivors < settings.min_anchors {
            return Err(CoreError::DriftedAnchors {
                survivors,
                min_anchors: settings.min_anchors,
                flagged: flagged.iter().map(|s| s.to_string()).collect(),
            });
        }
        *used = next;
        if linking == Linking::Fixed {
            let config = cx.config(linking, cx.plan.priors, Some(&result.item_params()), used)?;
            *result = cx.fit(&config, fit_ms)?;
        }
    }
}

/// Where the fit that only places the bank's priors stops: a largest change of 0.01 left its
/// link within 0.012 of the converged one's (in ln A and in B, 12 simulated windows from 500 ×
/// 150 to 20,000 × 400), against priors with SDs of 0.15 to 3.
const PROVISIONAL_TOLERANCE: f64 = 1e-2;

/// Whether a separate fit under the default priors is followed by one under the bank's, carried
/// to its scale by the first fit's link. Not when it only screens the anchors for a fixed fit,
/// which takes the bank's priors on their own scale (and weaker priors mask less drift).
fn carries_bank_priors(plan: &Plan, linking: Linking) -> bool {
    plan.learned && linking != Linking::Fixed && !plan.screen_first
}

/// The first fit: its settings, the linking it is made for, and which anchors it uses.
pub(super) struct FirstFit {
    pub(super) config: FitConfig,
    pub(super) linking: Linking,
    pub(super) used: Vec<bool>,
}

impl FirstFit {
    /// A separate fit where the plan screens first or links separately, under the default
    /// priors where the bank's must first be carried to its scale.
    pub(super) fn new<R: Reporter>(cx: &Context<R>) -> Result<Self> {
        let plan = cx.plan;
        let linking = if plan.screen_first {
            Linking::Separate(LinkingMethod::StockingLord)
        } else {
            plan.linking
        };
        let priors = if plan.learned && linking != Linking::Fixed {
            Priors::DEFAULT
        } else {
            plan.priors
        };
        let used = first_used(cx.anchors, cx.settings);
        let mut config = cx.config(linking, priors, None, &used)?;
        // Another fit follows this one: the fit under the bank's priors throws its standard
        // errors away, and the fixed fit after `auto`'s screening needs only each anchor's own
        // (the screening's Wald test), which per-item blocks give at a cost linear in the bank.
        if plan.screen_first {
            config.standard_errors = StandardErrors::Item;
        } else if carries_bank_priors(plan, linking) {
            config.standard_errors = StandardErrors::None;
        }
        // The bank's priors need only roughly where this fit's scale lies, and the fit under
        // them goes on from its estimates: together about the EM cycles of one fit.
        if carries_bank_priors(plan, linking) {
            config.tolerance = config.tolerance.max(PROVISIONAL_TOLERANCE);
        }
        Ok(Self {
            config,
            linking,
            used,
        })
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

/// Every anchor's stored parameters against what this calibration says of it on the anchors'
/// scale: linked estimates, or with fixed anchors the estimate each would move to if released;
/// and the pull of its answers on the stored values, carried to the fit's scale by the link.
fn screen_anchors(
    result: &FitResult,
    anchors: &[Anchor],
    used: &[bool],
    constants: &LinkingConstants,
    linking: Linking,
    settings: &Settings,
) -> Vec<AnchorCheck> {
    let fixed = linking == Linking::Fixed;
    // Fixed anchors define the scale: the fit's is the anchors', and the link is the identity.
    let (new, population, link): (Vec<ItemParams>, Latent, LinkingConstants) = if fixed {
        (
            anchors
                .iter()
                .zip(used)
                .map(|(a, &held)| {
                    let est = &result.items[a.item];
                    if held {
                        est.released.unwrap_or(est.params)
                    } else {
                        est.params
                    }
                })
                .collect(),
            result.latent,
            LinkingConstants::IDENTITY,
        )
    } else {
        (
            anchors
                .iter()
                .map(|a| {
                    result.items[a.item]
                        .params
                        .on_scale(constants.slope, constants.intercept)
                })
                .collect(),
            transform_latent(result.latent, constants),
            *constants,
        )
    };
    let slopes = settings.model.has_item_slopes();
    let evidence: Vec<Evidence> = anchors
        .iter()
        .zip(new)
        .map(|(a, new)| {
            let est = &result.items[a.item];
            // With fixed linking every anchor takes the test from its counts: a held anchor the
            // score test, one the purification left out the one-step form, which errs towards
            // flagging, so an anchor out of the link comes back only when its answers clearly
            // agree with its stored values (two tests of different size would let it swing).
            let estimated = est.covariance.filter(|_| !fixed).and_then(|cov| {
                drift::estimated_pull(
                    &a.stored.irt(),
                    &new.irt(),
                    est.params.slope(),
                    &cov.slope_and_location(),
                    slopes,
                    link.slope,
                )
            });
            let pull = estimated.or_else(|| {
                let counts = est.counts.as_ref()?;
                let on_fit = a
                    .stored
                    .on_scale(1.0 / link.slope, -link.intercept / link.slope);
                let counts = ItemCounts::in_categories(
                    counts.categories.iter().map(ArrayView1::from),
                    result.grid.nodes(),
                );
                drift::pull(&counts, &on_fit, slopes, link.slope)
            });
            Evidence {
                stored: a.stored,
                new,
                pull,
                stored_se: a.stored_se,
            }
        })
        .collect();
    drift::screen(
        &evidence,
        population,
        slopes,
        settings.drift_z,
        settings.drift_rule,
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
        Linking::None => LinkingConstants::IDENTITY,
        // The fixed anchors define the scale; the latent distribution found on it is the link.
        Linking::Fixed => latent_as_constants(result.latent, result.latent_covariance),
        Linking::Separate(method) => {
            let keep: Vec<usize> = (0..anchors.len()).filter(|&i| used[i]).collect();
            let from: Vec<ItemParams> = keep
                .iter()
                .map(|&i| result.items[anchors[i].item].params)
                .collect();
            let to: Vec<ItemParams> = keep.iter().map(|&i| anchors[i].stored).collect();
            let cov = result.joint_covariance.as_ref().map(|c| c.subset(&keep));
            linking_constants(method, &from, &to, cov.as_ref())?
        }
    })
}
