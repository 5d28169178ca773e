//! [`ArcPolicy`]: the adaptive replacement cache (Megiddo and Modha, "ARC: A Self-Tuning, Low
//! Overhead Replacement Cache", USENIX FAST 2003).

use std::hash::BuildHasherDefault;

use super::list::{List, Slab};
use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

/// Where a block known to ARC is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Cached, seen once recently.
    T1,
    /// Cached, seen at least twice recently.
    T2,
    /// Ghost of a block evicted from T1.
    B1,
    /// Ghost of a block evicted from T2.
    B2,
    /// Cached and pinned, out of the lists; `true` if it returns to T2.
    Pinned(bool),
}

/// ARC: two LRU lists of cached blocks, T1 (seen once) and T2 (seen at least twice), and two
/// LRU lists of ghosts, B1 and B2, the ids last evicted from each. A target `p` for the size of
/// T1 adapts: a miss whose id is in B1 means T1 was too small (`p += max(1, |B2| / |B1|)`),
/// one in B2 that T2 was (`p -= max(1, |B1| / |B2|)`, integer division).
///
/// * A hit moves the block to T2's most recent end; a miss inserts it at T1's, or at T2's if
///   its id was a ghost.
/// * REPLACE (the victim): T1's least recent block, into B1, if `|T1| > p`, or `|T1| = p` and
///   the block making room was found in B2; otherwise T2's least recent, into B2.
/// * Directory bounds, as in the paper's case IV: `|T1| + |B1| <= c` and
///   `|T1| + |T2| + |B1| + |B2| <= 2c`, enforced by dropping the least recent ghost of B1,
///   then of B2, after each insertion. With the cache full at every miss (a replay), this gives
///   exactly the paper's algorithm: the paper drops the ghost before evicting, the result is
///   the same ghost.
///
/// ARC adapts `p` on the ghost hit before choosing the victim, so it needs to be told which
/// block a miss is for ([`EvictionPolicy::on_miss`]); an owner that inserts blocks pinned and
/// releases them later (the lifecycle's prefix cache) does not say, and `p` then adapts when
/// the block is first released. With pinning, `|T1|` and `|T2|` count evictable blocks, and a
/// pinned block goes back to the most recent end of its list (T2 if touched while pinned).
/// Every operation is O(1): the four lists share one slab of linked nodes.
#[derive(Debug)]
pub struct ArcPolicy {
    capacity: usize,
    /// Target size of T1, in [0, c].
    target: usize,
    slab: Slab,
    t1: List,
    t2: List,
    b1: List,
    b2: List,
    /// Slot and place of every block known (cached, pinned or ghost).
    index: BlockMap<(u32, Place)>,
    /// The miss announced by `on_miss`: its block and whether it was a ghost in B2.
    incoming: Option<(BlockId, bool)>,
}

impl ArcPolicy {
    /// An empty policy for a cache of `capacity` blocks (ARC's `c`).
    pub fn new(capacity: usize) -> Self {
        ArcPolicy {
            capacity,
            target: 0,
            slab: Slab::with_capacity(super::presize(capacity.saturating_mul(2))),
            t1: List::default(),
            t2: List::default(),
            b1: List::default(),
            b2: List::default(),
            index: BlockMap::with_capacity_and_hasher(
                super::presize(capacity.saturating_mul(2)),
                BuildHasherDefault::default(),
            ),
            incoming: None,
        }
    }

    /// The current target size of T1.
    pub fn target(&self) -> usize {
        self.target
    }

    fn list(&mut self, place: Place) -> &mut List {
        match place {
            Place::T1 => &mut self.t1,
            Place::T2 => &mut self.t2,
            Place::B1 => &mut self.b1,
            Place::B2 => &mut self.b2,
            Place::Pinned(_) => unreachable!("pinned blocks are in no list"),
        }
    }

    fn unlink(&mut self, slot: u32, from: Place) {
        let mut list = *self.list(from);
        self.slab.unlink(&mut list, slot);
        *self.list(from) = list;
    }

    /// Moves a listed node to the most recent end of `to`.
    fn move_to(&mut self, block: BlockId, to: Place) {
        let (slot, from) = self.index[&block];
        self.unlink(slot, from);
        self.append(block, slot, to);
    }

    fn append(&mut self, block: BlockId, slot: u32, to: Place) {
        let mut list = *self.list(to);
        self.slab.push_back(&mut list, slot);
        *self.list(to) = list;
        self.index.insert(block, (slot, to));
    }

    /// Adapts the target on a ghost hit; returns whether `block` was in B2.
    fn adapt(&mut self, place: Place) -> bool {
        let (b1, b2) = (self.b1.len(), self.b2.len());
        match place {
            Place::B1 => {
                let delta = (b2 / b1).max(1);
                self.target = (self.target + delta).min(self.capacity);
                false
            }
            Place::B2 => {
                let delta = (b1 / b2).max(1);
                self.target = self.target.saturating_sub(delta);
                true
            }
            _ => false,
        }
    }

    fn forget_lru(&mut self, ghost: Place) {
        let mut list = *self.list(ghost);
        if let Some(slot) = self.slab.pop_front(&mut list) {
            self.index.remove(&self.slab.block(slot));
            self.slab.release(slot);
        }
        *self.list(ghost) = list;
    }
}

impl EvictionPolicy for ArcPolicy {
    fn name(&self) -> &'static str {
        "arc"
    }

    fn on_miss(&mut self, block: BlockId, _meta: BlockMeta) {
        let in_b2 = match self.index.get(&block) {
            Some(&(_, place @ (Place::B1 | Place::B2))) => self.adapt(place),
            _ => false,
        };
        self.incoming = Some((block, in_b2));
    }

    fn insert(&mut self, block: BlockId, meta: BlockMeta, _reason: InsertReason) {
        let announced = self.incoming.take().is_some_and(|(b, _)| b == block);
        match self.index.get(&block).copied() {
            None => {
                let slot = self.slab.alloc(block);
                self.append(block, slot, Place::T1);
            }
            Some((slot, Place::Pinned(to_t2))) => {
                let to = if to_t2 { Place::T2 } else { Place::T1 };
                self.append(block, slot, to);
            }
            Some((_, Place::T1 | Place::T2)) => self.touch(block, meta),
            Some((_, ghost)) => {
                if !announced {
                    self.adapt(ghost);
                }
                self.move_to(block, Place::T2);
            }
        }
        if self.t1.len() + self.b1.len() > self.capacity {
            self.forget_lru(Place::B1);
        }
        let directory = self.t1.len() + self.t2.len() + self.b1.len() + self.b2.len();
        if directory > 2 * self.capacity {
            self.forget_lru(Place::B2);
        }
    }

    fn touch(&mut self, block: BlockId, _meta: BlockMeta) {
        match self.index.get(&block).copied() {
            Some((_, Place::T1 | Place::T2)) => self.move_to(block, Place::T2),
            Some((slot, Place::Pinned(_))) => {
                self.index.insert(block, (slot, Place::Pinned(true)));
            }
            _ => {}
        }
    }

    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        let Some((slot, place @ (Place::T1 | Place::T2))) = self.index.get(&block).copied() else {
            return false;
        };
        self.unlink(slot, place);
        match reason {
            RemoveReason::Pinned => {
                self.index
                    .insert(block, (slot, Place::Pinned(place == Place::T2)));
            }
            RemoveReason::Dropped => {
                self.index.remove(&block);
                self.slab.release(slot);
            }
        }
        true
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        let in_b2 = self.incoming.is_some_and(|(_, in_b2)| in_b2);
        let t1 = self.t1.len();
        let from_t1 = t1 >= 1 && (t1 > self.target || (in_b2 && t1 == self.target));
        let (from, ghost) = if (from_t1 || self.t2.is_empty()) && t1 > 0 {
            (Place::T1, Place::B1)
        } else {
            (Place::T2, Place::B2)
        };
        let list = *self.list(from);
        let slot = self.slab.front(&list)?;
        let block = self.slab.block(slot);
        self.move_to(block, ghost);
        Some(block)
    }

    fn len(&self) -> usize {
        self.t1.len() + self.t2.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        matches!(self.index.get(&block), Some((_, Place::T1 | Place::T2)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    /// Capacity 2, one-block requests a b a c b (ids 0 1 0 2 1 after renumbering).
    /// a, b: T1 = [a, b]. a hits: T2 = [a], T1 = [b]. c misses: |T1| = 1 > p = 0, so b goes
    /// to B1; T1 = [c]. b misses but is in B1: p = 0 + max(1, 0/1) = 1, then REPLACE: |T1| = 1
    /// is not > p = 1 (and b was in B1, not B2), so T2's a goes to B2; b enters T2.
    #[test]
    fn hand_worked_sequence() {
        let mut arc = ArcPolicy::new(2);
        let hits = testing::replay_hits(&mut arc, 2, &[1, 2, 1, 3, 2]);
        assert_eq!(hits, [false, false, true, false, false]);
        assert_eq!(arc.target(), 1);
        let (a, b, c) = (BlockId(0), BlockId(1), BlockId(2));
        assert_eq!(arc.index[&a].1, Place::B2);
        assert_eq!(arc.index[&b].1, Place::T2);
        assert_eq!(arc.index[&c].1, Place::T1);
    }

    /// The reference: the pseudocode of the paper's Figure 4, transcribed with `Vec`s (front =
    /// least recent), O(n) per access.
    #[derive(Default)]
    struct PaperArc {
        p: usize,
        t1: Vec<u64>,
        t2: Vec<u64>,
        b1: Vec<u64>,
        b2: Vec<u64>,
    }

    fn take(list: &mut Vec<u64>, x: u64) -> bool {
        list.iter()
            .position(|&y| y == x)
            .map(|i| list.remove(i))
            .is_some()
    }

    impl PaperArc {
        fn replace(&mut self, x_in_b2: bool) {
            let t1 = self.t1.len();
            if t1 >= 1 && ((x_in_b2 && t1 == self.p) || t1 > self.p) {
                let v = self.t1.remove(0);
                self.b1.push(v);
            } else {
                let v = self.t2.remove(0);
                self.b2.push(v);
            }
        }
    }

    impl testing::Reference for PaperArc {
        fn access(&mut self, x: u64, c: usize) -> bool {
            // Case I: hit.
            if take(&mut self.t1, x) || take(&mut self.t2, x) {
                self.t2.push(x);
                return true;
            }
            // Case II: in B1.
            if self.b1.contains(&x) {
                self.p = (self.p + (self.b2.len() / self.b1.len()).max(1)).min(c);
                self.replace(false);
                take(&mut self.b1, x);
                self.t2.push(x);
                return false;
            }
            // Case III: in B2.
            if self.b2.contains(&x) {
                self.p = self
                    .p
                    .saturating_sub((self.b1.len() / self.b2.len()).max(1));
                self.replace(true);
                take(&mut self.b2, x);
                self.t2.push(x);
                return false;
            }
            // Case IV: nowhere.
            let l1 = self.t1.len() + self.b1.len();
            let total = l1 + self.t2.len() + self.b2.len();
            if l1 == c {
                if self.t1.len() < c {
                    self.b1.remove(0);
                    self.replace(false);
                } else {
                    self.t1.remove(0);
                }
            } else if total >= c {
                if total == 2 * c {
                    self.b2.remove(0);
                }
                self.replace(false);
            }
            self.t1.push(x);
            false
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_the_paper(capacity in 1..12usize, accesses in testing::accesses()) {
            testing::check_against_reference(
                &mut ArcPolicy::new(capacity), &mut PaperArc::default(), capacity, &accesses,
            )?;
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            testing::check_contract(&mut ArcPolicy::new(8), &ops)?;
        }
    }
}
