//! [`PrefixLruPolicy`]: LRU over leaf blocks, so that cached prefixes stay whole.

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Last insert or touch (larger = more recent).
    stamp: u64,
    parent: Option<BlockId>,
}

/// Prefix-aware LRU: the victim is the least recently used *leaf*, a block that no other
/// evictable block names as its parent ([`BlockMeta::parent`]). A block is only useful with
/// every block before it, so evicting an inner block of a cached prefix would strand the
/// blocks after it; evicting leaves first keeps each cached prefix whole and shortens it from
/// the tail, as a radix tree of prefixes does (SGLang's RadixAttention evicts leaves in LRU
/// order; vLLM approximates it by freeing a request's blocks tail first).
///
/// A parent is a leaf again once its last evictable child leaves. Pinned blocks are out of the
/// policy; a cache pins whole prefixes (a request uses every block before its last), so an
/// evictable block never has a pinned child. A recency policy: a released block goes to the
/// most recent end.
///
/// O(log n): a `BTreeMap` of the leaves keyed by recency stamp, and per-block counts of
/// evictable children. If the parents given are inconsistent (ids that are not
/// prefix-chained can form a cycle, leaving blocks but no leaf), the least recent block of all
/// is evicted instead, found by a scan.
#[derive(Clone, Debug, Default)]
pub struct PrefixLruPolicy {
    entries: BlockMap<Entry>,
    /// Evictable children of each block (evictable or not), when non-zero.
    children: BlockMap<u32>,
    leaves: BTreeMap<u64, BlockId>,
    next_stamp: u64,
}

impl PrefixLruPolicy {
    /// An empty policy with hash-table room for `capacity` blocks.
    pub fn with_capacity(capacity: usize) -> Self {
        let hasher = BuildHasherDefault::default;
        PrefixLruPolicy {
            entries: BlockMap::with_capacity_and_hasher(super::presize(capacity), hasher()),
            children: BlockMap::with_capacity_and_hasher(super::presize(capacity), hasher()),
            leaves: BTreeMap::new(),
            next_stamp: 0,
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn is_leaf(&self, block: BlockId) -> bool {
        !self.children.contains_key(&block)
    }

    /// Takes a held block out of the policy.
    fn take(&mut self, block: BlockId) -> bool {
        let Some(e) = self.entries.remove(&block) else {
            return false;
        };
        self.leaves.remove(&e.stamp);
        if let Some(parent) = e.parent {
            let count = self
                .children
                .get_mut(&parent)
                .expect("counted at insertion");
            *count -= 1;
            if *count == 0 {
                self.children.remove(&parent);
                if let Some(p) = self.entries.get(&parent) {
                    self.leaves.insert(p.stamp, parent);
                }
            }
        }
        true
    }
}

impl EvictionPolicy for PrefixLruPolicy {
    fn name(&self) -> &'static str {
        "prefix-lru"
    }

    fn insert(&mut self, block: BlockId, meta: BlockMeta, _reason: InsertReason) {
        if self.entries.contains_key(&block) {
            return self.touch(block, meta);
        }
        let stamp = self.stamp();
        self.entries.insert(
            block,
            Entry {
                stamp,
                parent: meta.parent,
            },
        );
        if let Some(parent) = meta.parent {
            let count = self.children.entry(parent).or_insert(0);
            *count += 1;
            if *count == 1
                && let Some(p) = self.entries.get(&parent)
            {
                self.leaves.remove(&p.stamp);
            }
        }
        if self.is_leaf(block) {
            self.leaves.insert(stamp, block);
        }
    }

    fn touch(&mut self, block: BlockId, _meta: BlockMeta) {
        let stamp = self.stamp();
        let leaf = self.is_leaf(block);
        let Some(e) = self.entries.get_mut(&block) else {
            return;
        };
        if leaf {
            self.leaves.remove(&e.stamp);
            self.leaves.insert(stamp, block);
        }
        e.stamp = stamp;
    }

    fn remove(&mut self, block: BlockId, _reason: RemoveReason) -> bool {
        self.take(block)
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        let victim = match self.leaves.first_key_value() {
            Some((_, &block)) => block,
            None => *self.entries.iter().min_by_key(|(_, e)| e.stamp)?.0,
        };
        self.take(victim);
        Some(victim)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.entries.contains_key(&block)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, b};
    use super::super::{
        EvictionConfig, LruPolicy, ReplayTrace, replay, replay_config, replay_each,
    };
    use super::*;
    use proptest::prelude::*;

    fn meta(parent: Option<u64>) -> BlockMeta {
        BlockMeta {
            depth: 0,
            parent: parent.map(BlockId),
            now_ns: 0,
        }
    }

    /// Chain 1 <- 2 <- 3 and a second child 4 of 1. Leaves: 3 and 4. Touching 1 does not
    /// protect the leaves, and 1 is no leaf: the victims are 3 (least recent leaf), then 2
    /// (a leaf once 3 is gone), then 4, then 1.
    #[test]
    fn hand_worked_sequence() {
        let mut p = PrefixLruPolicy::default();
        p.insert(b(1), meta(None), InsertReason::Admitted);
        p.insert(b(2), meta(Some(1)), InsertReason::Admitted);
        p.insert(b(3), meta(Some(2)), InsertReason::Admitted);
        p.insert(b(4), meta(Some(1)), InsertReason::Admitted);
        p.touch(b(1), meta(None));
        let victims: Vec<u64> = std::iter::from_fn(|| p.pop_victim(0))
            .map(|b| b.0)
            .collect();
        assert_eq!(victims, [3, 2, 4, 1]);
        // Released tail first (as a cache unpins), the parent arrives after its child.
        p.insert(b(3), meta(Some(2)), InsertReason::Unpinned);
        p.insert(b(2), meta(Some(1)), InsertReason::Unpinned);
        p.insert(b(1), meta(None), InsertReason::Unpinned);
        assert_eq!(p.pop_victim(0), Some(b(3)));
    }

    /// Where LRU breaks a prefix and prefix-LRU does not: capacity 3, requests [1,2,3] then
    /// [4] then [1,2,3]. LRU touched 1 first, so [4] evicts 1, and the last request hits 2
    /// and 3 but no prefix. Prefix-LRU evicts the leaf 3: the last request reuses the prefix
    /// [1,2].
    #[test]
    fn keeps_prefixes_whole() {
        let trace = ReplayTrace::from_chains([vec![1, 2, 3], vec![4], vec![1, 2, 3]]);
        let lru = replay_config(&trace, &EvictionConfig::Lru, 3).unwrap();
        let plru = replay_config(&trace, &EvictionConfig::PrefixLru, 3).unwrap();
        assert_eq!((lru.hits, lru.prefix_hits), (2, 0));
        assert_eq!((plru.hits, plru.prefix_hits), (2, 2));
    }

    #[test]
    fn inconsistent_parents_fall_back_to_lru() {
        let mut p = PrefixLruPolicy::default();
        p.insert(b(1), meta(Some(2)), InsertReason::Admitted);
        p.insert(b(2), meta(Some(1)), InsertReason::Admitted);
        assert_eq!(p.pop_victim(0), Some(b(1)));
        assert_eq!(p.pop_victim(0), Some(b(2)));
    }

    /// The reference: a `Vec` in LRU order; the victim is the first block that no cached block
    /// names as parent. O(n^2) per eviction.
    fn reference_hits(chains: &[Vec<u64>], capacity: usize) -> Vec<u64> {
        let mut cache: Vec<(u64, Option<u64>)> = Vec::new(); // least recent first
        let mut hits = Vec::new();
        for chain in chains {
            hits.push(
                chain
                    .iter()
                    .filter(|&&x| cache.iter().any(|e| e.0 == x))
                    .count() as u64,
            );
            for (i, &x) in chain.iter().enumerate() {
                let parent = i.checked_sub(1).map(|p| chain[p]);
                if let Some(at) = cache.iter().position(|e| e.0 == x) {
                    let e = cache.remove(at);
                    cache.push(e);
                    continue;
                }
                if cache.len() == capacity {
                    let leaf = (0..cache.len())
                        .find(|&i| !cache.iter().any(|e| e.1 == Some(cache[i].0)))
                        .unwrap();
                    cache.remove(leaf);
                }
                cache.push((x, parent));
            }
        }
        hits
    }

    proptest! {
        #[test]
        fn matches_reference(capacity in 1..12usize, chains in testing::chains()) {
            let trace = ReplayTrace::from_chains(&chains);
            let mut fast = Vec::new();
            replay_each(&trace, &mut PrefixLruPolicy::default(), capacity, |_, h, _, _| fast.push(h));
            prop_assert_eq!(fast, reference_hits(&chains, capacity));
        }

        /// Without parents (one-block requests) every block is a leaf: it is LRU.
        #[test]
        fn on_single_access_sequences_it_is_lru(capacity in 1..12usize, accesses in testing::accesses()) {
            let trace = ReplayTrace::from_chains(accesses.iter().map(|&a| [a]));
            let a = replay(&trace, &mut PrefixLruPolicy::default(), capacity);
            let l = replay(&trace, &mut LruPolicy::new(), capacity);
            prop_assert_eq!(a, l);
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            testing::check_contract(&mut PrefixLruPolicy::default(), &ops)?;
        }
    }
}
