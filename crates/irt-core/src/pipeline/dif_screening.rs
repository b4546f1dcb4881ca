//! The DIF screening of a run with groups: every item against every focal group, the reference
//! group on the other side. Mantel–Haenszel first, purified — on the number-right score where
//! every person of the two groups answered every item, else on the expected score at a
//! common-prior EAP θ (`dif::matching`). Then the IRT likelihood-ratio test of the items the
//! screen does not clear (ETS class B or C, or its Benjamini–Hochberg p below the level), with
//! the cleared items as the anchor set, on the two groups' answers; the baseline's curves give
//! the areas. An item is flagged at ETS B or C, or at a likelihood-ratio p, adjusted across the
//! tested items, below the level.

use rayon::ThreadPool;
use serde_json::{json, Value};

use crate::dif::matching::expected_score_strata;
use crate::dif::{likelihood_ratio, screen, Areas, EtsClass, MantelHaenszel, Matching, Side};
use crate::em::FitResult;
use crate::error::{CoreError, Result};
use crate::exclusion::Kept;
use crate::interrupt::Interrupt;
use crate::model::ItemParams;
use crate::params::{FitConfig, FitParams, StandardErrors, DEFAULT_THETA_RANGE};
use crate::priors::{Priors, PriorsSetting};
use crate::quadrature::Latent;
use crate::settings::Settings;
use crate::stats::benjamini_hochberg;

use super::categories::ItemKinds;
use super::reporter::Reporter;

/// The level of the adjusted p-values that send an item to the likelihood-ratio test and flag
/// it there.
pub const DIF_LEVEL: f64 = 0.05;
/// Likelihood-ratio tests per focal group, each a refit: the items with the smallest
/// Mantel–Haenszel p. More uncleared items than this are still left out of the anchor set.
pub const MAX_LR_TESTS: usize = 20;
/// The likelihood-ratio test needs this many cleared items to anchor the groups' scales.
pub const MIN_LR_ANCHORS: usize = 4;

/// One item's DIF against one focal group.
#[derive(Clone, Debug, PartialEq)]
pub struct DifRow {
    pub item: usize,
    /// The focal group's index among the run's groups (1, 2, …; 0 is the reference).
    pub focal: usize,
    /// Persons of each group who answered the item.
    pub n_focal: u64,
    pub n_reference: u64,
    /// None for an item in categories, or where the statistics are undefined.
    pub mh: Option<MantelHaenszel>,
    pub mh_p_adjusted: Option<f64>,
    pub lr: Option<LrTest>,
    /// From the likelihood-ratio baseline, on the reported scale; None where not tested.
    pub areas: Option<Areas>,
    /// The baseline's item in the reference and in the focal group, on the reported scale.
    pub curves: Option<[ItemParams; 2]>,
    pub flagged: bool,
}

/// One item's likelihood-ratio test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrTest {
    pub x2: f64,
    pub df: usize,
    pub p: f64,
    /// Adjusted by Benjamini–Hochberg across the items tested against this focal group.
    pub p_adjusted: f64,
    /// Whether both the baseline and the refit converged.
    pub converged: bool,
}

/// What the screening of one focal group did.
#[derive(Clone, Debug, PartialEq)]
pub struct FocalScreening {
    pub focal: usize,
    pub matching: &'static str,
    pub screenings: usize,
    pub lr_tested: usize,
    /// Why the likelihood-ratio test did not run, where it did not.
    pub lr_skipped: Option<String>,
}

/// The DIF screening of a run: rows by focal group, items in order within each.
#[derive(Clone, Debug, PartialEq)]
pub struct DifScreening {
    pub rows: Vec<DifRow>,
    pub focal: Vec<FocalScreening>,
}

impl DifScreening {
    /// Why item j is flagged against any focal group (named by `names`), if it is.
    pub fn reason(&self, item: usize, names: &[String]) -> Option<String> {
        let flags: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.item == item && r.flagged)
            .map(|r| {
                let mut why = Vec::new();
                if let Some(m) = r.mh.filter(|m| m.class != EtsClass::A) {
                    why.push(format!("ETS {} (delta {:.2})", m.class.name(), m.delta));
                }
                if let Some(lr) = r.lr.filter(|lr| lr.p_adjusted < DIF_LEVEL) {
                    why.push(format!(
                        "LR X2 {:.1}, adjusted p {:.2e}",
                        lr.x2, lr.p_adjusted
                    ));
                }
                format!("DIF against group {}: {}", names[r.focal], why.join(", "))
            })
            .collect();
        (!flags.is_empty()).then(|| flags.join("; "))
    }

    /// `model_spec->'dif'`.
    pub fn record(&self, names: &[String]) -> Value {
        json!({
            "level": DIF_LEVEL,
            "max_lr_tests": MAX_LR_TESTS,
            "flagged": self.rows.iter().filter(|r| r.flagged).count(),
            "focal_groups": self.focal.iter().map(|f| json!({
                "group": names[f.focal],
                "matching": f.matching,
                "screenings": f.screenings,
                "lr_tested": f.lr_tested,
                "lr_skipped": f.lr_skipped,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Screens every item of `kept` (in groups) for DIF against each focal group, with the run's
/// fit `result`, the groups named by `names`. The likelihood-ratio fits set the reference group
/// to N(0, 1): `reference`, its distribution on the reported scale, takes their curves there.
#[allow(clippy::too_many_arguments)]
pub(super) fn screen_dif(
    kept: &Kept,
    kinds: &ItemKinds,
    settings: &Settings,
    result: &FitResult,
    reference: Latent,
    names: &[String],
    pool: &ThreadPool,
    reporter: &mut impl Reporter,
) -> Result<DifScreening> {
    let (scale, shift) = (reference.variance.sqrt(), reference.mean);
    let data = &kept.responses;
    let interrupt = reporter.interrupt();
    let right_wrong: Vec<bool> = kinds.categories.iter().map(Option::is_none).collect();
    let items = result.item_params();
    let common_prior = result.group_latents[0];
    let strata_of = |matching: &[bool]| {
        expected_score_strata(data, &items, common_prior, matching, pool, &interrupt)
    };
    let mut out = DifScreening {
        rows: Vec::new(),
        focal: Vec::new(),
    };
    for (focal, name) in names.iter().enumerate().skip(1) {
        let side: Vec<Option<Side>> = (0..data.n_persons())
            .map(|i| match data.group(i) {
                0 => Some(Side::Reference),
                g if g == focal => Some(Side::Focal),
                _ => None,
            })
            .collect();
        let complete = (0..data.n_persons())
            .filter(|&i| side[i].is_some())
            .all(|i| data.person(i).0.len() == data.n_items());
        let (matching, matching_name) = if complete {
            (Matching::NumberRight, "number_right")
        } else {
            (Matching::Strata(&strata_of), "expected_score")
        };
        let screening = screen(data, &side, &right_wrong, true, &matching)?;
        interrupt.check()?;
        let (n_focal, n_reference) = answered_by(kept, &side);
        // Not cleared: ETS B or C, or significant after the adjustment; smallest p first.
        let mut apart: Vec<usize> = (0..data.n_items())
            .filter(|&j| {
                screening.items[j].is_some_and(|m| m.class != EtsClass::A)
                    || screening.adjusted_p[j].is_some_and(|q| q < DIF_LEVEL)
            })
            .collect();
        apart.sort_by(|&a, &b| {
            let p = |j: usize| screening.items[j].map_or(1.0, |m| m.p);
            p(a).total_cmp(&p(b))
        });
        let cleared = data.n_items() - apart.len();
        let mut lr_skipped = if apart.is_empty() {
            None
        } else if cleared < MIN_LR_ANCHORS {
            Some(format!(
                "{cleared} items cleared by Mantel–Haenszel, {MIN_LR_ANCHORS} needed to anchor the groups' scales"
            ))
        } else {
            None
        };
        let mut n_tests = if lr_skipped.is_some() {
            0
        } else {
            apart.len().min(MAX_LR_TESTS)
        };
        if apart.len() > MAX_LR_TESTS && lr_skipped.is_none() {
            reporter.warning(&format!(
                "{} items not cleared by Mantel–Haenszel in group {}: the likelihood-ratio test runs on the {MAX_LR_TESTS} with the smallest p",
                apart.len(),
                name
            ));
        }
        let tests = (n_tests > 0).then(|| {
            lr_tests(
                data, focal, &apart, n_tests, kinds, settings, result, pool, &interrupt,
            )
        });
        let tested = match tests.transpose() {
            Ok(tested) => tested.unwrap_or_else(|| vec![None; data.n_items()]),
            // A refit that fails on its own numbers leaves the Mantel–Haenszel screen standing
            // rather than failing the night's calibration; cancellation and memory end the run.
            Err(
                e @ (CoreError::Interrupted { .. }
                | CoreError::OutOfMemory { .. }
                | CoreError::MemoryLimit { .. }),
            ) => return Err(e),
            Err(e) => {
                reporter.warning(&format!(
                    "the likelihood-ratio DIF test of group {} is left out: {e}",
                    name
                ));
                lr_skipped = Some(format!("its fits failed: {e}"));
                n_tests = 0;
                vec![None; data.n_items()]
            }
        };
        for j in 0..data.n_items() {
            let mh = screening.items[j];
            let (lr, areas, curves) = match tested[j] {
                Some(t) => (Some(t.test), Some(t.areas), Some(t.curves)),
                None => (None, None, None),
            };
            let flagged = mh.is_some_and(|m| m.class != EtsClass::A)
                || lr.is_some_and(|t: LrTest| t.p_adjusted < DIF_LEVEL);
            out.rows.push(DifRow {
                item: j,
                focal,
                n_focal: n_focal[j],
                n_reference: n_reference[j],
                mh,
                mh_p_adjusted: screening.adjusted_p[j],
                lr,
                areas: areas.map(|a: Areas| Areas {
                    signed: scale * a.signed,
                    unsigned: scale * a.unsigned,
                }),
                curves: curves.map(|c: [ItemParams; 2]| c.map(|p| p.on_scale(scale, shift))),
                flagged,
            });
        }
        out.focal.push(FocalScreening {
            focal,
            matching: matching_name,
            screenings: screening.screenings,
            lr_tested: n_tests,
            lr_skipped,
        });
    }
    Ok(out)
}

/// Per item, the persons of the focal and of the reference group who answered it.
fn answered_by(kept: &Kept, side: &[Option<Side>]) -> (Vec<u64>, Vec<u64>) {
    let data = &kept.responses;
    let (mut focal, mut reference) = (vec![0; data.n_items()], vec![0; data.n_items()]);
    for (i, side) in side.iter().enumerate() {
        let count = match side {
            Some(Side::Focal) => &mut focal,
            Some(Side::Reference) => &mut reference,
            None => continue,
        };
        for &j in data.person(i).0 {
            count[j as usize] += 1;
        }
    }
    (focal, reference)
}

/// A tested item's test, and the baseline's areas and item in each group on its scale.
#[derive(Clone, Copy)]
struct Tested {
    test: LrTest,
    areas: Areas,
    curves: [ItemParams; 2],
}

/// Per item where tested — the first `n_tests` of `apart`, on the answers of the reference and
/// the focal group — its likelihood-ratio test, and the baseline's areas and item in each group
/// on the baseline's scale.
#[allow(clippy::too_many_arguments)]
fn lr_tests(
    data: &crate::responses::Responses,
    focal: usize,
    apart: &[usize],
    n_tests: usize,
    kinds: &ItemKinds,
    settings: &Settings,
    result: &FitResult,
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<Vec<Option<Tested>>> {
    let (pair, origin) = data.of_groups(&[0, focal])?;
    let mut in_pair = vec![None; data.n_items()];
    for (k, &j) in origin.iter().enumerate() {
        in_pair[j] = Some(k);
    }
    // Every uncleared item has answers in both groups: its statistics were defined.
    let apart_in_pair: Vec<usize> = apart.iter().filter_map(|&j| in_pair[j]).collect();
    let configure =
        |fit_origin: &[usize]| configure(fit_origin, &origin, kinds, settings, result, interrupt);
    let tests = likelihood_ratio(&pair, &apart_in_pair, n_tests, configure, pool)?;
    let baseline_converged = tests.baseline.converged();
    let mut tested = vec![None; data.n_items()];
    let p: Vec<f64> = tests.tests.iter().map(|t| t.p).collect();
    let curve = |j: usize| tests.baseline.items[j].params;
    for (k, (t, q)) in tests.tests.iter().zip(benjamini_hochberg(&p)).enumerate() {
        let test = LrTest {
            x2: t.x2,
            df: t.df,
            p: t.p,
            p_adjusted: q,
            converged: baseline_converged && t.converged,
        };
        // Two groups: the k-th item apart has one copy, the focal group's, after the pair's items.
        let focal_copy = pair.n_items() + k;
        tested[origin[t.item]] = Some(Tested {
            test,
            areas: t.areas[0],
            curves: [curve(t.item), curve(focal_copy)],
        });
    }
    Ok(tested)
}

/// The settings of a likelihood-ratio fit whose item i is the pair's `fit_origin[i]`, the run's
/// item `origin[fit_origin[i]]`: the run's models, categories and convergence, started at the
/// run's estimates, no item fixed (the reference group sets the scale), and the run's preset
/// priors (the default ones where the run learned them from the bank: those are on the anchors'
/// scale).
fn configure(
    fit_origin: &[usize],
    origin: &[usize],
    kinds: &ItemKinds,
    settings: &Settings,
    result: &FitResult,
    interrupt: &Interrupt,
) -> Result<FitConfig> {
    let priors = match settings.priors {
        PriorsSetting::Preset(p) => p,
        PriorsSetting::Bank => Priors::DEFAULT,
    };
    let (lower, upper) = DEFAULT_THETA_RANGE;
    let mut params = FitParams::new(settings.model)
        .priors(priors)
        .max_cycles(settings.max_cycles)
        .tolerance(settings.tolerance)
        .standard_errors(StandardErrors::None)
        .quadrature(settings.quadrature_points, lower, upper)
        .interrupt(interrupt.clone());
    for (i, &k) in fit_origin.iter().enumerate() {
        let j = origin[k];
        if let Some(c) = &kinds.categories[j] {
            params = params.in_categories(i, c.steps(), c.count());
        }
        if let Some(model) = kinds.models[j] {
            params = params.item_model(i, model);
        }
        params = params.start_item(i, result.items[j].params);
    }
    params.check(fit_origin.len())
}
