//! The structure of a B+tree on a memory node, over the keys actually inserted: leaves with
//! their keys (and, for CHIME, their hopscotch slots), level-1 internal nodes (the leaves'
//! parents, which the compute nodes cache) with their children, splits when full. Levels above
//! level 1 are counted, not stored: their count follows from the number of level-1 nodes and
//! the fanout, and no modelled cost depends on their contents.
//!
//! ```text
//!            (levels above: ⌈log_fanout(#L1)⌉, read on a cache-miss traversal)
//!        L1[low=0: leaves 0,1]        L1[low=900: leaves 2,3]       ← cached per compute node
//!       /        \                     /        \
//!   leaf0      leaf1  ── sibling ──  leaf2     leaf3                 ← one READ each
//! ```
//!
//! An `epoch` counts leaf splits; each leaf and level-1 node remembers the epoch it was created
//! in, so a compute node's cached copy of a level-1 node (taken at some epoch) knows whether a
//! leaf is missing from it (a stale cache entry).

use std::collections::BTreeMap;

use super::Key;
use super::hopscotch::{self, EMPTY, HopInsert, SPAN};

/// A leaf's index in the tree's arena.
pub type LeafId = u32;
/// A level-1 node's index in the tree's arena.
pub type InnerId = u32;

/// A leaf node.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// Lowest key it may hold (its fence; the next leaf's `low` is its upper fence).
    pub low: Key,
    /// Its keys, sorted.
    pub keys: Vec<Key>,
    /// Hopscotch slots (CHIME leaves), else empty.
    pub slots: Vec<Key>,
    /// Parent level-1 node.
    pub parent: InnerId,
    /// Split epoch when it was created.
    pub created: u64,
}

/// A level-1 internal node.
#[derive(Clone, Debug)]
pub struct Inner {
    /// Lowest key below it.
    pub low: Key,
    /// Its children, in key order.
    pub children: Vec<LeafId>,
    /// Split epoch when it was created.
    pub created: u64,
}

/// What one insert did to the structure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertEffect {
    /// The leaf that holds the key now.
    pub leaf: LeafId,
    /// The key was already present (nothing changed).
    pub present: bool,
    /// The leaf split first (the new right sibling).
    pub new_leaf: Option<LeafId>,
    /// The level-1 parent split too (the new level-1 node).
    pub new_inner: Option<InnerId>,
    /// Hopscotch placement (CHIME leaves).
    pub hop: Option<HopInsert>,
}

/// A B+tree's structure (see the module docs).
#[derive(Clone, Debug)]
pub struct Tree {
    leaf_capacity: usize,
    fanout: usize,
    hopscotch: bool,
    leaves: Vec<Leaf>,
    inners: Vec<Inner>,
    leaf_by_low: BTreeMap<Key, LeafId>,
    inner_by_low: BTreeMap<Key, InnerId>,
    epoch: u64,
    keys: u64,
}

impl Tree {
    /// An empty tree: one empty leaf under one level-1 node. `hopscotch`: leaves place keys in
    /// 64 hopscotch slots and split when no hop sequence exists (CHIME); otherwise they split
    /// at `leaf_capacity` keys (Sherman).
    pub fn new(leaf_capacity: usize, fanout: usize, hopscotch: bool) -> Self {
        let mut t = Tree {
            leaf_capacity: if hopscotch { SPAN } else { leaf_capacity },
            fanout,
            hopscotch,
            leaves: Vec::new(),
            inners: vec![Inner {
                low: 0,
                children: vec![0],
                created: 0,
            }],
            leaf_by_low: BTreeMap::new(),
            inner_by_low: BTreeMap::new(),
            epoch: 0,
            keys: 0,
        };
        t.leaves.push(t.empty_leaf(0, 0));
        t.leaf_by_low.insert(0, 0);
        t.inner_by_low.insert(0, 0);
        t
    }

    fn empty_leaf(&self, low: Key, parent: InnerId) -> Leaf {
        Leaf {
            low,
            keys: Vec::new(),
            slots: if self.hopscotch {
                vec![EMPTY; SPAN]
            } else {
                Vec::new()
            },
            parent,
            created: self.epoch,
        }
    }

    /// Keys stored.
    pub fn len(&self) -> u64 {
        self.keys
    }

    /// Leaves.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// Level-1 nodes.
    pub fn inner_count(&self) -> usize {
        self.inners.len()
    }

    /// Splits so far.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A leaf.
    pub fn leaf(&self, id: LeafId) -> &Leaf {
        &self.leaves[id as usize]
    }

    /// A level-1 node.
    pub fn inner(&self, id: InnerId) -> &Inner {
        &self.inners[id as usize]
    }

    /// The leaf whose fence range holds `key`.
    pub fn leaf_of(&self, key: Key) -> LeafId {
        *self
            .leaf_by_low
            .range(..=key)
            .next_back()
            .expect("the first leaf's fence is 0")
            .1
    }

    /// The lower fence of the leaf after `leaf` (its upper fence), if any.
    pub fn next_low(&self, leaf: LeafId) -> Option<Key> {
        let low = self.leaves[leaf as usize].low;
        self.leaf_by_low
            .range(low.saturating_add(1)..)
            .next()
            .map(|(&k, _)| k)
    }

    /// True if `key` is stored.
    pub fn contains(&self, key: Key) -> bool {
        self.leaves[self.leaf_of(key) as usize]
            .keys
            .binary_search(&key)
            .is_ok()
    }

    /// Leaves whose fence ranges meet `[lo, hi]`, in key order.
    pub fn leaves_between(&self, lo: Key, hi: Key) -> Vec<LeafId> {
        let first = self.leaf_of(lo);
        let mut out = vec![first];
        if hi <= lo {
            return out;
        }
        out.extend(
            self.leaf_by_low
                .range(lo.saturating_add(1)..=hi)
                .map(|(_, &l)| l)
                .filter(|&l| l != first),
        );
        out
    }

    /// Internal levels above level 1: `⌈log_fanout(#L1)⌉` (0 when one level-1 node is the root).
    pub fn levels_above_l1(&self) -> u32 {
        let mut levels = 0;
        let mut reach = 1usize;
        while reach < self.inners.len() {
            reach = reach.saturating_mul(self.fanout);
            levels += 1;
        }
        levels
    }

    /// Height including the leaves.
    pub fn height(&self) -> u32 {
        self.levels_above_l1() + 2
    }

    /// Inserts `key`, splitting the leaf (and its level-1 parent) when full.
    pub fn insert(&mut self, key: Key) -> InsertEffect {
        let leaf = self.leaf_of(key);
        let pos = match self.leaves[leaf as usize].keys.binary_search(&key) {
            Ok(_) => {
                return InsertEffect {
                    leaf,
                    present: true,
                    ..Default::default()
                };
            }
            Err(p) => p,
        };
        let mut effect = InsertEffect {
            leaf,
            ..Default::default()
        };
        if !self.hopscotch && self.leaves[leaf as usize].keys.len() < self.leaf_capacity {
            self.leaves[leaf as usize].keys.insert(pos, key);
            self.keys += 1;
            return effect;
        }
        if self.hopscotch
            && let Some(h) = hopscotch::insert(&mut self.leaves[leaf as usize].slots, key)
        {
            self.leaves[leaf as usize].keys.insert(pos, key);
            self.keys += 1;
            effect.hop = Some(h);
            return effect;
        }
        // Split, then insert into the half that covers the key.
        let (new_leaf, new_inner) = self.split_leaf(leaf);
        effect.new_leaf = Some(new_leaf);
        effect.new_inner = new_inner;
        let target = if key >= self.leaves[new_leaf as usize].low {
            new_leaf
        } else {
            leaf
        };
        effect.leaf = target;
        let l = &mut self.leaves[target as usize];
        let p = l.keys.binary_search(&key).unwrap_err();
        l.keys.insert(p, key);
        if self.hopscotch {
            effect.hop = Some(place_anywhere(&mut l.slots, key));
        }
        self.keys += 1;
        effect
    }

    /// Removes `key` (no merging, as in Sherman and CHIME); false if absent.
    pub fn remove(&mut self, key: Key) -> bool {
        let leaf = self.leaf_of(key);
        let l = &mut self.leaves[leaf as usize];
        match l.keys.binary_search(&key) {
            Ok(p) => {
                l.keys.remove(p);
                if self.hopscotch {
                    hopscotch::remove(&mut l.slots, key);
                }
                self.keys -= 1;
                true
            }
            Err(_) => false,
        }
    }

    fn split_leaf(&mut self, leaf: LeafId) -> (LeafId, Option<InnerId>) {
        self.epoch += 1;
        let parent = self.leaves[leaf as usize].parent;
        let keys = std::mem::take(&mut self.leaves[leaf as usize].keys);
        let mid = keys.len() / 2;
        let (left, right) = keys.split_at(mid);
        let new_id = self.leaves.len() as LeafId;
        let mut new_leaf = self.empty_leaf(right[0], parent);
        new_leaf.keys = right.to_vec();
        self.leaves[leaf as usize].keys = left.to_vec();
        if self.hopscotch {
            let old = &mut self.leaves[leaf as usize];
            old.slots.fill(EMPTY);
            for &k in left {
                place_anywhere(&mut old.slots, k);
            }
            for &k in right {
                place_anywhere(&mut new_leaf.slots, k);
            }
        }
        self.leaf_by_low.insert(new_leaf.low, new_id);
        self.leaves.push(new_leaf);
        let children = &mut self.inners[parent as usize].children;
        let at = children.iter().position(|&c| c == leaf).expect("child") + 1;
        children.insert(at, new_id);
        let new_inner = (children.len() > self.fanout).then(|| self.split_inner(parent));
        (new_id, new_inner)
    }

    fn split_inner(&mut self, inner: InnerId) -> InnerId {
        let children = std::mem::take(&mut self.inners[inner as usize].children);
        let mid = children.len() / 2;
        let (left, right) = children.split_at(mid);
        let new_id = self.inners.len() as InnerId;
        let low = self.leaves[right[0] as usize].low;
        for &c in right {
            self.leaves[c as usize].parent = new_id;
        }
        self.inners[inner as usize].children = left.to_vec();
        self.inners.push(Inner {
            low,
            children: right.to_vec(),
            created: self.epoch,
        });
        self.inner_by_low.insert(low, new_id);
        new_id
    }
}

/// Hopscotch insert that cannot fail: after a split a half-full leaf almost always has a hop
/// sequence; if not, the key takes the nearest empty slot (the neighbourhood invariant is then
/// broken for this key only, which changes no modelled cost).
fn place_anywhere(slots: &mut [Key], key: Key) -> HopInsert {
    if let Some(h) = hopscotch::insert(slots, key) {
        return h;
    }
    let home = hopscotch::home(key);
    let d = (0..SPAN)
        .find(|&d| slots[(home + d) % SPAN] == EMPTY)
        .expect("a split leaf has room");
    slots[(home + d) % SPAN] = key;
    HopInsert {
        home,
        slot: (home + d) % SPAN,
        span: d + 1,
        moved: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending_keys_leaves_half_full_leaves() {
        // Sherman splits a full leaf (54) into 27 + 27; appends then fill only the right one.
        let mut t = Tree::new(54, 61, false);
        for k in 0..54 * 10 {
            t.insert(k);
        }
        assert_eq!(t.len(), 540);
        assert_eq!(t.epoch() as usize, t.leaf_count() - 1);
        let fill: Vec<usize> = (0..t.leaf_count() as u32)
            .map(|l| t.leaf(l).keys.len())
            .collect();
        assert!(fill[..fill.len() - 1].iter().all(|&n| n == 27), "{fill:?}");
        for k in (0..540).step_by(7) {
            assert!(t.contains(k));
            let l = t.leaf(t.leaf_of(k));
            assert!(l.low <= k);
        }
    }

    #[test]
    fn level_one_nodes_split_at_the_fanout_and_height_grows() {
        let mut t = Tree::new(4, 4, false);
        for k in 0..200 {
            t.insert(k * 3);
        }
        for i in 0..t.inner_count() as u32 {
            assert!(t.inner(i).children.len() <= 4);
            for &c in &t.inner(i).children {
                assert_eq!(t.leaf(c).parent, i);
            }
        }
        assert!(t.inner_count() > 4);
        assert!(t.height() >= 4, "{}", t.height());
    }

    #[test]
    fn hopscotch_leaves_keep_keys_findable() {
        let mut t = Tree::new(64, 64, true);
        for k in 0..5000u64 {
            t.insert(crate::metadata::mix64(k));
        }
        assert_eq!(t.len(), 5000);
        for k in (0..5000u64).step_by(13) {
            let key = crate::metadata::mix64(k);
            let l = t.leaf(t.leaf_of(key));
            assert!(l.slots.contains(&key));
        }
        assert!(t.remove(crate::metadata::mix64(13)));
        assert!(!t.contains(crate::metadata::mix64(13)));
    }

    #[test]
    fn leaves_between_covers_the_range() {
        let mut t = Tree::new(4, 61, false);
        for k in 0..40 {
            t.insert(k);
        }
        let ls = t.leaves_between(5, 17);
        let covered: Vec<Key> = ls.iter().flat_map(|&l| t.leaf(l).keys.clone()).collect();
        for k in 5..=17 {
            assert!(covered.contains(&k));
        }
        // Appends leave two keys per leaf: 13 keys meet 7 or 8 leaves.
        assert!(ls.len() <= 8, "{}", ls.len());
    }
}
