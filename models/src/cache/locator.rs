//! Which instances of a cluster hold which cached blocks: the router's view of every
//! instance's prefix cache in one map, as Dynamo's KV indexer keeps from the engines' KV
//! events (block stored, block removed).
//!
//! A router asks for the longest cached prefix of a prompt on every instance. Probing each
//! instance's cache costs one hash lookup per instance per request (cache misses into as many
//! tables); the locator walks the prompt's chain once, narrowing the set of instances that hold
//! every block so far, so its cost follows the instances that share the prefix, not the cluster
//! size.
//!
//! ```
//! use kvcsim_models::cache::{BlockId, BlockLocator};
//!
//! let mut l = BlockLocator::new(3);
//! for b in [1, 2, 3] { l.stored(BlockId(b), 0); }
//! for b in [1, 2] { l.stored(BlockId(b), 2); }
//! let mut lengths = vec![0; 3];
//! l.prefix_lengths(&[BlockId(1), BlockId(2), BlockId(3)], &mut lengths);
//! assert_eq!(lengths, [3, 0, 2]);
//! ```

use std::hash::BuildHasherDefault;

use super::block::{BlockId, BlockMap};

/// Block -> instances holding it (sorted, no duplicates).
#[derive(Debug, Clone)]
pub struct BlockLocator {
    instances: usize,
    holders: BlockMap<Vec<u32>>,
    /// Scratch: instances still matching during a walk, and the ones reported last time.
    candidates: Vec<u32>,
    reported: Vec<u32>,
}

impl BlockLocator {
    /// An empty locator for a cluster of `instances`.
    pub fn new(instances: usize) -> Self {
        BlockLocator {
            instances,
            holders: BlockMap::with_hasher(BuildHasherDefault::default()),
            candidates: Vec::new(),
            reported: Vec::new(),
        }
    }

    /// Instance `instance` now caches `block`.
    pub fn stored(&mut self, block: BlockId, instance: u32) {
        debug_assert!((instance as usize) < self.instances);
        let h = self.holders.entry(block).or_default();
        if let Err(pos) = h.binary_search(&instance) {
            h.insert(pos, instance);
        }
    }

    /// Instance `instance` no longer caches `block` (evicted or dropped).
    pub fn removed(&mut self, block: BlockId, instance: u32) {
        if let Some(h) = self.holders.get_mut(&block)
            && let Ok(pos) = h.binary_search(&instance)
        {
            h.remove(pos);
            if h.is_empty() {
                self.holders.remove(&block);
            }
        }
    }

    /// Sets `lengths[i]` to the number of leading blocks of `chain` that instance `i` caches.
    /// `lengths` must have one entry per instance and be the same slice as on the previous
    /// call (only the entries that call set are cleared).
    pub fn prefix_lengths(&mut self, chain: &[BlockId], lengths: &mut [usize]) {
        assert_eq!(lengths.len(), self.instances, "one length per instance");
        for &i in &self.reported {
            lengths[i as usize] = 0;
        }
        self.reported.clear();
        self.candidates.clear();
        let Some(first) = chain.first().and_then(|b| self.holders.get(b)) else {
            return;
        };
        self.candidates.extend_from_slice(first);
        self.reported.extend_from_slice(first);
        for (depth, block) in chain.iter().enumerate() {
            if depth > 0 {
                let Some(h) = self.holders.get(block) else {
                    break;
                };
                self.candidates.retain(|c| h.binary_search(c).is_ok());
            }
            if self.candidates.is_empty() {
                break;
            }
            for &c in &self.candidates {
                lengths[c as usize] = depth + 1;
            }
        }
    }

    /// Number of distinct blocks cached somewhere.
    pub fn blocks(&self) -> usize {
        self.holders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a naive model: per instance, the longest prefix of the chain in its set.
        #[test]
        fn matches_per_instance_sets(
            ops in prop::collection::vec((0..4u32, 0..6u64, any::<bool>()), 0..60),
            chains in prop::collection::vec(prop::collection::vec(0..6u64, 0..5), 1..6),
        ) {
            let mut l = BlockLocator::new(4);
            let mut sets = vec![std::collections::HashSet::new(); 4];
            for (i, b, add) in ops {
                if add { l.stored(BlockId(b), i); sets[i as usize].insert(b); }
                else { l.removed(BlockId(b), i); sets[i as usize].remove(&b); }
            }
            let mut lengths = vec![0; 4];
            for chain in chains {
                let chain: Vec<BlockId> = chain.into_iter().map(BlockId).collect();
                l.prefix_lengths(&chain, &mut lengths);
                for (i, set) in sets.iter().enumerate() {
                    let want = chain.iter().take_while(|b| set.contains(&b.0)).count();
                    prop_assert_eq!(lengths[i], want);
                }
            }
        }
    }
}
