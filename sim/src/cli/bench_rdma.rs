//! `kvcsim bench rdma`: perftest replayed on a modelled network.

use std::path::PathBuf;

use crate::error::Context;
use clap::{Args, ValueEnum};
use kvcsim_models::net::NetworkProfile;
use kvcsim_models::perftest::{Measure, PerftestVerb, RunSettings, TestId};

use crate::bench::rdma;
use crate::error::input_error;

/// perftest tool to replay.
#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RdmaTest {
    /// `ib_read_lat` (full round trip).
    ReadLat,
    /// `ib_write_lat` (half round trip of a ping-pong).
    WriteLat,
    /// `ib_send_lat` (half round trip of a ping-pong).
    SendLat,
    /// `ib_atomic_lat` (FETCH_AND_ADD, full round trip).
    AtomicLat,
    /// `ib_read_bw`.
    ReadBw,
    /// `ib_write_bw`.
    WriteBw,
    /// `ib_send_bw`.
    SendBw,
    /// `ib_atomic_bw` (FETCH_AND_ADD, one address).
    AtomicBw,
}

impl RdmaTest {
    fn id(self) -> TestId {
        use Measure::*;
        use PerftestVerb::*;
        let (verb, measure) = match self {
            RdmaTest::ReadLat => (Read, Latency),
            RdmaTest::WriteLat => (Write, Latency),
            RdmaTest::SendLat => (Send, Latency),
            RdmaTest::AtomicLat => (FetchAdd, Latency),
            RdmaTest::ReadBw => (Read, Bandwidth),
            RdmaTest::WriteBw => (Write, Bandwidth),
            RdmaTest::SendBw => (Send, Bandwidth),
            RdmaTest::AtomicBw => (FetchAdd, Bandwidth),
        };
        TestId {
            verb,
            measure,
            bidirectional: false,
            post_list: false,
        }
    }
}

/// Arguments of `kvcsim bench rdma`.
#[derive(Debug, Args)]
pub struct RdmaArgs {
    /// Network profile (YAML), e.g. scenarios/hardware/network/connectx3-qdr-ib.yaml.
    #[arg(long)]
    profile: PathBuf,
    /// perftest tool to replay.
    #[arg(long, value_enum)]
    test: RdmaTest,
    /// All sizes 2 B .. 8 MiB (perftest -a).
    #[arg(short = 'a', long = "all", conflicts_with = "size")]
    all: bool,
    /// Message size, bytes (perftest -s). Default: 2 (latency), 65536 (BW), 8 (atomics).
    #[arg(short = 's', long)]
    size: Option<u64>,
    /// Iterations per size (perftest -n). Default: 1000 (5000 for write_bw).
    #[arg(short = 'n', long = "iters")]
    iters: Option<u64>,
    /// Queue pairs (perftest -q); WRs go round-robin over them.
    #[arg(long, default_value_t = 1)]
    qps: u64,
    /// WRs per post call, one doorbell (perftest -l).
    #[arg(long, default_value_t = 1)]
    post_list: u64,
    /// WRs in flight per QP (perftest -t). Default: 1 (latency), 128 (BW).
    #[arg(long)]
    tx_depth: Option<u64>,
    /// One signalled WR every N (perftest -Q). Default 100 for BW tests.
    #[arg(long)]
    cq_mod: Option<u64>,
    /// Inline threshold, bytes (perftest -I). Default: 220 WRITE / 236 SEND latency, 0 BW.
    #[arg(long)]
    inline_size: Option<u64>,
    /// Seed of the jitter stream (only used by profiles with jitter).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print `{"rows": [...]}` instead of perftest's table.
    #[arg(long)]
    json: bool,
}

/// Runs `kvcsim bench rdma`.
pub fn run(a: RdmaArgs, limits: crate::limits::Limits) -> crate::error::Result<()> {
    let profile = NetworkProfile::load(&a.profile)
        .with_context(|| format!("loading --profile {}", a.profile.display()))?;
    let test = a.test.id();
    let mut s = RunSettings::perftest_defaults(test);
    if let Some(n) = a.iters {
        s.iterations = n;
    }
    if let Some(t) = a.tx_depth {
        s.tx_depth = t;
    }
    if let Some(c) = a.cq_mod {
        s.cq_mod = c;
    }
    if let Some(i) = a.inline_size {
        s.inline_bytes = i;
    }
    s.qps = a.qps;
    s.post_list = a.post_list;
    s.test.post_list = a.post_list > 1;
    s.outstanding_reads = u64::from(profile.nic.max_outstanding_reads);
    for (flag, v) in [
        ("--iters", s.iterations),
        ("--qps", s.qps),
        ("--post-list", s.post_list),
        ("--tx-depth", s.tx_depth),
        ("--cq-mod", s.cq_mod),
    ] {
        if v == 0 {
            return Err(input_error(format!("{flag} must be at least 1")));
        }
    }
    if s.post_list > s.tx_depth {
        return Err(input_error(format!(
            "--post-list {} exceeds --tx-depth {} (perftest requires post list <= tx depth)",
            s.post_list, s.tx_depth
        )));
    }
    limits.count("--qps", s.qps, crate::limits::BENCH_QPS)?;
    if s.iterations > 50_000_000 {
        return Err(input_error("--iters above 50000000 is not supported"));
    }
    let atomic = matches!(
        test.verb,
        PerftestVerb::FetchAdd | PerftestVerb::CompareSwap
    );
    let sizes = if a.all {
        rdma::sweep_sizes(test)
    } else {
        let d = match (atomic, test.measure) {
            (true, _) => 8,
            (_, Measure::Latency) => 2,
            (_, Measure::Bandwidth) => 65536,
        };
        let size = a.size.unwrap_or(d);
        if size == 0 || size > 1 << 30 {
            return Err(input_error(format!(
                "--size {size} must be between 1 and 2^30 bytes"
            )));
        }
        vec![size]
    };
    let rows = rdma::run(&profile, &s, &sizes, a.seed);
    if a.json {
        println!("{}", serde_json::json!({ "rows": rows }));
    } else {
        print!("{}", rdma::format_text(&profile, &s, &rows));
    }
    Ok(())
}
