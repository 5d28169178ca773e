//! One serving instance: its waiting queue, running set and HBM prefix cache.
//!
//! Decoding requests are kept in aggregate: their count, the sum of their KV contexts (which
//! grows by the count every iteration), a min-heap of the iteration at which each finishes and
//! one of the iteration at which each next crosses a KV block boundary. An iteration therefore
//! costs O(prefill pieces + requests finishing or needing a block), not O(batch size). Heap
//! entries carry the request's generation; a preempted request's entries are stale and skipped.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use kvcsim_models::cache::PrefixCache;
use kvcsim_models::scheduler::SeqId;

use super::request::{Owed, Req};
use crate::engine::SimTime;

/// The iteration in progress on an instance, or a span of decode-only iterations of the same
/// batch run as one event (see `World::start_iteration`).
#[derive(Debug, Default)]
pub struct Iteration {
    /// Its number on this instance (1, 2, ...).
    pub number: u64,
    /// The number of the last iteration of the span (`number` for a single iteration).
    pub last: u64,
    /// End of each iteration of the span, in order (empty for a single iteration).
    pub ends: Vec<SimTime>,
    /// The pending `IterationFinished` event.
    pub event: Option<crate::engine::EventId>,
    /// When it started.
    pub start: SimTime,
    /// Prefill pieces: request and tokens computed.
    pub prefills: Vec<(SeqId, u64)>,
    /// Decoding requests in it.
    pub decodes: u64,
    /// Iterations of the span known to have ended before the last [`ended_before`] query, and
    /// the end of the next one once read: a cursor, so that the router's load query at each
    /// arrival (simulated time only moves forward) touches `ends` only when an iteration
    /// boundary has passed instead of searching it on every instance every time.
    ///
    /// [`ended_before`]: Iteration::ended_before
    pub(super) passed: Cell<usize>,
    pub(super) next_end: Cell<Option<SimTime>>,
}

impl Iteration {
    /// Number of the span's iterations that ended strictly before `now` (what
    /// `ends.partition_point(|&t| t < now)` gives). `now` must not decrease between calls on
    /// the same iteration; `ends` may only be truncated to keep every entry before `now`
    /// (what `World::cut_span` does) or grown before the first call.
    pub fn ended_before(&self, now: SimTime) -> usize {
        let mut k = self.passed.get();
        loop {
            let end = match self.next_end.get() {
                Some(e) => e,
                None => match self.ends.get(k) {
                    Some(&e) => e,
                    None => break,
                },
            };
            if end < now {
                k += 1;
                self.next_end.set(None);
            } else {
                self.next_end.set(Some(end));
                break;
            }
        }
        self.passed.set(k);
        debug_assert_eq!(k, self.ends.partition_point(|&t| t < now));
        k
    }
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
    /// Prefix lookups (first admissions) in the interval.
    pub lookups: u64,
    /// Blocks looked up.
    pub lookup_blocks: u64,
    /// Blocks hit.
    pub hit_blocks: u64,
    /// Requests preempted.
    pub preemptions: u64,
    /// Tokens recomputed by readmissions.
    pub recomputed_tokens: u64,
}

/// A heap entry: (iteration, trace position, slot, generation); ties go to the earlier trace
/// position, so equal runs complete requests in equal order.
type Due = Reverse<(u64, u64, u32, u32)>;

/// A serving instance.
#[derive(Debug)]
pub struct Instance {
    /// Its pool (index into the world's pools).
    pub pool: u32,
    /// HBM prefix cache.
    pub cache: PrefixCache,
    /// Routed requests not yet admitted (preempted ones at the front).
    pub waiting: VecDeque<SeqId>,
    /// Admitted requests whose prompt is not complete, in admission order.
    pub prefilling: Vec<SeqId>,
    /// Running requests (loading, prefilling, decoding) by admission order.
    running: BTreeMap<u64, SeqId>,
    next_admission: u64,
    decode_finish: BinaryHeap<Due>,
    decode_block: BinaryHeap<Due>,
    /// Number of decoding requests.
    pub decoding: u64,
    /// Admitted requests waiting for blocks loaded from lower tiers.
    pub loading: u64,
    /// HBM evictions already reported in the time series.
    pub evictions_reported: u64,
    /// Sum over decoding requests of (KV tokens at entry - entry iteration), so that their
    /// total KV context at iteration `i` is `decode_ctx_base + decoding * i`.
    decode_ctx_base: i64,
    /// Number of the next iteration to start (the first is 1, so that a request joining
    /// decoding from another instance can enter "after iteration `next_iteration - 1`").
    pub next_iteration: u64,
    /// The iteration running now, if any.
    pub busy: Option<Iteration>,
    /// Tokens still owed to routed requests (see `Req::owed`).
    owed: Owed,
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
    pub fn new(cache: PrefixCache, pool: u32) -> Self {
        Instance {
            pool,
            cache,
            waiting: VecDeque::new(),
            prefilling: Vec::new(),
            running: BTreeMap::new(),
            next_admission: 0,
            decode_finish: BinaryHeap::new(),
            decode_block: BinaryHeap::new(),
            decoding: 0,
            loading: 0,
            evictions_reported: 0,
            decode_ctx_base: 0,
            next_iteration: 1,
            busy: None,
            owed: Owed::default(),
            assigned: 0,
            interval: IntervalCounters::default(),
            busy_total_ns: 0,
            interval_start: SimTime::ZERO,
        }
    }

    /// Requests admitted and not finished (loading, prefilling or decoding).
    pub fn running(&self) -> u64 {
        self.running.len() as u64
    }

    /// Running requests, newest admission first.
    pub fn running_newest_first(&self) -> impl Iterator<Item = SeqId> + '_ {
        self.running.values().rev().copied()
    }

    /// A routed request's debt changed from `before` to `after`.
    pub fn reowe(&mut self, before: Owed, after: Owed) {
        self.owed.prefill = self.owed.prefill + after.prefill - before.prefill;
        self.owed.output = self.owed.output + after.output - before.output;
    }

    /// `tokens` prompt tokens computed.
    pub fn computed(&mut self, tokens: u64) {
        self.owed.prefill -= tokens;
    }

    /// `tokens` output tokens generated.
    pub fn generated(&mut self, tokens: u64) {
        self.owed.output -= tokens;
    }

    /// Tokens owed at `now`: uncomputed prompt plus ungenerated output (the least-outstanding
    /// and cache-aware routers' load). The iterations of a running decode span that ended
    /// before `now` have generated their tokens, though the span reports them at its end.
    pub fn outstanding_tokens(&self, now: SimTime) -> u64 {
        let in_span = self
            .busy
            .as_ref()
            .map_or(0, |it| it.decodes * it.ended_before(now) as u64);
        self.owed.prefill + self.owed.output - in_span
    }

    /// Prompt tokens owed (Dynamo's queued prefill).
    pub fn queued_prefill_tokens(&self) -> u64 {
        self.owed.prefill
    }

    /// Total KV context of the decoding requests in iteration `i`.
    pub fn decode_context_sum(&self, i: u64) -> u64 {
        u64::try_from(self.decode_ctx_base + (self.decoding * i) as i64)
            .expect("decode context sum is non-negative")
    }

    /// Marks `req` admitted: it runs, newest.
    pub fn admit(&mut self, id: SeqId, req: &mut Req) {
        req.admission = self.next_admission;
        self.next_admission += 1;
        self.running.insert(req.admission, id);
    }

    /// `req` stops running (finished or preempted).
    pub fn unrun(&mut self, req: &Req) {
        self.running.remove(&req.admission);
    }

    /// `req` finished its prefill at the end of iteration `number` with KV for `kv` tokens and
    /// block size `bs`: it decodes from iteration `number + 1`.
    pub fn start_decoding(&mut self, id: SeqId, req: &mut Req, number: u64, bs: u64) {
        let kv = req.input_tokens + req.generated - 1;
        req.decode_entry = number;
        self.decoding += 1;
        // Context in iteration j (> number) is kv + (j - number).
        self.decode_ctx_base += kv as i64 - number as i64;
        let steps = req.output_tokens - req.generated;
        let entry = |at| Reverse((at, req.id, id.0, req.generation));
        self.decode_finish.push(entry(number + steps));
        // The step of iteration j writes KV token kv + (j - number); it needs a new block when
        // that passes the held blocks.
        let held_tokens = req.held_blocks() * bs;
        debug_assert!(held_tokens >= kv, "a decoding request holds its KV");
        let next = number + (held_tokens - kv) + 1;
        if next <= number + steps {
            self.decode_block.push(entry(next));
        }
    }

    /// `req` leaves the decode aggregate (finished, or preempted before iteration `next`):
    /// its `generated` becomes current.
    pub fn stop_decoding(&mut self, req: &mut Req, next: u64) {
        let done = next - 1 - req.decode_entry;
        let kv_entry = req.input_tokens + req.generated - 1;
        self.decoding -= 1;
        self.decode_ctx_base -= kv_entry as i64 - req.decode_entry as i64;
        req.generated += done;
    }

    /// Decoding requests whose last step is iteration `number`, in trace order.
    pub fn pop_finished(
        &mut self,
        number: u64,
        live: impl Fn(SeqId, u64, u32) -> bool,
    ) -> Option<SeqId> {
        pop_due(&mut self.decode_finish, number, live)
    }

    /// Decoding requests whose step in iteration `number` needs a new block.
    pub fn pop_block_needer(
        &mut self,
        number: u64,
        live: impl Fn(SeqId, u64, u32) -> bool,
    ) -> Option<SeqId> {
        pop_due(&mut self.decode_block, number, live)
    }

    /// `id` got a block for iteration `number`: its next one is due `bs` steps later, unless
    /// it finishes first.
    pub fn block_granted(&mut self, id: SeqId, req: &Req, number: u64, bs: u64) {
        let last = req.decode_entry + (req.output_tokens - req.generated);
        if number + bs <= last {
            self.decode_block
                .push(Reverse((number + bs, req.id, id.0, req.generation)));
        }
    }

    /// Adds GPU busy time from `from` to `to`, clipped to the current interval.
    pub fn account_busy(&mut self, from: SimTime, to: SimTime) {
        let start = from.max(self.interval_start);
        let d = to.saturating_since(start).as_nanos();
        self.interval.busy_ns += d;
        self.busy_total_ns += d;
    }
}

impl Instance {
    /// The earliest iteration at which a live decode finishes or needs a block, dropping stale
    /// entries on the way.
    pub fn next_decode_event(
        &mut self,
        live: impl Fn(SeqId, u64, u32) -> bool,
    ) -> (Option<u64>, Option<u64>) {
        (
            peek_due(&mut self.decode_finish, &live),
            peek_due(&mut self.decode_block, &live),
        )
    }
}

fn peek_due(heap: &mut BinaryHeap<Due>, live: &impl Fn(SeqId, u64, u32) -> bool) -> Option<u64> {
    while let Some(&Reverse((at, req_id, slot, generation))) = heap.peek() {
        if live(SeqId(slot), req_id, generation) {
            return Some(at);
        }
        heap.pop();
    }
    None
}

/// Pops the next live entry due at `number` (stale entries of preempted requests are dropped).
fn pop_due(
    heap: &mut BinaryHeap<Due>,
    number: u64,
    live: impl Fn(SeqId, u64, u32) -> bool,
) -> Option<SeqId> {
    while let Some(&Reverse((at, req_id, slot, generation))) = heap.peek() {
        if !live(SeqId(slot), req_id, generation) {
            heap.pop();
            continue;
        }
        if at != number {
            debug_assert!(at > number, "a due entry was missed");
            return None;
        }
        heap.pop();
        return Some(SeqId(slot));
    }
    None
}
