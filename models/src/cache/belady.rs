//! [`BeladyPolicy`]: Belady's MIN, the offline optimum, from the trace's future
//! ([`FutureUses`]).

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

/// The future, as an oracle: for each block, the sorted times at which it will be asked for.
/// Times are whatever the caller's `now_ns` counts: request positions in a timing-free replay,
/// arrival times in a timed run.
///
/// Stored compactly (one `u64` per use, one index per block): a trace of n references takes
/// about 12 n bytes plus a hash map of its distinct blocks.
#[derive(Debug, Default)]
pub struct FutureUses {
    index: BlockMap<u32>,
    /// Block `i`'s uses are `times[starts[i]..starts[i + 1]]`, ascending.
    starts: Vec<usize>,
    times: Vec<u64>,
}

impl FutureUses {
    /// Builds the oracle from every (block, time of use) pair, in any order.
    pub fn from_uses(uses: impl IntoIterator<Item = (BlockId, u64)>) -> Self {
        let mut index: BlockMap<u32> = BlockMap::with_hasher(BuildHasherDefault::default());
        let mut pairs: Vec<(u32, u64)> = Vec::new();
        for (block, time) in uses {
            let next = u32::try_from(index.len()).expect("fewer than 2^32 distinct blocks");
            pairs.push((*index.entry(block).or_insert(next), time));
        }
        pairs.sort_unstable();
        let mut starts = vec![0; index.len() + 1];
        for &(i, _) in &pairs {
            starts[i as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        FutureUses {
            index,
            starts,
            times: pairs.into_iter().map(|(_, t)| t).collect(),
        }
    }

    /// The first use of `block` strictly after `time`; `None` if it is never used again.
    /// O(log uses of the block).
    pub fn next_use_after(&self, block: BlockId, time: u64) -> Option<u64> {
        let &i = self.index.get(&block)?;
        let uses = &self.times[self.starts[i as usize]..self.starts[i as usize + 1]];
        uses.get(uses.partition_point(|&t| t <= time)).copied()
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Predicted next use (`u64::MAX`: never), as of the last refresh.
    next: u64,
    stamp: u64,
    parked: bool,
}

/// Belady's MIN (Belady, "A study of replacement algorithms for a virtual-storage computer",
/// IBM Systems Journal 5(2), 1966): the victim is the evictable block whose next use is
/// farthest in the future (never used again counts as farthest; ties go to the most recently
/// inserted). Offline: it reads the future from a [`FutureUses`], so it is an upper bound for
/// online policies, not a policy a system could run.
///
/// Keys are refreshed lazily: a block's key is its next use as of its last insert or touch; a
/// key that `now` has reached (the block was asked for then but not touched, e.g. behind a
/// prefix miss, or it is a block of the request being loaded, whose lookup has already
/// happened) is recomputed before choosing a victim. Each refresh moves a key past one of the
/// block's uses, so refreshes are bounded by uses: O(log n) amortised per operation, with a
/// `BTreeMap` keyed by (next use, insertion stamp).
///
/// In a timing-free replay times are request positions, so "next use" is the next request
/// that asks for the block: the optimum for hits counted at each request's lookup. In a timed
/// run they are arrival times, an approximation (a request is looked up at admission, after
/// its arrival).
#[derive(Debug)]
pub struct BeladyPolicy {
    future: Arc<FutureUses>,
    order: BTreeMap<(u64, u64), BlockId>,
    entries: BlockMap<Entry>,
    next_stamp: u64,
}

impl BeladyPolicy {
    /// An empty policy reading the future from `future`.
    pub fn new(capacity: usize, future: Arc<FutureUses>) -> Self {
        BeladyPolicy {
            future,
            order: BTreeMap::new(),
            entries: BlockMap::with_capacity_and_hasher(
                super::presize(capacity),
                BuildHasherDefault::default(),
            ),
            next_stamp: 0,
        }
    }

    fn next_use(&self, block: BlockId, now_ns: u64) -> u64 {
        self.future
            .next_use_after(block, now_ns)
            .unwrap_or(u64::MAX)
    }

    /// Sets `block`'s key from `now_ns` and (re)queues it unless it is pinned.
    fn refresh(&mut self, block: BlockId, now_ns: u64, unpark: bool) {
        let next = self.next_use(block, now_ns);
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let entry = self.entries.entry(block).or_insert(Entry {
            next,
            stamp,
            parked: false,
        });
        if !entry.parked {
            self.order.remove(&(entry.next, entry.stamp));
        }
        if unpark {
            entry.parked = false;
        }
        *entry = Entry {
            next,
            stamp,
            parked: entry.parked,
        };
        if !entry.parked {
            self.order.insert((next, stamp), block);
        }
    }
}

impl EvictionPolicy for BeladyPolicy {
    fn name(&self) -> &'static str {
        "belady"
    }

    fn insert(&mut self, block: BlockId, meta: BlockMeta, _reason: InsertReason) {
        self.refresh(block, meta.now_ns, true);
    }

    fn touch(&mut self, block: BlockId, meta: BlockMeta) {
        if self.entries.contains_key(&block) {
            self.refresh(block, meta.now_ns, false);
        }
    }

    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        let Some(e) = self.entries.get_mut(&block) else {
            return false;
        };
        let held = !e.parked;
        if held {
            self.order.remove(&(e.next, e.stamp));
        }
        match reason {
            RemoveReason::Pinned => e.parked = true,
            RemoveReason::Dropped => {
                self.entries.remove(&block);
            }
        }
        held
    }

    fn pop_victim(&mut self, now_ns: u64) -> Option<BlockId> {
        while let Some((&(next, _), &block)) = self.order.first_key_value() {
            if next > now_ns {
                break;
            }
            self.refresh(block, now_ns, false);
        }
        let (_, block) = self.order.pop_last()?;
        self.entries.remove(&block);
        Some(block)
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.entries.get(&block).is_some_and(|e| !e.parked)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, b};
    use super::super::{EvictionConfig, ReplayTrace, replay, replay_config};
    use super::*;
    use proptest::prelude::*;

    fn belady_for(accesses: &[u64]) -> BeladyPolicy {
        // One-block requests: the replay renumbers ids densely, in first-seen order.
        let trace = ReplayTrace::from_chains(accesses.iter().map(|&a| [a]));
        BeladyPolicy::new(4, Arc::clone(trace.future()))
    }

    #[test]
    fn oracle_answers_the_next_use() {
        let f = FutureUses::from_uses([(b(1), 5), (b(2), 1), (b(1), 2), (b(1), 9)]);
        assert_eq!(f.next_use_after(b(1), 0), Some(2));
        assert_eq!(f.next_use_after(b(1), 2), Some(5));
        assert_eq!(f.next_use_after(b(1), 9), None);
        assert_eq!(f.next_use_after(b(3), 0), None);
    }

    /// Capacity 2, accesses a b c a b (ids 0 1 2 0 1, one request each). c (t=2) evicts the
    /// block used farthest ahead: a next at 3, b at 4 -> b goes. a hits; b (t=4) misses and
    /// evicts c (never used again). Hits: only t=3. LRU would miss all five.
    #[test]
    fn hand_worked_sequence() {
        let seq = [0, 1, 2, 0, 1];
        let hits = testing::replay_hits(&mut belady_for(&seq), 2, &seq);
        assert_eq!(hits, [false, false, false, true, false]);
        let lru = testing::replay_hits(&mut super::super::LruPolicy::new(), 2, &seq);
        assert!(lru.iter().all(|h| !h));
    }

    /// The reference: scans every resident block's next use, O(n · trace) per access.
    struct ScanBelady {
        accesses: Vec<u64>,
        t: usize,
        cache: Vec<u64>,
    }

    impl testing::Reference for ScanBelady {
        fn access(&mut self, block: u64, capacity: usize) -> bool {
            let t = self.t;
            self.t += 1;
            if self.cache.contains(&block) {
                return true;
            }
            if self.cache.len() == capacity {
                let next = |x: u64| {
                    self.accesses[t + 1..]
                        .iter()
                        .position(|&a| a == x)
                        .map_or(usize::MAX, |p| p)
                };
                let far = (0..self.cache.len())
                    .max_by_key(|&i| next(self.cache[i]))
                    .unwrap();
                // Ties (never used again) need not match the fast policy's choice: both are
                // optimal, and the compared hits do not depend on which.
                self.cache.remove(far);
            }
            self.cache.push(block);
            false
        }
    }

    proptest! {
        #[test]
        fn matches_reference_hit_count(capacity in 1..8usize, accesses in testing::accesses()) {
            let fast = testing::replay_hits(&mut belady_for(&accesses), capacity, &accesses);
            let mut slow = ScanBelady { accesses: accesses.clone(), t: 0, cache: Vec::new() };
            let slow: Vec<bool> = accesses.iter().map(|&a| testing::Reference::access(&mut slow, a, capacity)).collect();
            prop_assert_eq!(fast.iter().filter(|&&h| h).count(), slow.iter().filter(|&&h| h).count());
        }

        /// Belady is never beaten by any online policy, on prefix-chained requests where hits
        /// are counted at each request's lookup.
        #[test]
        fn never_beaten(capacity in 1..12usize, chains in testing::chains()) {
            let trace = ReplayTrace::from_chains(&chains);
            let best = replay_config(&trace, &EvictionConfig::Belady, capacity).unwrap();
            for config in EvictionConfig::ALL.iter().filter(|c| !c.is_offline()) {
                let online = replay_config(&trace, config, capacity).unwrap();
                prop_assert!(best.hits >= online.hits, "{} {} > belady {}", config.name(), online.hits, best.hits);
            }
        }

        #[test]
        fn never_beaten_on_single_accesses(capacity in 1..8usize, accesses in testing::accesses()) {
            let trace = ReplayTrace::from_chains(accesses.iter().map(|&a| [a]));
            let mut best = BeladyPolicy::new(capacity, Arc::clone(trace.future()));
            let best = replay(&trace, &mut best, capacity);
            for config in EvictionConfig::ALL.iter().filter(|c| !c.is_offline()) {
                let online = replay_config(&trace, config, capacity).unwrap();
                prop_assert!(best.hits >= online.hits, "{} beat belady", config.name());
            }
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            let future = Arc::new(FutureUses::from_uses((0..300u64).map(|t| (b(t % 24), t * 7 % 300))));
            testing::check_contract(&mut BeladyPolicy::new(8, future), &ops)?;
        }
    }
}
