//! The cluster fabric: the NICs of the serving instances, the switches between them, and the
//! bulk KV transfers (prefill -> decode) that cross them, as max-min fair flows on a
//! [`FlowNetwork`] whose links take their bandwidth and latency from a calibrated
//! [`NetworkProfile`].
//!
//! # Topology
//!
//! ```text
//!   instance i, GPU k ──PCIe──▶ NIC (i,k) ──tx══▶ leaf switch ══[up ═▶ spine ═▶ down]══▶ leaf ══rx──▶ NIC (j,m) ──PCIe──▶ GPU m of instance j
//! ```
//!
//! * One NIC per GPU (`nic: per-gpu`, rail-optimised, as Mooncake's and DGX H100 nodes: eight
//!   400 Gb/s ConnectX-7 per eight GPUs) or one per instance (`nic: per-instance`: every rank's
//!   traffic shares it). Each NIC has a transmit and a receive link.
//! * Instances sit under leaf switches, `instances_per_leaf` each (0: one non-blocking switch).
//!   A leaf's up and down links carry `instances_per_leaf x NICs x B / oversubscription`
//!   (`oversubscription: 1` is a non-blocking Clos; 2 or 3 are common in cost-reduced
//!   clusters). Traffic between leaves crosses both; traffic under one leaf does not.
//!
//! # Per-link parameters, from the profile
//!
//! * Bandwidth `B` of a NIC link for bulk WRITEs: `min(link.bw x mtu / (mtu + headers),
//!   pcie.bw)`: the wire carries `header_bytes_per_packet` per `mtu_bytes` of payload, and every
//!   byte also crosses PCIe (DMA read at the sender, DMA write at the receiver, each at the
//!   PCIe DMA bandwidth). A KV block is one or more RDMA WRITEs far above the MTU, so the
//!   per-message costs (post, doorbell, NIC processing at `msg_rate_per_s`) overlap the bytes
//!   and only the first message's latency shows.
//! * Latency of a path under one leaf: the idle one-way time of a 1-byte WRITE through
//!   `switch_hops` switches ([`NetworkModel::idle_timing`], post to payload visible at the
//!   responder): host post, PCIe, NIC pipeline, propagation and hops, as the perftest
//!   calibration fitted them. Between leaves the spine adds two more hops
//!   (`2 x switch.hop_latency_ns`).
//!
//! So a transfer of `b` bytes on an idle path takes `latency + b / B` (the closed form the tests
//! check against the verbs model's own WRITE of `b` bytes).
//!
//! # Ranks
//!
//! With tensor parallelism each rank holds the KV of its share of the heads. A prefill
//! instance of `Tp` ranks hands KV to a decode instance of `Td` ranks: prefill rank `k` holds
//! the head interval `[k/Tp, (k+1)/Tp)`, decode rank `m` needs `[m/Td, (m+1)/Td)`, and one flow
//! carries each non-empty overlap from NIC `(i,k)` to NIC `(j,m)`, so equal degrees give `Tp`
//! parallel rank-to-rank flows over distinct NICs (Mooncake's transfer engine striping over
//! the rail NICs) and unequal ones fan in or out.

use serde::{Deserialize, Serialize};

use super::{Delivered, FlowNetwork, HostId, LinkId, NetworkModel, NetworkProfile, Verb, VerbOp};

/// Where the NICs of an instance are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NicPlacement {
    /// One NIC per GPU (rail-optimised). The default.
    #[default]
    PerGpu,
    /// One NIC per instance, shared by its ranks.
    PerInstance,
}

/// The fabric as configured (`cluster.disaggregation.fabric`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FabricConfig {
    /// Network profile of every NIC and link: a built-in name or a YAML path. Default
    /// `connectx7-400g-ib` (ConnectX-7 NDR 400 Gb/s, as Mooncake's and DGX H100 clusters).
    #[serde(default = "default_network")]
    pub network: String,
    /// NIC placement: `per-gpu` (default) or `per-instance`.
    #[serde(default)]
    pub nic: NicPlacement,
    /// Switches between two NICs under one leaf. Default 1.
    #[serde(default = "one")]
    pub switch_hops: u32,
    /// Instances under one leaf switch; 0 (default) puts all under one non-blocking switch.
    #[serde(default)]
    pub instances_per_leaf: u32,
    /// Leaf uplink oversubscription (downlink bandwidth / uplink bandwidth), at least 1.
    /// Default 1 (non-blocking).
    #[serde(default = "one_f64")]
    pub oversubscription: f64,
    /// Whether the metadata service's traffic uses the same NIC (each instance's first) as
    /// the KV transfers, so that lookups share the port with them (default true, as in a
    /// cluster with one RDMA fabric); false puts it on a separate front-end network.
    #[serde(default = "yes")]
    pub metadata_shares_nics: bool,
}

fn default_network() -> String {
    "connectx7-400g-ib".into()
}
fn one() -> u32 {
    1
}
fn one_f64() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl Default for FabricConfig {
    fn default() -> Self {
        FabricConfig {
            network: default_network(),
            nic: NicPlacement::default(),
            switch_hops: 1,
            instances_per_leaf: 0,
            oversubscription: 1.0,
            metadata_shares_nics: true,
        }
    }
}

impl FabricConfig {
    /// Checks the numbers (the profile is loaded and checked by its loader).
    pub fn validate(&self) -> Result<(), String> {
        if !(self.oversubscription.is_finite() && self.oversubscription >= 1.0) {
            return Err(format!(
                "oversubscription must be a finite number >= 1, got {}",
                self.oversubscription
            ));
        }
        if self.switch_hops > 16 {
            return Err(format!(
                "switch_hops must be at most 16, got {}",
                self.switch_hops
            ));
        }
        Ok(())
    }
}

/// Bandwidth and latency of a NIC-to-NIC path, from a profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathParams {
    /// Bulk WRITE bandwidth of one NIC link, bytes/ns.
    pub bytes_per_ns: f64,
    /// One-way latency of a small WRITE, ns.
    pub latency_ns: f64,
}

impl PathParams {
    /// The parameters of a path through `hops` switches (see the module docs).
    pub fn from_profile(profile: &NetworkProfile, hops: u32) -> Self {
        let mtu = profile.nic.mtu_bytes as f64;
        let wire = profile.link_bytes_per_ns() * mtu / (mtu + profile.link.header_bytes_per_packet);
        let mut p = profile.clone();
        p.switch.hops = hops;
        let t = NetworkModel::idle_timing(&p, &VerbOp::new(Verb::Write, HostId(0), HostId(1), 1));
        let latency_ns = t.delivered_ns.unwrap_or(t.completed_ns) - t.post_start_ns;
        PathParams {
            bytes_per_ns: wire.min(profile.pcie_bytes_per_ns()),
            latency_ns,
        }
    }
}

/// The fabric of a cluster run: links of every instance's NICs and leaves, and the flows on
/// them.
#[derive(Debug, Clone)]
pub struct Fabric {
    net: FlowNetwork,
    /// Per instance: index of its first NIC, NIC count, ranks, leaf.
    instances: Vec<InstanceNics>,
    /// Per NIC: transmit and receive links.
    nic_tx: Vec<LinkId>,
    nic_rx: Vec<LinkId>,
    /// Per leaf: up (towards the spine) and down links; empty with one switch.
    leaf_up: Vec<LinkId>,
    leaf_down: Vec<LinkId>,
    path: Vec<LinkId>,
    params: PathParams,
}

#[derive(Debug, Clone, Copy)]
struct InstanceNics {
    first: u32,
    count: u32,
    ranks: u32,
    leaf: u32,
}

impl Fabric {
    /// The fabric of instances with `ranks[i]` GPUs each (instances numbered in order).
    pub fn new(config: &FabricConfig, profile: &NetworkProfile, ranks: &[u32]) -> Self {
        let params = PathParams::from_profile(profile, config.switch_hops);
        let mut net = FlowNetwork::new();
        let (mut nic_tx, mut nic_rx) = (Vec::new(), Vec::new());
        let mut instances = Vec::with_capacity(ranks.len());
        let per_leaf = config.instances_per_leaf as usize;
        let mut leaf_nics: Vec<u32> = Vec::new();
        for (i, &r) in ranks.iter().enumerate() {
            let count = match config.nic {
                NicPlacement::PerGpu => r.max(1),
                NicPlacement::PerInstance => 1,
            };
            let leaf = i.checked_div(per_leaf).unwrap_or(0) as u32;
            if leaf as usize >= leaf_nics.len() {
                leaf_nics.push(0);
            }
            leaf_nics[leaf as usize] += count;
            instances.push(InstanceNics {
                first: nic_tx.len() as u32,
                count,
                ranks: r.max(1),
                leaf,
            });
            for k in 0..count {
                nic_tx.push(net.add_link(
                    format!("i{i}.nic{k}.tx"),
                    params.bytes_per_ns,
                    params.latency_ns,
                ));
                nic_rx.push(net.add_link(format!("i{i}.nic{k}.rx"), params.bytes_per_ns, 0.0));
            }
        }
        let (mut leaf_up, mut leaf_down) = (Vec::new(), Vec::new());
        if per_leaf > 0 && leaf_nics.len() > 1 {
            let spine_ns = 2.0 * profile.switch.hop_latency_ns;
            for (l, &n) in leaf_nics.iter().enumerate() {
                let c = f64::from(n) * params.bytes_per_ns / config.oversubscription;
                leaf_up.push(net.add_link(format!("leaf{l}.up"), c, spine_ns));
                leaf_down.push(net.add_link(format!("leaf{l}.down"), c, 0.0));
            }
        }
        Fabric {
            net,
            instances,
            nic_tx,
            nic_rx,
            leaf_up,
            leaf_down,
            path: Vec::new(),
            params,
        }
    }

    /// Bandwidth and latency of one NIC path.
    pub fn params(&self) -> PathParams {
        self.params
    }

    /// Starts the transfer of `bytes` of KV from instance `src` to instance `dst` at `now_ns`:
    /// one flow per overlapping (source rank, destination rank) pair, each tagged `tag`.
    /// Returns the number of flows (at least one: a transfer of no bytes still pays the
    /// path latency). Deliveries due by `now_ns` are appended to `done`.
    pub fn start_transfer(
        &mut self,
        now_ns: f64,
        src: usize,
        dst: usize,
        bytes: u64,
        tag: u64,
        done: &mut Vec<Delivered>,
    ) -> u32 {
        let (s, d) = (self.instances[src], self.instances[dst]);
        let (tp, td) = (u64::from(s.ranks), u64::from(d.ranks));
        let units = tp * td;
        let mut flows = 0;
        let mut sent = 0u64;
        for k in 0..tp {
            for m in 0..td {
                // Head intervals in units of 1 / (tp x td).
                let lo = (k * td).max(m * tp);
                let hi = ((k + 1) * td).min((m + 1) * tp);
                if hi <= lo {
                    continue;
                }
                // Floors of the interval ends: the pairs of rank k tile [k td, (k+1) td), so
                // the pieces telescope to exactly `bytes`.
                let at = |x: u64| (u128::from(bytes) * u128::from(x) / u128::from(units)) as u64;
                let b = at(hi) - at(lo);
                self.route(s, k as u32, d, m as u32);
                self.net.start(now_ns, &self.path, b, tag, done);
                sent += b;
                flows += 1;
            }
        }
        debug_assert_eq!(sent, bytes, "every byte is on a flow");
        flows
    }

    fn route(&mut self, s: InstanceNics, k: u32, d: InstanceNics, m: u32) {
        self.path.clear();
        self.path
            .push(self.nic_tx[(s.first + k.min(s.count - 1)) as usize]);
        if s.leaf != d.leaf && !self.leaf_up.is_empty() {
            self.path.push(self.leaf_up[s.leaf as usize]);
            self.path.push(self.leaf_down[d.leaf as usize]);
        }
        self.path
            .push(self.nic_rx[(d.first + m.min(d.count - 1)) as usize]);
    }

    /// When the fabric next changes (see [`FlowNetwork::next_event_ns`]).
    pub fn next_event_ns(&self) -> Option<f64> {
        self.net.next_event_ns()
    }

    /// Advances to `now_ns`, appending deliveries to `done`.
    pub fn advance_to(&mut self, now_ns: f64, done: &mut Vec<Delivered>) {
        self.net.advance_to(now_ns, done);
    }

    /// Bytes sent and received by instance `i`'s NICs up to the fabric's clock.
    pub fn instance_bytes(&self, i: usize) -> (f64, f64) {
        let n = self.instances[i];
        let range = n.first as usize..(n.first + n.count) as usize;
        let tx = self.nic_tx[range.clone()]
            .iter()
            .map(|&l| self.net.link_bytes(l))
            .sum();
        let rx = self.nic_rx[range]
            .iter()
            .map(|&l| self.net.link_bytes(l))
            .sum();
        (tx, rx)
    }

    /// Flows sending out of and into instance `i`'s first NIC now (the port its metadata
    /// traffic uses).
    pub fn first_nic_flows(&self, i: usize) -> (u32, u32) {
        let first = self.instances[i].first as usize;
        (
            self.net.active_on(self.nic_tx[first]) as u32,
            self.net.active_on(self.nic_rx[first]) as u32,
        )
    }

    /// Capacity of instance `i`'s NICs in one direction, bytes/ns.
    pub fn instance_capacity(&self, i: usize) -> f64 {
        f64::from(self.instances[i].count) * self.params.bytes_per_ns
    }

    /// Flows sending now.
    pub fn sending(&self) -> usize {
        self.net.sending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::load_network;

    fn cx7() -> NetworkProfile {
        load_network("connectx7-400g-ib").unwrap()
    }

    fn run(f: &mut Fabric) -> Vec<Delivered> {
        let mut done = Vec::new();
        while let Some(t) = f.next_event_ns() {
            f.advance_to(t, &mut done);
        }
        done
    }

    #[test]
    fn an_idle_transfer_takes_the_latency_plus_bytes_over_the_bottleneck() {
        let p = cx7();
        let mut f = Fabric::new(&FabricConfig::default(), &p, &[1, 1]);
        let bytes = 64 << 20;
        let mut done = Vec::new();
        assert_eq!(f.start_transfer(0.0, 0, 1, bytes, 7, &mut done), 1);
        let done = run(&mut f);
        let params = f.params();
        let expect = params.latency_ns + bytes as f64 / params.bytes_per_ns;
        assert!((done[0].at_ns - expect).abs() < 1e-6 * expect, "{done:?}");
        // The bottleneck of CX-7 is the wire after headers: 400 Gb/s x 4096 / 4138.
        let wire = 50.0 * 4096.0 / 4138.0;
        assert!((params.bytes_per_ns - wire).abs() < 1e-9, "{params:?}");
        // The verbs model's own WRITE of the same bytes agrees within the per-message costs
        // (one PCIe and NIC latency on each side, well under 1 %).
        let mut one_hop = p.clone();
        one_hop.switch.hops = 1;
        let w = NetworkModel::idle_timing(
            &one_hop,
            &VerbOp::new(Verb::Write, HostId(0), HostId(1), bytes),
        );
        let verbs = w.delivered_ns.unwrap() - w.post_start_ns;
        assert!(
            (verbs - expect).abs() < 0.01 * expect,
            "fabric {expect} ns vs verbs {verbs} ns"
        );
    }

    #[test]
    fn two_transfers_into_one_nic_each_take_twice_as_long() {
        let p = cx7();
        let mut f = Fabric::new(&FabricConfig::default(), &p, &[1, 1, 1]);
        let bytes = 16 << 20;
        let mut done = Vec::new();
        f.start_transfer(0.0, 0, 2, bytes, 1, &mut done);
        f.start_transfer(0.0, 1, 2, bytes, 2, &mut done);
        let done = run(&mut f);
        let params = f.params();
        let alone = bytes as f64 / params.bytes_per_ns;
        for d in &done {
            let t = d.at_ns - params.latency_ns;
            assert!((t - 2.0 * alone).abs() < 1e-6 * alone, "{d:?}");
        }
    }

    #[test]
    fn ranks_stripe_over_their_nics_and_fan_in_to_fewer_ranks() {
        let p = cx7();
        let mut f = Fabric::new(&FabricConfig::default(), &p, &[2, 2, 1]);
        let mut done = Vec::new();
        // TP 2 -> TP 2: two flows on distinct NICs, each half the bytes: twice as fast as one.
        assert_eq!(f.start_transfer(0.0, 0, 1, 1 << 20, 1, &mut done), 2);
        let a = run(&mut f);
        let params = f.params();
        let half = (1 << 19) as f64 / params.bytes_per_ns + params.latency_ns;
        assert!(a.iter().all(|d| (d.at_ns - half).abs() < 1e-6 * half));
        assert_eq!(a.iter().map(|d| d.bytes).sum::<u64>(), 1 << 20);
        // TP 2 -> TP 1: both halves into the one decode NIC: no faster than one flow.
        let t0 = a[0].at_ns;
        assert_eq!(f.start_transfer(t0, 0, 2, 1 << 20, 2, &mut done), 2);
        let b = run(&mut f);
        let whole = (1 << 20) as f64 / params.bytes_per_ns + params.latency_ns;
        assert!(
            b.iter()
                .all(|d| (d.at_ns - t0 - whole).abs() < 1e-6 * whole)
        );
        // Odd degrees conserve bytes.
        let mut g = Fabric::new(&FabricConfig::default(), &p, &[3, 2]);
        assert_eq!(g.start_transfer(0.0, 0, 1, 1001, 3, &mut done), 4);
        assert_eq!(run(&mut g).iter().map(|d| d.bytes).sum::<u64>(), 1001);
    }

    #[test]
    fn an_oversubscribed_uplink_is_the_bottleneck_between_leaves_only() {
        let p = cx7();
        let config = FabricConfig {
            instances_per_leaf: 2,
            oversubscription: 4.0,
            ..FabricConfig::default()
        };
        // Leaves of two instances: 0,1 | 2,3. Uplink = 2 NICs x B / 4 = B / 2.
        let mut f = Fabric::new(&config, &p, &[1, 1, 1, 1]);
        let params = f.params();
        let bytes = 8 << 20;
        let mut done = Vec::new();
        f.start_transfer(0.0, 0, 1, bytes, 1, &mut done); // same leaf
        let same = run(&mut f)[0].at_ns;
        let t = same;
        f.start_transfer(t, 0, 2, bytes, 2, &mut done); // across
        let across = run(&mut f)[0].at_ns - t;
        let link = bytes as f64 / params.bytes_per_ns;
        assert!((same - params.latency_ns - link).abs() < 1e-6 * link);
        let spine = 2.0 * p.switch.hop_latency_ns;
        assert!((across - params.latency_ns - spine - 2.0 * link).abs() < 1e-6 * link);
    }

    #[test]
    fn bad_numbers_are_refused() {
        let c = FabricConfig {
            oversubscription: 0.5,
            ..FabricConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("0.5"));
        let c = FabricConfig {
            oversubscription: f64::NAN,
            ..FabricConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
