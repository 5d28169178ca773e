//! Interpolation in grids of measured operator times (the tables of a
//! [`ProfiledGpuModel`](super::ProfiledGpuModel)).
//!
//! A grid has `D` axes (1 to 3), each a strictly increasing list of positive coordinates
//! (tokens, batch, bytes, ...), and a time at every node, row-major with the last axis
//! fastest; some nodes may be unmeasured (AIConfigurator measures long decode contexts only at
//! small batches).
//!
//! # Rule
//!
//! Inside the box the axes span, `ln t` is multilinear in `ln x` per axis:
//!
//! ```text
//! 1-D: ln t(x) = (1 − w) ln t_i + w ln t_{i+1},   w = (ln x − ln x_i) / (ln x_{i+1} − ln x_i)
//! 2-D: bilinear in (ln x, ln y) over the cell's 4 nodes; 3-D: trilinear over 8
//! ```
//!
//! that is a piecewise power law along each axis, exact for `t ∝ x^α` (a memory-bound GEMM in
//! `m`, a bandwidth-bound all-reduce in bytes). It is exact at the nodes (returned as stored,
//! bit for bit) and, along any axis, stays between the values of the two nodes around it, so
//! it is monotone wherever the measurements are.
//!
//! # Unmeasured nodes ([`estimate`])
//!
//! Before interpolating, each unmeasured node is estimated from the *measured* nodes only:
//! along every axis that has a measured node on both sides of it (the other coordinates
//! fixed), the 1-D rule between the nearest two; the geometric mean over such axes. A node
//! with no such axis (beyond the measured region) takes the roofline scaled to its nearest
//! measured nodes: `R(node) · ρ`, `ρ` the geometric mean of `t / R` over the measured nodes at
//! the least index distance (`Σ |Δi|`). The same function predicts a held-out node in the
//! leave-one-out validation ([`leave_one_out`]), so that figure is what the model would say
//! without that measurement.
//!
//! Outside the box the caller clamps the query into it ([`Grid::clamp`]) and scales the
//! value there by the roofline (see [`ProfiledGpuModel`](super::ProfiledGpuModel)).

/// A complete grid: every node has a time (measured or [`estimate`]d).
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    axes: Vec<Vec<f64>>,
    ln_axes: Vec<Vec<f64>>,
    t: Vec<f64>,
    ln_t: Vec<f64>,
}

/// Strides of a row-major grid with these axes (last axis fastest).
fn strides(axes: &[Vec<f64>]) -> Vec<usize> {
    let mut s = vec![1; axes.len()];
    for d in (0..axes.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * axes[d + 1].len();
    }
    s
}

/// Per-axis indices of node `node`.
fn indices(axes: &[Vec<f64>], node: usize) -> Vec<usize> {
    strides(axes)
        .iter()
        .zip(axes)
        .map(|(s, a)| (node / s) % a.len())
        .collect()
}

/// Coordinates of node `node`.
pub fn coordinates(axes: &[Vec<f64>], node: usize) -> Vec<f64> {
    indices(axes, node)
        .iter()
        .zip(axes)
        .map(|(&i, a)| a[i])
        .collect()
}

/// The 1-D rule between `(x0, t0)` and `(x1, t1)` at `x`, in logs (returns `ln t`).
fn ln_between(x0: f64, t0: f64, x1: f64, t1: f64, x: f64) -> f64 {
    let w = (x.ln() - x0.ln()) / (x1.ln() - x0.ln());
    (1.0 - w) * t0.ln() + w * t1.ln()
}

/// Estimate of node `node` from the measured nodes of `values` other than itself (see the
/// module docs); `roofline(coordinates)` is the fallback's time at a node.
pub fn estimate(
    axes: &[Vec<f64>],
    values: &[Option<f64>],
    node: usize,
    roofline: &dyn Fn(&[f64]) -> f64,
) -> f64 {
    let st = strides(axes);
    let idx = indices(axes, node);
    let mut ln_sum = 0.0;
    let mut count = 0usize;
    for d in 0..axes.len() {
        let at = |i: usize| node - idx[d] * st[d] + i * st[d];
        let lower = (0..idx[d])
            .rev()
            .find_map(|i| values[at(i)].map(|t| (i, t)));
        let upper = (idx[d] + 1..axes[d].len()).find_map(|i| values[at(i)].map(|t| (i, t)));
        if let (Some((i0, t0)), Some((i1, t1))) = (lower, upper) {
            ln_sum += ln_between(axes[d][i0], t0, axes[d][i1], t1, axes[d][idx[d]]);
            count += 1;
        }
    }
    if count > 0 {
        return (ln_sum / count as f64).exp();
    }
    // Beyond the measured region: the roofline scaled to the nearest measured nodes.
    let here = roofline(&coordinates(axes, node));
    let mut best = usize::MAX;
    let (mut ln_rho, mut n) = (0.0, 0usize);
    for (other, v) in values.iter().enumerate() {
        let Some(t) = *v else { continue };
        if other == node {
            continue;
        }
        let r = roofline(&coordinates(axes, other));
        if !(r > 0.0 && r.is_finite()) {
            continue;
        }
        let dist: usize = indices(axes, other)
            .iter()
            .zip(&idx)
            .map(|(a, b)| a.abs_diff(*b))
            .sum();
        if dist < best {
            (best, ln_rho, n) = (dist, 0.0, 0);
        }
        if dist == best {
            ln_rho += (t / r).ln();
            n += 1;
        }
    }
    if n == 0 {
        here
    } else {
        here * (ln_rho / n as f64).exp()
    }
}

/// Leave-one-out predictions: for every measured node, `(node, measured, estimate without
/// it)`, the estimate by [`estimate`] (interpolation between its measured neighbours, or the
/// scaled roofline at the edge of the measured region).
pub fn leave_one_out(
    axes: &[Vec<f64>],
    values: &[Option<f64>],
    roofline: &dyn Fn(&[f64]) -> f64,
) -> Vec<(usize, f64, f64)> {
    let mut held = values.to_vec();
    let mut out = Vec::new();
    for node in 0..values.len() {
        let Some(t) = values[node] else { continue };
        held[node] = None;
        out.push((node, t, estimate(axes, &held, node, roofline)));
        held[node] = Some(t);
    }
    out
}

impl Grid {
    /// The grid of `axes` (each strictly increasing and positive; checked by the caller) with
    /// measured `values` (row-major, `None` where unmeasured, at least one measured), the
    /// unmeasured nodes [`estimate`]d.
    pub fn new(
        axes: Vec<Vec<f64>>,
        values: &[Option<f64>],
        roofline: &dyn Fn(&[f64]) -> f64,
    ) -> Grid {
        let t: Vec<f64> = (0..values.len())
            .map(|node| values[node].unwrap_or_else(|| estimate(&axes, values, node, roofline)))
            .collect();
        Grid {
            ln_axes: axes
                .iter()
                .map(|a| a.iter().map(|x| x.ln()).collect())
                .collect(),
            ln_t: t.iter().map(|t| t.ln()).collect(),
            axes,
            t,
        }
    }

    /// Number of axes.
    pub fn dims(&self) -> usize {
        self.axes.len()
    }

    /// Moves `x` into the box the axes span; true when it was outside.
    pub fn clamp(&self, x: &mut [f64]) -> bool {
        let mut moved = false;
        for (v, a) in x.iter_mut().zip(&self.axes) {
            let (lo, hi) = (a[0], a[a.len() - 1]);
            // A NaN goes to the lower edge too.
            if v.is_nan() || *v < lo {
                *v = lo;
                moved = true;
            } else if *v > hi {
                *v = hi;
                moved = true;
            }
        }
        moved
    }

    /// Seconds at `x` (inside the box: [`clamp`](Self::clamp) first), by the module's rule.
    pub fn eval(&self, x: &[f64]) -> f64 {
        let st = strides(&self.axes);
        let mut base = 0usize;
        let mut cell = [(0usize, 0.0f64); 3];
        let mut on_node = true;
        let mut exact_node = 0usize;
        for d in 0..self.dims() {
            let a = &self.axes[d];
            if a.len() == 1 {
                cell[d] = (0, 0.0);
                continue;
            }
            let i = a.partition_point(|v| *v <= x[d]).clamp(1, a.len() - 1) - 1;
            let la = &self.ln_axes[d];
            let w = (x[d].ln() - la[i]) / (la[i + 1] - la[i]);
            cell[d] = (i, w);
            base += i * st[d];
            if w == 0.0 {
                exact_node += i * st[d];
            } else if w == 1.0 {
                exact_node += (i + 1) * st[d];
            } else {
                on_node = false;
            }
        }
        if on_node {
            return self.t[exact_node];
        }
        let mut ln_t = 0.0;
        for corner in 0..(1usize << self.dims()) {
            let mut weight = 1.0;
            let mut node = base;
            for (d, &(_, w)) in cell.iter().enumerate().take(self.dims()) {
                if corner & (1 << d) != 0 {
                    weight *= w;
                    node += st[d];
                } else {
                    weight *= 1.0 - w;
                }
            }
            if weight != 0.0 {
                ln_t += weight * self.ln_t[node];
            }
        }
        ln_t.exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(_: &[f64]) -> f64 {
        1.0
    }

    /// 1-D power law: t = 2 x^0.5 at x = 1, 4, 16; the rule is exact for it between nodes.
    #[test]
    fn power_law_is_exact_between_nodes() {
        let axes = vec![vec![1.0, 4.0, 16.0]];
        let v: Vec<Option<f64>> = axes[0].iter().map(|x: &f64| Some(2.0 * x.sqrt())).collect();
        let g = Grid::new(axes, &v, &flat);
        for x in [1.0, 2.0, 3.0, 9.0, 16.0] {
            let t = g.eval(&[x]);
            assert!((t / (2.0 * f64::sqrt(x)) - 1.0).abs() < 1e-12, "{x}: {t}");
        }
    }

    /// Bilinear in logs on a 2 x 2 cell: at the centre (geometric mid-point of both axes) the
    /// value is the geometric mean of the four corners: (1 * 2 * 4 * 8)^(1/4) = 64^(1/4).
    #[test]
    fn bilinear_centre_is_the_geometric_mean() {
        let axes = vec![vec![1.0, 4.0], vec![10.0, 1000.0]];
        let v = [Some(1.0), Some(2.0), Some(4.0), Some(8.0)];
        let g = Grid::new(axes, &v, &flat);
        let t = g.eval(&[2.0, 100.0]);
        assert!((t - 64f64.powf(0.25)).abs() < 1e-12, "{t}");
        assert_eq!(g.eval(&[4.0, 10.0]), 4.0);
    }

    /// A hole between measured nodes is the 1-D rule along each axis that brackets it,
    /// geometrically averaged: node (1, 1) of a 3 x 3 grid with t = x y: along x
    /// sqrt(1*y * 4*y) at y = 2 -> 4; along y the same, 4 = 2 * 2.
    #[test]
    fn interior_hole_is_interpolated() {
        let axes = vec![vec![1.0, 2.0, 4.0], vec![1.0, 2.0, 4.0]];
        let mut v = Vec::new();
        for x in &axes[0] {
            for y in &axes[1] {
                v.push(Some(x * y));
            }
        }
        v[4] = None;
        assert!((estimate(&axes, &v, 4, &flat) - 4.0).abs() < 1e-12);
        // Leave-one-out of this exact power law is exact everywhere inside.
        let loo = leave_one_out(&axes, &v, &flat);
        assert_eq!(loo.len(), 8);
    }

    /// A node beyond the measured region takes the roofline scaled to its nearest measured
    /// node: measured t = 3 R at node (0), roofline R(x) = x: node x = 8 -> 3 * 8.
    #[test]
    fn edge_hole_is_the_scaled_roofline() {
        let axes = vec![vec![1.0, 2.0, 8.0]];
        let v = [Some(3.0), Some(6.0), None];
        let r = |x: &[f64]| x[0];
        assert!((estimate(&axes, &v, 2, &r) - 24.0).abs() < 1e-12);
        let g = Grid::new(axes, &v, &r);
        assert!((g.eval(&[8.0]) - 24.0).abs() < 1e-12);
    }

    #[test]
    fn clamp_moves_points_into_the_box() {
        let g = Grid::new(vec![vec![1.0, 10.0]], &[Some(1.0), Some(2.0)], &flat);
        let mut x = [0.5];
        assert!(g.clamp(&mut x));
        assert_eq!(x, [1.0]);
        let mut x = [20.0];
        assert!(g.clamp(&mut x));
        assert_eq!(x, [10.0]);
        let mut x = [5.0];
        assert!(!g.clamp(&mut x));
    }
}
