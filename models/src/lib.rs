//! kvcsim-models: pure component models of an LLM serving cluster, for the kvcsim simulator.
//!
//! Nothing here owns an event queue or a clock. Given state and, where it matters, the current
//! time (`now_ns`, integer nanoseconds), a model answers what happens and how long it takes;
//! the simulator's world turns the answers into events. Physics are `*Model` traits
//! ([`gpu::GpuModel`]), decisions are `*Policy` traits ([`cache::EvictionPolicy`],
//! [`routing::RoutingPolicy`]); all are testable without an engine.
//!
//! ```text
//!        hardware::{LlmSpec, GpuSpec}  (YAML profiles, embedded; instance = LLM on tp GPUs)
//!              │                                   │
//!              ▼                                   ▼
//!   gpu::RooflineGpuModel                 cache::capacity_from_hbm ──▶ capacity in blocks
//!   Batch { prefills: (new, cached),               │
//!           decodes: context }                     ▼
//!              │ iteration_time (s)       cache::PrefixCache ◀──▶ cache::EvictionPolicy (LRU)
//!              ▼                          lookup / pin / unpin / insert ──▶ evicted victims
//!   the world schedules the                        │ longest_prefix = cached_prefix_blocks
//!   iteration's end event                          ▼
//!                                         routing::RoutingPolicy ──▶ instance index
//! ```
//!
//! * [`hardware`]: model and GPU profiles, loaded by name or from a file.
//! * [`gpu`]: the iteration-time model (roofline with efficiency factors).
//! * [`cache`]: the per-instance prefix cache, pin counts, eviction policies, HBM sizing.
//! * [`routing`]: choice of instance for a new request.
//! * [`net`]: network and RDMA verbs model (PCIe, RNIC, links, switches; IB, RoCE, EFA, TCP).
//! * [`perftest`]: parser of perftest output and calibration of network profiles.
//! * [`tiers`]: DRAM, SSD and remote-pool tiers below HBM, block movement and transfer costs.
//!
//! Units: durations are `f64` seconds (the caller converts once to its integer time), times
//! passed in are `u64` nanoseconds (`now_ns`), sizes are bytes (`*_bytes`) or blocks.
#![warn(missing_docs)]

pub mod cache;
pub mod decode_select;
pub mod gpu;
pub mod hardware;
pub mod metadata;
pub mod net;
pub mod perftest;
pub mod routing;
pub mod scheduler;
pub mod tiers;
