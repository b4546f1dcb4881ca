//! Dense symmetric positive definite algebra on row-major slices: one Cholesky factorisation
//! serves the small Newton systems of the M-step and the information matrix of the standard
//! errors.

/// Factors `m` (n × n, row-major) in place into its lower Cholesky factor; None when `m` is
/// not positive definite. The upper triangle is left untouched.
pub fn cholesky(m: &mut [f64], n: usize) -> Option<()> {
    for j in 0..n {
        let row_j = &mut m[j * n..j * n + n];
        let diag = row_j[j] - row_j[..j].iter().map(|v| v * v).sum::<f64>();
        if !(diag > 0.0 && diag.is_finite()) {
            return None;
        }
        row_j[j] = diag.sqrt();
        let (head, tail) = m.split_at_mut((j + 1) * n);
        let row_j = &head[j * n..j * n + n];
        for row_i in tail.chunks_exact_mut(n) {
            let dot: f64 = row_i[..j].iter().zip(&row_j[..j]).map(|(a, b)| a * b).sum();
            row_i[j] = (row_i[j] - dot) / row_j[j];
        }
    }
    Some(())
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
    cholesky(&mut m, n)?;
    Some(cholesky_solve(&m, n, b))
}

/// The inverse of a lower-triangular factor L (row-major, lower triangle), so that
/// (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹ can be read entry by entry with [`inverse_entry`].
pub fn invert_lower(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for col in 0..n {
        inv[col * n + col] = 1.0 / l[col * n + col];
        for i in col + 1..n {
            let dot: f64 = (col..i).map(|k| l[i * n + k] * inv[k * n + col]).sum();
            inv[i * n + col] = -dot / l[i * n + i];
        }
    }
    inv
}

/// Entry (i, j) of (L Lᵀ)⁻¹ from L⁻¹.
pub fn inverse_entry(l_inv: &[f64], n: usize, i: usize, j: usize) -> f64 {
    (i.max(j)..n)
        .map(|k| l_inv[k * n + i] * l_inv[k * n + j])
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_known_matrix() {
        // [[4, 2, 0], [2, 3, 1], [0, 1, 2]] has determinant 12.
        let m = vec![4.0, 2.0, 0.0, 2.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let mut l = m.clone();
        cholesky(&mut l, 3).unwrap();
        let l_inv = invert_lower(&l, 3);
        let expected = [[5.0, -4.0, 2.0], [-4.0, 8.0, -4.0], [2.0, -4.0, 8.0]];
        for i in 0..3 {
            for j in 0..3 {
                approx::assert_relative_eq!(
                    inverse_entry(&l_inv, 3, i, j),
                    expected[i][j] / 12.0,
                    epsilon = 1e-14
                );
            }
        }
        let x = solve_spd(m, &[1.0, 2.0, 3.0]).unwrap();
        approx::assert_relative_eq!(x[0], (5.0 - 8.0 + 6.0) / 12.0, epsilon = 1e-14);
        assert!(solve_spd(vec![1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]).is_none());
    }
}
