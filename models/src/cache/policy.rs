//! [`EvictionPolicy`]: which evictable block goes when the cache needs room.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{BlockId, LruPolicy};

/// What the cache knows about a block when it hands it to a policy. LRU ignores it; other
/// policies need it: prefix-aware LRU and cost-aware policies weigh `depth` (a deep block is
/// cheap to lose, as only longer prompts reuse it, and its recompute cost grows with the
/// context before it), Belady looks up the next use after `now_ns`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockMeta {
    /// Position of the block in its prefix chain (0 = a prompt's first block).
    pub depth: u32,
    /// Simulated time of the call, nanoseconds since the start of the run.
    pub now_ns: u64,
}

/// Why a block enters the policy's evictable set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsertReason {
    /// The block is new to the cache and nobody uses it (prefetched, or written back).
    Admitted,
    /// The block was pinned and its last user released it.
    Unpinned,
}

/// Why a block leaves the policy's evictable set other than as a victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemoveReason {
    /// A request pinned it; it stays resident and comes back with [`InsertReason::Unpinned`].
    /// Frequency-based policies keep its history.
    Pinned,
    /// It leaves the cache (invalidation, or a move to another tier). Policies may forget it.
    Dropped,
}

/// Chooses eviction victims among the *evictable* blocks of one cache tier.
///
/// # Contract
///
/// The policy holds exactly the blocks that are resident and not pinned, following vLLM's
/// free-block queue: a block that a running request uses (reference count > 0) is removed from
/// the policy ([`remove`](Self::remove) with [`RemoveReason::Pinned`]) and is re-inserted when
/// its last user releases it ([`insert`](Self::insert) with [`InsertReason::Unpinned`]). The
/// policy therefore never has to skip pinned blocks, and [`pop_victim`](Self::pop_victim) is
/// always safe to obey. The owning cache ([`PrefixCache`](super::PrefixCache)) keeps resident
/// blocks and pin counts; a policy only orders.
///
/// * [`touch`](Self::touch) reports an access (a lookup hit) to any resident block, pinned or
///   not. Recency policies move an evictable block to the most-recent end and ignore blocks they
///   do not hold; frequency policies (LFU, S3-FIFO, ARC) count every touch.
/// * Calls never fail: inserting a held block refreshes it like a touch; removing or touching a
///   block the policy does not hold does nothing.
/// * Victims leave the cache; a policy may remember them as ghosts (S3-FIFO, ARC).
/// * Policies are deterministic: the same calls give the same victims.
pub trait EvictionPolicy: Send + fmt::Debug {
    /// Short name for reports, e.g. `lru`.
    fn name(&self) -> &'static str;

    /// Makes `block` evictable.
    fn insert(&mut self, block: BlockId, meta: BlockMeta, reason: InsertReason);

    /// Records an access to a resident block (evictable or pinned).
    fn touch(&mut self, block: BlockId, meta: BlockMeta);

    /// Takes `block` out of the evictable set; true if the policy held it.
    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool;

    /// Chooses a victim, removes it from the policy and returns it; `None` when nothing is
    /// evictable.
    fn pop_victim(&mut self, now_ns: u64) -> Option<BlockId>;

    /// Evictable blocks held.
    fn len(&self) -> usize;

    /// True when nothing is evictable.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `block` is in the evictable set.
    fn contains(&self, block: BlockId) -> bool;
}

/// Eviction policy choice, as scenarios write it (`eviction: { kind: lru }`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EvictionConfig {
    /// Least recently used ([`LruPolicy`]).
    #[default]
    Lru,
}

impl EvictionConfig {
    /// A fresh policy for a cache of `capacity_blocks` (used to size its tables up front).
    pub fn build(&self, capacity_blocks: usize) -> Box<dyn EvictionPolicy> {
        match self {
            EvictionConfig::Lru => Box::new(LruPolicy::with_capacity(capacity_blocks)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_yaml() {
        let c: EvictionConfig = serde_norway::from_str("kind: lru").unwrap();
        assert_eq!(c, EvictionConfig::Lru);
        assert_eq!(c.build(8).name(), "lru");
        let err = serde_norway::from_str::<EvictionConfig>("kind: lfu").unwrap_err();
        assert!(err.to_string().contains("lru"), "{err}");
    }
}
