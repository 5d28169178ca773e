//! Network and RDMA verbs model: hosts, PCIe, RNICs, links and switches, calibrated from perftest.
//!
//! ```text
//!  requester host                                              responder host
//!  CPU ──post──▶ PCIe ──doorbell──▶ RNIC ─DMA rd─▶ port ══link══▶ [switch] ══▶ port ─▶ RNIC ─▶ PCIe ─▶ memory
//!  (post_ns,     (latency_ns,       (units, QP     (bw, headers,   (hop_latency)     (recv WQE, read engine,
//!   inline)       bw)                cache, MTU)    propagation)                       atomic unit per address)
//!  CPU ◀─poll── CQE ◀─PCIe─ RNIC ◀══════════════ response / ACK ◀════════════════════════╯
//! ```
//!
//! Every stage is either a pure delay (propagation, PCIe latency, NIC pipeline latency) or a
//! shared resource with a next-free time ([`FifoServer`], [`MultiServer`]); byte-proportional
//! stages (PCIe DMA, link, switch port) stream a packet [`Train`] with per-packet cut-through, so
//! one formula gives both the sub-MTU (store-and-forward of one packet through every stage) and
//! the above-MTU regime (pipelined packets, the slowest stage sets the slope). Contention emerges
//! from queueing at the shared resources: NIC processing units (the message-rate ceiling), the
//! QP-context cache ([`QpCache`]), per-QP responder read engines, per-address atomic units, DMA
//! engines, ports. Large concurrent transfers share a link fairly in [`FairShareLink`].
//!
//! # API for the metadata-service and KV-transfer models
//!
//! [`NetworkModel`] is pure: it holds resource state and answers "when". Times are `f64`
//! nanoseconds inside the model; callers round once when they schedule an event.
//!
//! * One-shot: [`NetworkModel::execute`]`(now, &op)` posts a [`VerbOp`] (READ, WRITE, SEND, CAS,
//!   FAA between two [`HostId`]s) and returns its [`OpTiming`]: when the payload is visible at
//!   the responder and when the requester sees the completion. Resources are reserved in call
//!   order, so call it in time order.
//! * Event-driven (exact ordering at the responder): [`NetworkModel::post`] (CPU + doorbell;
//!   doorbell batching with a post list), [`NetworkModel::request`] (requester NIC and wire) →
//!   schedule an event at the returned train's head → [`NetworkModel::respond`] (responder
//!   resources, response) → event → [`NetworkModel::complete`] (CQE polled). Multi-threaded
//!   clients use [`NetworkModel::post_on`] / [`NetworkModel::complete_on`] (one CPU per thread).
//! * Two-sided messages (RPCs): [`NetworkModel::send_message`] → event →
//!   [`NetworkModel::receive_message`]; server CPU work with [`NetworkModel::cpu_work`].
//! * Bulk transfers: one [`FairShareLink`] per bottleneck link; `add_flow`, `next_completion`,
//!   `advance_to`. Over paths of several links, [`FlowNetwork`] (max-min fair rates by
//!   progressive filling; `start`, `next_event_ns`, `advance_to`).
//!
//! ```
//! use kvcsim_models::net::{HostId, NetworkModel, NetworkProfile, QpId, Verb, VerbOp};
//! let mut net = NetworkModel::new(NetworkProfile::default(), 2);
//! net.warm_qp(HostId(0), QpId(0)); // connection set-up loads the QP context
//! let read = VerbOp::new(Verb::Read, HostId(0), HostId(1), 64);
//! let a = net.execute(0.0, &read);
//! let b = net.execute(0.0, &read); // same instant: queues behind the first on the CPU
//! assert!(b.completed_ns > a.completed_ns);
//! assert_eq!(a.latency_ns(), NetworkModel::idle_timing(net.profile(), &read).latency_ns());
//! ```
//!
//! Transports are profiles ([`Transport`]): InfiniBand, RoCE and EFA/SRD share the verbs paths
//! with their own constants; kernel TCP replaces them with per-message syscall, stack, copy
//! and wake-up costs on both ends (for Redis-style RPC backends).

#![warn(missing_docs)]

mod fabric;
mod flow_network;
mod fluid;
mod message;
mod model;
mod named;
mod profile;
mod qp_cache;
mod resource;
mod tcp_noise;
mod variability;

pub use fabric::{Fabric, FabricConfig, NicPlacement, PathParams};
pub use flow_network::{Delivered, FlowNetwork, LinkId, NetFlowId};
pub use fluid::{FairShareLink, FlowCompleted, FlowId};
pub use model::{HostId, NetworkModel, OpTiming, QpId, Responded, Verb, VerbOp};
pub use named::{builtin_network_names, load_network};
pub use profile::{
    HostParams, Jitter, LinkParams, NetworkProfile, NicParams, PcieParams, SwitchParams, TcpParams,
    Transport,
};
pub use qp_cache::QpCache;
pub use resource::{FifoServer, MultiServer, StreamShape, Train};
pub use tcp_noise::{CState, InterruptModeration, OsNoise};
pub use variability::{Noise, Stage, StageJitter, StageNoise};

use std::path::Path;

/// Errors of profile loading and validation.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The YAML did not parse or had an unknown key.
    #[error("invalid network profile: {0}")]
    Yaml(String),
    /// A parameter is out of range.
    #[error("invalid network profile: `{field}` = {value}: {reason}")]
    InvalidParameter {
        /// Field path, e.g. `pcie.latency_ns`.
        field: String,
        /// The offending value.
        value: String,
        /// What is required.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read network profile {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
    /// An error in a named file. The message carries the reason (a caller that prints only
    /// the top error, as a scenario field message does, still shows why).
    #[error("{path}: {inner}")]
    InFile {
        /// The file.
        path: String,
        /// The error.
        inner: Box<NetError>,
    },
}

impl NetError {
    /// True when the profile (or its path) is at fault: every variant. Exit code 2.
    pub fn is_user_error(&self) -> bool {
        match self {
            NetError::Yaml(_) | NetError::InvalidParameter { .. } | NetError::Io { .. } => true,
            NetError::InFile { inner, .. } => inner.is_user_error(),
        }
    }
}

impl NetError {
    fn in_file(self, path: &Path) -> NetError {
        NetError::InFile {
            path: path.display().to_string(),
            inner: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn one_read_on_an_idle_link_is_the_sum_of_its_stages() {
        // 100-byte READ, one packet, back to back, defaults (see profile.rs):
        // post 100 + doorbell pcie 250 + NIC 200 + request wire 42/4 B/ns = 10.5 + prop 10
        // + responder NIC 200 + read engine 50 + DMA read 2·250 + 100/6.5 B/ns + NIC 200
        // + response wire (100+42)/4 + prop 10 + NIC 200 + DMA write 100/6.5 + CQE 250 + poll 50.
        let p = NetworkProfile::default();
        let op = VerbOp::new(Verb::Read, HostId(0), HostId(1), 100);
        let t = NetworkModel::idle_timing(&p, &op);
        let expected = 100.0
            + 250.0
            + 200.0
            + 42.0 / 4.0
            + 10.0
            + 200.0
            + 50.0
            + 500.0
            + 100.0 / 6.5
            + 200.0
            + 142.0 / 4.0
            + 10.0
            + 200.0
            + 100.0 / 6.5
            + 250.0
            + 50.0;
        assert!(
            close(t.latency_ns(), expected),
            "{} vs {expected}",
            t.latency_ns()
        );
    }

    #[test]
    fn large_read_is_pipelined_at_the_bottleneck() {
        // Above the MTU the slope is the slowest streaming stage: 1/4 ns per byte on the link
        // (4 B/ns, 42 B of header per 4096 B packet) versus 1/6.5 on PCIe.
        let p = NetworkProfile::default();
        let lat = |b| {
            NetworkModel::idle_timing(&p, &VerbOp::new(Verb::Read, HostId(0), HostId(1), b))
                .latency_ns()
        };
        let slope = (lat(64 * 4096) - lat(32 * 4096)) / (32.0 * 4096.0);
        assert!(close(slope, (4096.0 + 42.0) / 4096.0 / 4.0), "{slope}");
    }

    #[test]
    fn inline_write_skips_the_dma_read() {
        let p = NetworkProfile::default();
        let mut op = VerbOp::new(Verb::Write, HostId(0), HostId(1), 64);
        let dma = NetworkModel::idle_timing(&p, &op).delivered_ns.unwrap();
        op.inline = true;
        let inl = NetworkModel::idle_timing(&p, &op).delivered_ns.unwrap();
        // Saves the DMA read round trip and its 64 B, pays 64 B of MMIO at 1 ns/B.
        assert!(close(dma - inl, 500.0 + 64.0 / 6.5 - 64.0), "{}", dma - inl);
    }

    #[test]
    fn atomics_on_one_address_serialise() {
        let p = NetworkProfile::default();
        let mut net = NetworkModel::new(p.clone(), 3);
        let a = VerbOp::new(Verb::FetchAdd, HostId(0), HostId(2), 8);
        let b = VerbOp::new(Verb::FetchAdd, HostId(1), HostId(2), 8);
        let ta = net.execute(0.0, &a);
        let tb = net.execute(0.0, &b);
        assert!(close(
            tb.completed_ns - ta.completed_ns,
            p.nic.atomic_rmw_ns
        ));
    }

    #[test]
    fn clients_on_one_address_reproduce_md1_queueing() {
        // 8 clients issue FAAs on one server address as Poisson processes (total rate λ); the
        // address's atomic unit is a deterministic server (D = atomic_rmw_ns = 1 µs), every other
        // resource is made negligible. M/D/1 mean wait: W = ρ·D / (2(1 − ρ)); ρ = 0.6 → 750 ns.
        use rand::{Rng, SeedableRng};
        let mut p = NetworkProfile::default();
        p.nic.msg_rate_per_s = 1e12;
        p.nic.atomic_rmw_ns = 1000.0;
        p.nic.read_responder_ns = 0.0;
        p.host.post_ns = 1.0;
        p.link.bw_bits_per_s = 1e13;
        p.pcie.bw_bytes_per_s = 1e12;
        let clients = 8u32;
        let mut net = NetworkModel::new(p.clone(), clients + 1);
        for c in 0..clients {
            net.warm_qp(HostId(c), QpId(0));
        }
        let idle = NetworkModel::idle_timing(
            &p,
            &VerbOp::new(Verb::FetchAdd, HostId(0), HostId(clients), 8),
        )
        .latency_ns();
        let rho = 0.6;
        let lambda_per_ns = rho / 1000.0;
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let mut exp = || -(1.0 - (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).ln();
        let mut next: Vec<f64> = (0..clients)
            .map(|_| exp() * f64::from(clients) / lambda_per_ns)
            .collect();
        let (mut sum, n) = (0.0, 200_000);
        for _ in 0..n {
            let (c, t) = next
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(c, t)| (c, *t))
                .unwrap();
            let op = VerbOp::new(Verb::FetchAdd, HostId(c as u32), HostId(clients), 8);
            sum += net.execute(t, &op).latency_ns() - idle;
            next[c] = t + exp() * f64::from(clients) / lambda_per_ns;
        }
        let wait = sum / f64::from(n);
        let md1 = rho * 1000.0 / (2.0 * (1.0 - rho));
        assert!(
            (wait - md1).abs() < 0.05 * md1,
            "simulated {wait} ns vs M/D/1 {md1} ns"
        );
    }

    #[test]
    fn tcp_round_trip_pays_kernel_costs_on_both_ends() {
        let p = NetworkProfile {
            transport: Transport::TcpKernel(TcpParams::default()),
            ..Default::default()
        };
        let rdma = NetworkModel::idle_timing(
            &NetworkProfile::default(),
            &VerbOp::new(Verb::Send, HostId(0), HostId(1), 64),
        );
        let tcp = NetworkModel::idle_timing(&p, &VerbOp::new(Verb::Send, HostId(0), HostId(1), 64));
        // Two wake-ups, four stack traversals, four syscalls at least.
        assert!(tcp.latency_ns() > rdma.latency_ns() + 2.0 * 5000.0 + 4.0 * 4000.0);
    }

    fn noisy(host: StageNoise) -> NetworkProfile {
        NetworkProfile {
            jitter: Jitter::from_stages(
                StageJitter {
                    host,
                    ..Default::default()
                },
                String::new(),
            ),
            ..Default::default()
        }
    }

    fn read_latencies(p: &NetworkProfile, seed: u64, n: usize) -> Vec<f64> {
        use rand::SeedableRng;
        let mut net = NetworkModel::seeded(p.clone(), 2, rand_pcg::Pcg64::seed_from_u64(seed));
        net.warm_qp(HostId(0), QpId(0));
        let op = VerbOp::new(Verb::Read, HostId(0), HostId(1), 64);
        let mut t = 0.0;
        (0..n)
            .map(|_| {
                let r = net.execute(t, &op);
                t = r.completed_ns + 1000.0;
                r.latency_ns()
            })
            .collect()
    }

    #[test]
    fn jitter_none_is_the_closed_form_even_when_seeded() {
        let p = NetworkProfile::default();
        let idle =
            NetworkModel::idle_timing(&p, &VerbOp::new(Verb::Read, HostId(0), HostId(1), 64));
        let v = read_latencies(&p, 5, 50);
        assert_eq!(v[0], idle.latency_ns());
        for l in v {
            assert!(close(l, idle.latency_ns()), "{l}");
        }
    }

    #[test]
    fn variability_is_deterministic_per_seed() {
        let p = noisy(StageNoise {
            body_mean_ns: 30.0,
            tail_prob: 0.01,
            tail_min_ns: 3000.0,
            tail_shape: 2.0,
        });
        assert_eq!(read_latencies(&p, 9, 500), read_latencies(&p, 9, 500));
        assert_ne!(read_latencies(&p, 9, 500), read_latencies(&p, 10, 500));
    }

    #[test]
    fn a_read_draws_the_host_stage_twice() {
        // Body-only host noise of mean 100 ns: post + poll → mean extra 200 ns (the count
        // perftest::tail_fit assumes for READ samples).
        let p = noisy(StageNoise {
            body_mean_ns: 100.0,
            ..Default::default()
        });
        let idle =
            NetworkModel::idle_timing(&p, &VerbOp::new(Verb::Read, HostId(0), HostId(1), 64))
                .latency_ns();
        let v = read_latencies(&p, 3, 20_000);
        let mean = v.iter().map(|l| l - idle).sum::<f64>() / v.len() as f64;
        assert!((mean - 200.0).abs() < 0.05 * 200.0, "{mean}");
    }

    #[test]
    fn an_idle_tcp_server_wakes_from_a_deep_c_state() {
        // Two RPCs 1 ms apart: before the second the server core idled ≥ 600 µs, so its receive
        // pays C6's 133 µs exit (intel_idle skx table) on top; the first (18 µs after start) not.
        let mut t = TcpParams::default();
        t.os_noise.cstates = vec![CState {
            name: "C6".into(),
            exit_latency_ns: 133e3,
            target_residency_ns: 600e3,
        }];
        let p = NetworkProfile {
            transport: Transport::TcpKernel(t),
            ..Default::default()
        };
        let base = NetworkProfile {
            transport: Transport::TcpKernel(TcpParams::default()),
            ..Default::default()
        };
        let op = VerbOp::new(Verb::Send, HostId(0), HostId(1), 64);
        let run = |p: &NetworkProfile, at: f64| {
            let mut net = NetworkModel::new(p.clone(), 2);
            let a = net.send_message(0.0, &op, 0);
            let d0 = net.receive_message(a, &op, None);
            let b = net.send_message(at, &op, 0);
            (d0, net.receive_message(b, &op, None) - at)
        };
        let (plain0, plain1) = run(&base, 1e6);
        let (deep0, deep1) = run(&p, 1e6);
        assert!((deep0 - plain0).abs() < 1.0, "{deep0} {plain0}");
        assert!((deep1 - plain1 - 133e3).abs() < 1.0, "{deep1} {plain1}");
        // Back to back (10 µs apart) the core has not slept long enough.
        let (_, close1) = run(&p, 10e3);
        let (_, plain_close) = run(&base, 10e3);
        assert!((close1 - plain_close).abs() < 1.0);
    }

    /// A metadata READ on a NIC port shared with one saturating KV transfer each way takes
    /// its fair share of the link: each of its four port crossings (request out of the client,
    /// into the server; response out of the server, into the client; one switch hop) costs
    /// its serialisation time twice. 100-byte READ, default profile, 4 B/ns: request
    /// 42 B / 4 = 10.5 ns twice, response 142 B / 4 = 35.5 ns twice: 92 ns slower, exactly
    /// what halving the link's bandwidth for it alone gives.
    #[test]
    fn a_lookup_beside_bulk_transfers_gets_its_fair_share_of_the_link() {
        let mut p = NetworkProfile::default();
        p.switch.hops = 1;
        let op = VerbOp::new(Verb::Read, HostId(0), HostId(1), 100);
        let idle = NetworkModel::new(p.clone(), 2)
            .execute(0.0, &op)
            .latency_ns();
        let mut busy = NetworkModel::new(p.clone(), 2);
        busy.set_bulk_flows(HostId(0), 1, 1);
        busy.set_bulk_flows(HostId(1), 1, 1);
        let shared = busy.execute(0.0, &op).latency_ns();
        assert!(
            close(shared - idle, 2.0 * 10.5 + 2.0 * 35.5),
            "{shared} vs {idle}"
        );
        let mut half = p.clone();
        half.link.bw_bits_per_s /= 2.0;
        let slow = NetworkModel::new(half, 2).execute(0.0, &op).latency_ns();
        assert!(close(shared, slow), "{shared} vs {slow}");
        // Gone again: back to the idle time.
        busy.reset();
        assert!(close(busy.execute(0.0, &op).latency_ns(), idle));
    }
}
