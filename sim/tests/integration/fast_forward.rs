//! Decode spans (decode-only iterations of an unchanged batch run as one event) change nothing
//! but the event count: the same records with and without them.

use std::path::Path;

use kvcsim::records::RunRecords;
use kvcsim::run::arrivals;
use kvcsim::scenario::{self, Scenario, load_str};
use kvcsim::world::run_with;
use proptest::prelude::*;

use super::write_trace;

fn records(s: &Scenario, fast_forward: bool) -> (RunRecords, u64) {
    let mut records = RunRecords::default();
    let (a, total) = arrivals(s).unwrap();
    let out = run_with(s, a, total, &mut records, &mut (), fast_forward).unwrap();
    (records, out.events)
}

fn same(s: &Scenario) -> (u64, u64) {
    let (fast, fast_events) = records(s, true);
    let (slow, slow_events) = records(s, false);
    if let Some(k) = (0..fast.requests.len().max(slow.requests.len()))
        .find(|&k| fast.requests.get(k) != slow.requests.get(k))
    {
        panic!(
            "request record {k} differs:\n  spans    {:?}\n  no spans {:?}",
            fast.requests.get(k),
            slow.requests.get(k)
        );
    }
    assert_eq!(fast.timeseries, slow.timeseries);
    assert_eq!(fast.rejected, slow.rejected);
    (fast_events, slow_events)
}

#[test]
fn default_scenario_variants_give_identical_records() {
    for set in [
        vec!["workload.synthetic.limit.requests=400"],
        vec![
            "workload.synthetic.limit.requests=300",
            "cluster.instances=2",
            "workload.synthetic.arrivals.rate_per_s=0.5",
        ],
        vec![
            "workload.synthetic.limit.requests=200",
            "cache.capacity_blocks=60",
            "cluster.scheduler.kind=sglang-lpm",
        ],
        vec![
            "workload.synthetic.limit.requests=200",
            "metadata.backends=[{kind: sherman}]",
        ],
        vec![
            "workload.synthetic.limit.requests=200",
            "cache.capacity_blocks=200",
            "cache.tiers=[{kind: dram, capacity_blocks: 400}]",
        ],
    ] {
        let set: Vec<String> = set.into_iter().map(String::from).collect();
        let s = scenario::load(None, &set).unwrap();
        let (fast, slow) = same(&s);
        assert!(
            fast <= slow,
            "{set:?}: {fast} events with spans, {slow} without"
        );
    }
    // At low load most decode iterations run in spans.
    let set = [
        "workload.synthetic.limit.requests=200".to_string(),
        "cluster.instances=8".to_string(),
    ];
    let (fast, slow) = same(&scenario::load(None, &set).unwrap());
    assert!(fast * 2 < slow, "{fast} events with spans, {slow} without");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random_traces_give_identical_records(
        requests in prop::collection::vec((0..3000u64, 1..4u64, 1..300u64, 0..3u64), 1..25),
        capacity in 4..40u64,
        instances in 1..4u32,
        router in prop::sample::select(vec!["cache-aware", "kv-cost", "least-outstanding-tokens", "dynamo-kv"]),
        interval in prop::sample::select(vec![0.05f64, 1.0]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.jsonl");
        let mut ts = 0;
        let rows: Vec<(u64, u64, u64, Vec<u64>)> = requests
            .iter()
            .enumerate()
            .map(|(k, &(gap, len, out, share))| {
                ts += gap;
                let ids = (0..len).map(|i| if i < share { i } else { 1000 * (k as u64 + 1) + i }).collect();
                (ts, len * 16, out, ids)
            })
            .collect();
        let rows: Vec<(u64, u64, u64, &[u64])> =
            rows.iter().map(|r| (r.0, r.1, r.2, r.3.as_slice())).collect();
        write_trace(&trace, &rows);
        let yaml = format!(
            "workload:\n  trace: {}\n  block_size: 16\nrouter: {{ kind: {router} }}\ncluster:\n  instances: {instances}\n\
             cache:\n  capacity_blocks: {capacity}\noutput:\n  timeseries_interval_s: {interval}\n",
            trace.display(),
        );
        let s = load_str(&yaml, "test.yaml", Path::new(""), &[]).unwrap();
        same(&s);
    }
}
