//! [`GreedyDual`]: the priority queue with inflation behind LFU-DA ([`LfuPolicy`]) and the
//! cost-aware policy ([`CostAwarePolicy`]).
//!
//! [`LfuPolicy`]: super::LfuPolicy
//! [`CostAwarePolicy`]: super::CostAwarePolicy

use std::collections::BTreeMap;
use std::hash::BuildHasherDefault;

use super::{BlockId, BlockMap, RemoveReason};

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Accesses while cached (the insertion counts as the first).
    freq: u64,
    /// Recompute cost of the block, relative units.
    cost: f64,
    /// `inflation at the last access + freq * cost`.
    priority: f64,
    /// Tie-break: the older (smaller) goes first.
    stamp: u64,
    parked: bool,
}

/// GreedyDual-Size-Frequency (Cherkasova, HP Labs HPL-98-69, 1998; Arlitt, Cherkasova,
/// Dilley, Friedrich and Jin, "Evaluating content management techniques for Web proxy
/// caches", SIGMETRICS PER 27(4), 2000) with every block of size 1:
///
/// ```text
/// on insert or access:  freq += 1 (1 on insert);  H = L + freq * cost
/// on eviction:          victim = min H (ties: least recently used);  L = H(victim)
/// ```
///
/// The inflation value `L` ages the cache: blocks not accessed lately keep the `H` of an older,
/// smaller `L` and fall behind newly accessed ones, so a block that was hot long ago cannot
/// stay forever. With `cost = 1` this is LFU with dynamic aging (LFU-DA, same paper).
/// Frequencies are kept while a block is cached (and pinned), and forgotten when it is
/// evicted. O(log n): a `BTreeMap` keyed by (priority, stamp); priorities are non-negative, so
/// their IEEE bit patterns order like the numbers.
#[derive(Clone, Debug, Default)]
pub(crate) struct GreedyDual {
    order: BTreeMap<(u64, u64), BlockId>,
    entries: BlockMap<Entry>,
    inflation: f64,
    next_stamp: u64,
}

impl GreedyDual {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        GreedyDual {
            entries: BlockMap::with_capacity_and_hasher(
                super::presize(capacity),
                BuildHasherDefault::default(),
            ),
            ..Default::default()
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    /// Makes `block` evictable: new (freq 1), back from a pin (its priority kept), or, if
    /// already held, an access. `cost` is used for a new block only.
    pub(crate) fn insert(&mut self, block: BlockId, cost: f64) {
        let stamp = self.stamp();
        match self.entries.get_mut(&block) {
            Some(e) if e.parked => {
                e.parked = false;
                e.stamp = stamp;
                self.order.insert((e.priority.to_bits(), stamp), block);
            }
            Some(_) => self.touch(block),
            None => {
                let priority = self.inflation + cost;
                self.entries.insert(
                    block,
                    Entry {
                        freq: 1,
                        cost,
                        priority,
                        stamp,
                        parked: false,
                    },
                );
                self.order.insert((priority.to_bits(), stamp), block);
            }
        }
    }

    /// An access: raises the block's frequency and priority (also while it is pinned).
    pub(crate) fn touch(&mut self, block: BlockId) {
        let stamp = self.stamp();
        let inflation = self.inflation;
        let Some(e) = self.entries.get_mut(&block) else {
            return;
        };
        if !e.parked {
            self.order.remove(&(e.priority.to_bits(), e.stamp));
        }
        e.freq += 1;
        e.priority = inflation + e.freq as f64 * e.cost;
        e.stamp = stamp;
        if !e.parked {
            self.order.insert((e.priority.to_bits(), stamp), block);
        }
    }

    pub(crate) fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        let Some(e) = self.entries.get_mut(&block) else {
            return false;
        };
        let held = !e.parked;
        if held {
            self.order.remove(&(e.priority.to_bits(), e.stamp));
        }
        match reason {
            RemoveReason::Pinned => e.parked = true,
            RemoveReason::Dropped => {
                self.entries.remove(&block);
            }
        }
        held
    }

    pub(crate) fn pop_victim(&mut self) -> Option<BlockId> {
        let ((bits, _), block) = self.order.pop_first()?;
        self.inflation = f64::from_bits(bits);
        self.entries.remove(&block);
        Some(block)
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn contains(&self, block: BlockId) -> bool {
        self.entries.get(&block).is_some_and(|e| !e.parked)
    }

    /// The current inflation value `L`.
    #[cfg(test)]
    pub(crate) fn inflation(&self) -> f64 {
        self.inflation
    }
}

/// The obviously-right GreedyDual for tests: a `Vec` scanned for the minimum, O(n) per access.
#[cfg(test)]
pub(crate) mod reference {
    /// (block, freq, priority, last access).
    #[derive(Debug, Default)]
    pub(crate) struct ScanGreedyDual {
        entries: Vec<(u64, u64, f64, u64)>,
        inflation: f64,
        t: u64,
    }

    impl ScanGreedyDual {
        /// One access to `block` of recompute cost `cost`; true on a hit.
        pub(crate) fn access(&mut self, block: u64, cost: f64, capacity: usize) -> bool {
            self.t += 1;
            if let Some(e) = self.entries.iter_mut().find(|e| e.0 == block) {
                e.1 += 1;
                e.2 = self.inflation + e.1 as f64 * cost;
                e.3 = self.t;
                return true;
            }
            if self.entries.len() == capacity {
                let victim = (0..self.entries.len())
                    .min_by(|&i, &j| {
                        let (a, b) = (self.entries[i], self.entries[j]);
                        a.2.total_cmp(&b.2).then(a.3.cmp(&b.3))
                    })
                    .unwrap();
                self.inflation = self.entries.remove(victim).2;
            }
            self.entries.push((block, 1, self.inflation + cost, self.t));
            false
        }

        /// The blocks cached.
        pub(crate) fn blocks(&self) -> impl Iterator<Item = u64> + '_ {
            self.entries.iter().map(|e| e.0)
        }
    }
}
