//! [`EvictionPolicy`]: which evictable block goes when the cache needs room, and
//! [`EvictionConfig`], the choice of policy as scenarios and `kvcsim cache replay` name it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ArcPolicy, BeladyPolicy, BlockId, CostAwarePolicy, FifoPolicy, FutureUses, LfuPolicy,
    LruPolicy, PrefixLruPolicy, S3FifoPolicy,
};
use crate::hardware::InvalidField;

/// What the cache knows about a block when it hands it to a policy. LRU ignores it; other
/// policies need it: prefix-aware LRU needs `parent` (a block is a leaf when no resident block
/// names it as parent), the cost-aware policy weighs `depth` (the recompute cost of a block
/// grows with the context before it), Belady looks up the next use after `now_ns`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockMeta {
    /// Position of the block in its prefix chain (0 = a prompt's first block).
    pub depth: u32,
    /// The block before it in its chain (`None` at depth 0). Prefix-chained ids have one parent
    /// each, so this is a property of the block.
    pub parent: Option<BlockId>,
    /// Simulated time of the call, nanoseconds since the start of the run (in a timing-free
    /// replay: the request's position in the trace).
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
/// * A pinned block keeps its history: position-keeping policies (FIFO, S3-FIFO) put it back
///   where it was, recency policies at the most recent end, frequency and priority policies
///   with the counts and priority its touches gave it.
/// * Policies are deterministic: the same calls give the same victims.
/// * Every call is O(1) or O(log n) in the number of blocks held (amortised for S3-FIFO's
///   reinsertions and Belady's refreshes, each bounded by the touches that cause them).
pub trait EvictionPolicy: Send + fmt::Debug {
    /// Short name for reports, e.g. `lru`.
    fn name(&self) -> &'static str;

    /// Makes `block` evictable.
    fn insert(&mut self, block: BlockId, meta: BlockMeta, reason: InsertReason);

    /// Records an access to a resident block (evictable or pinned).
    fn touch(&mut self, block: BlockId, meta: BlockMeta);

    /// Announces a miss: `block` is not resident, and the owner is about to make room for it
    /// ([`pop_victim`](Self::pop_victim)) and then [`insert`](Self::insert) it. ARC adapts its
    /// target size on a ghost hit here, before the eviction, as in the paper; other policies
    /// ignore it (default). Owners that cannot say which block an eviction makes room for
    /// (a cache inserting pinned blocks) may skip it; ARC then adapts at insertion.
    fn on_miss(&mut self, block: BlockId, meta: BlockMeta) {
        let _ = (block, meta);
    }

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

/// Eviction policy choice, as scenarios write it (`eviction: { kind: lru }`) and `kvcsim cache
/// replay --policy` names it. Parameters are optional; their defaults come from the sources
/// given on each policy's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "EvictionRepr", into = "EvictionRepr")]
pub enum EvictionConfig {
    /// Least recently used ([`LruPolicy`]).
    #[default]
    Lru,
    /// First in, first out ([`FifoPolicy`]).
    Fifo,
    /// Least frequently used with dynamic aging, LFU-DA ([`LfuPolicy`]).
    Lfu,
    /// S3-FIFO, Yang et al., SOSP'23 ([`S3FifoPolicy`]).
    S3fifo {
        /// Small queue's share of the capacity. Default 0.1 (the paper's 10%).
        #[serde(default = "default_small_fraction")]
        small_fraction: f64,
        /// Ghost queue length as a fraction of the capacity. Default 0.9 (the main queue's
        /// size, as in the paper's artifact, libCacheSim `S3FIFOv0`).
        #[serde(default = "default_ghost_fraction")]
        ghost_fraction: f64,
        /// Accesses while in the small queue that move a block to the main queue instead of
        /// evicting it. Default 2 (the paper's `t.freq > 1`; libCacheSim
        /// `move-to-main-threshold=2`).
        #[serde(default = "default_move_to_main")]
        move_to_main_threshold: u8,
    },
    /// Adaptive replacement cache, Megiddo and Modha, FAST'03 ([`ArcPolicy`]).
    Arc,
    /// LRU over leaf blocks only, so cached prefixes stay whole ([`PrefixLruPolicy`]).
    PrefixLru,
    /// GreedyDual-Size-Frequency with a recompute cost that grows with depth
    /// ([`CostAwarePolicy`]).
    CostAware {
        /// Recompute cost of a block's attention per block of context before it, relative to
        /// its linear layers. Default 0.0192 (Llama-3.1-8B, 512-token blocks; see
        /// [`CostAwarePolicy`]).
        #[serde(default = "default_attention_weight")]
        attention_weight: f64,
    },
    /// Belady's MIN, offline: evicts the block whose next use is farthest ([`BeladyPolicy`]).
    /// Needs the future ([`FutureUses`]).
    Belady,
}

/// The serde form of [`EvictionConfig`]. serde ignores unknown keys beside the tag of a unit
/// variant even with `deny_unknown_fields` (`{kind: lru, foo: 1}` was accepted); an empty struct
/// variant such as `Lru {}` rejects them, and writes the same `{kind: lru}`.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum EvictionRepr {
    Lru {},
    Fifo {},
    Lfu {},
    S3fifo {
        #[serde(default = "default_small_fraction")]
        small_fraction: f64,
        #[serde(default = "default_ghost_fraction")]
        ghost_fraction: f64,
        #[serde(default = "default_move_to_main")]
        move_to_main_threshold: u8,
    },
    Arc {},
    PrefixLru {},
    CostAware {
        #[serde(default = "default_attention_weight")]
        attention_weight: f64,
    },
    Belady {},
}

impl From<EvictionRepr> for EvictionConfig {
    fn from(r: EvictionRepr) -> Self {
        match r {
            EvictionRepr::Lru {} => EvictionConfig::Lru,
            EvictionRepr::Fifo {} => EvictionConfig::Fifo,
            EvictionRepr::Lfu {} => EvictionConfig::Lfu,
            EvictionRepr::S3fifo {
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            } => EvictionConfig::S3fifo {
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            },
            EvictionRepr::Arc {} => EvictionConfig::Arc,
            EvictionRepr::PrefixLru {} => EvictionConfig::PrefixLru,
            EvictionRepr::CostAware { attention_weight } => {
                EvictionConfig::CostAware { attention_weight }
            }
            EvictionRepr::Belady {} => EvictionConfig::Belady,
        }
    }
}

impl From<EvictionConfig> for EvictionRepr {
    fn from(c: EvictionConfig) -> Self {
        match c {
            EvictionConfig::Lru => EvictionRepr::Lru {},
            EvictionConfig::Fifo => EvictionRepr::Fifo {},
            EvictionConfig::Lfu => EvictionRepr::Lfu {},
            EvictionConfig::S3fifo {
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            } => EvictionRepr::S3fifo {
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            },
            EvictionConfig::Arc => EvictionRepr::Arc {},
            EvictionConfig::PrefixLru => EvictionRepr::PrefixLru {},
            EvictionConfig::CostAware { attention_weight } => {
                EvictionRepr::CostAware { attention_weight }
            }
            EvictionConfig::Belady => EvictionRepr::Belady {},
        }
    }
}

fn default_small_fraction() -> f64 {
    0.1
}
fn default_ghost_fraction() -> f64 {
    0.9
}
fn default_move_to_main() -> u8 {
    2
}
fn default_attention_weight() -> f64 {
    super::cost_aware::LLAMA_8B_ATTENTION_WEIGHT
}

/// A policy that cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// A parameter is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// Belady was asked for without the future accesses.
    #[error("the belady policy needs the future accesses (an offline replay of a known trace)")]
    NeedsFuture,
}

impl PolicyError {
    /// True: a parameter out of range, or Belady where no future is known, is the user's choice.
    pub fn is_user_error(&self) -> bool {
        match self {
            PolicyError::Invalid(_) | PolicyError::NeedsFuture => true,
        }
    }
}

impl EvictionConfig {
    /// Every policy with default parameters, in the order of `kvcsim cache replay`'s names.
    pub const ALL: [EvictionConfig; 8] = [
        EvictionConfig::Lru,
        EvictionConfig::Fifo,
        EvictionConfig::Lfu,
        EvictionConfig::S3fifo {
            small_fraction: 0.1,
            ghost_fraction: 0.9,
            move_to_main_threshold: 2,
        },
        EvictionConfig::Arc,
        EvictionConfig::PrefixLru,
        EvictionConfig::CostAware {
            attention_weight: super::cost_aware::LLAMA_8B_ATTENTION_WEIGHT,
        },
        EvictionConfig::Belady,
    ];

    /// The policy's name (the `kind`).
    pub fn name(&self) -> &'static str {
        match self {
            EvictionConfig::Lru => "lru",
            EvictionConfig::Fifo => "fifo",
            EvictionConfig::Lfu => "lfu",
            EvictionConfig::S3fifo { .. } => "s3fifo",
            EvictionConfig::Arc => "arc",
            EvictionConfig::PrefixLru => "prefix-lru",
            EvictionConfig::CostAware { .. } => "cost-aware",
            EvictionConfig::Belady => "belady",
        }
    }

    /// The policy of this name with default parameters.
    pub fn from_name(name: &str) -> Option<EvictionConfig> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the policy needs the future ([`FutureUses`]).
    pub fn is_offline(&self) -> bool {
        matches!(self, EvictionConfig::Belady)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidField> {
        match *self {
            EvictionConfig::S3fifo {
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            } => {
                if !(small_fraction > 0.0 && small_fraction < 1.0) {
                    return Err(InvalidField::new(
                        "small_fraction",
                        small_fraction,
                        "must be in (0, 1)",
                    ));
                }
                if !(ghost_fraction.is_finite() && ghost_fraction >= 0.0) {
                    return Err(InvalidField::new(
                        "ghost_fraction",
                        ghost_fraction,
                        "must be finite and non-negative",
                    ));
                }
                if !(1..=3).contains(&move_to_main_threshold) {
                    return Err(InvalidField::new(
                        "move_to_main_threshold",
                        move_to_main_threshold,
                        "must be 1, 2 or 3 (a 2-bit counter)",
                    ));
                }
                Ok(())
            }
            EvictionConfig::CostAware { attention_weight }
                if !(attention_weight.is_finite() && attention_weight >= 0.0) =>
            {
                Err(InvalidField::new(
                    "attention_weight",
                    attention_weight,
                    "must be finite and non-negative",
                ))
            }
            _ => Ok(()),
        }
    }

    /// A fresh policy for a cache of `capacity_blocks` (used to size its tables up front, and by
    /// S3-FIFO and ARC, whose queue sizes are fractions of the capacity). `future` is needed by
    /// Belady only.
    pub fn build(
        &self,
        capacity_blocks: usize,
        future: Option<&Arc<FutureUses>>,
    ) -> Result<Box<dyn EvictionPolicy>, PolicyError> {
        self.validate()?;
        Ok(match *self {
            EvictionConfig::Lru => Box::new(LruPolicy::with_capacity(capacity_blocks)),
            EvictionConfig::Fifo => Box::new(FifoPolicy::with_capacity(capacity_blocks)),
            EvictionConfig::Lfu => Box::new(LfuPolicy::with_capacity(capacity_blocks)),
            EvictionConfig::S3fifo {
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            } => Box::new(S3FifoPolicy::new(
                capacity_blocks,
                small_fraction,
                ghost_fraction,
                move_to_main_threshold,
            )),
            EvictionConfig::Arc => Box::new(ArcPolicy::new(capacity_blocks)),
            EvictionConfig::PrefixLru => Box::new(PrefixLruPolicy::with_capacity(capacity_blocks)),
            EvictionConfig::CostAware { attention_weight } => {
                Box::new(CostAwarePolicy::new(capacity_blocks, attention_weight))
            }
            EvictionConfig::Belady => Box::new(BeladyPolicy::new(
                capacity_blocks,
                Arc::clone(future.ok_or(PolicyError::NeedsFuture)?),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_in_a_policy_without_parameters_are_refused() {
        for text in [
            "{kind: lru, foo: 1}",
            "{kind: belady, x: 2}",
            "{kind: prefix-lru, a: b}",
        ] {
            let err = serde_norway::from_str::<EvictionConfig>(text).unwrap_err();
            assert!(err.to_string().contains("unknown field"), "{text}: {err}");
        }
        assert!(serde_norway::from_str::<EvictionConfig>("{kind: s3fifo, foo: 1}").is_err());
        let lru: EvictionConfig = serde_norway::from_str("{kind: lru}").unwrap();
        assert_eq!(lru, EvictionConfig::Lru);
        assert_eq!(serde_norway::to_string(&lru).unwrap(), "kind: lru\n");
        let s3: EvictionConfig = serde_norway::from_str("kind: s3fifo").unwrap();
        assert_eq!(s3, EvictionConfig::ALL[3]);
    }

    #[test]
    fn config_from_yaml() {
        let c: EvictionConfig = serde_norway::from_str("kind: lru").unwrap();
        assert_eq!(c, EvictionConfig::Lru);
        assert_eq!(c.build(8, None).unwrap().name(), "lru");
        let err = serde_norway::from_str::<EvictionConfig>("kind: lfru").unwrap_err();
        assert!(err.to_string().contains("prefix-lru"), "{err}");
        let c: EvictionConfig =
            serde_norway::from_str("kind: s3fifo\nsmall_fraction: 0.2").unwrap();
        assert_eq!(
            c,
            EvictionConfig::S3fifo {
                small_fraction: 0.2,
                ghost_fraction: 0.9,
                move_to_main_threshold: 2
            }
        );
        let err = serde_norway::from_str::<EvictionConfig>("kind: s3fifo\nsmal_fraction: 0.2")
            .unwrap_err();
        assert!(err.to_string().contains("small_fraction"), "{err}");
    }

    #[test]
    fn names_round_trip_and_build() {
        let future = Arc::new(FutureUses::default());
        for c in EvictionConfig::ALL {
            assert_eq!(EvictionConfig::from_name(c.name()), Some(c));
            let yaml = serde_norway::to_string(&c).unwrap();
            assert_eq!(serde_norway::from_str::<EvictionConfig>(&yaml).unwrap(), c);
            assert_eq!(c.build(16, Some(&future)).unwrap().name(), c.name());
        }
        assert_eq!(
            EvictionConfig::Belady.build(16, None).unwrap_err(),
            PolicyError::NeedsFuture
        );
        let bad = EvictionConfig::S3fifo {
            small_fraction: 1.5,
            ghost_fraction: 0.9,
            move_to_main_threshold: 2,
        };
        assert!(
            bad.build(16, None)
                .unwrap_err()
                .to_string()
                .contains("small_fraction")
        );
        let bad = EvictionConfig::CostAware {
            attention_weight: f64::NAN,
        };
        assert!(bad.validate().is_err());
    }
}
