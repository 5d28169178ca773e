//! Network profiles: the YAML-facing parameter set of the network model.
//!
//! Every parameter carries its unit in its name (`_ns`, `_bytes`, `_per_s`, `_bits_per_s`). The
//! defaults describe a generic ConnectX-class InfiniBand host pair; each default names its public
//! source with the tags of `../shared/calibration/RDMA_REFERENCE_FIGURES.md`: **[M]** measured from a
//! real perftest output, **[S]** stated in a primary text, **[R]** recollection to verify. Shipped
//! profiles live in `scenarios/hardware/network/*.yaml` and override what they know better.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::NetError;
use super::tcp_noise::OsNoise;
use super::variability::{StageJitter, StageNoise};

/// A complete network profile: two or more hosts, each with a CPU posting work requests, a PCIe
/// link, an RNIC and a port, joined by links through `switch.hops` switches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkProfile {
    /// Short name, e.g. `connectx3-qdr-ib`.
    pub name: String,
    /// What the profile describes and what its numbers rest on.
    #[serde(default)]
    pub description: String,
    /// Transport family and its transport-specific costs.
    #[serde(default)]
    pub transport: Transport,
    /// Host CPU costs of the verbs API.
    #[serde(default)]
    pub host: HostParams,
    /// The host's PCIe link to the NIC.
    #[serde(default)]
    pub pcie: PcieParams,
    /// The RDMA NIC.
    #[serde(default)]
    pub nic: NicParams,
    /// Each host's network link.
    #[serde(default)]
    pub link: LinkParams,
    /// Switches between hosts.
    #[serde(default)]
    pub switch: SwitchParams,
    /// Explicit random latency component (none by default).
    #[serde(default)]
    pub jitter: Jitter,
}

/// Transport family. RDMA transports share the verbs model and differ in their parameters;
/// kernel TCP replaces the verbs host costs by per-message syscall and stack costs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transport {
    /// InfiniBand reliable connection (RC).
    #[default]
    Infiniband,
    /// RDMA over Converged Ethernet (v2: UDP/IP encapsulation, larger headers).
    Roce,
    /// AWS Elastic Fabric Adapter, Scalable Reliable Datagram.
    EfaSrd,
    /// Kernel TCP sockets (Redis-style RPCs): every message pays syscalls, stack processing and
    /// copies on both ends. Verbs map to RPCs: READ = request + response carrying the data, WRITE
    /// and SEND = request carrying the data + a small reply, atomics = small request + reply.
    TcpKernel(TcpParams),
}

/// Per-message costs of kernel TCP, per side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpParams {
    /// One `send`/`recv`/`epoll_wait` system call, ns. Default 1500: [R] ~1–2 µs per syscall on
    /// a modern server after Spectre/Meltdown mitigations.
    #[serde(default = "d_tcp_syscall")]
    pub syscall_ns: f64,
    /// TCP/IP stack processing of one message (segmentation, ACK, softirq), ns, per side.
    /// Default 4000: [S] REDIS_REFERENCE.md §5, 25–50 µs loopback round trip for a 1-client
    /// redis-benchmark, split over 2 messages × 2 sides with syscalls and wake-ups.
    #[serde(default = "d_tcp_stack")]
    pub stack_ns: f64,
    /// Copy between user and kernel buffers, ns per byte, per side. Default 0.1 (≈10 GB/s memcpy) [R].
    #[serde(default = "d_tcp_copy")]
    pub copy_ns_per_byte: f64,
    /// Receiver wake-up (interrupt, scheduler) before the application sees a message, ns.
    /// Default 5000: [R] typical epoll wake-up latency, consistent with REDIS_REFERENCE.md §5.
    #[serde(default = "d_tcp_wakeup")]
    pub wakeup_ns: f64,
    /// OS noise on the receive path (interrupt moderation, idle states, softirq, run queue);
    /// default all off. See [`super::tcp_noise`].
    #[serde(default)]
    pub os_noise: OsNoise,
}

fn d_tcp_syscall() -> f64 {
    1500.0
}
fn d_tcp_stack() -> f64 {
    4000.0
}
fn d_tcp_copy() -> f64 {
    0.1
}
fn d_tcp_wakeup() -> f64 {
    5000.0
}

impl Default for TcpParams {
    fn default() -> Self {
        TcpParams {
            syscall_ns: d_tcp_syscall(),
            stack_ns: d_tcp_stack(),
            copy_ns_per_byte: d_tcp_copy(),
            wakeup_ns: d_tcp_wakeup(),
            os_noise: OsNoise::default(),
        }
    }
}

/// Host CPU costs of posting and completing work requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostParams {
    /// CPU time of one `ibv_post_send` call (build WQE, ring the doorbell by MMIO), ns. Occupies
    /// the posting thread. Default 100: [S] perftest README, a software post rate of ~10 Mpps.
    #[serde(default = "d_post")]
    pub post_ns: f64,
    /// Extra CPU time per additional WR of a post list (doorbell batching), ns. Default 20 [R].
    #[serde(default = "d_wqe")]
    pub wqe_ns: f64,
    /// CPU cost of copying inline payload into the WQE through the write-combining MMIO window,
    /// ns per byte. Default 1.0 [R]; CX-3 fit ≈ 2 [M, WRITE latency 2→128 B].
    #[serde(default = "d_inline")]
    pub inline_ns_per_byte: f64,
    /// Time for the polling CPU to notice a completion (CQE or memory flag), ns. Default 50 [R].
    #[serde(default = "d_poll")]
    pub poll_ns: f64,
    /// Receive-side CPU occupancy per SEND (poll the receive CQ, repost a RECV), ns. A message
    /// waits for it only when the receiver falls behind. Default 100 [R].
    #[serde(default = "d_repost")]
    pub recv_repost_ns: f64,
}

fn d_post() -> f64 {
    100.0
}
fn d_wqe() -> f64 {
    20.0
}
fn d_inline() -> f64 {
    1.0
}
fn d_poll() -> f64 {
    50.0
}
fn d_repost() -> f64 {
    100.0
}

impl Default for HostParams {
    fn default() -> Self {
        HostParams {
            post_ns: d_post(),
            wqe_ns: d_wqe(),
            inline_ns_per_byte: d_inline(),
            poll_ns: d_poll(),
            recv_repost_ns: d_repost(),
        }
    }
}

/// The PCIe link between host memory and the NIC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcieParams {
    /// One-way latency of a PCIe transaction (MMIO doorbell, posted DMA write), ns; a DMA read
    /// costs two. Default 250: [R] Kalia ATC'16, PCIe round trip ≈ 0.4–0.6 µs.
    #[serde(default = "d_pcie_lat")]
    pub latency_ns: f64,
    /// Effective DMA bandwidth per direction, bytes/s. Default 6.5e9: PCIe 3.0 x8 is 7.88 GB/s
    /// raw [S, PCIe 3.0 spec: 8 GT/s, 128b/130b], less TLP overhead [R].
    #[serde(default = "d_pcie_bw")]
    pub bw_bytes_per_s: f64,
}

fn d_pcie_lat() -> f64 {
    250.0
}
fn d_pcie_bw() -> f64 {
    6.5e9
}

impl Default for PcieParams {
    fn default() -> Self {
        PcieParams {
            latency_ns: d_pcie_lat(),
            bw_bytes_per_s: d_pcie_bw(),
        }
    }
}

/// The RDMA NIC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicParams {
    /// Pipeline latency of one NIC traversal (transmit or receive processing), ns. Default 200 [R].
    #[serde(default = "d_nic_lat")]
    pub latency_ns: f64,
    /// Message-rate ceiling of the whole NIC (all processing units), messages/s. Every WR
    /// occupies one unit for `processing_units / msg_rate_per_s` on each NIC it crosses.
    /// Default 35e6: [R] ConnectX-3 generation; RDMA_REFERENCE_FIGURES.md §2.
    #[serde(default = "d_rate")]
    pub msg_rate_per_s: f64,
    /// Parallel processing units. Default 4 [R].
    #[serde(default = "d_units")]
    pub processing_units: u32,
    /// Outstanding RDMA READ/atomic operations per QP (initiator depth). Default 16: [M] every
    /// Mellanox perftest output ("Outstand reads : 16").
    #[serde(default = "d_outstanding")]
    pub max_outstanding_reads: u32,
    /// Largest payload the device accepts inline in a WQE, bytes. Default 256 [R]; EFA 32 [M].
    #[serde(default = "d_inline_max")]
    pub max_inline_bytes: u64,
    /// Path MTU (payload bytes per packet). Default 4096: [S] IB maximum MTU.
    #[serde(default = "d_mtu")]
    pub mtu_bytes: u64,
    /// QP contexts held in the NIC's on-chip cache (LRU). Default 256: [R] RDMA_REFERENCE_FIGURES.md §4,
    /// "a few hundred QPs on ConnectX-3/Connect-IB".
    #[serde(default = "d_qp_cache")]
    pub qp_cache_entries: u32,
    /// Extra time a QP-context miss costs (a PCIe read of the context), ns; it holds the
    /// processing unit. Default 500: [R] RDMA_REFERENCE_FIGURES.md §4, ≈0.5 µs.
    #[serde(default = "d_qp_miss")]
    pub qp_miss_ns: f64,
    /// Latency for the responder NIC to consume a RECV WQE for an incoming SEND, ns. Default 50 [R].
    #[serde(default = "d_recv_wqe")]
    pub recv_wqe_ns: f64,
    /// Fixed occupancy of a QP's responder read engine per inbound READ/atomic, ns; the engine is
    /// also held while its DMA read streams (`bytes / pcie.bw_bytes_per_s`). Default 50 [R].
    #[serde(default = "d_read_resp")]
    pub read_responder_ns: f64,
    /// Extra latency of an atomic (CAS/FAA) over an 8-byte READ, ns. Default 350:
    /// [M] CX-3 FAA 2.34 µs vs READ 1.99 µs (RDMA_REFERENCE_FIGURES.md §1).
    #[serde(default = "d_atomic_lat")]
    pub atomic_latency_ns: f64,
    /// Time one atomic holds its 8-byte address (read-modify-write), ns; atomics on one address
    /// serialise. Default 400: [M] CX-3 `ib_atomic_bw` 2.45 Mpps on one address.
    #[serde(default = "d_atomic_rmw")]
    pub atomic_rmw_ns: f64,
    /// Time one atomic on the NIC's on-chip device memory holds its address, ns; it is also its
    /// whole execution latency (no PCIe read-modify-write). Default 100: [R] RDMA_REFERENCE_FIGURES.md
    /// §3, "much lower [than host memory's 0.3–0.5 µs] for NIC device memory" (Sherman's lock table).
    #[serde(default = "d_device_rmw")]
    pub device_atomic_rmw_ns: f64,
}

fn d_nic_lat() -> f64 {
    200.0
}
fn d_rate() -> f64 {
    35e6
}
fn d_units() -> u32 {
    4
}
fn d_outstanding() -> u32 {
    16
}
fn d_inline_max() -> u64 {
    256
}
fn d_mtu() -> u64 {
    4096
}
fn d_qp_cache() -> u32 {
    256
}
fn d_qp_miss() -> f64 {
    500.0
}
fn d_recv_wqe() -> f64 {
    50.0
}
fn d_read_resp() -> f64 {
    50.0
}
fn d_atomic_lat() -> f64 {
    350.0
}
fn d_atomic_rmw() -> f64 {
    400.0
}
fn d_device_rmw() -> f64 {
    100.0
}

impl Default for NicParams {
    fn default() -> Self {
        NicParams {
            latency_ns: d_nic_lat(),
            msg_rate_per_s: d_rate(),
            processing_units: d_units(),
            max_outstanding_reads: d_outstanding(),
            max_inline_bytes: d_inline_max(),
            mtu_bytes: d_mtu(),
            qp_cache_entries: d_qp_cache(),
            qp_miss_ns: d_qp_miss(),
            recv_wqe_ns: d_recv_wqe(),
            read_responder_ns: d_read_resp(),
            atomic_latency_ns: d_atomic_lat(),
            atomic_rmw_ns: d_atomic_rmw(),
            device_atomic_rmw_ns: d_device_rmw(),
        }
    }
}

/// A host's network link (per direction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkParams {
    /// Data rate after line coding, bits/s. Default 32e9: [S] IB 4x QDR, 40 Gb/s signalling with
    /// 8b/10b coding.
    #[serde(default = "d_link_bw")]
    pub bw_bits_per_s: f64,
    /// Wire overhead per packet (headers, CRCs), bytes. Default 42: [S] IBTA spec, LRH 8 + BTH 12 +
    /// RETH 16 + ICRC 4 + VCRC 2.
    #[serde(default = "d_hdr")]
    pub header_bytes_per_packet: f64,
    /// Propagation delay of one cable, ns. Default 10 (2 m at 5 ns/m) [R].
    #[serde(default = "d_prop")]
    pub propagation_ns: f64,
}

fn d_link_bw() -> f64 {
    32e9
}
fn d_hdr() -> f64 {
    42.0
}
fn d_prop() -> f64 {
    10.0
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            bw_bits_per_s: d_link_bw(),
            header_bytes_per_packet: d_hdr(),
            propagation_ns: d_prop(),
        }
    }
}

/// Switches on the path between two hosts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchParams {
    /// Switches between two hosts; 0 = back to back. With at least one switch, the switch port
    /// towards the destination is a shared resource (contention among senders).
    #[serde(default)]
    pub hops: u32,
    /// Port-to-port latency of one switch (cut-through), ns. Default 120: [R] IB HDR/NDR Quantum
    /// 100–130 ns (RDMA_REFERENCE_FIGURES.md §1).
    #[serde(default = "d_hop")]
    pub hop_latency_ns: f64,
}

fn d_hop() -> f64 {
    120.0
}

impl Default for SwitchParams {
    fn default() -> Self {
        SwitchParams {
            hops: 0,
            hop_latency_ns: d_hop(),
        }
    }
}

/// Service-time variability of the path (see [`super::variability`]). `none` (the default) is
/// the deterministic closed form; `stages` gives each stage a base-plus-heavy-tail distribution,
/// drawn from a named random stream the caller hands to [`super::NetworkModel::seeded`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Jitter {
    /// No random component.
    #[default]
    None,
    /// Per-stage distributions.
    Stages {
        /// Host post and poll.
        #[serde(default)]
        host: StageNoise,
        /// PCIe transactions.
        #[serde(default)]
        pcie: StageNoise,
        /// NIC pipeline traversals.
        #[serde(default)]
        nic: StageNoise,
        /// Switch hops.
        #[serde(default)]
        switch: StageNoise,
        /// RECV consumption of incoming SENDs.
        #[serde(default)]
        recv: StageNoise,
        /// Where the numbers come from (free text).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
    },
}

impl Jitter {
    /// The per-stage distributions (None for `none`).
    pub fn stages(&self) -> Option<StageJitter> {
        match self {
            Jitter::None => None,
            Jitter::Stages {
                host,
                pcie,
                nic,
                switch,
                recv,
                ..
            } => Some(StageJitter {
                host: *host,
                pcie: *pcie,
                nic: *nic,
                switch: *switch,
                recv: *recv,
            }),
        }
    }

    /// `stages` with the given distributions and source note.
    pub fn from_stages(s: StageJitter, source: String) -> Self {
        Jitter::Stages {
            host: s.host,
            pcie: s.pcie,
            nic: s.nic,
            switch: s.switch,
            recv: s.recv,
            source,
        }
    }
}

impl Default for NetworkProfile {
    fn default() -> Self {
        NetworkProfile {
            name: "generic-ib".into(),
            description: "Generic ConnectX-class InfiniBand defaults (see the field docs)".into(),
            transport: Transport::default(),
            host: HostParams::default(),
            pcie: PcieParams::default(),
            nic: NicParams::default(),
            link: LinkParams::default(),
            switch: SwitchParams::default(),
            jitter: Jitter::default(),
        }
    }
}

impl NetworkProfile {
    /// Parses and validates a YAML profile.
    pub fn from_yaml(text: &str) -> Result<Self, NetError> {
        let p: NetworkProfile =
            serde_norway::from_str(text).map_err(|e| NetError::Yaml(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Reads, parses and validates a YAML profile file.
    pub fn load(path: &Path) -> Result<Self, NetError> {
        let text = std::fs::read_to_string(path).map_err(|e| NetError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_yaml(&text).map_err(|e| e.in_file(path))
    }

    /// The profile as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("profile serialises")
    }

    /// Link data rate in bytes per ns.
    pub fn link_bytes_per_ns(&self) -> f64 {
        self.link.bw_bits_per_s / 8e9
    }

    /// PCIe DMA bandwidth in bytes per ns.
    pub fn pcie_bytes_per_ns(&self) -> f64 {
        self.pcie.bw_bytes_per_s / 1e9
    }

    /// Occupancy of one NIC processing unit per WR, ns.
    pub fn unit_service_ns(&self) -> f64 {
        f64::from(self.nic.processing_units) / self.nic.msg_rate_per_s * 1e9
    }

    /// Every parameter by its field path, for checks and reports.
    pub fn numeric_fields(&self) -> Vec<(&'static str, f64)> {
        let mut v = vec![
            ("host.post_ns", self.host.post_ns),
            ("host.wqe_ns", self.host.wqe_ns),
            ("host.inline_ns_per_byte", self.host.inline_ns_per_byte),
            ("host.poll_ns", self.host.poll_ns),
            ("host.recv_repost_ns", self.host.recv_repost_ns),
            ("pcie.latency_ns", self.pcie.latency_ns),
            ("pcie.bw_bytes_per_s", self.pcie.bw_bytes_per_s),
            ("nic.latency_ns", self.nic.latency_ns),
            ("nic.msg_rate_per_s", self.nic.msg_rate_per_s),
            ("nic.qp_miss_ns", self.nic.qp_miss_ns),
            ("nic.recv_wqe_ns", self.nic.recv_wqe_ns),
            ("nic.read_responder_ns", self.nic.read_responder_ns),
            ("nic.atomic_latency_ns", self.nic.atomic_latency_ns),
            ("nic.atomic_rmw_ns", self.nic.atomic_rmw_ns),
            ("nic.device_atomic_rmw_ns", self.nic.device_atomic_rmw_ns),
            ("link.bw_bits_per_s", self.link.bw_bits_per_s),
            (
                "link.header_bytes_per_packet",
                self.link.header_bytes_per_packet,
            ),
            ("link.propagation_ns", self.link.propagation_ns),
            ("switch.hop_latency_ns", self.switch.hop_latency_ns),
        ];
        if let Transport::TcpKernel(t) = &self.transport {
            v.extend([
                ("transport.syscall_ns", t.syscall_ns),
                ("transport.stack_ns", t.stack_ns),
                ("transport.copy_ns_per_byte", t.copy_ns_per_byte),
                ("transport.wakeup_ns", t.wakeup_ns),
            ]);
        }
        v
    }

    /// Checks every parameter: finite and non-negative; rates, bandwidths, MTU and unit counts
    /// strictly positive. The error names the field and the bad value.
    pub fn validate(&self) -> Result<(), NetError> {
        if let Some(j) = self.jitter.stages() {
            for (field, value) in j.fields() {
                let bad = if !value.is_finite() || value < 0.0 {
                    Some("must be a finite, non-negative number")
                } else if field.ends_with("tail_prob") && value > 1.0 {
                    Some("is a probability: at most 1")
                } else if field.ends_with("tail_shape") && value <= 1.0 && j.has_tail(&field) {
                    Some("must exceed 1 (a finite mean)")
                } else {
                    None
                };
                if let Some(reason) = bad {
                    return Err(NetError::InvalidParameter {
                        field,
                        value: value.to_string(),
                        reason: reason.into(),
                    });
                }
            }
        }
        let mut noise_fields = Vec::new();
        if let Transport::TcpKernel(t) = &self.transport {
            noise_fields = t.os_noise.fields();
        }
        for (field, value) in noise_fields {
            if !value.is_finite() || value < 0.0 {
                return Err(NetError::InvalidParameter {
                    field,
                    value: value.to_string(),
                    reason: "must be a finite, non-negative number".into(),
                });
            }
        }
        for (field, value) in self.numeric_fields() {
            if !value.is_finite() || value < 0.0 {
                return Err(NetError::InvalidParameter {
                    field: field.into(),
                    value: value.to_string(),
                    reason: "must be a finite, non-negative number".into(),
                });
            }
        }
        let positive = [
            ("pcie.bw_bytes_per_s", self.pcie.bw_bytes_per_s),
            ("nic.msg_rate_per_s", self.nic.msg_rate_per_s),
            ("link.bw_bits_per_s", self.link.bw_bits_per_s),
            ("nic.mtu_bytes", self.nic.mtu_bytes as f64),
            ("nic.processing_units", f64::from(self.nic.processing_units)),
            (
                "nic.max_outstanding_reads",
                f64::from(self.nic.max_outstanding_reads),
            ),
        ];
        for (field, value) in positive {
            if value <= 0.0 {
                return Err(NetError::InvalidParameter {
                    field: field.into(),
                    value: value.to_string(),
                    reason: "must be greater than zero".into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_through_yaml() {
        let p = NetworkProfile::default();
        let back = NetworkProfile::from_yaml(&p.to_yaml()).unwrap();
        assert_eq!(p, back);
    }

    #[test]
    fn stages_jitter_round_trips_and_checks_its_fields() {
        let p = NetworkProfile::from_yaml(
            "name: x\njitter:\n  kind: stages\n  host: { body_mean_ns: 40, tail_prob: 0.001, tail_min_ns: 5000 }\n",
        )
        .unwrap();
        let j = p.jitter.stages().unwrap();
        assert_eq!(j.host.tail_shape, 2.0);
        assert_eq!(NetworkProfile::from_yaml(&p.to_yaml()).unwrap(), p);
        let err = NetworkProfile::from_yaml(
            "name: x\njitter:\n  kind: stages\n  nic: { tail_prob: 1.5, tail_min_ns: 5 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("jitter.nic.tail_prob") && err.contains("1.5"),
            "{err}"
        );
        let err = NetworkProfile::from_yaml(
            "name: x\njitter:\n  kind: stages\n  host: { tail_prob: 0.1, tail_min_ns: 5, tail_shape: 0.5 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("jitter.host.tail_shape"), "{err}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let err = NetworkProfile::from_yaml("name: x\nnic:\n  mtu: 4096\n").unwrap_err();
        assert!(err.to_string().contains("mtu"), "{err}");
    }

    #[test]
    fn negative_and_nan_values_name_the_field() {
        let err = NetworkProfile::from_yaml("name: x\npcie:\n  latency_ns: -3\n").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("pcie.latency_ns") && msg.contains("-3"),
            "{msg}"
        );
        let err = NetworkProfile::from_yaml("name: x\nhost:\n  poll_ns: .nan\n").unwrap_err();
        assert!(err.to_string().contains("host.poll_ns"), "{err}");
        let err = NetworkProfile::from_yaml("name: x\nlink:\n  bw_bits_per_s: 0\n").unwrap_err();
        assert!(err.to_string().contains("link.bw_bits_per_s"), "{err}");
    }

    #[test]
    fn tcp_transport_parses_with_defaults() {
        let p = NetworkProfile::from_yaml(
            "name: t\ntransport:\n  kind: tcp_kernel\n  syscall_ns: 1000\n",
        )
        .unwrap();
        match p.transport {
            Transport::TcpKernel(t) => {
                assert_eq!(t.syscall_ns, 1000.0);
                assert_eq!(t.stack_ns, 4000.0);
            }
            other => panic!("{other:?}"),
        }
    }
}
