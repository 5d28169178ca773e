//! `kvcsim cache replay`: LRU gives exactly the numbers of `trace stats --lru`, on random
//! fixtures and, when `../shared` is there, on the Mooncake conversation trace; the command's
//! outputs.

use std::path::Path;
use std::process::Command;

use kvcsim::cache_replay::{load_trace, replay_all};
use kvcsim_models::cache::EvictionConfig;
use kvcsim_traces::stats::{Capacity, StatsOptions, compute};
use kvcsim_traces::{ReadOptions, TraceReader};
use proptest::prelude::*;

use super::write_trace;

fn lru_matches_trace_stats(path: &Path, capacities: &[Capacity]) {
    let options = ReadOptions::default();
    let stats = compute(
        TraceReader::open(path, &options).unwrap(),
        &StatsOptions {
            capacities: capacities.to_vec(),
        },
    )
    .unwrap();
    let trace = load_trace(path, &options).unwrap();
    let points = replay_all(&trace, &[EvictionConfig::Lru], capacities).unwrap();
    assert_eq!(points.len(), stats.lru.len());
    for (p, s) in points.iter().zip(&stats.lru) {
        assert_eq!(p.capacity_blocks, s.capacity_blocks);
        assert_eq!(
            Some(p.block_hit_ratio),
            s.block_hit_ratio,
            "{:?}",
            s.capacity
        );
        assert_eq!(
            Some(p.prefix_hit_ratio),
            s.prefix_hit_ratio,
            "{:?}",
            s.capacity
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Random prefix-chained traces, timestamps with ties and gaps.
    #[test]
    fn lru_equals_trace_stats_on_fixtures(
        requests in prop::collection::vec((0..3u64, 0..5u64, 1..9u64), 1..60),
        capacity in 1..30u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut ts = 0;
        let rows: Vec<(u64, u64, u64, Vec<u64>)> = requests
            .iter()
            .map(|&(gap, base, len)| {
                ts += gap;
                let ids = (0..len).map(|i| base * 100 + i).collect();
                (ts, len * 512, 1, ids)
            })
            .collect();
        let rows: Vec<(u64, u64, u64, &[u64])> =
            rows.iter().map(|r| (r.0, r.1, r.2, r.3.as_slice())).collect();
        write_trace(&path, &rows);
        lru_matches_trace_stats(
            &path,
            &[Capacity::Blocks(capacity), Capacity::PercentOfUnique(10.0)],
        );
    }
}

#[test]
fn lru_equals_trace_stats_on_the_conversation_trace() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/conversation_trace.jsonl");
    if !path.exists() {
        // CI runs with ../shared present: there a missing trace is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {} is absent",
            path.display()
        );
        eprintln!("skipped: {} not found", path.display());
        return;
    }
    lru_matches_trace_stats(&path, &StatsOptions::default().capacities);
}

#[test]
fn command_writes_json_parquet_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    write_trace(
        &trace,
        &[
            (0, 1536, 1, &[1, 2, 3]),
            (1, 512, 1, &[4]),
            (2, 1536, 1, &[1, 2, 3]),
        ],
    );
    let out = dir.path().join("o");
    let run = Command::new(env!("CARGO_BIN_EXE_kvcsim"))
        .args(["cache", "replay", trace.to_str().unwrap()])
        .args(["--policy", "lru,prefix-lru,belady", "--capacity", "3,100%"])
        .args(["--json", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    // Capacity 3: LRU evicts the head 1 for [4] and reuses no prefix; prefix-LRU evicts the
    // leaf 3 and reuses [1, 2] (README, "cache replay").
    assert_eq!(results[0]["policy"], "lru");
    assert_eq!(results[0]["prefix_hit_ratio"], 0.0);
    assert_eq!(results[2]["policy"], "prefix-lru");
    assert_eq!(results[2]["prefix_hit_ratio"], 2.0 / 7.0);
    assert_eq!(results[2]["evictions"], 2); // 3 for [4], then 4 for the second 3
    for key in [
        "capacity_blocks",
        "block_hit_ratio",
        "prefix_hit_ratio",
        "evictions",
    ] {
        assert!(results[5].get(key).is_some(), "{key}");
    }
    assert!(out.join("curve.parquet").exists());
    let svg = std::fs::read_to_string(out.join("curve.svg")).unwrap();
    assert!(svg.contains("prefix-lru"));

    let bad = Command::new(env!("CARGO_BIN_EXE_kvcsim"))
        .args([
            "cache",
            "replay",
            trace.to_str().unwrap(),
            "--policy",
            "s3-fifo",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `s3fifo`"));
}
