//! The time series: one row per instance and interval, pushed to the sink as each interval
//! ends.

use kvcsim_models::tiers::{HBM, TierKind};

use super::{Event, World};
use crate::engine::{Engine, SimTime};
use crate::records::TimeseriesRow;

impl World<'_> {
    pub(super) fn on_interval_ended(&mut self, engine: &mut Engine<Event>) {
        let now = engine.now();
        self.close_interval(now, false);
        self.next_tick = now + self.interval;
        self.tick = Some(engine.schedule_at(self.next_tick, Event::IntervalEnded));
    }

    /// Pushes one time-series row per instance for the interval ending at `now`.
    pub(super) fn close_interval(&mut self, now: SimTime, last: bool) {
        self.advance_fabric(now);
        for (idx, inst) in self.instances.iter_mut().enumerate() {
            if last && now == inst.interval_start {
                continue; // nothing left to report
            }
            if let Some(it) = &inst.busy {
                let start = it.start;
                inst.account_busy(start, now);
            }
            let len = now.saturating_since(inst.interval_start).as_nanos().max(1);
            let c = inst.interval;
            let mut tiers = match &mut self.tiers {
                Some(t) => t.take_interval(idx),
                None => Default::default(),
            };
            let hbm_evictions = inst.cache.stats().evictions;
            tiers[HBM].evictions = hbm_evictions - inst.evictions_reported;
            inst.evictions_reported = hbm_evictions;
            let resident = |kind| {
                self.tiers
                    .as_ref()
                    .map_or(0, |t| t.resident_blocks(idx, kind) as u64)
            };
            let len_f = len as f64;
            let (nic_tx_bytes, nic_rx_bytes, nic_tx_utilisation, nic_rx_utilisation) =
                match &mut self.disagg {
                    None => (0, 0, 0.0, 0.0),
                    Some(pd) => {
                        let (tx, rx) = pd.fabric.instance_bytes(idx);
                        let cap = pd.fabric.instance_capacity(idx) * len_f;
                        let (tx0, rx0) = std::mem::replace(&mut pd.reported_bytes[idx], (tx, rx));
                        let (dtx, drx) = ((tx - tx0).max(0.0), (rx - rx0).max(0.0));
                        (dtx.round() as u64, drx.round() as u64, dtx / cap, drx / cap)
                    }
                };
            let tier_blocks = [
                0,
                resident(TierKind::Dram),
                resident(TierKind::Ssd),
                resident(TierKind::Remote),
            ];
            self.sink.interval(&TimeseriesRow {
                time_ns: now.as_nanos(),
                interval_ns: len,
                instance: idx as u32,
                running: inst.running(),
                waiting: inst.waiting.len() as u64,
                batch_tokens: c.batch_tokens,
                iterations: c.iterations,
                gpu_busy_fraction: c.busy_ns as f64 / len as f64,
                cache_blocks: (inst.cache.resident_blocks() + inst.cache.private_blocks()) as u64,
                cached_blocks: inst.cache.resident_blocks() as u64,
                lookups: c.lookups,
                lookup_blocks: c.lookup_blocks,
                hit_blocks: c.hit_blocks,
                tiers,
                tier_blocks,
                preemptions: c.preemptions,
                recomputed_tokens: c.recomputed_tokens,
                nic_tx_bytes,
                nic_rx_bytes,
                nic_tx_utilisation,
                nic_rx_utilisation,
            });
            inst.interval = Default::default();
            inst.interval_start = now;
        }
    }
}
