//! The IRT likelihood-ratio test of DIF from an anchored baseline (R mirt's `DIF(…, scheme =
//! 'add')`): the baseline model estimates the tested items apart in each group — a person's
//! answer to a tested item is an answer to that item's copy for their group — and shares the
//! others, the anchors, across groups, each group with its own latent distribution; each tested
//! item in turn is shared again and the model refitted. X² = 2(ℓ_baseline − ℓ_shared) on as
//! many degrees of freedom as the sharing removes. The baseline's curves of the item in each
//! focal group against the reference group's give the effect sizes ([`areas`]).

use std::ops::ControlFlow;

use rayon::ThreadPool;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::areas::{areas, Areas};
use crate::em::{fit, FitResult};
use crate::error::Result;
use crate::params::FitConfig;
use crate::responses::Responses;

/// One tested item's test.
#[derive(Clone, Debug, PartialEq)]
pub struct LikelihoodRatio {
    pub item: usize,
    pub x2: f64,
    pub df: usize,
    /// The chi-square upper tail.
    pub p: f64,
    /// Per focal group (groups 1, 2, …), the areas between its curve and the reference's.
    pub areas: Vec<Areas>,
    /// Whether the refit with the item shared converged.
    pub converged: bool,
}

/// The baseline fit (its items: the data's, then the tested items' copies as
/// [`Responses::apart_by_group`] numbers them) and each tested item's test.
pub struct LikelihoodRatioTests {
    pub baseline: FitResult,
    pub tests: Vec<LikelihoodRatio>,
}

/// The test of each of the first `n_tests` of `apart` (items of `data`, whose persons are in
/// groups), all of which the baseline estimates apart. `configure(origin)` gives the settings
/// of a fit whose item i is the data's `origin[i]`.
pub fn likelihood_ratio(
    data: &Responses,
    apart: &[usize],
    n_tests: usize,
    configure: impl Fn(&[usize]) -> Result<FitConfig>,
    pool: &ThreadPool,
) -> Result<LikelihoodRatioTests> {
    let run = |apart: &[usize]| -> Result<FitResult> {
        let (split, origin) = data.apart_by_group(apart)?;
        fit(&split, &configure(&origin)?, pool, |_| {
            ControlFlow::Continue(())
        })
    };
    let baseline = run(apart)?;
    let extra = data.n_groups() - 1;
    let mut tests = Vec::with_capacity(n_tests);
    for (k, &item) in apart.iter().enumerate().take(n_tests) {
        let others: Vec<usize> = apart.iter().copied().filter(|&j| j != item).collect();
        let shared = run(&others)?;
        let df = baseline.n_params - shared.n_params;
        // At the maxima the baseline, which nests the shared model, is never lower; a hair
        // below is where both converged to the same point.
        let x2 = (2.0 * (baseline.log_lik - shared.log_lik)).max(0.0);
        let p = ChiSquared::new(df as f64).map_or(f64::NAN, |c| c.sf(x2));
        let curve = |j: usize| &baseline.items[j].params;
        let areas = (0..extra)
            .map(|g| areas(curve(item), curve(data.n_items() + k * extra + g)))
            .collect();
        tests.push(LikelihoodRatio {
            item,
            x2,
            df,
            p,
            areas,
            converged: shared.converged(),
        });
    }
    Ok(LikelihoodRatioTests { baseline, tests })
}
