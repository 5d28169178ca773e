//! Turning table columns into the points of a figure: empirical CDFs, per-instance and
//! cluster-wide time series, requests binned by arrival time. Long series are thinned so that
//! a figure stays a few hundred kilobytes at most (the thinning is stated in the captions).

use std::collections::BTreeMap;

/// At most this many points per CDF line (evenly spaced ranks; the largest value is always one).
pub const CDF_POINTS: usize = 1000;
/// At most this many points per time-series line (consecutive intervals averaged).
pub const TIME_POINTS: usize = 800;

/// The empirical CDF of the positive, finite `values`: (value, fraction of values <= it), at
/// most [`CDF_POINTS`] points at evenly spaced ranks, the minimum and maximum included.
pub fn cdf(values: &[f64]) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let k = CDF_POINTS.min(n);
    let mut out: Vec<(f64, f64)> = (0..k)
        .map(|j| {
            let i = if k == 1 { n - 1 } else { j * (n - 1) / (k - 1) };
            (v[i], (i + 1) as f64 / n as f64)
        })
        .collect();
    out.dedup_by(|b, a| b.0 == a.0 && b.1 == a.1);
    out
}

/// Averages consecutive points so that at most `max` remain (x and y both averaged over each
/// group of `ceil(n / max)`); shorter series are returned as they are.
pub fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max == 0 {
        return points;
    }
    let group = points.len().div_ceil(max);
    points
        .chunks(group)
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect()
}

/// How per-instance values of one interval combine into a cluster value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Sum of the instances' values (requests, tokens per second, blocks).
    Sum,
    /// Mean over instances (fractions).
    Mean,
    /// Sum of numerators over sum of denominators (a hit ratio over all lookups).
    Ratio,
}

/// One timeseries row's contribution: numerator and denominator (the value is n / d; rows with
/// d = 0 have no value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Interval end, nanoseconds.
    pub time_ns: f64,
    /// Instance.
    pub instance: f64,
    /// Numerator.
    pub n: f64,
    /// Denominator.
    pub d: f64,
}

/// One line per instance (x in seconds), in instance order.
pub fn per_instance(samples: &[Sample]) -> Vec<(u64, Vec<(f64, f64)>)> {
    let mut by: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples {
        if s.d != 0.0 {
            by.entry(s.instance as u64)
                .or_default()
                .push((s.time_ns * 1e-9, s.n / s.d));
        }
    }
    by.into_iter()
        .map(|(i, mut p)| {
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            (i, thin(p, TIME_POINTS))
        })
        .collect()
}

/// The cluster line: every interval's instances combined (x in seconds).
pub fn cluster(samples: &[Sample], combine: Combine) -> Vec<(f64, f64)> {
    #[derive(Default)]
    struct Acc {
        values: f64,
        count: f64,
        n: f64,
        d: f64,
    }
    let mut by: BTreeMap<u64, Acc> = BTreeMap::new();
    for s in samples {
        let a = by.entry(s.time_ns as u64).or_default();
        a.n += s.n;
        a.d += s.d;
        if s.d != 0.0 {
            a.values += s.n / s.d;
            a.count += 1.0;
        }
    }
    let points = by
        .into_iter()
        .filter_map(|(t, a)| {
            let y = match combine {
                Combine::Sum => (a.count > 0.0).then_some(a.values),
                Combine::Mean => (a.count > 0.0).then(|| a.values / a.count),
                Combine::Ratio => (a.d != 0.0).then(|| a.n / a.d),
            }?;
            Some((t as f64 * 1e-9, y))
        })
        .collect();
    thin(points, TIME_POINTS)
}

/// Requests binned by arrival time into bins of `bin_ns`: per bin (bin centre in seconds,
/// sum of `n` / sum of `d`), bins with d = 0 left out.
pub fn binned_ratio(arrival_ns: &[f64], n: &[f64], d: &[f64], bin_ns: f64) -> Vec<(f64, f64)> {
    let mut by: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for ((&t, &a), &b) in arrival_ns.iter().zip(n).zip(d) {
        let e = by.entry((t / bin_ns).floor() as u64).or_default();
        e.0 += a;
        e.1 += b;
    }
    by.into_iter()
        .filter(|(_, (_, d))| *d != 0.0)
        .map(|(k, (n, d))| ((k as f64 + 0.5) * bin_ns * 1e-9, n / d))
        .collect()
}

/// Values summed per bin of `bin_ns` by their time, divided by the bin's length in seconds:
/// (bin centre in seconds, rate per second), empty bins left out.
pub fn binned_rate(times_ns: &[f64], values: &[f64], bin_ns: f64) -> Vec<(f64, f64)> {
    let mut by: BTreeMap<u64, f64> = BTreeMap::new();
    for (&t, &v) in times_ns.iter().zip(values) {
        *by.entry((t / bin_ns).floor() as u64).or_default() += v;
    }
    by.into_iter()
        .map(|(k, v)| ((k as f64 + 0.5) * bin_ns * 1e-9, v / (bin_ns * 1e-9)))
        .collect()
}

/// A bin width for `span_ns` of requests: the timeseries interval, widened by a whole factor
/// until there are at most [`TIME_POINTS`] / 2 bins.
pub fn bin_width(interval_ns: f64, span_ns: f64) -> f64 {
    let interval = if interval_ns > 0.0 { interval_ns } else { 1e9 };
    let factor = (span_ns / interval / (TIME_POINTS / 2) as f64)
        .ceil()
        .max(1.0);
    interval * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_of_few_values_is_exact() {
        // Values 3, 1, 2 (and a zero, dropped for the log axis): F(1) = 1/3, F(2) = 2/3, F(3) = 1.
        let c = cdf(&[3.0, 1.0, 0.0, 2.0]);
        assert_eq!(c, vec![(1.0, 1.0 / 3.0), (2.0, 2.0 / 3.0), (3.0, 1.0)]);
    }

    #[test]
    fn cdf_of_many_values_is_thinned_and_keeps_both_ends() {
        let v: Vec<f64> = (1..=5000).map(f64::from).collect();
        let c = cdf(&v);
        assert_eq!(c.len(), CDF_POINTS);
        assert_eq!(c[0], (1.0, 1.0 / 5000.0));
        assert_eq!(*c.last().unwrap(), (5000.0, 1.0));
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    }

    #[test]
    fn thinning_averages_groups() {
        let p: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), f64::from(i * 2))).collect();
        // Groups of ceil(10 / 4) = 3: (0,1,2) (3,4,5) (6,7,8) (9).
        assert_eq!(
            thin(p, 4),
            vec![(1.0, 2.0), (4.0, 8.0), (7.0, 14.0), (9.0, 18.0)]
        );
    }

    #[test]
    fn cluster_combines_instances_by_sum_mean_and_ratio() {
        let s = |t: f64, i: f64, n: f64, d: f64| Sample {
            time_ns: t * 1e9,
            instance: i,
            n,
            d,
        };
        // Interval 1: instance 0 has 1 hit of 4 lookups, instance 1 has 3 of 4; none asked at 2.
        let samples = [
            s(1.0, 0.0, 1.0, 4.0),
            s(1.0, 1.0, 3.0, 4.0),
            s(2.0, 0.0, 0.0, 0.0),
        ];
        assert_eq!(cluster(&samples, Combine::Ratio), vec![(1.0, 0.5)]);
        assert_eq!(cluster(&samples, Combine::Sum), vec![(1.0, 1.0)]);
        assert_eq!(cluster(&samples, Combine::Mean), vec![(1.0, 0.5)]);
        let lines = per_instance(&samples);
        assert_eq!(lines, vec![(0, vec![(1.0, 0.25)]), (1, vec![(1.0, 0.75)])]);
    }

    #[test]
    fn requests_bin_by_arrival() {
        // Bins of 1 s: requests at 0.2 s and 0.7 s share bin 0, one at 1.5 s is alone.
        let b = binned_ratio(
            &[0.2e9, 0.7e9, 1.5e9],
            &[1.0, 3.0, 0.0],
            &[4.0, 4.0, 2.0],
            1e9,
        );
        assert_eq!(b, vec![(0.5, 0.5), (1.5, 0.0)]);
        // 5 preemptions in bin 0 (2 s wide) are 2.5 per second.
        assert_eq!(
            binned_rate(&[0.5e9, 1.5e9], &[2.0, 3.0], 2e9),
            vec![(1.0, 2.5)]
        );
        assert_eq!(bin_width(1e9, 100e9), 1e9);
        assert_eq!(bin_width(1e9, 1000e9), 3e9);
    }
}
