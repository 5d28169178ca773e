//! Scenarios small enough to compute by hand. Times come from the GPU model's own formulas,
//! which `kvcsim-models` checks against hand arithmetic per operator class; here we check the
//! lifecycle composes them correctly.

use std::path::Path;

use kvcsim::records::RequestRecord;
use kvcsim::run::simulate;
use kvcsim::scenario::{Scenario, load_str};
use kvcsim_models::gpu::Batch;

use super::{gpu, ns, write_trace};

/// One instance, 16-token blocks, a cache of `capacity` blocks, FCFS, chunked prefill with the
/// default 8192-token budget.
fn scenario(trace: &Path, capacity: u64) -> Scenario {
    let yaml = format!(
        "seed: 1\nworkload:\n  trace: {}\n  block_size: 16\nmodel: llama-3.1-8b\ncluster:\n  instances: 1\n  gpu: h100-sxm\ncache:\n  capacity_blocks: {capacity}\n",
        trace.display()
    );
    load_str(&yaml, "test.yaml", Path::new(""), &[]).unwrap()
}

fn run(s: &Scenario) -> Vec<RequestRecord> {
    simulate(s, &mut ()).unwrap().0.records.requests
}

#[test]
fn one_request_on_an_idle_gpu() {
    // 1000 prompt tokens (63 blocks of 16, the last partial), 3 output tokens, arriving at 0.
    // TTFT = one prefill iteration of (new 1000, cached 0).
    // Then two decode iterations with KV contexts 1001 and 1002: e2e = TTFT + d(1001) + d(1002),
    // TPOT = (d(1001) + d(1002)) / 2 (each iteration's time rounded to the nanosecond first).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let ids: Vec<u64> = (0..63).collect();
    write_trace(&trace, &[(0, 1000, 3, &ids)]);
    let s = scenario(&trace, 10_000);
    let g = gpu(&s);
    let prefill = ns(g.iteration_time(&Batch::prefill(1000, 0)));
    let d1 = ns(g.iteration_time(Batch::new().push_decode(1001)));
    let d2 = ns(g.iteration_time(Batch::new().push_decode(1002)));
    let r = &run(&s)[0];
    assert_eq!((r.queue_ns, r.prefill_ns, r.ttft_ns), (0, prefill, prefill));
    assert_eq!(r.e2e_ns, prefill + d1 + d2);
    assert_eq!(r.tpot_ns, (d1 + d2) / 2);
    assert_eq!((r.hit_blocks, r.cached_tokens), (0, 0));
}

#[test]
fn two_requests_sharing_a_prefix() {
    // A: 64 tokens = blocks [1,2,3,4], one output token, at t=0; done after prefill(64, 0).
    // B: 96 tokens = blocks [1,2,3,4,5,6] at t=1 s (A long finished): its first 4 blocks hit,
    // 64 cached tokens, so its prefill is (new 32, cached 64).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    write_trace(
        &trace,
        &[
            (0, 64, 1, &[1, 2, 3, 4]),
            (1000, 96, 1, &[1, 2, 3, 4, 5, 6]),
        ],
    );
    let s = scenario(&trace, 100);
    let g = gpu(&s);
    let recs = run(&s);
    assert_eq!(
        recs[0].ttft_ns,
        ns(g.iteration_time(&Batch::prefill(64, 0)))
    );
    assert_eq!((recs[1].hit_blocks, recs[1].cached_tokens), (4, 64));
    assert_eq!(
        recs[1].ttft_ns,
        ns(g.iteration_time(&Batch::prefill(32, 64)))
    );
}

#[test]
fn a_fully_cached_prompt_still_computes_its_last_token() {
    // B repeats A's 32-token prompt exactly: both blocks hit, but the last token is recomputed
    // to produce logits (vLLM does the same): cached = 31, new = 1.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    write_trace(&trace, &[(0, 32, 1, &[1, 2]), (1000, 32, 1, &[1, 2])]);
    let s = scenario(&trace, 100);
    let recs = run(&s);
    assert_eq!((recs[1].hit_blocks, recs[1].cached_tokens), (2, 31));
    assert_eq!(
        recs[1].ttft_ns,
        ns(gpu(&s).iteration_time(&Batch::prefill(1, 31)))
    );
}

#[test]
fn a_full_cache_evicts_least_recently_used_blocks() {
    // Capacity 4 blocks; each request is 2 blocks (32 tokens of 16) with one output token, so
    // it needs no decode KV (the last output token is never fed back). Sequentially, 1 s apart,
    // LRU order listed oldest first (a finished request releases its blocks tail first):
    //   A [1,2] -> resident {1,2}, order 2,1
    //   B [3,4] -> {1,2,3,4} full, order 2,1,4,3
    //   C [5,6] -> evicts 2,1 -> order 4,3,6,5
    //   D [1,2] -> misses (evicted); evicts 4,3 -> order 6,5,2,1
    //   E [5,6] -> hits both blocks.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let rows: Vec<(u64, u64, u64, &[u64])> = vec![
        (0, 32, 1, &[1, 2]),
        (1000, 32, 1, &[3, 4]),
        (2000, 32, 1, &[5, 6]),
        (3000, 32, 1, &[1, 2]),
        (4000, 32, 1, &[5, 6]),
    ];
    write_trace(&trace, &rows);
    let recs = run(&scenario(&trace, 4));
    let hits: Vec<u64> = recs.iter().map(|r| r.hit_blocks).collect();
    assert_eq!(hits, vec![0, 0, 0, 0, 2]);
}

#[test]
fn requests_in_flight_cannot_hit_blocks_not_yet_computed() {
    // A and B arrive at the same instant with the same 2-block prompt. A's lookup reply starts
    // the idle instance's first iteration at once, with A alone; B is admitted at the start of
    // the next iteration, when A's prefill has ended and its blocks have entered the cache: B
    // hits both blocks and its queueing delay is exactly A's prefill.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    write_trace(&trace, &[(0, 32, 1, &[1, 2]), (0, 32, 1, &[1, 2])]);
    let recs = run(&scenario(&trace, 100));
    assert_eq!(recs[1].hit_blocks, 2);
    assert_eq!(
        recs[1].queue_ns, recs[0].ttft_ns,
        "B admitted when A's prefill ended"
    );
}

#[test]
fn a_block_evicted_to_dram_is_loaded_back_before_the_prefill() {
    // As above (capacity 4, 2-block requests 1 s apart), with a DRAM tier below HBM:
    //   A [1,2], B [3,4], C [5,6] evicts 2 and 1 into DRAM; D [1,2] misses HBM, finds both
    //   blocks in DRAM and loads them: 2 x 16 tokens x 128 KiB = 4,194,304 B over the DRAM
    //   read port (77 GB/s) and PCIe Gen5 x16 (63.0 GB/s x 0.8 = 50.4 GB/s, the bottleneck):
    //   ceil(4,194,304 / 50.4e9 s) + 0.1 us (DRAM) + 1 us (PCIe) latency. Its evictions (4, 3)
    //   go down the other PCIe direction and DRAM's write port: no contention with the load.
    //   TTFT = queue (0) + load + prefill(new 1, cached 31).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let rows: Vec<(u64, u64, u64, &[u64])> = vec![
        (0, 32, 1, &[1, 2]),
        (1000, 32, 1, &[3, 4]),
        (2000, 32, 1, &[5, 6]),
        (3000, 32, 1, &[1, 2]),
    ];
    write_trace(&trace, &rows);
    let s = load_str(
        &format!(
            "workload:\n  trace: {}\n  block_size: 16\ncache:\n  capacity_blocks: 4\n  tiers: [{{ kind: dram, capacity_blocks: 100 }}]\n",
            trace.display()
        ),
        "test.yaml",
        Path::new(""),
        &[],
    )
    .unwrap();
    let recs = run(&s);
    let d = &recs[3];
    assert_eq!(
        (d.hit_blocks, d.hbm_hit_blocks, d.dram_hit_blocks),
        (2, 0, 2)
    );
    assert_eq!(d.cached_tokens, 31);
    let pcie = kvcsim_models::tiers::LinkConfig::default()
        .pcie_bytes_per_s()
        .unwrap();
    let load = (4_194_304.0 / pcie * 1e9).ceil() as u64 + 100 + 1_000;
    assert_eq!(d.load_ns, load);
    assert_eq!(
        d.prefill_ns,
        ns(gpu(&s).iteration_time(&Batch::prefill(1, 31)))
    );
    assert_eq!(d.ttft_ns, d.queue_ns + d.load_ns + d.prefill_ns);
    assert_eq!(d.queue_ns, 0);
    // Without the tier, D recomputes its prompt.
    assert_eq!(run(&scenario(&trace, 4))[3].hit_blocks, 0);
}

#[test]
fn a_load_is_served_before_the_admission_s_own_victims_move_down() {
    // HBM of 2 blocks over a DRAM tier of 1 (the last tier). A [1], B [2], C [3] one second
    // apart: C evicts 1 into DRAM. D [1] finds 1 in DRAM; making room for it evicts 2 from
    // HBM, whose demotion pushes 1 out of DRAM. The load is reserved first, so D still gets
    // its block (and DRAM ends with 2).
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let rows: Vec<(u64, u64, u64, &[u64])> = vec![
        (0, 16, 1, &[1]),
        (1000, 16, 1, &[2]),
        (2000, 16, 1, &[3]),
        (3000, 16, 1, &[1]),
    ];
    write_trace(&trace, &rows);
    let s = load_str(
        &format!(
            "workload:\n  trace: {}\n  block_size: 16\ncache:\n  capacity_blocks: 2\n  tiers: [{{ kind: dram, capacity_blocks: 1 }}]\n",
            trace.display()
        ),
        "test.yaml",
        Path::new(""),
        &[],
    )
    .unwrap();
    let recs = run(&s);
    assert_eq!((recs[3].dram_hit_blocks, recs[3].cached_tokens), (1, 15));
    assert!(recs[3].load_ns > 0);
}

#[test]
fn decode_growth_preempts_the_newest_request_by_recompute() {
    // Capacity 4 blocks of 16 tokens. A and B arrive together, 16-token prompts (distinct
    // blocks), 40 output tokens: each needs at most ceil((16 + 39) / 16) = 4 blocks, so each
    // fits alone but not both. A's lookup reply starts iteration 0 alone (prefill 16, 1 block).
    //  it 1: A's step writes KV token 17 -> A gets block 2; B admitted (1 block, prefill 16).
    //  it 2: B's first step writes token 17 -> B gets block 2 (4 of 4 used).
    //  it 17: A writes token 33 -> needs block 3, none free: the newest, B, is preempted. B had
    //        generated 1 + 15 = 16 tokens, KV 16 + 15 = 31 tokens lost; it frees its private
    //        block and its prompt block becomes evictable. A takes the free block.
    //  it 18..: B (target 16 + 16 = 32 tokens, its prompt block cached) needs 1 new block plus
    //        pinning its evictable hit = 2 of the 1 available: it waits.
    //  it 33: A needs block 4: it evicts B's cached prompt block.
    //  it 39: A's last step (1 + 39 tokens). it 40: B readmitted with nothing cached: computes
    //        32 tokens, all 31 lost ones again (recomputed 31), emits token 17, then 23 steps.
    // Tokens computed: A 16 + 39; B 16 + 15 + 32 + 23 = 86 = 16 + 39 + recomputed 31.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    write_trace(&trace, &[(0, 16, 40, &[1]), (0, 16, 40, &[2])]);
    let s = scenario(&trace, 4);
    let (mem, summary) = simulate(&s, &mut ()).unwrap();
    let recs = &mem.records.requests;
    assert_eq!(recs.len(), 2);
    let (a, b) = (&recs[0], &recs[1]);
    assert_eq!(
        (a.request_id, a.preemptions, a.recomputed_tokens),
        (0, 0, 0)
    );
    assert_eq!(
        (b.request_id, b.preemptions, b.recomputed_tokens),
        (1, 1, 31)
    );
    assert!(b.finish_ns > a.finish_ns);
    assert_eq!((summary.preemptions, summary.recomputed_tokens), (1, 31));
    let computed: u64 = mem.records.timeseries.iter().map(|t| t.batch_tokens).sum();
    assert_eq!(computed, 55 + 86);
    let preempted: u64 = mem.records.timeseries.iter().map(|t| t.preemptions).sum();
    assert_eq!(preempted, 1);
    assert!(mem.records.timeseries.iter().all(|t| t.cache_blocks <= 4));
}

#[test]
fn gpu_model_defaults_to_the_gpus_calibrated_profile_and_errors_name_the_field() {
    use kvcsim_models::hardware::{load_gpu, load_gpu_model};
    let base =
        "seed: 1\nworkload:\n  synthetic: {}\nmodel: llama-3.1-8b\ncluster:\n  gpu: a100-80gb\n";
    let s = load_str(base, "t.yaml", Path::new(""), &[]).unwrap();
    assert_eq!(s.gpu_model, load_gpu_model("a100-80gb").unwrap());
    // H200 has no tables: H100's curves stand in.
    let h200 = base.replace("a100-80gb", "h200");
    let s = load_str(&h200, "t.yaml", Path::new(""), &[]).unwrap();
    assert_eq!(s.gpu_model, load_gpu_model("h100-sxm").unwrap());
    assert!(load_gpu("h200").unwrap().fp8_dense_flops_per_s.is_some());
    let named = format!("{base}  gpu_model: h100-sxm\n");
    let s = load_str(&named, "t.yaml", Path::new(""), &[]).unwrap();
    assert_eq!(s.gpu_model, load_gpu_model("h100-sxm").unwrap());
    for (bad, says) in [
        ("  gpu_model: nope\n", "unknown GPU model profile `nope`"),
        ("  gpu_model: {kind: roofline}\n", "missing field `gemm`"),
        ("  gpu_model: {kind: magic}\n", "unknown variant `magic`"),
    ] {
        let err = load_str(&format!("{base}{bad}"), "t.yaml", Path::new(""), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cluster.gpu_model") && err.contains(says),
            "{err}"
        );
    }
}

/// A profiled GPU model from a profile file: the scenario runs on it, a decode step on the
/// table's node takes the measured time, and a bad field in the file or a bad table is an
/// error naming `cluster.gpu_model` and what is wrong.
#[test]
fn profiled_gpu_model_from_a_file_runs_and_bad_tables_are_named() {
    use kvcsim_models::gpu::{Axis, GpuModelConfig, OperatorTable, ProfiledParams, TableClass};
    use kvcsim_models::hardware::load_gpu_model;
    let dir = tempfile::tempdir().unwrap();
    let fallback = load_gpu_model("h100-sxm").unwrap().roofline().clone();
    // Llama-3.1-8B at TP 1: 32 q / 8 kv heads of 128; batch 1..4 by kv_tokens 1..4096.
    let table = OperatorTable {
        class: TableClass::DecodeAttention,
        source: "fixture".into(),
        q_heads: Some(32),
        kv_heads: Some(8),
        head_dim: Some(128),
        width: None,
        gpus: None,
        axes: vec![
            Axis {
                name: "batch".into(),
                values: vec![1.0, 4.0],
            },
            Axis {
                name: "kv_tokens".into(),
                values: vec![1.0, 4096.0],
            },
        ],
        time_us: vec![Some(8.0), Some(30.0), Some(9.0), None],
    };
    let config = GpuModelConfig::Profiled(ProfiledParams {
        dtype_bytes: 2,
        fallback,
        tables: vec![table],
    });
    let path = dir.path().join("profiled.yaml");
    std::fs::write(&path, serde_norway::to_string(&config).unwrap()).unwrap();
    let base = "seed: 1\nworkload:\n  synthetic: {limit: {requests: 20}}\nmodel: llama-3.1-8b\ncluster:\n  gpu: h100-sxm\n";
    let yaml = format!("{base}  gpu_model: {}\n", path.display());
    let s = load_str(&yaml, "t.yaml", Path::new(""), &[]).unwrap();
    assert_eq!(s.gpu_model, config);
    let (out, _) = simulate(&s, &mut ()).unwrap();
    assert_eq!(out.records.requests.len(), 20);
    let m = gpu(&s);
    let one = m.breakdown(&Batch::decode([4095]));
    assert!((one.decode_attention_s / (32.0 * 30e-6) - 1.0).abs() < 1e-12);
    for (from, to, says) in [
        ("time_us:", "time_ms:", "time_ms"),
        ("kv_tokens", "context", "tables[0] (decode_attention)"),
        ("- 30.0", "- -30.0", "time_us[1] = -30"),
    ] {
        let text = std::fs::read_to_string(&path).unwrap().replace(from, to);
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, text).unwrap();
        let yaml = format!("{base}  gpu_model: {}\n", bad.display());
        let err = load_str(&yaml, "t.yaml", Path::new(""), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cluster.gpu_model") && err.contains(says),
            "{from} -> {to}: {err}"
        );
    }
}
