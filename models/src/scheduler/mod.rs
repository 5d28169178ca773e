//! Iteration schedulers: which requests an instance runs in its next iteration.
//!
//! A [`BatchScheduler`] is a pure decision. The caller (the cluster world) describes one
//! instance through an [`InstanceView`] (running requests, the waiting queue as the prefix cache
//! sees it now, free KV blocks, the budgets) and the scheduler returns a [`Plan`]: preemptions,
//! decode steps that get a new KV block, prefill chunks of running requests, admissions and
//! rejections. The caller applies the plan (pins, allocations, evictions, timing); nothing here
//! knows about events or time.
//!
//! ```text
//!   view ──▶ BatchScheduler::plan ──▶ Plan { preempt, decode_blocks, prefill, admit, reject }
//!            1. decodes (one token each; those crossing a block boundary need a block)
//!            2. running prefills, oldest first (chunks within the token budget)
//!               a step that finds no free block preempts the newest running request
//!            3. waiting requests (only when nothing was preempted), FCFS or longest prefix
//! ```
//!
//! KV is allocated on demand, block by block as a request's tokens grow (vLLM's
//! `allocate_slots`), not for its whole output at admission. "Free" blocks are the ones an
//! allocation can obtain: empty blocks plus cached blocks no running request uses (evicting
//! them by the cache's policy).

mod vllm;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use vllm::VllmScheduler;

/// The caller's handle of a request (an index into its own table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqId(pub u32);

/// Limits of one iteration, and the block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// Tokens per iteration, prefill plus decode (vLLM `max_num_batched_tokens`).
    pub max_batch_tokens: u64,
    /// Requests running at once (vLLM `max_num_seqs`).
    pub max_running: usize,
    /// Whether a prompt may be split into chunks over several iterations.
    pub chunked_prefill: bool,
    /// Tokens per KV block.
    pub block_size: u64,
}

impl Budgets {
    /// KV blocks `tokens` tokens occupy.
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(self.block_size)
    }
}

/// A running request whose prompt (or, after a preemption, prompt plus generated tokens) is
/// not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefillSeq {
    /// The request.
    pub id: SeqId,
    /// Tokens whose KV exists (cached or computed).
    pub kv_tokens: u64,
    /// Tokens still to compute before its next output token.
    pub remaining_tokens: u64,
    /// KV blocks it holds (pinned cached blocks plus private ones).
    pub held_blocks: u64,
}

/// A waiting request as the instance's caches see it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitingSeq {
    /// The request.
    pub id: SeqId,
    /// Tokens it must have KV for before its next output token (the prompt; after a
    /// preemption, the prompt plus the tokens generated so far).
    pub target_tokens: u64,
    /// Of those, tokens it will not compute: found in HBM or in a lower tier.
    pub cached_tokens: u64,
    /// Leading blocks resident in HBM (pinned, not allocated, on admission).
    pub hit_blocks: u64,
    /// Of those, blocks nobody uses now: counted as free, they stop being free once pinned.
    pub evictable_hit_blocks: u64,
    /// Blocks after the HBM prefix found in lower tiers: allocated in HBM and loaded; the
    /// request computes nothing until they arrive.
    pub load_blocks: u64,
    /// KV blocks it needs at its largest (prompt plus all but the last output token): a request
    /// needing more than the whole cache can never run.
    pub peak_blocks: u64,
}

/// A running request that may be preempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Victim {
    /// The request.
    pub id: SeqId,
    /// Blocks that become free if it is preempted (its private blocks plus the cached ones
    /// only it uses).
    pub releases_blocks: u64,
    /// Whether it is decoding (else prefilling).
    pub decoding: bool,
}

/// What a scheduler sees of one instance.
pub trait InstanceView {
    /// Blocks an allocation can obtain now (empty plus evictable).
    fn free_blocks(&self) -> u64;
    /// Total KV blocks of the instance.
    fn capacity_blocks(&self) -> u64;
    /// Requests running (admitted, not finished), whatever their phase.
    fn running(&self) -> usize;
    /// Decoding requests: each takes one token in the next iteration.
    fn decoding(&self) -> u64;
    /// Decoding requests whose next step crosses a block boundary, oldest admission first.
    fn decode_block_needers(&self) -> &[SeqId];
    /// Prefilling requests, oldest admission first.
    fn prefilling(&self) -> &[PrefillSeq];
    /// Waiting requests.
    fn waiting_len(&self) -> usize;
    /// The `k`-th waiting request in queue order (the caller probes its caches).
    fn waiting(&self, k: usize) -> WaitingSeq;
    /// The `k`-th preemptible running request, newest admission first (`k = 0` the newest).
    fn victim(&self, k: usize) -> Option<Victim>;
}

/// A prefill step: `tokens` computed for request `id`, with `new_blocks` allocated for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The request.
    pub id: SeqId,
    /// Tokens computed in this iteration (0 for an admission that first loads blocks).
    pub tokens: u64,
    /// KV blocks allocated for it now (admissions: besides the pinned hits).
    pub new_blocks: u64,
}

/// The next iteration of one instance. The caller applies it in field order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Running requests preempted by recompute: blocks freed, back to the front of the queue
    /// (the first preempted ends first in the queue).
    pub preempt: Vec<SeqId>,
    /// Decoding requests that get one new block for this iteration's step.
    pub decode_blocks: Vec<SeqId>,
    /// Chunks of running prefills.
    pub prefill: Vec<Chunk>,
    /// Waiting requests admitted, with their first chunk.
    pub admit: Vec<Chunk>,
    /// Waiting requests that can never run (larger than the whole cache).
    pub reject: Vec<SeqId>,
}

impl Plan {
    /// Empties the plan, keeping its allocations.
    pub fn clear(&mut self) {
        self.preempt.clear();
        self.decode_blocks.clear();
        self.prefill.clear();
        self.admit.clear();
        self.reject.clear();
    }
}

/// Decides each iteration of one instance. Deterministic: equal views give equal plans.
pub trait BatchScheduler: Send + std::fmt::Debug {
    /// Short name for reports.
    fn name(&self) -> &'static str;
    /// Fills `plan` (cleared by the caller) with the next iteration.
    fn plan(&mut self, view: &dyn InstanceView, budgets: &Budgets, plan: &mut Plan);
}

/// Order in which waiting requests are considered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitingOrder {
    /// Arrival order; the head blocks the rest (vLLM's FCFS policy).
    #[default]
    Fcfs,
    /// Longest cached prefix first, ties by arrival (SGLang's `lpm` policy). SGLang falls back
    /// to FCFS when more than 128 requests wait, to bound the sorting work; so does this.
    Lpm,
}

/// Scenario configuration of the scheduler (`cluster.scheduler.kind`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// [`VllmScheduler`] with FCFS admission.
    #[default]
    Vllm,
    /// [`VllmScheduler`] with SGLang's longest-prefix-first admission order.
    SglangLpm,
}

impl SchedulerKind {
    /// A fresh scheduler.
    pub fn build(self) -> Box<dyn BatchScheduler> {
        match self {
            SchedulerKind::Vllm => Box::new(VllmScheduler::new(WaitingOrder::Fcfs)),
            SchedulerKind::SglangLpm => Box::new(VllmScheduler::new(WaitingOrder::Lpm)),
        }
    }
}

/// Prompt tokens a request computes this iteration given the remaining `budget`: a chunk with
/// chunked prefill; otherwise the whole rest, if it fits or if it is the iteration's only
/// prompt (`None`: it waits for the next iteration). A prompt longer than the budget without
/// chunking runs alone, so it is never starved by a steady stream of decodes.
pub fn prefill_take(
    chunked_prefill: bool,
    remaining: u64,
    budget: u64,
    first_prompt: bool,
) -> Option<u64> {
    if chunked_prefill {
        Some(remaining.min(budget))
    } else if remaining <= budget || first_prompt {
        Some(remaining)
    } else {
        None
    }
}
