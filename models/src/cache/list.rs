//! Intrusive doubly linked lists of blocks threaded through one slab: O(1) push, unlink and
//! pop, no allocation once the slab has grown. Several lists (ARC's T1, T2, B1, B2; S3-FIFO's
//! ghost queue) share one [`Slab`]; each [`List`] is only its two ends and its length.

use super::BlockId;

/// Slot index meaning "no node".
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    block: BlockId,
    /// Towards the front (oldest) end.
    prev: u32,
    /// Towards the back (newest) end; also links the free list.
    next: u32,
}

/// One list: its front (oldest, the next to pop) and back (newest) slots and its length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    front: u32,
    back: u32,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        List {
            front: NIL,
            back: NIL,
            len: 0,
        }
    }
}

impl List {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Node storage shared by several [`List`]s, with a free list of slots.
#[derive(Clone, Debug)]
pub(crate) struct Slab {
    nodes: Vec<Node>,
    free: u32,
}

impl Slab {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Slab {
            nodes: Vec::with_capacity(super::presize(capacity)),
            free: NIL,
        }
    }

    /// A fresh, unlinked node holding `block`.
    pub(crate) fn alloc(&mut self, block: BlockId) -> u32 {
        let node = Node {
            block,
            prev: NIL,
            next: NIL,
        };
        if self.free == NIL {
            let slot = u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
            assert!(slot != NIL, "fewer than 2^32 - 1 nodes");
            self.nodes.push(node);
            slot
        } else {
            let slot = self.free;
            self.free = self.nodes[slot as usize].next;
            self.nodes[slot as usize] = node;
            slot
        }
    }

    /// Returns an unlinked node's slot to the free list.
    pub(crate) fn release(&mut self, slot: u32) {
        self.nodes[slot as usize].next = self.free;
        self.free = slot;
    }

    pub(crate) fn block(&self, slot: u32) -> BlockId {
        self.nodes[slot as usize].block
    }

    /// Appends an unlinked node at the back (newest end) of `list`.
    pub(crate) fn push_back(&mut self, list: &mut List, slot: u32) {
        self.nodes[slot as usize].prev = list.back;
        self.nodes[slot as usize].next = NIL;
        if list.back == NIL {
            list.front = slot;
        } else {
            self.nodes[list.back as usize].next = slot;
        }
        list.back = slot;
        list.len += 1;
    }

    /// Takes a node that is in `list` out of it (the node stays allocated).
    pub(crate) fn unlink(&mut self, list: &mut List, slot: u32) {
        let Node { prev, next, .. } = self.nodes[slot as usize];
        if prev == NIL {
            list.front = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            list.back = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        list.len -= 1;
    }

    /// The front (oldest) node of `list`.
    pub(crate) fn front(&self, list: &List) -> Option<u32> {
        (list.front != NIL).then_some(list.front)
    }

    /// Unlinks and returns the front node of `list` (still allocated).
    pub(crate) fn pop_front(&mut self, list: &mut List) -> Option<u32> {
        let slot = self.front(list)?;
        self.unlink(list, slot);
        Some(slot)
    }

    /// Slots allocated so far (in use or free).
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// Blocks of `list` from front to back.
    pub(crate) fn iter<'a>(&'a self, list: &List) -> impl Iterator<Item = BlockId> + 'a {
        let mut at = list.front;
        std::iter::from_fn(move || {
            (at != NIL).then(|| {
                let node = self.nodes[at as usize];
                at = node.next;
                node.block
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lists_share_a_slab() {
        let mut slab = Slab::with_capacity(4);
        let (mut a, mut b) = (List::default(), List::default());
        let s: Vec<u32> = (0..4).map(|i| slab.alloc(BlockId(i))).collect();
        slab.push_back(&mut a, s[0]);
        slab.push_back(&mut a, s[1]);
        slab.push_back(&mut b, s[2]);
        slab.push_back(&mut a, s[3]);
        slab.unlink(&mut a, s[1]);
        slab.push_back(&mut b, s[1]);
        let ids = |l: &List| slab.iter(l).map(|b| b.0).collect::<Vec<_>>();
        assert_eq!((ids(&a), ids(&b)), (vec![0, 3], vec![2, 1]));
        assert_eq!(slab.pop_front(&mut a), Some(s[0]));
        slab.release(s[0]);
        assert_eq!(slab.alloc(BlockId(9)), s[0]); // slot reused
        assert_eq!((a.len(), b.len()), (1, 2));
        slab.unlink(&mut a, s[3]);
        assert!(a.is_empty() && slab.front(&a).is_none());
    }
}
