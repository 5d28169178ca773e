//! Cluster runs with cache tiers on random small traces: no panic, and every record adds up.

use std::path::Path;

use kvcsim::run::simulate;
use kvcsim::scenario::load_str;
use proptest::prelude::*;

use super::write_trace;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_tiered_runs_add_up(
        requests in prop::collection::vec((0..400u64, 0..4u64, 1..6u64, 1..4u64), 1..40),
        hbm in 6..12u64,
        caps in (0..4u64, 0..4u64, 0..6u64),
        policy in prop::sample::select(vec!["lru", "fifo", "s3fifo", "arc", "prefix-lru", "belady"]),
        hot in any::<bool>(),
        shared in any::<bool>(),
        instances in 1..3u32,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.jsonl");
        let mut ts = 0;
        let rows: Vec<(u64, u64, u64, Vec<u64>)> = requests
            .iter()
            .map(|&(gap, base, len, out)| {
                ts += gap;
                (ts, len * 16, out, (0..len).map(|i| base * 100 + i).collect())
            })
            .collect();
        let rows: Vec<(u64, u64, u64, &[u64])> =
            rows.iter().map(|r| (r.0, r.1, r.2, r.3.as_slice())).collect();
        write_trace(&trace, &rows);
        let placement = if hot { "hotness" } else { "cascade" };
        let yaml = format!(
            "workload:\n  trace: {}\n  block_size: 16\ncluster:\n  instances: {instances}\n\
             cache:\n  capacity_blocks: {hbm}\n  placement: {{ kind: {placement} }}\n  tiers:\n\
             \x20   - {{ kind: dram, capacity_blocks: {}, eviction: {{ kind: {policy} }} }}\n\
             \x20   - {{ kind: ssd, capacity_blocks: {}, eviction: {{ kind: {policy} }} }}\n\
             \x20   - {{ kind: remote, capacity_blocks: {}, write: computed, shared: {shared} }}\n",
            trace.display(),
            caps.0 * instances as u64,
            caps.1 * instances as u64,
            caps.2,
        );
        let s = load_str(&yaml, "test.yaml", Path::new(""), &[]).unwrap();
        let (out, summary) = simulate(&s, &mut ()).unwrap();
        prop_assert_eq!(summary.requests_completed + summary.requests_rejected, requests.len() as u64);
        for r in &out.records.requests {
            prop_assert_eq!(r.ttft_ns, r.queue_ns + r.load_ns + r.prefill_ns);
            prop_assert_eq!(
                r.hit_blocks,
                r.hbm_hit_blocks + r.dram_hit_blocks + r.ssd_hit_blocks + r.remote_hit_blocks
            );
            prop_assert!(r.hit_blocks <= r.blocks);
            prop_assert_eq!(r.load_ns > 0, r.hit_blocks > r.hbm_hit_blocks);
        }
    }
}
