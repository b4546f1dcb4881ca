//! S-X2 (Orlando & Thissen) on sparse answers: every item's table of observed and expected
//! answers by summed score, from each form's leave-one-out summed-score likelihoods, collapsed
//! as mirt does (see the module above for the method).

use rayon::prelude::*;
use rayon::ThreadPool;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::interrupt::Interrupt;
use crate::model::ItemParams;
use crate::quadrature::{Grid, Latent};
use crate::responses::Responses;

/// S-X2's quadrature: mirt's 61 points on [−6, 6].
pub const S_X2_POINTS: usize = 61;
/// The most S-X2 work a run does: Σ over distinct forms of 61 J (J + W ⌈log₂ J⌉), J the form's
/// items and W the width of its persons' range of scores in 1 … J − 1; for persons each with a
/// form of their own, about 61 Σ J². Measured at 0.15–0.36 ns per unit on two cores (forms of
/// 10 to 2,500 items; `s_x2_cost_is_measured` in tests/item_fit.rs), so at most 0.15–0.36 s: on
/// large sparse windows, where every person has a form of their own, it is skipped (the reason
/// is recorded) and RMSD is the misfit gate.
pub const S_X2_BUDGET: f64 = 1e9;
/// mirt's collapsing merges a row with an expected count below this.
const MIN_EXPECTED: f64 = 1.0;
/// Forms processed between two polls of the interrupt: at most this much work …
const CHUNK_COST: f64 = 5e7;
/// … and at most this many forms.
const CHUNK_FORMS: usize = 4_096;
/// A form's recursion polls the interrupt at segments of at least this many items, and splits
/// them across threads.
const SPLIT_ITEMS: usize = 64;

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

/// S-X2's summary for one item.
#[derive(Default)]
pub(super) struct SX2 {
    pub(super) statistic: Option<f64>,
    pub(super) df: Option<u32>,
    pub(super) p: Option<f64>,
    pub(super) rmsea: Option<f64>,
}

impl SX2 {
    /// From the item's table, its estimated parameters and the persons who answered it.
    pub(super) fn of(table: &ScoreTable, estimated: usize, persons: f64) -> Result<Self> {
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
    if items.iter().any(|p| p.steps().is_some()) {
        return Ok(Err(
            "S-X2 not computed: the test has items scored in categories, whose \
             summed-score tables are not computed yet"
                .into(),
        ));
    }
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
