//! Max-min fair fluid network: bulk transfers (flows) over paths of several links, each link
//! shared by the flows that cross it. The multi-link generalisation of [`FairShareLink`]
//! (issue 12: KV transfers prefill -> decode, pool loads and write-backs on one fabric).
//!
//! # Model
//!
//! A link `l` has a capacity `C_l` (bytes/ns) and a latency `d_l` (ns, propagation and switch
//! pipeline: it delays the data but holds no capacity). A flow `f` of `B` bytes on path
//! `P_f = (l_1, ..., l_k)` gets a rate `r_f`; the rates are the **max-min fair** allocation
//! (Bertsekas & Gallager, *Data Networks*, 2nd ed., sec. 6.5.2): feasible (`sum_{f ∋ l} r_f <=
//! C_l`) and no rate can grow without lowering a smaller or equal one. Equivalently every flow
//! crosses a *bottleneck* link that is saturated and on which no flow has a larger rate; this
//! property is what the tests check, independently of the algorithm. It is the fluid limit of
//! per-flow fair arbitration (round robin between queue pairs in an RNIC, fair queueing in a
//! switch), the standard model of bulk-transfer simulators (e.g. SimGrid's LV08 without its
//! latency-bound correction).
//!
//! Rates change only when a flow starts or its last byte leaves the path; between changes
//! every remaining size falls linearly. A flow's data has arrived `sum_{l in P_f} d_l` after its
//! last byte was sent (cut-through pipelining, as in [`crate::tiers`]' transfer rule), so its
//! completion is `send_end + latency`; it stops holding bandwidth at `send_end`.
//!
//! # Algorithm
//!
//! Progressive filling (water-filling) at each change: all flows start unfrozen; repeatedly
//! the link with the smallest fair share `residual_l / unfrozen_l` fixes that share as the
//! rate of its unfrozen flows, which are frozen and subtract their rate from every link of
//! their path. At most one round per link: O(links x flows) per change, cheap for the tens
//! of concurrent KV transfers of a cluster. Ties are broken by link index, so results are
//! deterministic.
//!
//! [`FairShareLink`]: super::FairShareLink

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A link of a [`FlowNetwork`] (index in insertion order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// A flow of a [`FlowNetwork`] (unique over the network's life).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetFlowId(pub u64);

/// A flow whose data has arrived.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivered {
    /// The flow.
    pub flow: NetFlowId,
    /// The caller's tag given at [`FlowNetwork::start`].
    pub tag: u64,
    /// Bytes it carried.
    pub bytes: u64,
    /// When it started, ns.
    pub start_ns: f64,
    /// When its last byte was sent (the send end), ns: it held bandwidth until then.
    pub sent_ns: f64,
    /// When its data had arrived: `sent_ns` plus the path latency, ns.
    pub at_ns: f64,
}

#[derive(Clone, Debug)]
struct Link {
    name: String,
    capacity: f64,
    latency_ns: f64,
    bytes: f64,
}

#[derive(Clone, Debug)]
struct Flow {
    id: NetFlowId,
    tag: u64,
    path: Vec<LinkId>,
    bytes: u64,
    remaining: f64,
    rate: f64,
    start_ns: f64,
    latency_ns: f64,
}

/// Links and the flows on them. Times are `f64` nanoseconds (callers round once, when they
/// schedule an event, as for [`super::NetworkModel`]).
#[derive(Clone, Debug, Default)]
pub struct FlowNetwork {
    links: Vec<Link>,
    /// Flows still sending, in start order.
    flows: Vec<Flow>,
    /// Flows sent and in flight on the path's latency: (arrival ns bits, id) min-heap, and
    /// their records.
    in_flight: BinaryHeap<Reverse<(u64, u64)>>,
    arriving: Vec<Delivered>,
    now_ns: f64,
    next_id: u64,
    // Scratch of the water-filling.
    residual: Vec<f64>,
    unfrozen: Vec<u32>,
}

/// Remaining bytes below which a flow counts as sent (float round-off of the linear drain).
const EPS_BYTES: f64 = 1e-6;

impl FlowNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a link of `capacity_bytes_per_ns` (finite, > 0) and `latency_ns` (finite, >= 0).
    pub fn add_link(
        &mut self,
        name: impl Into<String>,
        capacity_bytes_per_ns: f64,
        latency_ns: f64,
    ) -> LinkId {
        assert!(
            capacity_bytes_per_ns > 0.0 && capacity_bytes_per_ns.is_finite(),
            "link capacity must be positive and finite"
        );
        assert!(
            latency_ns >= 0.0 && latency_ns.is_finite(),
            "link latency must be non-negative and finite"
        );
        self.links.push(Link {
            name: name.into(),
            capacity: capacity_bytes_per_ns,
            latency_ns,
            bytes: 0.0,
        });
        LinkId(u32::try_from(self.links.len() - 1).expect("fewer than 2^32 links"))
    }

    /// The link's name.
    pub fn link_name(&self, link: LinkId) -> &str {
        &self.links[link.0 as usize].name
    }

    /// Bytes the link has carried up to the network's clock.
    pub fn link_bytes(&self, link: LinkId) -> f64 {
        self.links[link.0 as usize].bytes
    }

    /// Flows sending on `link` now.
    pub fn active_on(&self, link: LinkId) -> usize {
        self.flows.iter().filter(|f| f.path.contains(&link)).count()
    }

    /// Flows still sending.
    pub fn sending(&self) -> usize {
        self.flows.len()
    }

    /// The current rate of a sending flow, bytes/ns.
    pub fn rate(&self, flow: NetFlowId) -> Option<f64> {
        self.flows.iter().find(|f| f.id == flow).map(|f| f.rate)
    }

    /// Starts a flow of `bytes` on `path` (links in order, none repeated) at `now_ns` (not
    /// before the network's clock); deliveries due until then are appended to `done`. A flow
    /// of zero bytes or on an empty path is delivered after the path latency alone.
    pub fn start(
        &mut self,
        now_ns: f64,
        path: &[LinkId],
        bytes: u64,
        tag: u64,
        done: &mut Vec<Delivered>,
    ) -> NetFlowId {
        self.advance_to(now_ns, done);
        let id = NetFlowId(self.next_id);
        self.next_id += 1;
        let latency_ns = path
            .iter()
            .map(|l| self.links[l.0 as usize].latency_ns)
            .sum();
        let flow = Flow {
            id,
            tag,
            path: path.to_vec(),
            bytes,
            remaining: bytes as f64,
            rate: 0.0,
            start_ns: self.now_ns,
            latency_ns,
        };
        if bytes == 0 || path.is_empty() {
            self.sent(flow, self.now_ns);
        } else {
            self.flows.push(flow);
            self.allocate();
        }
        id
    }

    /// When the network next changes if no flow starts meanwhile, ns: a flow's last byte is
    /// sent (the rates of the others change) or a sent flow's data arrives. A caller schedules
    /// an event there and calls [`advance_to`](Self::advance_to) when it fires (it may deliver
    /// nothing: only rates changed), then asks again.
    pub fn next_event_ns(&self) -> Option<f64> {
        let sent = self.next_send_ns();
        let arriving = self
            .in_flight
            .peek()
            .map(|Reverse((bits, _))| f64::from_bits(*bits));
        match (sent, arriving) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances the clock to `now_ns`, appending the deliveries due until then to `done` in
    /// time order (ties by flow id).
    pub fn advance_to(&mut self, now_ns: f64, done: &mut Vec<Delivered>) {
        while let Some(t) = self.next_send_ns().filter(|&t| t <= now_ns) {
            self.drain(t, true);
            // Every flow sent by now leaves (several may end together).
            let mut k = 0;
            while k < self.flows.len() {
                if self.flows[k].remaining <= EPS_BYTES {
                    let f = self.flows.remove(k);
                    self.sent(f, t);
                } else {
                    k += 1;
                }
            }
            self.allocate();
            self.pop_arrived(t, done);
        }
        if now_ns > self.now_ns {
            self.drain(now_ns, false);
        }
        self.pop_arrived(now_ns, done);
    }

    /// The next send end among the sending flows at their current rates, ns.
    fn next_send_ns(&self) -> Option<f64> {
        self.flows
            .iter()
            .map(|f| self.now_ns + f.remaining / f.rate)
            .min_by(f64::total_cmp)
    }

    /// Moves every sending flow forward to `t` at its rate. With `ends`, `t` is a send end
    /// (from [`next_send_ns`](Self::next_send_ns)): the flows whose end, computed the same
    /// way, is not after `t` send all they have left, so that a rounding error of
    /// `rate x (t - now)` (which grows with the clock's magnitude) cannot leave them a sliver
    /// and the caller looping on the same `t`.
    fn drain(&mut self, t: f64, ends: bool) {
        let dt = t - self.now_ns;
        if dt > 0.0 || ends {
            for f in &mut self.flows {
                let ending = ends && self.now_ns + f.remaining / f.rate <= t;
                let sent = if ending {
                    f.remaining
                } else {
                    (f.rate * dt.max(0.0)).min(f.remaining)
                };
                f.remaining -= sent;
                for l in &f.path {
                    self.links[l.0 as usize].bytes += sent;
                }
            }
        }
        self.now_ns = self.now_ns.max(t);
    }

    fn sent(&mut self, f: Flow, sent_ns: f64) {
        let at = sent_ns + f.latency_ns;
        self.in_flight.push(Reverse((at.to_bits(), f.id.0)));
        self.arriving.push(Delivered {
            flow: f.id,
            tag: f.tag,
            bytes: f.bytes,
            start_ns: f.start_ns,
            sent_ns,
            at_ns: at,
        });
    }

    fn pop_arrived(&mut self, until: f64, done: &mut Vec<Delivered>) {
        while let Some(&Reverse((bits, id))) = self.in_flight.peek() {
            if f64::from_bits(bits) > until {
                break;
            }
            self.in_flight.pop();
            let k = self
                .arriving
                .iter()
                .position(|d| d.flow.0 == id)
                .expect("an in-flight flow has its record");
            done.push(self.arriving.swap_remove(k));
        }
    }

    /// Max-min fair rates of the sending flows by progressive filling (module docs).
    fn allocate(&mut self) {
        let n_links = self.links.len();
        self.residual.clear();
        self.residual.extend(self.links.iter().map(|l| l.capacity));
        self.unfrozen.clear();
        self.unfrozen.resize(n_links, 0);
        for f in &mut self.flows {
            f.rate = f64::NAN;
            for l in &f.path {
                self.unfrozen[l.0 as usize] += 1;
            }
        }
        let mut left = self.flows.len();
        while left > 0 {
            let (bottleneck, share) = (0..n_links)
                .filter(|&l| self.unfrozen[l] > 0)
                .map(|l| (l, self.residual[l] / f64::from(self.unfrozen[l])))
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .expect("an unfrozen flow crosses some link");
            for f in &mut self.flows {
                if !f.rate.is_nan() || !f.path.contains(&LinkId(bottleneck as u32)) {
                    continue;
                }
                f.rate = share;
                left -= 1;
                for l in &f.path {
                    let l = l.0 as usize;
                    self.residual[l] = (self.residual[l] - share).max(0.0);
                    self.unfrozen[l] -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::FairShareLink;
    use super::*;
    use proptest::prelude::*;

    fn run_all(net: &mut FlowNetwork) -> Vec<Delivered> {
        let mut done = Vec::new();
        net.advance_to(1e15, &mut done);
        done
    }

    /// One flow of B bytes on an idle path: latency plus B over the bottleneck. Path: GPU PCIe
    /// 50 B/ns (1,000 ns), NIC 48 B/ns, switch 100 B/ns (600 ns); 64 MiB: 67,108,864 / 48 =
    /// 1,398,101.33 ns sending, + 1,600 ns latency.
    #[test]
    fn a_send_end_late_in_the_run_is_reached_despite_rounding() {
        // Regression: at a clock of ~2.9e9 ns, rate x (end - now) fell short of the remaining
        // bytes by more than the tolerance and advance_to looped on the same send end.
        let mut net = FlowNetwork::new();
        let a = net.add_link("a", 24.778_730_797_970_03, 1_770.0);
        let b = net.add_link("b", 24.778_730_797_970_03, 0.0);
        let c = net.add_link("c", 24.778_730_797_970_03, 0.0);
        let mut done = Vec::new();
        let t0 = 2_861_228_769.0;
        net.start(t0, &[a, b], 1_146_880_000, 1, &mut done);
        net.start(t0, &[a, c], 1_146_880_001, 2, &mut done);
        let mut steps = 0;
        while let Some(t) = net.next_event_ns() {
            net.advance_to(t, &mut done);
            steps += 1;
            assert!(steps < 10, "stuck at {t}");
        }
        assert_eq!(done.len(), 2);
    }

    #[test]
    fn idle_path_closed_form() {
        let mut net = FlowNetwork::new();
        let pcie = net.add_link("pcie", 50.0, 1_000.0);
        let nic = net.add_link("nic", 48.0, 0.0);
        let sw = net.add_link("switch", 100.0, 600.0);
        let mut done = Vec::new();
        net.start(0.0, &[pcie, nic, sw], 64 << 20, 7, &mut done);
        assert!(done.is_empty());
        let send = 67_108_864.0 / 48.0;
        let expect = send + 1_600.0;
        assert!((net.next_event_ns().unwrap() - send).abs() < 1e-6);
        let done = run_all(&mut net);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].tag, 7);
        assert!((done[0].at_ns - expect).abs() < 1e-6);
        assert!((net.link_bytes(nic) - 67_108_864.0).abs() < 1e-3);
    }

    /// Two equal transfers sharing one link each take twice as long as one alone.
    #[test]
    fn two_equal_transfers_take_twice_as_long() {
        let mut net = FlowNetwork::new();
        let a = net.add_link("a", 10.0, 0.0);
        let mut done = Vec::new();
        net.start(0.0, &[a], 1_000, 1, &mut done);
        net.start(0.0, &[a], 1_000, 2, &mut done);
        let done = run_all(&mut net);
        assert_eq!(done.len(), 2);
        for d in &done {
            assert!((d.at_ns - 200.0).abs() < 1e-9, "{d:?}");
        }
    }

    /// Hand-worked max-min example (Bertsekas & Gallager's parking lot): links A, B of 1 B/ns;
    /// flow 0 crosses both, flow 1 only A, flow 2 only B: every flow gets 1/2. Add a link C
    /// of 3 B/ns with flows 3, 4 alone on it: 3/2 each; flow 5 on A and C: A becomes the
    /// bottleneck of 0, 1, 5 at 1/3; B then gives flow 2 the rest, 2/3; C's flows 3, 4 share
    /// 3 - 1/3 = 8/3, 4/3 each.
    #[test]
    fn hand_worked_max_min_rates() {
        let mut net = FlowNetwork::new();
        let a = net.add_link("a", 1.0, 0.0);
        let b = net.add_link("b", 1.0, 0.0);
        let c = net.add_link("c", 3.0, 0.0);
        let mut done = Vec::new();
        let big = 1 << 40;
        let f0 = net.start(0.0, &[a, b], big, 0, &mut done);
        let f1 = net.start(0.0, &[a], big, 1, &mut done);
        let f2 = net.start(0.0, &[b], big, 2, &mut done);
        for f in [f0, f1, f2] {
            assert!((net.rate(f).unwrap() - 0.5).abs() < 1e-12);
        }
        let f3 = net.start(0.0, &[c], big, 3, &mut done);
        let f4 = net.start(0.0, &[c], big, 4, &mut done);
        let f5 = net.start(0.0, &[a, c], big, 5, &mut done);
        let expect = [
            (f0, 1.0 / 3.0),
            (f1, 1.0 / 3.0),
            (f5, 1.0 / 3.0),
            (f2, 2.0 / 3.0),
            (f3, 4.0 / 3.0),
            (f4, 4.0 / 3.0),
        ];
        for (f, r) in expect {
            assert!((net.rate(f).unwrap() - r).abs() < 1e-12, "{f:?}");
        }
    }

    /// A late flow slows the first: 100 B on 1 B/ns alone for 50 ns, then half rate: 150 ns
    /// (as `FairShareLink`'s test), and the latency is added after the send end.
    #[test]
    fn latency_is_added_after_the_send_end() {
        let mut net = FlowNetwork::new();
        let a = net.add_link("a", 1.0, 10.0);
        let mut done = Vec::new();
        net.start(0.0, &[a], 100, 1, &mut done);
        net.start(50.0, &[a], 1_000, 2, &mut done);
        let first = net.next_event_ns().unwrap();
        assert!((first - 150.0).abs() < 1e-9, "send end of flow 1: {first}");
        net.advance_to(159.0, &mut done);
        assert!(done.is_empty());
        assert!((net.next_event_ns().unwrap() - 160.0).abs() < 1e-9);
        assert_eq!(net.sending(), 1, "flow 1 sent at 150 ns, still in flight");
        assert_eq!(net.active_on(a), 1);
        net.advance_to(160.0, &mut done);
        assert_eq!(done.len(), 1);
        assert!((done[0].sent_ns - 150.0).abs() < 1e-9);
    }

    #[test]
    fn empty_transfers_take_the_latency_alone() {
        let mut net = FlowNetwork::new();
        let a = net.add_link("a", 1.0, 25.0);
        let mut done = Vec::new();
        net.start(5.0, &[a], 0, 9, &mut done);
        net.start(5.0, &[], 1_000, 10, &mut done);
        let done = run_all(&mut net);
        let by_tag = |t| done.iter().find(|d| d.tag == t).unwrap().at_ns;
        assert_eq!(by_tag(9), 30.0);
        assert_eq!(by_tag(10), 5.0);
    }

    proptest! {
        /// The allocation is max-min fair by definition: feasible, and every flow crosses a
        /// saturated link on which no flow has a larger rate (its bottleneck).
        #[test]
        fn rates_are_max_min_fair(
            caps in prop::collection::vec(0.5f64..20.0, 1..6),
            paths in prop::collection::vec(prop::collection::btree_set(0..6usize, 1..4), 1..12),
        ) {
            let mut net = FlowNetwork::new();
            let links: Vec<LinkId> = caps.iter().map(|&c| net.add_link("l", c, 0.0)).collect();
            let mut done = Vec::new();
            let mut flows = Vec::new();
            for p in &paths {
                let path: Vec<LinkId> = p.iter().filter(|&&l| l < links.len()).map(|&l| links[l]).collect();
                if path.is_empty() { continue; }
                flows.push((net.start(0.0, &path, 1 << 40, 0, &mut done), path));
            }
            for (l, &c) in links.iter().zip(&caps) {
                let load: f64 = flows.iter().filter(|(_, p)| p.contains(l)).map(|(f, _)| net.rate(*f).unwrap()).sum();
                prop_assert!(load <= c * (1.0 + 1e-9), "link over capacity");
            }
            for (f, path) in &flows {
                let r = net.rate(*f).unwrap();
                prop_assert!(r > 0.0);
                let has_bottleneck = path.iter().any(|l| {
                    let on: Vec<f64> = flows.iter().filter(|(_, p)| p.contains(l)).map(|(g, _)| net.rate(*g).unwrap()).collect();
                    let load: f64 = on.iter().sum();
                    let saturated = (load - caps[l.0 as usize]).abs() <= 1e-9 * caps[l.0 as usize];
                    saturated && on.iter().all(|&x| x <= r * (1.0 + 1e-9))
                });
                prop_assert!(has_bottleneck, "flow {:?} has no bottleneck", f);
            }
        }

        /// On one link the network is the single-link fair-share model (`FairShareLink`, the
        /// virtual-time implementation checked against its own slow reference).
        #[test]
        fn one_link_matches_fair_share_link(arrivals in prop::collection::vec((0.0f64..1000.0, 1u64..5000), 1..30)) {
            let mut arrivals = arrivals;
            arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut link = FairShareLink::new(2.5);
            let mut net = FlowNetwork::new();
            let l = net.add_link("l", 2.5, 0.0);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (i, &(t, bytes)) in arrivals.iter().enumerate() {
                a.extend(link.add_flow(t, i as u64, bytes as f64));
                net.start(t, &[l], bytes, i as u64, &mut b);
            }
            a.extend(link.advance_to(1e12));
            net.advance_to(1e12, &mut b);
            prop_assert_eq!(a.len(), b.len());
            for d in &b {
                let s = a.iter().find(|c| c.flow == d.tag).unwrap().at_ns;
                prop_assert!((d.at_ns - s).abs() <= 1e-6 * s.max(1.0), "flow {} {} vs {}", d.tag, d.at_ns, s);
            }
        }

        /// Conservation: every byte is carried once on each link of its path, and no flow
        /// finishes before its idle-path time.
        #[test]
        fn bytes_are_conserved(flows in prop::collection::vec((0.0f64..500.0, 1u64..10_000, 0..3usize, 0..3usize), 1..25)) {
            let mut flows = flows;
            flows.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut net = FlowNetwork::new();
            let caps = [1.0, 3.0, 7.0];
            let lat = [5.0, 0.0, 11.0];
            let links: Vec<LinkId> = (0..3).map(|i| net.add_link("l", caps[i], lat[i])).collect();
            let mut done = Vec::new();
            let mut expect = [0u64; 3];
            let mut idle = Vec::new();
            for (i, &(t, bytes, x, y)) in flows.iter().enumerate() {
                let mut path = vec![links[x]];
                if y != x { path.push(links[y]); }
                for l in &path { expect[l.0 as usize] += bytes; }
                let bw = path.iter().map(|l| caps[l.0 as usize]).fold(f64::INFINITY, f64::min);
                let latency: f64 = path.iter().map(|l| lat[l.0 as usize]).sum();
                idle.push(t + bytes as f64 / bw + latency);
                net.start(t, &path, bytes, i as u64, &mut done);
            }
            net.advance_to(1e12, &mut done);
            prop_assert_eq!(done.len(), flows.len());
            for d in &done {
                prop_assert!(d.at_ns >= idle[d.tag as usize] * (1.0 - 1e-9));
            }
            let times: Vec<f64> = done.iter().map(|d| d.at_ns).collect();
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "deliveries in time order");
            for (l, &e) in links.iter().zip(&expect) {
                prop_assert!((net.link_bytes(*l) - e as f64).abs() <= 1e-6 * e as f64 + 1e-3);
            }
        }
    }
}
