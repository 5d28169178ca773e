//! The metadata service in the cluster lifecycle and the Fig. 3 replay mode.

use std::path::Path;

use kvcsim::run::simulate;
use kvcsim::scenario::{Scenario, load_str};

use super::write_trace;

/// One instance, 16-token blocks, chunked prefill with a `budget`-token iteration, `metadata`
/// appended under `metadata:`.
fn scenario(trace: &Path, budget: u64, metadata: &str) -> Scenario {
    let yaml = format!(
        "seed: 1\nworkload:\n  trace: {}\n  block_size: 16\nmodel: llama-3.1-8b\ncluster:\n  instances: 1\n  scheduler:\n    max_batch_tokens: {budget}\ncache:\n  capacity_blocks: 1000\n{metadata}",
        trace.display()
    );
    load_str(&yaml, "test.yaml", Path::new(""), &[]).unwrap()
}

#[test]
fn metadata_time_enters_ttft_and_nothing_else_changes() {
    // One request of 16 blocks alone: its TTFT with a metadata service is the lookup time plus
    // exactly the prefill it has without one (the GPU work does not change).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let ids: Vec<u64> = (0..16).collect();
    write_trace(&trace, &[(0, 256, 2, &ids)]);
    let base = simulate(&scenario(&trace, 8192, ""), &mut ()).unwrap().0;
    let b = &base.records.requests[0];
    assert_eq!(b.metadata_ns, 0);
    for kind in ["redis", "sherman", "chime", "prefix-index"] {
        let s = scenario(
            &trace,
            8192,
            &format!("metadata:\n  backends: [{{kind: {kind}}}]\n  record_ops: true\n"),
        );
        let out = simulate(&s, &mut ()).unwrap().0;
        let r = &out.records.requests[0];
        assert!(r.metadata_ns > 1000, "{kind}: {}", r.metadata_ns);
        assert_eq!(r.ttft_ns, r.metadata_ns + b.ttft_ns, "{kind}");
        assert_eq!(r.queue_ns, r.metadata_ns, "{kind}");
        // The lookup is the ops the request issued before its reply: one range over 16
        // consecutive ids for the trees and Redis, one prefix for the index.
        let lookups: Vec<_> = out
            .records
            .metadata_ops
            .iter()
            .filter(|o| !o.op.is_write())
            .collect();
        assert_eq!(lookups.len(), 1, "{kind}");
        assert_eq!(lookups[0].latency_ns, r.metadata_ns, "{kind}");
        // Its 16 new blocks are inserted after its prefill.
        let inserted: u64 = out
            .records
            .metadata_ops
            .iter()
            .filter(|o| o.op.is_write())
            .map(|o| o.keys)
            .sum();
        assert_eq!(inserted, 16, "{kind}");
    }
}

#[test]
fn chunked_prefill_issues_one_lookup_per_chunk() {
    // 16 blocks of 16 tokens, a 64-token budget: 4 chunks of 4 blocks, so 4 lookups back to
    // back instead of 1, and a longer metadata time.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let ids: Vec<u64> = (0..16).collect();
    write_trace(&trace, &[(0, 256, 1, &ids)]);
    let meta = |per_chunk: bool| {
        format!(
            "metadata:\n  backends: [{{kind: sherman}}]\n  record_ops: true\n  lookup_per_chunk: {per_chunk}\n"
        )
    };
    let one = simulate(&scenario(&trace, 64, &meta(false)), &mut ())
        .unwrap()
        .0;
    let per = simulate(&scenario(&trace, 64, &meta(true)), &mut ())
        .unwrap()
        .0;
    let lookups = |o: &kvcsim::run::MemoryRun| {
        o.records
            .metadata_ops
            .iter()
            .filter(|r| !r.op.is_write())
            .count()
    };
    assert_eq!((lookups(&one), lookups(&per)), (1, 4));
    assert!(
        per.records.requests[0].metadata_ns > one.records.requests[0].metadata_ns,
        "four round trips take longer than one"
    );
}

#[test]
fn a_cluster_takes_one_backend_and_the_replay_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    write_trace(&trace, &[(0, 16, 1, &[1])]);
    let yaml = format!(
        "workload: {{trace: {}}}\nmetadata:\n  backends: [{{kind: sherman}}, {{kind: chime}}]\n",
        trace.display()
    );
    let err = load_str(&yaml, "t.yaml", Path::new(""), &[]).unwrap_err();
    assert!(err.to_string().contains("metadata-replay"), "{err}");
    let yaml = format!(
        "mode: metadata-replay\nworkload: {{trace: {}}}\n",
        trace.display()
    );
    let err = load_str(&yaml, "t.yaml", Path::new(""), &[]).unwrap_err();
    assert!(err.to_string().contains("at least one backend"), "{err}");
    let yaml = format!(
        "workload: {{trace: {}}}\nmetadata:\n  backends: [{{kind: shermann}}]\n",
        trace.display()
    );
    let err = load_str(&yaml, "t.yaml", Path::new(""), &[]).unwrap_err();
    assert!(err.to_string().contains("sherman"), "{err}");
}

#[test]
fn the_replay_writes_its_table_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let rows: Vec<(u64, u64, u64, Vec<u64>)> = (0..40u64)
        .map(|i| (i * 100, 64, 1, vec![0, 10 + i * 3, 11 + i * 3, 12 + i * 3]))
        .collect();
    let rows: Vec<(u64, u64, u64, &[u64])> = rows
        .iter()
        .map(|(a, b, c, d)| (*a, *b, *c, d.as_slice()))
        .collect();
    write_trace(&trace, &rows);
    let yaml = format!(
        "mode: metadata-replay\nworkload: {{trace: {}, block_size: 16}}\nmetadata:\n  backends: [{{kind: redis}}, {{kind: sherman}}, {{kind: chime}}, {{kind: prefix-index}}]\n  bucket_s: 1\n  warmup_s: 1\n",
        trace.display()
    );
    let s = load_str(&yaml, "t.yaml", Path::new(""), &[]).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (summary, text) = kvcsim::metadata_replay::replay_to_dir(&s, &a, false).unwrap();
    kvcsim::metadata_replay::replay_to_dir(&s, &b, false).unwrap();
    for f in ["metadata_ops.parquet", "fig3_p99.csv"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(summary.requests, 40);
    assert!(text.contains("sherman") && text.contains("range"));
    let csv = std::fs::read_to_string(a.join("fig3_p99.csv")).unwrap();
    assert!(csv.starts_with("backend,op,bucket_start_min"));
    assert!(csv.lines().any(|l| l.starts_with("prefix-index,prefix,")));
}
