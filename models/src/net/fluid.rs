//! Fair-share fluid link for large transfers (KV blocks of tens of MiB): `n` concurrent flows
//! each progress at `capacity / n`. Exposes a "next completion" interface: the caller asks
//! [`FairShareLink::next_completion`], schedules an event there, and calls
//! [`FairShareLink::advance_to`] when it fires (or earlier, when a new flow arrives, after which the
//! next completion may move).
//!
//! Fast implementation: virtual time. `V(t)` is the service every active flow has received since
//! the link was created (`dV/dt = C / n`). A flow of `b` bytes arriving at `V₀` finishes when
//! `V = V₀ + b`, so flows are kept in a B-tree ordered by virtual finish: arrivals and
//! completions cost O(log n). The slow reference (tests) recomputes every remaining size.

use std::collections::{BTreeSet, HashMap};

/// Identifier of a flow, chosen by the caller.
pub type FlowId = u64;

/// One link shared fairly by its active flows.
#[derive(Clone, Debug)]
pub struct FairShareLink {
    capacity_bytes_per_ns: f64,
    now_ns: f64,
    virtual_bytes: f64,
    // (virtual finish as ordered bits of a non-negative f64, flow)
    by_finish: BTreeSet<(u64, FlowId)>,
    finish_of: HashMap<FlowId, f64>,
}

/// A flow that finished, and when.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowCompleted {
    /// The flow.
    pub flow: FlowId,
    /// Its completion time, ns.
    pub at_ns: f64,
}

impl FairShareLink {
    /// An idle link of `capacity_bytes_per_ns` (must be > 0).
    pub fn new(capacity_bytes_per_ns: f64) -> Self {
        assert!(
            capacity_bytes_per_ns > 0.0,
            "link capacity must be positive"
        );
        FairShareLink {
            capacity_bytes_per_ns,
            now_ns: 0.0,
            virtual_bytes: 0.0,
            by_finish: BTreeSet::new(),
            finish_of: HashMap::new(),
        }
    }

    /// Number of active flows.
    pub fn active(&self) -> usize {
        self.finish_of.len()
    }

    /// Starts a flow of `bytes` at `now_ns`; completions before `now_ns` are returned.
    pub fn add_flow(&mut self, now_ns: f64, flow: FlowId, bytes: f64) -> Vec<FlowCompleted> {
        let done = self.advance_to(now_ns);
        let finish = self.virtual_bytes + bytes.max(0.0);
        self.by_finish.insert((finish.to_bits(), flow));
        self.finish_of.insert(flow, finish);
        done
    }

    /// The earliest completion if no flow arrives meanwhile: (time ns, flow).
    pub fn next_completion(&self) -> Option<(f64, FlowId)> {
        let &(bits, flow) = self.by_finish.first()?;
        let left = (f64::from_bits(bits) - self.virtual_bytes).max(0.0);
        let n = self.finish_of.len() as f64;
        Some((self.now_ns + left * n / self.capacity_bytes_per_ns, flow))
    }

    /// Advances the clock to `now_ns`, returning the flows that completed on the way, in order.
    pub fn advance_to(&mut self, now_ns: f64) -> Vec<FlowCompleted> {
        let mut done = Vec::new();
        while let Some((t, flow)) = self.next_completion() {
            if t > now_ns {
                break;
            }
            let (bits, _) = self.by_finish.pop_first().expect("non-empty");
            self.finish_of.remove(&flow);
            self.virtual_bytes = f64::from_bits(bits);
            self.now_ns = t;
            done.push(FlowCompleted { flow, at_ns: t });
        }
        if now_ns > self.now_ns {
            let n = self.finish_of.len() as f64;
            if n > 0.0 {
                self.virtual_bytes += (now_ns - self.now_ns) * self.capacity_bytes_per_ns / n;
            }
            self.now_ns = now_ns;
        }
        done
    }

    /// Bytes still to send for `flow`, if active.
    pub fn remaining(&self, flow: FlowId) -> Option<f64> {
        self.finish_of
            .get(&flow)
            .map(|f| (f - self.virtual_bytes).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Slow, obviously right reference: every remaining size is recomputed at each change.
    struct ReferenceLink {
        cap: f64,
        now: f64,
        flows: Vec<(FlowId, f64)>,
    }

    impl ReferenceLink {
        fn advance_to(&mut self, target: f64, done: &mut Vec<FlowCompleted>) {
            while !self.flows.is_empty() {
                let n = self.flows.len() as f64;
                let rate = self.cap / n;
                let min_left = self.flows.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
                let t_done = self.now + min_left / rate;
                let until = t_done.min(target);
                for f in &mut self.flows {
                    f.1 -= (until - self.now) * rate;
                }
                self.now = until;
                if t_done > target {
                    return;
                }
                type Flows = Vec<(FlowId, f64)>;
                let (finished, rest): (Flows, Flows) = self.flows.iter().partition(|f| f.1 <= 1e-6);
                for f in finished {
                    done.push(FlowCompleted {
                        flow: f.0,
                        at_ns: self.now,
                    });
                }
                self.flows = rest;
            }
            self.now = self.now.max(target);
        }
    }

    #[test]
    fn two_equal_flows_share_the_link() {
        // 1 B/ns; flows of 100 B at t=0 and t=0: both finish at 200 ns.
        let mut l = FairShareLink::new(1.0);
        l.add_flow(0.0, 1, 100.0);
        l.add_flow(0.0, 2, 100.0);
        let done = l.advance_to(1e9);
        assert_eq!(done.len(), 2);
        assert!(done.iter().all(|d| (d.at_ns - 200.0).abs() < 1e-9));
    }

    #[test]
    fn late_arrival_slows_the_first_flow() {
        // Flow 1 (100 B) alone for 50 ns (50 B left), then shares: 50 B at 0.5 B/ns → t = 150.
        let mut l = FairShareLink::new(1.0);
        l.add_flow(0.0, 1, 100.0);
        l.add_flow(50.0, 2, 1000.0);
        assert_eq!(l.next_completion().map(|c| c.1), Some(1));
        assert!((l.next_completion().unwrap().0 - 150.0).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn fast_matches_reference(arrivals in proptest::collection::vec((0.0f64..1000.0, 1.0f64..5000.0), 1..40)) {
            let mut arrivals = arrivals;
            arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut fast = FairShareLink::new(2.5);
            let mut slow = ReferenceLink { cap: 2.5, now: 0.0, flows: Vec::new() };
            let mut fast_done = Vec::new();
            let mut slow_done = Vec::new();
            for (i, (t, b)) in arrivals.iter().enumerate() {
                fast_done.extend(fast.add_flow(*t, i as u64, *b));
                slow.advance_to(*t, &mut slow_done);
                slow.flows.push((i as u64, *b));
            }
            fast_done.extend(fast.advance_to(1e12));
            slow.advance_to(1e12, &mut slow_done);
            prop_assert_eq!(fast_done.len(), arrivals.len());
            let mut slow_by: HashMap<u64, f64> = HashMap::new();
            for d in &slow_done { slow_by.insert(d.flow, d.at_ns); }
            for d in &fast_done {
                let s = slow_by[&d.flow];
                prop_assert!((d.at_ns - s).abs() <= 1e-6 * s.max(1.0), "flow {} fast {} slow {}", d.flow, d.at_ns, s);
            }
        }
    }
}
