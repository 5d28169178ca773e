//! Routing policies: which instance serves a new request.
//!
//! The caller (the cluster's router in the simulator) builds one [`InstanceView`] per instance
//! for the arriving request, including how many of its leading blocks each instance already
//! caches ([`PrefixCache::longest_prefix`](crate::cache::PrefixCache::longest_prefix), which is
//! pure), and asks a [`RoutingPolicy`] for an index. Policies see only these views, so a router
//! with stale or approximate information is modelled by the caller filling the views from its
//! own (stale or approximate) state.
//!
//! ```
//! use kvcsim_models::routing::{InstanceView, RouteQuery, RoutingConfig};
//!
//! let mut policy = RoutingConfig::default().build().unwrap(); // cache-aware, SGLang defaults
//! let query = RouteQuery { prompt_tokens: 4096, block_size_tokens: 16 };
//! let idle = InstanceView::default();
//! let warm = InstanceView { outstanding_tokens: 9000, running: 3, cached_prefix_blocks: 200, ..idle };
//! assert_eq!(policy.route(&query, &[idle, warm]), 1); // 78 % of the prompt cached
//! let busy = InstanceView { running: 100, ..warm };  // 100 requests more than the idle one
//! assert_eq!(policy.route(&query, &[idle, busy]), 0);
//! ```

use serde::{Deserialize, Serialize};

use crate::hardware::InvalidField;

/// The request being routed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouteQuery {
    /// Prompt length, tokens.
    pub prompt_tokens: u64,
    /// Tokens per KV block, to turn cached blocks into cached tokens.
    pub block_size_tokens: u64,
}

impl RouteQuery {
    /// Prompt tokens an instance caching `cached_prefix_blocks` leading blocks must compute.
    pub fn uncached_tokens(&self, cached_prefix_blocks: usize) -> u64 {
        let cached = (cached_prefix_blocks as u64).saturating_mul(self.block_size_tokens);
        self.prompt_tokens.saturating_sub(cached)
    }
}

/// What the router knows about one instance, for one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InstanceView {
    /// Load, in tokens of work the instance still owes (the caller defines it; typically
    /// uncomputed prompt tokens of queued and running requests plus their remaining decode
    /// tokens).
    pub outstanding_tokens: u64,
    /// Requests running (in the batch).
    pub running: u32,
    /// Requests queued, not yet admitted.
    pub waiting: u32,
    /// Leading blocks of this request's prompt that the instance caches.
    pub cached_prefix_blocks: usize,
    /// Prompt tokens queued or being computed there, not yet computed.
    pub queued_prefill_tokens: u64,
    /// KV blocks its running requests hold.
    pub active_blocks: u64,
}

impl InstanceView {
    /// Requests routed there and not finished, the load measure of SGLang's router.
    pub fn requests(&self) -> u64 {
        u64::from(self.running) + u64::from(self.waiting)
    }
}

/// Chooses the instance for each new request. Deterministic: equal inputs and state give equal
/// choices, and ties always go to the lowest index after the stated tie-breakers.
pub trait RoutingPolicy: Send + std::fmt::Debug {
    /// Short name for reports.
    fn name(&self) -> &'static str;

    /// Index into `instances` of the instance that serves `request`.
    ///
    /// # Panics
    ///
    /// If `instances` is empty.
    fn route(&mut self, request: &RouteQuery, instances: &[InstanceView]) -> usize;
}

/// Cycles through the instances in order, ignoring load and cache.
#[derive(Clone, Debug, Default)]
pub struct RoundRobin {
    next: usize,
}

impl RoutingPolicy for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn route(&mut self, _request: &RouteQuery, instances: &[InstanceView]) -> usize {
        assert!(!instances.is_empty(), "routing needs at least one instance");
        let chosen = self.next % instances.len();
        self.next = chosen + 1;
        chosen
    }
}

/// The instance with the fewest outstanding tokens; ties to the lowest index.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastOutstandingTokens;

impl RoutingPolicy for LeastOutstandingTokens {
    fn name(&self) -> &'static str {
        "least-outstanding-tokens"
    }

    fn route(&mut self, _request: &RouteQuery, instances: &[InstanceView]) -> usize {
        least_loaded(instances)
    }
}

/// SGLang's cache-aware router (`sgl-router`, policy `cache_aware`), on exact prefix matches:
///
/// 1. Load guard: the cluster is imbalanced when the most and least loaded instances (requests
///    routed and not finished) differ by more than `balance_abs_threshold` requests *and* the
///    most loaded has more than `balance_rel_threshold` times the least. Then the request goes
///    to the least loaded (ties: fewer outstanding tokens, lower index).
/// 2. Otherwise the instance with the longest cached prefix (ties: fewer outstanding tokens,
///    lower index) wins if the prefix covers more than `cache_threshold` of the prompt;
///    if not, the least loaded does (SGLang sends it to the instance with the smallest cache
///    tree, which this view approximates by load).
///
/// Defaults are SGLang's: 64 requests, 1.5, 0.3 (`sgl-router` `CliArgs` defaults). A pure
/// longest-prefix policy (`balance_abs_threshold: null`, `cache_threshold: 0`) piles every
/// request of a popular prefix onto one instance.
#[derive(Clone, Copy, Debug)]
pub struct CacheAware {
    /// Request spread above which (with the relative test) load wins; `None`: never.
    pub balance_abs_threshold: Option<u64>,
    /// Ratio of most to least loaded above which (with the absolute test) load wins.
    pub balance_rel_threshold: f64,
    /// Fraction of the prompt a cached prefix must exceed to attract the request.
    pub cache_threshold: f64,
}

impl Default for CacheAware {
    fn default() -> Self {
        CacheAware {
            balance_abs_threshold: Some(default_balance_abs()),
            balance_rel_threshold: default_balance_rel(),
            cache_threshold: default_cache_threshold(),
        }
    }
}

impl RoutingPolicy for CacheAware {
    fn name(&self) -> &'static str {
        "cache-aware"
    }

    fn route(&mut self, request: &RouteQuery, instances: &[InstanceView]) -> usize {
        assert!(!instances.is_empty(), "routing needs at least one instance");
        let least = || {
            instances
                .iter()
                .enumerate()
                .min_by_key(|(index, v)| (v.requests(), v.outstanding_tokens, *index))
                .map(|(index, _)| index)
                .expect("not empty")
        };
        if let Some(abs) = self.balance_abs_threshold {
            let loads = instances.iter().map(InstanceView::requests);
            let (max, min) = (loads.clone().max().unwrap_or(0), loads.min().unwrap_or(0));
            if max - min > abs && max as f64 > self.balance_rel_threshold * min as f64 {
                return least();
            }
        }
        let (best, view) = instances
            .iter()
            .enumerate()
            .min_by_key(|(index, v)| {
                (
                    std::cmp::Reverse(v.cached_prefix_blocks),
                    v.outstanding_tokens,
                    *index,
                )
            })
            .expect("not empty");
        let cached = request.prompt_tokens - request.uncached_tokens(view.cached_prefix_blocks);
        let rate = if request.prompt_tokens == 0 {
            0.0
        } else {
            cached as f64 / request.prompt_tokens as f64
        };
        if rate > self.cache_threshold {
            best
        } else {
            least()
        }
    }
}

/// NVIDIA Dynamo's KV router cost (`lib/kv-router`, `DefaultWorkerSelector`), lowest wins:
///
/// ```text
/// logit_i = overlap_score_weight * prefill_blocks_i + decode_blocks_i
/// prefill_blocks_i = (queued prefill tokens_i + uncached prompt tokens_i) / block_size
/// decode_blocks_i  = active KV blocks_i + prompt blocks                       (blocks)
/// ```
///
/// Ties go to the lower index. Dynamo's softmax sampling (temperature > 0) is not modelled.
#[derive(Clone, Copy, Debug)]
pub struct DynamoKv {
    /// `kv-overlap-score-weight`; Dynamo's default is 1.
    pub overlap_score_weight: f64,
}

impl RoutingPolicy for DynamoKv {
    fn name(&self) -> &'static str {
        "dynamo-kv"
    }

    fn route(&mut self, request: &RouteQuery, instances: &[InstanceView]) -> usize {
        assert!(!instances.is_empty(), "routing needs at least one instance");
        let bs = request.block_size_tokens.max(1) as f64;
        let prompt_blocks = request
            .prompt_tokens
            .div_ceil(request.block_size_tokens.max(1));
        let logit = |v: &InstanceView| {
            let prefill = (v.queued_prefill_tokens
                + request.uncached_tokens(v.cached_prefix_blocks)) as f64
                / bs;
            self.overlap_score_weight * prefill + (v.active_blocks + prompt_blocks) as f64
        };
        let mut best = 0;
        for (index, v) in instances.iter().enumerate().skip(1) {
            if logit(v).total_cmp(&logit(&instances[best])).is_lt() {
                best = index;
            }
        }
        best
    }
}

/// Trades cache overlap against load with one cost, after NVIDIA Dynamo's KV-aware router
/// (`cost = overlap_score_weight * prefill blocks + active decode blocks`, lowest wins):
///
/// ```text
/// cost_i = overlap_weight * uncached_prompt_tokens_i + outstanding_tokens_i     (tokens)
/// ```
///
/// Ties go to the fewest outstanding tokens, then the lowest index. `overlap_weight = 0` is
/// least-outstanding-tokens; a large weight approaches longest-prefix. Dynamo's optional
/// softmax sampling (temperature > 0) is not modelled: the choice is the minimum.
#[derive(Clone, Copy, Debug)]
pub struct KvCost {
    /// Weight of a token to compute against a token of queued work. Dynamo's default is 1.
    pub overlap_weight: f64,
}

impl RoutingPolicy for KvCost {
    fn name(&self) -> &'static str {
        "kv-cost"
    }

    fn route(&mut self, request: &RouteQuery, instances: &[InstanceView]) -> usize {
        assert!(!instances.is_empty(), "routing needs at least one instance");
        let cost = |v: &InstanceView| {
            self.overlap_weight * request.uncached_tokens(v.cached_prefix_blocks) as f64
                + v.outstanding_tokens as f64
        };
        let mut best = 0;
        for (index, v) in instances.iter().enumerate().skip(1) {
            let b = &instances[best];
            let order = cost(v)
                .total_cmp(&cost(b))
                .then(v.outstanding_tokens.cmp(&b.outstanding_tokens));
            if order.is_lt() {
                best = index;
            }
        }
        best
    }
}

fn least_loaded(instances: &[InstanceView]) -> usize {
    assert!(!instances.is_empty(), "routing needs at least one instance");
    instances
        .iter()
        .enumerate()
        .min_by_key(|(index, v)| (v.outstanding_tokens, *index))
        .map(|(index, _)| index)
        .expect("not empty")
}

fn default_overlap_weight() -> f64 {
    1.0
}

fn default_balance_abs() -> u64 {
    64
}

fn default_balance_rel() -> f64 {
    1.5
}

fn default_cache_threshold() -> f64 {
    0.3
}

fn some_balance_abs() -> Option<u64> {
    Some(default_balance_abs())
}

/// Routing policy choice, as scenarios write it (`routing: { kind: cache-aware }`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RoutingConfig {
    /// [`RoundRobin`].
    RoundRobin,
    /// [`LeastOutstandingTokens`].
    LeastOutstandingTokens,
    /// [`CacheAware`] (the default).
    CacheAware {
        /// See [`CacheAware::balance_abs_threshold`]; default 64, `null` turns the guard off.
        #[serde(default = "some_balance_abs")]
        balance_abs_threshold: Option<u64>,
        /// See [`CacheAware::balance_rel_threshold`]; default 1.5.
        #[serde(default = "default_balance_rel")]
        balance_rel_threshold: f64,
        /// See [`CacheAware::cache_threshold`]; default 0.3.
        #[serde(default = "default_cache_threshold")]
        cache_threshold: f64,
    },
    /// [`DynamoKv`].
    DynamoKv {
        /// See [`DynamoKv::overlap_score_weight`]; default 1.
        #[serde(default = "default_overlap_weight")]
        overlap_score_weight: f64,
    },
    /// [`KvCost`].
    KvCost {
        /// See [`KvCost::overlap_weight`]; default 1.
        #[serde(default = "default_overlap_weight")]
        overlap_weight: f64,
    },
}

impl Default for RoutingConfig {
    /// `cache-aware` with SGLang's defaults.
    fn default() -> Self {
        RoutingConfig::CacheAware {
            balance_abs_threshold: some_balance_abs(),
            balance_rel_threshold: default_balance_rel(),
            cache_threshold: default_cache_threshold(),
        }
    }
}

impl RoutingConfig {
    /// A fresh policy; fails if a parameter is out of range.
    pub fn build(&self) -> Result<Box<dyn RoutingPolicy>, InvalidField> {
        Ok(match *self {
            RoutingConfig::RoundRobin => Box::new(RoundRobin::default()),
            RoutingConfig::LeastOutstandingTokens => Box::new(LeastOutstandingTokens),
            RoutingConfig::CacheAware {
                balance_abs_threshold,
                balance_rel_threshold,
                cache_threshold,
            } => {
                if !(balance_rel_threshold.is_finite() && balance_rel_threshold >= 1.0) {
                    return Err(InvalidField::new(
                        "balance_rel_threshold",
                        balance_rel_threshold,
                        "must be finite and at least 1",
                    ));
                }
                if !(0.0..=1.0).contains(&cache_threshold) {
                    return Err(InvalidField::new(
                        "cache_threshold",
                        cache_threshold,
                        "must be between 0 and 1",
                    ));
                }
                Box::new(CacheAware {
                    balance_abs_threshold,
                    balance_rel_threshold,
                    cache_threshold,
                })
            }
            RoutingConfig::DynamoKv {
                overlap_score_weight,
            } => {
                if !(overlap_score_weight.is_finite() && overlap_score_weight >= 0.0) {
                    return Err(InvalidField::new(
                        "overlap_score_weight",
                        overlap_score_weight,
                        "must be finite and not negative",
                    ));
                }
                Box::new(DynamoKv {
                    overlap_score_weight,
                })
            }
            RoutingConfig::KvCost { overlap_weight } => {
                if !(overlap_weight.is_finite() && overlap_weight >= 0.0) {
                    return Err(InvalidField::new(
                        "overlap_weight",
                        overlap_weight,
                        "must be finite and not negative",
                    ));
                }
                Box::new(KvCost { overlap_weight })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: RouteQuery = RouteQuery {
        prompt_tokens: 1000,
        block_size_tokens: 10,
    };

    fn view(outstanding_tokens: u64, cached_prefix_blocks: usize) -> InstanceView {
        InstanceView {
            outstanding_tokens,
            cached_prefix_blocks,
            ..InstanceView::default()
        }
    }

    #[test]
    fn round_robin_cycles_and_survives_resizing() {
        let mut rr = RoundRobin::default();
        let three = [view(0, 0); 3];
        let picks: Vec<usize> = (0..5).map(|_| rr.route(&Q, &three)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1]);
        assert_eq!(rr.route(&Q, &three[..1]), 0);
        assert_eq!(rr.route(&Q, &three), 1);
    }

    #[test]
    fn least_outstanding_ties_to_lowest_index() {
        let mut p = LeastOutstandingTokens;
        assert_eq!(p.route(&Q, &[view(5, 0), view(3, 0), view(3, 0)]), 1);
    }

    fn loaded(requests: u32, cached_prefix_blocks: usize) -> InstanceView {
        InstanceView {
            running: requests,
            cached_prefix_blocks,
            ..InstanceView::default()
        }
    }

    #[test]
    fn cache_aware_prefers_prefix_then_load_then_index() {
        let mut p = CacheAware::default();
        // 50 of 100 blocks cached (50 % > 30 %) beats 30 blocks.
        assert_eq!(p.route(&Q, &[view(0, 1), view(900, 50), view(100, 30)]), 1);
        assert_eq!(p.route(&Q, &[view(50, 50), view(40, 50), view(40, 50)]), 1);
        // 20 % cached is below the 30 % threshold: the least loaded wins.
        assert_eq!(p.route(&Q, &[loaded(5, 20), loaded(2, 0)]), 1);
    }

    #[test]
    fn cache_aware_load_guard_needs_both_thresholds() {
        let mut p = CacheAware::default();
        // Spread 64 is not above 64: cache wins.
        assert_eq!(p.route(&Q, &[loaded(10, 0), loaded(74, 90)]), 1);
        // Spread 65 > 64 and 75 > 1.5 x 10: the least loaded wins.
        assert_eq!(p.route(&Q, &[loaded(10, 0), loaded(75, 90)]), 0);
        // Spread 70 > 64 but 270 < 1.5 x 200: cache still wins.
        assert_eq!(p.route(&Q, &[loaded(200, 0), loaded(270, 90)]), 1);
        // Guard off: a pure longest prefix.
        let mut pure = CacheAware {
            balance_abs_threshold: None,
            cache_threshold: 0.0,
            ..CacheAware::default()
        };
        assert_eq!(pure.route(&Q, &[loaded(0, 0), loaded(1000, 1)]), 1);
    }

    /// 1000-token prompt (100 blocks of 10), weight 1:
    /// instance 0: (0 queued + 1000 uncached) / 10 + (50 active + 100) = 250;
    /// instance 1: (300 + 400) / 10 + (120 + 100) = 290;
    /// instance 2: (0 + 200) / 10 + (200 + 100) = 320. Instance 0 wins; with weight 3,
    /// 450 / 430 / 360: instance 2.
    #[test]
    fn dynamo_kv_hand_worked() {
        let v = |queued, cached, active| InstanceView {
            queued_prefill_tokens: queued,
            cached_prefix_blocks: cached,
            active_blocks: active,
            ..InstanceView::default()
        };
        let views = [v(0, 0, 50), v(300, 60, 120), v(0, 80, 200)];
        let mut p = DynamoKv {
            overlap_score_weight: 1.0,
        };
        assert_eq!(p.route(&Q, &views), 0);
        p.overlap_score_weight = 3.0;
        assert_eq!(p.route(&Q, &views), 2);
    }

    /// 1000-token prompt, 10-token blocks, weight 1:
    /// instance 0: 1000 uncached + 200 queued = 1200; instance 1: (1000 - 60*10) + 500 = 900;
    /// instance 2: (1000 - 90*10) + 900 = 1000. Instance 1 wins.
    #[test]
    fn kv_cost_hand_worked() {
        let views = [view(200, 0), view(500, 60), view(900, 90)];
        let mut p = KvCost {
            overlap_weight: 1.0,
        };
        assert_eq!(p.route(&Q, &views), 1);
        // Weight 0 is least loaded; a huge weight is longest prefix.
        assert_eq!(
            KvCost {
                overlap_weight: 0.0
            }
            .route(&Q, &views),
            0
        );
        assert_eq!(
            KvCost {
                overlap_weight: 1e6
            }
            .route(&Q, &views),
            2
        );
        // Equal cost (1000 each): fewer outstanding tokens wins, then lower index.
        let tied = [view(500, 50), view(100, 10), view(100, 10)];
        assert_eq!(p.route(&Q, &tied), 1);
        // Cached blocks beyond the prompt do not make the uncached count negative.
        assert_eq!(Q.uncached_tokens(1000), 0);
    }

    #[test]
    fn config_from_yaml() {
        let c: RoutingConfig = serde_norway::from_str("kind: kv-cost").unwrap();
        assert_eq!(
            c,
            RoutingConfig::KvCost {
                overlap_weight: 1.0
            }
        );
        assert_eq!(c.build().unwrap().name(), "kv-cost");
        let c: RoutingConfig =
            serde_norway::from_str("kind: cache-aware\nbalance_abs_threshold: null").unwrap();
        assert_eq!(
            c,
            RoutingConfig::CacheAware {
                balance_abs_threshold: None,
                balance_rel_threshold: 1.5,
                cache_threshold: 0.3,
            }
        );
        let c: RoutingConfig = serde_norway::from_str("kind: dynamo-kv").unwrap();
        assert_eq!(c.build().unwrap().name(), "dynamo-kv");
        let bad = RoutingConfig::CacheAware {
            balance_abs_threshold: Some(1),
            balance_rel_threshold: 0.5,
            cache_threshold: 0.3,
        };
        assert_eq!(bad.build().unwrap_err().field, "balance_rel_threshold");
        assert!(
            serde_norway::from_str::<RoutingConfig>("kind: cache-aware\nthreshold: 1").is_err()
        );
        let bad = RoutingConfig::KvCost {
            overlap_weight: -1.0,
        };
        assert_eq!(bad.build().unwrap_err().field, "overlap_weight");
    }

    #[test]
    #[should_panic(expected = "at least one instance")]
    fn empty_cluster_panics() {
        LeastOutstandingTokens.route(&Q, &[]);
    }
}
