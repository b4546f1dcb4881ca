//! Item and person fit at given item parameters, as R mirt 1.46.1 computes them (`itemfit`,
//! `RMSD_DIF`, `personfit`), on sparse answers:
//!
//! - S-X2 (Orlando & Thissen 2000): persons by summed score, observed against expected right and
//!   wrong answers, the expected ones from Lord–Wingersky summed-score likelihoods on 61 points
//!   on [−6, 6] weighted by the latent N(mean, variance); sparse rows merged as mirt's
//!   `collapseCells` does ([`ScoreTable::collapsed`]); df = rows − the item's estimated
//!   parameters; p the upper chi-square tail (unadjusted); RMSEA with N the persons who
//!   answered the item.
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
//! s = 1 … J_n − 1 (a person at 0 or at their form's maximum says nothing about fit and is
//! dropped, as mirt drops them); then mirt's collapsing and statistic follow. On complete data
//! there is one form and this is mirt's computation exactly. The likelihoods are computed once
//! per distinct form (persons who answered the same items in the same order share it; the
//! builders of [`Responses`] sort each person's items, so that is the same items): the product
//! over the form's items with each item left out in turn, by divide and conquer (fold one half
//! of a segment into the product outside it, recurse into the other half), keeping only the
//! coefficients that can still reach a score the form's persons have. That is about
//! J (J + W log₂J) multiply–adds per node for a form of J items whose persons' scores span W
//! values (J² for a person with a form of their own, the usual sparse case) and, unlike
//! dividing an item back out of the full product, it never subtracts. [`S_X2_BUDGET`] bounds
//! that work summed over the forms; past it S-X2 is not computed and the report says why.
//!
//! **Not available.** S-X2, its df, p and RMSEA are None when the budget was exceeded; with df
//! ≤ 0 (too few rows left after collapsing) df is Some(0) and the rest None (mirt gives NaN);
//! S-X2 and p are None as well when a summed score observed among the item's persons has
//! likelihood 0 at every node (underflow; mirt's is NaN there). An item without answers has NaN
//! infit, outfit, z and RMSD, and a person without answers NaN Zh: there is nothing to measure
//! (mirt's data have no such item or person); an item without answers has no S-X2 either. RMSD
//! leaves out a node where the posterior mass of the item's answers underflows to 0 (mirt's
//! would be NaN), which takes every person who answered it to be hundreds of log-likelihood
//! units away from that node.

use rayon::prelude::*;
use rayon::ThreadPool;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::estep::{expected_counts, Posteriors};
use crate::exp::exp_nonpositive;
use crate::forms::Forms;
use crate::interrupt::Interrupt;
use crate::model::ItemParams;
use crate::quadrature::{Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::Responses;
use crate::simd;

/// S-X2's quadrature: mirt's 61 points on [−6, 6].
pub const S_X2_POINTS: usize = 61;
/// RMSD's: `RMSD_DIF` refits on 201 points on [−6, 6].
pub const RMSD_POINTS: usize = 201;
/// The most S-X2 work a run does: Σ over distinct forms of 61 J (J + W ⌈log₂ J⌉), J the form's
/// items and W the width of its persons' range of scores in 1 … J − 1; for persons each with a
/// form of their own, about 61 Σ J². Measured at 0.15–0.36 ns per unit on two cores (forms of
/// 10 to 2,500 items; `s_x2_cost_is_measured` in tests/item_fit.rs), so at most 0.15–0.36 s: on
/// large sparse windows, where every person has a form of their own, it is skipped (the reason
/// is recorded) and RMSD is the misfit gate.
pub const S_X2_BUDGET: f64 = 1e9;

/// mirt's collapsing merges a row with an expected count below this.
const MIN_EXPECTED: f64 = 1.0;
/// Wilson–Hilferty: mirt caps the SD of the mean square at its literal 1.4142 (not √2).
#[allow(clippy::approx_constant)]
const MAX_MEAN_SQUARE_SD: f64 = 1.4142;
/// Binomial variances below √1e-5 are raised to it in the mean squares, as mirt does.
const MIN_VARIANCE: f64 = 3.1622776601683795e-3;

/// Forms processed between two polls of the interrupt: at most this much work …
const CHUNK_COST: f64 = 5e7;
/// … and at most this many forms.
const CHUNK_FORMS: usize = 4_096;
/// A form's recursion polls the interrupt at segments of at least this many items, and splits
/// them across threads.
const SPLIT_ITEMS: usize = 64;
/// RMSD's posterior sums (an E-step on its nodes) and the residual pass are cut into this many
/// leaves of persons: few, as RMSD's live accumulators are 3 × 201 numbers per item each, and
/// enough to share.
pub(crate) const RMSD_LEAVES: usize = 8;
/// What RMSD's leaves can hold at once, per item: every leaf's right and wrong sums and its test
/// forms' right sums (the memory guard's bound; the tree reduction frees most of them before the
/// last are made).
pub const ACCUMULATOR_BYTES_PER_ITEM: u128 = (RMSD_LEAVES * 3 * RMSD_POINTS * 8) as u128;
/// Persons between two polls of the interrupt in the per-person passes.
const POLL_PERSONS: usize = 1_024;

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

/// One summed score's persons among those who answered an item, [wrong, right].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRow {
    /// The summed score; after collapsing, that of the row the others were merged into.
    pub score: usize,
    pub observed: [f64; 2],
    pub expected: [f64; 2],
}

impl ScoreRow {
    fn persons(&self) -> f64 {
        self.observed[0] + self.observed[1]
    }

    fn absorb(&mut self, other: &ScoreRow) {
        for k in 0..2 {
            self.observed[k] += other.observed[k];
            self.expected[k] += other.expected[k];
        }
    }
}

/// One item's S-X2 table, a row per summed score from 1 to the longest form's items − 1.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreTable {
    pub rows: Vec<ScoreRow>,
}

impl ScoreTable {
    /// mirt's `collapseCells` with mincell 1 for a binary item: rows without persons dropped;
    /// from the lowest score up, a row of one person merged into the next (the last into the one
    /// before); then, until no expected cell lies in (0, 1), the lowest row with such a cell
    /// merged into a neighbour: the first into the second, the last into the one before, any
    /// other into the neighbour with fewer persons (the lower one on a tie).
    pub fn collapsed(&self) -> Result<ScoreTable> {
        let mut rows: Vec<ScoreRow> = alloc::with_capacity(self.rows.len(), "the S-X2 tables")?;
        rows.extend(self.rows.iter().filter(|r| r.persons() > 0.0));
        let mut k = 0;
        while k + 1 < rows.len() {
            if rows[k].persons() == 1.0 {
                let row = rows.remove(k);
                rows[k].absorb(&row);
            } else {
                k += 1;
            }
        }
        if rows.len() > 1 && rows[rows.len() - 1].persons() == 1.0 {
            let row = rows.pop().expect("two rows");
            rows.last_mut().expect("one row").absorb(&row);
        }
        while rows.len() > 1 {
            let sparse = |r: &ScoreRow| r.expected.iter().any(|&e| e > 0.0 && e < MIN_EXPECTED);
            let Some(k) = rows.iter().position(sparse) else {
                break;
            };
            let into = if k == 0 {
                1
            } else if k == rows.len() - 1 || rows[k - 1].persons() <= rows[k + 1].persons() {
                k - 1
            } else {
                k + 1
            };
            let row = rows.remove(k);
            rows[if into > k { k } else { into }].absorb(&row);
        }
        Ok(ScoreTable { rows })
    }

    /// Σ (O − E)² / E over the rows and both answers.
    pub fn statistic(&self) -> f64 {
        self.rows
            .iter()
            .flat_map(|r| r.observed.iter().zip(&r.expected))
            .map(|(o, e)| (o - e).powi(2) / e)
            .sum()
    }
}

/// Item and person fit of `data` at `items` (one per item of the data) and `latent`, with the
/// persons' EAP `thetas`; `estimated_parameters[j]` is what S-X2's df subtracts for item j (2
/// for a free 2PL item, 0 for a fixed anchor). On `pool`; `interrupt` is polled between chunks
/// of persons and of forms.
pub fn fit_statistics(
    data: &Responses,
    items: &[ItemParams],
    estimated_parameters: &[usize],
    latent: Latent,
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
    let tables = score_tables(data, items, latent, pool, interrupt)?;
    let nodes = Grid::new(RMSD_POINTS, -6.0, 6.0)?;
    // RMSD's posterior mass of right and wrong answers is the E-step's expected counts on its
    // nodes, test-form shortcut included.
    let forms = Forms::detect(data)?;
    let leaves = Leaves::new(data, (data.n_answers() / RMSD_LEAVES).max(1));
    let counts = expected_counts(
        data,
        &leaves,
        &Posteriors::new(data, &forms, items, latent, nodes.nodes())?,
        pool,
        interrupt,
    )?;
    let (residuals, zh) = answer_fit(data, &leaves, items, thetas, pool, interrupt)?;
    let density: Vec<f64> = Grid::log_weights_at(nodes.nodes(), latent)
        .iter()
        .map(|w| w.exp())
        .collect();
    let mut fits = alloc::with_capacity(data.n_items(), "the item fit")?;
    for (j, item) in items.iter().enumerate() {
        let residuals = &residuals[j];
        let s_x2 = match &tables {
            Ok(tables) => SX2::of(&tables[j], estimated_parameters[j], residuals.n)?,
            Err(_) => SX2::default(),
        };
        let (wrong, right) = (counts.wrong(j), counts.right(j));
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
                rmsd(
                    item,
                    wrong.as_slice().expect("a row of the counts"),
                    right.as_slice().expect("a row of the counts"),
                    nodes.nodes(),
                    &density,
                )
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

/// S-X2's summary for one item.
#[derive(Default)]
struct SX2 {
    statistic: Option<f64>,
    df: Option<u32>,
    p: Option<f64>,
    rmsea: Option<f64>,
}

impl SX2 {
    /// From the item's table, its estimated parameters and the persons who answered it.
    fn of(table: &ScoreTable, estimated: usize, persons: f64) -> Result<Self> {
        if persons == 0.0 {
            return Ok(Self::default());
        }
        let collapsed = table.collapsed()?;
        let Some(df) = collapsed
            .rows
            .len()
            .checked_sub(estimated)
            .filter(|&df| df > 0)
        else {
            return Ok(Self {
                df: Some(0),
                ..Self::default()
            });
        };
        let df = df as u32;
        let x2 = collapsed.statistic();
        if !x2.is_finite() {
            return Ok(Self {
                df: Some(df),
                ..Self::default()
            });
        }
        let chi2 = ChiSquared::new(f64::from(df)).expect("a positive df");
        let per_df = x2 / f64::from(df);
        Ok(Self {
            statistic: Some(x2),
            df: Some(df),
            p: Some(chi2.sf(x2)),
            rmsea: Some(if per_df > 1.0 {
                ((per_df - 1.0) / (persons - 1.0)).sqrt()
            } else {
                0.0
            }),
        })
    }
}

/// Every item's S-X2 table (before collapsing), or why they were not computed: the work would
/// exceed [`S_X2_BUDGET`]. The interrupt is polled between chunks of forms and inside long ones.
pub fn score_tables(
    data: &Responses,
    items: &[ItemParams],
    latent: Latent,
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<std::result::Result<Vec<ScoreTable>, String>> {
    check_items(data, items, latent)?;
    let forms = AnswerForms::group(data)?;
    let costs = alloc::collect(
        (0..forms.len()).map(|f| forms.cost(data, f)),
        "the S-X2 forms",
    )?;
    let cost: f64 = costs.iter().sum();
    if cost > S_X2_BUDGET {
        return Ok(Err(format!(
            "S-X2 not computed: its summed-score likelihoods over the {} distinct sets of answered \
             items would take {cost:.2e} operations (the sum over sets of 61 nodes × items × \
             (items + the width of their range of scores × log2 items)), more than the budget \
             of {S_X2_BUDGET:.0e}; persons answering the same items share the work",
            forms.len()
        )));
    }
    let curves = Curves::new(items, latent)?;
    let mut tables = empty_tables(data, &forms)?;
    let mut start = 0;
    while start < forms.len() {
        interrupt.check()?;
        let mut end = start;
        let mut chunk_cost = 0.0;
        while end < forms.len() && end - start < CHUNK_FORMS && chunk_cost < CHUNK_COST {
            chunk_cost += costs[end];
            end += 1;
        }
        let chunk: Vec<Result<FormTable>> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map_init(Vec::new, |scratch, f| {
                    FormTable::new(data, &forms, f, &curves, scratch, interrupt)
                })
                .collect()
        });
        // In form order, so that the sums do not depend on the threads.
        for (f, table) in (start..end).zip(chunk) {
            table?.add_to(&mut tables, forms.items(data, f));
        }
        start = end;
    }
    Ok(Ok(tables))
}

fn check_items(data: &Responses, items: &[ItemParams], latent: Latent) -> Result<()> {
    if items.len() != data.n_items() {
        return Err(CoreError::InvalidArgument {
            message: format!(
                "item fit needs parameters for each of the {} items, got {}",
                data.n_items(),
                items.len()
            ),
        });
    }
    for (j, item) in items.iter().enumerate() {
        item.check(j)?;
    }
    if !(latent.mean.is_finite() && latent.variance.is_finite() && latent.variance > 0.0) {
        return Err(CoreError::NonFinite {
            what: "latent distribution",
        });
    }
    Ok(())
}

/// A function on S-X2's nodes.
type Row = [f64; S_X2_POINTS];

/// Every item's P and Q at S-X2's nodes, and the nodes' normalised latent weights.
struct Curves {
    right: Vec<Row>,
    wrong: Vec<Row>,
    weights: Row,
}

impl Curves {
    fn new(items: &[ItemParams], latent: Latent) -> Result<Self> {
        let grid = Grid::new(S_X2_POINTS, -6.0, 6.0)?;
        let mut right = alloc::filled(items.len(), [0.0; S_X2_POINTS], "the S-X2 curves")?;
        let mut wrong = alloc::filled(items.len(), [0.0; S_X2_POINTS], "the S-X2 curves")?;
        for (item, (p, q)) in items.iter().zip(right.iter_mut().zip(&mut wrong)) {
            for (t, &theta) in grid.nodes().iter().enumerate() {
                // Q from its logarithm, exact where P rounds to 1.
                let (log_p, log_q) = item.log_probs(theta);
                (p[t], q[t]) = (log_p.exp(), log_q.exp());
            }
        }
        let mut weights = [0.0; S_X2_POINTS];
        for (w, l) in weights.iter_mut().zip(grid.log_weights(latent)) {
            *w = l.exp();
        }
        Ok(Self {
            right,
            wrong,
            weights,
        })
    }
}

/// Persons grouped by the items they answered: form f's persons are
/// `persons[starts[f]..starts[f + 1]]`, in person order; forms in order of their first person.
struct AnswerForms {
    starts: Vec<usize>,
    persons: Vec<u32>,
}

impl AnswerForms {
    fn group(data: &Responses) -> Result<Self> {
        let sets = data.item_sets()?;
        let mut starts = alloc::filled(sets.count.len() + 1, 0, "the S-X2 forms")?;
        for (f, &count) in sets.count.iter().enumerate() {
            starts[f + 1] = starts[f] + count;
        }
        let mut next = alloc::collect(starts.iter().copied(), "the S-X2 forms")?;
        let mut persons = alloc::filled(data.n_persons(), 0u32, "the S-X2 forms")?;
        for (i, &f) in sets.of_person.iter().enumerate() {
            persons[next[f as usize]] = i as u32;
            next[f as usize] += 1;
        }
        Ok(Self { starts, persons })
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    fn persons(&self, f: usize) -> &[u32] {
        &self.persons[self.starts[f]..self.starts[f + 1]]
    }

    fn items<'d>(&self, data: &'d Responses, f: usize) -> &'d [u32] {
        data.person(self.persons(f)[0] as usize).0
    }

    /// The form's share of the work [`S_X2_BUDGET`] bounds: 61 J (J + W ⌈log₂ J⌉) for its J
    /// items and W the width of its persons' range of scores within 1 … J − 1 (the
    /// multiply–adds of [`LeaveOut`], about); 0 without such a score.
    fn cost(&self, data: &Responses, f: usize) -> f64 {
        let n = self.items(data, f).len();
        let middle = self
            .persons(f)
            .iter()
            .map(|&i| summed_score(data, i))
            .filter(|s| (1..n).contains(s));
        let Some((low, high)) = middle.fold(None, |range, s| match range {
            None => Some((s, s)),
            Some((low, high)) => Some((s.min(low), s.max(high))),
        }) else {
            return 0.0;
        };
        (S_X2_POINTS * n) as f64 * (n + (high - low + 1) * levels(n)) as f64
    }
}

/// The depth of a halving recursion over n items, ⌈log₂ n⌉.
fn levels(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize
}

/// Every item's table, empty, with a row per score up to its longest form's items − 1.
fn empty_tables(data: &Responses, forms: &AnswerForms) -> Result<Vec<ScoreTable>> {
    let mut longest = alloc::filled(data.n_items(), 0usize, "the S-X2 tables")?;
    for f in 0..forms.len() {
        let items = forms.items(data, f);
        for &j in items {
            longest[j as usize] = longest[j as usize].max(items.len());
        }
    }
    let mut tables = alloc::with_capacity(data.n_items(), "the S-X2 tables")?;
    for &n in &longest {
        let rows = (1..n.max(1)).map(|score| ScoreRow {
            score,
            observed: [0.0; 2],
            expected: [0.0; 2],
        });
        tables.push(ScoreTable {
            rows: alloc::collect(rows, "the S-X2 tables")?,
        });
    }
    Ok(tables)
}

/// One form's share of its items' tables, at the summed scores its persons have.
struct FormTable {
    /// (score, persons with it), scores rising within 1 … J − 1.
    scores: Vec<(usize, f64)>,
    /// Per item of the form (in its order) and score: [observed right, expected wrong,
    /// expected right].
    cells: Vec<[f64; 3]>,
}

impl FormTable {
    fn new(
        data: &Responses,
        forms: &AnswerForms,
        f: usize,
        curves: &Curves,
        scratch: &mut Vec<Row>,
        interrupt: &Interrupt,
    ) -> Result<Self> {
        let items = forms.items(data, f);
        let n = items.len();
        let mut persons_at = alloc::filled(n + 1, 0usize, "the S-X2 form tables")?;
        for &i in forms.persons(f) {
            persons_at[summed_score(data, i)] += 1;
        }
        let mut scores = alloc::with_capacity(n.saturating_sub(1), "the S-X2 form tables")?;
        scores.extend(
            (1..n.max(1))
                .filter(|&s| persons_at[s] > 0)
                .map(|s| (s, persons_at[s] as f64)),
        );
        let mut cells = alloc::filled(n * scores.len(), [0.0; 3], "the S-X2 form tables")?;
        if scores.is_empty() {
            return Ok(Self { scores, cells });
        }
        // The position of each score among `scores`, for the observed counts.
        let mut column = persons_at;
        for (u, &(s, _)) in scores.iter().enumerate() {
            column[s] = u;
        }
        for &i in forms.persons(f) {
            let s = summed_score(data, i);
            if (1..n).contains(&s) {
                let correct = data.person(i as usize).1;
                for (k, _) in correct.iter().enumerate().filter(|(_, &x)| x == 1) {
                    cells[k * scores.len() + column[s]][0] += 1.0;
                }
            }
        }
        let context = LeaveOut {
            curves,
            scores: &scores,
            n_items: n,
            low: scores[0].0,
            high: scores[scores.len() - 1].0,
            interrupt,
        };
        // A form long enough to split across threads gives its halves buffers of their own.
        let need = if n < SPLIT_ITEMS {
            context.scratch_rows(n)
        } else {
            0
        };
        if scratch.len() < need {
            alloc::grow(scratch, need - scratch.len(), "the S-X2 likelihoods")?;
            scratch.resize(need, [0.0; S_X2_POINTS]);
        }
        let weights = Window {
            lo: 0,
            rows: std::slice::from_ref(&curves.weights),
        };
        context.each(items, weights, &mut scratch[..need], &mut cells)?;
        Ok(Self { scores, cells })
    }

    /// Adds the form's rows into its items' tables.
    fn add_to(&self, tables: &mut [ScoreTable], items: &[u32]) {
        if self.scores.is_empty() {
            return;
        }
        for (&j, cells) in items.iter().zip(self.cells.chunks_exact(self.scores.len())) {
            let rows = &mut tables[j as usize].rows;
            for (&(s, persons), &[right, expected_wrong, expected_right]) in
                self.scores.iter().zip(cells)
            {
                let row = &mut rows[s - 1];
                row.observed[0] += persons - right;
                row.observed[1] += right;
                row.expected[0] += expected_wrong;
                row.expected[1] += expected_right;
            }
        }
    }
}

fn summed_score(data: &Responses, i: u32) -> usize {
    data.person(i as usize)
        .1
        .iter()
        .map(|&x| usize::from(x))
        .sum()
}

/// The expected answers of a form's persons to each of its items, from the summed-score
/// likelihoods of the form without that item.
struct LeaveOut<'a> {
    curves: &'a Curves,
    scores: &'a [(usize, f64)],
    /// The form's items, and its lowest and highest score with persons.
    n_items: usize,
    low: usize,
    high: usize,
    interrupt: &'a Interrupt,
}

/// Coefficients `lo`, `lo + 1`, … of a polynomial in the summed score (the weighted likelihood
/// of each score), each a function on the nodes.
#[derive(Clone, Copy)]
struct Window<'a> {
    lo: usize,
    rows: &'a [Row],
}

impl LeaveOut<'_> {
    /// For each of `items`, with `outside` the product over the form's items outside them,
    /// fills the item's `cells`: fold one half into `outside` and recurse into the other, so
    /// that every item ends with the product over all the others. Long segments split across
    /// threads with buffers of their own; short ones work in `scratch`
    /// ([`Self::scratch_rows`]).
    fn each(
        &self,
        items: &[u32],
        outside: Window,
        scratch: &mut [Row],
        cells: &mut [[f64; 3]],
    ) -> Result<()> {
        if let [j] = items {
            self.expect(*j as usize, outside, cells);
            return Ok(());
        }
        let (left, right) = items.split_at(items.len() / 2);
        let (cells_left, cells_right) = cells.split_at_mut(left.len() * self.scores.len());
        let rows = |mine: &[u32]| self.needed(mine.len()).1 + 1 - outside.lo;
        if items.len() < SPLIT_ITEMS {
            for (mine, others, cells) in [(left, right, cells_left), (right, left, cells_right)] {
                let (buffer, rest) = scratch.split_at_mut(rows(mine));
                let inner = self.times(outside, others, mine.len(), buffer);
                self.each(mine, inner, rest, cells)?;
            }
            return Ok(());
        }
        self.interrupt.check()?;
        let half = |mine: &[u32], others: &[u32], cells: &mut [[f64; 3]]| {
            let what = "the S-X2 likelihoods";
            let mut buffer = alloc::filled(rows(mine), [0.0; S_X2_POINTS], what)?;
            let scratch_rows = self.scratch_rows(mine.len());
            let mut scratch = alloc::filled(scratch_rows, [0.0; S_X2_POINTS], what)?;
            let inner = self.times(outside, others, mine.len(), &mut buffer);
            self.each(mine, inner, &mut scratch, cells)
        };
        let (a, b) = rayon::join(
            || half(left, right, cells_left),
            || half(right, left, cells_right),
        );
        a.and(b)
    }

    /// The coefficients a segment of n items needs of the product outside it: those from which
    /// its items can still reach a score with persons, up to the product's degree.
    fn needed(&self, n: usize) -> (usize, usize) {
        (self.low.saturating_sub(n), self.high.min(self.n_items - n))
    }

    /// Rows for the sequential recursion below a segment of n items: a buffer per level.
    fn scratch_rows(&self, n: usize) -> usize {
        levels(n) * (self.high - self.low + n + 1)
    }

    /// Lord–Wingersky: `outside` times (Q_j + P_j x) over `others`, in `buffer`, as far as a
    /// segment of `mine` items needs it: coefficients that can no longer reach that are dropped
    /// as the items are folded in, which leaves a form whose persons share one score about J²
    /// work per node instead of J² log₂ J.
    fn times<'b>(
        &self,
        outside: Window,
        others: &[u32],
        mine: usize,
        buffer: &'b mut [Row],
    ) -> Window<'b> {
        let ((lo, held), (target_lo, target_hi)) = ((outside.lo, outside.rows), self.needed(mine));
        buffer[..held.len()].copy_from_slice(held);
        // Rows bottom..=top of `buffer` hold coefficients lo + bottom ..= lo + top.
        let mut top = held.len() - 1;
        for (left, &j) in (0..others.len()).rev().zip(others) {
            let (p, q) = (
                &self.curves.right[j as usize],
                &self.curves.wrong[j as usize],
            );
            let bottom = target_lo.saturating_sub(left) - lo;
            let new_top = (top + 1).min(target_hi - lo);
            if new_top > top {
                let (lower, upper) = buffer.split_at_mut(new_top);
                for ((o, b), p) in upper[0].iter_mut().zip(&lower[top]).zip(p) {
                    *o = b * p;
                }
            }
            for r in (bottom.max(1)..=top).rev() {
                let (lower, upper) = buffer.split_at_mut(r);
                for (((o, b), p), q) in upper[0].iter_mut().zip(&lower[r - 1]).zip(p).zip(q) {
                    *o = *o * q + b * p;
                }
            }
            // Coefficient 0, with nothing below it (bottom is 0 only where lo is).
            if bottom == 0 {
                for (o, q) in buffer[0].iter_mut().zip(q) {
                    *o *= q;
                }
            }
            top = new_top;
        }
        Window {
            lo: target_lo,
            rows: &buffer[target_lo - lo..=top],
        }
    }

    /// Item j's expected wrong and right answers per score, given `others`, the weighted
    /// likelihoods of the form's other items: persons at s times the share of the score's
    /// likelihood that has j wrong (others at s) or right (others at s − 1).
    fn expect(&self, j: usize, others: Window, cells: &mut [[f64; 3]]) {
        let dot = |a: &Row, b: &Row| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        let (p, q) = (&self.curves.right[j], &self.curves.wrong[j]);
        for (cell, &(s, persons)) in cells.iter_mut().zip(self.scores) {
            let wrong = dot(q, &others.rows[s - others.lo]);
            let right = dot(p, &others.rows[s - 1 - others.lo]);
            let total = wrong + right;
            cell[1] = persons * wrong / total;
            cell[2] = persons * right / total;
        }
    }
}

/// One pass over the answers at the persons' θ: every item's residual sums (infit and outfit)
/// and every person's Zh, in fixed leaves of persons merged along a fixed tree, so that the sums
/// do not depend on the threads. Each answer's P, Q and log-odds come once for both.
fn answer_fit(
    data: &Responses,
    leaves: &Leaves,
    items: &[ItemParams],
    thetas: &[f64],
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<(Vec<Residuals>, Vec<f64>)> {
    pool.install(|| {
        leaves.reduce(
            |persons| {
                let mut residuals =
                    alloc::filled(data.n_items(), Residuals::default(), "the infit sums")?;
                let mut zh = alloc::with_capacity(persons.len(), "the person fit")?;
                let mut at = Vec::new();
                for i in persons.clone() {
                    if (i - persons.start).is_multiple_of(POLL_PERSONS) {
                        interrupt.check()?;
                    }
                    let (answered, correct) = data.person(i);
                    at.clear();
                    alloc::grow(&mut at, answered.len(), "the person fit")?;
                    at.extend(answered.iter().map(|&j| {
                        let item = &items[j as usize];
                        Odds {
                            log_odds: item.a * thetas[i] + item.d,
                            ..Odds::default()
                        }
                    }));
                    odds(&mut at);
                    let mut person = PersonFit::default();
                    for ((&j, &x), at) in answered.iter().zip(correct).zip(&at) {
                        let item = &items[j as usize];
                        let at = if item.c == 0.0 {
                            *at
                        } else {
                            Odds::with_guessing(item, thetas[i])
                        };
                        residuals[j as usize].add(at.p, x);
                        person.add(&at, x);
                    }
                    zh.push(person.lz());
                }
                Ok((residuals, zh))
            },
            |left, right| {
                let ((mut residuals, mut zh), (r, z)) = (left?, right?);
                for (a, b) in residuals.iter_mut().zip(&r) {
                    a.merge(b);
                }
                alloc::grow(&mut zh, z.len(), "the person fit")?;
                zh.extend(z);
                Ok((residuals, zh))
            },
        )
    })
}

/// An answer's P and Q at a person's θ and the log-odds log(P/Q), which Zh weighs the answer
/// by; without guessing (c = 0) that is the logit z = aθ + d itself.
#[derive(Clone, Copy, Debug, Default)]
struct Odds {
    log_odds: f64,
    p: f64,
    q: f64,
}

impl Odds {
    /// With a lower asymptote: Q from its logarithm, exact where P rounds to 1.
    fn with_guessing(item: &ItemParams, theta: f64) -> Self {
        let (log_p, log_q) = item.log_probs(theta);
        Self {
            log_odds: log_p - log_q,
            p: item.prob(theta),
            q: log_q.exp(),
        }
    }
}

simd::multiversion! {
/// P and Q from each answer's logit, taken as without guessing (answers with guessing are
/// recomputed by [`Odds::with_guessing`]): with e = exp(−|z|), the larger of the two is
/// 1/(1 + e) and the smaller e/(1 + e). No branch and no library call, so the loop vectorises.
fn odds(at: &mut [Odds]) {
    for at in at.iter_mut() {
        let e = exp_nonpositive(-at.log_odds.abs());
        let big = 1.0 / (1.0 + e);
        let small = e * big;
        let right = at.log_odds >= 0.0;
        at.p = if right { big } else { small };
        at.q = if right { small } else { big };
    }
}
}

/// mirt's RMSD of one item: the posterior-weighted proportion right at each node against the
/// curve, under the latent density.
fn rmsd(item: &ItemParams, wrong: &[f64], right: &[f64], nodes: &[f64], density: &[f64]) -> f64 {
    nodes
        .iter()
        .zip(density)
        .zip(wrong.iter().zip(right))
        .filter(|(_, (w, r))| *w + *r > 0.0)
        .map(|((&theta, f), (w, r))| f * (r / (w + r) - item.prob(theta)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// An item's sums over its answers at the persons' θ: R = x − P, W = P(1 − P) (at least √1e-5),
/// C = P(1 − P)((1 − P)³ + P³), the fourth central moment.
#[derive(Clone, Copy, Debug, Default)]
struct Residuals {
    /// Σ R²/W
    outfit: f64,
    /// Σ C/W²
    outfit_moment: f64,
    /// Σ R²
    squared: f64,
    /// Σ W
    variance: f64,
    /// Σ (C − W²)
    infit_moment: f64,
    /// The answers.
    n: f64,
}

impl Residuals {
    fn add(&mut self, p: f64, x: u8) {
        let r = f64::from(x) - p;
        let raw = p * (1.0 - p);
        let w = if raw * raw < MIN_VARIANCE * MIN_VARIANCE {
            MIN_VARIANCE
        } else {
            raw
        };
        let c = raw * ((1.0 - p).powi(3) + p.powi(3));
        self.outfit += r * r / w;
        self.outfit_moment += c / (w * w);
        self.squared += r * r;
        self.variance += w;
        self.infit_moment += c - w * w;
        self.n += 1.0;
    }

    fn merge(&mut self, o: &Self) {
        self.outfit += o.outfit;
        self.outfit_moment += o.outfit_moment;
        self.squared += o.squared;
        self.variance += o.variance;
        self.infit_moment += o.infit_moment;
        self.n += o.n;
    }

    /// The outfit mean square and its z.
    fn outfit(&self) -> (f64, f64) {
        let n = self.n;
        let mean_square = self.outfit / n;
        let variance = self.outfit_moment / (n * n) - 1.0 / n;
        (mean_square, wilson_hilferty(mean_square, variance))
    }

    /// The infit mean square and its z.
    fn infit(&self) -> (f64, f64) {
        let mean_square = self.squared / self.variance;
        let variance = self.infit_moment / (self.variance * self.variance);
        (mean_square, wilson_hilferty(mean_square, variance))
    }
}

/// The mean square's z by the cube root, with its SD capped as mirt does (a NaN stays NaN).
fn wilson_hilferty(mean_square: f64, variance: f64) -> f64 {
    let sd = variance.sqrt();
    let sd = if sd > MAX_MEAN_SQUARE_SD {
        MAX_MEAN_SQUARE_SD
    } else {
        sd
    };
    (mean_square.cbrt() - 1.0) * (3.0 / sd) + sd / 3.0
}

/// Zh's parts over a person's answers at their θ. The log-likelihood less its mean over the
/// answers the model would give is Σ (x − P) log(P/Q), and its variance Σ P Q log²(P/Q): the
/// logarithms of P and Q themselves cancel.
#[derive(Default)]
struct PersonFit {
    deviation: f64,
    variance: f64,
}

impl PersonFit {
    fn add(&mut self, at: &Odds, x: u8) {
        // x − P is Q for a right answer, exact where P rounds to 1.
        self.deviation += if x == 1 { at.q } else { -at.p } * at.log_odds;
        self.variance += at.p * at.q * at.log_odds * at.log_odds;
    }

    /// Zh (lz): the log-likelihood standardised.
    fn lz(&self) -> f64 {
        self.deviation / self.variance.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{respond, Rng};

    /// Infit, outfit and Zh by their definitions, from P alone and the logarithms of P and
    /// 1 − P, against the pass that gets them from each answer's log-odds: items with and
    /// without guessing, persons far in the tails, and the AVX2 and portable copies bit for bit.
    #[test]
    fn the_residual_pass_computes_the_definitions() {
        let mut items: Vec<ItemParams> = (0..12)
            .map(|j| ItemParams::from_irt(0.5 + 0.2 * j as f64, -2.0 + 0.35 * j as f64, 0.0))
            .collect();
        for j in [2, 7, 11] {
            items[j] = ItemParams::from_irt(items[j].a, 0.3, 0.15 + 0.01 * j as f64);
        }
        let mut rng = Rng::new(5);
        let (mut thetas, data) = respond(&mut rng, &items, 300, 9, 0.0, 1.5);
        thetas[0] = -9.0;
        thetas[1] = 40.0;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let leaves = Leaves::new(&data, 7);
        let (wide, portable) = crate::simd::tests::both(|| {
            answer_fit(&data, &leaves, &items, &thetas, &pool, &Interrupt::never()).unwrap()
        });
        let bits = |r: &Residuals| [r.outfit, r.squared, r.variance].map(f64::to_bits);
        assert!(wide
            .0
            .iter()
            .zip(&portable.0)
            .all(|(a, b)| bits(a) == bits(b)));
        assert!(wide
            .1
            .iter()
            .zip(&portable.1)
            .all(|(a, b)| a.to_bits() == b.to_bits()));

        let (residuals, zh) = wide;
        let mut expected = vec![Residuals::default(); items.len()];
        for (i, &theta) in thetas.iter().enumerate() {
            let (answered, correct) = data.person(i);
            let (mut log_lik, mut mean, mut variance) = (0.0, 0.0, 0.0);
            for (&j, &x) in answered.iter().zip(correct) {
                let item = &items[j as usize];
                let p = item.prob(theta);
                let (log_p, log_q) = item.log_probs(theta);
                let q = log_q.exp();
                expected[j as usize].add(p, x);
                log_lik += if x == 1 { log_p } else { log_q };
                mean += p * log_p + q * log_q;
                variance += p * q * (log_p - log_q).powi(2);
            }
            let lz = (log_lik - mean) / variance.sqrt();
            approx::assert_relative_eq!(zh[i], lz, max_relative = 1e-9, epsilon = 1e-12);
        }
        for (ours, want) in residuals.iter().zip(&expected) {
            assert_eq!(ours.n, want.n);
            for (u, v) in [(ours.infit(), want.infit()), (ours.outfit(), want.outfit())] {
                approx::assert_relative_eq!(u.0, v.0, max_relative = 1e-12);
                approx::assert_relative_eq!(u.1, v.1, max_relative = 1e-9, epsilon = 1e-12);
            }
        }
    }
}
