//! [`LruPolicy`]: least recently used, O(1) per operation.

use std::hash::BuildHasherDefault;

use super::list::{List, Slab};
use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

/// Least recently used eviction: the victim is the evictable block whose last insert or touch
/// is oldest.
///
/// A doubly linked list threaded through a slab (`Vec` of nodes with a free list, shared with
/// ARC and S3-FIFO's ghost queue) plus a map from block to slot: every operation is O(1), and
/// nothing is allocated once the slab and map have grown to the largest evictable set seen
/// (size them with [`with_capacity`](Self::with_capacity)).
///
/// With [`PrefixCache`](super::PrefixCache), which re-inserts a released chain deepest block
/// first, this is vLLM's prefix-caching eviction order: least recently released first, and
/// within one release the tail of the prompt before its head.
#[derive(Clone, Debug)]
pub struct LruPolicy {
    slab: Slab,
    /// Front: least recently used (the next victim); back: most recently used.
    list: List,
    index: BlockMap<u32>,
}

impl Default for LruPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl LruPolicy {
    /// An empty policy.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty policy with room for `capacity` blocks before it allocates.
    pub fn with_capacity(capacity: usize) -> Self {
        LruPolicy {
            slab: Slab::with_capacity(super::presize(capacity)),
            list: List::default(),
            index: BlockMap::with_capacity_and_hasher(
                super::presize(capacity),
                BuildHasherDefault::default(),
            ),
        }
    }

    /// Evictable blocks from least to most recently used (the eviction order).
    pub fn iter_lru_order(&self) -> impl Iterator<Item = BlockId> + '_ {
        self.slab.iter(&self.list)
    }
}

impl EvictionPolicy for LruPolicy {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn insert(&mut self, block: BlockId, meta: BlockMeta, _reason: InsertReason) {
        if self.index.contains_key(&block) {
            self.touch(block, meta);
        } else {
            let slot = self.slab.alloc(block);
            self.slab.push_back(&mut self.list, slot);
            self.index.insert(block, slot);
        }
    }

    fn touch(&mut self, block: BlockId, _meta: BlockMeta) {
        if let Some(&slot) = self.index.get(&block) {
            self.slab.unlink(&mut self.list, slot);
            self.slab.push_back(&mut self.list, slot);
        }
    }

    fn remove(&mut self, block: BlockId, _reason: RemoveReason) -> bool {
        match self.index.remove(&block) {
            Some(slot) => {
                self.slab.unlink(&mut self.list, slot);
                self.slab.release(slot);
                true
            }
            None => false,
        }
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        let slot = self.slab.pop_front(&mut self.list)?;
        let block = self.slab.block(slot);
        self.slab.release(slot);
        self.index.remove(&block);
        Some(block)
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.index.contains_key(&block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use super::super::testing::META;

    fn b(id: u64) -> BlockId {
        BlockId(id)
    }

    fn order(lru: &LruPolicy) -> Vec<u64> {
        lru.iter_lru_order().map(|b| b.0).collect()
    }

    #[test]
    fn hand_worked_sequence() {
        let mut lru = LruPolicy::new();
        for id in [1, 2, 3] {
            lru.insert(b(id), META, InsertReason::Admitted);
        }
        assert_eq!(order(&lru), [1, 2, 3]);
        lru.touch(b(1), META); // 1 becomes most recent
        assert_eq!(order(&lru), [2, 3, 1]);
        lru.touch(b(9), META); // not held: no effect
        assert!(lru.remove(b(3), RemoveReason::Pinned));
        assert!(!lru.remove(b(3), RemoveReason::Pinned));
        assert_eq!(order(&lru), [2, 1]);
        lru.insert(b(3), META, InsertReason::Unpinned); // back at the most recent end
        lru.insert(b(2), META, InsertReason::Unpinned); // already held: refreshed
        assert_eq!(order(&lru), [1, 3, 2]);
        assert_eq!(lru.pop_victim(0), Some(b(1)));
        assert_eq!(lru.pop_victim(0), Some(b(3)));
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.pop_victim(0), Some(b(2)));
        assert_eq!(lru.pop_victim(0), None);
        assert!(lru.is_empty());
    }

    #[test]
    fn slots_are_reused() {
        let mut lru = LruPolicy::with_capacity(4);
        for round in 0..100u64 {
            for id in 0..4 {
                lru.insert(b(round * 10 + id), META, InsertReason::Admitted);
            }
            while lru.pop_victim(0).is_some() {}
        }
        assert_eq!(lru.slab.slots(), 4);
    }

    /// The obviously-right reference: a `Vec` from least to most recent, O(n) per operation.
    #[derive(Default)]
    struct VecLru(Vec<BlockId>);

    impl VecLru {
        fn position(&self, block: BlockId) -> Option<usize> {
            self.0.iter().position(|&x| x == block)
        }
        fn insert(&mut self, block: BlockId) {
            if let Some(i) = self.position(block) {
                self.0.remove(i);
            }
            self.0.push(block);
        }
        fn touch(&mut self, block: BlockId) {
            if let Some(i) = self.position(block) {
                self.0.remove(i);
                self.0.push(block);
            }
        }
        fn remove(&mut self, block: BlockId) -> bool {
            self.position(block).map(|i| self.0.remove(i)).is_some()
        }
        fn pop_victim(&mut self) -> Option<BlockId> {
            (!self.0.is_empty()).then(|| self.0.remove(0))
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64),
        Touch(u64),
        Remove(u64),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        // A small id universe, so that ops often hit held blocks.
        prop_oneof![
            3 => (0..24u64).prop_map(Op::Insert),
            2 => (0..24u64).prop_map(Op::Touch),
            1 => (0..24u64).prop_map(Op::Remove),
            2 => Just(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn matches_reference_lru(ops in prop::collection::vec(op(), 0..400)) {
            let mut fast = LruPolicy::with_capacity(8);
            let mut slow = VecLru::default();
            for op in ops {
                match op {
                    Op::Insert(id) => {
                        fast.insert(b(id), META, InsertReason::Admitted);
                        slow.insert(b(id));
                    }
                    Op::Touch(id) => {
                        fast.touch(b(id), META);
                        slow.touch(b(id));
                    }
                    Op::Remove(id) => {
                        prop_assert_eq!(fast.remove(b(id), RemoveReason::Dropped), slow.remove(b(id)));
                    }
                    Op::Pop => prop_assert_eq!(fast.pop_victim(0), slow.pop_victim()),
                }
                prop_assert_eq!(fast.len(), slow.0.len());
                prop_assert_eq!(fast.iter_lru_order().collect::<Vec<_>>(), slow.0.clone());
            }
        }
    }
}
