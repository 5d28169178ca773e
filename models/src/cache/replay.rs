//! A timing-free replay of a trace's block chains through one cache: the engine of `kvcsim
//! cache replay`, and the harness the policies are tested with.
//!
//! Semantics (exactly those of `kvcsim trace stats --lru`): requests in order; all blocks of a
//! request are looked up against the cache as it was before the request (hits counted; prefix
//! hits count only the request's leading run of hits); then its blocks are accessed in order:
//! a resident block is touched, a missing one is inserted, evicting one victim first when the
//! cache holds `capacity_blocks`. No pinning: every resident block is evictable.
//!
//! ```
//! use kvcsim_models::cache::{EvictionConfig, ReplayTrace, replay_config};
//!
//! // Two requests sharing the prefix [1, 2]; a cache of 3 blocks.
//! let trace = ReplayTrace::from_chains([vec![1, 2, 3], vec![1, 2, 4]]);
//! let r = replay_config(&trace, &EvictionConfig::Lru, 3).unwrap();
//! assert_eq!((r.references, r.hits, r.prefix_hits, r.evictions), (6, 2, 2, 1));
//! ```

use std::hash::BuildHasherDefault;
use std::sync::{Arc, OnceLock};

use super::{
    BlockId, BlockMap, BlockMeta, EvictionConfig, EvictionPolicy, FutureUses, InsertReason,
    PolicyError,
};

/// The block chains of a trace's requests, in replay order, with block ids renumbered densely
/// (0, 1, ... in first-seen order) so the replay can keep residency in a vector.
#[derive(Debug, Default)]
pub struct ReplayTrace {
    /// Request `i` references `blocks[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    blocks: Vec<BlockId>,
    unique_blocks: usize,
    future: OnceLock<Arc<FutureUses>>,
}

impl ReplayTrace {
    /// The chains of the requests, in the order to replay them.
    pub fn from_chains<I, C>(chains: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u64]>,
    {
        let mut ids: BlockMap<u32> = BlockMap::with_hasher(BuildHasherDefault::default());
        let mut trace = ReplayTrace {
            starts: vec![0],
            ..Default::default()
        };
        for chain in chains {
            for &id in chain.as_ref() {
                let next = u32::try_from(ids.len()).expect("fewer than 2^32 distinct blocks");
                let dense = *ids.entry(BlockId(id)).or_insert(next);
                trace.blocks.push(BlockId(u64::from(dense)));
            }
            trace.starts.push(trace.blocks.len());
        }
        trace.unique_blocks = ids.len();
        trace
    }

    /// Number of requests.
    pub fn requests(&self) -> usize {
        self.starts.len() - 1
    }

    /// Block references, summed over requests.
    pub fn references(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// Distinct blocks.
    pub fn unique_blocks(&self) -> usize {
        self.unique_blocks
    }

    /// The (renumbered) chain of request `i`.
    pub fn chain(&self, i: usize) -> &[BlockId] {
        &self.blocks[self.starts[i]..self.starts[i + 1]]
    }

    /// Every block's uses, with request positions as times: what Belady needs. Built once.
    pub fn future(&self) -> &Arc<FutureUses> {
        self.future.get_or_init(|| {
            Arc::new(FutureUses::from_uses(
                (0..self.requests())
                    .flat_map(|r| self.chain(r).iter().map(move |&b| (b, r as u64))),
            ))
        })
    }
}

/// What one replay counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayResult {
    /// Cache size, blocks.
    pub capacity_blocks: u64,
    /// Block references of the trace.
    pub references: u64,
    /// References found in the cache.
    pub hits: u64,
    /// Hits in each request's leading run of hits.
    pub prefix_hits: u64,
    /// Victims evicted.
    pub evictions: u64,
}

impl ReplayResult {
    /// `hits / references`; `None` without references.
    pub fn block_hit_ratio(&self) -> Option<f64> {
        (self.references > 0).then(|| self.hits as f64 / self.references as f64)
    }

    /// `prefix_hits / references`; `None` without references.
    pub fn prefix_hit_ratio(&self) -> Option<f64> {
        (self.references > 0).then(|| self.prefix_hits as f64 / self.references as f64)
    }
}

/// Replays `trace` through a fresh policy of kind `config` (Belady gets the trace's future).
pub fn replay_config(
    trace: &ReplayTrace,
    config: &EvictionConfig,
    capacity_blocks: usize,
) -> Result<ReplayResult, PolicyError> {
    let future = config.is_offline().then(|| trace.future());
    let mut policy = config.build(capacity_blocks, future)?;
    Ok(replay(trace, policy.as_mut(), capacity_blocks))
}

/// Replays `trace` through `policy` (which must be empty) with a cache of `capacity_blocks`.
pub fn replay(
    trace: &ReplayTrace,
    policy: &mut dyn EvictionPolicy,
    capacity_blocks: usize,
) -> ReplayResult {
    let mut result = ReplayResult {
        capacity_blocks: capacity_blocks as u64,
        references: trace.references(),
        hits: 0,
        prefix_hits: 0,
        evictions: 0,
    };
    replay_each(
        trace,
        policy,
        capacity_blocks,
        |_, hits, prefix_hits, evicted| {
            result.hits += hits;
            result.prefix_hits += prefix_hits;
            result.evictions += evicted;
        },
    );
    result
}

/// [`replay`], calling `on_request(request, hits, prefix_hits, evictions)` after each request.
pub fn replay_each(
    trace: &ReplayTrace,
    policy: &mut dyn EvictionPolicy,
    capacity_blocks: usize,
    mut on_request: impl FnMut(usize, u64, u64, u64),
) {
    assert!(policy.is_empty(), "a replay needs an empty policy");
    let mut resident = vec![false; trace.unique_blocks];
    let mut held = 0usize;
    for r in 0..trace.requests() {
        let chain = trace.chain(r);
        let hits = chain.iter().filter(|b| resident[b.0 as usize]).count() as u64;
        let prefix_hits = chain.iter().take_while(|b| resident[b.0 as usize]).count() as u64;
        let mut evictions = 0;
        for (depth, &block) in chain.iter().enumerate() {
            let meta = BlockMeta {
                depth: depth as u32,
                parent: depth.checked_sub(1).map(|p| chain[p]),
                now_ns: r as u64,
            };
            if resident[block.0 as usize] {
                policy.touch(block, meta);
                continue;
            }
            if capacity_blocks == 0 {
                continue;
            }
            policy.on_miss(block, meta);
            if held == capacity_blocks {
                let victim = policy
                    .pop_victim(meta.now_ns)
                    .expect("a full cache has a victim: nothing is pinned");
                debug_assert!(
                    resident[victim.0 as usize],
                    "victim {victim:?} not resident"
                );
                resident[victim.0 as usize] = false;
                held -= 1;
                evictions += 1;
            }
            policy.insert(block, meta, InsertReason::Admitted);
            resident[block.0 as usize] = true;
            held += 1;
        }
        debug_assert_eq!(policy.len(), held);
        on_request(r, hits, prefix_hits, evictions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_densely_in_first_seen_order() {
        let t = ReplayTrace::from_chains([vec![70, 71], vec![], vec![70, 99]]);
        assert_eq!((t.requests(), t.references(), t.unique_blocks()), (3, 4, 3));
        assert_eq!(t.chain(2), [BlockId(0), BlockId(2)]);
        assert!(t.chain(1).is_empty());
        assert_eq!(t.future().next_use_after(BlockId(0), 0), Some(2));
    }

    /// Capacity 2, LRU. r0 [1,2]: 2 misses. r1 [1,3]: lookup hits 1 (prefix 1); touching 1
    /// leaves 2 least recent; 3 evicts 2. r2 [2,3]: 2 misses, 3 hits (not a prefix hit); 2
    /// evicts 1. Totals: 6 references, 2 hits, 1 prefix hit, 2 evictions.
    #[test]
    fn hand_worked_lru_replay() {
        let t = ReplayTrace::from_chains([[1, 2], [1, 3], [2, 3]]);
        let r = replay_config(&t, &EvictionConfig::Lru, 2).unwrap();
        assert_eq!((r.hits, r.prefix_hits, r.evictions), (2, 1, 2));
        assert_eq!(r.block_hit_ratio(), Some(2.0 / 6.0));
        let none = replay_config(&t, &EvictionConfig::Lru, 0).unwrap();
        assert_eq!((none.hits, none.evictions), (0, 0));
        let empty = replay_config(
            &ReplayTrace::from_chains::<_, [u64; 0]>([]),
            &EvictionConfig::Lru,
            1,
        );
        assert_eq!(empty.unwrap().block_hit_ratio(), None);
    }
}
