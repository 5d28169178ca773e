//! Statistics on small traces computed by hand.

use super::lru::reference::VecLru;
use super::*;
use proptest::prelude::*;

fn req(arrival_ms: u64, input: u32, output: u32, ids: &[u64]) -> Request {
    Request {
        index: 0,
        arrival_ns: arrival_ms * 1_000_000,
        input_tokens: input,
        output_tokens: output,
        block_ids: ids.to_vec(),
    }
}

/// Six requests; r4 has no block. By arrival (ties r1, r2 in input order):
/// r0 t0 [0,1,2]; r1 t1 [0,1,3]; r2 t1 [0,4]; r3 t2 [5,7]; r4 t3 []; r5 t4 [0,1,2,3].
fn fixture() -> Vec<Request> {
    vec![
        req(0, 1500, 10, &[0, 1, 2]),
        req(1, 1400, 20, &[0, 1, 3]),
        req(1, 700, 30, &[0, 4]),
        req(2, 900, 40, &[5, 7]),
        req(3, 0, 50, &[]),
        req(4, 2000, 60, &[0, 1, 2, 3]),
    ]
}

fn stats_of(requests: Vec<Request>, capacities: &[&str]) -> TraceStats {
    let options = StatsOptions {
        capacities: capacities.iter().map(|c| c.parse().unwrap()).collect(),
    };
    compute(requests.into_iter().map(Ok), &options).unwrap()
}

const TOLERANCE: f64 = 1e-12;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < TOLERANCE)
}

#[test]
fn every_statistic_by_hand() {
    let s = stats_of(fixture(), &["2", "4", "50%", "100%"]);
    assert_eq!(s.requests, 6);
    assert!((s.span_s - 0.004).abs() < TOLERANCE);
    assert!(close(s.arrival_rate_per_s, 1500.0)); // 6 / 0.004 s
    // Inputs sorted 0,700,900,1400,1500,2000: mean 6500/6; p50 rank 3 -> 900; p90 rank
    // ceil(5.4) = 6 -> 2000.
    assert!((s.input_tokens.mean - 6500.0 / 6.0).abs() < TOLERANCE);
    assert_eq!(
        (
            s.input_tokens.p50,
            s.input_tokens.p90,
            s.input_tokens.p99,
            s.input_tokens.max
        ),
        (900, 2000, 2000, 2000)
    );
    assert_eq!(
        (
            s.output_tokens.mean,
            s.output_tokens.p50,
            s.output_tokens.p90
        ),
        (35.0, 30, 60)
    );
    assert_eq!((s.blocks_referenced, s.unique_blocks), (14, 7));
    // Hits: r1 {0,1}, r2 {0}, r5 {0,1,2,3} = 7 of 14.
    assert!(close(s.ideal_hit_ratio, 0.5));
    // First block seen before: r1, r2, r5 of the 5 requests with blocks.
    assert!(close(s.first_block_shared, 0.6));
    // Ratios: r0 0, r1 2/3, r2 1/2, r3 0, r5 1.
    let cdf: Vec<f64> = s.request_hit_ratio_cdf.iter().map(|p| p.fraction).collect();
    assert_eq!(cdf, [0.4, 0.4, 0.4, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8, 0.8, 1.0]);
    let xs: Vec<f64> = s.request_hit_ratio_cdf.iter().map(|p| p.ratio).collect();
    assert_eq!(xs, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
    assert!(close(s.requests_hit_ratio_ge_0_5, 0.6));
    // Sequential: r0 3/3, r1 2/3 ([0,1] run, 3 alone), r2 0, r3 0 ([5,7] not consecutive), r5 4/4.
    assert!(close(
        s.sequential_fraction_mean,
        (1.0 + 2.0 / 3.0 + 1.0) / 5.0
    ));

    // LRU, capacity 2 (MRU first): r0 -> [2,1]; r1 looks up {2,1}: 1 hit (not leading), then
    // touches 0,1,3 -> [3,1]; r2, r3, r5 all miss. 1 hit, 0 prefix hits.
    let l = &s.lru[0];
    assert_eq!((l.capacity, l.capacity_blocks), (Capacity::Blocks(2), 2));
    assert!(close(l.block_hit_ratio, 1.0 / 14.0) && close(l.prefix_hit_ratio, 0.0));
    // Capacity 4: r1 hits 0,1 (prefix 2) -> [3,1,0,2]; r2 hits 0 (prefix 1) -> [4,0,3,1];
    // r3 -> [7,5,4,0]; r5 hits 0 only (prefix 1). 4 hits, 4 prefix hits.
    let l = &s.lru[1];
    assert!(close(l.block_hit_ratio, 4.0 / 14.0) && close(l.prefix_hit_ratio, 4.0 / 14.0));
    // 50% of 7 unique = 3.5 -> 4 blocks: same as above.
    let l = &s.lru[2];
    assert_eq!(
        (l.capacity, l.capacity_blocks),
        (Capacity::PercentOfUnique(50.0), 4)
    );
    assert_eq!(
        (l.block_hit_ratio, l.prefix_hit_ratio),
        (s.lru[1].block_hit_ratio, s.lru[1].prefix_hit_ratio)
    );
    // 100% = 7 blocks: no eviction, the ideal cache; prefix hits r1 2 + r2 1 + r5 4.
    let l = &s.lru[3];
    assert_eq!(l.capacity_blocks, 7);
    assert!(close(l.block_hit_ratio, 0.5) && close(l.prefix_hit_ratio, 0.5));
}

#[test]
fn input_order_only_matters_through_arrival_ties() {
    let sorted = stats_of(fixture(), &["2", "4"]);
    let mut shuffled = fixture();
    shuffled.swap(0, 5); // r5 first, r0 last; the r1, r2 tie keeps its order
    shuffled.swap(3, 4);
    assert_eq!(stats_of(shuffled, &["2", "4"]), sorted);
}

#[test]
fn repeated_block_in_one_request_counts_once_seen_before() {
    // rA [0,1,0]: every reference a miss (nothing earlier); rB [0,2]: 0 hits.
    let s = stats_of(
        vec![req(0, 3, 1, &[0, 1, 0]), req(1, 2, 1, &[0, 2])],
        &["3", "1"],
    );
    assert_eq!((s.blocks_referenced, s.unique_blocks), (5, 3));
    assert!(close(s.ideal_hit_ratio, 0.2));
    assert!(close(s.lru[0].block_hit_ratio, 0.2)); // capacity >= unique: same as ideal
    // Capacity 1: after rA the cache holds 0 (touched last); rB hits it.
    assert!(close(s.lru[1].block_hit_ratio, 0.2) && close(s.lru[1].prefix_hit_ratio, 0.2));
}

#[test]
fn without_blocks_ratios_are_none() {
    let s = stats_of(vec![req(5, 100, 1, &[]), req(5, 200, 2, &[])], &["1%"]);
    assert_eq!((s.requests, s.span_s, s.arrival_rate_per_s), (2, 0.0, None));
    assert_eq!(
        (
            s.ideal_hit_ratio,
            s.first_block_shared,
            s.sequential_fraction_mean
        ),
        (None, None, None)
    );
    assert!(s.request_hit_ratio_cdf.is_empty());
    assert_eq!(s.lru[0].capacity_blocks, 1);
    assert_eq!(s.lru[0].block_hit_ratio, None);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["ideal_hit_ratio"].is_null());
}

#[test]
fn empty_input_gives_zeros() {
    let s = compute(std::iter::empty(), &StatsOptions::default()).unwrap();
    assert_eq!(
        (s.requests, s.blocks_referenced, s.unique_blocks),
        (0, 0, 0)
    );
    assert_eq!(s.input_tokens, Summary::default());
}

#[test]
fn reader_errors_pass_through() {
    let requests = vec![
        Ok(req(0, 1, 1, &[0])),
        Err(TraceError::TooLarge {
            what: "x",
            limit: 1,
        }),
    ];
    assert!(matches!(
        compute(requests.into_iter(), &StatsOptions::default()),
        Err(TraceError::TooLarge { .. })
    ));
}

#[test]
fn json_has_exactly_the_documented_keys() {
    let json = serde_json::to_value(stats_of(fixture(), &["1%"])).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "arrival_rate_per_s",
            "blocks_referenced",
            "first_block_shared",
            "ideal_hit_ratio",
            "input_tokens",
            "lru",
            "output_tokens",
            "request_hit_ratio_cdf",
            "requests",
            "requests_hit_ratio_ge_0_5",
            "sequential_fraction_mean",
            "span_s",
            "unique_blocks",
        ]
    );
    assert_eq!(json["lru"][0]["capacity"], "1%");
    assert_eq!(json["lru"][0]["capacity_blocks"], 1);
    assert_eq!(json["input_tokens"]["p50"], 900);
    let mut lru_keys: Vec<&str> = json["lru"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    lru_keys.sort_unstable();
    assert_eq!(
        lru_keys,
        [
            "block_hit_ratio",
            "capacity",
            "capacity_blocks",
            "prefix_hit_ratio"
        ]
    );
}

#[test]
fn sequential_fraction_edges() {
    assert_eq!(sequential_fraction(&[7]), 0.0);
    assert_eq!(sequential_fraction(&[3, 4]), 1.0);
    assert_eq!(sequential_fraction(&[9, 3, 4, 8]), 0.5);
    assert_eq!(sequential_fraction(&[u64::MAX, 0]), 0.0); // no overflow wrap-around
}

/// Slow reference: hits against a `VecLru` with the same lookup-then-touch rule.
fn reference_lru(trace: &[Vec<u64>], capacity: usize) -> (u64, u64) {
    let mut cache = VecLru::new(capacity);
    let (mut hits, mut prefix) = (0, 0);
    for blocks in trace {
        let hit: Vec<bool> = blocks.iter().map(|&b| cache.contains(b as u32)).collect();
        hits += hit.iter().filter(|&&h| h).count() as u64;
        prefix += hit.iter().take_while(|&&h| h).count() as u64;
        for &b in blocks {
            cache.touch(b as u32);
        }
    }
    (hits, prefix)
}

proptest! {
    #[test]
    fn lru_statistics_match_reference(
        trace in prop::collection::vec(prop::collection::vec(0u64..30, 0..8), 1..60),
        capacity in 1u64..40,
    ) {
        let requests: Vec<Request> = trace.iter().enumerate().map(|(i, ids)| req(i as u64, 1, 1, ids)).collect();
        let s = stats_of(requests, &[&capacity.to_string(), "100%"]);
        let refs: u64 = trace.iter().map(|t| t.len() as u64).sum();
        let (hits, prefix) = reference_lru(&trace, capacity as usize);
        prop_assert_eq!(s.lru[0].block_hit_ratio, ratio(hits, refs));
        prop_assert_eq!(s.lru[0].prefix_hit_ratio, ratio(prefix, refs));
        // A cache as large as the trace's unique blocks is the ideal cache.
        prop_assert_eq!(s.lru[1].block_hit_ratio, s.ideal_hit_ratio);
    }
}
