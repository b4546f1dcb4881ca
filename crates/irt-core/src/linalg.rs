//! Dense symmetric positive definite algebra on row-major slices: one Cholesky factorisation
//! serves the small Newton systems of the M-step and the information matrix of the standard
//! errors, which has thousands of rows on a large item bank.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Result;
use crate::interrupt::Interrupt;

/// The interleaved partial sums of [`dot`] and [`dots`]: a length that is a multiple of it
/// leaves no scalar tail.
pub(crate) const DOT_LANES: usize = 16;

/// Σ aᵢbᵢ over the common length. Sixteen interleaved partial sums keep enough independent
/// additions in flight for the loop to run at the vector units' throughput rather than at the
/// latency of one add; the order of additions depends only on the length.
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let [d] = dots([a], b);
    d
}

/// Σ rᵢbᵢ for each row r, in one pass over `b` (as [`dot`] adds, row by row).
#[inline(always)]
pub fn dots<const M: usize>(rows: [&[f64]; M], b: &[f64]) -> [f64; M] {
    let n = rows.iter().fold(b.len(), |n, r| n.min(r.len()));
    let rows = rows.map(|r| &r[..n]);
    let b = &b[..n];
    let mut acc = [[0.0; DOT_LANES]; M];
    let split = n - n % DOT_LANES;
    for (start, y) in (0..split)
        .step_by(DOT_LANES)
        .zip(b[..split].chunks_exact(DOT_LANES))
    {
        for (acc, row) in acc.iter_mut().zip(&rows) {
            let x = &row[start..start + DOT_LANES];
            for k in 0..DOT_LANES {
                acc[k] += x[k] * y[k];
            }
        }
    }
    for (acc, row) in acc.iter_mut().zip(&rows) {
        for (k, (x, y)) in row[split..].iter().zip(&b[split..]).enumerate() {
            acc[k] += x * y;
        }
    }
    // A fixed pairwise tree over the partial sums.
    acc.map(|mut acc| {
        let mut width = DOT_LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[k] += acc[k + width];
            }
        }
        acc[0]
    })
}

/// Columns of the factor, and of its inverse, computed together.
const PANEL: usize = 8;
/// Below this many multiply-adds, a panel's rows are computed on one thread.
const PARALLEL_WORK: usize = 1 << 16;

/// Σₖ row[k] · panel[k·PANEL + c] for the PANEL columns c of an interleaved panel at once: each
/// entry of `row` is loaded once and feeds every column from registers.
fn dot_interleaved(row: &[f64], panel: &[f64]) -> [f64; PANEL] {
    let mut acc = [0.0; PANEL];
    for (r, p) in row.iter().zip(panel.chunks_exact(PANEL)) {
        for c in 0..PANEL {
            acc[c] += r * p[c];
        }
    }
    acc
}

/// The determinant of a 2×2 matrix.
pub fn det_2x2(m: &[[f64; 2]; 2]) -> f64 {
    m[0][0] * m[1][1] - m[0][1] * m[1][0]
}

/// Whether a symmetric 2×2 matrix is positive definite.
pub fn positive_definite_2x2(m: &[[f64; 2]; 2]) -> bool {
    m[0][0] > 0.0 && det_2x2(m) > 0.0
}

/// The inverse of an invertible 2×2 matrix.
pub fn inverse_2x2(m: &[[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let det = det_2x2(m);
    [
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ]
}

/// Factors `m` (n × n, row-major) in place into its lower Cholesky factor; None when `m` is
/// not positive definite. Only the lower triangle is read; the upper is left untouched.
///
/// Left-looking, eight columns (a panel) at a time: the panel's own rows entry by entry, then
/// every row below it in one pass over its finished part, with the panel's rows interleaved so
/// that each entry of the row feeds all eight columns from registers. Those rows are
/// independent and run in parallel on the current rayon pool for large matrices; each is
/// computed the same way either way, so the result does not depend on the threads.
/// None when `m` is not positive definite; `interrupt` is polled for every row a panel updates
/// (a panel of a large matrix takes seconds in an unoptimised build).
pub fn cholesky(m: &mut [f64], n: usize, interrupt: &Interrupt) -> Result<Option<()>> {
    let stopped = AtomicBool::new(false);
    for j0 in (0..n).step_by(PANEL) {
        if stopped.load(Ordering::Relaxed) {
            interrupt.check()?;
        }
        let w = PANEL.min(n - j0);
        for i in j0..j0 + w {
            for j in j0..=i {
                let s = m[i * n + j] - dot(&m[i * n..i * n + j], &m[j * n..j * n + j]);
                if i == j {
                    if !(s > 0.0 && s.is_finite()) {
                        return Ok(None);
                    }
                    m[i * n + i] = s.sqrt();
                } else {
                    m[i * n + j] = s / m[j * n + j];
                }
            }
        }
        if j0 + w == n {
            break;
        }
        let (head, tail) = m.split_at_mut((j0 + w) * n);
        let panel = &head[j0 * n..];
        // interleaved[k·PANEL + c] = L[j0 + c][k] for the columns before the panel.
        let mut interleaved = vec![0.0; j0 * PANEL];
        for (c, row) in panel.chunks_exact(n).enumerate() {
            for (k, v) in row[..j0].iter().enumerate() {
                interleaved[k * PANEL + c] = *v;
            }
        }
        let update = |row: &mut [f64]| {
            if stopped.load(Ordering::Relaxed) || interrupt.requested() {
                stopped.store(true, Ordering::Relaxed);
                return;
            }
            let acc = dot_interleaved(&row[..j0], &interleaved);
            for c in 0..w {
                let own = &panel[c * n + j0..c * n + j0 + c];
                let s = row[j0 + c] - acc[c] - dot(&row[j0..j0 + c], own);
                row[j0 + c] = s / panel[c * n + j0 + c];
            }
        };
        if (n - j0 - w) * j0 * w >= PARALLEL_WORK {
            use rayon::prelude::*;
            tail.par_chunks_exact_mut(n)
                .with_min_len(8)
                .for_each(update);
        } else {
            tail.chunks_exact_mut(n).for_each(update);
        }
    }
    if stopped.into_inner() {
        interrupt.check()?;
    }
    Ok(Some(()))
}

/// Solves L Lᵀ x = b given the factor from [`cholesky`].
pub fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..n {
        let dot: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (y[i] - dot) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let dot: f64 = (i + 1..n).map(|k| l[k * n + i] * y[k]).sum();
        y[i] = (y[i] - dot) / l[i * n + i];
    }
    y
}

/// Solves the small system m x = b for a symmetric positive definite m; None otherwise.
pub fn solve_spd(mut m: Vec<f64>, b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    cholesky(&mut m, n, &Interrupt::never()).ok()??;
    Some(cholesky_solve(&m, n, b))
}

/// Entries of (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹ from the lower factor L of [`cholesky`]: column u of L⁻¹ is
/// solved once and kept as a contiguous row, so every entry is one dot product.
pub struct InverseFromFactor {
    /// Row u holds column u of L⁻¹ (zero before u).
    columns: Vec<f64>,
    n: usize,
}

impl InverseFromFactor {
    /// Solves the columns in parallel on the current rayon pool, a block of columns at a time:
    /// the block is held interleaved while it is solved, so that one pass over a row of L
    /// updates every column of the block from registers.
    /// `interrupt` is polled every 64 rows of a block of columns; once it fires the rest is
    /// skipped and the whole is an error.
    pub fn new(l: &[f64], n: usize, interrupt: &Interrupt) -> Result<Self> {
        use rayon::prelude::*;
        let mut columns = crate::alloc::square(n, "the inverse of the information")?;
        let stopped = AtomicBool::new(false);
        columns
            .par_chunks_mut(PANEL * n)
            .enumerate()
            .for_each(|(b, block)| {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let first = b * PANEL;
                let width = block.len() / n;
                // x[(k − first)·PANEL + c] is entry k of column first + c; zero above its diagonal.
                let mut x = vec![0.0; (n - first) * PANEL];
                for i in first..n {
                    if (i - first).is_multiple_of(64)
                        && (stopped.load(Ordering::Relaxed) || interrupt.requested())
                    {
                        stopped.store(true, Ordering::Relaxed);
                        return;
                    }
                    let acc = dot_interleaved(&l[i * n + first..i * n + i], &x);
                    let (at, diag) = ((i - first) * PANEL, l[i * n + i]);
                    for (c, sum) in acc.iter().enumerate().take(width) {
                        let u = first + c;
                        if i == u {
                            x[at + c] = 1.0 / diag;
                        } else if i > u {
                            x[at + c] = -sum / diag;
                        }
                    }
                }
                for (c, column) in block.chunks_exact_mut(n).enumerate() {
                    for (k, xk) in x.chunks_exact(PANEL).enumerate() {
                        column[first + k] = xk[c];
                    }
                }
            });
        if stopped.into_inner() {
            interrupt.check()?;
        }
        Ok(Self { columns, n })
    }

    /// Entry (u, v) of the inverse.
    pub fn entry(&self, u: usize, v: usize) -> f64 {
        let from = u.max(v);
        let n = self.n;
        dot(
            &self.columns[u * n + from..(u + 1) * n],
            &self.columns[v * n + from..(v + 1) * n],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_known_matrix() {
        // [[4, 2, 0], [2, 3, 1], [0, 1, 2]] has determinant 12.
        let m = vec![4.0, 2.0, 0.0, 2.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let mut l = m.clone();
        cholesky(&mut l, 3, &Interrupt::never()).unwrap().unwrap();
        let inverse = InverseFromFactor::new(&l, 3, &Interrupt::never()).unwrap();
        let expected = [[5.0, -4.0, 2.0], [-4.0, 8.0, -4.0], [2.0, -4.0, 8.0]];
        for i in 0..3 {
            for j in 0..3 {
                approx::assert_relative_eq!(
                    inverse.entry(i, j),
                    expected[i][j] / 12.0,
                    epsilon = 1e-14
                );
            }
        }
        let x = solve_spd(m, &[1.0, 2.0, 3.0]).unwrap();
        approx::assert_relative_eq!(x[0], (5.0 - 8.0 + 6.0) / 12.0, epsilon = 1e-14);
        assert!(solve_spd(vec![1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]).is_none());
    }
    /// Large enough for the parallel factorisation and several blocks of inverse columns (600 is
    /// not a multiple of the block): M · M⁻¹ = I.
    #[test]
    fn inverse_of_a_large_matrix() {
        let n = 600;
        let mut rng = crate::simulate::Rng::new(9);
        let a: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = dot(&a[i * n..(i + 1) * n], &a[j * n..(j + 1) * n]);
            }
            m[i * n + i] += n as f64;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut l = m.clone();
        let inverse = pool.install(|| {
            cholesky(&mut l, n, &Interrupt::never()).unwrap().unwrap();
            InverseFromFactor::new(&l, n, &Interrupt::never()).unwrap()
        });
        for (i, j) in [(0, 0), (5, 3), (599, 0), (300, 301), (599, 599), (17, 450)] {
            let product: f64 = (0..n).map(|k| m[i * n + k] * inverse.entry(k, j)).sum();
            let expected = if i == j { 1.0 } else { 0.0 };
            assert!((product - expected).abs() < 1e-10, "({i}, {j}): {product}");
        }
    }
}
