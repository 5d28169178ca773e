//! Event-engine throughput: the classic "hold" model (Jones, CACM 1986) used to compare
//! pending-event sets. The queue is filled with `pending` events at random times; each step
//! pops the earliest event and schedules one new event at `now + increment`, where the
//! increment is exponential with mean equal to the mean spacing of the initial fill, so the
//! queue size stays constant and the pop position is realistic. One schedule + one pop count
//! as one event.

use std::time::Instant;

use rand::RngExt;
use rand_distr::Exp;
use serde::Serialize;

use crate::engine::{Engine, RandomStreams, SimDuration, SimTime};

/// One measured configuration.
#[derive(Debug, Clone, Serialize)]
pub struct EngineBenchRow {
    /// Events pending in the queue throughout the measurement.
    pub pending: usize,
    /// Events popped (each followed by one schedule) during the measurement.
    pub events: u64,
    /// Wall-clock seconds of the measurement.
    pub wall_s: f64,
    /// `events / wall_s`.
    pub events_per_s: f64,
}

/// A payload the size of a typical simulation event (an enum with a couple of ids).
#[derive(Clone, Copy)]
struct Payload {
    target: u32,
    _aux: u64,
}

/// Runs the hold model with `pending` queued events for `events` steps.
pub fn run(pending: usize, events: u64, seed: u64) -> EngineBenchRow {
    let mut rng = RandomStreams::new(seed).stream("bench/engine");
    // Mean spacing 1 µs between initial events; increments drawn with the same mean horizon.
    let horizon_ns = pending as f64 * 1_000.0;
    let exp = Exp::new(1.0 / horizon_ns).expect("positive rate");
    // Pre-draw increments so the measurement times the queue, not the generator.
    let increments: Vec<u64> = (0..4096).map(|_| rng.sample(exp) as u64 + 1).collect();
    let mut engine: Engine<Payload> = Engine::new();
    for i in 0..pending {
        let t = rng.random_range(0..horizon_ns as u64 + 1);
        engine.schedule_at(
            SimTime(t),
            Payload {
                target: i as u32,
                _aux: 0,
            },
        );
    }
    let mut checksum = 0u64;
    let start = Instant::now();
    for i in 0..events {
        let ev = engine.step().expect("queue never drains in the hold model");
        checksum = checksum.wrapping_add(u64::from(ev.target));
        let inc = increments[(i as usize) & 4095];
        engine.schedule_in(SimDuration(inc), ev);
    }
    let wall_s = start.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    EngineBenchRow {
        pending,
        events,
        wall_s,
        events_per_s: events as f64 / wall_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_model_keeps_queue_size_constant() {
        let row = run(1000, 10_000, 1);
        assert_eq!(row.events, 10_000);
        assert!(row.events_per_s > 0.0);
    }
}
