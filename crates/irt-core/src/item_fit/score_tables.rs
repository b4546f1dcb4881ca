//! S-X2 (Orlando & Thissen; for items in categories Kang & Chen's generalisation, as mirt
//! computes it) on sparse answers: every item's table of observed and expected answers by
//! summed score and category, from each form's leave-one-out summed-score likelihoods (see the
//! module above for the method); [`super::collapse`] collapses them as mirt does.

use rayon::prelude::*;
use rayon::ThreadPool;

use super::collapse::{ScoreRow, ScoreTable};
use crate::alloc;
use crate::error::{CoreError, Result};
use crate::interrupt::Interrupt;
use crate::model::{ItemParams, MAX_CATEGORIES};
use crate::quadrature::{Grid, Latent};
use crate::responses::Responses;

/// S-X2's quadrature: mirt's 61 points on [−6, 6].
pub const S_X2_POINTS: usize = 61;
/// The most S-X2 work a run does: Σ over distinct forms of 61 M (M + W ⌈log₂ J⌉), J the form's
/// items, M its highest summed score (J for right/wrong items) and W the width of its persons'
/// range of scores in 1 … M − 1; for persons each with a form of their own, about 61 Σ M².
/// Measured at 0.15–0.75 ns per unit on two cores (forms of 10 to 2,500 items, the most for
/// one form of 1,000; `s_x2_cost_is_measured` in tests/item_fit.rs), so at most 0.15–0.75 s:
/// on large sparse windows, where every person has a form of their own, it is skipped (the
/// reason is recorded) and RMSD is the misfit gate.
pub const S_X2_BUDGET: f64 = 1e9;
/// Forms processed between two polls of the interrupt: at most this much work …
const CHUNK_COST: f64 = 5e7;
/// … and at most this many forms.
const CHUNK_FORMS: usize = 4_096;
/// A form's recursion polls the interrupt at segments of at least this many items, and splits
/// them across threads.
const SPLIT_ITEMS: usize = 64;

/// Every item's S-X2 table (before collapsing), or why they were not computed: the work would
/// exceed [`S_X2_BUDGET`]. The interrupt is polled between chunks of forms and inside long ones.
pub fn score_tables(
    data: &Responses,
    items: &[ItemParams],
    latents: &[Latent],
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<std::result::Result<Vec<ScoreTable>, String>> {
    check_items(data, items, latents)?;
    let forms = AnswerForms::group(data)?;
    let shape = Shape::new(items)?;
    let costs = alloc::collect(
        (0..forms.len()).map(|f| forms.cost(data, &shape, f)),
        "the S-X2 forms",
    )?;
    let cost: f64 = costs.iter().sum();
    if cost > S_X2_BUDGET {
        return Ok(Err(format!(
            "S-X2 not computed: its summed-score likelihoods over the {} distinct sets of answered \
             items would take {cost:.2e} operations (the sum over sets of 61 nodes × highest score × \
             (highest score + the width of their range of scores × log2 items)), more than \
             the budget \
             of {S_X2_BUDGET:.0e}; persons answering the same items share the work",
            forms.len()
        )));
    }
    let mut tables = empty_tables(data, &forms, &shape)?;
    let curves = Curves::new(shape, items, latents)?;
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

fn check_items(data: &Responses, items: &[ItemParams], latents: &[Latent]) -> Result<()> {
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
    data.check_latents(latents)?;
    Ok(())
}

/// A function on S-X2's nodes.
type Row = [f64; S_X2_POINTS];

/// Where each item's categories sit among all items' (item j's are `first[j]..first[j + 1]`).
struct Shape {
    first: Vec<usize>,
}

impl Shape {
    fn new(items: &[ItemParams]) -> Result<Self> {
        let mut first = alloc::with_capacity(items.len() + 1, "the S-X2 curves")?;
        first.push(0);
        for item in items {
            first.push(first[first.len() - 1] + item.categories());
        }
        Ok(Self { first })
    }

    fn range(&self, j: u32) -> std::ops::Range<usize> {
        self.first[j as usize]..self.first[j as usize + 1]
    }

    fn categories(&self, j: u32) -> usize {
        self.range(j).len()
    }

    /// The highest summed score over `items`.
    fn top(&self, items: &[u32]) -> usize {
        items.iter().map(|&j| self.categories(j) - 1).sum()
    }
}

/// Every item's category curves P(X = k) at S-X2's nodes, category 0 (wrong) first, and the
/// nodes' normalised latent weights of each group (a form's persons are of one group).
struct Curves {
    shape: Shape,
    probs: Vec<Row>,
    weights: Vec<Row>,
}

impl Curves {
    fn new(shape: Shape, items: &[ItemParams], latents: &[Latent]) -> Result<Self> {
        let grid = Grid::new(S_X2_POINTS, -6.0, 6.0)?;
        let total = shape.first[items.len()];
        let mut probs = alloc::filled(total, [0.0; S_X2_POINTS], "the S-X2 curves")?;
        let mut logs = [0.0; MAX_CATEGORIES];
        for (j, item) in (0..).zip(items) {
            let curves = &mut probs[shape.range(j)];
            for (t, &theta) in grid.nodes().iter().enumerate() {
                // From the logarithms: exact where a probability rounds to 1.
                item.log_category_probs(theta, &mut logs[..curves.len()]);
                for (curve, log) in curves.iter_mut().zip(&logs) {
                    curve[t] = log.exp();
                }
            }
        }
        let mut weights = alloc::filled(latents.len(), [0.0; S_X2_POINTS], "the S-X2 curves")?;
        for (row, &latent) in weights.iter_mut().zip(latents) {
            for (w, l) in row.iter_mut().zip(grid.log_weights(latent)) {
                *w = l.exp();
            }
        }
        Ok(Self {
            shape,
            probs,
            weights,
        })
    }

    fn item(&self, j: u32) -> &[Row] {
        &self.probs[self.shape.range(j)]
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

    /// The form's share of the work [`S_X2_BUDGET`] bounds: 61 M (M + W ⌈log₂ J⌉) for its J
    /// items, its highest score M and W the width of its persons' range of scores within
    /// 1 … M − 1 (the multiply–adds of [`LeaveOut`], about); 0 without such a score.
    fn cost(&self, data: &Responses, shape: &Shape, f: usize) -> f64 {
        let items = self.items(data, f);
        let top = shape.top(items);
        let middle = self
            .persons(f)
            .iter()
            .map(|&i| summed_score(data, i))
            .filter(|s| (1..top).contains(s));
        let Some((low, high)) = middle.fold(None, |range, s| match range {
            None => Some((s, s)),
            Some((low, high)) => Some((s.min(low), s.max(high))),
        }) else {
            return 0.0;
        };
        (S_X2_POINTS * top) as f64 * (top + (high - low + 1) * levels(items.len())) as f64
    }
}

/// The depth of a halving recursion over n items, ⌈log₂ n⌉.
fn levels(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize
}

/// Every item's table, empty, with a row per score up to its longest form's highest − 1; NaN
/// where a category cannot give the score in any form (below the category, or above it plus
/// the most the item's other items can score).
fn empty_tables(data: &Responses, forms: &AnswerForms, shape: &Shape) -> Result<Vec<ScoreTable>> {
    let mut longest = alloc::filled(data.n_items(), 0usize, "the S-X2 tables")?;
    for f in 0..forms.len() {
        let items = forms.items(data, f);
        let top = shape.top(items);
        for &j in items {
            longest[j as usize] = longest[j as usize].max(top);
        }
    }
    let mut tables = alloc::with_capacity(data.n_items(), "the S-X2 tables")?;
    for (j, &top) in longest.iter().enumerate() {
        let categories = shape.categories(j as u32);
        let rest = top.saturating_sub(categories - 1);
        let rows = (1..top.max(1))
            .map(|score| ScoreRow::empty(score, categories, |k| k <= score && score - k <= rest));
        tables.push(ScoreTable {
            categories,
            rows: alloc::collect(rows, "the S-X2 tables")?,
            underflow: false,
        });
    }
    Ok(tables)
}

/// One form's share of its items' tables, at the summed scores its persons have.
struct FormTable {
    /// (score, persons with it), scores rising within 1 … M − 1.
    scores: Vec<(usize, f64)>,
    /// Per item of the form (in its order), score and category: [observed, expected].
    cells: Vec<[f64; 2]>,
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
        let top = curves.shape.top(items);
        let mut persons_at = alloc::filled(top + 1, 0usize, "the S-X2 form tables")?;
        for &i in forms.persons(f) {
            persons_at[summed_score(data, i)] += 1;
        }
        let mut scores = alloc::with_capacity(top.saturating_sub(1), "the S-X2 form tables")?;
        scores.extend(
            (1..top.max(1))
                .filter(|&s| persons_at[s] > 0)
                .map(|s| (s, persons_at[s] as f64)),
        );
        let width = scores.len() * (top + items.len());
        let mut cells = alloc::filled(width, [0.0; 2], "the S-X2 form tables")?;
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
            if (1..top).contains(&s) {
                let mut at = 0;
                for (&j, &x) in items.iter().zip(data.person(i as usize).1) {
                    let k = curves.shape.categories(j);
                    cells[at + column[s] * k + usize::from(x)][0] += 1.0;
                    at += scores.len() * k;
                }
            }
        }
        let context = LeaveOut {
            curves,
            scores: &scores,
            top,
            low: scores[0].0,
            high: scores[scores.len() - 1].0,
            interrupt,
        };
        // A form long enough to split across threads gives its halves buffers of their own.
        let need = if items.len() < SPLIT_ITEMS {
            context.scratch_rows(items)
        } else {
            0
        };
        if scratch.len() < need {
            alloc::grow(scratch, need - scratch.len(), "the S-X2 likelihoods")?;
            scratch.resize(need, [0.0; S_X2_POINTS]);
        }
        let group = data.group(forms.persons(f)[0] as usize);
        let weights = Window {
            lo: 0,
            rows: std::slice::from_ref(&curves.weights[group]),
        };
        context.each(items, weights, &mut scratch[..need], &mut cells)?;
        Ok(Self { scores, cells })
    }

    /// Adds the form's rows into its items' tables.
    fn add_to(&self, tables: &mut [ScoreTable], items: &[u32]) {
        if self.scores.is_empty() {
            return;
        }
        let mut cells = &self.cells[..];
        for &j in items {
            let table = &mut tables[j as usize];
            let k = table.categories;
            let (mine, rest) = cells.split_at(self.scores.len() * k);
            cells = rest;
            for (&(s, _), row_cells) in self.scores.iter().zip(mine.chunks_exact(k)) {
                let row = &mut table.rows[s - 1];
                for (c, &[observed, expected]) in row_cells.iter().enumerate() {
                    row.observed[c] += observed;
                    row.expected[c] += expected;
                    table.underflow |= expected.is_nan();
                }
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
    /// The form's highest score, and its lowest and highest score with persons.
    top: usize,
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
        cells: &mut [[f64; 2]],
    ) -> Result<()> {
        if let [j] = items {
            self.expect(*j, outside, cells);
            return Ok(());
        }
        let (left, right) = items.split_at(items.len() / 2);
        let left_cells = self.scores.len() * (self.curves.shape.top(left) + left.len());
        let (cells_left, cells_right) = cells.split_at_mut(left_cells);
        let rows = |mine: &[u32]| self.needed(self.curves.shape.top(mine)).1 + 1 - outside.lo;
        if items.len() < SPLIT_ITEMS {
            for (mine, others, cells) in [(left, right, cells_left), (right, left, cells_right)] {
                let (buffer, rest) = scratch.split_at_mut(rows(mine));
                let inner = self.times(outside, others, self.curves.shape.top(mine), buffer);
                self.each(mine, inner, rest, cells)?;
            }
            return Ok(());
        }
        self.interrupt.check()?;
        let half = |mine: &[u32], others: &[u32], cells: &mut [[f64; 2]]| {
            let what = "the S-X2 likelihoods";
            let mut buffer = alloc::filled(rows(mine), [0.0; S_X2_POINTS], what)?;
            let scratch_rows = self.scratch_rows(mine);
            let mut scratch = alloc::filled(scratch_rows, [0.0; S_X2_POINTS], what)?;
            let inner = self.times(outside, others, self.curves.shape.top(mine), &mut buffer);
            self.each(mine, inner, &mut scratch, cells)
        };
        let (a, b) = rayon::join(
            || half(left, right, cells_left),
            || half(right, left, cells_right),
        );
        a.and(b)
    }

    /// The coefficients a segment whose items score at most `reach` needs of the product
    /// outside it: those from which it can still reach a score with persons, up to the
    /// product's degree.
    fn needed(&self, reach: usize) -> (usize, usize) {
        (
            self.low.saturating_sub(reach),
            self.high.min(self.top - reach),
        )
    }

    /// Rows for the sequential recursion below a segment: a buffer per level.
    fn scratch_rows(&self, items: &[u32]) -> usize {
        levels(items.len()) * (self.high - self.low + self.curves.shape.top(items) + 1)
    }

    /// Lord–Wingersky: `outside` times Σ_k P_jk x^k over `others`, in `buffer`, as far as a
    /// segment whose items score at most `reach` needs it: coefficients that can no longer
    /// reach that are dropped as the items are folded in, which leaves a form whose persons
    /// share one score about M² work per node instead of M² log₂ J.
    fn times<'b>(
        &self,
        outside: Window,
        others: &[u32],
        reach: usize,
        buffer: &'b mut [Row],
    ) -> Window<'b> {
        let ((lo, held), (target_lo, target_hi)) = ((outside.lo, outside.rows), self.needed(reach));
        buffer[..held.len()].copy_from_slice(held);
        // Rows bottom..=top of `buffer` hold coefficients lo + bottom ..= lo + top.
        let mut top = held.len() - 1;
        let mut left = self.curves.shape.top(others);
        for &j in others {
            let probs = self.curves.item(j);
            let step = probs.len() - 1;
            left -= step;
            // Below this a coefficient cannot reach `target_lo` with what is left to fold.
            let bottom = target_lo.saturating_sub(left) - lo;
            let new_top = (top + step).min(target_hi - lo);
            for r in (bottom..=new_top).rev() {
                // Coefficient r becomes Σ_k (coefficient r − k before j) P_jk, in place: rows
                // below r still hold theirs. Without a row r before (r > top) k starts above 0.
                let (lower, upper) = buffer.split_at_mut(r);
                let out = &mut upper[0];
                let (first, last) = (r.saturating_sub(top), step.min(r));
                let mut k = first + 1;
                match (first, last) {
                    (0, 0) => out.iter_mut().zip(&probs[0]).for_each(|(o, p)| *o *= p),
                    (0, _) => {
                        // The right/wrong item's whole step, as one expression.
                        for ((o, b), (q, p)) in out
                            .iter_mut()
                            .zip(&lower[r - 1])
                            .zip(probs[0].iter().zip(&probs[1]))
                        {
                            *o = *o * q + b * p;
                        }
                        k = 2;
                    }
                    _ => {
                        for ((o, b), p) in out.iter_mut().zip(&lower[r - first]).zip(&probs[first])
                        {
                            *o = b * p;
                        }
                    }
                }
                for k in k..=last {
                    for ((o, b), p) in out.iter_mut().zip(&lower[r - k]).zip(&probs[k]) {
                        *o += b * p;
                    }
                }
            }
            top = new_top;
        }
        Window {
            lo: target_lo,
            rows: &buffer[target_lo - lo..=top],
        }
    }

    /// Item j's expected answers per score and category, given `others`, the weighted
    /// likelihoods of the form's other items: persons at s times the share of the score's
    /// likelihood that has j in category k (others at s − k; none where they cannot score
    /// that).
    fn expect(&self, j: u32, others: Window, cells: &mut [[f64; 2]]) {
        let dot = |a: &Row, b: &Row| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        let probs = self.curves.item(j);
        let mut shares = [0.0; MAX_CATEGORIES];
        for (row_cells, &(s, persons)) in cells.chunks_exact_mut(probs.len()).zip(self.scores) {
            for (k, share) in shares[..probs.len()].iter_mut().enumerate() {
                *share = s
                    .checked_sub(k)
                    .and_then(|r| r.checked_sub(others.lo))
                    .and_then(|r| others.rows.get(r))
                    .map_or(0.0, |row| dot(&probs[k], row));
            }
            let total: f64 = shares[..probs.len()].iter().sum();
            for (cell, share) in row_cells.iter_mut().zip(&shares) {
                cell[1] = persons * share / total;
            }
        }
    }
}
