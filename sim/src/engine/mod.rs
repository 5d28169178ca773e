//! The event engine: clock, event queue and run loop. It knows nothing of GPUs, NICs or
//! caches; the world (`crate::world`) gives events their meaning.
//!
//! ```text
//!   world ──schedule_at(t, ev)──▶ Engine { now, queue } ──pop earliest──▶ handler(world, ev)
//!     ▲                                                                     │
//!     └──────────────────────── schedules follow-up events ◀────────────────┘
//! ```
//!
//! Events pop in `(time, insertion sequence)` order, so equal times are FIFO and a run is a pure
//! function of what was scheduled. Time never goes backwards: scheduling in the past is a bug
//! in the caller and panics.

mod queue;
mod random;
mod time;

pub use queue::{EventId, EventQueue};
pub use random::{RandomStreams, StreamRng};
pub use time::{SimDuration, SimTime};

/// Clock plus pending events of type `E`.
#[derive(Debug)]
pub struct Engine<E> {
    now: SimTime,
    queue: EventQueue<E>,
    processed: u64,
}

impl<E> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Engine<E> {
    /// An engine at time zero with no pending events.
    pub fn new() -> Self {
        Engine {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            processed: 0,
        }
    }

    /// The current simulated time: the time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Number of events popped so far.
    pub fn events_processed(&self) -> u64 {
        self.processed
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Schedules `event` at the absolute time `at`, which must not be in the past.
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at} < now {}",
            self.now
        );
        self.queue.push(at, event)
    }

    /// Schedules `event` after `delay` from now.
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventId {
        self.queue.push(self.now + delay, event)
    }

    /// Cancels a pending event; `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: EventId) -> bool {
        self.queue.cancel(id)
    }

    /// Time of the next pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// Pops the next event, advancing the clock to its time.
    pub fn step(&mut self) -> Option<E> {
        let (t, e) = self.queue.pop()?;
        self.now = t;
        self.processed += 1;
        Some(e)
    }

    /// Handles events in order until none is pending or the next one is later than `until`;
    /// the clock then stands at the last handled event (it is not advanced to `until`).
    /// Returns the number of events handled by this call.
    pub fn run_until<W>(
        &mut self,
        until: SimTime,
        world: &mut W,
        mut handle: impl FnMut(&mut W, &mut Self, E),
    ) -> u64 {
        let start = self.processed;
        while let Some(t) = self.queue.peek_time() {
            if t > until {
                break;
            }
            let e = self.step().expect("peeked event exists");
            handle(world, self, e);
        }
        self.processed - start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_can_schedule_follow_ups_and_time_advances() {
        // A chain: each event at t schedules the next at t + 10, five in all.
        let mut engine = Engine::new();
        engine.schedule_at(SimTime(0), 0u32);
        let mut seen = Vec::new();
        engine.run_until(SimTime::MAX, &mut seen, |seen, eng, n| {
            seen.push((eng.now(), n));
            if n < 4 {
                eng.schedule_in(SimDuration(10), n + 1);
            }
        });
        let expected: Vec<_> = (0..5).map(|n| (SimTime(u64::from(n) * 10), n)).collect();
        assert_eq!(seen, expected);
        assert_eq!(engine.events_processed(), 5);
    }

    #[test]
    fn run_until_stops_before_later_events() {
        let mut engine = Engine::new();
        engine.schedule_at(SimTime(5), "early");
        engine.schedule_at(SimTime(15), "late");
        let mut seen = Vec::new();
        let n = engine.run_until(SimTime(10), &mut seen, |seen, _, e| seen.push(e));
        assert_eq!((n, seen.as_slice()), (1, &["early"][..]));
        assert_eq!(engine.now(), SimTime(5));
        assert_eq!(engine.pending(), 1);
    }

    #[test]
    fn cancelled_event_never_fires() {
        let mut engine = Engine::new();
        let id = engine.schedule_at(SimTime(5), 1);
        engine.schedule_at(SimTime(6), 2);
        assert!(engine.cancel(id));
        let mut seen = Vec::new();
        engine.run_until(SimTime::MAX, &mut seen, |seen, _, e| seen.push(e));
        assert_eq!(seen, vec![2]);
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut engine = Engine::new();
        engine.schedule_at(SimTime(10), ());
        engine.step();
        engine.schedule_at(SimTime(9), ());
    }
}
