//! Fuzzing every parser on stable Rust: proptest feeds arbitrary bytes, and mutations of valid
//! inputs (byte flips, inserted tokens such as `nan`, `-1`, `1e309`, `[`, deleted and repeated
//! spans), to the Mooncake JSONL and Azure CSV readers, the perftest parser, scenario and sweep
//! YAML, and the network, GPU and model profiles. The property: no panic, and every error names
//! where it is (the file name given, or a field).
//!
//! `cargo test` runs `KVCSIM_FUZZ_CASES` cases of each (default 64). The nightly-style run:
//! `KVCSIM_FUZZ_CASES=1000000 cargo test --release -p kvcsim --test integration fuzz`
//! (README, "Robustness", gives the figures).

use std::path::Path;

use kvcsim_traces::{ReadOptions, TraceFormat, TraceReader};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per parser and input kind.
fn cases() -> u32 {
    std::env::var("KVCSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Tokens that break parsers in practice: extremes, non-numbers, structure, encodings.
const TOKENS: &[&str] = &[
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "1e-300",
    "18446744073709551616",
    "4294967296",
    "9223372036854775808",
    "null",
    "true",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "\"",
    "\n",
    "\t",
    "\u{FEFF}",
    "\u{0}",
    "é",
    "- ",
    "*a",
    "&a ",
    "!!binary ",
    "---\n",
    "kind: ",
    "x: 1\n",
];

/// One mutation of a valid input.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR a byte.
    Flip(usize, u8),
    /// Insert a token.
    Insert(usize, usize),
    /// Delete a span.
    Delete(usize, usize),
    /// Repeat a span.
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<usize>(), 1..32usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1..64usize).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn mutate(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for m in mutations {
        let len = b.len().max(1);
        match *m {
            Mutation::Flip(i, x) => {
                if !b.is_empty() {
                    let i = i % b.len();
                    b[i] ^= x;
                }
            }
            Mutation::Insert(i, t) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, TOKENS[t].bytes());
            }
            Mutation::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(b.len());
                if i < end {
                    b.drain(i..end);
                }
            }
            Mutation::Repeat(i, n) => {
                let i = i % len;
                let end = (i + n).min(b.len());
                if i < end {
                    let span: Vec<u8> = b[i..end].to_vec();
                    b.splice(end..end, span);
                }
            }
        }
    }
    b
}

/// Runs `check` on arbitrary bytes and on mutations of each seed; a panic fails the test with
/// the minimal input proptest finds.
fn fuzz(seeds: &[&str], check: impl Fn(&[u8])) {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |bytes| {
            check(&bytes);
            Ok(())
        })
        .unwrap();
    for seed in seeds {
        let mut runner = TestRunner::new(config.clone());
        runner
            .run(&proptest::collection::vec(mutation(), 1..8), |ms| {
                check(&mutate(seed, &ms));
                Ok(())
            })
            .unwrap();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_trace(bytes: &[u8], format: TraceFormat, name: &str) {
    let options = ReadOptions {
        block_size: 4,
        ..ReadOptions::default()
    };
    match TraceReader::from_bytes(name, format, bytes.to_vec(), &options) {
        Ok(reader) => {
            for r in reader {
                if let Err(e) = r {
                    assert!(e.to_string().contains(name), "{e}");
                    assert!(e.is_user_error(), "{e}");
                }
            }
        }
        Err(e) => {
            assert!(e.to_string().contains(name), "{e}");
            assert!(e.is_user_error(), "{e}");
        }
    }
}

const MOONCAKE: &str = "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [0, 1]}\n\
{\"timestamp\": 10.5, \"input_length\": 8, \"output_length\": 1, \"hash_ids\": [0, 7], \"chat_id\": 3}\n\
\n{\"timestamp\": 27, \"input_length\": 1, \"output_length\": 9, \"hash_ids\": [9]}\n";

const AZURE: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n\
2023-11-16 18:16:01.0,1,1\n";

#[test]
fn fuzz_mooncake_jsonl() {
    fuzz(&[MOONCAKE], |b| {
        read_trace(b, TraceFormat::Mooncake, "fuzz.jsonl")
    });
}

#[test]
fn fuzz_azure_csv() {
    fuzz(&[AZURE], |b| read_trace(b, TraceFormat::Azure, "fuzz.csv"));
}

const PERFTEST_BW: &str =
    "---------------------------------------------------------------------------------------
                    RDMA_Write BW Test
 Dual-port       : OFF\t\tDevice         : mlx5_0
 Number of qps   : 1\t\tTransport type : IB
 Connection type : RC\t\tUsing SRQ      : OFF
 TX depth        : 128
 Mtu             : 4096[B]
 Link type       : IB
---------------------------------------------------------------------------------------
 #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]
 2          5000           9.88               9.78               5.128076
 65536      5000           11613.43           11611.74           0.185788
---------------------------------------------------------------------------------------
";

const PERFTEST_LAT: &str = "---------------------------------------------------------------------------------------
                    RDMA_Read Latency Test
 Dual-port       : OFF          Device         : mlx4_0
 Link type       : IB
 Outstand reads  : 16
---------------------------------------------------------------------------------------
 #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec]
 2       1000          1.90           13.00        2.00               2.01          0.32            2.13                    9.95
 8388608 1000          2177.92        2240.08      2184.09            2184.33       2.24            2192.22                 2202.42
---------------------------------------------------------------------------------------
";

#[test]
fn fuzz_perftest_text() {
    assert!(kvcsim_models::perftest::parse_perftest(PERFTEST_BW).is_ok());
    assert!(kvcsim_models::perftest::parse_perftest(PERFTEST_LAT).is_ok());
    fuzz(&[PERFTEST_BW, PERFTEST_LAT], |b| {
        if let Ok(runs) = kvcsim_models::perftest::parse_perftest(&text(b)) {
            // What parses is finite: no NaN reaches a fit.
            for run in runs {
                for row in &run.rows {
                    let _ = row.bytes();
                }
            }
        }
    });
}

const SCENARIO: &str = "seed: 3
workload:
  synthetic: { limit: { requests: 20 }, arrivals: { kind: poisson, rate_per_s: 5 } }
  rate_scale: 1.5
cluster: { instances: 2, gpu: h100-sxm, tensor_parallel: 1, scheduler: { max_batch_tokens: 4096 } }
router: { kind: cache-aware }
cache:
  eviction: { kind: s3fifo, small_fraction: 0.2 }
  tiers: [{ kind: dram, capacity_gb: 64 }, { kind: ssd, capacity_blocks: 1000 }]
  links: { pcie_gen: 4 }
output: { timeseries_interval_s: 0.5 }
";

#[test]
fn fuzz_scenario_yaml() {
    fn check(b: &[u8]) {
        match kvcsim::scenario::load_str(&text(b), "fuzz.yaml", Path::new(""), &[]) {
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_user_error());
                assert!(e.to_string().contains("fuzz.yaml"), "{e}");
            }
        }
    }
    check(SCENARIO.as_bytes());
    fuzz(&[SCENARIO, kvcsim::scenario::DEFAULT_SCENARIO], check);
}

const SWEEP: &str = "base:
  workload: { synthetic: { limit: { requests: 10 } } }
parameters:
  - { path: cluster.instances, values: [1, 2] }
  - { path: workload.rate_scale, range: { from: 0.5, to: 2.0, steps: 3, scale: log } }
  - zip:
      - { path: cache.capacity_blocks, values: [100, 200] }
      - { path: cluster.scheduler.max_running, values: [8, 16] }
seeds: 2
";

#[test]
fn fuzz_sweep_yaml() {
    fuzz(&[SWEEP], |b| {
        match kvcsim::sweep::load_spec_str(&text(b), "fuzz-sweep.yaml", Path::new("")) {
            Ok(spec) => {
                // Plan (which builds every point's scenario) only small grids.
                let points: usize = spec.axes.iter().map(|a| a.steps.len()).product::<usize>()
                    * spec.seeds.as_ref().map_or(1, Vec::len);
                if points <= 64
                    && let Err(e) = kvcsim::sweep::plan(spec)
                {
                    assert!(e.is_user_error(), "{e}");
                }
            }
            Err(e) => assert!(e.is_user_error(), "{e}"),
        }
    });
}

#[test]
fn fuzz_network_profile() {
    let seeds = [
        include_str!("../../../scenarios/hardware/network/connectx6-100g-roce.yaml"),
        include_str!("../../../scenarios/hardware/network/tcp-kernel-100g.yaml"),
    ];
    fuzz(&seeds, |b| {
        if let Err(e) = kvcsim_models::net::NetworkProfile::from_yaml(&text(b)) {
            assert!(e.is_user_error(), "{e}");
        }
    });
}

#[test]
fn fuzz_gpu_profile() {
    let seeds = [include_str!(
        "../../../scenarios/hardware/gpus/h100-sxm.yaml"
    )];
    fuzz(&seeds, |b| {
        if let Ok(spec) = serde_norway::from_str::<kvcsim_models::hardware::GpuSpec>(&text(b)) {
            let _ = spec.validate();
        }
    });
}

#[test]
fn fuzz_model_profile() {
    let seeds = [include_str!(
        "../../../scenarios/hardware/models/llama-3.1-8b.yaml"
    )];
    fuzz(&seeds, |b| {
        if let Ok(spec) = serde_norway::from_str::<kvcsim_models::hardware::LlmSpec>(&text(b)) {
            let _ = spec.validate();
        }
    });
}
