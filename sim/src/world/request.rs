//! Per-request state through the lifecycle.
//!
//! ```text
//!   Arrived ─route─▶ LookingUp ─reply─▶ Waiting ─admit─▶ Prefilling ─last chunk─▶ Decoding ─▶ Done
//!                                  ▲      │ queue full  │               ▲ (a token)     │
//!                                  │      ▼             └─▶ Loading ────┘ blocks from   │
//!                                  │   Rejected              lower tiers arrived        │
//!                                  └──────────── preempted (KV freed) ◀─────────────────┘
//!
//!   disaggregated: last chunk on a prefill instance (a token) ─▶ AwaitingDecode ─room on a
//!   decode instance, KV reserved─▶ Transferring ─last flow delivered─▶ Decoding there
//! ```
//!
//! Token accounting: a request must have KV for `target` tokens before its next output token
//! (the prompt; after a preemption, the prompt plus the tokens generated so far, since vLLM
//! recomputes them all). Finishing a prefill emits one token; each decode step emits one more.
//! After `g` tokens a decoding request holds KV for `input + g - 1` tokens.

use kvcsim_models::cache::BlockId;
use kvcsim_models::scheduler::SeqId;

use super::InstanceId;
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
    /// Disaggregated: prefill done (first token out), waiting for a decode instance with room
    /// for its KV.
    AwaitingDecode,
    /// Disaggregated: KV reserved on the decode instance, crossing the fabric.
    Transferring,
}

/// One request being simulated (in flight: completed ones leave the table).
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
    pub instance: InstanceId,
    /// Lifecycle phase.
    pub phase: Phase,
    /// Bumped by every preemption, so that stale heap entries are recognised.
    pub generation: u32,
    /// Admission order on its instance (larger is newer).
    pub admission: u64,
    /// When the scheduler first admitted it.
    pub admitted: Option<SimTime>,
    /// When its first admission's loads from lower tiers had arrived.
    pub load_ready: SimTime,
    /// First admission: leading blocks found in HBM.
    pub hit_blocks: u32,
    /// First admission: blocks after those found in lower tiers and loaded.
    pub loaded_blocks: u32,
    /// First admission: loaded blocks by tier index (1 DRAM, 2 SSD, 3 remote).
    pub tier_blocks: [u32; 4],
    /// First admission: prompt tokens not computed thanks to the hit.
    pub cached_tokens: u64,
    /// Leading prompt blocks of the current admission found in HBM or loaded; blocks after
    /// them are computed.
    pub reused_blocks: u32,
    /// Leading prompt blocks it pins in the cache.
    pub pinned_blocks: u32,
    /// Anonymous KV blocks it holds.
    pub private_blocks: u32,
    /// Tokens it must have KV for before its next output token.
    pub target_tokens: u64,
    /// Tokens whose KV exists in the current prefill (cached plus computed so far).
    pub prefilled_tokens: u64,
    /// Output tokens emitted (while decoding: when it entered decoding; see
    /// `decode_entry`).
    pub generated: u64,
    /// The iteration after which it entered decoding: iteration `j` emits its token number
    /// `generated + (j - decode_entry)`.
    pub decode_entry: u64,
    /// When its first output token came out.
    pub first_token: Option<SimTime>,
    /// Arrival to the metadata service's lookup reply, ns (0 without a service).
    pub metadata_ns: u64,
    /// Times preempted.
    pub preemptions: u32,
    /// KV tokens lost at the last preemption, not yet recomputed.
    pub lost_kv_tokens: u64,
    /// Tokens lost to preemptions and computed again.
    pub recomputed_tokens: u64,
    /// The instance that computed its prompt (the serving one when aggregated).
    pub prefill_instance: InstanceId,
    /// Disaggregated, from the hand-off to the end of the transfer: the blocks it still pins
    /// and holds privately on the prefill instance (its `pinned_blocks` and `private_blocks`
    /// then count the decode instance's reservation).
    pub source_pinned: u32,
    /// See `source_pinned`.
    pub source_private: u32,
    /// Flows of its KV transfer not yet delivered.
    pub pending_flows: u32,
    /// When its prefill handed it to the decode pool.
    pub handoff_at: SimTime,
    /// When its KV transfer started and ended.
    pub transfer_start: SimTime,
    /// See `transfer_start`.
    pub transfer_end: SimTime,
    /// KV bytes it moved from the prefill to the decode instance.
    pub transfer_bytes: u64,
}

impl Req {
    /// A request that just arrived at `instance`.
    pub fn new(a: super::Arrival, instance: InstanceId) -> Self {
        Req {
            id: a.id,
            arrival: a.at,
            target_tokens: a.input_tokens,
            input_tokens: a.input_tokens,
            output_tokens: a.output_tokens.max(1),
            blocks: a.blocks,
            instance,
            phase: Phase::LookingUp,
            generation: 0,
            admission: 0,
            admitted: None,
            load_ready: SimTime::ZERO,
            hit_blocks: 0,
            loaded_blocks: 0,
            tier_blocks: [0; 4],
            cached_tokens: 0,
            reused_blocks: 0,
            pinned_blocks: 0,
            private_blocks: 0,
            prefilled_tokens: 0,
            generated: 0,
            decode_entry: 0,
            first_token: None,
            metadata_ns: 0,
            preemptions: 0,
            lost_kv_tokens: 0,
            recomputed_tokens: 0,
            prefill_instance: instance,
            source_pinned: 0,
            source_private: 0,
            pending_flows: 0,
            handoff_at: SimTime::ZERO,
            transfer_start: SimTime::ZERO,
            transfer_end: SimTime::ZERO,
            transfer_bytes: 0,
        }
    }

    /// KV blocks it holds.
    pub fn held_blocks(&self) -> u64 {
        u64::from(self.pinned_blocks + self.private_blocks)
    }

    /// KV tokens it holds (for a decoding request, `generated` must be current).
    pub fn kv_tokens(&self) -> u64 {
        match self.phase {
            Phase::Decoding => self.input_tokens + self.generated - 1,
            _ => self.prefilled_tokens,
        }
    }

    /// KV blocks it needs at its largest: prompt plus all but the last output token.
    pub fn peak_blocks(&self, block_size: u64) -> u64 {
        (self.input_tokens + self.output_tokens - 1).div_ceil(block_size)
    }

    /// Work it still owes (the routers' load measures). For a decoding request `generated`
    /// must be current.
    pub fn owed(&self) -> Owed {
        Owed {
            prefill: self.target_tokens.saturating_sub(self.prefilled_tokens),
            output: self.output_tokens - self.generated,
        }
    }
}

/// Tokens of work owed to requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owed {
    /// Prompt (or recompute) tokens not computed yet.
    pub prefill: u64,
    /// Output tokens not generated yet.
    pub output: u64,
}

/// The table of in-flight requests: a slab whose slots are reused once a request leaves, so its
/// size follows the requests in flight, not the run's length.
#[derive(Debug, Default)]
pub struct Requests {
    slots: Vec<Option<Req>>,
    free: Vec<u32>,
}

impl Requests {
    /// Stores `req` in a free slot.
    pub fn insert(&mut self, req: Req) -> SeqId {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(req);
                SeqId(slot)
            }
            None => {
                self.slots.push(Some(req));
                SeqId(
                    u32::try_from(self.slots.len() - 1)
                        .expect("fewer than 2^32 requests in flight"),
                )
            }
        }
    }

    /// The request in `id`'s slot, if any.
    pub fn get(&self, id: SeqId) -> Option<&Req> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Whether `id` holds request `request_id` (trace position) at `generation`, decoding: a
    /// heap entry made for it is still valid.
    pub fn is_current(&self, id: SeqId, request_id: u64, generation: u32) -> bool {
        self.get(id).is_some_and(|r| {
            r.id == request_id && r.generation == generation && r.phase == Phase::Decoding
        })
    }

    /// Removes the request in `id`'s slot.
    pub fn remove(&mut self, id: SeqId) -> Req {
        let req = self.slots[id.0 as usize].take().expect("live request");
        self.free.push(id.0);
        req
    }
}

impl std::ops::Index<SeqId> for Requests {
    type Output = Req;
    fn index(&self, id: SeqId) -> &Req {
        self.slots[id.0 as usize].as_ref().expect("live request")
    }
}

impl std::ops::IndexMut<SeqId> for Requests {
    fn index_mut(&mut self, id: SeqId) -> &mut Req {
        self.slots[id.0 as usize].as_mut().expect("live request")
    }
}
