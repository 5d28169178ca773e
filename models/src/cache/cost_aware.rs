//! [`CostAwarePolicy`]: GreedyDual-Size-Frequency with the recompute cost of a block, which
//! grows with the context before it.

use super::greedy_dual::GreedyDual;
use super::{BlockId, BlockMeta, EvictionPolicy, InsertReason, RemoveReason};

/// Attention cost per block of context relative to the linear-layer cost of one block, for
/// Llama-3.1-8B with 512-token blocks:
///
/// ```text
/// linear:     2 N B            FLOPs, N = 6,979,588,096 non-embedding parameters
/// attention:  4 L h d B^2 (depth + 1/2)   (L = 32 layers, h = 32 heads, d = 128)
/// weight = 4 L h d B / (2 N) = 524,288 * 512 / 13,959,176,192 = 0.01923
/// ```
///
/// (the same operator counts as the roofline GPU model, `crate::gpu`).
pub const LLAMA_8B_ATTENTION_WEIGHT: f64 = 0.01923;

/// Cost-aware eviction: GreedyDual-Size-Frequency (Cherkasova 1998; Arlitt et al. 2000, see
/// [`LfuPolicy`](super::LfuPolicy)) where every block has size 1 and a *recompute cost*, the
/// prefill FLOPs it takes to rebuild it, relative to a block's linear layers:
///
/// ```text
/// cost(depth) = 1 + attention_weight * (depth + 1/2)
/// H = L + freq * cost        victim = min H (ties: least recent), then L = H(victim)
/// ```
///
/// So the policy weighs recompute cost against reuse (`freq`) and age (`L`), per block (sizes
/// are equal). A deep block costs more to recompute (its attention reads a longer context) but
/// is reused only by prompts that share its whole prefix; the frequency term captures that.
/// The cost comes from [`BlockMeta::depth`] when the block is first inserted.
#[derive(Clone, Debug, Default)]
pub struct CostAwarePolicy {
    core: GreedyDual,
    attention_weight: f64,
}

impl CostAwarePolicy {
    /// An empty policy; `attention_weight` is the cost of attention per block of context
    /// ([`LLAMA_8B_ATTENTION_WEIGHT`] for Llama-3.1-8B at 512 tokens a block).
    pub fn new(capacity: usize, attention_weight: f64) -> Self {
        CostAwarePolicy {
            core: GreedyDual::with_capacity(capacity),
            attention_weight,
        }
    }

    /// Recompute cost of a block at `depth`, in units of one block's linear layers.
    pub fn cost(&self, depth: u32) -> f64 {
        1.0 + self.attention_weight * (f64::from(depth) + 0.5)
    }
}

impl EvictionPolicy for CostAwarePolicy {
    fn name(&self) -> &'static str {
        "cost-aware"
    }

    fn insert(&mut self, block: BlockId, meta: BlockMeta, _reason: InsertReason) {
        let cost = self.cost(meta.depth);
        self.core.insert(block, cost);
    }

    fn touch(&mut self, block: BlockId, _meta: BlockMeta) {
        self.core.touch(block);
    }

    fn remove(&mut self, block: BlockId, reason: RemoveReason) -> bool {
        self.core.remove(block, reason)
    }

    fn pop_victim(&mut self, _now_ns: u64) -> Option<BlockId> {
        self.core.pop_victim()
    }

    fn len(&self) -> usize {
        self.core.len()
    }

    fn contains(&self, block: BlockId) -> bool {
        self.core.contains(block)
    }
}

#[cfg(test)]
mod tests {
    use super::super::greedy_dual::reference::ScanGreedyDual;
    use super::super::testing;
    use super::super::{ReplayTrace, replay_each};
    use super::*;
    use proptest::prelude::*;

    /// Weight 1 for round numbers: cost(0) = 1.5, cost(1) = 2.5, cost(2) = 3.5. Capacity 2.
    /// r0 [a, b]: H(a) = 1.5, H(b) = 2.5. r1 [c] (depth 0): evicts a (L = 1.5), H(c) = 3.
    /// The deep block b outlived a, used as often, by its cost. r2 [a, b]: b hits at lookup;
    /// a misses and evicts b (2.5 < 3; L = 2.5), H(a) = 4; b, accessed next, misses and
    /// evicts c (3; L = 3), H(b) = 3 + 2.5 = 5.5.
    #[test]
    fn hand_worked_sequence() {
        let trace = ReplayTrace::from_chains([vec![1, 2], vec![3], vec![1, 2]]);
        let mut policy = CostAwarePolicy::new(2, 1.0);
        assert_eq!((policy.cost(0), policy.cost(2)), (1.5, 3.5));
        let mut hits = Vec::new();
        replay_each(&trace, &mut policy, 2, |_, h, _, e| hits.push((h, e)));
        assert_eq!(hits, [(0, 0), (0, 1), (1, 2)]);
        assert_eq!(policy.core.inflation(), 3.0);
        assert!(policy.contains(BlockId(0)) && policy.contains(BlockId(1)));
    }

    proptest! {
        /// Against the scanning GreedyDual on prefix-chained requests, each block's cost from
        /// its depth.
        #[test]
        fn matches_reference(capacity in 1..12usize, chains in testing::chains()) {
            let trace = ReplayTrace::from_chains(&chains);
            let mut fast = CostAwarePolicy::new(capacity, 0.3);
            let mut fast_hits = Vec::new();
            replay_each(&trace, &mut fast, capacity, |_, h, _, _| fast_hits.push(h));
            // The reference sees the same request semantics: lookups first, then accesses.
            let mut slow = ScanGreedyDual::default();
            let mut resident = std::collections::HashSet::new();
            let mut slow_hits = Vec::new();
            for chain in &chains {
                slow_hits.push(chain.iter().filter(|b| resident.contains(*b)).count() as u64);
                for (depth, &block) in chain.iter().enumerate() {
                    slow.access(block, fast.cost(depth as u32), capacity);
                }
                resident = slow.blocks().collect();
            }
            prop_assert_eq!(fast_hits, slow_hits);
        }

        #[test]
        fn pinning_keeps_the_contract(ops in testing::ops()) {
            testing::check_contract(&mut CostAwarePolicy::new(8, 0.5), &ops)?;
        }
    }
}
