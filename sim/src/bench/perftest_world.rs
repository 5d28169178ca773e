//! The perftest experiment replayed on the modelled network, event by event.
//!
//! Two hosts (0 = client/requester, 1 = server), one link. The client posts WRs through the
//! [`NetworkModel`]'s stages; each hand-over between hosts is an event, so requests meet the
//! server's shared resources in arrival order and queueing emerges from the resources:
//!
//! ```text
//!  latency, READ/atomic:  post ─▶ RequestArrived ─▶ ResponseArrived ─▶ Completed ─▶ post ...
//!  latency, WRITE/SEND:   post ─▶ RequestArrived ─▶ Delivered(server) ─▶ server posts ─▶
//!                         RequestArrived ─▶ Delivered(client) ─▶ post ...      (ping-pong)
//!  bandwidth:             post while in flight < tx depth (post lists of `post_list`, one
//!                         signalled WR every `cq_mod`); READ/atomic wait for one of the
//!                         `outstanding_reads` slots of their QP; a CQE lets the client post more.
//! ```
//!
//! Recorded like perftest: the post time of every WR and the completion time of every WR
//! (all WRs covered by a CQE complete when it is polled).

use kvcsim_models::net::{HostId, NetworkModel, NetworkProfile, QpId, Train, VerbOp};
use kvcsim_models::perftest::{Measure, RunSettings};

use crate::engine::{Engine, RandomStreams, SimTime};

/// Events of the experiment (past-tense facts).
#[derive(Clone, Copy, Debug)]
enum RdmaEvent {
    /// The request of WR `wr` reached the responder's side.
    RequestArrived { wr: u32 },
    /// The response/ACK of WR `wr` reached the requester's side.
    ResponseArrived { wr: u32 },
    /// The CQE of signalled WR `wr` was polled by the client.
    CompletionPolled { wr: u32 },
    /// Ping-pong: the payload of WR `wr` became visible to its responder's CPU.
    PayloadDelivered { wr: u32 },
}

#[derive(Clone, Copy, Debug)]
struct WrState {
    op: VerbOp,
    index: u64,
    at_nic_ns: f64,
    train: Train,
    signalled: bool,
}

/// Post and completion times of every WR of one size, ns.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Post time (start of the post call) of each client WR, in order.
    pub posted_ns: Vec<f64>,
    /// Completion time of each client WR (BW tests only).
    pub completed_ns: Vec<f64>,
    /// Events handled.
    pub events: u64,
}

struct World {
    net: NetworkModel,
    s: RunSettings,
    bytes: u64,
    wrs: Vec<WrState>,
    trace: Trace,
    posted: u64,
    completed: u64,
    reads_in_flight: Vec<u32>,
    waiting: Vec<std::collections::VecDeque<u32>>,
}

impl World {
    fn is_read_like(&self) -> bool {
        !self.s.verb().carries_payload()
    }

    fn new_wr(&mut self, op: VerbOp, at_nic_ns: f64, signalled: bool) -> u32 {
        self.wrs.push(WrState {
            op,
            index: self.posted.saturating_sub(1),
            at_nic_ns,
            train: Train::at(at_nic_ns),
            signalled,
        });
        (self.wrs.len() - 1) as u32
    }

    /// The requester NIC starts WR `wr` at `ready_ns` and the request goes on the wire.
    fn issue(&mut self, eng: &mut Engine<RdmaEvent>, wr: u32, ready_ns: f64) {
        let op = self.wrs[wr as usize].op;
        let t = self.net.request(ready_ns, &op);
        self.wrs[wr as usize].train = t;
        eng.schedule_at(at(t.head_ns), RdmaEvent::RequestArrived { wr });
    }

    /// Latency tests: the client posts iteration `posted` at `now_ns`.
    fn post_latency(&mut self, eng: &mut Engine<RdmaEvent>, now_ns: f64) {
        let op = self.s.op(self.bytes, 0);
        let start = now_ns;
        let at_nic = self.net.post(now_ns, HostId(0), std::slice::from_ref(&op));
        self.trace.posted_ns.push(start);
        self.posted += 1;
        let wr = self.new_wr(op, at_nic, true);
        self.issue(eng, wr, at_nic);
    }

    /// BW tests: post as many post lists as the TX window allows, from `now_ns`.
    fn post_window(&mut self, eng: &mut Engine<RdmaEvent>, now_ns: f64) {
        let iters = self.s.iterations;
        let depth = self.s.tx_depth * self.s.qps;
        let list = self.s.post_list;
        let mut now = now_ns;
        while self.posted < iters
            && self.posted - self.completed + list.min(iters - self.posted) <= depth
        {
            let n = list.min(iters - self.posted);
            let ops: Vec<VerbOp> = (0..n)
                .map(|k| {
                    self.s
                        .op(self.bytes, ((self.posted + k) % self.s.qps) as u32)
                })
                .collect();
            let cost = self.net.post_cost_ns(&ops);
            let at_nic = self.net.post(now, HostId(0), &ops);
            let start = at_nic - cost - self.net.profile().pcie.latency_ns;
            for op in ops {
                let k = self.posted;
                self.posted += 1;
                let signalled = (k + 1).is_multiple_of(self.s.cq_mod) || self.posted == iters;
                self.trace.posted_ns.push(start);
                let wr = self.new_wr(op, at_nic, signalled);
                if self.is_read_like() {
                    let qp = op.qp.0 as usize;
                    if self.reads_in_flight[qp] < self.s.outstanding_reads as u32 {
                        self.reads_in_flight[qp] += 1;
                        self.issue(eng, wr, at_nic);
                    } else {
                        self.waiting[qp].push_back(wr);
                    }
                } else {
                    self.issue(eng, wr, at_nic);
                }
            }
            now = start;
        }
    }

    fn handle(&mut self, eng: &mut Engine<RdmaEvent>, ev: RdmaEvent) {
        let lat = self.s.test.measure == Measure::Latency;
        match ev {
            RdmaEvent::RequestArrived { wr } => {
                let st = self.wrs[wr as usize];
                let r = self.net.respond(st.train, &st.op);
                if lat && st.op.verb.carries_payload() {
                    let d = r.delivered_ns.expect("WRITE/SEND deliver");
                    eng.schedule_at(at(d), RdmaEvent::PayloadDelivered { wr });
                } else {
                    self.wrs[wr as usize].train = r.response;
                    eng.schedule_at(at(r.response.head_ns), RdmaEvent::ResponseArrived { wr });
                }
            }
            RdmaEvent::ResponseArrived { wr } => {
                let st = self.wrs[wr as usize];
                let done = self.net.complete(st.train, &st.op);
                if self.is_read_like() && !lat {
                    let qp = st.op.qp.0 as usize;
                    if let Some(next) = self.waiting[qp].pop_front() {
                        let ready = self.wrs[next as usize].at_nic_ns.max(st.train.head_ns);
                        self.issue(eng, next, ready);
                    } else {
                        self.reads_in_flight[qp] -= 1;
                    }
                }
                if st.signalled {
                    eng.schedule_at(at(done), RdmaEvent::CompletionPolled { wr });
                }
            }
            RdmaEvent::CompletionPolled { wr } => {
                let now = eng.now().as_nanos() as f64;
                if lat {
                    if self.posted < self.s.iterations {
                        self.post_latency(eng, now);
                    }
                    return;
                }
                // One CQE covers every WR since the previous one (RC completes in order).
                let upto = self.wrs[wr as usize].index + 1;
                for _ in self.completed..upto {
                    self.trace.completed_ns.push(now);
                }
                self.completed = upto;
                self.post_window(eng, now);
            }
            RdmaEvent::PayloadDelivered { wr } => {
                let now = eng.now().as_nanos() as f64;
                let st = self.wrs[wr as usize];
                if st.op.requester == HostId(0) {
                    // The server saw the ping: it posts the pong.
                    let mut op = st.op;
                    op.requester = HostId(1);
                    op.responder = HostId(0);
                    let at_nic = self.net.post(now, HostId(1), std::slice::from_ref(&op));
                    let pong = self.new_wr(op, at_nic, true);
                    self.issue(eng, pong, at_nic);
                } else if self.posted < self.s.iterations {
                    self.post_latency(eng, now);
                }
            }
        }
    }
}

fn at(ns: f64) -> SimTime {
    SimTime(ns.ceil().max(0.0) as u64)
}

/// Runs one perftest experiment of `bytes` with settings `s` on `profile`; `seed` drives the
/// network's variability stream (`rdma_bench/net`) if the profile has `jitter`.
pub fn run(profile: &NetworkProfile, s: &RunSettings, bytes: u64, seed: u64) -> Trace {
    let rng = RandomStreams::new(seed).stream("rdma_bench/net");
    let mut net = NetworkModel::seeded(profile.clone(), 2, rng);
    let warm = s.qps.min(u64::from(profile.nic.qp_cache_entries));
    for q in 0..warm {
        net.warm_qp(HostId(0), QpId(q as u32));
        net.warm_qp(HostId(1), QpId(q as u32));
    }
    let mut w = World {
        net,
        s: *s,
        bytes,
        wrs: Vec::with_capacity(s.iterations as usize * 2),
        trace: Trace::default(),
        posted: 0,
        completed: 0,
        reads_in_flight: vec![0; s.qps as usize],
        waiting: vec![Default::default(); s.qps as usize],
    };
    let mut eng: Engine<RdmaEvent> = Engine::new();
    if s.test.measure == Measure::Latency {
        w.post_latency(&mut eng, 0.0);
    } else {
        w.post_window(&mut eng, 0.0);
    }
    let n = eng.run_until(SimTime::MAX, &mut w, |w, eng, ev| w.handle(eng, ev));
    w.trace.events = n;
    w.trace
}
