//! Routing at scale: the default router weighs load as well as cache, so a popular prefix does
//! not pile onto one instance.

use kvcsim::run::simulate;
use kvcsim::scenario;

fn ttft_p99(router: &str) -> f64 {
    let set = [
        "cluster.instances=16".to_string(),
        "workload.synthetic.arrivals.rate_per_s=10".to_string(),
        "workload.synthetic.limit.requests=4000".to_string(),
        format!("router={router}"),
    ];
    let s = scenario::load(None, &set).unwrap();
    simulate(&s, &mut ()).unwrap().1.ttft_ms.p99
}

#[test]
fn default_cache_aware_router_stays_within_twice_kv_cost_at_scale() {
    let guarded = ttft_p99("{kind: cache-aware}");
    let kv_cost = ttft_p99("{kind: kv-cost}");
    assert!(
        guarded <= 2.0 * kv_cost,
        "cache-aware p99 {guarded} ms, kv-cost {kv_cost} ms"
    );
    // Without its load guard and threshold, longest-prefix routing piles up.
    let pure = ttft_p99("{kind: cache-aware, balance_abs_threshold: null, cache_threshold: 0}");
    assert!(
        pure > 2.0 * kv_cost,
        "pure longest prefix p99 {pure} ms, kv-cost {kv_cost} ms"
    );
}
