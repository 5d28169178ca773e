//! Path resources: what a block transfer occupies (a PCIe direction, an SSD, a NIC, the remote
//! pool's port), and the arena that reserves a transfer across several of them.
//!
//! Each resource is a [`TransferResource`]: a bandwidth, a latency and the time it is next
//! free. [`FifoServer`] serves transfers one after another in the order they are reserved, so
//! transfers on a common resource queue behind each other (contention). A transfer through a
//! path of resources is streamed (cut-through): it starts when every resource is free, moves
//! at the slowest resource's bandwidth, holds all of them for that long, and arrives after the
//! sum of their latencies.
//!
//! ```text
//!   now ── wait until max(next_free) ── bytes / min(bandwidth) ── + sum(latency) ──▶ end
//!          (queueing behind earlier       (all resources held)      (pipelined,
//!           transfers: contention)                                   not held)
//! ```
//!
//! The trait is small on purpose: the RDMA network model (fair-share fluid links, another
//! branch) can implement it for the remote pool's NIC and fabric, so that remote-pool
//! transfers share links with the rest of the cluster's traffic.

use std::fmt;

/// A resource a transfer occupies.
pub trait TransferResource: Send + fmt::Debug {
    /// Sustained bandwidth, bytes per second.
    fn bandwidth_bytes_per_s(&self) -> f64;
    /// Fixed latency a transfer through it adds, nanoseconds (not holding it).
    fn latency_ns(&self) -> u64;
    /// Earliest time a new transfer can start on it.
    fn next_free_ns(&self) -> u64;
    /// Holds it busy from `start_ns` to `end_ns` (the reservation of one transfer).
    fn occupy(&mut self, start_ns: u64, end_ns: u64);
    /// Bytes it has carried.
    fn bytes_carried(&self) -> u64;
    /// Counts `bytes` carried.
    fn carry(&mut self, bytes: u64);
}

/// A first-come, first-served bandwidth-latency server with its next-free time.
#[derive(Clone, Debug, PartialEq)]
pub struct FifoServer {
    /// Name for reports, e.g. `pcie-h2d[3]`.
    pub name: String,
    bandwidth_bytes_per_s: f64,
    latency_ns: u64,
    next_free_ns: u64,
    bytes: u64,
}

impl FifoServer {
    /// An idle server. `bandwidth_bytes_per_s` must be positive.
    pub fn new(name: impl Into<String>, bandwidth_bytes_per_s: f64, latency_ns: u64) -> Self {
        assert!(
            bandwidth_bytes_per_s > 0.0 && bandwidth_bytes_per_s.is_finite(),
            "bandwidth must be positive"
        );
        FifoServer {
            name: name.into(),
            bandwidth_bytes_per_s,
            latency_ns,
            next_free_ns: 0,
            bytes: 0,
        }
    }
}

impl TransferResource for FifoServer {
    fn bandwidth_bytes_per_s(&self) -> f64 {
        self.bandwidth_bytes_per_s
    }
    fn latency_ns(&self) -> u64 {
        self.latency_ns
    }
    fn next_free_ns(&self) -> u64 {
        self.next_free_ns
    }
    fn occupy(&mut self, _start_ns: u64, end_ns: u64) {
        self.next_free_ns = self.next_free_ns.max(end_ns);
    }
    fn bytes_carried(&self) -> u64 {
        self.bytes
    }
    fn carry(&mut self, bytes: u64) {
        self.bytes += bytes;
    }
}

/// Index of a resource in [`Resources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub u32);

/// When a reserved transfer starts and ends, nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// When its data starts moving (after queueing).
    pub start_ns: u64,
    /// When its last byte has arrived.
    pub end_ns: u64,
}

/// The arena of every path resource of a cluster, addressed by [`ResourceId`].
#[derive(Debug, Default)]
pub struct Resources {
    items: Vec<Box<dyn TransferResource>>,
}

impl Resources {
    /// Adds a resource.
    pub fn add(&mut self, resource: Box<dyn TransferResource>) -> ResourceId {
        self.items.push(resource);
        ResourceId(u32::try_from(self.items.len() - 1).expect("fewer than 2^32 resources"))
    }

    /// The resource `id`.
    pub fn get(&self, id: ResourceId) -> &dyn TransferResource {
        self.items[id.0 as usize].as_ref()
    }

    /// Reserves a transfer of `bytes` through `path` at `now_ns` (see the [module
    /// docs](self)). An empty path or zero bytes takes no time.
    pub fn transfer(&mut self, path: &[ResourceId], now_ns: u64, bytes: u64) -> Transfer {
        if path.is_empty() || bytes == 0 {
            return Transfer {
                start_ns: now_ns,
                end_ns: now_ns,
            };
        }
        let mut start = now_ns;
        let mut bandwidth = f64::INFINITY;
        let mut latency = 0u64;
        for &id in path {
            let r = self.get(id);
            start = start.max(r.next_free_ns());
            bandwidth = bandwidth.min(r.bandwidth_bytes_per_s());
            latency += r.latency_ns();
        }
        let busy_until = start + (bytes as f64 / bandwidth * 1e9).ceil() as u64;
        for &id in path {
            let r = &mut self.items[id.0 as usize];
            r.occupy(start, busy_until);
            r.carry(bytes);
        }
        Transfer {
            start_ns: start,
            end_ns: busy_until + latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn server(gb_per_s: f64, latency_ns: u64) -> Box<dyn TransferResource> {
        Box::new(FifoServer::new("s", gb_per_s * 1e9, latency_ns))
    }

    /// PCIe at 50 GB/s and an SSD at 5 GB/s, 1 us each. One 64 MiB block SSD -> HBM:
    /// 67,108,864 B / 5e9 B/s = 13,421,773 ns (rounded up) + 2,000 ns of latency. A second one
    /// reserved at the same time queues behind it; a DRAM -> HBM load (PCIe only) reserved then
    /// queues behind both on the PCIe link.
    #[test]
    fn hand_worked_contention() {
        let mut rs = Resources::default();
        let pcie = rs.add(server(50.0, 1_000));
        let ssd = rs.add(server(5.0, 1_000));
        let block = 64 << 20;
        let a = rs.transfer(&[ssd, pcie], 0, block);
        assert_eq!(
            a,
            Transfer {
                start_ns: 0,
                end_ns: 13_421_773 + 2_000
            }
        );
        let b = rs.transfer(&[ssd, pcie], 0, block);
        assert_eq!(b.start_ns, 13_421_773);
        assert_eq!(b.end_ns, 2 * 13_421_773 + 2_000);
        let c = rs.transfer(&[pcie], 0, block);
        // 67,108,864 / 50e9 = 1,342,177.28 -> 1,342,178 ns.
        assert_eq!(c.start_ns, 2 * 13_421_773);
        assert_eq!(c.end_ns, 2 * 13_421_773 + 1_342_178 + 1_000);
        assert_eq!(rs.get(pcie).bytes_carried(), 3 * block);
        assert_eq!(rs.transfer(&[], 7, block).end_ns, 7);
    }

    proptest! {
        /// Against a slow model that keeps every reservation: no two transfers overlap on a
        /// resource, each starts no earlier than asked, and a transfer alone on its path takes
        /// bytes / min bandwidth + latencies.
        #[test]
        fn reservations_never_overlap(
            transfers in prop::collection::vec((0..3usize, 0..3usize, 0..1_000_000u64, 1..10_000_000u64), 1..40)
        ) {
            let mut rs = Resources::default();
            let ids: Vec<ResourceId> = (0..3u64).map(|i| rs.add(server(1.0 + i as f64, 100 * i))).collect();
            let mut busy: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 3];
            let mut now = 0;
            for (a, b, dt, bytes) in transfers {
                now += dt;
                let path: Vec<ResourceId> = if a == b { vec![ids[a]] } else { vec![ids[a], ids[b]] };
                let t = rs.transfer(&path, now, bytes);
                prop_assert!(t.start_ns >= now);
                let min_bw = path.iter().map(|&i| rs.get(i).bandwidth_bytes_per_s()).fold(f64::INFINITY, f64::min);
                let hold = (bytes as f64 / min_bw * 1e9).ceil() as u64;
                let latency: u64 = path.iter().map(|&i| rs.get(i).latency_ns()).sum();
                prop_assert_eq!(t.end_ns, t.start_ns + hold + latency);
                for &id in &path {
                    let spans = &mut busy[id.0 as usize];
                    for &(s, e) in spans.iter() {
                        prop_assert!(t.start_ns >= e || t.start_ns + hold <= s, "overlap");
                    }
                    spans.push((t.start_ns, t.start_ns + hold));
                }
            }
        }
    }
}
