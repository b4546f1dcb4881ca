//! Standard errors from the cross-product of per-person score vectors (mirt's
//! `SE.type = 'crossprod'`): the observed information is estimated by Σᵢ sᵢ sᵢᵀ, where sᵢ is the
//! gradient of person i's log marginal likelihood, minus the Hessian of the log priors under MAP.
//! It needs one pass over the data and no second derivatives of the marginal likelihood, which
//! keeps it cheap on millions of answers; it is consistent, and slightly noisier than Louis's or
//! Oakes's estimators in small samples.

use std::ops::Range;

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;
use rayon::ThreadPool;

use crate::alloc;
use crate::blocks::BlockInformation;
use crate::error::Result;
use crate::estep::Posteriors;
use crate::forms::Forms;
use crate::layout::Layout;
use crate::linalg::{cholesky, dot, InverseFromFactor, DOT_LANES};
use crate::model::{ItemParams, ParamCovariance, MAX_COORDS};
use crate::mstep::FreeCoords;
use crate::params::{FitConfig, StandardErrors};
use crate::quadrature::Latent;
use crate::responses::Responses;
use crate::simd;

pub const SE_METHOD: &str = "crossprod";
/// The same, each item's block of the information inverted alone.
pub const SE_METHOD_BLOCKS: &str = "crossprod, per-item blocks";

pub use crate::linking::JointCovariance;

/// The sampling covariances a fit reports: each estimated item's IRT form, the (a, b, c) of the
/// items asked for jointly (`FitConfig::joint`, cross-item entries included), and each group's
/// latent (mean, variance) where estimated (zero where fixed).
#[derive(Clone, Debug, PartialEq)]
pub struct Covariances {
    pub items: Vec<Option<ParamCovariance>>,
    pub joint: JointCovariance,
    pub latent: Vec<[[f64; 2]; 2]>,
}

/// A free item's coordinates, and where each of its coordinates (a, d, logit c; a, d_1 …) sits
/// in the parameter vector where estimated.
type ItemSlot = Option<(FreeCoords, [Option<usize>; MAX_COORDS])>;

/// Persons whose score vectors are held at once before they are added into the information.
pub(crate) const BATCH: usize = 1024;

/// Index in the parameter vector of each of an item's coordinates, where estimated: its own
/// from `offset` on, the slope at the common one where the model shares it.
fn coordinate_indices(
    free: FreeCoords,
    offset: usize,
    common_slope: Option<usize>,
) -> [Option<usize>; MAX_COORDS] {
    let mut out = [None; MAX_COORDS];
    if !free.slope() {
        out[0] = common_slope;
    }
    for (k, &i) in free.indices().iter().enumerate() {
        out[i] = Some(offset + k);
    }
    out
}

/// Per item, answer and coordinate, d log P(x | θ)/dη at each node
/// ([`ItemParams::answer_gradients`]): a person's score is the posterior dotted with the rows
/// of their answers. Rows are padded with zeros to a multiple of the dot products' partial sums
/// ([`DOT_LANES`]), which leaves them no scalar tail (13 of 61 nodes); adding zeros changes no
/// sum. A row of zeros (a graded answer's gradient in the thresholds it does not touch: all
/// but two) is marked so, and its dot product, exactly 0, is not taken.
struct ScoreTables {
    rows: Vec<f64>,
    /// Per row: whether any entry is not zero.
    live: Vec<bool>,
    /// Where each item's rows start, and its number of coordinates.
    items: Vec<(usize, usize)>,
    /// The padded length of a row.
    stride: usize,
}

impl ScoreTables {
    fn new(items: &[ItemParams], nodes: &[f64]) -> Result<Self> {
        let stride = nodes.len().next_multiple_of(DOT_LANES);
        let mut len = 0;
        let starts = alloc::collect(
            items.iter().map(|p| {
                let at = len;
                len += p.categories() * p.n_coords() * stride;
                (at, p.n_coords())
            }),
            "the standard errors",
        )?;
        let mut rows = alloc::filled(len, 0.0, "the standard errors")?;
        for (p, &(at, n)) in items.iter().zip(&starts) {
            for (q, &theta) in nodes.iter().enumerate() {
                for (x, g) in p.answer_gradients(theta)[..p.categories()]
                    .iter()
                    .enumerate()
                {
                    for (i, &v) in g[..n].iter().enumerate() {
                        rows[at + (x * n + i) * stride + q] = v;
                    }
                }
            }
        }
        let live = alloc::collect(
            rows.chunks_exact(stride)
                .map(|row| row.iter().any(|&v| v != 0.0)),
            "the standard errors",
        )?;
        Ok(Self {
            rows,
            live,
            items: starts,
            stride,
        })
    }

    /// Item j's row for answer x and coordinate i, or None where it is all zeros.
    fn row(&self, j: usize, x: usize, i: usize) -> Option<&[f64]> {
        let (at, n) = self.items[j];
        let start = at + (x * n + i) * self.stride;
        self.live[start / self.stride].then(|| &self.rows[start..start + self.stride])
    }
}

/// What a person's score vector is computed from.
struct Scorer<'a> {
    posteriors: &'a Posteriors<'a>,
    nodes: &'a [f64],
    scores: &'a ScoreTables,
    index: &'a [ItemSlot],
    /// The common slope's coordinate, where the model has one.
    slope: Option<usize>,
    /// Per group, its latent mean's and variance's coordinates, where estimated, with
    /// d log w / d· at each node.
    latent: Vec<[(Option<usize>, Vec<f64>); 2]>,
}

simd::multiversion! {
/// Person i's score vector: the gradient of their log marginal likelihood, the posterior (left
/// in `post`, as long as a padded row and zero past the nodes) dotted with the score tables'
/// rows of their answers.
fn person_score(scorer: &Scorer, data: &Responses, i: usize, post: &mut [f64]) -> ScoreVector {
    let scores = scorer.scores;
    let n_nodes = scorer.nodes.len();
    scorer.posteriors.posterior(data, i, &mut post[..n_nodes]);
    let (answered, answers) = data.person(i);
    let mut g = Vec::with_capacity(3 * answered.len() + 3);
    let mut common = 0.0;
    for (&j, &x) in answered.iter().zip(answers) {
        let Some((_, idx)) = scorer.index[j as usize] else {
            continue;
        };
        for (i, at) in idx.iter().enumerate() {
            let Some(k) = *at else { continue };
            let value = scores.row(j as usize, x as usize, i).map_or(0.0, |row| dot(post, row));
            if Some(k) == scorer.slope {
                common += value;
            } else {
                g.push((k, value));
            }
        }
    }
    if let Some(k) = scorer.slope {
        g.push((k, common));
    }
    for (at, d) in &scorer.latent[data.group(i)] {
        if let Some(k) = *at {
            g.push((k, post.iter().zip(d).map(|(p, v)| p * v).sum()));
        }
    }
    ScoreVector::new(g)
}
}

/// A batch of persons' score vectors, with the test form of each.
type Batch = [(Option<usize>, ScoreVector)];

/// The inverse of the information, whole or by blocks.
enum Inverse {
    Full(InverseFromFactor),
    Blocks(BlockInformation),
}

impl Inverse {
    fn entry(&self, u: usize, v: usize) -> f64 {
        match self {
            Self::Full(inverse) => inverse.entry(u, v),
            Self::Blocks(blocks) => blocks.entry(u, v),
        }
    }
}

/// The blocks of the per-item mode: each free item's own coordinates, then the common slope,
/// then each group's latent mean and variance.
fn block_ranges(layout: &Layout) -> Vec<std::ops::Range<usize>> {
    let (offsets, slope, latent) = layout.offsets();
    let mut ranges: Vec<std::ops::Range<usize>> = layout
        .free
        .iter()
        .zip(&offsets)
        .map(|(&(_, free), &at)| at..at + free.indices().len())
        .collect();
    ranges.extend(slope.map(|k| k..k + 1));
    for [mean, variance] in latent {
        match (mean, variance) {
            (Some(m), Some(v)) => ranges.push(m.min(v)..m.max(v) + 1),
            (m, v) => ranges.extend(m.or(v).map(|k| k..k + 1)),
        }
    }
    ranges
}

/// The covariance of (a, b, c) for each item (None for fixed items), or None when the
/// information matrix is not positive definite. In `StandardErrors::Item` mode (as resolved for
/// the number of parameters) the information is inverted by blocks ([`BlockInformation`]).
pub(crate) fn item_covariances(
    data: &Responses,
    forms: &Forms,
    config: &FitConfig,
    layout: &Layout,
    items: &[ItemParams],
    latents: &[Latent],
    pool: &ThreadPool,
) -> Result<Option<Covariances>> {
    let n = layout.len();
    let blocks = config.standard_errors.resolve(n) == StandardErrors::Item;
    let nodes = config.grid.nodes();
    let (offsets, slope, latent_coords) = layout.offsets();
    let mut index: Vec<ItemSlot> = alloc::filled(data.n_items(), None, "the standard errors")?;
    for (&(j, free), &at) in layout.free.iter().zip(&offsets) {
        index[j] = Some((free, coordinate_indices(free, at, slope)));
    }
    let posteriors = Posteriors::new(data, forms, items, latents, nodes)?;
    let scores = ScoreTables::new(items, nodes)?;
    // Per group, d log w_k / d(mean, variance) of its normalised weights.
    let latent_scores = |g: usize, raw: &dyn Fn(f64) -> f64| -> Vec<f64> {
        let centre: f64 = nodes
            .iter()
            .zip(posteriors.log_weights(g))
            .map(|(&t, lw)| lw.exp() * raw(t))
            .sum();
        nodes.iter().map(|&t| raw(t) - centre).collect()
    };
    let latent_rows = latents
        .iter()
        .zip(&latent_coords)
        .enumerate()
        .map(|(g, (latent, &[mean, variance]))| {
            let d_mean = latent_scores(g, &|t| (t - latent.mean) / latent.variance);
            let d_var = latent_scores(g, &|t| {
                0.5 * (t - latent.mean).powi(2) / latent.variance.powi(2)
            });
            [(mean, d_mean), (variance, d_var)]
        })
        .collect();

    let scorer = Scorer {
        posteriors: &posteriors,
        nodes,
        scores: &scores,
        index: &index,
        slope,
        latent: latent_rows,
    };
    let interrupt = &config.interrupt;
    // The whole pass inside the pool, as before the modes: entering it once per batch would
    // cost a wake-up of its threads for every 1,024 persons.
    let batches = |add: &mut (dyn FnMut(&Batch) -> Result<()> + Send)| -> Result<()> {
        pool.install(|| {
            for start in (0..data.n_persons()).step_by(BATCH) {
                interrupt.check()?;
                let batch: Vec<(Option<usize>, ScoreVector)> = (start
                    ..(start + BATCH).min(data.n_persons()))
                    .into_par_iter()
                    .map_init(
                        || vec![0.0; scores.stride],
                        |post, i| (forms.of(i), person_score(&scorer, data, i, post)),
                    )
                    .collect();
                add(&batch)?;
            }
            Ok(())
        })
    };
    let prior = |sub: &mut dyn FnMut(usize, usize, f64)| {
        subtract_prior_hessian(sub, config, layout, &index, items, slope)
    };
    let inverse = if blocks {
        let mut info = BlockInformation::new(block_ranges(layout), n)?;
        // Added person by person in order: the sums do not depend on threads.
        batches(&mut |batch| {
            for (_, g) in batch {
                info.add_outer(&g.coords, &g.values);
            }
            Ok(())
        })?;
        prior(&mut |u, v, h| info.add(u, v, -h));
        if !info.invert(interrupt)? {
            return Ok(None);
        }
        Inverse::Blocks(info)
    } else {
        // Only the lower triangle: the factorisation reads no other.
        let mut info = alloc::square(n, "the information matrix")?;
        let rows_per_block = n.div_ceil(4 * pool.current_num_threads().max(1)).max(1);
        batches(&mut |batch| {
            let (forms, rest): (Vec<_>, Vec<_>) = by_form(batch)
                .into_iter()
                .partition(|persons| persons.len() >= DENSE_PERSONS);
            for form in &forms {
                add_form_outer(form, &mut info, n)?;
            }
            let groups: Vec<&[&ScoreVector]> = rest
                .iter()
                .flat_map(|persons| persons.chunks(GROUP))
                .collect();
            // Each block of rows adds the groups in order, so the sums do not depend on threads.
            info.par_chunks_mut(rows_per_block * n)
                .enumerate()
                .for_each(|(b, block)| {
                    let rows = b * rows_per_block..(b * rows_per_block + block.len() / n);
                    for group in &groups {
                        add_outer_lower(group, &rows, block, n);
                    }
                });
            Ok(())
        })?;
        prior(&mut |u, v, h| info[u * n + v] -= h);
        if pool
            .install(|| cholesky(&mut info, n, interrupt))?
            .is_none()
        {
            return Ok(None);
        }
        Inverse::Full(pool.install(|| InverseFromFactor::new(&info, n, interrupt))?)
    };
    let entry = |u: usize, v: usize| inverse.entry(u, v);
    let cross = |i: usize, j: usize| -> [[f64; MAX_COORDS]; MAX_COORDS] {
        match (index[i], index[j]) {
            (Some((_, ii)), Some((_, jj))) => {
                irt_cross_covariance(&items[i], ii, &items[j], jj, entry)
            }
            _ => [[0.0; MAX_COORDS]; MAX_COORDS],
        }
    };
    let per_item: Vec<Option<ParamCovariance>> = alloc::collect(
        index.iter().enumerate().map(|(j, slot)| {
            slot.map(|_| {
                let item = &items[j];
                ParamCovariance::new(item.n_coords(), item.difficulty_coords(), cross(j, j))
            })
        }),
        "the standard errors",
    )?;
    // The joint items (the anchors): each one's IRT form, item after item.
    let sizes: Vec<usize> = config.joint.iter().map(|&i| items[i].n_coords()).collect();
    let dim: usize = sizes.iter().sum();
    let mut joint = alloc::filled(dim * dim, 0.0, "the anchors' joint covariance")?;
    let mut row_at = 0;
    for (&i, &rows) in config.joint.iter().zip(&sizes) {
        let mut column_at = 0;
        for (&j, &columns) in config.joint.iter().zip(&sizes) {
            let block = cross(i, j);
            for (r, row) in block.iter().take(rows).enumerate() {
                for (c, &v) in row.iter().take(columns).enumerate() {
                    joint[(row_at + r) * dim + column_at + c] = v;
                }
            }
            column_at += columns;
        }
        row_at += rows;
    }
    let latent_entry = |u: Option<usize>, v: Option<usize>| match (u, v) {
        (Some(u), Some(v)) => inverse.entry(u, v),
        _ => 0.0,
    };
    let latent: Vec<[[f64; 2]; 2]> = latent_coords
        .iter()
        .map(|&[mean, variance]| {
            [
                [latent_entry(mean, mean), latent_entry(mean, variance)],
                [
                    latent_entry(variance, mean),
                    latent_entry(variance, variance),
                ],
            ]
        })
        .collect();
    // Cholesky accepts any positive pivot, but a tiny one (a lower asymptote run off towards 0
    // without a prior, c ≈ 1e-160, carries next to no information) inverts to infinity, and the
    // delta method then gave NaN. Such a matrix is singular in all but name.
    let finite = per_item.iter().flatten().all(ParamCovariance::is_finite)
        && joint.iter().all(|v| v.is_finite())
        && latent.iter().flatten().flatten().all(|v| v.is_finite());
    Ok(finite.then(|| Covariances {
        items: per_item,
        joint: JointCovariance::new(&sizes, joint).expect("dim² entries"),
        latent,
    }))
}

/// One person's score vector: its non-zero coordinates in order, and the runs of consecutive
/// coordinates among them (an item's slope and intercept; every item on a complete test), so
/// that its outer product is added to the information as contiguous, vectorisable row updates.
struct ScoreVector {
    coords: Vec<usize>,
    values: Vec<f64>,
    /// Ranges of positions in `coords` whose coordinates are consecutive.
    runs: Vec<Range<usize>>,
}

impl ScoreVector {
    fn new(mut entries: Vec<(usize, f64)>) -> Self {
        entries.sort_unstable_by_key(|&(k, _)| k);
        let (coords, values): (Vec<usize>, Vec<f64>) = entries.into_iter().unzip();
        let mut runs: Vec<Range<usize>> = Vec::new();
        for (p, &c) in coords.iter().enumerate() {
            match runs.last_mut() {
                Some(run) if coords[run.end - 1] + 1 == c => run.end = p + 1,
                _ => runs.push(p..p + 1),
            }
        }
        Self {
            coords,
            values,
            runs,
        }
    }
}

simd::multiversion! {
/// Adds the lower triangle of Σ g gᵀ over `group`, score vectors with the same coordinates,
/// to `block`, the rows `rows` of an n × n matrix. A row takes the whole group's updates
/// while it is in the nearest cache: on a complete test, streaming the matrix once per
/// person rather than once per group was what bounded the time.
fn add_outer_lower(group: &[&ScoreVector], rows: &Range<usize>, block: &mut [f64], n: usize) {
    let shape = group[0];
    debug_assert!(group.iter().all(|g| g.coords == shape.coords));
    if shape.runs.len() * SHORT_RUNS > shape.coords.len() {
        // Runs of an item's two or three coordinates: entry by entry costs less than the
        // per-run set-up.
        for g in group {
            for (at, (&r, &vr)) in g.coords.iter().zip(&g.values).enumerate() {
                if !rows.contains(&r) {
                    continue;
                }
                let row = &mut block[(r - rows.start) * n..(r - rows.start + 1) * n];
                for (&c, &vc) in g.coords[..=at].iter().zip(&g.values[..=at]) {
                    row[c] += vr * vc;
                }
            }
        }
        return;
    }
    for (at, &r) in shape.coords.iter().enumerate() {
        if !rows.contains(&r) {
            continue;
        }
        let row = &mut block[(r - rows.start) * n..(r - rows.start + 1) * n];
        let mut vr = [0.0; GROUP];
        for (v, g) in vr.iter_mut().zip(group) {
            *v = g.values[at];
        }
        for run in &shape.runs {
            let first = shape.coords[run.start];
            if first > r {
                break;
            }
            let len = run.len().min(r - first + 1);
            // Eight columns at a time stay in registers while every person of the group
            // adds to them, so the row is loaded and stored once per group.
            let mut done = 0;
            while done + TILE <= len {
                let tile = &mut row[first + done..first + done + TILE];
                let mut acc = [0.0; TILE];
                acc.copy_from_slice(tile);
                for (g, &v) in group.iter().zip(&vr) {
                    let values = &g.values[run.start + done..run.start + done + TILE];
                    for l in 0..TILE {
                        acc[l] += v * values[l];
                    }
                }
                tile.copy_from_slice(&acc);
                done += TILE;
            }
            for (g, &v) in group.iter().zip(&vr) {
                let values = &g.values[run.start + done..run.start + len];
                for (t, x) in row[first + done..first + len].iter_mut().zip(values) {
                    *t += v * x;
                }
            }
        }
    }
}
}

/// Columns of the information updated together in registers.
const TILE: usize = 8;
/// Below this many coordinates per run on average, runs are not worth their set-up.
const SHORT_RUNS: usize = 4;

/// Persons of one test form added to the information together by [`add_outer_lower`].
const GROUP: usize = 8;

/// Persons of one form in a batch from which their outer products are summed as one matrix
/// product ([`add_form_outer`]): below it, the product's copy of their scores and its scatter
/// into the information cost more than they save.
const DENSE_PERSONS: usize = 32;
/// Coordinates per block of that product.
const DENSE_BLOCK: usize = 64;

/// The batch's score vectors by test form, each form's persons in batch order, and every person
/// without a form alone.
fn by_form(batch: &Batch) -> Vec<Vec<&ScoreVector>> {
    let mut at: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut out: Vec<Vec<&ScoreVector>> = Vec::new();
    for (form, g) in batch {
        match form.and_then(|f| at.get(&f)) {
            Some(&k) => out[k].push(g),
            None => {
                if let Some(f) = form {
                    at.insert(*f, out.len());
                }
                out.push(vec![g]);
            }
        }
    }
    out
}

/// Adds the lower triangle of Σ g gᵀ over `form`, score vectors with the same coordinates, to
/// the n × n `info`, as the matrix product Gᵀ G of the stacked vectors (ndarray's, which runs
/// near the machine's floating-point peak where adding person by person is bound by loads): by
/// blocks of [`DENSE_BLOCK`] of the form's coordinates on or below the diagonal, a row of
/// blocks to a thread, each writing only its own rows of `info`, so the sums do not depend on
/// threads.
fn add_form_outer(form: &[&ScoreVector], info: &mut [f64], n: usize) -> Result<()> {
    let coords = &form[0].coords;
    let c = coords.len();
    debug_assert!(form.iter().all(|g| &g.coords == coords));
    let mut stacked = alloc::filled(form.len() * c, 0.0, "the standard errors")?;
    for (row, g) in stacked.chunks_exact_mut(c).zip(form) {
        row.copy_from_slice(&g.values);
    }
    let g = ArrayView2::from_shape((form.len(), c), &stacked).expect("a row per person");
    let mut rows: Vec<Option<&mut [f64]>> =
        alloc::collect(info.chunks_exact_mut(n).map(Some), "the standard errors")?;
    let starts: Vec<usize> = (0..c).step_by(DENSE_BLOCK).collect();
    let mut tasks = alloc::with_capacity(starts.len(), "the standard errors")?;
    for &start in &starts {
        let own: Vec<&mut [f64]> = coords[start..(start + DENSE_BLOCK).min(c)]
            .iter()
            .map(|&r| {
                rows[r]
                    .take()
                    .expect("a score vector's coordinates are distinct")
            })
            .collect();
        tasks.push((start, own));
    }
    tasks.into_par_iter().for_each(|(start, mut own)| {
        let height = own.len();
        let left = g.slice(s![.., start..start + height]);
        let mut product = Array2::zeros((height, DENSE_BLOCK));
        for &column in starts.iter().take_while(|&&at| at <= start) {
            let width = DENSE_BLOCK.min(c - column);
            let mut block = product.slice_mut(s![.., ..width]);
            general_mat_mul(
                1.0,
                &left.t(),
                &g.slice(s![.., column..column + width]),
                0.0,
                &mut block,
            );
            for (r, row) in own.iter_mut().enumerate() {
                let at = coords[start + r];
                for (&v, &to) in block.row(r).iter().zip(&coords[column..column + width]) {
                    if to <= at {
                        row[to] += v;
                    }
                }
            }
        }
    });
    Ok(())
}

/// Subtracts the log priors' Hessian, entry by entry, through `sub(u, v, h)`.
fn subtract_prior_hessian(
    sub: &mut dyn FnMut(usize, usize, f64),
    config: &FitConfig,
    layout: &Layout,
    index: &[ItemSlot],
    items: &[ItemParams],
    slope: Option<usize>,
) {
    let priors = &config.priors;
    for (j, slot) in index.iter().enumerate() {
        let Some((free, idx)) = slot else { continue };
        let d = priors.item_log_density(&items[j], free.slope(), free.guessing());
        for (r, ir) in idx.iter().enumerate() {
            for (c, ic) in idx.iter().enumerate() {
                if let (Some(ir), Some(ic)) = (ir, ic) {
                    sub(*ir, *ic, d.hess[r][c]);
                }
            }
        }
    }
    if let Some(k) = slope {
        sub(
            k,
            k,
            priors
                .common_slope_log_density(items[layout.free[0].0].slope())
                .hess[0][0],
        );
    }
}

/// The covariance of item p's IRT form with item q's ([`ItemParams::irt_coords`]) from that of
/// their estimator coordinates, by the delta method: J_p · Cov · J_qᵀ.
fn irt_cross_covariance(
    p: &ItemParams,
    p_idx: [Option<usize>; MAX_COORDS],
    q: &ItemParams,
    q_idx: [Option<usize>; MAX_COORDS],
    entry: impl Fn(usize, usize) -> f64,
) -> [[f64; MAX_COORDS]; MAX_COORDS] {
    let (np, nq) = (p.n_coords(), q.n_coords());
    let mut raw = [[0.0; MAX_COORDS]; MAX_COORDS];
    for (r, &u) in p_idx.iter().enumerate() {
        for (c, &v) in q_idx.iter().enumerate() {
            if let (Some(u), Some(v)) = (u, v) {
                raw[r][c] = entry(u, v);
            }
        }
    }
    let (jp, jq) = (p.irt_jacobian(), q.irt_jacobian());
    let mut out = [[0.0; MAX_COORDS]; MAX_COORDS];
    for r in 0..np {
        for c in 0..nq {
            out[r][c] = (0..np)
                .map(|u| {
                    (0..nq)
                        .map(|v| jp[r][u] * raw[u][v] * jq[c][v])
                        .sum::<f64>()
                })
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::Rng;

    /// The information added group by group, in blocks of rows, equals Σ g gᵀ formed naively:
    /// for short runs (an item's two coordinates), long runs (a complete test), groups of a form
    /// and persons alone.
    #[test]
    fn outer_products_add_up_to_the_naive_sum() {
        let n = 57;
        let mut rng = Rng::new(3);
        let mut vector = |coords: &[usize]| {
            ScoreVector::new(coords.iter().map(|&c| (c, rng.normal())).collect())
        };
        let sparse: Vec<usize> = (0..n).filter(|c| c % 7 < 2).collect();
        let dense: Vec<usize> = (3..n).collect();
        let mixed: Vec<usize> = (0..20).chain(30..31).chain(40..n).collect();
        let vectors: Vec<ScoreVector> = [&sparse, &dense, &dense, &dense, &mixed, &sparse]
            .iter()
            .map(|c| vector(c))
            .collect();
        let groups: Vec<Vec<&ScoreVector>> = vec![
            vec![&vectors[0]],
            vec![&vectors[1], &vectors[2], &vectors[3]],
            vec![&vectors[4]],
            vec![&vectors[5]],
        ];
        let naive = naive_lower(&vectors, n);
        let rows_per_block = 10;
        let mut info = vec![0.0; n * n];
        for (b, block) in info.chunks_mut(rows_per_block * n).enumerate() {
            let rows = b * rows_per_block..b * rows_per_block + block.len() / n;
            for group in &groups {
                add_outer_lower(group, &rows, block, n);
            }
        }
        assert_lower_equal(&info, &naive, n);
    }

    /// A form's outer products summed as one matrix product, by blocks, equal Σ g gᵀ formed
    /// naively, on coordinates with gaps across several blocks, and leave the upper triangle
    /// and the coordinates outside the form alone.
    #[test]
    fn a_forms_matrix_product_adds_up_to_the_naive_sum() {
        let n = 3 * DENSE_BLOCK + 11;
        let mut rng = Rng::new(5);
        let coords: Vec<usize> = (0..n).filter(|c| c % 5 != 3).collect();
        let vectors: Vec<ScoreVector> = (0..40)
            .map(|_| ScoreVector::new(coords.iter().map(|&c| (c, rng.normal())).collect()))
            .collect();
        let naive = naive_lower(&vectors, n);
        let form: Vec<&ScoreVector> = vectors.iter().collect();
        let mut info = vec![0.0; n * n];
        add_form_outer(&form, &mut info, n).unwrap();
        for r in 0..n {
            for c in r + 1..n {
                assert_eq!(info[r * n + c], 0.0, "upper entry ({r}, {c})");
            }
        }
        assert_lower_equal(&info, &naive, n);
    }

    /// The lower triangle of Σ g gᵀ over `vectors`, entry by entry.
    fn naive_lower(vectors: &[ScoreVector], n: usize) -> Vec<f64> {
        let mut naive = vec![0.0; n * n];
        for g in vectors {
            for (&r, &vr) in g.coords.iter().zip(&g.values) {
                for (&c, &vc) in g.coords.iter().zip(&g.values) {
                    if c <= r {
                        naive[r * n + c] += vr * vc;
                    }
                }
            }
        }
        naive
    }

    fn assert_lower_equal(info: &[f64], naive: &[f64], n: usize) {
        for (i, (a, b)) in info.iter().zip(naive).enumerate() {
            assert!(
                (a - b).abs() < 1e-12 * b.abs().max(1.0),
                "entry ({}, {}): {a} vs {b}",
                i / n,
                i % n
            );
        }
    }
}
