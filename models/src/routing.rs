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
//! let mut policy = RoutingConfig::CacheAware { imbalance_threshold_tokens: None }.build().unwrap();
//! let query = RouteQuery { prompt_tokens: 4096, block_size_tokens: 16 };
//! let idle = InstanceView { outstanding_tokens: 0, running: 0, waiting: 0, cached_prefix_blocks: 0 };
//! let warm = InstanceView { outstanding_tokens: 9000, cached_prefix_blocks: 200, ..idle };
//! assert_eq!(policy.route(&query, &[idle, warm]), 1);
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

/// The instance caching the longest prefix of the prompt; ties to the fewest outstanding
/// tokens, then the lowest index.
///
/// With `imbalance_threshold_tokens = Some(t)`, when the most and least loaded instances differ
/// by more than `t` outstanding tokens the request goes to the least loaded instead (the
/// load-balancing fallback of SGLang's cache-aware router, which also has a relative
/// threshold, omitted here). A pure longest-prefix policy piles a popular prefix onto one
/// instance; the threshold bounds that skew.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheAware {
    /// Outstanding-token spread above which load wins over cache; `None` never.
    pub imbalance_threshold_tokens: Option<u64>,
}

impl RoutingPolicy for CacheAware {
    fn name(&self) -> &'static str {
        "cache-aware"
    }

    fn route(&mut self, _request: &RouteQuery, instances: &[InstanceView]) -> usize {
        assert!(!instances.is_empty(), "routing needs at least one instance");
        if let Some(threshold) = self.imbalance_threshold_tokens {
            let loads = instances.iter().map(|i| i.outstanding_tokens);
            let spread = loads.clone().max().unwrap_or(0) - loads.min().unwrap_or(0);
            if spread > threshold {
                return least_loaded(instances);
            }
        }
        instances
            .iter()
            .enumerate()
            .min_by_key(|(index, v)| {
                (
                    std::cmp::Reverse(v.cached_prefix_blocks),
                    v.outstanding_tokens,
                    *index,
                )
            })
            .map(|(index, _)| index)
            .expect("not empty")
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

/// Routing policy choice, as scenarios write it (`routing: { kind: cache-aware }`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RoutingConfig {
    /// [`RoundRobin`].
    RoundRobin,
    /// [`LeastOutstandingTokens`].
    LeastOutstandingTokens,
    /// [`CacheAware`].
    CacheAware {
        /// See [`CacheAware::imbalance_threshold_tokens`]; default none.
        #[serde(default)]
        imbalance_threshold_tokens: Option<u64>,
    },
    /// [`KvCost`].
    KvCost {
        /// See [`KvCost::overlap_weight`]; default 1.
        #[serde(default = "default_overlap_weight")]
        overlap_weight: f64,
    },
}

impl RoutingConfig {
    /// A fresh policy; fails if a parameter is out of range.
    pub fn build(&self) -> Result<Box<dyn RoutingPolicy>, InvalidField> {
        Ok(match *self {
            RoutingConfig::RoundRobin => Box::new(RoundRobin::default()),
            RoutingConfig::LeastOutstandingTokens => Box::new(LeastOutstandingTokens),
            RoutingConfig::CacheAware {
                imbalance_threshold_tokens,
            } => Box::new(CacheAware {
                imbalance_threshold_tokens,
            }),
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

    #[test]
    fn cache_aware_prefers_prefix_then_load_then_index() {
        let mut p = CacheAware::default();
        assert_eq!(p.route(&Q, &[view(0, 1), view(900, 5), view(100, 3)]), 1);
        assert_eq!(p.route(&Q, &[view(50, 5), view(40, 5), view(40, 5)]), 1);
        assert_eq!(p.route(&Q, &[view(7, 0), view(3, 0)]), 1);
    }

    #[test]
    fn cache_aware_falls_back_to_load_when_imbalanced() {
        let mut p = CacheAware {
            imbalance_threshold_tokens: Some(500),
        };
        // Spread 400 <= 500: cache wins.
        assert_eq!(p.route(&Q, &[view(100, 0), view(500, 9)]), 1);
        // Spread 600 > 500: least loaded wins.
        assert_eq!(p.route(&Q, &[view(100, 0), view(700, 9)]), 0);
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
            serde_norway::from_str("kind: cache-aware\nimbalance_threshold_tokens: 4096").unwrap();
        assert_eq!(
            c,
            RoutingConfig::CacheAware {
                imbalance_threshold_tokens: Some(4096)
            }
        );
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
