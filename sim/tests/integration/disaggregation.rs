//! Disaggregated prefill and decode, small enough to compute by hand: the prefill instance's
//! first token, the KV transfer on the fabric's closed form, the decode steps on the decode
//! instance, links shared fairly, and the decode-pool queue when no decode instance has room.

use std::path::Path;

use kvcsim::records::RunRecords;
use kvcsim::run::simulate;
use kvcsim::scenario::{Scenario, load_str};
use kvcsim_models::gpu::Batch;
use kvcsim_models::net::{PathParams, load_network};

use super::{gpu, ns, write_trace};

/// `prefill` prefill and `decode` decode instances of Llama-3.1-8B on H100 (TP 1), 16-token
/// blocks, round-robin routing, caches of `capacity` blocks (decode: `decode_capacity`).
fn scenario(trace: &Path, prefill: u32, decode: u32, decode_capacity: u64) -> Scenario {
    let yaml = format!(
        "seed: 1\nworkload:\n  trace: {}\n  block_size: 16\nmodel: llama-3.1-8b\n\
         router: {{kind: round-robin}}\ncache:\n  capacity_blocks: 10000\n\
         cluster:\n  gpu: h100-sxm\n  pools:\n\
         \x20   - {{name: p, role: prefill, instances: {prefill}}}\n\
         \x20   - {{name: d, role: decode, instances: {decode}, capacity_blocks: {decode_capacity}}}\n",
        trace.display()
    );
    load_str(&yaml, "test.yaml", Path::new(""), &[]).unwrap()
}

fn run(s: &Scenario) -> RunRecords {
    simulate(s, &mut ()).unwrap().0.records
}

/// The default fabric's path: ConnectX-7, one switch.
fn path() -> PathParams {
    PathParams::from_profile(&load_network("connectx7-400g-ib").unwrap(), 1)
}

/// KV bytes of one Llama-3.1-8B token: 32 layers x 8 KV heads x 128 x (K, V) x 2 bytes.
const KV_PER_TOKEN: u64 = 32 * 8 * 128 * 2 * 2;

#[test]
fn prefill_then_transfer_then_decode_on_another_instance() {
    // 1000 prompt tokens, 3 output tokens, at 0. The prefill instance computes the prompt and
    // emits token 1 (TTFT = prefill(1000)); the whole prompt's KV (1000 x 128 KiB) crosses the
    // idle path in latency + bytes / B (the event lands on the next whole nanosecond); the
    // decode instance then runs two steps with contexts 1001 and 1002.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let ids: Vec<u64> = (0..63).collect();
    write_trace(&trace, &[(0, 1000, 3, &ids)]);
    let s = scenario(&trace, 1, 1, 10_000);
    let g = gpu(&s);
    let prefill = ns(g.iteration_time(&Batch::prefill(1000, 0)));
    let d1 = ns(g.iteration_time(Batch::new().push_decode(1001)));
    let d2 = ns(g.iteration_time(Batch::new().push_decode(1002)));
    let p = path();
    let bytes = 1000 * KV_PER_TOKEN;
    let transfer = (p.latency_ns + bytes as f64 / p.bytes_per_ns).ceil() as u64;
    let out = run(&s);
    let r = &out.requests[0];
    assert_eq!(
        (r.prefill_instance, r.decode_instance, r.instance),
        (0, 1, 1)
    );
    assert_eq!(r.ttft_ns, prefill);
    assert_eq!((r.transfer_bytes, r.decode_wait_ns), (bytes, 0));
    assert_eq!(r.transfer_ns, transfer);
    assert_eq!(r.e2e_ns, prefill + transfer + d1 + d2);
    // The transfer delays the second token: TPOT includes it.
    assert_eq!(r.tpot_ns, (transfer + d1 + d2) / 2);
    // ~2.7 ms for 131 MB at 49.5 GB/s.
    assert!((2_500_000..3_000_000).contains(&transfer), "{transfer}");
    let t = &out.transfers[0];
    assert_eq!(
        (t.kind, t.source, t.destination, t.bytes),
        ("pd", 0, 1, bytes)
    );
    assert_eq!(t.end_ns - t.start_ns, transfer);
}

#[test]
fn two_transfers_into_one_decode_nic_share_it() {
    // Two equal prompts on two prefill instances finish together; both KV transfers enter the
    // one decode instance's NIC and each gets half of it: latency + 2 x bytes / B.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let a: Vec<u64> = (0..63).collect();
    let b: Vec<u64> = (100..163).collect();
    write_trace(&trace, &[(0, 1000, 2, &a), (0, 1000, 2, &b)]);
    let s = scenario(&trace, 2, 1, 10_000);
    let out = run(&s);
    let p = path();
    let bytes = 1000 * KV_PER_TOKEN;
    let shared = p.latency_ns + 2.0 * bytes as f64 / p.bytes_per_ns;
    assert_eq!(out.requests.len(), 2);
    for r in &out.requests {
        assert_eq!(r.decode_instance, 2);
        assert!(
            (r.transfer_ns as f64 - shared).abs() <= 1.0,
            "{} vs {shared}",
            r.transfer_ns
        );
    }
    assert_ne!(
        out.requests[0].prefill_instance,
        out.requests[1].prefill_instance
    );
}

#[test]
fn a_decode_pool_without_room_queues_the_request_until_blocks_free() {
    // The decode instance holds 100 blocks; each request needs 63 (1000 tokens + 2 output in
    // 16-token blocks). The second waits from its first token until the first finishes and
    // releases its blocks (cached, hence evictable).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let a: Vec<u64> = (0..63).collect();
    let b: Vec<u64> = (100..163).collect();
    write_trace(&trace, &[(0, 1000, 3, &a), (0, 1000, 3, &b)]);
    let s = scenario(&trace, 2, 1, 100);
    let out = run(&s);
    assert_eq!(out.requests.len(), 2);
    let (first, second) = (&out.requests[0], &out.requests[1]);
    assert_eq!(first.decode_wait_ns, 0);
    assert!(second.decode_wait_ns > 0);
    assert_eq!(
        second.arrival_ns + second.ttft_ns + second.decode_wait_ns,
        first.finish_ns
    );
}

#[test]
fn pools_are_checked_and_errors_name_the_field() {
    let base = "workload: {synthetic: {limit: {requests: 10}}}\ncluster:\n";
    for (bad, needle) in [
        (
            "  pools: [{name: p, role: prefill, instances: 1}]\n",
            "needs a `decode` pool",
        ),
        (
            "  instances: 2\n  pools: [{name: m, role: mixed, instances: 1}]\n",
            "cluster.instances",
        ),
        (
            "  pools: [{name: m, role: mixed, instances: 1}, {name: m, role: mixed, instances: 1}]\n",
            "cluster.pools[1].name",
        ),
        (
            "  pools: [{name: m, role: mixed, instances: 0}]\n",
            "cluster.pools[0].instances",
        ),
        (
            "  pools: [{name: m, role: sideways, instances: 1}]\n",
            "sideways",
        ),
        (
            "  pools: [{name: p, role: prefill, instances: 1}, {name: d, role: decode, instances: 1}]\n  disaggregation: {fabric: {oversubscription: 0.5}}\n",
            "cluster.disaggregation.fabric",
        ),
        (
            "  pools: [{name: p, role: prefill, instances: 1}, {name: d, role: decode, instances: 1}]\n  disaggregation: {fabric: {network: cx9}}\n",
            "cluster.disaggregation.fabric.network",
        ),
        (
            "  pools: [{name: p, role: prefill, instances: 1}, {name: d, role: decode, instances: 1, gpu: h900}]\n",
            "cluster.pools[1].gpu",
        ),
        (
            "  disaggregation: {decode_selection: kv-aware}\n",
            "needs pools",
        ),
    ] {
        let err = load_str(&format!("{base}{bad}"), "t.yaml", Path::new(""), &[])
            .err()
            .unwrap_or_else(|| panic!("accepted: {bad}"))
            .to_string();
        assert!(err.contains(needle), "{bad}: {err}");
    }
}

#[test]
fn heterogeneous_pools_take_their_own_hardware() {
    let yaml = "workload: {synthetic: {limit: {requests: 10}}}\ncluster:\n  gpu: h100-sxm\n  pools:\n    - {name: p, role: prefill, instances: 2}\n    - {name: d, role: decode, instances: 3, gpu: h200, tensor_parallel: 2}\n";
    let s = load_str(yaml, "t.yaml", Path::new(""), &[]).unwrap();
    assert_eq!(s.instances, 5);
    assert_eq!(s.gpus(), 2 + 3 * 2);
    assert_eq!(s.pools[1].gpu.name, "h200");
    assert!(s.pools[1].cache_capacity_blocks > s.pools[0].cache_capacity_blocks);
    let out = run(&s);
    assert_eq!(out.requests.len(), 10);
    for r in &out.requests {
        assert!(r.prefill_instance < 2 && (2..5).contains(&r.decode_instance));
    }
}

#[test]
fn a_lookup_during_a_kv_transfer_on_its_nic_is_slower_than_on_a_separate_network() {
    // Request A's 8000-token KV leaves the prefill instance's NIC; request B arrives during
    // that transfer and its Sherman lookup (RDMA READs from the same host) shares the port
    // with it: each message serialises at half the link (`NetworkModel::set_bulk_flows`).
    // With the metadata on a separate front-end network it does not.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let a: Vec<u64> = (0..500).collect();
    let b: Vec<u64> = (1000..1063).collect();
    let yaml = |shares: bool| {
        format!(
            "seed: 1\nworkload:\n  trace: {}\n  block_size: 16\nmodel: llama-3.1-8b\n\
             router: {{kind: round-robin}}\ncache:\n  capacity_blocks: 10000\n\
             cluster:\n  gpu: h100-sxm\n  pools:\n\
             \x20   - {{name: p, role: prefill, instances: 1}}\n\
             \x20   - {{name: d, role: decode, instances: 1}}\n\
             \x20 disaggregation: {{fabric: {{metadata_shares_nics: {shares}}}}}\n\
             metadata:\n  backends: [{{kind: sherman}}]\n",
            trace.display()
        )
    };
    let load = |shares| load_str(&yaml(shares), "t.yaml", Path::new(""), &[]).unwrap();
    // Where A's transfer is, alone.
    write_trace(&trace, &[(0, 8000, 2, &a)]);
    let alone = run(&load(true)).requests[0].clone();
    let mid_ms = (alone.arrival_ns + alone.ttft_ns + alone.transfer_ns / 2) / 1_000_000;
    assert!(alone.transfer_ns > 10_000_000, "{}", alone.transfer_ns);
    write_trace(&trace, &[(0, 8000, 2, &a), (mid_ms, 1000, 2, &b)]);
    let by_id = |shares| {
        let mut r = run(&load(shares)).requests;
        r.sort_by_key(|r| r.request_id);
        r
    };
    let (shared, separate) = (by_id(true), by_id(false));
    let (sb, pb) = (&shared[1], &separate[1]);
    // B's lookup is in A's transfer window in both runs.
    let t0 = shared[0].arrival_ns + shared[0].ttft_ns;
    assert!(sb.arrival_ns > t0 && sb.arrival_ns < t0 + shared[0].transfer_ns);
    assert_eq!(
        shared[0].metadata_ns, separate[0].metadata_ns,
        "A looks up on an idle NIC"
    );
    assert!(
        sb.metadata_ns > pb.metadata_ns,
        "shared {} vs separate {}",
        sb.metadata_ns,
        pb.metadata_ns
    );
}

#[test]
fn a_prompt_larger_than_every_decode_cache_is_rejected_not_left_waiting() {
    // 63 blocks needed, decode caches of 40: the first request can never be placed and is
    // rejected after its prefill; the second (20 blocks) is served; the run ends.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let a: Vec<u64> = (0..63).collect();
    let b: Vec<u64> = (100..120).collect();
    write_trace(&trace, &[(0, 1000, 3, &a), (0, 320, 3, &b)]);
    let out = run(&scenario(&trace, 1, 1, 40));
    assert_eq!(out.rejected, 1);
    assert_eq!(out.requests.len(), 1);
    assert_eq!(out.requests[0].request_id, 1);
}
