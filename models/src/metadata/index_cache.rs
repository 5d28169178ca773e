//! A compute node's cache of level-1 B+tree nodes (Sherman's index cache, CHIME's internal-node
//! cache): LRU over node copies, each remembering the split epoch at which it was read.
//!
//! For a key whose leaf is `l` under level-1 node `p`:
//! * `p` not cached: a miss, the client traverses from the root;
//! * cached at epoch `e` and `l` created after `e`: stale, the cached copy does not know `l`,
//!   so the client reads the leaf's left neighbour and finds the key beyond its fence;
//! * otherwise fresh: the leaf address is known, one READ reaches it.

use std::collections::{BTreeMap, HashMap};

use super::tree::{InnerId, LeafId, Tree};

/// What the cache knows about the way to a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheView {
    /// The parent is not cached.
    Miss,
    /// The cached parent predates the leaf.
    Stale,
    /// The cached parent knows the leaf.
    Fresh,
}

/// LRU cache of level-1 nodes, by count (capacity = cache bytes / node bytes).
#[derive(Clone, Debug, Default)]
pub struct IndexCache {
    capacity: usize,
    entries: HashMap<InnerId, (u64, u64)>,
    lru: BTreeMap<u64, InnerId>,
    clock: u64,
    /// CHIME: levels above level 1 read once by this node and cached since.
    pub upper_cached: bool,
}

impl IndexCache {
    /// A cache holding at most `capacity` nodes.
    pub fn new(capacity: usize) -> Self {
        IndexCache {
            capacity,
            ..Default::default()
        }
    }

    /// Nodes cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The view of the way to `leaf` (touches the entry).
    pub fn view(&mut self, tree: &Tree, leaf: LeafId) -> CacheView {
        let l = tree.leaf(leaf);
        let Some(&(epoch, stamp)) = self.entries.get(&l.parent) else {
            return CacheView::Miss;
        };
        self.clock += 1;
        self.lru.remove(&stamp);
        self.lru.insert(self.clock, l.parent);
        self.entries.insert(l.parent, (epoch, self.clock));
        if l.created > epoch {
            CacheView::Stale
        } else {
            CacheView::Fresh
        }
    }

    /// Caches level-1 node `inner` as read at `epoch`, evicting the least recently used.
    pub fn admit(&mut self, inner: InnerId, epoch: u64) {
        if self.capacity == 0 {
            return;
        }
        self.invalidate(inner);
        while self.entries.len() >= self.capacity {
            let (_, victim) = self.lru.pop_first().expect("non-empty");
            self.entries.remove(&victim);
        }
        self.clock += 1;
        self.entries.insert(inner, (epoch, self.clock));
        self.lru.insert(self.clock, inner);
    }

    /// Drops the copy of `inner`.
    pub fn invalidate(&mut self, inner: InnerId) {
        if let Some((_, stamp)) = self.entries.remove(&inner) {
            self.lru.remove(&stamp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_after_caching_makes_the_new_leaf_stale() {
        let mut t = Tree::new(4, 61, false);
        for k in 0..4 {
            t.insert(k);
        }
        let mut c = IndexCache::new(10);
        assert_eq!(c.view(&t, t.leaf_of(2)), CacheView::Miss);
        c.admit(0, t.epoch());
        assert_eq!(c.view(&t, t.leaf_of(2)), CacheView::Fresh);
        t.insert(4); // splits: keys 2.. move to a new leaf
        assert_eq!(c.view(&t, t.leaf_of(3)), CacheView::Stale);
        assert_eq!(c.view(&t, t.leaf_of(0)), CacheView::Fresh);
    }

    #[test]
    fn lru_evicts_the_oldest() {
        let mut t = Tree::new(2, 2, false);
        for k in 0..20 {
            t.insert(k);
        }
        assert!(t.inner_count() >= 3);
        let mut c = IndexCache::new(2);
        c.admit(0, t.epoch());
        c.admit(1, t.epoch());
        let leaf0 = t.inner(0).children[0];
        assert_eq!(c.view(&t, leaf0), CacheView::Fresh); // touch 0
        c.admit(2, t.epoch()); // evicts 1
        assert_eq!(c.len(), 2);
        let leaf1 = t.inner(1).children[0];
        assert_eq!(c.view(&t, leaf1), CacheView::Miss);
    }
}
