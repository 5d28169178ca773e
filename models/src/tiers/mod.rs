//! KV cache tiers below HBM: host DRAM, local NVMe SSD and a remote memory pool, the movement
//! of blocks between them, and what each move costs on the links it crosses.
//!
//! ```text
//!   per instance                                           per cluster (or per instance)
//!   ┌──────────┐ PCIe (gen, lanes) ┌──────┐   ┌─────┐       ┌─────────────────────────┐
//!   │ HBM      │◀─────────────────▶│ DRAM │   │ SSD │       │ remote pool (memory     │
//!   │ (cache:: │◀──────── PCIe ────┴──────┴──▶│     │       │ nodes, Mooncake Store)  │
//!   │ Prefix-  │◀── PCIe ── NIC ─── fabric ─────────────────▶│ shared: global mode     │
//!   │ Cache)   │                                             └─────────────────────────┘
//!   └──────────┘
//! ```
//!
//! * HBM stays the simulator's [`PrefixCache`](crate::cache::PrefixCache), with pins; the
//!   tiers below are [`BlockStore`]s (no pins), each with its own
//!   [`EvictionPolicy`](crate::cache::EvictionPolicy) and capacity, gathered for a cluster in
//!   a [`TierHierarchy`], which also owns the path resources.
//! * Configuration: [`TierConfig`] per tier (capacity, read/write bandwidth, latency, policy,
//!   write-back or write-through, shared pool or not), [`LinkConfig`] (PCIe generation and
//!   lanes, NIC rate), [`PlacementConfig`] (cascade, or hotness-aware), [`LoadOverlap`].
//!   Defaults and their sources are on [`TierKind::defaults`] and [`LinkConfig`].
//! * Costs: every move is a transfer reserved on [`FifoServer`]s (bandwidth, latency,
//!   next-free time), so moves on a common link contend. The remote pool's links sit behind
//!   the [`TransferResource`] trait so that the RDMA network model (fair-share links, on
//!   another branch) can take their place later; the pool's metadata lookup is modelled as
//!   taking no time until the metadata-service model lands.
//!
//! ```
//! use kvcsim_models::cache::{BlockId, BlockMeta, EvictionConfig};
//! use kvcsim_models::tiers::{
//!     LinkConfig, LoadOverlap, PlacementConfig, TierConfig, TierHierarchy, TierKind, TierSetup,
//! };
//!
//! let dram = TierConfig {
//!     kind: TierKind::Dram, capacity_blocks: Some(4), capacity_gb: None, read_gb_per_s: None,
//!     write_gb_per_s: None, latency_us: None, eviction: EvictionConfig::Lru,
//!     write: Default::default(), shared: None,
//! };
//! let setup = TierSetup {
//!     tiers: vec![dram.resolve(64 << 20).unwrap()],
//!     placement: PlacementConfig::Cascade, links: LinkConfig::default(),
//!     overlap: LoadOverlap::None, instances: 1, tensor_parallel: 1,
//!     block_bytes: 64 << 20, layers: 32,
//! };
//! let mut tiers = TierHierarchy::new(&setup, None).unwrap();
//! let chain = [BlockId(7), BlockId(8)];
//! // HBM evicts block 7: written back to DRAM.
//! tiers.evicted_from_hbm(0, chain[0], BlockMeta { depth: 0, parent: None, now_ns: 0 });
//! assert_eq!(tiers.continuation(0, &chain, 0), 1);
//! // A later request finds it there and loads it: 64 MiB over PCIe Gen5 x16 (50.4 GB/s
//! // achieved) takes 1.33 ms.
//! let load = tiers.load(0, &chain, 0, 1, 10_000_000);
//! assert_eq!(load.blocks[1], 1);
//! assert!((load.ready_ns - 10_000_000) as f64 / 1e6 > 1.3);
//! ```

mod config;
mod hierarchy;
mod resource;
mod store;

pub use config::{
    LinkConfig, LoadOverlap, PlacementConfig, TierConfig, TierKind, TierSpec, WritePolicy,
};
pub use hierarchy::{
    HBM, Load, TIER_NAMES, TierCounters, TierError, TierHierarchy, TierSetup, tier_index,
};
pub use resource::{FifoServer, ResourceId, Resources, Transfer, TransferResource};
pub use store::BlockStore;

#[cfg(test)]
mod tests;
