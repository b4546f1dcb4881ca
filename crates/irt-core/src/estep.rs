//! The E-step: every person's posterior over the quadrature nodes, in log space, summed into
//! expected counts of right and wrong answers per item and node.

use std::ops::Range;

use ndarray::{Array2, ArrayView1};

use rayon::ThreadPool;

use crate::alloc;
use crate::error::Result;
use crate::exp::exp_nonpositive;
use crate::forms::Forms;
use crate::interrupt::Interrupt;
use crate::model::{ItemParams, MAX_CATEGORIES};
use crate::quadrature::{Grid, Latent};
use crate::reduce::Leaves;
use crate::responses::Responses;
use crate::simd;

/// The layout of every per-answer table here: row `stride·j + x` (contiguous over the nodes)
/// is for answer x (a category; 0 wrong and 1 right) to item j, `stride` the most categories
/// an item has (2 in a right/wrong test), so that the inner loops run over plain slices the
/// compiler vectorises. The entries of that row in a table of `n_nodes` columns.
#[inline(always)]
fn answer_row(j: usize, x: u8, n_nodes: usize, stride: usize) -> std::ops::Range<usize> {
    let at = (stride * j + usize::from(x)) * n_nodes;
    at..at + n_nodes
}

/// The rows per item of the tables of `items`: their most categories.
fn stride_of(items: &[ItemParams]) -> usize {
    items.iter().map(ItemParams::categories).max().unwrap_or(2)
}

/// log P(x | θ) of every item and category at every node, so that the per-answer work is one
/// add per node (rows as [`answer_row`] lays them out; a category beyond an item's own is
/// −∞, which no answer reads).
pub struct LogTables {
    by_answer: Vec<f64>,
    n_nodes: usize,
    stride: usize,
}

impl LogTables {
    pub fn new(items: &[ItemParams], nodes: &[f64]) -> Result<Self> {
        let stride = stride_of(items);
        let cells = stride * items.len() * nodes.len();
        let mut by_answer = alloc::filled(cells, f64::NEG_INFINITY, "the E-step's log tables")?;
        let mut logs = [0.0; MAX_CATEGORIES];
        for (j, item) in items.iter().enumerate() {
            let k = item.categories();
            for (q, &t) in nodes.iter().enumerate() {
                item.log_category_probs(t, &mut logs[..k]);
                for (x, &l) in logs[..k].iter().enumerate() {
                    by_answer[answer_row(j, x as u8, nodes.len(), stride).start + q] = l;
                }
            }
        }
        Ok(Self {
            by_answer,
            n_nodes: nodes.len(),
            stride,
        })
    }

    /// log P(x | θ) of item j at every node.
    #[inline(always)]
    pub fn row(&self, j: u32, x: u8) -> &[f64] {
        &self.by_answer[answer_row(j as usize, x, self.n_nodes, self.stride)]
    }

    /// Adds person i's log-likelihood at every node to `out` (which starts as the log prior).
    #[inline(always)]
    fn add_person(&self, data: &Responses, i: usize, out: &mut [f64]) {
        let (items, correct) = data.person(i);
        let rows = items
            .iter()
            .zip(correct)
            .map(|(&j, &x)| answer_row(j as usize, x, self.n_nodes, self.stride).start);
        sum_rows(out, &self.by_answer, rows);
    }

    /// Person i's normalised posterior into `post`; returns the log marginal likelihood.
    #[inline(always)]
    fn posterior(&self, data: &Responses, i: usize, log_weights: &[f64], post: &mut [f64]) -> f64 {
        post.copy_from_slice(log_weights);
        self.add_person(data, i, post);
        normalise_log(post)
    }
}

/// Turns log densities into probabilities that sum to one, in place, with one exp per entry;
/// returns log Σ exp(x), shifted by the maximum so that nothing under- or overflows.
#[inline(always)]
fn normalise_log(x: &mut [f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        x.fill(f64::NAN);
        return max;
    }
    // The exponentials in a loop of their own, which vectorises; then the sum in order.
    for v in x.iter_mut() {
        *v = exp_nonpositive(*v - max);
    }
    let mut sum = 0.0;
    for v in x.iter() {
        sum += *v;
    }
    let scale = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= scale;
    }
    max + sum.ln()
}

/// Expected counts at the nodes given the current parameters.
#[derive(Clone, Debug)]
pub struct Counts {
    /// Posterior mass of answers, rows as [`answer_row`] lays them out.
    pub by_answer: Array2<f64>,
    /// Rows per item.
    stride: usize,
    /// Posterior mass of persons at each node, group after group.
    pub mass: Vec<f64>,
    /// The marginal log-likelihood of the data at the parameters used.
    pub log_lik: f64,
}

impl Counts {
    fn zeros(n_items: usize, n_nodes: usize, stride: usize, n_groups: usize) -> Result<Self> {
        let cells = alloc::filled(
            stride * n_items * n_nodes,
            0.0,
            "the E-step's expected counts",
        )?;
        Ok(Self {
            by_answer: Array2::from_shape_vec((stride * n_items, n_nodes), cells)
                .expect("one cell per row and node"),
            stride,
            mass: alloc::filled(n_groups * n_nodes, 0.0, "the E-step's expected counts")?,
            log_lik: 0.0,
        })
    }

    /// Posterior mass of group g's persons at each node.
    pub fn mass(&self, g: usize) -> &[f64] {
        let n = self.by_answer.ncols();
        &self.mass[g * n..(g + 1) * n]
    }

    /// Posterior mass of answers in category x (a dichotomous item's: 0 wrong, 1 right) to
    /// item j at each node.
    pub fn category(&self, j: usize, x: usize) -> ArrayView1<'_, f64> {
        self.by_answer.row(self.stride * j + x)
    }

    fn merge(mut self, other: Self) -> Self {
        self.by_answer += &other.by_answer;
        for (m, o) in self.mass.iter_mut().zip(&other.mass) {
            *m += o;
        }
        self.log_lik += other.log_lik;
        self
    }
}

/// The E-step on `pool` with every person's posterior from `posteriors`, in `leaves`;
/// `interrupt` is polled every [`POLL_PERSONS`] persons of a leaf.
pub(crate) fn expected_counts(
    data: &Responses,
    leaves: &Leaves,
    posteriors: &Posteriors,
    pool: &ThreadPool,
    interrupt: &Interrupt,
) -> Result<Counts> {
    let partial = pool.install(|| {
        leaves.reduce(
            |persons| e_step_leaf(data, posteriors, persons, interrupt),
            |left, right| Ok(Partial::merge(left?, right?)),
        )
    })?;
    Ok(partial.into_counts(data, posteriors))
}

/// Persons of a leaf between two polls of the interrupt.
const POLL_PERSONS: usize = 4_096;

/// Every person's posterior over the nodes at given parameters: by the form's shortcut for a
/// person of a test form where it applies, else answer by answer.
pub(crate) struct Posteriors<'a> {
    tables: LogTables,
    /// Each group's log prior weights of the nodes.
    log_weights: Vec<Vec<f64>>,
    forms: Option<FormTables<'a>>,
    /// The test forms, which the E-step takes a batch at a time where the shortcut does not
    /// apply ([`FormBatch`]).
    all_forms: &'a Forms,
}

impl<'a> Posteriors<'a> {
    pub fn new(
        data: &Responses,
        forms: &'a Forms,
        items: &[ItemParams],
        latents: &[Latent],
        nodes: &'a [f64],
    ) -> Result<Self> {
        data.check_latents(latents)?;
        let tables = LogTables::new(items, nodes)?;
        let log_weights: Vec<Vec<f64>> = latents
            .iter()
            .map(|&latent| Grid::log_weights_at(nodes, latent))
            .collect();
        let shortcut = FormTables::new(data, forms, items, &tables, &log_weights, nodes)?;
        Ok(Self {
            tables,
            log_weights,
            forms: shortcut,
            all_forms: forms,
        })
    }

    /// Person i's normalised posterior into `post`; returns the log marginal likelihood and the
    /// person's form if the shortcut was taken.
    #[inline(always)]
    pub fn posterior(&self, data: &Responses, i: usize, post: &mut [f64]) -> (f64, Option<usize>) {
        match self.forms.as_ref().and_then(|t| t.posterior(data, i, post)) {
            Some((log_lik, f)) => (log_lik, Some(f)),
            None => (
                self.tables
                    .posterior(data, i, &self.log_weights[data.group(i)], post),
                None,
            ),
        }
    }

    /// Group g's log prior weights of the nodes.
    pub fn log_weights(&self, g: usize) -> &[f64] {
        &self.log_weights[g]
    }

    fn n_forms(&self) -> usize {
        self.forms.as_ref().map_or(0, |t| t.forms.len())
    }
}

/// The marginal log-likelihood of `data` at the given parameters.
pub fn log_likelihood(
    data: &Responses,
    items: &[ItemParams],
    latents: &[Latent],
    grid: &Grid,
    pool: &ThreadPool,
) -> Result<f64> {
    data.check_answers(items)?;
    let leaves = Leaves::for_accumulators(data, items.len());
    let forms = Forms::detect(data)?;
    let posteriors = Posteriors::new(data, &forms, items, latents, grid.nodes())?;
    Ok(expected_counts(data, &leaves, &posteriors, pool, &Interrupt::never())?.log_lik)
}

/// Per form, the log prior plus Σ log Q over its items at each node, and every item's slope and
/// intercept: what a person of the form needs besides their right answers (see `forms`).
struct FormTables<'a> {
    forms: &'a Forms,
    base: Vec<f64>,
    slopes: Vec<f64>,
    intercepts: Vec<f64>,
    nodes: &'a [f64],
}

impl<'a> FormTables<'a> {
    /// None when there are no forms or an item of one has a lower asymptote or more than two
    /// categories, where log P − log Q is not linear in θ.
    fn new(
        data: &Responses,
        forms: &'a Forms,
        items: &[ItemParams],
        tables: &LogTables,
        log_weights: &[Vec<f64>],
        nodes: &'a [f64],
    ) -> Result<Option<Self>> {
        let in_forms = || (0..forms.len()).flat_map(|f| forms.items(data, f));
        if forms.is_empty() || in_forms().any(|&j| !items[j as usize].logit_is_linear()) {
            return Ok(None);
        }
        let mut base = alloc::with_capacity(forms.len() * nodes.len(), "the test forms' tables")?;
        for f in 0..forms.len() {
            // A form's persons share a group (see `Forms`).
            let mut row = log_weights[data.group(forms.representative(f))].clone();
            for &j in forms.items(data, f) {
                for (b, l) in row.iter_mut().zip(tables.row(j, 0)) {
                    *b += l;
                }
            }
            base.extend(row);
        }
        Ok(Some(Self {
            forms,
            base,
            slopes: alloc::collect(
                items.iter().map(ItemParams::slope),
                "the test forms' tables",
            )?,
            intercepts: alloc::collect(
                items.iter().map(ItemParams::intercept),
                "the test forms' tables",
            )?,
            nodes,
        }))
    }

    /// Person i's normalised posterior into `post` if they took a form; their log marginal
    /// likelihood and the form.
    #[inline(always)]
    fn posterior(&self, data: &Responses, i: usize, post: &mut [f64]) -> Option<(f64, usize)> {
        let f = self.forms.of(i)?;
        let (items, correct) = data.person(i);
        // Without a branch: answers are right or wrong at random, and a mispredicted jump per
        // answer cost as much as the rest of the work. Adding 0 · a is exact.
        let (mut a, mut d) = (0.0, 0.0);
        for (&j, &x) in items.iter().zip(correct) {
            let x = f64::from(x);
            a += x * self.slopes[j as usize];
            d += x * self.intercepts[j as usize];
        }
        let n = self.nodes.len();
        for ((p, b), t) in post
            .iter_mut()
            .zip(&self.base[f * n..(f + 1) * n])
            .zip(self.nodes)
        {
            *p = b + a * t + d;
        }
        Some((normalise_log(post), f))
    }
}

/// A leaf's sums: the counts of persons outside the forms, and for persons in forms their
/// right answers and each form's total mass.
struct Partial {
    counts: Counts,
    form_right: Vec<f64>,
    form_mass: Vec<f64>,
}

impl Partial {
    fn merge(mut self, other: Self) -> Self {
        self.counts = self.counts.merge(other.counts);
        for (s, o) in self.form_right.iter_mut().zip(&other.form_right) {
            *s += o;
        }
        for (s, o) in self.form_mass.iter_mut().zip(&other.form_mass) {
            *s += o;
        }
        self
    }

    /// Adds the form persons' answers: right ones as summed, wrong ones as the form's mass less
    /// the right ones.
    fn into_counts(self, data: &Responses, posteriors: &Posteriors) -> Counts {
        let mut counts = self.counts;
        let Some(forms) = posteriors.forms.as_ref().map(|t| t.forms) else {
            return counts;
        };
        let (n, stride) = (counts.by_answer.ncols(), counts.stride);
        let by_answer = counts
            .by_answer
            .as_slice_mut()
            .expect("counts are contiguous");
        for f in 0..forms.len() {
            for &j in forms.items(data, f) {
                for (w, m) in by_answer[answer_row(j as usize, 0, n, stride)]
                    .iter_mut()
                    .zip(&self.form_mass[f * n..(f + 1) * n])
                {
                    *w += m;
                }
            }
        }
        for (j, right) in self.form_right.chunks_exact(n).enumerate() {
            for (w, r) in by_answer[answer_row(j, 0, n, stride)].iter_mut().zip(right) {
                *w -= r;
            }
            add(&mut by_answer[answer_row(j, 1, n, stride)], right);
        }
        counts
    }
}

simd::multiversion! {
/// One leaf's sums (see [`Partial`]).
fn e_step_leaf(
    data: &Responses,
    posteriors: &Posteriors,
    persons: Range<usize>,
    interrupt: &Interrupt,
) -> Result<Partial> {
    let n_nodes = posteriors.tables.n_nodes;
    let stride = posteriors.tables.stride;
    let n_forms = posteriors.n_forms();
    let form_cells = if n_forms > 0 {
        data.n_items() * n_nodes
    } else {
        0
    };
    let mut acc = Partial {
        counts: Counts::zeros(data.n_items(), n_nodes, stride, data.n_groups())?,
        form_right: alloc::filled(form_cells, 0.0, "the test forms' counts")?,
        form_mass: alloc::filled(n_forms * n_nodes, 0.0, "the test forms' counts")?,
    };
    let mut post = vec![0.0; n_nodes];
    let mut groups: Vec<FormGroup> = alloc::collect(
        (0..n_forms).map(|_| FormGroup::default()),
        "the test forms' counts",
    )?;
    let sums_len = if n_forms > 0 { n_nodes << GROUP } else { 0 };
    let mut sums = alloc::filled(sums_len, 0.0, "the test forms' counts")?;
    // Persons of forms without the shortcut, a batch per form.
    let batched = if posteriors.forms.is_none() {
        posteriors.all_forms.len()
    } else {
        0
    };
    let mut batches: Vec<FormBatch> = alloc::collect(
        (0..batched).map(|_| FormBatch::default()),
        "the test forms' counts",
    )?;
    let mut batch_posts = alloc::filled(
        if batched > 0 { BATCH * n_nodes } else { 0 },
        0.0,
        "the test forms' counts",
    )?;
    for i in persons.clone() {
        if (i - persons.start).is_multiple_of(POLL_PERSONS) {
            interrupt.check()?;
        }
        if let Some(batch) = posteriors.all_forms.of(i).and_then(|f| batches.get_mut(f)) {
            batch.persons[batch.len] = i;
            batch.len += 1;
            if batch.len == BATCH {
                batch.add_to(&mut acc.counts, data, posteriors, &mut batch_posts);
            }
            continue;
        }
        let (log_lik, form) = posteriors.posterior(data, i, &mut post);
        acc.counts.log_lik += log_lik;
        let g = data.group(i);
        add(&mut acc.counts.mass[g * n_nodes..(g + 1) * n_nodes], &post);
        if let Some(f) = form {
            let group = &mut groups[f];
            if group.posts.is_empty() {
                group.posts = alloc::filled(n_nodes * GROUP, 0.0, "the test forms' counts")?;
            }
            group.posts[group.len * n_nodes..(group.len + 1) * n_nodes].copy_from_slice(&post);
            group.persons[group.len] = i;
            group.len += 1;
            if group.len == GROUP {
                group.add_to(&mut acc.form_mass, &mut acc.form_right, f, data, &mut sums);
            }
        } else {
            let (items, correct) = data.person(i);
            let rows = items
                .iter()
                .zip(correct)
                .map(|(&j, &x)| answer_row(j as usize, x, n_nodes, stride).start);
            let by_answer = acc.counts.by_answer.as_slice_mut();
            add_to_rows(by_answer.expect("a new array is contiguous"), rows, &post);
        }
    }
    for (f, group) in groups.iter_mut().enumerate() {
        if group.len > 0 {
            group.add_to(&mut acc.form_mass, &mut acc.form_right, f, data, &mut sums);
        }
    }
    for batch in batches.iter_mut().filter(|b| b.len > 0) {
        batch.add_to(&mut acc.counts, data, posteriors, &mut batch_posts);
    }
    Ok(acc)
}
}

/// Persons of a test form whose right answers are added to the form's rows together.
const GROUP: usize = 5;

/// What a leaf holds for its test forms' waiting groups on `nodes` nodes, at most: each form's
/// group of posteriors and the table of one group's subset sums (the memory guard's bound). It
/// also bounds the batches of forms without the shortcut, which the leaf holds instead: each
/// form's [`BATCH`] person indices and one batch of posteriors.
pub(crate) fn group_bytes(forms: usize, nodes: usize) -> u128 {
    if forms == 0 {
        return 0;
    }
    ((forms * GROUP + (1 << GROUP)) * nodes * 8) as u128
}

/// The answers of the first `len` of `persons`, one slice each (empty past them): a form's
/// persons answered the same items, so slice t of each is their answer to the form's t-th item.
fn answers_of<'d, const N: usize>(
    data: &'d Responses,
    persons: &[usize; N],
    len: usize,
) -> [&'d [u8]; N] {
    std::array::from_fn(|k| {
        if k < len {
            data.person(persons[k]).1
        } else {
            &[]
        }
    })
}

/// Up to [`GROUP`] persons of one form, with their posteriors, waiting to be added.
#[derive(Default)]
struct FormGroup {
    posts: Vec<f64>,
    persons: [usize; GROUP],
    len: usize,
}

impl FormGroup {
    /// Adds the group to form f's mass and right-answer rows, and empties it. Each item's row
    /// takes the sum of the posteriors of those in the group who answered it rightly, from a
    /// table (`sums`) of the sums over every subset of the group: a row is loaded and stored
    /// once per group, where adding posterior by posterior did so once per right answer. The
    /// form's mass is the whole group's sum, so an item everyone answered rightly has exactly
    /// no mass left for wrong answers.
    #[inline(always)]
    fn add_to(
        &mut self,
        form_mass: &mut [f64],
        form_right: &mut [f64],
        f: usize,
        data: &Responses,
        sums: &mut [f64],
    ) {
        let (n, len) = (self.posts.len() / GROUP, self.len);
        for subset in 1..1usize << len {
            let (lowest, rest) = (subset.trailing_zeros() as usize, subset & (subset - 1));
            let (done, at) = sums.split_at_mut(subset * n);
            let post = &self.posts[lowest * n..(lowest + 1) * n];
            if rest == 0 {
                at[..n].copy_from_slice(post);
            } else {
                for ((s, r), p) in at[..n].iter_mut().zip(&done[rest * n..]).zip(post) {
                    *s = r + p;
                }
            }
        }
        let everyone = (1usize << len) - 1;
        add(
            &mut form_mass[f * n..(f + 1) * n],
            &sums[everyone * n..(everyone + 1) * n],
        );
        let correct = answers_of(data, &self.persons, len);
        for (t, &j) in data.person(self.persons[0]).0.iter().enumerate() {
            let mut subset = 0;
            for (k, correct) in correct[..len].iter().enumerate() {
                subset |= usize::from(correct[t]) << k;
            }
            if subset != 0 {
                let j = j as usize;
                add(
                    &mut form_right[j * n..(j + 1) * n],
                    &sums[subset * n..(subset + 1) * n],
                );
            }
        }
        self.len = 0;
    }
}

/// Persons of a form whose items are not all right/wrong taken together.
const BATCH: usize = 16;
// [`group_bytes`] bounds a leaf's batches too.
const _: () = assert!(BATCH <= 1 << GROUP);

/// Up to [`BATCH`] persons of one form, waiting to be added. A person's answers touch a row of
/// each item's log table and of its counts, tables larger together than the nearest caches;
/// a batch goes through the form's items once, each item's rows serving all of its persons
/// from the nearest cache while their posteriors stay there too.
#[derive(Default)]
struct FormBatch {
    persons: [usize; BATCH],
    len: usize,
}

impl FormBatch {
    /// Adds the batch's posteriors, masses and log-likelihoods to `counts`, and empties it;
    /// `posts` holds [`BATCH`] posteriors. A posterior takes its answers in the order the
    /// person-by-person path does (the same bits); the counts take the batch when it is full,
    /// after persons outside the form who came later, so they equal that path's to rounding.
    #[inline(always)]
    fn add_to(
        &mut self,
        counts: &mut Counts,
        data: &Responses,
        posteriors: &Posteriors,
        posts: &mut [f64],
    ) {
        let tables = &posteriors.tables;
        let n = tables.n_nodes;
        // A form's persons share a group.
        let g = data.group(self.persons[0]);
        let answers = answers_of(data, &self.persons, self.len);
        let posts = &mut posts[..self.len * n];
        for post in posts.chunks_exact_mut(n) {
            post.copy_from_slice(&posteriors.log_weights[g]);
        }
        let items = data.person(self.persons[0]).0;
        for (t, &j) in items.iter().enumerate() {
            for (post, answers) in posts.chunks_exact_mut(n).zip(&answers) {
                add(post, tables.row(j, answers[t]));
            }
        }
        for post in posts.chunks_exact_mut(n) {
            counts.log_lik += normalise_log(post);
            add(&mut counts.mass[g * n..(g + 1) * n], post);
        }
        let stride = counts.stride;
        let by_answer = counts
            .by_answer
            .as_slice_mut()
            .expect("a new array is contiguous");
        for (t, &j) in items.iter().enumerate() {
            for (post, answers) in posts.chunks_exact(n).zip(&answers) {
                add(
                    &mut by_answer[answer_row(j as usize, answers[t], n, stride)],
                    post,
                );
            }
        }
        self.len = 0;
    }
}

#[inline(always)]
fn add(to: &mut [f64], from: &[f64]) {
    for (t, f) in to.iter_mut().zip(from) {
        *t += f;
    }
}

// The per-answer loops of the E-step, a block of nodes at a time: the block's sums (or the
// posterior's block) stay in registers across a person's answers, where a node at a time over
// whole rows loads and stores them once per answer. Each cell still receives its terms one by
// one in the answers' order, so the bits are those of the plain loops.

/// `out` plus the rows of `table` of `out.len()` entries starting at `rows`.
#[inline(always)]
fn sum_rows(out: &mut [f64], table: &[f64], rows: impl Iterator<Item = usize> + Clone) {
    let done = sum_rows_by::<16>(out, table, rows.clone(), 0);
    let done = sum_rows_by::<4>(out, table, rows.clone(), done);
    sum_rows_by::<1>(out, table, rows, done);
}

/// [`sum_rows`] over the nodes from `from`, `W` at a time while `W` remain; returns where it
/// stopped.
#[inline(always)]
fn sum_rows_by<const W: usize>(
    out: &mut [f64],
    table: &[f64],
    rows: impl Iterator<Item = usize> + Clone,
    from: usize,
) -> usize {
    let mut at = from;
    while at + W <= out.len() {
        let mut sums: [f64; W] = out[at..at + W].try_into().expect("W nodes");
        for row in rows.clone() {
            let terms: &[f64; W] = table[row + at..row + at + W].try_into().expect("W nodes");
            for (s, t) in sums.iter_mut().zip(terms) {
                *s += t;
            }
        }
        out[at..at + W].copy_from_slice(&sums);
        at += W;
    }
    at
}

/// Adds `v` to the rows of `table` of `v.len()` entries starting at `rows`.
#[inline(always)]
fn add_to_rows(table: &mut [f64], rows: impl Iterator<Item = usize> + Clone, v: &[f64]) {
    let done = add_to_rows_by::<16>(table, rows.clone(), v, 0);
    let done = add_to_rows_by::<4>(table, rows.clone(), v, done);
    add_to_rows_by::<1>(table, rows, v, done);
}

/// [`add_to_rows`] over the nodes from `from`, `W` at a time while `W` remain; returns where it
/// stopped.
#[inline(always)]
fn add_to_rows_by<const W: usize>(
    table: &mut [f64],
    rows: impl Iterator<Item = usize> + Clone,
    v: &[f64],
    from: usize,
) -> usize {
    let mut at = from;
    while at + W <= v.len() {
        let block: [f64; W] = v[at..at + W].try_into().expect("W nodes");
        for row in rows.clone() {
            let cells: &mut [f64; W] = (&mut table[row + at..row + at + W])
                .try_into()
                .expect("W nodes");
            for (c, b) in cells.iter_mut().zip(&block) {
                *c += b;
            }
        }
        at += W;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected counts of `data` at `items` and `latent` on 61 nodes on [−6, 6], in leaves
    /// of at least `min_answers` answers, on `threads` threads.
    fn counts(
        data: &Responses,
        forms: &Forms,
        items: &[ItemParams],
        latent: Latent,
        min_answers: usize,
        threads: usize,
    ) -> Counts {
        let grid = Grid::new(61, -6.0, 6.0).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let posteriors = Posteriors::new(data, forms, items, &[latent], grid.nodes()).unwrap();
        let leaves = Leaves::new(data, min_answers);
        expected_counts(data, &leaves, &posteriors, &pool, &Interrupt::never()).unwrap()
    }

    /// A person with 2,000 answers has a likelihood far below f64's range at every node; the
    /// log-space E-step still gives a proper posterior and a finite log-likelihood.
    #[test]
    fn long_response_patterns_do_not_underflow() {
        let items: Vec<ItemParams> = (0..2000)
            .map(|j| ItemParams::from_irt(1.5, (j % 7) as f64 - 3.0, 0.0))
            .collect();
        let mut data = Responses::with_items(items.len());
        data.push_person((0..2000u32).map(|j| (j, j % 3 != 0)))
            .unwrap();
        let counts = counts(&data, &Forms::default(), &items, Latent::STANDARD, 1, 1);
        assert!(
            counts.log_lik.is_finite() && counts.log_lik < -745.0,
            "{}",
            counts.log_lik
        );
        approx::assert_relative_eq!(counts.mass.iter().sum::<f64>(), 1.0, epsilon = 1e-12);
        approx::assert_relative_eq!(counts.by_answer.sum(), 2000.0, epsilon = 1e-9);
    }
    /// `complete` persons answering all `items` (one test form, seeded by `seed`), then
    /// `strays` persons outside it, each answering `answered` random items, right with
    /// probability `p_right`.
    fn complete_and_strays(
        seed: u64,
        complete: usize,
        items: usize,
        strays: usize,
        answered: usize,
        p_right: f64,
    ) -> crate::simulate::Simulation {
        let mut sim = crate::simulate::simulate(seed, complete, items, items, 0.2, 1.1);
        let mut rng = crate::simulate::Rng::new(seed + 1);
        for _ in 0..strays {
            let answers: Vec<(u32, bool)> = rng
                .sample(items, answered)
                .into_iter()
                .map(|j| (j, rng.uniform() < p_right))
                .collect();
            sim.data.push_person(answers).unwrap();
        }
        sim
    }

    /// The test-form shortcut gives the E-step of the general path: same counts, same
    /// log-likelihood, on a complete design mixed with persons outside any form.
    #[test]
    fn the_form_shortcut_matches_the_general_path() {
        let sim = complete_and_strays(5, 400, 12, 30, 5, 0.6);
        let forms = Forms::detect(&sim.data).unwrap();
        assert_eq!(forms.len(), 1);
        let latent = Latent {
            mean: 0.1,
            variance: 1.3,
        };
        let run = |forms: &Forms| counts(&sim.data, forms, &sim.items, latent, 500, 2);
        assert_same_counts(&run(&forms), &run(&Forms::default()));
    }

    /// The same log-likelihood and counts, to rounding.
    fn assert_same_counts(ours: &Counts, general: &Counts) {
        approx::assert_relative_eq!(ours.log_lik, general.log_lik, max_relative = 1e-13);
        for (a, b) in ours.by_answer.iter().zip(&general.by_answer) {
            approx::assert_abs_diff_eq!(a, b, epsilon = 1e-10);
        }
        for (a, b) in ours.mass.iter().zip(&general.mass) {
            approx::assert_abs_diff_eq!(a, b, epsilon = 1e-10);
        }
    }

    /// Persons of a form of items in categories are taken a batch at a time: the counts and
    /// log-likelihood of the general path, with full batches, a partial one and persons outside
    /// any form.
    #[test]
    fn batches_of_a_form_in_categories_match_the_general_path() {
        let mut sim = crate::simulate::simulate_graded(8, 3 * BATCH + 5, 9, 9, 4);
        let strays = crate::simulate::simulate_graded(9, 20, 9, 4, 4).data;
        for i in 0..strays.n_persons() {
            let (items, answers) = strays.person(i);
            let person = items.iter().copied().zip(answers.iter().copied());
            sim.data.push_scored_person(person).unwrap();
        }
        let forms = Forms::detect(&sim.data).unwrap();
        assert_eq!(forms.len(), 1);
        let latent = Latent {
            mean: -0.2,
            variance: 0.8,
        };
        let run = |forms: &Forms| counts(&sim.data, forms, &sim.items, latent, 100, 2);
        assert_same_counts(&run(&forms), &run(&Forms::default()));
    }

    /// Right answers are added a group of a form's persons at a time, and the form's mass by
    /// the same sums: an item that every person of the form answered rightly keeps exactly no
    /// mass for wrong answers, whatever the groups and leaves.
    #[test]
    fn an_item_all_answered_rightly_has_no_wrong_mass() {
        let mut rng = crate::simulate::Rng::new(4);
        let mut data = Responses::with_items(6);
        for _ in 0..53 {
            data.push_person((0..6u32).map(|j| (j, j == 2 || rng.uniform() < 0.5)))
                .unwrap();
        }
        let items = vec![ItemParams::from_irt(1.2, 0.3, 0.0); 6];
        let forms = Forms::detect(&data).unwrap();
        assert_eq!(forms.len(), 1);
        let counts = counts(&data, &forms, &items, Latent::STANDARD, 50, 2);
        let cells = counts.by_answer.as_slice().unwrap();
        assert!(cells[answer_row(2, 0, 61, 2)].iter().all(|&w| w == 0.0));
        assert!(cells[answer_row(2, 1, 61, 2)].iter().any(|&r| r > 0.0));
    }

    /// The E-step's AVX2 copy and its portable one give the same bits, on persons of a form
    /// and persons outside it.
    #[test]
    fn both_copies_of_the_e_step_agree_bit_for_bit() {
        let sim = complete_and_strays(7, 300, 10, 40, 4, 0.5);
        let forms = Forms::detect(&sim.data).unwrap();
        let (wide, portable) = crate::simd::tests::both(|| {
            counts(&sim.data, &forms, &sim.items, Latent::STANDARD, 500, 2)
        });
        assert_eq!(wide.log_lik.to_bits(), portable.log_lik.to_bits());
        assert!(wide
            .by_answer
            .iter()
            .chain(&wide.mass)
            .zip(portable.by_answer.iter().chain(&portable.mass))
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
