//! The RNIC's on-chip QP-context cache: an LRU of QP numbers. A WR on a QP whose context is not
//! cached costs a PCIe read of the context (`nic.qp_miss_ns`), which holds a processing unit; so
//! message rate falls once the active QPs exceed `nic.qp_cache_entries`
//! (RDMA_REFERENCE_FIGURES.md §4: Kalia ATC'16, FaRM NSDI'14).

use std::collections::{BTreeMap, HashMap};

/// LRU set of QP numbers with a fixed capacity.
#[derive(Clone, Debug, Default)]
pub struct QpCache {
    capacity: usize,
    clock: u64,
    stamp_of: HashMap<u32, u64>,
    by_stamp: BTreeMap<u64, u32>,
    last: Option<u32>,
}

impl QpCache {
    /// A cache holding `capacity` QP contexts (0: every access misses).
    pub fn new(capacity: u32) -> Self {
        QpCache {
            capacity: capacity as usize,
            ..Default::default()
        }
    }

    /// Touches `qp`; true on a hit. A miss inserts it, evicting the least recently used.
    pub fn touch(&mut self, qp: u32) -> bool {
        if self.capacity == 0 {
            return false;
        }
        if self.last == Some(qp) {
            return true;
        }
        self.last = Some(qp);
        self.clock += 1;
        let now = self.clock;
        if let Some(old) = self.stamp_of.insert(qp, now) {
            self.by_stamp.remove(&old);
            self.by_stamp.insert(now, qp);
            return true;
        }
        self.by_stamp.insert(now, qp);
        if self.stamp_of.len() > self.capacity
            && let Some((_, victim)) = self.by_stamp.pop_first()
        {
            self.stamp_of.remove(&victim);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_within_capacity_hits_after_warm_up() {
        let mut c = QpCache::new(4);
        let first: Vec<bool> = (0..4).map(|q| c.touch(q)).collect();
        assert_eq!(first, vec![false; 4]);
        assert!((0..4).all(|q| c.touch(q)));
    }

    #[test]
    fn round_robin_over_capacity_always_misses() {
        let mut c = QpCache::new(4);
        for _ in 0..3 {
            assert!((0..5).all(|q| !c.touch(q)));
        }
    }

    #[test]
    fn lru_keeps_the_recent_one() {
        let mut c = QpCache::new(2);
        c.touch(1);
        c.touch(2);
        c.touch(1);
        c.touch(3); // evicts 2
        assert!(c.touch(1));
        assert!(!c.touch(2));
    }
}
