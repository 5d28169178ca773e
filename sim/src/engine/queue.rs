//! The pending-event set: a binary heap ordered on `(time, insertion sequence)`.
//!
//! ```text
//!   heap (std BinaryHeap, min on (time, seq))        slots (arena of payloads)
//!   ┌──────────────────────┐                          ┌────────────────────────┐
//!   │ (t=5, seq=3, slot=0) │ ───────────────────────▶ │ 0: seq=3, Some(event)  │
//!   │ (t=7, seq=1, slot=1) │ ───────────────────────▶ │ 1: seq=1, None (cancel)│
//!   └──────────────────────┘                          └────────────────────────┘
//! ```
//!
//! Heap entries are 24 bytes whatever the event type, so sifting moves little memory; payloads
//! sit in a slot arena with a free list. Cancelling empties the slot and frees it at once; the
//! stale heap entry is recognised when it surfaces because its sequence number no longer matches
//! the slot's, and is dropped. Equal times pop in insertion order (FIFO), so a run depends only
//! on what was scheduled, never on heap internals.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// Handle to a scheduled event, used to cancel it. Stale handles (the event already fired or
/// was cancelled) are harmless: cancelling them does nothing and returns `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId {
    slot: u32,
    seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (time, seq) is on top.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
struct Slot<E> {
    seq: u64,
    event: Option<E>,
}

/// A priority queue of events keyed on `(time, insertion sequence)`, with cancellation.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry>,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    next_seq: u64,
    live: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` pending events before reallocating.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            next_seq: 0,
            live: 0,
        }
    }

    /// Number of pending (scheduled, not cancelled, not yet popped) events.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no event is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Schedules `event` at `time`. Events at equal times pop in the order they were pushed.
    pub fn push(&mut self, time: SimTime, event: E) -> EventId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Slot { seq, event: Some(event) };
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("more than 2^32 pending events");
                self.slots.push(Slot { seq, event: Some(event) });
                s
            }
        };
        self.heap.push(Entry { time, seq, slot });
        self.live += 1;
        EventId { slot, seq }
    }

    /// Cancels a pending event. Returns `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: EventId) -> bool {
        match self.slots.get_mut(id.slot as usize) {
            Some(slot) if slot.seq == id.seq && slot.event.is_some() => {
                slot.event = None;
                self.free.push(id.slot);
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    /// Time of the earliest pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.skip_stale();
        self.heap.peek().map(|e| e.time)
    }

    /// Removes and returns the earliest pending event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(entry) = self.heap.pop() {
            let slot = &mut self.slots[entry.slot as usize];
            if slot.seq != entry.seq {
                continue; // cancelled, slot reused since
            }
            if let Some(event) = slot.event.take() {
                self.free.push(entry.slot);
                self.live -= 1;
                return Some((entry.time, event));
            }
            // cancelled and slot not yet reused: it is already on the free list
        }
        None
    }

    fn skip_stale(&mut self) {
        while let Some(top) = self.heap.peek() {
            let slot = &self.slots[top.slot as usize];
            if slot.seq == top.seq && slot.event.is_some() {
                return;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pops_in_time_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(30), 'c');
        q.push(SimTime(10), 'a');
        q.push(SimTime(20), 'b');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['a', 'b', 'c']);
    }

    #[test]
    fn equal_times_are_fifo() {
        let mut q = EventQueue::new();
        for i in 0..100 {
            q.push(SimTime(7), i);
        }
        let order: Vec<i32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn cancel_removes_only_that_event() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime(1), "a");
        let _b = q.push(SimTime(1), "b");
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "second cancel of the same event");
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(), Some((SimTime(1), "b")));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn stale_handle_does_not_cancel_slot_reuser() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime(1), "a");
        assert_eq!(q.pop(), Some((SimTime(1), "a")));
        let b = q.push(SimTime(2), "b"); // reuses a's slot
        assert!(!q.cancel(a));
        assert_eq!(q.len(), 1);
        assert!(q.cancel(b));
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn cancelled_then_reused_slot_keeps_both_orders() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime(5), "a");
        q.cancel(a);
        q.push(SimTime(9), "b"); // reuses a's slot; a's heap entry is stale
        q.push(SimTime(1), "c");
        assert_eq!(q.peek_time(), Some(SimTime(1)));
        assert_eq!(q.pop(), Some((SimTime(1), "c")));
        assert_eq!(q.pop(), Some((SimTime(9), "b")));
        assert_eq!(q.pop(), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        Cancel(usize),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u8>().prop_map(Op::Push),
            1 => any::<usize>().prop_map(Op::Cancel),
            2 => Just(Op::Pop),
        ]
    }

    proptest! {
        /// Differential test against an obviously-right model: a Vec scanned for the minimum
        /// (time, seq) among live events.
        #[test]
        fn matches_reference_model(ops in proptest::collection::vec(op(), 0..300)) {
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, u64, bool)> = Vec::new(); // (time, seq, live)
            let mut ids = Vec::new();
            let mut now = 0u64;
            for op in ops {
                match op {
                    Op::Push(dt) => {
                        let t = now + u64::from(dt % 8);
                        let seq = model.len() as u64;
                        ids.push(q.push(SimTime(t), seq));
                        model.push((t, seq, true));
                    }
                    Op::Cancel(i) if !ids.is_empty() => {
                        let i = i % ids.len();
                        let expected = model[i].2;
                        prop_assert_eq!(q.cancel(ids[i]), expected);
                        model[i].2 = false;
                    }
                    Op::Cancel(_) => {}
                    Op::Pop => {
                        let best = model.iter().enumerate().filter(|(_, m)| m.2)
                            .min_by_key(|(_, m)| (m.0, m.1)).map(|(i, m)| (i, m.0, m.1));
                        let got = q.pop();
                        match best {
                            None => prop_assert!(got.is_none()),
                            Some((i, t, seq)) => {
                                prop_assert_eq!(got, Some((SimTime(t), seq)));
                                model[i].2 = false;
                                now = t;
                            }
                        }
                    }
                }
                prop_assert_eq!(q.len(), model.iter().filter(|m| m.2).count());
            }
        }
    }
}
