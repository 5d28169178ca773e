//! Mean and nearest-rank percentiles of token counts.

use serde::Serialize;

/// Distribution summary of a per-request count.
///
/// Percentiles use the **nearest-rank** definition: with the `n` values sorted ascending,
/// `pP` is the value at 1-based rank `ceil(P/100 × n)`, i.e. the smallest value that at least
/// P% of the values do not exceed. Always one of the values (no interpolation); `p50` of an even
/// count is the lower median. All fields are 0 when there are no values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: u32,
    /// 90th percentile (nearest rank).
    pub p90: u32,
    /// 99th percentile (nearest rank).
    pub p99: u32,
    /// Largest value.
    pub max: u32,
}

impl Summary {
    /// Summarises `values`, which it sorts in place.
    pub(crate) fn of(values: &mut [u32]) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        values.sort_unstable();
        let n = values.len() as u64;
        let sum: u64 = values.iter().map(|&v| u64::from(v)).sum();
        // Rank ceil(p n / 100) in exact integer arithmetic, at least 1.
        let at = |p: u64| values[((p * n).div_ceil(100).max(1) - 1) as usize];
        Summary {
            mean: sum as f64 / n as f64,
            p50: at(50),
            p90: at(90),
            p99: at(99),
            max: values[values.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_by_hand() {
        // 1..=10: p50 rank ceil(5) = 5 -> 5; p90 rank 9 -> 9; p99 rank ceil(9.9) = 10 -> 10.
        let mut v: Vec<u32> = (1..=10).rev().collect();
        let s = Summary::of(&mut v);
        assert_eq!((s.mean, s.p50, s.p90, s.p99, s.max), (5.5, 5, 9, 10, 10));
        // Single value.
        assert_eq!(
            Summary::of(&mut [7]),
            Summary {
                mean: 7.0,
                p50: 7,
                p90: 7,
                p99: 7,
                max: 7
            }
        );
        // 200 values 1..=200: p99 rank 198 -> 198; p50 rank 100 -> 100.
        let mut v: Vec<u32> = (1..=200).collect();
        let s = Summary::of(&mut v);
        assert_eq!((s.p50, s.p90, s.p99), (100, 180, 198));
        assert_eq!(Summary::of(&mut []), Summary::default());
    }
}
