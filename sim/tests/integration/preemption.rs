//! The scheduler under memory pressure on random small traces: no instance exceeds its KV
//! capacity, every request finishes or is rejected, and the tokens computed are exactly the
//! prompt and output tokens not cached plus the recomputed ones.

use std::path::Path;

use kvcsim::run::simulate;
use kvcsim::scenario::load_str;
use proptest::prelude::*;

use super::write_trace;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn preemption_keeps_kv_within_capacity_and_accounts_every_token(
        requests in prop::collection::vec((0..50u64, 1..4u64, 1..80u64), 1..30),
        capacity in 3..12u64,
        chunked in any::<bool>(),
        budget in prop::sample::select(vec![16u64, 48, 8192]),
        lpm in any::<bool>(),
        shared in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.jsonl");
        let mut ts = 0;
        // Distinct blocks per request, or a shared first block (a common system prompt).
        let rows: Vec<(u64, u64, u64, Vec<u64>)> = requests
            .iter()
            .enumerate()
            .map(|(k, &(gap, len, out))| {
                ts += gap;
                let ids = (0..len)
                    .map(|i| if shared && i == 0 { 1 } else { 1000 * (k as u64 + 1) + i })
                    .collect();
                (ts, len * 16, out, ids)
            })
            .collect();
        let rows: Vec<(u64, u64, u64, &[u64])> =
            rows.iter().map(|r| (r.0, r.1, r.2, r.3.as_slice())).collect();
        write_trace(&trace, &rows);
        let kind = if lpm { "sglang-lpm" } else { "vllm" };
        let yaml = format!(
            "workload:\n  trace: {}\n  block_size: 16\ncluster:\n  scheduler: {{ kind: {kind}, \
             max_batch_tokens: {budget}, chunked_prefill: {chunked} }}\ncache:\n  capacity_blocks: {capacity}\n",
            trace.display(),
        );
        let s = load_str(&yaml, "test.yaml", Path::new(""), &[]).unwrap();
        let (mem, summary) = simulate(&s, &mut ()).unwrap();
        prop_assert_eq!(summary.requests_completed + summary.requests_rejected, requests.len() as u64);
        for t in &mem.records.timeseries {
            prop_assert!(t.cache_blocks <= capacity);
        }
        let computed: u64 = mem.records.timeseries.iter().map(|t| t.batch_tokens).sum();
        let expected: u64 = mem
            .records
            .requests
            .iter()
            .map(|r| r.input_tokens - r.cached_tokens + r.output_tokens - 1 + r.recomputed_tokens)
            .sum();
        if shared {
            // A readmission may find more cached than it lost (another request's blocks).
            prop_assert!(computed <= expected, "computed {} expected {}", computed, expected);
        } else {
            prop_assert_eq!(computed, expected);
        }
        for r in &mem.records.requests {
            prop_assert_eq!(r.ttft_ns, r.queue_ns + r.load_ns + r.prefill_ns);
            prop_assert!(r.preemptions > 0 || r.recomputed_tokens == 0);
        }
    }
}
