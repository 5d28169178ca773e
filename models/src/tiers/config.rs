//! Tier and link configuration as scenarios write it, the documented defaults with their
//! sources, and the validated [`TierSpec`].

use serde::{Deserialize, Serialize};

use crate::cache::EvictionConfig;
use crate::hardware::InvalidField;

/// A storage tier below HBM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TierKind {
    /// Host DRAM of the instance's server, over the GPU's PCIe link.
    Dram,
    /// Local NVMe SSD of the instance's server.
    Ssd,
    /// A memory pool on memory nodes, over RDMA (Mooncake Store style).
    Remote,
}

impl TierKind {
    /// Name for reports and column prefixes.
    pub fn name(self) -> &'static str {
        match self {
            TierKind::Dram => "dram",
            TierKind::Ssd => "ssd",
            TierKind::Remote => "remote",
        }
    }

    /// Default (read, write) bandwidth in GB/s (1e9 B/s) and latency in microseconds.
    ///
    /// * DRAM: 77 GB/s both ways, 0.1 us. A DGX H100 has two Xeon 8480C sockets with eight
    ///   DDR5-4800 channels each (8 x 38.4 = 307 GB/s per socket, NVIDIA DGX H100 user guide
    ///   and Intel ark) shared by four GPUs: 77 GB/s each. The GPU's PCIe link (below) is
    ///   slower, so it is the limit anyway.
    /// * SSD: 6.9 GB/s read, 4.1 GB/s write, 80 us: Samsung PM9A3 U.2 (PCIe Gen4 x4) product
    ///   brief, sequential read up to 6,900 MB/s and write up to 4,100 MB/s; a 64 MiB KV block
    ///   is a large sequential transfer, so the queue depth needed to reach them is assumed.
    ///   The latency is an assumption (typical 4 KiB random-read latency of datacenter TLC
    ///   NVMe, tens to a hundred microseconds), negligible against a block's transfer time.
    /// * Remote: 98 GB/s both ways, 5 us: memory nodes with two 400 Gb/s NDR ports (ConnectX-7;
    ///   perftest `ib_write_bw` measured 392 Gb/s on one, `../shared/calibration`), and an RDMA
    ///   read round trip of a few microseconds plus a switch hop (same file: 1.3-2 us per
    ///   small round trip on recent NICs; 5 us is a conservative assumption).
    pub fn defaults(self) -> (f64, f64, f64) {
        match self {
            TierKind::Dram => (77.0, 77.0, 0.1),
            TierKind::Ssd => (6.9, 4.1, 80.0),
            TierKind::Remote => (98.0, 98.0, 5.0),
        }
    }
}

/// When blocks are written into a tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WritePolicy {
    /// Blocks arrive when the tier above evicts them (write-back; the default).
    #[default]
    Eviction,
    /// Every block a prefill computes is also written here when the prefill ends
    /// (write-through, as Mooncake Store puts prefill outputs into the pool), besides evictions.
    Computed,
}

/// One tier below HBM, as a scenario writes it (`cache.tiers: [{ kind: dram, capacity_gb: 256 }]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// `dram`, `ssd` or `remote`.
    pub kind: TierKind,
    /// Capacity in KV blocks (give this or `capacity_gb`). For a shared remote pool, the
    /// pool's total; for per-instance (local) pools, split evenly over the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_blocks: Option<u64>,
    /// Capacity in GB (1e9 bytes), turned into blocks of the model's block size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_gb: Option<f64>,
    /// Read bandwidth, GB/s. Default by kind ([`TierKind::defaults`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_gb_per_s: Option<f64>,
    /// Write bandwidth, GB/s. Default by kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_gb_per_s: Option<f64>,
    /// Access latency, microseconds. Default by kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<f64>,
    /// Eviction policy of this tier. Default LRU.
    #[serde(default)]
    pub eviction: EvictionConfig,
    /// When blocks are written here. Default `eviction`.
    #[serde(default)]
    pub write: WritePolicy,
    /// Remote only: one pool for the whole cluster (global mode: a block computed on one
    /// instance is found by the others, through a metadata lookup modelled as taking no
    /// time) rather than one pool share per instance. Default true for `remote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
}

/// The links a block crosses, per instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// PCIe generation of the GPU's host link (3, 4, 5 or 6). Default 5 (H100 SXM).
    #[serde(default = "default_pcie_gen")]
    pub pcie_gen: u8,
    /// PCIe lanes. Default 16.
    #[serde(default = "default_pcie_lanes")]
    pub pcie_lanes: u8,
    /// Achieved fraction of the PCIe data rate. Default 0.8: CUDA `bandwidthTest` with pinned
    /// memory reaches about 25 GB/s on Gen4 x16 (A100) and about 50 GB/s on Gen5 x16 (H100)
    /// of 31.5 and 63 GB/s; TLP headers and flow control take the rest.
    #[serde(default = "default_pcie_efficiency")]
    pub pcie_efficiency: f64,
    /// Latency of one DMA transfer over PCIe, microseconds. Default 1 (assumption: a few
    /// hundred nanoseconds of PCIe round trips plus the copy engine's setup).
    #[serde(default = "one")]
    pub pcie_latency_us: f64,
    /// The instance's NIC towards the remote pool, Gb/s. Default 400 (one ConnectX-7 NDR per
    /// GPU, as in Mooncake's and DGX H100's nodes).
    #[serde(default = "default_nic")]
    pub nic_gbit_per_s: f64,
    /// Achieved fraction of the NIC's line rate. Default 0.98 (perftest `ib_write_bw`,
    /// 392.3 of 400 Gb/s at 64 KiB, `../shared/calibration/RDMA_REFERENCE_FIGURES.md`).
    #[serde(default = "default_nic_efficiency")]
    pub nic_efficiency: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            pcie_gen: default_pcie_gen(),
            pcie_lanes: default_pcie_lanes(),
            pcie_efficiency: default_pcie_efficiency(),
            pcie_latency_us: 1.0,
            nic_gbit_per_s: default_nic(),
            nic_efficiency: default_nic_efficiency(),
        }
    }
}

fn default_pcie_gen() -> u8 {
    5
}
fn default_pcie_lanes() -> u8 {
    16
}
fn default_pcie_efficiency() -> f64 {
    0.8
}
fn one() -> f64 {
    1.0
}
fn default_nic() -> f64 {
    400.0
}
fn default_nic_efficiency() -> f64 {
    0.98
}

impl LinkConfig {
    /// PCIe data rate of one direction, bytes/s, before efficiency: transfer rate per lane
    /// (Gen3 8, Gen4 16, Gen5 32, Gen6 64 GT/s) x lanes x encoding (128b/130b for Gen3-5;
    /// Gen6's FLIT mode, 242/256, is taken as 1) / 8 bits. Gen4 x16 = 31.5 GB/s, Gen5 x16 =
    /// 63.0 GB/s (PCI-SIG specifications).
    pub fn pcie_raw_bytes_per_s(&self) -> Result<f64, InvalidField> {
        let (gt_per_s, encoding) = match self.pcie_gen {
            3 => (8e9, 128.0 / 130.0),
            4 => (16e9, 128.0 / 130.0),
            5 => (32e9, 128.0 / 130.0),
            6 => (64e9, 1.0),
            g => return Err(InvalidField::new("pcie_gen", g, "must be 3, 4, 5 or 6")),
        };
        Ok(gt_per_s * f64::from(self.pcie_lanes) * encoding / 8.0)
    }

    /// Achieved PCIe bandwidth of one direction, bytes/s.
    pub fn pcie_bytes_per_s(&self) -> Result<f64, InvalidField> {
        Ok(self.pcie_raw_bytes_per_s()? * self.pcie_efficiency)
    }

    /// Achieved NIC bandwidth of one direction, bytes/s.
    pub fn nic_bytes_per_s(&self) -> f64 {
        self.nic_gbit_per_s * 1e9 / 8.0 * self.nic_efficiency
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), InvalidField> {
        self.pcie_raw_bytes_per_s()?;
        if !matches!(self.pcie_lanes, 1 | 2 | 4 | 8 | 16) {
            return Err(InvalidField::new(
                "pcie_lanes",
                self.pcie_lanes,
                "must be 1, 2, 4, 8 or 16",
            ));
        }
        for (field, v) in [
            ("pcie_efficiency", self.pcie_efficiency),
            ("nic_efficiency", self.nic_efficiency),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(InvalidField::new(field, v, "must be in (0, 1]"));
            }
        }
        if !(self.nic_gbit_per_s.is_finite() && self.nic_gbit_per_s > 0.0) {
            return Err(InvalidField::new(
                "nic_gbit_per_s",
                self.nic_gbit_per_s,
                "must be positive",
            ));
        }
        if !(self.pcie_latency_us.is_finite() && self.pcie_latency_us >= 0.0) {
            return Err(InvalidField::new(
                "pcie_latency_us",
                self.pcie_latency_us,
                "must be non-negative",
            ));
        }
        Ok(())
    }
}

/// Where evicted and loaded blocks go (see [`TierHierarchy`](super::TierHierarchy)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PlacementConfig {
    /// A block evicted from a tier goes to the next tier down; loads copy into HBM only.
    #[default]
    Cascade,
    /// Hotness-aware: a block found by at least `hot_hits` lookups is hot. A cold block evicted
    /// from HBM skips the first lower tier (goes to the one after, or is dropped), so cold
    /// blocks do not push hot ones out of the fast tier; a hot block loaded from below the
    /// first lower tier is also copied into it (replicated closer to the GPU).
    Hotness {
        /// Lookups that must have found a block for it to be hot. Default 2.
        #[serde(default = "default_hot_hits")]
        hot_hits: u32,
    },
}

fn default_hot_hits() -> u32 {
    2
}

/// How a load overlaps the prefill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadOverlap {
    /// The prefill starts when every block has arrived (the default).
    #[default]
    None,
    /// Layer by layer (LMCache's layerwise mode): the prefill waits for the first layer's
    /// share of the load only, `load / layers`, and the rest is assumed hidden under the
    /// computation (optimistic when loading is slower than computing). The path is still
    /// held for the whole load.
    Layerwise,
}

/// A validated tier.
#[derive(Clone, Debug, PartialEq)]
pub struct TierSpec {
    /// Kind.
    pub kind: TierKind,
    /// Capacity of one store, blocks (the pool's total when shared).
    pub capacity_blocks: u64,
    /// Read bandwidth, bytes/s.
    pub read_bytes_per_s: f64,
    /// Write bandwidth, bytes/s.
    pub write_bytes_per_s: f64,
    /// Latency, ns.
    pub latency_ns: u64,
    /// Eviction policy.
    pub eviction: EvictionConfig,
    /// When blocks are written here.
    pub write: WritePolicy,
    /// One store for the cluster.
    pub shared: bool,
}

impl TierConfig {
    /// Resolves defaults and units, with `block_bytes` bytes per KV block.
    pub fn resolve(&self, block_bytes: u64) -> Result<TierSpec, InvalidField> {
        let (read, write, latency) = self.kind.defaults();
        let positive = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(InvalidField::new(field, v, "must be positive and finite"))
            }
        };
        let capacity_blocks = match (self.capacity_blocks, self.capacity_gb) {
            (Some(b), None) => b,
            (None, Some(gb)) => (positive("capacity_gb", gb)? * 1e9 / block_bytes as f64) as u64,
            (Some(b), Some(gb)) => {
                return Err(InvalidField::new(
                    "capacity_blocks, capacity_gb",
                    format!("{b} and {gb}"),
                    "both are given; give exactly one of capacity_blocks and capacity_gb",
                ));
            }
            (None, None) => {
                return Err(InvalidField::new(
                    "capacity_blocks, capacity_gb",
                    "(neither)",
                    "give exactly one of capacity_blocks and capacity_gb",
                ));
            }
        };
        let latency_us = self.latency_us.unwrap_or(latency);
        if !(latency_us.is_finite() && latency_us >= 0.0) {
            return Err(InvalidField::new(
                "latency_us",
                latency_us,
                "must be non-negative",
            ));
        }
        self.eviction.validate()?;
        let shared = self.shared.unwrap_or(self.kind == TierKind::Remote);
        if shared && self.kind != TierKind::Remote {
            return Err(InvalidField::new(
                "shared",
                self.kind.name(),
                "only a remote pool can be shared",
            ));
        }
        Ok(TierSpec {
            kind: self.kind,
            capacity_blocks,
            read_bytes_per_s: (positive("read_gb_per_s", self.read_gb_per_s.unwrap_or(read))?
                * 1e9)
                .round(),
            write_bytes_per_s: (positive("write_gb_per_s", self.write_gb_per_s.unwrap_or(write))?
                * 1e9)
                .round(),
            latency_ns: (latency_us * 1e3).round() as u64,
            eviction: self.eviction,
            write: self.write,
            shared,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcie_rates_by_generation() {
        let gen4 = LinkConfig {
            pcie_gen: 4,
            ..Default::default()
        };
        // 16 GT/s x 16 lanes x 128/130 / 8 = 31.51 GB/s.
        assert!((gen4.pcie_raw_bytes_per_s().unwrap() / 1e9 - 31.5077).abs() < 1e-3);
        let gen5 = LinkConfig::default();
        assert!((gen5.pcie_bytes_per_s().unwrap() / 1e9 - 50.412).abs() < 1e-2);
        assert!((gen5.nic_bytes_per_s() / 1e9 - 49.0).abs() < 1e-9);
        let bad = LinkConfig {
            pcie_gen: 7,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn tier_from_yaml_with_defaults() {
        let t: TierConfig = serde_norway::from_str("kind: ssd\ncapacity_gb: 3840").unwrap();
        // 3,840e9 B / 64 MiB blocks = 57,220.4 -> 57,220.
        let spec = t.resolve(64 << 20).unwrap();
        assert_eq!(spec.capacity_blocks, 57_220);
        assert_eq!(
            (spec.read_bytes_per_s, spec.write_bytes_per_s),
            (6.9e9, 4.1e9)
        );
        assert_eq!(spec.latency_ns, 80_000);
        assert!(!spec.shared);
        let pool: TierConfig = serde_norway::from_str("kind: remote\ncapacity_blocks: 10").unwrap();
        assert!(pool.resolve(1).unwrap().shared);
        let err = serde_norway::from_str::<TierConfig>("kind: dram\ncapacity: 3").unwrap_err();
        assert!(err.to_string().contains("capacity_blocks"), "{err}");
        let both: TierConfig =
            serde_norway::from_str("kind: dram\ncapacity_blocks: 3\ncapacity_gb: 1").unwrap();
        let err = both.resolve(1).unwrap_err().to_string();
        assert!(
            err.contains("3 and 1") && err.contains("both are given"),
            "{err}"
        );
        let neither: TierConfig = serde_norway::from_str("kind: ssd").unwrap();
        let err = neither.resolve(1).unwrap_err().to_string();
        assert!(err.contains("(neither)") && !err.contains("ssd"), "{err}");
        let shared_dram: TierConfig =
            serde_norway::from_str("kind: dram\ncapacity_blocks: 3\nshared: true").unwrap();
        assert!(shared_dram.resolve(1).is_err());
    }

    #[test]
    fn placement_from_yaml() {
        let p: PlacementConfig = serde_norway::from_str("kind: hotness").unwrap();
        assert_eq!(p, PlacementConfig::Hotness { hot_hits: 2 });
        let p: PlacementConfig = serde_norway::from_str("kind: cascade").unwrap();
        assert_eq!(p, PlacementConfig::Cascade);
    }
}
