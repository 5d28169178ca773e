//! [`NetworkModel`]: hosts with their resources, and the per-verb paths through them.

use std::collections::HashMap;

use super::profile::{NetworkProfile, TcpParams, Transport};
use super::qp_cache::QpCache;
use super::resource::{FifoServer, MultiServer, StreamShape, Train};
use super::tcp_noise::RxIrq;
use super::variability::{Noise, Stage};

/// A host (compute node, memory node) by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub u32);

/// A queue pair by number (unique per requester host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QpId(pub u32);

/// An RDMA verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// One-sided read of remote memory.
    Read,
    /// One-sided write to remote memory.
    Write,
    /// Two-sided send (the responder consumes a posted RECV).
    Send,
    /// 8-byte compare-and-swap.
    CompareSwap,
    /// 8-byte fetch-and-add.
    FetchAdd,
}

impl Verb {
    /// True for CAS and FAA.
    pub fn is_atomic(self) -> bool {
        matches!(self, Verb::CompareSwap | Verb::FetchAdd)
    }

    /// True for verbs whose data flows from requester to responder.
    pub fn carries_payload(self) -> bool {
        matches!(self, Verb::Write | Verb::Send)
    }
}

/// One work request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerbOp {
    /// The verb.
    pub verb: Verb,
    /// The host that posts it.
    pub requester: HostId,
    /// The host whose memory it touches.
    pub responder: HostId,
    /// The requester's QP.
    pub qp: QpId,
    /// Payload bytes (atomics: 8).
    pub bytes: u64,
    /// Ask for inline data (honoured for WRITE/SEND up to `nic.max_inline_bytes`).
    pub inline: bool,
    /// Remote address (atomics on one address serialise).
    pub remote_addr: u64,
    /// The target is the responder NIC's on-chip device memory (ConnectX-5+ `ibv_alloc_dm`), not
    /// host DRAM: atomics then skip the PCIe read-modify-write and take
    /// `nic.device_atomic_rmw_ns` (Sherman's lock table, DM_INDEX_MODELS.md §1).
    pub device_memory: bool,
}

impl VerbOp {
    /// A non-inline `verb` of `bytes` from `requester` to `responder` on QP 0, address 0.
    pub fn new(verb: Verb, requester: HostId, responder: HostId, bytes: u64) -> Self {
        VerbOp {
            verb,
            requester,
            responder,
            qp: QpId(0),
            bytes: if verb.is_atomic() { 8 } else { bytes },
            inline: false,
            remote_addr: 0,
            device_memory: false,
        }
    }
}

/// What the responder side produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Responded {
    /// WRITE/SEND (and TCP messages): when the responder's CPU sees the payload, ns.
    pub delivered_ns: Option<f64>,
    /// The response (READ data, atomic value, ACK) as it reaches the requester's side, ns.
    pub response: Train,
}

/// Timeline of one operation executed in one go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpTiming {
    /// When the posting CPU started the post call, ns.
    pub post_start_ns: f64,
    /// When the WR reached the NIC (after the doorbell), ns.
    pub at_nic_ns: f64,
    /// The request as it reaches the responder's side.
    pub at_responder: Train,
    /// WRITE/SEND: payload visible to the responder's CPU, ns.
    pub delivered_ns: Option<f64>,
    /// The completion seen by the requester's CPU, ns.
    pub completed_ns: f64,
}

impl OpTiming {
    /// Completion minus post start, ns.
    pub fn latency_ns(&self) -> f64 {
        self.completed_ns - self.post_start_ns
    }
}

#[derive(Clone, Debug)]
pub(super) struct HostState {
    /// CPU thread 0 (the posting thread of single-threaded callers such as perftest).
    pub(super) cpu: FifoServer,
    /// CPU threads 1, 2, ... (created on first use by the `*_on` methods).
    pub(super) threads: Vec<FifoServer>,
    pub(super) recv: FifoServer,
    pub(super) dma_read: FifoServer,
    pub(super) dma_write: FifoServer,
    pub(super) nic_units: MultiServer,
    pub(super) egress: FifoServer,
    pub(super) ingress: FifoServer,
    /// Bulk transfers (KV blocks) sending out of and into this host's port now: small
    /// messages get the fair share of the link beside them (`StreamShape::shared`).
    pub(super) bulk_egress: u32,
    pub(super) bulk_ingress: u32,
    /// Responder read engines by (requester host, requester QP).
    pub(super) read_engines: HashMap<(u32, u32), FifoServer>,
    pub(super) atomic_units: HashMap<u64, FifoServer>,
    pub(super) qp_cache: QpCache,
    /// Kernel TCP: the receive-interrupt moderation timer.
    pub(super) rx_irq: RxIrq,
}

impl HostState {
    /// Kernel TCP: how long a thread woken at `at_ns` waits for a core when all `cores` are busy
    /// with the host's other threads (`me` is the woken thread: 0 = `cpu`, k = `threads[k-1]`).
    fn run_queue_wait_ns(&self, at_ns: f64, me: usize, cores: u32, max_ns: f64) -> f64 {
        if cores == 0 {
            return 0.0;
        }
        let busy: Vec<f64> = std::iter::once(&self.cpu)
            .chain(&self.threads)
            .enumerate()
            .filter(|(k, c)| *k != me && c.free_at_ns() > at_ns)
            .map(|(_, c)| c.free_at_ns())
            .collect();
        if (busy.len() as u32) < cores {
            return 0.0;
        }
        let first = busy.iter().copied().fold(f64::INFINITY, f64::min);
        (first - at_ns).min(max_ns)
    }
}

/// The network: `hosts` identical hosts built from one profile, and the state of every shared
/// resource. See the module docs of [`crate::net`] for the call protocol.
#[derive(Clone, Debug)]
pub struct NetworkModel {
    pub(super) profile: NetworkProfile,
    pub(super) hosts: Vec<HostState>,
    pub(super) unit_service_ns: f64,
    pub(super) link_bpns: f64,
    pub(super) pcie_bpns: f64,
    /// Service-time variability (None: the closed form).
    pub(super) noise: Option<Noise>,
}

impl NetworkModel {
    /// A model of `hosts` idle hosts (the profile must be valid: see [`NetworkProfile::validate`]).
    pub fn new(profile: NetworkProfile, hosts: u32) -> Self {
        let host = HostState {
            cpu: FifoServer::default(),
            threads: Vec::new(),
            recv: FifoServer::default(),
            dma_read: FifoServer::default(),
            dma_write: FifoServer::default(),
            nic_units: MultiServer::new(profile.nic.processing_units),
            egress: FifoServer::default(),
            ingress: FifoServer::default(),
            bulk_egress: 0,
            bulk_ingress: 0,
            read_engines: HashMap::new(),
            atomic_units: HashMap::new(),
            qp_cache: QpCache::new(profile.nic.qp_cache_entries),
            rx_irq: RxIrq::default(),
        };
        NetworkModel {
            unit_service_ns: profile.unit_service_ns(),
            link_bpns: profile.link_bytes_per_ns(),
            pcie_bpns: profile.pcie_bytes_per_ns(),
            hosts: vec![host; hosts as usize],
            profile,
            noise: None,
        }
    }

    /// As [`new`](Self::new), with the profile's service-time variability (`jitter`) drawn from
    /// `rng`, a named stream of the run. A profile with `jitter: none` draws nothing.
    pub fn seeded(profile: NetworkProfile, hosts: u32, rng: rand_pcg::Pcg64) -> Self {
        let noise = profile.jitter.stages().map(|j| Noise::new(j, rng));
        let mut m = Self::new(profile, hosts);
        m.noise = noise;
        m
    }

    /// One traversal of `stage`'s variability, ns (0 without jitter).
    fn draw(&mut self, stage: Stage) -> f64 {
        self.noise.as_mut().map_or(0.0, |n| n.draw(stage))
    }

    /// One-way propagation and switch latency with each hop's variability, ns.
    fn path_delay_ns(&mut self) -> f64 {
        let mut d = self.one_way_delay_ns();
        for _ in 0..self.profile.switch.hops {
            d += self.draw(Stage::Switch);
        }
        d
    }

    /// Returns every resource to idle (keeps the profile and the allocations).
    pub fn reset(&mut self) {
        let units = self.profile.nic.processing_units;
        let cache = self.profile.nic.qp_cache_entries;
        for h in &mut self.hosts {
            h.cpu = FifoServer::default();
            h.threads.clear();
            h.recv = FifoServer::default();
            h.dma_read = FifoServer::default();
            h.dma_write = FifoServer::default();
            h.nic_units = MultiServer::new(units);
            h.egress = FifoServer::default();
            h.ingress = FifoServer::default();
            h.bulk_egress = 0;
            h.bulk_ingress = 0;
            h.read_engines.clear();
            h.atomic_units.clear();
            h.qp_cache = QpCache::new(cache);
            h.rx_irq = RxIrq::default();
        }
    }

    /// Declares that `egress` bulk transfers send out of `host`'s port and `ingress` into it
    /// from now on (a fabric of [`super::FlowNetwork`] flows tells the metadata path what
    /// shares its NIC). Every message's serialisation on that port then takes `n + 1` times
    /// as long (its fair share of the link, [`super::StreamShape::shared`]); queueing behind
    /// the bulk data is not added, since fair arbitration interleaves packets rather than
    /// serving whole transfers first.
    pub fn set_bulk_flows(&mut self, host: HostId, egress: u32, ingress: u32) {
        let h = &mut self.hosts[host.0 as usize];
        h.bulk_egress = egress;
        h.bulk_ingress = ingress;
    }

    /// The profile the model was built from.
    pub fn profile(&self) -> &NetworkProfile {
        &self.profile
    }

    /// Number of hosts.
    pub fn hosts(&self) -> u32 {
        self.hosts.len() as u32
    }

    /// True if `op` is sent inline.
    pub fn is_inline(&self, op: &VerbOp) -> bool {
        op.inline
            && op.verb.carries_payload()
            && op.bytes <= self.profile.nic.max_inline_bytes
            && !matches!(self.profile.transport, Transport::TcpKernel(_))
    }

    pub(super) fn tcp(&self) -> Option<&TcpParams> {
        match &self.profile.transport {
            Transport::TcpKernel(t) => Some(t),
            _ => None,
        }
    }

    pub(super) fn wire(&self, payload: u64) -> StreamShape {
        StreamShape::packets(
            payload,
            self.profile.nic.mtu_bytes,
            self.profile.link.header_bytes_per_packet,
            self.link_bpns,
        )
    }

    pub(super) fn pcie(&self, payload: u64) -> StreamShape {
        StreamShape::packets(payload, self.profile.nic.mtu_bytes, 0.0, self.pcie_bpns)
    }

    pub(super) fn one_way_delay_ns(&self) -> f64 {
        let hops = f64::from(self.profile.switch.hops);
        (hops + 1.0) * self.profile.link.propagation_ns + hops * self.profile.switch.hop_latency_ns
    }

    pub(super) fn request_payload(op: &VerbOp) -> u64 {
        if op.verb.carries_payload() {
            op.bytes
        } else {
            0
        }
    }

    pub(super) fn response_payload(op: &VerbOp) -> u64 {
        match op.verb {
            Verb::Read => op.bytes,
            Verb::CompareSwap | Verb::FetchAdd => 8,
            Verb::Write | Verb::Send => 0,
        }
    }

    /// CPU occupancy of one post call carrying `wrs` (doorbell batching: one call, one doorbell).
    pub fn post_cost_ns(&self, wrs: &[VerbOp]) -> f64 {
        if let Some(t) = self.tcp() {
            return wrs
                .iter()
                .map(|op| t.stack_ns + t.copy_ns_per_byte * Self::request_payload(op) as f64)
                .sum::<f64>()
                + t.syscall_ns;
        }
        let h = &self.profile.host;
        let inline_bytes: u64 = wrs
            .iter()
            .filter(|op| self.is_inline(op))
            .map(|op| op.bytes)
            .sum();
        h.post_ns
            + h.wqe_ns * wrs.len().saturating_sub(1) as f64
            + h.inline_ns_per_byte * inline_bytes as f64
    }

    /// The posting thread of `host` posts `wrs` in one call at `now_ns` (it waits if still busy);
    /// returns when the WRs reach the NIC (after the doorbell MMIO).
    pub fn post(&mut self, now_ns: f64, host: HostId, wrs: &[VerbOp]) -> f64 {
        self.post_on(now_ns, host, 0, wrs)
    }

    /// As [`post`](Self::post), by CPU thread `thread` of `host` (each thread is its own FIFO
    /// server: threads of one host post in parallel and share the host's NIC).
    pub fn post_on(&mut self, now_ns: f64, host: HostId, thread: u32, wrs: &[VerbOp]) -> f64 {
        let cost = self.post_cost_ns(wrs);
        if self.tcp().is_some() {
            let start = self.cpu_mut(host, thread).serve(now_ns, cost);
            return start + cost + self.profile.pcie.latency_ns;
        }
        // An interruption of the posting thread holds its CPU; the doorbell crosses PCIe.
        let held = cost + self.draw(Stage::Host);
        let doorbell = self.profile.pcie.latency_ns + self.draw(Stage::Pcie);
        let start = self.cpu_mut(host, thread).serve(now_ns, cost.max(held));
        start + held + doorbell
    }

    /// CPU thread `thread` of `host` (0 is the thread [`post`](Self::post) uses).
    pub(super) fn cpu_mut(&mut self, host: HostId, thread: u32) -> &mut FifoServer {
        let h = &mut self.hosts[host.0 as usize];
        if thread == 0 {
            return &mut h.cpu;
        }
        let k = thread as usize;
        if h.threads.len() < k {
            h.threads.resize(k, FifoServer::default());
        }
        &mut h.threads[k - 1]
    }

    /// Requester side: NIC processing (QP-context cache), payload DMA read, transmission and
    /// propagation. Returns the request as it reaches the responder's side.
    pub fn request(&mut self, at_nic_ns: f64, op: &VerbOp) -> Train {
        let inline = self.is_inline(op);
        let wire = self.wire(Self::request_payload(op));
        let pcie = self.pcie(op.bytes);
        let nic_jit = self.draw(Stage::Nic);
        let dma_jit = if op.verb.carries_payload() && !inline && op.bytes > 0 {
            self.draw(Stage::Pcie)
        } else {
            0.0
        };
        let delay = self.path_delay_ns();
        let (svc, nic_lat, miss_ns, pcie_lat) = (
            self.unit_service_ns,
            self.profile.nic.latency_ns + nic_jit,
            self.profile.nic.qp_miss_ns,
            self.profile.pcie.latency_ns,
        );
        let h = &mut self.hosts[op.requester.0 as usize];
        let miss = if h.qp_cache.touch(op.qp.0) {
            0.0
        } else {
            miss_ns
        };
        let start = h.nic_units.serve(at_nic_ns, svc + miss);
        let mut t = Train::at(start + nic_lat + miss);
        if op.verb.carries_payload() && !inline && op.bytes > 0 {
            t = h.dma_read.stream(t.delayed(2.0 * pcie_lat + dma_jit), pcie);
        }
        h.egress
            .stream(t, wire.shared(h.bulk_egress))
            .delayed(delay)
    }

    /// Responder side: switch port, NIC processing, then per verb: DMA write (WRITE), RECV
    /// consumption + DMA write (SEND), read engine + DMA read (READ), atomic unit (CAS/FAA);
    /// then the response or ACK back to the requester's side.
    pub fn respond(&mut self, arriving: Train, op: &VerbOp) -> Responded {
        if self.tcp().is_some() {
            return self.respond_tcp(arriving, op);
        }
        let p = &self.profile;
        let hops = p.switch.hops;
        let req_wire = self.wire(Self::request_payload(op));
        let resp_bytes = Self::response_payload(op);
        let resp_wire = self.wire(resp_bytes);
        let pcie_in = self.pcie(op.bytes);
        let pcie_out = self.pcie(resp_bytes);
        let svc = self.unit_service_ns;
        let (nic_lat, pcie_lat, poll) = (p.nic.latency_ns, p.pcie.latency_ns, p.host.poll_ns);
        // Variability of this side's stages, drawn in a fixed order.
        let nic_in = nic_lat + self.draw(Stage::Nic);
        let (nic_out, pcie_j, host_j) = if op.verb.carries_payload() {
            (nic_lat, self.draw(Stage::Pcie), self.draw(Stage::Host))
        } else {
            (nic_lat + self.draw(Stage::Nic), self.draw(Stage::Pcie), 0.0)
        };
        let recv_j = if op.verb == Verb::Send {
            self.draw(Stage::Recv)
        } else {
            0.0
        };
        let delay = self.path_delay_ns();
        let p = &self.profile;
        let (recv_wqe, repost) = (p.nic.recv_wqe_ns, p.host.recv_repost_ns);
        let read_engine_ns = p.nic.read_responder_ns + op.bytes as f64 / self.pcie_bpns;
        let (read_resp, atomic_lat, atomic_rmw, device_rmw) = (
            p.nic.read_responder_ns,
            p.nic.atomic_latency_ns,
            p.nic.atomic_rmw_ns,
            p.nic.device_atomic_rmw_ns,
        );
        let s = &mut self.hosts[op.responder.0 as usize];
        let mut t = arriving;
        if hops > 0 {
            t = s.ingress.stream(t, req_wire.shared(s.bulk_ingress));
        }
        let start = s.nic_units.serve(t.head_ns, svc);
        t = t.shifted_to(start + nic_in);
        match op.verb {
            Verb::Write | Verb::Send => {
                let ack_at = t.tail_ns;
                if op.verb == Verb::Send {
                    t = t.delayed(recv_wqe + recv_j);
                    let ready = s.recv.serve(t.head_ns, repost);
                    t = t.shifted_to(ready);
                }
                if op.bytes > 0 {
                    t = s.dma_write.stream(t, pcie_in);
                }
                let delivered = t.tail_ns + pcie_lat + pcie_j + poll + host_j;
                let ack = s
                    .egress
                    .stream(Train::at(ack_at), resp_wire.shared(s.bulk_egress))
                    .delayed(delay);
                Responded {
                    delivered_ns: Some(delivered),
                    response: ack,
                }
            }
            Verb::Read | Verb::CompareSwap | Verb::FetchAdd => {
                let engine = s.read_engines.entry((op.requester.0, op.qp.0)).or_default();
                let start = engine.serve(t.head_ns, read_engine_ns);
                let mut head = start + read_resp;
                if op.verb.is_atomic() && op.device_memory {
                    // On-chip memory: no PCIe read-modify-write, no host-memory round trip.
                    let unit = s.atomic_units.entry(op.remote_addr).or_default();
                    head = unit.serve(head, device_rmw) + device_rmw;
                    let r = Train::at(head).delayed(nic_out);
                    let resp = s
                        .egress
                        .stream(r, resp_wire.shared(s.bulk_egress))
                        .delayed(delay);
                    return Responded {
                        delivered_ns: None,
                        response: resp,
                    };
                }
                if op.verb.is_atomic() {
                    let unit = s.atomic_units.entry(op.remote_addr).or_default();
                    head = unit.serve(head, atomic_rmw) + atomic_lat;
                }
                let mut r = Train::at(head + 2.0 * pcie_lat + pcie_j);
                r = s.dma_read.stream(r, pcie_out).delayed(nic_out);
                let resp = s
                    .egress
                    .stream(r, resp_wire.shared(s.bulk_egress))
                    .delayed(delay);
                Responded {
                    delivered_ns: None,
                    response: resp,
                }
            }
        }
    }

    /// Requester side again: the response enters, READ data is written to memory, the CQE is
    /// written and polled. Returns when the requester's CPU sees the completion, ns.
    pub fn complete(&mut self, response: Train, op: &VerbOp) -> f64 {
        self.complete_on(response, op, 0)
    }

    /// As [`complete`](Self::complete), seen by CPU thread `thread` of the requester (with
    /// kernel TCP that thread pays the receive path).
    pub fn complete_on(&mut self, response: Train, op: &VerbOp, thread: u32) -> f64 {
        if self.tcp().is_some() {
            return self.complete_tcp(response, op, thread);
        }
        let resp_bytes = Self::response_payload(op);
        let resp_wire = self.wire(resp_bytes);
        let pcie_out = self.pcie(resp_bytes);
        let (nic_j, pcie_j, host_j) = (
            self.draw(Stage::Nic),
            self.draw(Stage::Pcie),
            self.draw(Stage::Host),
        );
        let p = &self.profile;
        let (hops, nic_lat, pcie_lat, poll) = (
            p.switch.hops,
            p.nic.latency_ns + nic_j,
            p.pcie.latency_ns + pcie_j,
            p.host.poll_ns + host_j,
        );
        let h = &mut self.hosts[op.requester.0 as usize];
        let mut t = response;
        if hops > 0 {
            t = h.ingress.stream(t, resp_wire.shared(h.bulk_ingress));
        }
        t = t.delayed(nic_lat);
        if resp_bytes > 0 {
            t = h.dma_write.stream(t, pcie_out);
        }
        t.tail_ns + pcie_lat + poll
    }

    /// Posts one WR and runs it through all its stages at once, reserving resources in call
    /// order. Exact when calls come in time order and the WR meets no other traffic in a
    /// different order; event-driven callers use [`post`](Self::post), [`request`](Self::request),
    /// [`respond`](Self::respond) and [`complete`](Self::complete) from their own events instead.
    pub fn execute(&mut self, now_ns: f64, op: &VerbOp) -> OpTiming {
        let post_start = now_ns.max(self.hosts[op.requester.0 as usize].cpu.free_at_ns());
        let at_nic = self.post(now_ns, op.requester, std::slice::from_ref(op));
        let at_responder = self.request(at_nic, op);
        let r = self.respond(at_responder, op);
        let completed = self.complete(r.response, op);
        OpTiming {
            post_start_ns: post_start,
            at_nic_ns: at_nic,
            at_responder,
            delivered_ns: r.delivered_ns,
            completed_ns: completed,
        }
    }

    /// Loads `qp`'s context into `host`'s QP cache (connection set-up touches it).
    pub fn warm_qp(&mut self, host: HostId, qp: QpId) {
        self.hosts[host.0 as usize].qp_cache.touch(qp.0);
    }

    /// Timeline of `op` alone on an idle two-host network with its QP cached (the closed form).
    pub fn idle_timing(profile: &NetworkProfile, op: &VerbOp) -> OpTiming {
        let hosts = op.requester.0.max(op.responder.0) + 1;
        let mut m = NetworkModel::new(profile.clone(), hosts);
        m.warm_qp(op.requester, op.qp);
        m.execute(0.0, op)
    }

    fn respond_tcp(&mut self, arriving: Train, op: &VerbOp) -> Responded {
        let t_p = self.tcp().cloned().expect("tcp transport");
        let p = &self.profile;
        let hops = p.switch.hops;
        let req = Self::request_payload(op);
        let resp = Self::response_payload(op);
        let (req_wire, resp_wire) = (self.wire(req), self.wire(resp));
        let (pcie_in, pcie_out) = (self.pcie(req), self.pcie(resp));
        let delay = self.one_way_delay_ns();
        let svc = self.unit_service_ns;
        let (nic_lat, pcie_lat) = (p.nic.latency_ns, p.pcie.latency_ns);
        let req_packets = self.packets(req);
        let s = &mut self.hosts[op.responder.0 as usize];
        let mut t = arriving;
        if hops > 0 {
            t = s.ingress.stream(t, req_wire.shared(s.bulk_ingress));
        }
        let start = s.nic_units.serve(t.head_ns, svc);
        t = s.dma_write.stream(t.shifted_to(start + nic_lat), pcie_in);
        // Interrupt (moderation), softirq, wake-up (scheduler, idle-state exit, run queue), then
        // the receiving thread runs the stack, recv syscall and copy.
        let wake = Self::tcp_wake(s, &t_p, t.tail_ns + pcie_lat, req_packets, 0);
        let rx_cost = t_p.stack_ns + t_p.syscall_ns + t_p.copy_ns_per_byte * req as f64;
        let rx_start = s.cpu.serve(wake, rx_cost);
        let delivered = rx_start + rx_cost;
        // The reply: send syscall + stack + copy, NIC, DMA read, wire.
        let tx_cost = t_p.syscall_ns + t_p.stack_ns + t_p.copy_ns_per_byte * resp as f64;
        let tx_start = s.cpu.serve(delivered, tx_cost);
        let nic_start = s.nic_units.serve(tx_start + tx_cost + pcie_lat, svc);
        let mut r = Train::at(nic_start + nic_lat + 2.0 * pcie_lat);
        r = s.dma_read.stream(r, pcie_out);
        let response = s
            .egress
            .stream(r, resp_wire.shared(s.bulk_egress))
            .delayed(delay);
        Responded {
            delivered_ns: Some(delivered),
            response,
        }
    }

    fn complete_tcp(&mut self, response: Train, op: &VerbOp, thread: u32) -> f64 {
        let t_p = self.tcp().cloned().expect("tcp transport");
        let p = &self.profile;
        let resp = Self::response_payload(op);
        let (resp_wire, pcie_out) = (self.wire(resp), self.pcie(resp));
        let (hops, nic_lat, pcie_lat) = (p.switch.hops, p.nic.latency_ns, p.pcie.latency_ns);
        let svc = self.unit_service_ns;
        let packets = self.packets(resp);
        // The thread's CPU exists before the host is borrowed.
        self.cpu_mut(op.requester, thread);
        let h = &mut self.hosts[op.requester.0 as usize];
        let mut t = response;
        if hops > 0 {
            t = h.ingress.stream(t, resp_wire.shared(h.bulk_ingress));
        }
        let start = h.nic_units.serve(t.head_ns, svc);
        t = h.dma_write.stream(t.shifted_to(start + nic_lat), pcie_out);
        let cost = t_p.stack_ns + t_p.syscall_ns + t_p.copy_ns_per_byte * resp as f64;
        let ready = Self::tcp_wake(h, &t_p, t.tail_ns + pcie_lat, packets, thread as usize);
        let s = self.cpu_mut(op.requester, thread).serve(ready, cost);
        s + cost
    }

    /// Packets of a `bytes` message (at least one).
    pub(super) fn packets(&self, bytes: u64) -> f64 {
        bytes.div_ceil(self.profile.nic.mtu_bytes).max(1) as f64
    }

    /// Kernel TCP receive on `host`: the message is in memory at `arrival_ns`; returns when
    /// thread `me` (0 = `cpu`) runs again to receive it. Interrupt moderation, softirq per
    /// packet on the core, scheduler wake-up, the exit of the idle state the core reached, and
    /// the run-queue wait (see [`super::tcp_noise`]). With the noise off: `arrival + wakeup_ns`.
    pub(super) fn tcp_wake(
        host: &mut HostState,
        t_p: &TcpParams,
        arrival_ns: f64,
        packets: f64,
        me: usize,
    ) -> f64 {
        let os = &t_p.os_noise;
        let irq = host.rx_irq.interrupt_at(&os.moderation, arrival_ns);
        let core = if me == 0 {
            &mut host.cpu
        } else {
            &mut host.threads[me - 1]
        };
        let idle = (irq - core.free_at_ns()).max(0.0);
        let exit = os.wake_exit_ns(idle);
        let soft = os.softirq_ns_per_packet * packets;
        let mut ready = irq + exit;
        if soft > 0.0 {
            // NAPI runs on the woken core once it is out of its idle state.
            ready = core.serve(ready, soft) + soft;
        }
        ready += t_p.wakeup_ns;
        ready + host.run_queue_wait_ns(ready, me, os.cores, os.run_queue_max_wait_ns)
    }
}
