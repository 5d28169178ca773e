//! An O(1) LRU set over dense block indices `0..universe`: an intrusive doubly-linked list in
//! two `Vec`s, no hashing and no allocation per access.

/// No neighbour.
const NIL: u32 = u32::MAX;

/// LRU set of block indices with a fixed capacity in blocks.
pub(crate) struct DenseLru {
    /// `links[b] = (prev, next)`, toward the most recent and the least recent end.
    links: Vec<(u32, u32)>,
    resident: Vec<bool>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    len: u64,
    capacity: u64,
}

impl DenseLru {
    /// An empty cache for indices below `universe` (< 2³² − 1) holding at most `capacity` blocks.
    pub(crate) fn new(universe: usize, capacity: u64) -> Self {
        debug_assert!(universe < NIL as usize);
        DenseLru {
            links: vec![(NIL, NIL); universe],
            resident: vec![false; universe],
            head: NIL,
            tail: NIL,
            len: 0,
            capacity,
        }
    }

    /// Whether `block` is cached.
    #[inline]
    pub(crate) fn contains(&self, block: u32) -> bool {
        self.resident[block as usize]
    }

    /// Makes `block` the most recent, inserting it (and evicting the least recent block when over
    /// capacity) if absent.
    #[inline]
    pub(crate) fn touch(&mut self, block: u32) {
        if self.resident[block as usize] {
            if self.head == block {
                return;
            }
            self.unlink(block);
        } else {
            self.resident[block as usize] = true;
            self.len += 1;
        }
        self.push_front(block);
        if self.len > self.capacity {
            let victim = self.tail;
            self.unlink(victim);
            self.resident[victim as usize] = false;
            self.len -= 1;
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    #[inline]
    fn unlink(&mut self, block: u32) {
        let (prev, next) = self.links[block as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.links[prev as usize].1 = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.links[next as usize].0 = prev;
        }
    }

    #[inline]
    fn push_front(&mut self, block: u32) {
        self.links[block as usize] = (NIL, self.head);
        if self.head == NIL {
            self.tail = block;
        } else {
            self.links[self.head as usize].0 = block;
        }
        self.head = block;
    }
}

#[cfg(test)]
pub(crate) mod reference {
    /// Slow, obviously right LRU: a `Vec` ordered most recent first.
    pub(crate) struct VecLru {
        order: Vec<u32>,
        capacity: usize,
    }

    impl VecLru {
        pub(crate) fn new(capacity: usize) -> Self {
            VecLru {
                order: Vec::new(),
                capacity,
            }
        }

        pub(crate) fn contains(&self, block: u32) -> bool {
            self.order.contains(&block)
        }

        pub(crate) fn touch(&mut self, block: u32) {
            self.order.retain(|&b| b != block);
            self.order.insert(0, block);
            self.order.truncate(self.capacity);
        }

        pub(crate) fn len(&self) -> usize {
            self.order.len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::VecLru;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn evicts_least_recent() {
        let mut lru = DenseLru::new(4, 2);
        lru.touch(0);
        lru.touch(1);
        lru.touch(0); // 0 most recent, 1 least
        lru.touch(2); // evicts 1
        assert!(lru.contains(0) && lru.contains(2) && !lru.contains(1));
        assert_eq!(lru.len(), 2);
        lru.touch(3); // evicts 0
        assert!(!lru.contains(0) && lru.contains(2) && lru.contains(3));
    }

    #[test]
    fn capacity_one() {
        let mut lru = DenseLru::new(3, 1);
        for b in [0, 0, 1, 2, 2] {
            lru.touch(b);
            assert!(lru.contains(b));
            assert_eq!(lru.len(), 1);
        }
    }

    proptest! {
        #[test]
        fn matches_reference(capacity in 1usize..12, accesses in prop::collection::vec(0u32..20, 0..400)) {
            let mut fast = DenseLru::new(20, capacity as u64);
            let mut slow = VecLru::new(capacity);
            for &b in &accesses {
                prop_assert_eq!(fast.contains(b), slow.contains(b));
                fast.touch(b);
                slow.touch(b);
                prop_assert_eq!(fast.len() as usize, slow.len());
            }
            for b in 0..20 {
                prop_assert_eq!(fast.contains(b), slow.contains(b));
            }
        }
    }
}
