//! Fitting the host stage's variability ([`StageNoise`]) to perftest's percentile columns.
//!
//! In a latency test nothing queues, so a sample is the closed form plus the variability drawn
//! along its path. With variability on the host stage, each transaction draws it twice (the post
//! call and the CPU noticing the completion or the payload: see [`crate::net::Stage`]); READ and
//! atomic samples are one transaction, WRITE and SEND samples are half a ping-pong of two:
//!
//! ```text
//!  sample − closed form = (X₁ + … + X_{2f}) / f,   f = 1 (READ, atomics), 2 (WRITE, SEND)
//!  X = b·E + [U < p] · m · V^(−1/α)        E ~ Exp(1), U, V ~ U(0, 1)
//! ```
//!
//! Only the host stage is fitted: end-to-end percentiles constrain the sum of the stages, not
//! their split, and the 99.9 % tails of 5–10 µs are OS-noise durations (a NIC pipeline or a
//! PCIe transaction varies by tens of ns); the other stages keep the base profile's values.
//!
//! * Body `b` (closed form): `t_typical − t_min` is the median of the body sum (its minimum over
//!   thousands of samples is ≈ 0): `b = median over rows of (t_typical − t_min) / c_f`, with
//!   `c_f` the median of `Gamma(2f, 1) / f` (statrs).
//! * Tail `(p, m, α)`: a grid search (log-spaced `p` and `m`, four shapes) minimising the
//!   squared relative errors of p99 and p99.9 over the rows, on one fixed set of draws (common
//!   random numbers: deterministic, and smooth enough to compare candidates).
//!
//! The median of the modelled noise shifts `t_typical`; [`NoiseFit::median_offset_us`] gives it
//! so that the closed-form fit targets `t_typical` minus that offset.

use statrs::distribution::{ContinuousCDF, Gamma};

use super::fit::RunSettings;
use super::parse::{Measure, PerftestRun, Row};
use crate::net::StageNoise;

/// The percentile columns of one latency row.
#[derive(Clone, Debug, PartialEq)]
pub struct TailObservation {
    /// Input file.
    pub file: String,
    /// The run's settings.
    pub settings: RunSettings,
    /// Message size, bytes.
    pub bytes: u64,
    /// `t_min`, µs.
    pub t_min_us: f64,
    /// `t_typical`, µs.
    pub t_typical_us: f64,
    /// `t_avg`, µs.
    pub t_avg_us: Option<f64>,
    /// `t_stdev`, µs.
    pub t_stdev_us: Option<f64>,
    /// 99 % percentile, µs.
    pub p99_us: Option<f64>,
    /// 99.9 % percentile, µs.
    pub p999_us: Option<f64>,
}

impl TailObservation {
    /// Transactions per sample: 2 for WRITE/SEND ping-pong halves, else 1.
    pub fn transactions(&self) -> usize {
        if self.settings.verb().carries_payload() {
            2
        } else {
            1
        }
    }
}

/// The latency rows of a file that carry percentile columns.
pub fn tail_observations(file: &str, runs: &[PerftestRun]) -> Vec<TailObservation> {
    let mut out = Vec::new();
    for run in runs
        .iter()
        .filter(|r| !r.test.bidirectional && r.test.measure == Measure::Latency)
    {
        for row in &run.rows {
            if let Row::Latency(r) = row {
                out.push(TailObservation {
                    file: file.to_string(),
                    settings: RunSettings::from_run(run, r.iterations),
                    bytes: r.bytes,
                    t_min_us: r.t_min_us,
                    t_typical_us: r.t_typical_us,
                    t_avg_us: r.t_avg_us,
                    t_stdev_us: r.t_stdev_us,
                    p99_us: r.p99_us,
                    p999_us: r.p999_us,
                });
            }
        }
    }
    out
}

/// A fitted host-stage (and RECV-stage) distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseFit {
    /// The host stage's distribution.
    pub host: StageNoise,
    /// The RECV stage's distribution (None: no SEND latency row carries percentiles).
    pub recv: Option<StageNoise>,
    /// Median of the sample noise of READ/atomic, WRITE and SEND samples, µs.
    pub median_us: [f64; 3],
}

/// 0 READ/atomic, 1 WRITE, 2 SEND.
fn kind(s: &RunSettings) -> usize {
    match s.verb() {
        crate::net::Verb::Write => 1,
        crate::net::Verb::Send => 2,
        _ => 0,
    }
}

impl NoiseFit {
    /// Median noise of a latency sample with settings `s`, µs (what it adds to `t_typical`).
    pub fn median_offset_us(&self, s: &RunSettings) -> f64 {
        self.median_us[kind(s)]
    }
}

/// Fixed draws of a sample with `2f` host traversals and `f` RECV traversals.
struct Draws {
    f: usize,
    e: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    /// RECV stage: one (E, U, V) per transaction.
    recv: Vec<[f64; 3]>,
}

const SAMPLES: usize = 20_000;

/// Rows up to this size estimate the body, bytes.
const SMALL_BYTES: u64 = 4096;

impl Draws {
    fn new(f: usize, seed: u64) -> Self {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let n = SAMPLES * 2 * f;
        let mut e = Vec::with_capacity(n);
        let mut u = Vec::with_capacity(n);
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            e.push(rng.sample::<f64, _>(rand_distr::Exp1));
            u.push(rng.random::<f64>());
            v.push(1.0 - rng.random::<f64>());
        }
        let recv = (0..SAMPLES * f)
            .map(|_| {
                [
                    rng.sample::<f64, _>(rand_distr::Exp1),
                    rng.random::<f64>(),
                    1.0 - rng.random::<f64>(),
                ]
            })
            .collect();
        Draws { f, e, u, v, recv }
    }

    /// Sample noise, µs, with the RECV stage `recv` on each transaction if given.
    fn samples(&self, s: &StageNoise, recv: Option<&StageNoise>) -> Vec<f64> {
        let k = 2 * self.f;
        let one = |s: &StageNoise, e: f64, u: f64, v: f64| {
            let mut x = s.body_mean_ns * e;
            if u < s.tail_prob {
                x += s.tail_min_ns * v.powf(-1.0 / s.tail_shape);
            }
            x
        };
        let out: Vec<f64> = (0..SAMPLES)
            .map(|i| {
                let mut x = 0.0;
                for j in i * k..(i + 1) * k {
                    x += one(s, self.e[j], self.u[j], self.v[j]);
                }
                if let Some(r) = recv {
                    for [e, u, v] in &self.recv[i * self.f..(i + 1) * self.f] {
                        x += one(r, *e, *u, *v);
                    }
                }
                x / self.f as f64 / 1e3
            })
            .collect();
        out
    }
}

/// The statistics of a set of noise samples the fit compares, µs.
struct Stats {
    median: f64,
    p99: f64,
    p999: f64,
    /// perftest's standard deviation: deviations from the mean truncated to whole µs.
    stdev: f64,
}

impl Stats {
    fn of(mut v: Vec<f64>) -> Self {
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v
            .iter()
            .map(|x| ((mean - x) as i64 as f64).powi(2))
            .sum::<f64>()
            / n as f64;
        let mut at = |q: f64| {
            let k = ((n as f64 * q).ceil() as usize).min(n - 1);
            *v.select_nth_unstable_by(k, f64::total_cmp).1
        };
        Stats {
            p999: at(0.999),
            p99: at(0.99),
            median: at(0.5),
            stdev: var.sqrt(),
        }
    }
}

/// perftest's percentile of sorted samples (`sorted[ceil(q n)]`).
#[cfg(test)]
fn pick(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q).ceil() as usize).min(sorted.len() - 1)]
}

/// Fits the host stage to the rows' percentile columns; None if no row carries p99 or p99.9.
pub fn fit_host_noise(obs: &[&TailObservation]) -> Option<NoiseFit> {
    let with_tail: Vec<&&TailObservation> = obs
        .iter()
        .filter(|o| o.p99_us.is_some() || o.p999_us.is_some())
        .collect();
    if with_tail.is_empty() {
        return None;
    }
    let gamma_median = |f: usize| {
        Gamma::new(2.0 * f as f64, 1.0)
            .expect("valid gamma")
            .inverse_cdf(0.5)
            / f as f64
    };
    // Large messages add a size-dependent spread (streaming stages, not modelled here): the
    // body comes from the rows of at most one 4 KiB page where there are any.
    let small: Vec<&&TailObservation> = with_tail
        .iter()
        .copied()
        .filter(|o| o.bytes <= SMALL_BYTES)
        .collect();
    let body_rows = if small.is_empty() { &with_tail } else { &small };
    let mut body: Vec<f64> = body_rows
        .iter()
        .map(|o| (o.t_typical_us - o.t_min_us).max(0.0) * 1e3 / gamma_median(o.transactions()))
        .collect();
    body.sort_by(f64::total_cmp);
    let b = body[body.len() / 2];
    // Two independent sets of draws: a candidate whose p99.9 sits on the edge between body and
    // tail (a knife edge that one set of draws can favour) pays on the other.
    let draws = [
        [Draws::new(1, 11), Draws::new(2, 12)],
        [Draws::new(1, 21), Draws::new(2, 22)],
    ];
    let has = |f: usize| with_tail.iter().any(|o| o.transactions() == f);
    let (has1, has2) = (has(1), has(2));
    // The cost of a candidate on `rows`: squared relative errors of p99, p99.9 and perftest's
    // (integer-truncated) standard deviation, which pins how often the tail occurs (the host
    // stage only: sub-µs RECV delays vanish in the truncation).
    let cost = |rows: &[&&TailObservation],
                host: &StageNoise,
                recv: Option<&StageNoise>,
                sd_term: bool| {
        let mut c = 0.0;
        for set in &draws {
            let stats = [
                has1.then(|| Stats::of(set[0].samples(host, None))),
                has2.then(|| Stats::of(set[1].samples(host, recv))),
            ];
            for o in rows {
                let Some(d) = &stats[o.transactions() - 1] else {
                    continue;
                };
                for (model, m) in [
                    (o.t_typical_us + d.p99 - d.median, o.p99_us),
                    (o.t_typical_us + d.p999 - d.median, o.p999_us),
                ] {
                    if let Some(m) = m {
                        c += (model / m - 1.0).powi(2);
                    }
                }
                if let Some(sd) = o.t_stdev_us
                    && sd_term
                    && sd > 0.0
                {
                    c += ((d.stdev + 0.01) / (sd + 0.01)).ln().powi(2);
                }
            }
        }
        c
    };
    let is_send = |o: &&&TailObservation| o.settings.verb() == crate::net::Verb::Send;
    // The host stage from every verb but SEND (SEND adds its own RECV stage), or from SEND
    // alone when it is all there is.
    let host_rows: Vec<&&TailObservation> = {
        let v: Vec<_> = with_tail.iter().copied().filter(|o| !is_send(o)).collect();
        if v.is_empty() { with_tail.clone() } else { v }
    };
    let only_send = host_rows.iter().all(is_send);
    let host = grid_search(b, |s| cost(&host_rows, s, None, true));
    let send_rows: Vec<&&TailObservation> = with_tail.iter().copied().filter(is_send).collect();
    let recv = if send_rows.is_empty() || only_send {
        None
    } else {
        Some(grid_search(0.0, |r| {
            cost(&send_rows, &host, Some(r), false)
        }))
    };
    let median_us = [
        Stats::of(draws[0][0].samples(&host, None)).median,
        Stats::of(draws[0][1].samples(&host, None)).median,
        Stats::of(draws[0][1].samples(&host, recv.as_ref())).median,
    ];
    Some(NoiseFit {
        host,
        recv,
        median_us,
    })
}

/// The tail `(p, m, α)` with body `body_ns` minimising `cost` over the grid (`p = 0` included).
fn grid_search(body_ns: f64, cost: impl Fn(&StageNoise) -> f64) -> StageNoise {
    let grid = |lo: f64, hi: f64, n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64))
            .collect()
    };
    let mut best = (f64::INFINITY, StageNoise::default());
    for p in std::iter::once(0.0).chain(grid(1e-4, 5e-2, 14)) {
        let mins = if p == 0.0 {
            vec![0.0]
        } else {
            grid(100.0, 30_000.0, 18)
        };
        for &m in &mins {
            for a in [1.5, 2.0, 3.0, 5.0] {
                let s = StageNoise {
                    body_mean_ns: body_ns,
                    tail_prob: p,
                    tail_min_ns: m,
                    tail_shape: a,
                };
                let c = cost(&s);
                if c < best.0 {
                    best = (c, s);
                }
                if p == 0.0 {
                    break;
                }
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perftest::parse_test_name;

    fn obs(name: &str, typ: f64, min: f64, p99: f64, p999: f64) -> TailObservation {
        TailObservation {
            file: "f".into(),
            settings: RunSettings::perftest_defaults(parse_test_name(name).unwrap()),
            bytes: 8,
            t_min_us: min,
            t_typical_us: typ,
            t_avg_us: None,
            t_stdev_us: None,
            p99_us: Some(p99),
            p999_us: Some(p999),
        }
    }

    #[test]
    fn recovers_a_known_tail_from_its_own_percentiles() {
        // Percentiles generated by the model itself (body 50 ns, 0.1 % × Pareto(4 µs, 2)) on
        // other draws; the fit must land within the grid's resolution of the same p99.9.
        let truth = StageNoise {
            body_mean_ns: 50.0,
            tail_prob: 1.2e-3,
            tail_min_ns: 4000.0,
            tail_shape: 2.0,
        };
        let mut d = Draws::new(1, 99).samples(&truth, None);
        d.sort_by(f64::total_cmp);
        let base = 2.0;
        let o = obs(
            "RDMA_Read Latency Test",
            base + pick(&d, 0.5),
            base + d[0],
            base + pick(&d, 0.99),
            base + pick(&d, 0.999),
        );
        let fit = fit_host_noise(&[&o]).unwrap();
        let mut f = Draws::new(1, 5).samples(&fit.host, None);
        f.sort_by(f64::total_cmp);
        let p999 = base + pick(&f, 0.999) - pick(&f, 0.5) + o.t_typical_us - base;
        assert!(
            (p999 / o.p999_us.unwrap() - 1.0).abs() < 0.15,
            "{p999} vs {:?} ({:?})",
            o.p999_us,
            fit.host
        );
        assert!(
            (fit.host.body_mean_ns - 50.0).abs() < 20.0,
            "{:?}",
            fit.host
        );
    }

    #[test]
    fn no_percentiles_no_fit() {
        let mut o = obs("RDMA_Read Latency Test", 2.0, 1.9, 2.1, 9.0);
        o.p99_us = None;
        o.p999_us = None;
        assert!(fit_host_noise(&[&o]).is_none());
    }
}
