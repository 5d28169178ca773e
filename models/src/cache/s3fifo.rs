//! [`S3FifoPolicy`]: S3-FIFO (Yang, Zhang, Qiu, Yue and Rashmi, "FIFO queues are all you need
//! for cache eviction", SOSP 2023).

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use super::list::{List, Slab};
use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

/// Which FIFO a cached block is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    Small,
    Main,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    queue: Queue,
    /// Position in its queue (smaller = older).
    stamp: u64,
    /// Accesses since insertion, a 2-bit counter (at most 3).
    freq: u8,
    parked: bool,
}

/// S3-FIFO: three FIFO queues.
///
/// * **S**, the small queue (`small_fraction` of the capacity, 10% by default), takes new
///   blocks; **M**, the main queue, takes blocks that proved themselves; **G**, the ghost
///   queue, remembers the ids (not the data) of blocks recently evicted from S
///   (`ghost_fraction` of the capacity, 90% by default).
/// * A hit adds one to the block's 2-bit frequency; nothing moves.
/// * A miss inserts the block into M if its id is in G (it was evicted from S too early),
///   otherwise into S.
/// * Eviction: from M if M holds more than its share (`capacity - small`) or S is empty,
///   else from S. Evicting from S: the oldest block moves to M (frequency reset) if it was
///   accessed at least `move_to_main_threshold` times (2: the paper's `t.freq > 1`), else it
///   is the victim and its id enters G; repeat until a victim. Evicting from M: the oldest
///   block with a non-zero frequency is reinserted at M's back with its frequency minus one
///   (CLOCK with a 2-bit counter), else it is the victim.
///
/// Details follow `S3FIFOv0.c` of libCacheSim, the implementation the paper measured: the
/// small queue holds `floor(small_fraction * capacity)` blocks (at least 1 here, where
/// libCacheSim refuses a zero-sized queue), the ghost `floor(ghost_fraction * capacity)` ids.
///
/// With pinning: a pinned block leaves its queue, keeping its place, its queue and its
/// frequency (touches while pinned count), and returns to that place when released. The size
/// test uses evictable blocks. Queues are `BTreeMap`s keyed by a stamp so a released block
/// can return to its place (O(log n)); reinsertions in M are amortised against the hits that
/// raised the frequency. The ghost is a linked list with a hash index.
#[derive(Debug)]
pub struct S3FifoPolicy {
    small: BTreeMap<u64, BlockId>,
    main: BTreeMap<u64, BlockId>,
    entries: BlockMap<Entry>,
    next_stamp: u64,
    /// M's share: capacity minus the small queue's size.
    main_target: usize,
    move_to_main_threshold: u8,
    ghost_slab: Slab,
    ghost: List,
    ghost_index: BlockMap<u32>,
    ghost_capacity: usize,
    /// A block announced by `on_miss` whose id was in G: it goes to M when inserted.
    ghost_hit: Option<BlockId>,
}

impl S3FifoPolicy {
    /// An empty policy for a cache of `capacity` blocks.
    pub fn new(
        capacity: usize,
        small_fraction: f64,
        ghost_fraction: f64,
        move_to_main_threshold: u8,
    ) -> Self {
        let small_target = ((capacity as f64 * small_fraction) as usize).max(1);
        let ghost_capacity = (capacity as f64 * ghost_fraction) as usize;
        let hasher = BuildHasherDefault::default;
        S3FifoPolicy {
            small: BTreeMap::new(),
            main: BTreeMap::new(),
            entries: BlockMap::with_capacity_and_hasher(super::presize(capacity), hasher()),
            next_stamp: 0,
            main_target: capacity.saturating_sub(small_target),
            move_to_main_threshold,
            ghost_slab: Slab::with_capacity(super::presize(ghost_capacity)),
            ghost: List::default(),
            ghost_index: BlockMap::with_capacity_and_hasher(
                super::presize(ghost_capacity),
                hasher(),
            ),
            ghost_capacity,
            ghost_hit: None,
        }
    }

    /// The paper's defaults: 10% small queue, ghost of 90%, threshold 2.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::new(capacity, 0.1, 0.9, 2)
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn queue_mut(&mut self, queue: Queue) -> &mut BTreeMap<u64, BlockId> {
        match queue {
            Queue::Small => &mut self.small,
            Queue::Main => &mut self.main,
        }
    }

    /// Removes `block` from G; true if it was there.
    fn take_ghost(&mut self, block: BlockId) -> bool {
        match self.ghost_index.remove(&block) {
            Some(slot) => {
                self.ghost_slab.unlink(&mut self.ghost, slot);
                self.ghost_slab.release(slot);
                true
            }
            None => false,
        }
    }

    fn push_ghost(&mut self, block: BlockId) {
        if self.ghost_capacity == 0 {
            return;
        }
        if self.ghost.len() == self.ghost_capacity {
            let oldest = self
                .ghost_slab
                .pop_front(&mut self.ghost)
                .expect("full ghost");
            self.ghost_index.remove(&self.ghost_slab.block(oldest));
            self.ghost_slab.release(oldest);
        }
        let slot = self.ghost_slab.alloc(block);
        self.ghost_slab.push_back(&mut self.ghost, slot);
        self.ghost_index.insert(block, slot);
    }

    fn evict_small(&mut self) -> Option<BlockId> {
        while let Some((_, block)) = self.small.pop_first() {
            if self.entries[&block].freq >= self.move_to_main_threshold {
                let stamp = self.stamp();
                let e = self
                    .entries
                    .get_mut(&block)
                    .expect("queued blocks have entries");
                *e = Entry {
                    queue: Queue::Main,
                    stamp,
                    freq: 0,
                    parked: false,
                };
                self.main.insert(stamp, block);
            } else {
                self.entries.remove(&block);
                self.push_ghost(block);
                return Some(block);
            }
        }
        None
    }

    fn evict_main(&mut self) -> Option<BlockId> {
        while let Some((_, block)) = self.main.pop_first() {
            if self.entries[&block].freq > 0 {
                let stamp = self.stamp();
                let e = self
                    .entries
                    .get_mut(&block)
                    .expect("queued blocks have entries");
                e.freq -= 1;
                e.stamp = stamp;
                self.main.insert(stamp, block);
            } else {
                self.entries.remove(&block);
                return Some(block);
            }
        }
        None
    }
}

impl EvictionPolicy for S3FifoPolicy {
    fn name(&self) -> &'static str {
        "s3fifo"
    }

    fn on_miss(&mut self, block: BlockId, _meta: BlockMeta) {
        self.ghost_hit = self.take_ghost(block).then_some(block);
    }

    fn insert(&mut self, block: BlockId, meta: BlockMeta, _reason: InsertReason) {
        match self.entries.get(&block).copied() {
            Some(e) if e.parked => {
                self.entries.get_mut(&block).expect("just seen").parked = false;
                self.queue_mut(e.queue).insert(e.stamp, block);
            }
            Some(_) => self.touch(block, meta),
            None => {
                let ghost = self.ghost_hit.take() == Some(block) || self.take_ghost(block);
                let queue = if ghost { Queue::Main } else { Queue::Small };
                let stamp = self.stamp();
                let entry = Entry {
                    queue,
                    stamp,
                    freq: 0,
                    parked: false,
                };
                self.entries.insert(block, entry);
                self.queue_mut(queue).insert(stamp, block);
            }
        }
    }

    fn touch(&mut self, block: BlockId, _meta: BlockMeta) {
        if let Some(e) = self.entries.get_mut(&block) {
            e.freq = (e.freq + 1).min(3);
        }
    }

    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        let Some(e) = self.entries.get(&block).copied() else {
            return false;
        };
        if !e.parked {
            self.queue_mut(e.queue).remove(&e.stamp);
        }
        match reason {
            RemoveReason::Pinned => self.entries.get_mut(&block).expect("just seen").parked = true,
            RemoveReason::Dropped => {
                self.entries.remove(&block);
            }
        }
        !e.parked
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        if self.main.len() > self.main_target || self.small.is_empty() {
            self.evict_main()
        } else {
            self.evict_small().or_else(|| self.evict_main())
        }
    }

    fn len(&self) -> usize {
        self.small.len() + self.main.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.entries.get(&block).is_some_and(|e| !e.parked)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::super::testing::{self, META, b};
    use super::*;

    /// Capacity 10: S holds 1, M 9, G 9 ids. Accesses (one-block requests): 1..=10 fill the
    /// cache (all in S: inserting never evicts before the cache is full). 11: S (10 blocks)
    /// is over its share, so evict from S: 1 (freq 0) goes to G. 1 again: a ghost hit, so it
    /// is inserted into M, after evicting 2 from S to G. 1 is then a hit.
    #[test]
    fn hand_worked_sequence() {
        let mut p = S3FifoPolicy::with_capacity(10);
        let mut seq: Vec<u64> = (1..=11).collect();
        seq.extend([1, 1]);
        let hits = testing::replay_hits(&mut p, 10, &seq);
        assert_eq!(hits.iter().filter(|&&h| h).count(), 1);
        assert!(hits[12]);
        // The replay renumbers densely: block 1 is BlockId(0), 2 is BlockId(1).
        assert_eq!(p.entries[&b(0)].queue, Queue::Main);
        assert!(p.ghost_index.contains_key(&b(1)) && !p.ghost_index.contains_key(&b(0)));
    }

    #[test]
    fn accessed_small_blocks_move_to_main_and_main_is_a_clock() {
        let mut p = S3FifoPolicy::new(10, 0.2, 0.9, 2); // S 2, M 8
        for id in 1..=3 {
            p.insert(b(id), META, InsertReason::Admitted);
        }
        p.touch(b(1), META);
        p.touch(b(1), META); // freq 2: moves to M when it reaches S's head
        assert_eq!(p.pop_victim(0), Some(b(2)));
        assert_eq!(p.entries[&b(1)].queue, Queue::Main);
        assert_eq!(p.pop_victim(0), Some(b(3))); // S not empty, M within its share
        p.touch(b(1), META); // M: freq 1, so it survives one pass
        p.insert(b(4), META, InsertReason::Admitted);
        assert!(p.remove(b(4), RemoveReason::Pinned)); // pinned: out of S
        assert_eq!(p.pop_victim(0), Some(b(1))); // S empty: M's clock, 1 reinserted then evicted
        assert_eq!(p.pop_victim(0), None);
        p.insert(b(4), META, InsertReason::Unpinned);
        assert_eq!(p.pop_victim(0), Some(b(4)));
    }

    /// The reference: libCacheSim's `S3FIFOv0` transcribed with `VecDeque`s (front = oldest),
    /// O(n) per access.
    #[derive(Default)]
    struct Reference {
        small: VecDeque<(u64, u8)>,
        main: VecDeque<(u64, u8)>,
        ghost: VecDeque<u64>,
    }

    impl Reference {
        fn evict(&mut self, capacity: usize) {
            let small_size = (capacity / 10).max(1);
            let ghost_size = capacity * 9 / 10;
            if self.main.len() > capacity - small_size || self.small.is_empty() {
                self.evict_main();
                return;
            }
            while let Some((x, freq)) = self.small.pop_front() {
                if freq >= 2 {
                    self.main.push_back((x, 0));
                } else {
                    if ghost_size > 0 {
                        if self.ghost.len() == ghost_size {
                            self.ghost.pop_front();
                        }
                        self.ghost.push_back(x);
                    }
                    return;
                }
            }
            self.evict_main();
        }

        fn evict_main(&mut self) {
            while let Some((x, freq)) = self.main.pop_front() {
                if freq >= 1 {
                    self.main.push_back((x, freq.min(3) - 1));
                } else {
                    return;
                }
            }
        }
    }

    impl testing::Reference for Reference {
        fn access(&mut self, block: u64, capacity: usize) -> bool {
            for q in [&mut self.small, &mut self.main] {
                if let Some(e) = q.iter_mut().find(|e| e.0 == block) {
                    e.1 = e.1.saturating_add(1);
                    return true;
                }
            }
            let ghost_hit = match self.ghost.iter().position(|&g| g == block) {
                Some(i) => self.ghost.remove(i).is_some(),
                None => false,
            };
            if self.small.len() + self.main.len() == capacity {
                self.evict(capacity);
            }
            if ghost_hit {
                self.main.push_back((block, 0));
            } else {
                self.small.push_back((block, 0));
            }
            false
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_reference(capacity in 1..40usize, accesses in testing::accesses()) {
            testing::check_against_reference(
                &mut S3FifoPolicy::with_capacity(capacity), &mut Reference::default(), capacity, &accesses,
            )?;
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            testing::check_contract(&mut S3FifoPolicy::with_capacity(10), &ops)?;
        }
    }
}
