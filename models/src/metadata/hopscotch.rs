//! CHIME's hopscotch-hashed leaf: 64 slots, neighbourhood H = 8, cyclic, no overflow
//! (DM §2: `leafSpanSize` 64, `neighborSize` 8). A key lives within H slots of its home
//! slot; an insert probes for the first empty slot and hops it back towards home by moving
//! keys that may move (Herlihy, Shavit, Tzafrir, DISC 2008). When no hop sequence exists the
//! leaf must split.

use super::Key;
use super::keys::mix64;

/// Slots per leaf.
pub const SPAN: usize = 64;
/// Neighbourhood size.
pub const H: usize = 8;
/// An empty slot.
pub const EMPTY: Key = Key::MAX;

/// Home slot of `key`: the top 6 bits of a mix independent of the tree's key order.
pub fn home(key: Key) -> usize {
    (mix64(key ^ 0x5bd1_e995_5bd1_e995) >> 58) as usize
}

/// Cyclic distance from slot `from` forward to slot `to`.
pub fn dist(from: usize, to: usize) -> usize {
    (to + SPAN - from) % SPAN
}

/// What an insert touched, for its cost: the slots from home to the first empty slot found
/// (read under the lock; also the span that may be rewritten).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HopInsert {
    /// Home slot of the key.
    pub home: usize,
    /// Slot the key landed in.
    pub slot: usize,
    /// Slots from home to the first empty slot, inclusive.
    pub span: usize,
    /// Keys moved to make room.
    pub moved: usize,
}

/// Slot of `key` in `slots`, if present.
pub fn find(slots: &[Key], key: Key) -> Option<usize> {
    let h = home(key);
    (0..H).map(|d| (h + d) % SPAN).find(|&s| slots[s] == key)
}

/// Inserts `key` into `slots` (`SPAN` long, `key` absent); `None` when the leaf must split
/// (`slots` is then unchanged).
pub fn insert(slots: &mut [Key], key: Key) -> Option<HopInsert> {
    let h = home(key);
    let first_empty = (0..SPAN).find(|&d| slots[(h + d) % SPAN] == EMPTY)?;
    let mut empty = (h + first_empty) % SPAN;
    let mut moves: Vec<(usize, usize)> = Vec::new();
    while dist(h, empty) >= H {
        // A key in the H - 1 slots before `empty` whose home is within H of `empty` may move.
        let candidate = (1..H).rev().map(|d| (empty + SPAN - d) % SPAN).find(|&s| {
            let k = slots[s];
            k != EMPTY && dist(home(k), empty) < H && dist(h, s) < dist(h, empty)
        });
        let Some(s) = candidate else {
            // Undo the moves: the leaf must split.
            for &(from, to) in moves.iter().rev() {
                slots[from] = slots[to];
                slots[to] = EMPTY;
            }
            return None;
        };
        slots[empty] = slots[s];
        slots[s] = EMPTY;
        moves.push((s, empty));
        empty = s;
    }
    slots[empty] = key;
    Some(HopInsert {
        home: h,
        slot: empty,
        span: first_empty + 1,
        moved: moves.len(),
    })
}

/// Removes `key`; false if absent.
pub fn remove(slots: &mut [Key], key: Key) -> bool {
    match find(slots, key) {
        Some(s) => {
            slots[s] = EMPTY;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_stays_in_its_neighbourhood() {
        let mut slots = vec![EMPTY; SPAN];
        let mut stored = Vec::new();
        for k in 0..1000u64 {
            if insert(&mut slots, k).is_some() {
                stored.push(k);
            } else {
                break;
            }
        }
        // Hopscotch with H = 8 fills a good part of 64 slots before the first failure.
        assert!(stored.len() >= 24, "only {} keys", stored.len());
        for &k in &stored {
            let s = find(&slots, k).expect("stored key is found in its neighbourhood");
            assert!(dist(home(k), s) < H);
        }
        assert_eq!(slots.iter().filter(|&&k| k != EMPTY).count(), stored.len());
    }

    #[test]
    fn failed_insert_leaves_the_leaf_unchanged() {
        let mut slots = vec![EMPTY; SPAN];
        let mut k = 0;
        while insert(&mut slots, k).is_some() {
            k += 1;
        }
        let before = slots.clone();
        assert!(insert(&mut slots, k).is_none());
        assert_eq!(slots, before);
    }
}
