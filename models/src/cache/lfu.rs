//! [`LfuPolicy`]: least frequently used with dynamic aging (LFU-DA), O(log n) per operation.

use super::greedy_dual::GreedyDual;
use super::{BlockId, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

/// Least frequently used with dynamic aging, LFU-DA (Arlitt, Cherkasova, Dilley, Friedrich and
/// Jin, "Evaluating content management techniques for Web proxy caches", SIGMETRICS PER 27(4),
/// 2000; Squid's `heap LFUDA`).
///
/// Aging rule: each block has the key `K = L + freq`, set when it is inserted (freq 1) or
/// accessed; the victim is the smallest key (ties: least recently used), and the cache age `L`
/// becomes the victim's key. A block's key only grows when it is used, while `L` grows with
/// every eviction, so a block that was popular long ago is overtaken by blocks used since and
/// eventually leaves: plain LFU's pollution by formerly hot blocks is avoided with no periodic
/// pass over the counters. Frequencies count touches of pinned blocks too and are forgotten
/// when a block is evicted (in-cache LFU).
///
/// It is [`GreedyDual`] with every cost 1 (the cost-aware policy's core).
#[derive(Clone, Debug, Default)]
pub struct LfuPolicy(GreedyDual);

impl LfuPolicy {
    /// An empty policy with hash-table room for `capacity` blocks.
    pub fn with_capacity(capacity: usize) -> Self {
        LfuPolicy(GreedyDual::with_capacity(capacity))
    }
}

impl EvictionPolicy for LfuPolicy {
    fn name(&self) -> &'static str {
        "lfu"
    }

    fn insert(&mut self, block: BlockId, _meta: BlockMeta, _reason: InsertReason) {
        self.0.insert(block, 1.0);
    }

    fn touch(&mut self, block: BlockId, _meta: BlockMeta) {
        self.0.touch(block);
    }

    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        self.0.remove(block, reason)
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        self.0.pop_victim()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.0.contains(block)
    }
}

#[cfg(test)]
mod tests {
    use super::super::greedy_dual::reference::ScanGreedyDual;
    use super::super::testing::{self, META, b};
    use super::*;

    /// Capacity 2. a a b: keys a = 0 + 2, b = 0 + 1. c evicts b (L = 1), c = 1 + 1 = 2.
    /// d: a and c tie at 2, a is older -> a goes (L = 2), d = 3. Plain LFU would have kept a
    /// (2 uses) and evicted c: the aging lets recent blocks catch up.
    #[test]
    fn hand_worked_sequence() {
        let mut lfu = LfuPolicy::default();
        let seq = [1, 1, 2, 3, 4, 3];
        let hits = testing::replay_hits(&mut lfu, 2, &seq);
        assert_eq!(hits, [false, true, false, false, false, true]);
        assert_eq!(lfu.0.inflation(), 2.0);
        // Pinning keeps the count: a pinned block touched twice comes back ahead.
        let mut lfu = LfuPolicy::default();
        lfu.insert(b(1), META, InsertReason::Admitted);
        lfu.insert(b(2), META, InsertReason::Admitted);
        assert!(lfu.remove(b(1), RemoveReason::Pinned));
        lfu.touch(b(1), META);
        lfu.insert(b(1), META, InsertReason::Unpinned);
        assert_eq!(lfu.pop_victim(0), Some(b(2)));
    }

    struct Reference(ScanGreedyDual);

    impl testing::Reference for Reference {
        fn access(&mut self, block: u64, capacity: usize) -> bool {
            self.0.access(block, 1.0, capacity)
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_reference(capacity in 1..12usize, accesses in testing::accesses()) {
            testing::check_against_reference(
                &mut LfuPolicy::default(), &mut Reference(ScanGreedyDual::default()), capacity, &accesses,
            )?;
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            testing::check_contract(&mut LfuPolicy::default(), &ops)?;
        }
    }
}
