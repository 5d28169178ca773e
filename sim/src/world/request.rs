//! Per-request state through the lifecycle.
//!
//! ```text
//!   Arrived ─route─▶ LookingUp ─reply─▶ Waiting ─admit─▶ Prefilling ─last chunk─▶ Decoding ─▶ Done
//!                                         │ queue full  │               ▲ (first token)
//!                                         ▼             └─▶ Loading ────┘ blocks from lower
//!                                      Rejected              tiers arrived (LoadFinished)
//! ```

use kvcsim_models::cache::BlockId;

use crate::engine::SimTime;

/// Where a request is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Routed; its prefix lookup is in flight.
    LookingUp,
    /// In an instance's waiting queue.
    Waiting,
    /// Admitted; waiting for blocks loaded from lower tiers.
    Loading,
    /// Admitted; prompt tokens being computed.
    Prefilling,
    /// Generating output tokens.
    Decoding,
    /// Finished.
    Done,
    /// Dropped: the waiting queue was full, or it can never fit in the cache.
    Rejected,
}

/// One request being simulated.
#[derive(Debug, Clone)]
pub struct Req {
    /// Position in the trace (the `request_id` column).
    pub id: u64,
    /// Arrival time (after rate scaling).
    pub arrival: SimTime,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens to generate (at least one is produced: the prefill's).
    pub output_tokens: u64,
    /// Prefix-chained block ids of the prompt (empty for traces without them).
    pub blocks: Vec<BlockId>,
    /// Serving instance.
    pub instance: u32,
    /// Lifecycle phase.
    pub phase: Phase,
    /// When the scheduler admitted it.
    pub admitted: SimTime,
    /// When its loads from lower tiers had arrived (= `admitted` without loads).
    pub load_ready: SimTime,
    /// Leading blocks found in the instance's HBM cache at admission.
    pub hit_blocks: u32,
    /// Blocks after those found in lower tiers and loaded.
    pub loaded_blocks: u32,
    /// Loaded blocks by tier index (1 DRAM, 2 SSD, 3 remote).
    pub tier_blocks: [u32; 4],
    /// Prompt tokens not recomputed thanks to the hit.
    pub cached_tokens: u64,
    /// Prompt tokens whose KV exists (cached plus computed so far).
    pub prefilled_tokens: u64,
    /// Anonymous KV blocks reserved for it (uncached prompt blocks and decode growth).
    pub private_blocks: u32,
    /// When its first output token came out (end of its last prefill iteration).
    pub first_token: SimTime,
    /// When it completed.
    pub finish: SimTime,
    /// Arrival to the metadata service's lookup reply, ns (0 without a service).
    pub metadata_ns: u64,
}

impl Req {
    /// Decode iterations after the first token.
    pub fn decode_steps(&self) -> u64 {
        self.output_tokens.max(1) - 1
    }

    /// KV blocks its prompt occupies.
    pub fn prompt_blocks(&self, block_size: u64) -> u64 {
        self.input_tokens.div_ceil(block_size)
    }

    /// KV blocks its generated tokens add beyond the prompt's blocks. Every output token but
    /// the last is fed back and gets KV, so the request ends with `input + output - 1` tokens
    /// of KV.
    pub fn decode_blocks(&self, block_size: u64) -> u64 {
        (self.input_tokens + self.decode_steps()).div_ceil(block_size)
            - self.prompt_blocks(block_size)
    }
}
