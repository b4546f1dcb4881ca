//! Item and person fit at given item parameters, as R mirt 1.46.1 computes them (`itemfit`,
//! `RMSD_DIF`, `personfit`), on sparse answers:
//!
//! - S-X2 (Orlando & Thissen 2000; for items in categories Kang & Chen 2008): persons by summed
//!   score, observed against expected answers in each category, the expected ones from
//!   Lord–Wingersky summed-score likelihoods on 61 points on [−6, 6] weighted by the latent
//!   N(mean, variance); cells a category cannot reach and sparse rows and categories merged as
//!   mirt's `collapseCells` does ([`ScoreTable::collapsed`]); df = cells left − rows − the
//!   parameters estimated for the item as mirt counts them (its own, and one every item shares:
//!   the Rasch model's latent variance, the 1PL's common slope); p the upper chi-square tail
//!   (unadjusted); RMSEA with N the persons who answered the item.
//! - Infit and outfit mean squares and their Wilson–Hilferty z, with each person's EAP θ (given
//!   by the caller) plugged in.
//! - RMSD (`RMSD_DIF` on one group): the root mean square, under the latent density on 201
//!   points on [−6, 6], of the posterior-weighted proportion right at each point less the curve.
//! - Zh (lz, Drasgow, Levine & Williams 1985) of every person at their EAP θ.
//!
//! Infit, outfit, RMSD and Zh are sums over answers, so on sparse data they are the same sums over
//! the answers that exist (RMSD's posteriors over each person's own items). On complete data all
//! four are mirt's.
//!
//! **S-X2 on sparse data.** mirt defines S-X2 for complete data only. Here each person's summed
//! score counts the items they answered (their *form*), and the expected chance of their answer
//! to item i is computed from their own form's summed-score likelihoods, with and without item
//! i; observed and expected answers are added into item i's row of that summed score s, for
//! s = 1 … M_n − 1, M_n the form's highest score (a person at 0 or at their form's maximum says
//! nothing about fit and is dropped, as mirt drops them); a category is impossible at a score
//! (mirt's NA) where no form holding the item can reach the score with it. Then mirt's
//! collapsing and statistic follow. On complete data
//! there is one form and this is mirt's computation exactly. The likelihoods are computed once
//! per distinct form (persons who answered the same items in the same order share it; the
//! builders of [`Responses`] sort each person's items, so that is the same items): the product
//! over the form's items with each item left out in turn, by divide and conquer (fold one half
//! of a segment into the product outside it, recurse into the other half), keeping only the
//! coefficients that can still reach a score the form's persons have. That is about
//! M (M + W log₂J) multiply–adds per node for a form of J items whose persons' scores span W
//! values (M² for a person with a form of their own, the usual sparse case) and, unlike
//! dividing an item back out of the full product, it never subtracts. [`S_X2_BUDGET`] bounds
//! that work summed over the forms; past it S-X2 is not computed and the report says why.
//!
//! **Not available.** S-X2, its df, p and RMSEA are None when the budget was exceeded; with df
//! ≤ 0 (too few cells left after collapsing, or fewer than two rows or categories) df is
//! Some(0) and the rest None (mirt gives NaN);
//! S-X2 and p are None as well when a summed score observed among the item's persons has
//! likelihood 0 at every node (underflow; mirt's is NaN there). An item without answers has NaN
//! infit, outfit, z and RMSD, and a person without answers NaN Zh: there is nothing to measure
//! (mirt's data have no such item or person); an item without answers has no S-X2 either. RMSD
//! leaves out a node where the posterior mass of the item's answers underflows to 0 (mirt's
//! would be NaN), which takes every person who answered it to be hundreds of log-likelihood
//! units away from that node.

mod collapse;
mod residuals;
mod score_tables;

use rayon::ThreadPool;

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::estep::{expected_counts, Posteriors};
use crate::forms::Forms;
use crate::interrupt::Interrupt;
use crate::model::{ItemParams, MAX_CATEGORIES};
use crate::quadrature::{Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::Responses;

use collapse::SX2;
pub use collapse::{ScoreRow, ScoreTable};
use residuals::answer_fit;
pub use score_tables::{score_tables, S_X2_BUDGET, S_X2_POINTS};

/// RMSD's: `RMSD_DIF` refits on 201 points on [−6, 6].
pub const RMSD_POINTS: usize = 201;

/// RMSD's posterior sums (an E-step on its nodes) and the residual pass are cut into this many
/// leaves of persons: few, as RMSD's live accumulators are 3 × 201 numbers per item each, and
/// enough to share.
pub(crate) const RMSD_LEAVES: usize = 8;
/// What RMSD's leaves can hold at once, per item: every leaf's right and wrong sums and its test
/// forms' right sums (the memory guard's bound; the tree reduction frees most of them before the
/// last are made).
pub const ACCUMULATOR_BYTES_PER_ITEM: u128 = (RMSD_LEAVES * 3 * RMSD_POINTS * 8) as u128;

/// One item's fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemFit {
    pub s_x2: Option<f64>,
    pub s_x2_df: Option<u32>,
    pub s_x2_p: Option<f64>,
    pub s_x2_rmsea: Option<f64>,
    pub infit: f64,
    pub infit_z: f64,
    pub outfit: f64,
    pub outfit_z: f64,
    pub rmsd: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FitReport {
    /// In the order of the data's items.
    pub items: Vec<ItemFit>,
    /// Zh of every person.
    pub zh: Vec<f64>,
    /// Why S-X2 was not computed, if it was not.
    pub s_x2_skipped: Option<String>,
}

/// Item and person fit of `data` at `items` (one per item of the data) and the latent
/// distribution of each group of persons (`latents`, one without groups), with the
/// persons' EAP `thetas`; `estimated_parameters[j]` is what S-X2's df subtracts for item j, as
/// mirt counts it: the item's free parameters (2 for a 2PL item, K for a graded one, 0 for a
/// fixed anchor) and one shared by every item (the Rasch model's latent variance, the 1PL's
/// common slope). On `pool`; `interrupt` is polled between chunks
/// of persons and of forms.
pub fn fit_statistics(
    data: &Responses,
    items: &[ItemParams],
    estimated_parameters: &[usize],
    latents: &[Latent],
    thetas: &[f64],
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<FitReport> {
    if estimated_parameters.len() != data.n_items() || thetas.len() != data.n_persons() {
        return Err(CoreError::InvalidArgument {
            message: format!(
                "item fit needs a parameter count per item and a θ per person: {} items and {} \
                 persons, got {} and {}",
                data.n_items(),
                data.n_persons(),
                estimated_parameters.len(),
                thetas.len()
            ),
        });
    }
    if thetas.iter().any(|t| !t.is_finite()) {
        return Err(CoreError::NonFinite { what: "ability" });
    }
    let tables = score_tables(data, items, latents, pool, interrupt)?;
    let nodes = Grid::new(RMSD_POINTS, -6.0, 6.0)?;
    // RMSD's posterior mass of right and wrong answers is the E-step's expected counts on its
    // nodes, test-form shortcut included.
    let forms = Forms::detect(data)?;
    let leaves = Leaves::new(data, (data.n_answers() / RMSD_LEAVES).max(1));
    let counts = expected_counts(
        data,
        &leaves,
        &Posteriors::new(data, &forms, items, latents, nodes.nodes())?,
        pool,
        interrupt,
    )?;
    let (residuals, zh) = answer_fit(data, &leaves, items, thetas, pool, interrupt)?;
    let density = mixture(data, latents, nodes.nodes())?;
    let mut fits = alloc::with_capacity(data.n_items(), "the item fit")?;
    for (j, item) in items.iter().enumerate() {
        let residuals = &residuals[j];
        let s_x2 = match &tables {
            Ok(tables) => SX2::of(&tables[j], estimated_parameters[j], residuals.n)?,
            Err(_) => SX2::default(),
        };
        let (infit, infit_z) = residuals.infit();
        let (outfit, outfit_z) = residuals.outfit();
        fits.push(ItemFit {
            s_x2: s_x2.statistic,
            s_x2_df: s_x2.df,
            s_x2_p: s_x2.p,
            s_x2_rmsea: s_x2.rmsea,
            infit,
            infit_z,
            outfit,
            outfit_z,
            rmsd: if residuals.n > 0.0 {
                let rows: Vec<&[f64]> = (0..item.categories())
                    .map(|x| {
                        counts
                            .category(j, x)
                            .to_slice()
                            .expect("a row of the counts")
                    })
                    .collect();
                rmsd(item, &rows, nodes.nodes(), &density)
            } else {
                f64::NAN
            },
        });
    }
    Ok(FitReport {
        items: fits,
        zh,
        s_x2_skipped: tables.err(),
    })
}

/// The density RMSD weighs its nodes by: the latent distribution's, or with groups their
/// mixture in proportion to their persons (the posterior mass it compares is pooled over them).
fn mixture(data: &Responses, latents: &[Latent], nodes: &[f64]) -> Result<Vec<f64>> {
    let mut persons = alloc::filled(latents.len(), 0usize, "the item fit")?;
    for i in 0..data.n_persons() {
        persons[data.group(i)] += 1;
    }
    let total = data.n_persons().max(1) as f64;
    let mut density = alloc::filled(nodes.len(), 0.0, "the item fit")?;
    for (&latent, &n) in latents.iter().zip(&persons) {
        let share = n as f64 / total;
        for (d, w) in density.iter_mut().zip(Grid::log_weights_at(nodes, latent)) {
            *d += share * w.exp();
        }
    }
    Ok(density)
}

/// mirt's RMSD of one item: the posterior-weighted proportion of answers in a category at each
/// node against the category's curve, under the latent density; of an item in categories the
/// largest over its categories (mirt reports one per category; a right/wrong item's two are
/// equal). `rows[x]` holds the posterior mass of answers x at each node.
fn rmsd(item: &ItemParams, rows: &[&[f64]], nodes: &[f64], density: &[f64]) -> f64 {
    let k = rows.len();
    let mut sums = [0.0; MAX_CATEGORIES];
    let mut logs = [0.0; MAX_CATEGORIES];
    for (q, (&theta, f)) in nodes.iter().zip(density).enumerate() {
        let total: f64 = rows.iter().map(|r| r[q]).sum();
        if total <= 0.0 {
            continue;
        }
        item.log_category_probs(theta, &mut logs[..k]);
        for x in 0..k {
            sums[x] += f * (rows[x][q] / total - logs[x].exp()).powi(2);
        }
    }
    sums[..k].iter().fold(0.0f64, |m, s| m.max(s.sqrt()))
}
