//! A small Levenberg–Marquardt least-squares solver with forward-difference Jacobians and
//! box bounds (by clamping). Enough for the ≤ 20 parameters of a network profile fit.

/// Minimises `Σ rᵢ(x)²` from `x0`, keeping `lo ≤ x ≤ hi`. Returns the best `x` found.
#[allow(clippy::needless_range_loop)] // Jacobian products read clearest with indices
pub fn levenberg_marquardt(
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    max_iter: usize,
    mut residuals: impl FnMut(&[f64]) -> Vec<f64>,
) -> Vec<f64> {
    let n = x0.len();
    let clamp = |x: &mut [f64]| {
        for i in 0..x.len() {
            x[i] = x[i].clamp(lo[i], hi[i]);
        }
    };
    let mut x = x0.to_vec();
    clamp(&mut x);
    let cost = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>();
    let mut r = residuals(&x);
    let mut c = cost(&r);
    let mut lambda = 1e-2;
    for _ in 0..max_iter {
        // Jacobian by central differences: at a kink of a max() (two resources equally
        // binding) one-sided differences see no slope in either direction and stall.
        let h = 1e-4;
        let mut jac = vec![vec![0.0; n]; r.len()];
        for j in 0..n {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp[j] = (xp[j] + h).min(hi[j]);
            xm[j] = (xm[j] - h).max(lo[j]);
            let (rp, rm) = (residuals(&xp), residuals(&xm));
            let step = xp[j] - xm[j];
            for i in 0..r.len() {
                jac[i][j] = if step > 0.0 {
                    (rp[i] - rm[i]) / step
                } else {
                    0.0
                };
            }
        }
        let mut jtj = vec![vec![0.0; n]; n];
        let mut jtr = vec![0.0; n];
        for i in 0..r.len() {
            for a in 0..n {
                jtr[a] += jac[i][a] * r[i];
                for b in 0..n {
                    jtj[a][b] += jac[i][a] * jac[i][b];
                }
            }
        }
        let mut improved = false;
        for _ in 0..12 {
            let mut m = jtj.clone();
            for (a, row) in m.iter_mut().enumerate() {
                row[a] += lambda * (jtj[a][a] + 1e-9);
            }
            let rhs: Vec<f64> = jtr.iter().map(|v| -v).collect();
            let Some(delta) = solve(m, rhs) else {
                lambda *= 10.0;
                continue;
            };
            let mut xn: Vec<f64> = x.iter().zip(&delta).map(|(a, d)| a + d).collect();
            clamp(&mut xn);
            let rn = residuals(&xn);
            let cn = cost(&rn);
            if cn.is_finite() && cn < c {
                let gain = c - cn;
                x = xn;
                r = rn;
                c = cn;
                lambda = (lambda / 3.0).max(1e-9);
                improved = gain > 1e-12 * c.max(1e-30);
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    x
}

/// Gaussian elimination with partial pivoting; None if singular.
#[allow(clippy::needless_range_loop)] // row operations read clearest with indices
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_line_exactly() {
        // y = 3 + 2t at t = 0..5.
        let ts = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let x = levenberg_marquardt(&[0.0, 0.0], &[-10.0; 2], &[10.0; 2], 100, |p| {
            ts.iter()
                .map(|t| p[0] + p[1] * t - (3.0 + 2.0 * t))
                .collect()
        });
        assert!(
            (x[0] - 3.0).abs() < 1e-6 && (x[1] - 2.0).abs() < 1e-6,
            "{x:?}"
        );
    }

    #[test]
    fn fits_an_exponential_decay() {
        let ts: Vec<f64> = (0..20).map(f64::from).collect();
        let x = levenberg_marquardt(&[1.0, 0.1], &[0.0, 0.0], &[100.0, 10.0], 200, |p| {
            ts.iter()
                .map(|t| p[0] * (-p[1] * t).exp() - 5.0 * (-0.3 * t).exp())
                .collect()
        });
        assert!(
            (x[0] - 5.0).abs() < 1e-4 && (x[1] - 0.3).abs() < 1e-5,
            "{x:?}"
        );
    }
}
