//! One serving instance: its waiting queue, running set, HBM prefix cache and the
//! continuous-batching scheduler that forms each iteration.
//!
//! Scheduling rule of one iteration (vLLM V1 style, FCFS, no preemption):
//!
//! 1. every decoding request contributes one token;
//! 2. requests already prefilling get their next prompt tokens, in admission order, within the
//!    remaining token budget. Without chunked prefill a prompt is computed whole; one longer
//!    than the budget runs as the only prompt of its iteration (decodes still ride along), so a
//!    long prompt is never starved by a steady stream of decodes;
//! 3. waiting requests are admitted in arrival order while fewer than `max_running` run, budget
//!    remains and their KV fits: the whole prompt plus the decode growth is reserved up front
//!    (hit blocks pinned, the rest allocated, evicting unpinned cached blocks by policy). The
//!    head of the queue blocks the rest (no skipping), as in vLLM's FCFS policy.
//!
//! Decoding requests are kept in aggregate: their count, the sum of their KV contexts (which
//! grows by the count every iteration) and a min-heap of the iteration at which each finishes.
//! An iteration therefore costs O(prefill pieces + finishing requests), not O(batch size).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use kvcsim_models::cache::PrefixCache;

use crate::engine::SimTime;

/// Index of a request in the world's request table.
pub type ReqIdx = u32;

/// The iteration in progress on an instance.
#[derive(Debug, Default)]
pub struct Iteration {
    /// Its number on this instance (0, 1, ...).
    pub number: u64,
    /// When it started.
    pub start: SimTime,
    /// Prefill pieces: request and tokens computed.
    pub prefills: Vec<(ReqIdx, u64)>,
    /// Decoding requests in it.
    pub decodes: u64,
}

/// Per-interval counters for `timeseries.parquet`.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntervalCounters {
    /// GPU busy time in the interval, ns.
    pub busy_ns: u64,
    /// Tokens processed by iterations that ended in the interval.
    pub batch_tokens: u64,
    /// Iterations that ended in the interval.
    pub iterations: u64,
    /// Prefix lookups (admissions) in the interval.
    pub lookups: u64,
    /// Blocks looked up.
    pub lookup_blocks: u64,
    /// Blocks hit.
    pub hit_blocks: u64,
}

/// A serving instance.
#[derive(Debug)]
pub struct Instance {
    /// HBM prefix cache.
    pub cache: PrefixCache,
    /// Routed requests not yet admitted, in arrival order.
    pub waiting: VecDeque<ReqIdx>,
    /// Admitted requests whose prompt is not complete, in admission order.
    pub prefilling: VecDeque<ReqIdx>,
    /// Decoding requests: (iteration number of their last decode step, request).
    pub decode_finish: BinaryHeap<Reverse<(u64, ReqIdx)>>,
    /// Number of decoding requests.
    pub decoding: u64,
    /// Admitted requests waiting for blocks loaded from lower tiers.
    pub loading: u64,
    /// HBM evictions already reported in the time series.
    pub evictions_reported: u64,
    /// Sum over decoding requests of (input tokens - iteration number before their first decode
    /// step), so that their total KV context at iteration `i` is `decode_ctx_base + decoding*i`.
    pub decode_ctx_base: i64,
    /// Number of the next iteration to start.
    pub next_iteration: u64,
    /// The iteration running now, if any.
    pub busy: Option<Iteration>,
    /// Tokens still owed to routed requests (uncomputed prompt + ungenerated output).
    pub outstanding_tokens: u64,
    /// Requests routed here and not finished (for routing and the time series).
    pub assigned: u64,
    /// Counters of the current time-series interval.
    pub interval: IntervalCounters,
    /// Total GPU busy time, ns.
    pub busy_total_ns: u64,
    /// Start of the current time-series interval.
    pub interval_start: SimTime,
}

impl Instance {
    /// An idle instance with an empty cache.
    pub fn new(cache: PrefixCache) -> Self {
        Instance {
            cache,
            waiting: VecDeque::new(),
            prefilling: VecDeque::new(),
            decode_finish: BinaryHeap::new(),
            decoding: 0,
            loading: 0,
            evictions_reported: 0,
            decode_ctx_base: 0,
            next_iteration: 0,
            busy: None,
            outstanding_tokens: 0,
            assigned: 0,
            interval: IntervalCounters::default(),
            busy_total_ns: 0,
            interval_start: SimTime::ZERO,
        }
    }

    /// Requests admitted and not finished (loading, prefilling or decoding).
    pub fn running(&self) -> u64 {
        self.loading + self.decoding + self.prefilling.len() as u64
    }

    /// Total KV context of the decoding requests in iteration `i`.
    pub fn decode_context_sum(&self, i: u64) -> u64 {
        u64::try_from(self.decode_ctx_base + (self.decoding * i) as i64)
            .expect("decode context sum is non-negative")
    }

    /// Adds GPU busy time from `from` to `to`, clipped to the current interval.
    pub fn account_busy(&mut self, from: SimTime, to: SimTime) {
        let start = from.max(self.interval_start);
        let d = to.saturating_since(start).as_nanos();
        self.interval.busy_ns += d;
        self.busy_total_ns += d;
    }
}
