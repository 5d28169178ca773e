//! Per-instance prefix cache of KV blocks, and eviction policies.
//!
//! A prompt is cut into fixed-size blocks of tokens; each block is named by a prefix-chained
//! hash ([`BlockId`]), so a request can reuse the KV of the longest run of leading blocks that
//! an instance still holds (vLLM's automatic prefix caching, SGLang's RadixAttention).
//!
//! ```text
//!            insert(Admit::Pinned)             last unpin
//!  (absent) ───────────────────────▶ PINNED ──────────────▶ EVICTABLE ──pop_victim──▶ (absent)
//!     │                            refs > 0   ◀──────────────  refs = 0
//!     │                            not in the       pin        in the policy
//!     │                            policy, never                  ▲
//!     │                            evicted                        │
//!     └──────────────── insert(Admit::Evictable) ─────────────────┘
//! ```
//!
//! * [`PrefixCache`] owns residency and pin counts and the capacity shared with private
//!   (uncacheable) blocks; it asks an [`EvictionPolicy`] for victims.
//! * [`EvictionPolicy`] orders the evictable blocks only; [`EvictionConfig`] names the
//!   policies: [`LruPolicy`], [`FifoPolicy`], [`LfuPolicy`] (LFU with dynamic aging),
//!   [`S3FifoPolicy`], [`ArcPolicy`], [`PrefixLruPolicy`] (leaves first), [`CostAwarePolicy`]
//!   (GreedyDual-Size-Frequency with recompute cost) and [`BeladyPolicy`] (offline optimum,
//!   from [`FutureUses`]). Each is O(1) or O(log n) per call and is checked against a slow
//!   reference implementation on random sequences.
//! * [`replay`] runs a trace's block chains through one cache with no timing (`kvcsim cache
//!   replay`), with the semantics of `kvcsim trace stats --lru`.
//! * [`capacity_from_hbm`] sizes a cache from hardware profiles.
//!
//! Further tiers (host DRAM, SSD, remote) will be more `PrefixCache`-like tiers with their own
//! policies; a block leaving one tier by [`PrefixCache::remove`] or as a victim can be offered
//! to the next.
//!
//! ```
//! use kvcsim_models::cache::{Admit, BlockId, PrefixCache};
//!
//! let mut cache = PrefixCache::with_lru(2);
//! let prompt = [BlockId(10), BlockId(11)];
//! assert_eq!(cache.lookup(&prompt, 0), 0);
//! for (depth, &block) in prompt.iter().enumerate() {
//!     let parent = depth.checked_sub(1).map(|p| prompt[p]);
//!     cache.insert(block, parent, depth as u32, 0, Admit::Pinned).unwrap();
//! }
//! cache.unpin(&prompt, 1_000).unwrap(); // request finished: blocks stay, now evictable
//! assert_eq!(cache.lookup(&[BlockId(10), BlockId(11), BlockId(12)], 2_000), 2);
//! ```

/// Most entries a cache table is sized for up front. A cache's capacity is a limit, not an
/// allocation: tables start at `min(capacity, PRESIZE_MAX_ENTRIES)` and grow with the blocks
/// actually held, so `capacity_blocks: 1e18` costs no more memory than the blocks a trace
/// touches. 2^20 entries is about 50 MiB of the largest table (ARC's, two slab nodes and two
/// index slots of about 24 bytes per block).
pub const PRESIZE_MAX_ENTRIES: usize = 1 << 20;

/// The up-front size of a table for a cache of `capacity` entries.
pub(crate) fn presize(capacity: usize) -> usize {
    capacity.min(PRESIZE_MAX_ENTRIES)
}

mod arc;
mod belady;
mod block;
mod capacity;
mod cost_aware;
mod fifo;
mod greedy_dual;
mod lfu;
mod list;
mod locator;
mod lru;
mod policy;
mod prefix;
mod prefix_lru;
mod replay;
mod s3fifo;
#[cfg(test)]
mod testing;

pub use arc::ArcPolicy;
pub use belady::{BeladyPolicy, FutureUses};
pub use block::{BlockHasher, BlockId, BlockMap};
pub use capacity::{CapacityError, MemoryReserve, capacity_from_hbm};
pub use cost_aware::{CostAwarePolicy, LLAMA_8B_ATTENTION_WEIGHT};
pub use fifo::FifoPolicy;
pub use lfu::LfuPolicy;
pub use locator::BlockLocator;
pub use lru::LruPolicy;
pub use policy::{
    BlockMeta, EvictionConfig, EvictionPolicy, InsertReason, PolicyError, RemoveReason,
};
pub use prefix::{Admit, CacheError, CacheFull, CacheStats, InsertOutcome, PrefixCache};
pub use prefix_lru::PrefixLruPolicy;
pub use replay::{ReplayResult, ReplayTrace, replay, replay_config, replay_each};
pub use s3fifo::S3FifoPolicy;
