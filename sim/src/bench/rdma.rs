//! `kvcsim bench rdma`: perftest's experiments on the modelled hardware, reported with
//! perftest's own statistics and table format (PERFTEST_FORMAT.md §2–§4).

use kvcsim_models::net::NetworkProfile;
use kvcsim_models::perftest::{Measure, PerftestVerb, RunSettings, TestId};
use serde::Serialize;

use super::perftest_world;

/// perftest's `-a` sizes: 2 B to 8 MiB (atomics: 8 B only).
pub fn sweep_sizes(test: TestId) -> Vec<u64> {
    if matches!(
        test.verb,
        PerftestVerb::FetchAdd | PerftestVerb::CompareSwap
    ) {
        vec![8]
    } else {
        (1..=23).map(|i| 1u64 << i).collect()
    }
}

/// One result row, in perftest's columns (JSON names with units).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchRow {
    /// Message size, bytes.
    pub bytes: u64,
    /// Iterations.
    pub iterations: u64,
    /// Latency columns, µs (latency tests).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub lat: Option<LatStats>,
    /// Bandwidth columns (BW tests).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub bw: Option<BwStats>,
}

/// perftest's latency statistics, µs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatStats {
    /// Smallest sample.
    pub t_min_us: f64,
    /// `sorted[n]`: the second-largest sample.
    pub t_max_us: f64,
    /// Median of the `n = iters − 3` smallest.
    pub t_typical_us: f64,
    /// Mean of the same.
    pub t_avg_us: f64,
    /// perftest's coarse standard deviation (integer-truncated deviations).
    pub t_stdev_us: f64,
    /// `sorted[ceil(0.99 n)]`.
    pub p99_us: f64,
    /// `sorted[ceil(0.999 n)]`.
    pub p999_us: f64,
}

/// perftest's bandwidth statistics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BwStats {
    /// Best windowed rate, MiB/s (0 when not computed: see [`bw_stats`]).
    pub bw_peak_mib_s: f64,
    /// bytes × iterations / (last completion − first post), MiB/s.
    pub bw_avg_mib_s: f64,
    /// iterations / (last completion − first post), Mpps.
    pub msg_rate_mpps: f64,
}

/// perftest's `print_report_lat`: deltas of consecutive post times, divided by the RTT factor
/// (2 for WRITE/SEND ping-pong), sorted, the 2 largest dropped (`LAT_MEASURE_TAIL`).
pub fn latency_stats(posted_ns: &[f64], rtt_factor: f64) -> LatStats {
    let mut d: Vec<f64> = posted_ns
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1e3 / rtt_factor)
        .collect();
    d.sort_by(f64::total_cmp);
    if d.len() < 3 {
        let v = d.first().copied().unwrap_or(f64::NAN);
        return LatStats {
            t_min_us: v,
            t_max_us: v,
            t_typical_us: v,
            t_avg_us: v,
            t_stdev_us: 0.0,
            p99_us: v,
            p999_us: v,
        };
    }
    let n = d.len() - 2;
    let median = if n.is_multiple_of(2) {
        (d[n / 2] + d[n / 2 - 1]) / 2.0
    } else {
        d[n / 2]
    };
    let avg = d[..n].iter().sum::<f64>() / n as f64;
    // perftest truncates each deviation to an int before squaring.
    let var = d[..n]
        .iter()
        .map(|x| ((avg - x) as i64 as f64).powi(2))
        .sum::<f64>()
        / n as f64;
    let idx = |q: f64| ((n as f64 * q).ceil() as usize).min(d.len() - 1);
    LatStats {
        t_min_us: d[0],
        t_max_us: d[n],
        t_typical_us: median,
        t_avg_us: avg,
        t_stdev_us: var.sqrt(),
        p99_us: d[idx(0.99)],
        p999_us: d[idx(0.999)],
    }
}

/// perftest's `print_report_bw`. The peak is the best `(tcompleted[j] − tposted[i]) / (j − i + 1)`
/// over `i, j` stepping by `cq_mod`; it is skipped (0.00, as perftest prints when it does not
/// measure the peak) when that search would exceed 10⁸ pairs.
pub fn bw_stats(posted_ns: &[f64], completed_ns: &[f64], bytes: u64, cq_mod: u64) -> BwStats {
    let n = completed_ns.len().min(posted_ns.len());
    if n == 0 {
        return BwStats {
            bw_peak_mib_s: 0.0,
            bw_avg_mib_s: 0.0,
            msg_rate_mpps: 0.0,
        };
    }
    let span_s = (completed_ns[n - 1] - posted_ns[0]) * 1e-9;
    let rate = n as f64 / span_s;
    let step = cq_mod.max(1) as usize;
    let windows = n.div_ceil(step) as f64;
    let mut peak = 0.0;
    if windows * windows / 2.0 <= 1e8 {
        let mut best = f64::INFINITY;
        for i in (0..n).step_by(step) {
            for j in (i..n).step_by(step) {
                let t = (completed_ns[j] - posted_ns[i]) / (j - i + 1) as f64;
                if t < best {
                    best = t;
                }
            }
        }
        peak = bytes as f64 / (best * 1e-9) / 1_048_576.0;
    }
    BwStats {
        bw_peak_mib_s: peak,
        bw_avg_mib_s: rate * bytes as f64 / 1_048_576.0,
        msg_rate_mpps: rate / 1e6,
    }
}

/// Runs the experiment for each size.
pub fn run(profile: &NetworkProfile, s: &RunSettings, sizes: &[u64], seed: u64) -> Vec<BenchRow> {
    sizes
        .iter()
        .map(|&bytes| {
            let bytes = if matches!(
                s.test.verb,
                PerftestVerb::FetchAdd | PerftestVerb::CompareSwap
            ) {
                8
            } else {
                bytes
            };
            let trace = perftest_world::run(profile, s, bytes, seed);
            let (lat, bw) = match s.test.measure {
                Measure::Latency => {
                    let factor = if s.verb().carries_payload() { 2.0 } else { 1.0 };
                    (Some(latency_stats(&trace.posted_ns, factor)), None)
                }
                Measure::Bandwidth => (
                    None,
                    Some(bw_stats(
                        &trace.posted_ns,
                        &trace.completed_ns,
                        bytes,
                        s.cq_mod,
                    )),
                ),
            };
            BenchRow {
                bytes,
                iterations: s.iterations,
                lat,
                bw,
            }
        })
        .collect()
}

const RESULT_LINE: &str =
    "---------------------------------------------------------------------------------------";

/// perftest's test-name line text (`RDMA_Read BW Test`).
pub fn test_title(test: TestId) -> String {
    let verb = match test.verb {
        PerftestVerb::Read => "RDMA_Read",
        PerftestVerb::Write => "RDMA_Write",
        PerftestVerb::Send => "Send",
        PerftestVerb::FetchAdd => "Atomic FETCH_AND_ADD",
        PerftestVerb::CompareSwap => "Atomic CMP_AND_SWAP",
    };
    let kind = match test.measure {
        Measure::Latency => "Latency",
        Measure::Bandwidth if test.post_list => "Post List BW",
        Measure::Bandwidth => "BW",
    };
    format!("{verb} {kind} Test")
}

/// The whole report in perftest's text format (header block, column header, rows).
pub fn format_text(profile: &NetworkProfile, s: &RunSettings, rows: &[BenchRow]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let transport = match profile.transport {
        kvcsim_models::net::Transport::EfaSrd => ("SRD", "IB"),
        kvcsim_models::net::Transport::Roce => ("RC", "Ethernet"),
        _ => ("RC", "IB"),
    };
    let _ = writeln!(o, "{RESULT_LINE}");
    let _ = writeln!(o, "                    {}", test_title(s.test));
    let _ = writeln!(
        o,
        " Dual-port       : OFF\t\tDevice         : kvcsim:{}",
        profile.name
    );
    let _ = writeln!(o, " Number of qps   : {}\t\tTransport type : IB", s.qps);
    let _ = writeln!(
        o,
        " Connection type : {}\t\tUsing SRQ      : OFF",
        transport.0
    );
    let _ = writeln!(o, " TX depth        : {}", s.tx_depth);
    if s.post_list > 1 {
        let _ = writeln!(o, " Post List       : {}", s.post_list);
    }
    if s.test.measure == Measure::Bandwidth {
        let _ = writeln!(o, " CQ Moderation   : {}", s.cq_mod);
    }
    let _ = writeln!(o, " Mtu             : {}[B]", profile.nic.mtu_bytes);
    let _ = writeln!(o, " Link type       : {}", transport.1);
    if s.verb().carries_payload() {
        let inline = s.inline_bytes.min(profile.nic.max_inline_bytes);
        let _ = writeln!(o, " Max inline data : {inline}[B]");
    } else {
        let _ = writeln!(o, " Outstand reads  : {}", s.outstanding_reads);
    }
    let _ = writeln!(o, " rdma_cm QPs\t : OFF");
    let _ = writeln!(o, " Data ex. method : kvcsim (simulated)");
    let _ = writeln!(o, "{RESULT_LINE}");
    match s.test.measure {
        Measure::Bandwidth => {
            let _ = writeln!(
                o,
                " #bytes     #iterations    BW peak[MiB/sec]    BW average[MiB/sec]   MsgRate[Mpps]"
            );
            for r in rows {
                let b = r.bw.expect("bw row");
                let _ = writeln!(
                    o,
                    " {:<7}    {:<10}       {:<7.2}            {:<7.2}\t\t     {:<7.6}",
                    r.bytes, r.iterations, b.bw_peak_mib_s, b.bw_avg_mib_s, b.msg_rate_mpps
                );
            }
        }
        Measure::Latency => {
            let _ = writeln!(
                o,
                " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] "
            );
            for r in rows {
                let l = r.lat.expect("lat row");
                let _ = writeln!(
                    o,
                    " {:<7} {}          {:<7.2}        {:<7.2}      {:<7.2}  \t       {:<7.2}     \t{:<7.2}\t\t{:<7.2} \t\t{:<7.2}",
                    r.bytes,
                    r.iterations,
                    l.t_min_us,
                    l.t_max_us,
                    l.t_typical_us,
                    l.t_avg_us,
                    l.t_stdev_us,
                    l.p99_us,
                    l.p999_us
                );
            }
        }
    }
    let _ = writeln!(o, "{RESULT_LINE}");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvcsim_models::perftest::{parse_perftest, parse_test_name};

    #[test]
    fn latency_stats_follow_perftest() {
        // 11 posts 1 µs apart except two slow ones: 10 deltas, n = 8 after dropping 2.
        let mut t = vec![0.0];
        for d in [
            1000.0, 1000.0, 1000.0, 5000.0, 1000.0, 1000.0, 1000.0, 9000.0, 1000.0, 1000.0,
        ] {
            let last = *t.last().unwrap();
            t.push(last + d);
        }
        let s = latency_stats(&t, 1.0);
        assert_eq!((s.t_min_us, s.t_typical_us, s.t_max_us), (1.0, 1.0, 5.0));
        let s2 = latency_stats(&t, 2.0);
        assert_eq!(s2.t_typical_us, 0.5);
    }

    #[test]
    fn text_output_parses_back() {
        let p = NetworkProfile::default();
        for name in ["RDMA_Read Latency Test", "Send BW Test"] {
            let mut s = RunSettings::perftest_defaults(parse_test_name(name).unwrap());
            s.iterations = 50;
            let rows = run(&p, &s, &[2, 4096], 1);
            let text = format_text(&p, &s, &rows);
            let runs = parse_perftest(&text).unwrap();
            assert_eq!(runs.len(), 1, "{text}");
            assert_eq!(runs[0].rows.len(), 2);
            assert_eq!(runs[0].test, s.test);
        }
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;
    use kvcsim_models::perftest::parse_test_name;

    fn write_rate(qps: u64) -> f64 {
        // Default profile: 4 units at 35 M msg/s → 114 ns per WR per unit; QP cache 256,
        // miss 500 ns. Post lists of 32 make the CPU (≈22.5 ns per WR) faster than the NIC.
        let p = NetworkProfile::default();
        let mut s = RunSettings::perftest_defaults(parse_test_name("RDMA_Write BW Test").unwrap());
        s.iterations = 40_000;
        s.qps = qps;
        s.post_list = 32;
        s.cq_mod = 32;
        run(&p, &s, &[8], 1)[0].bw.unwrap().msg_rate_mpps
    }

    #[test]
    fn message_rate_saturates_at_the_nic_ceiling() {
        let r = write_rate(8);
        assert!(
            (r - 35.0).abs() < 0.05 * 35.0,
            "{r} Mpps vs the 35 Mpps ceiling"
        );
    }

    #[test]
    fn message_rate_falls_when_active_qps_exceed_the_qp_cache() {
        // 512 QPs round-robin over a 256-entry LRU: every WR misses: 4 / (114 + 500 ns) ≈ 6.5 Mpps.
        let hit = write_rate(128);
        let miss = write_rate(512);
        let expected = 4.0 / (4.0 / 35e6 * 1e9 + 500.0) * 1e3;
        assert!(miss < 0.3 * hit, "{miss} vs {hit}");
        assert!(
            (miss - expected).abs() < 0.05 * expected,
            "{miss} vs {expected}"
        );
    }
}
