//! [`BlockStore`]: the blocks one lower tier holds, ordered by its eviction policy.

use std::hash::BuildHasherDefault;

use crate::cache::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason};

/// The contents of one lower tier (one instance's DRAM or SSD, or a remote pool): a set of
/// blocks of bounded size with an eviction policy. Unlike HBM nothing here is pinned, so every
/// resident block is in the policy and `len <= capacity` always.
#[derive(Debug)]
pub struct BlockStore {
    capacity: usize,
    /// Resident blocks and where they sit in their chains (what policies want to know).
    resident: BlockMap<BlockMeta>,
    policy: Box<dyn EvictionPolicy>,
}

impl BlockStore {
    /// An empty store of `capacity` blocks ordered by `policy` (empty).
    pub fn new(capacity: usize, policy: Box<dyn EvictionPolicy>) -> Self {
        assert!(policy.is_empty(), "a new store needs an empty policy");
        BlockStore {
            capacity,
            resident: BlockMap::with_capacity_and_hasher(
                capacity.min(1 << 20),
                BuildHasherDefault::default(),
            ),
            policy,
        }
    }

    /// Blocks it can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Blocks it holds.
    pub fn len(&self) -> usize {
        self.resident.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.resident.is_empty()
    }

    /// Whether `block` is here.
    pub fn contains(&self, block: BlockId) -> bool {
        self.resident.contains_key(&block)
    }

    /// An access to a resident block (a lookup found it).
    pub fn touch(&mut self, block: BlockId, now_ns: u64) {
        if let Some(meta) = self.resident.get(&block) {
            let meta = BlockMeta { now_ns, ..*meta };
            self.policy.touch(block, meta);
        }
    }

    /// Stores `block` (touching it if already here). Returns the victim evicted to make room,
    /// with its metadata, so the caller can move it down; `Err(())` if the store has no room
    /// at all (capacity 0).
    #[allow(clippy::result_unit_err)]
    pub fn insert(
        &mut self,
        block: BlockId,
        meta: BlockMeta,
    ) -> Result<Option<(BlockId, BlockMeta)>, ()> {
        if self.resident.contains_key(&block) {
            self.policy.touch(block, meta);
            return Ok(None);
        }
        if self.capacity == 0 {
            return Err(());
        }
        self.policy.on_miss(block, meta);
        let victim = if self.resident.len() == self.capacity {
            let v = self
                .policy
                .pop_victim(meta.now_ns)
                .expect("a full store has a victim: nothing is pinned");
            let vmeta = self
                .resident
                .remove(&v)
                .expect("policy holds resident blocks");
            Some((v, vmeta))
        } else {
            None
        };
        self.policy.insert(block, meta, InsertReason::Admitted);
        self.resident.insert(block, meta);
        Ok(victim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::EvictionConfig;
    use proptest::prelude::*;

    fn meta(now_ns: u64) -> BlockMeta {
        BlockMeta {
            depth: 0,
            parent: None,
            now_ns,
        }
    }

    #[test]
    fn evicts_by_policy_and_returns_the_victim() {
        let mut s = BlockStore::new(2, EvictionConfig::Lru.build(2, None).unwrap());
        assert_eq!(s.insert(BlockId(1), meta(0)), Ok(None));
        assert_eq!(s.insert(BlockId(2), meta(1)), Ok(None));
        s.touch(BlockId(1), 2);
        assert_eq!(
            s.insert(BlockId(3), meta(3)),
            Ok(Some((BlockId(2), meta(1))))
        );
        assert_eq!(s.insert(BlockId(1), meta(4)), Ok(None)); // already here
        assert!(s.contains(BlockId(1)) && s.contains(BlockId(3)) && !s.contains(BlockId(2)));
        let mut none = BlockStore::new(0, EvictionConfig::Lru.build(0, None).unwrap());
        assert_eq!(none.insert(BlockId(1), meta(0)), Err(()));
    }

    proptest! {
        /// A tier never exceeds its capacity, whatever the policy and the sequence.
        #[test]
        fn never_exceeds_capacity(
            capacity in 0..16usize,
            policy in 0..EvictionConfig::ALL.len() - 1, // online policies
            blocks in prop::collection::vec(0..40u64, 0..300),
        ) {
            let config = EvictionConfig::ALL[policy];
            let mut s = BlockStore::new(capacity, config.build(capacity, None).unwrap());
            for (t, b) in blocks.into_iter().enumerate() {
                let before = s.contains(BlockId(b));
                let victim = s.insert(BlockId(b), meta(t as u64));
                prop_assert!(s.len() <= capacity);
                if let Ok(Some((v, _))) = victim {
                    prop_assert!(!before && v != BlockId(b) && !s.contains(v));
                }
            }
        }
    }
}
