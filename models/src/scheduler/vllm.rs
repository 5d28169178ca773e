//! vLLM V1's scheduler (`vllm/v1/core/sched/scheduler.py`, `Scheduler.schedule`), on an
//! aggregate view of the running batch.
//!
//! One iteration:
//!
//! 1. Running requests first. Every decoding request takes one token; one whose step crosses a
//!    block boundary needs one new KV block. Then each prefilling request, oldest first, takes
//!    its next chunk within the token budget and the blocks that chunk fills. When a request
//!    needs a block and none is free, the lowest-priority running request (the newest
//!    admission) is preempted by recompute: its blocks are freed and it goes back to the front
//!    of the waiting queue; if the newest is the request itself, it preempts itself and the
//!    step stops (`allocate_slots` returned `None` and `preempted_req == request`).
//! 2. Waiting requests, only if nothing was preempted in step 1, while fewer than
//!    `max_running` run and budget remains: a request is admitted when its first chunk's blocks
//!    (besides its cached prefix, which it pins) are free; otherwise admission stops (the head
//!    blocks the queue). Without chunked prefill a whole prompt must fit the remaining budget,
//!    unless it is the iteration's only prompt. A request that loads blocks from a lower tier
//!    allocates them now and computes nothing until they arrive.
//!
//! Departures from vLLM, deliberate: decodes are served before running prefills regardless of
//! admission order (a decode is one token; vLLM interleaves them in admission order, which only
//! matters when the budget is short of the decode count); the blocks a victim releases are its
//! private blocks plus the cached blocks only it pins, counted one victim at a time, so two
//! victims sharing a block they alone pin release it only when both are applied (the plan may
//! then preempt one request more than vLLM would).

use super::{
    BatchScheduler, Budgets, Chunk, InstanceView, Plan, SeqId, WaitingOrder, prefill_take,
};

/// SGLang sorts its queue by prefix only while at most this many requests wait
/// (`python/sglang/srt/managers/schedule_policy.py`, the LPM-to-FCFS fallback).
const LPM_MAX_QUEUE: usize = 128;

/// vLLM V1's iteration scheduler with a choice of admission order.
#[derive(Debug, Clone)]
pub struct VllmScheduler {
    order: WaitingOrder,
    /// Reused buffer: (sort key, queue position) of the waiting requests.
    queue: Vec<(u64, usize)>,
}

impl VllmScheduler {
    /// A scheduler admitting in `order`.
    pub fn new(order: WaitingOrder) -> Self {
        VllmScheduler {
            order,
            queue: Vec::new(),
        }
    }
}

/// Running state of one planning pass.
struct Pass<'a> {
    view: &'a dyn InstanceView,
    max_batch_tokens: u64,
    /// Blocks still free for this plan.
    free: u64,
    /// Next victim index to ask the view for.
    next_victim: usize,
    /// Decodes in the plan (one token each).
    decodes: u64,
    /// Prefill tokens in the plan.
    prefill_tokens: u64,
}

/// Whether the request asking for room keeps running.
#[derive(PartialEq, Eq)]
enum Room {
    Made,
    SelfPreempted,
}

impl Pass<'_> {
    fn budget(&self) -> u64 {
        self.max_batch_tokens
            .saturating_sub(self.decodes + self.prefill_tokens)
    }

    /// Preempts the newest running requests until `need` blocks are free for `me`. A victim
    /// already in the plan gives back its step.
    fn make_room(&mut self, need: u64, me: SeqId, plan: &mut Plan) -> Room {
        while self.free < need {
            let victim = self.view.victim(self.next_victim);
            self.next_victim += 1;
            let Some(v) = victim.filter(|v| v.id != me) else {
                plan.preempt.push(me);
                return Room::SelfPreempted;
            };
            plan.preempt.push(v.id);
            self.free += v.releases_blocks;
            if v.decoding {
                self.decodes -= 1;
                if let Some(pos) = plan.decode_blocks.iter().position(|&d| d == v.id) {
                    plan.decode_blocks.remove(pos);
                    self.free += 1;
                }
            } else if let Some(pos) = plan.prefill.iter().position(|c| c.id == v.id) {
                let c = plan.prefill.remove(pos);
                self.free += c.new_blocks;
                self.prefill_tokens -= c.tokens;
            }
        }
        Room::Made
    }
}

impl BatchScheduler for VllmScheduler {
    fn name(&self) -> &'static str {
        match self.order {
            WaitingOrder::Fcfs => "vllm",
            WaitingOrder::Lpm => "sglang-lpm",
        }
    }

    fn plan(&mut self, view: &dyn InstanceView, b: &Budgets, plan: &mut Plan) {
        let mut pass = Pass {
            view,
            max_batch_tokens: b.max_batch_tokens,
            free: view.free_blocks(),
            next_victim: 0,
            decodes: view.decoding(),
            prefill_tokens: 0,
        };
        // 1a. Decodes crossing a block boundary, oldest first. A needer that has to preempt
        // itself is the oldest request left: every newer one is already preempted.
        for &id in view.decode_block_needers() {
            if plan.preempt.contains(&id) {
                continue;
            }
            if pass.make_room(1, id, plan) == Room::SelfPreempted {
                pass.decodes -= 1;
                break;
            }
            pass.free -= 1;
            plan.decode_blocks.push(id);
        }
        // 1b. Running prefills, oldest first.
        let mut first_prompt = true;
        for p in view.prefilling() {
            if pass.budget() == 0 {
                break;
            }
            if plan.preempt.contains(&p.id) {
                continue;
            }
            let Some(take) = prefill_take(
                b.chunked_prefill,
                p.remaining_tokens,
                pass.budget(),
                first_prompt,
            ) else {
                break;
            };
            let need = b
                .blocks_for(p.kv_tokens + take)
                .saturating_sub(p.held_blocks);
            if pass.make_room(need, p.id, plan) == Room::SelfPreempted {
                break;
            }
            first_prompt = false;
            pass.free -= need;
            pass.prefill_tokens += take;
            plan.prefill.push(Chunk {
                id: p.id,
                tokens: take,
                new_blocks: need,
            });
        }
        if !plan.preempt.is_empty() {
            return; // vLLM admits nothing in a step that preempted
        }
        // 2. Waiting requests.
        let waiting = view.waiting_len();
        self.queue.clear();
        self.queue.extend((0..waiting).map(|k| (0, k)));
        if self.order == WaitingOrder::Lpm && waiting <= LPM_MAX_QUEUE {
            for entry in &mut self.queue {
                entry.0 = u64::MAX - view.waiting(entry.1).cached_tokens;
            }
            self.queue.sort_unstable();
        }
        let mut running = view.running();
        for &(_, k) in &self.queue {
            if pass.budget() == 0 || running >= b.max_running {
                break;
            }
            let w = view.waiting(k);
            if w.peak_blocks > view.capacity_blocks() {
                plan.reject.push(w.id);
                continue;
            }
            let remaining = w.target_tokens - w.cached_tokens;
            let first = plan.prefill.is_empty() && plan.admit.is_empty();
            let take = if w.load_blocks > 0 {
                0
            } else {
                match prefill_take(b.chunked_prefill, remaining, pass.budget(), first) {
                    Some(take) => take,
                    None => break,
                }
            };
            let blocks = b
                .blocks_for(w.cached_tokens + take)
                .max(w.hit_blocks + w.load_blocks);
            let new_blocks = blocks - w.hit_blocks;
            if pass.free < new_blocks + w.evictable_hit_blocks {
                break;
            }
            pass.free -= new_blocks + w.evictable_hit_blocks;
            pass.prefill_tokens += take;
            running += 1;
            plan.admit.push(Chunk {
                id: w.id,
                tokens: take,
                new_blocks,
            });
        }
    }
}
