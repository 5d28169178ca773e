//! [`FifoPolicy`]: first in, first out, O(log n) per operation.

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Arrival order: the victim is the smallest.
    stamp: u64,
    /// Pinned: out of the queue, keeping its stamp.
    parked: bool,
}

/// First in, first out: the victim is the evictable block that entered the policy earliest.
/// Accesses do not reorder.
///
/// A block keeps its place while it is pinned: unpinned, it goes back where it was, as if it
/// had never left (otherwise every hit, which pins, would send it to the back, and FIFO would
/// become LRU by release time). Its place is the time it first became evictable; a block the
/// cache inserts pinned gets its place when it is first released.
///
/// A `BTreeMap` from arrival stamp to block (O(log n) per operation), plus a map from block to
/// stamp that also remembers pinned blocks.
#[derive(Clone, Debug, Default)]
pub struct FifoPolicy {
    queue: BTreeMap<u64, BlockId>,
    entries: BlockMap<Entry>,
    next_stamp: u64,
}

impl FifoPolicy {
    /// An empty policy with hash-table room for `capacity` blocks.
    pub fn with_capacity(capacity: usize) -> Self {
        FifoPolicy {
            queue: BTreeMap::new(),
            entries: BlockMap::with_capacity_and_hasher(
                super::presize(capacity),
                BuildHasherDefault::default(),
            ),
            next_stamp: 0,
        }
    }

    /// Evictable blocks from first to last in.
    pub fn iter_order(&self) -> impl Iterator<Item = BlockId> + '_ {
        self.queue.values().copied()
    }
}

impl EvictionPolicy for FifoPolicy {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn insert(&mut self, block: BlockId, _meta: BlockMeta, _reason: InsertReason) {
        match self.entries.get_mut(&block) {
            Some(e) if e.parked => {
                e.parked = false;
                self.queue.insert(e.stamp, block);
            }
            Some(_) => {} // held: a touch, which FIFO ignores
            None => {
                let stamp = self.next_stamp;
                self.next_stamp += 1;
                self.entries.insert(
                    block,
                    Entry {
                        stamp,
                        parked: false,
                    },
                );
                self.queue.insert(stamp, block);
            }
        }
    }

    fn touch(&mut self, _block: BlockId, _meta: BlockMeta) {}

    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        let Some(e) = self.entries.get_mut(&block) else {
            return false;
        };
        let held = !e.parked;
        if held {
            self.queue.remove(&e.stamp);
        }
        match reason {
            RemoveReason::Pinned => e.parked = true,
            RemoveReason::Dropped => {
                self.entries.remove(&block);
            }
        }
        held
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        let (_, block) = self.queue.pop_first()?;
        self.entries.remove(&block);
        Some(block)
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.entries.get(&block).is_some_and(|e| !e.parked)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, META, b};
    use super::*;

    #[test]
    fn hand_worked_sequence() {
        let mut fifo = FifoPolicy::default();
        for id in [1, 2, 3] {
            fifo.insert(b(id), META, InsertReason::Admitted);
        }
        fifo.touch(b(1), META); // no reordering
        fifo.insert(b(1), META, InsertReason::Unpinned); // held: no reordering either
        assert!(fifo.remove(b(2), RemoveReason::Pinned));
        assert!(!fifo.contains(b(2)));
        fifo.insert(b(4), META, InsertReason::Admitted);
        fifo.insert(b(2), META, InsertReason::Unpinned); // back in its place, before 3
        let order: Vec<u64> = fifo.iter_order().map(|b| b.0).collect();
        assert_eq!(order, [1, 2, 3, 4]);
        assert_eq!(fifo.pop_victim(0), Some(b(1)));
        assert!(fifo.remove(b(3), RemoveReason::Dropped));
        assert_eq!(fifo.pop_victim(0), Some(b(2)));
        assert_eq!(fifo.pop_victim(0), Some(b(4)));
        assert_eq!(fifo.pop_victim(0), None);
        // Replay semantics (capacity 2): a b a c -> c evicts a, the first in, despite its hit.
        assert_eq!(
            testing::replay_hits(&mut FifoPolicy::default(), 2, &[1, 2, 1, 3, 1, 2]),
            [false, false, true, false, false, false]
        );
    }

    /// The reference: a `Vec` in arrival order, O(n) per operation.
    #[derive(Debug, Default)]
    struct VecFifo(Vec<u64>);

    impl testing::Reference for VecFifo {
        fn access(&mut self, block: u64, capacity: usize) -> bool {
            if self.0.contains(&block) {
                return true;
            }
            if self.0.len() == capacity {
                self.0.remove(0);
            }
            self.0.push(block);
            false
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_reference(capacity in 1..12usize, accesses in testing::accesses()) {
            testing::check_against_reference(
                &mut FifoPolicy::default(), &mut VecFifo::default(), capacity, &accesses,
            )?;
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            testing::check_contract(&mut FifoPolicy::default(), &ops)?;
        }
    }
}
