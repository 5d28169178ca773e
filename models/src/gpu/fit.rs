//! Fitting the roofline's operator curves to measurements: least squares of the *relative*
//! error, with lower bounds on the coefficients.
//!
//! Every operator time the roofline models is linear in its coefficients,
//! `t = c · x(shape)` (see [`crate::gpu::ops`]): `c` holds a fixed latency and inverse
//! efficiencies, `x` the shape's constant 1, bytes over peak bandwidth and FLOPs over peak
//! FLOP/s. Minimising `Σ ((c·x_i − t_i) / t_i)²` is then an ordinary least-squares problem in
//! rows `x_i / t_i` against 1, so large and small kernels weigh alike (the validation targets
//! are relative errors). Physics bounds the coefficients from below: a latency is not negative
//! and an efficiency is at most 1, so an inverse efficiency is at least 1.
//!
//! The problem is kept as its normal equations ([`NormalEquations`]: `G = Σ a_i a_iᵀ`,
//! `h = Σ a_i` over rows `a_i = x_i / t_i`), so folds of a cross-validation are a subtraction
//! and a fit costs `O(k³)` whatever the number of rows. The bounded problem is convex; its
//! optimum leaves some coefficients at their bounds and solves the others freely. With at most
//! a handful of coefficients [`NormalEquations::solve_bounded`] tries every such split (`2^k`
//! small least-squares solves by nalgebra's SVD, on columns scaled to unit diagonal) and keeps
//! the feasible one of least loss, which is the exact optimum.

use nalgebra::{DMatrix, DVector};

/// One measurement of an operator: its feature vector and measured time, seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Features `x` of the shape (see the operator's `features`).
    pub features: Vec<f64>,
    /// Measured seconds (positive).
    pub measured_s: f64,
}

/// Normal equations of the relative least-squares problem over some rows.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalEquations {
    g: DMatrix<f64>,
    h: DVector<f64>,
    rows: f64,
}

impl NormalEquations {
    /// No rows yet, `k` coefficients.
    pub fn new(k: usize) -> Self {
        NormalEquations {
            g: DMatrix::zeros(k, k),
            h: DVector::zeros(k),
            rows: 0.0,
        }
    }

    /// Adds one row; a non-positive or non-finite time, or a feature vector of the wrong
    /// length, is skipped.
    pub fn add(&mut self, features: &[f64], measured_s: f64) {
        self.add_weighted(features, measured_s, 1.0);
    }

    /// Adds one row with weight `w` (its squared relative error counts `w` times).
    pub fn add_weighted(&mut self, features: &[f64], measured_s: f64, w: f64) {
        let k = self.h.len();
        if !(measured_s.is_finite() && measured_s > 0.0)
            || features.len() != k
            || w.is_nan()
            || w <= 0.0
        {
            return;
        }
        let a = DVector::from_iterator(k, features.iter().map(|x| x / measured_s));
        self.g += (&a * a.transpose()) * w;
        self.h += &a * w;
        self.rows += w;
    }

    /// These rows without `other`'s (a cross-validation fold).
    pub fn without(&self, other: &NormalEquations) -> NormalEquations {
        NormalEquations {
            g: &self.g - &other.g,
            h: &self.h - &other.h,
            rows: self.rows - other.rows,
        }
    }

    /// Rows held.
    pub fn rows(&self) -> f64 {
        self.rows
    }

    /// Summed squared relative error of coefficients `c`: `cᵀ G c − 2 cᵀ h + rows`.
    pub fn loss(&self, c: &DVector<f64>) -> f64 {
        (c.transpose() * &self.g * c)[(0, 0)] - 2.0 * c.dot(&self.h) + self.rows
    }

    /// Coefficients of least loss subject to `c_j >= lower[j]`; `None` without rows.
    pub fn solve_bounded(&self, lower: &[f64]) -> Option<Vec<f64>> {
        let k = lower.len();
        if self.rows < 0.5 || k != self.h.len() {
            return None;
        }
        let mut best: Option<(f64, DVector<f64>)> = None;
        // A feature no row has (the GEMM's sequence count) leaves its coefficient at the bound.
        let unused: u32 = (0..k)
            .filter(|&j| self.g[(j, j)] <= 0.0)
            .map(|j| 1 << j)
            .sum();
        for fixed_mask in 0u32..(1 << k) {
            if fixed_mask & unused != unused {
                continue;
            }
            let fixed = |j: usize| fixed_mask & (1 << j) != 0;
            let free: Vec<usize> = (0..k).filter(|&j| !fixed(j)).collect();
            let mut c = DVector::from_column_slice(lower);
            if !free.is_empty() {
                // G_UU c_U = h_U − G_UF c_F, with columns scaled to unit diagonal.
                let scale: Vec<f64> = free
                    .iter()
                    .map(|&j| {
                        let d = self.g[(j, j)];
                        if d > 0.0 { 1.0 / d.sqrt() } else { 1.0 }
                    })
                    .collect();
                let n = free.len();
                let a = DMatrix::from_fn(n, n, |r, q| {
                    self.g[(free[r], free[q])] * scale[r] * scale[q]
                });
                let b = DVector::from_fn(n, |r, _| {
                    let j = free[r];
                    let fixed_part: f64 = (0..k)
                        .filter(|&q| fixed(q))
                        .map(|q| self.g[(j, q)] * lower[q])
                        .sum();
                    (self.h[j] - fixed_part) * scale[r]
                });
                let Ok(sol) = a.svd(true, true).solve(&b, 1e-12) else {
                    continue;
                };
                for (r, &j) in free.iter().enumerate() {
                    c[j] = sol[r] * scale[r];
                }
            }
            if c.iter().zip(lower).any(|(x, l)| !x.is_finite() || *x < *l) {
                continue;
            }
            let loss = self.loss(&c);
            if best.as_ref().is_none_or(|(l, _)| loss < *l) {
                best = Some((loss, c));
            }
        }
        best.map(|(_, c)| c.iter().copied().collect())
    }
}

/// Floor of a row's |relative error| in [`fit_median`]'s weights (0.1%): rows fitted better
/// than this weigh no more, so no single row dominates.
pub const L1_FLOOR: f64 = 1e-3;

/// Coefficients minimising the summed *absolute* relative error `Σ |c·x_i / t_i − 1|` under
/// the bounds, by iteratively reweighted least squares (weights `1 / max(|r_i|, L1_FLOOR)`)
/// started at `start`, for `iterations` rounds. Least absolute deviations estimate the
/// median relative error the validation targets, and one outlying row (a timing hiccup in a
/// table) pulls it far less than it pulls least squares.
pub fn fit_median(
    rows: &[(&[f64], f64)],
    lower: &[f64],
    start: Vec<f64>,
    iterations: usize,
) -> Vec<f64> {
    let mut c = start;
    for _ in 0..iterations {
        let mut ne = NormalEquations::new(lower.len());
        for &(x, t) in rows {
            let r = (dot(&c, x) / t - 1.0).abs();
            ne.add_weighted(x, t, 1.0 / r.max(L1_FLOOR));
        }
        match ne.solve_bounded(lower) {
            Some(next) => c = next,
            None => break,
        }
    }
    c
}

/// Coefficients minimising the summed squared relative error of `c · x_i` against
/// `measured_s`, subject to `c_j >= lower[j]`. Samples with a non-positive or non-finite time
/// are skipped. Returns `None` when no sample is usable.
pub fn fit_bounded(samples: &[Sample], lower: &[f64]) -> Option<Vec<f64>> {
    let mut ne = NormalEquations::new(lower.len());
    for s in samples {
        ne.add(&s.features, s.measured_s);
    }
    ne.solve_bounded(lower)
}

/// `Σ a_j b_j`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(features: &[f64], measured_s: f64) -> Sample {
        Sample {
            features: features.to_vec(),
            measured_s,
        }
    }

    #[test]
    fn recovers_exact_coefficients() {
        // t = 2 + 3 x exactly at x = 1, 2, 4: the fit must return (2, 3).
        let s = [
            sample(&[1.0, 1.0], 5.0),
            sample(&[1.0, 2.0], 8.0),
            sample(&[1.0, 4.0], 14.0),
        ];
        let c = fit_bounded(&s, &[0.0, 0.0]).unwrap();
        assert!(
            (c[0] - 2.0).abs() < 1e-9 && (c[1] - 3.0).abs() < 1e-9,
            "{c:?}"
        );
    }

    #[test]
    fn bound_binds_when_data_want_less() {
        // t = 0.5 x would need c1 = 0.5, below the bound 1: c1 stays at 1 and the intercept,
        // free, absorbs nothing useful (data pass through 0), so the best is c0 = 0, c1 = 1.
        let s = [sample(&[1.0, 2.0], 1.0), sample(&[1.0, 4.0], 2.0)];
        let c = fit_bounded(&s, &[0.0, 1.0]).unwrap();
        assert_eq!(c[1], 1.0);
        assert!(c[0] >= 0.0);
        // A negative intercept is refused too: t = x - 1 at x = 2, 3 gives c0 = 0.
        let s = [sample(&[1.0, 2.0], 1.0), sample(&[1.0, 3.0], 2.0)];
        let c = fit_bounded(&s, &[0.0, 0.0]).unwrap();
        assert_eq!(c[0], 0.0);
    }

    #[test]
    fn folds_subtract() {
        let s = [
            sample(&[1.0, 1.0], 5.0),
            sample(&[1.0, 2.0], 8.0),
            sample(&[1.0, 4.0], 14.0),
            sample(&[1.0, 8.0], 100.0),
        ];
        let mut all = NormalEquations::new(2);
        let mut outlier = NormalEquations::new(2);
        for x in &s {
            all.add(&x.features, x.measured_s);
        }
        outlier.add(&s[3].features, s[3].measured_s);
        let c = all.without(&outlier).solve_bounded(&[0.0, 0.0]).unwrap();
        assert!(
            (c[0] - 2.0).abs() < 1e-9 && (c[1] - 3.0).abs() < 1e-9,
            "{c:?}"
        );
    }

    #[test]
    fn median_fit_ignores_an_outlier() {
        // t = 2 + 3 x at x = 1..5, and one row 10x too slow: least squares is pulled, the
        // median fit returns the line.
        let mut rows: Vec<(Vec<f64>, f64)> = (1..=5)
            .map(|x| (vec![1.0, x as f64], 2.0 + 3.0 * x as f64))
            .collect();
        rows.push((vec![1.0, 3.0], 110.0));
        let view: Vec<(&[f64], f64)> = rows.iter().map(|(x, t)| (x.as_slice(), *t)).collect();
        let samples: Vec<Sample> = rows.iter().map(|(x, t)| sample(x, *t)).collect();
        let ls = fit_bounded(&samples, &[0.0, 0.0]).unwrap();
        let l1 = fit_median(&view, &[0.0, 0.0], ls.clone(), 50);
        assert!(
            (l1[0] - 2.0).abs() < 0.05 && (l1[1] - 3.0).abs() < 0.05,
            "{l1:?} (ls {ls:?})"
        );
    }

    #[test]
    fn no_usable_sample_gives_none() {
        assert!(fit_bounded(&[sample(&[1.0], 0.0)], &[0.0]).is_none());
        assert!(fit_bounded(&[], &[0.0]).is_none());
    }
}
