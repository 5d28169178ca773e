//! Statistics of a trace's size and prefix reuse (what a KV cache keyed by block id can gain).
//!
//! Definitions ([`compute`] implements exactly these):
//!
//! - **Order.** Requests are taken by arrival time, ties in the order the iterator gave them
//!   (file order). An unsorted input is sorted stably first.
//! - **Hit.** A reference to block `b` in request `r` is a hit when `b` occurs in some request
//!   *before* `r` in that order. A block repeated inside one request is a miss at each of its
//!   occurrences unless an earlier request had it, consistent with the LRU rule below (the public
//!   Mooncake conversation trace has no such repeats).
//! - `ideal_hit_ratio` = hits / `blocks_referenced` (an infinite cache). Without in-request
//!   repeats it equals 1 − `unique_blocks` / `blocks_referenced`.
//! - `first_block_shared`: fraction of requests with at least one block whose first block is a hit.
//! - Per-request hit ratio `h(r)` = hits of `r` / blocks of `r`, for requests with at least one
//!   block. `request_hit_ratio_cdf` gives, at `x` = 0.0, 0.1, …, 1.0, the fraction of those
//!   requests with `h(r) <= x` (inclusive, compared exactly: `10·hits <= k·blocks`);
//!   `requests_hit_ratio_ge_0_5` the fraction with `h(r) >= 0.5`.
//! - `sequential_fraction_mean`: a block at position `i` of a request is *sequential* when the
//!   request's id at `i+1` is `id+1` or the id at `i−1` is `id−1` (it lies in a run of at least
//!   two consecutive ids, as in Zhu et al., CLOUD 2025); mean over requests with at least one
//!   block of (sequential blocks / blocks).
//! - **LRU.** One shared cache of `capacity_blocks` blocks. For each request in order, all its
//!   blocks are looked up against the cache as it was before the request (hits counted), then all
//!   its blocks are touched in order: moved to most recent, or inserted, evicting the least recent
//!   when over capacity. `block_hit_ratio` = LRU hits / `blocks_referenced`; `prefix_hit_ratio`
//!   counts only each request's leading run of hits (what a prefix cache can reuse), over the same
//!   denominator. With a capacity of at least `unique_blocks` the LRU equals the ideal cache.
//! - Token counts are summarised by [`Summary`] (mean and nearest-rank percentiles).
//! - `span_s` = (last arrival − first arrival) in seconds; `arrival_rate_per_s` = requests /
//!   `span_s`.
//!
//! Ratios whose denominator is zero (no blocks, e.g. an Azure trace; a zero span) are `None`,
//! `null` in JSON, and the CDF is then empty.
//!
//! Cost: one pass reads and buffers the trace compactly (dense `u32` block indices, 4 bytes a
//! reference, plus the id→index map), then a pass per statistic over the buffer.

mod capacity;
mod lru;
mod report;
mod summary;

use serde::Serialize;

pub use capacity::{Capacity, CapacityParseError};
pub use summary::Summary;

use crate::hash::FxHashMap;
use crate::{Request, TraceError};
use lru::DenseLru;

/// What to compute besides the fixed statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsOptions {
    /// LRU capacities to evaluate, in this order. Default: 1%, 5%, 10% and 50% of the unique
    /// blocks (the capacities of the reference figures in `shared/traces/SOURCES.md`).
    pub capacities: Vec<Capacity>,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions {
            capacities: [1.0, 5.0, 10.0, 50.0]
                .map(Capacity::PercentOfUnique)
                .to_vec(),
        }
    }
}

/// One point of the per-request hit-ratio CDF.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CdfPoint {
    /// The hit ratio `x`.
    pub ratio: f64,
    /// Fraction of requests (with at least one block) whose hit ratio is `<= x`.
    pub fraction: f64,
}

/// LRU hit ratios at one capacity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LruResult {
    /// The capacity as given.
    pub capacity: Capacity,
    /// The capacity in blocks.
    pub capacity_blocks: u64,
    /// LRU hits / all block references.
    pub block_hit_ratio: Option<f64>,
    /// Hits in each request's leading run of hits / all block references.
    pub prefix_hit_ratio: Option<f64>,
}

/// Statistics of a trace; the field names are the JSON keys. See the [module docs](self) for the
/// exact definitions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceStats {
    /// Number of requests.
    pub requests: u64,
    /// Last arrival − first arrival, seconds.
    pub span_s: f64,
    /// `requests / span_s`; `None` when the span is 0.
    pub arrival_rate_per_s: Option<f64>,
    /// Input lengths, tokens.
    pub input_tokens: Summary,
    /// Output lengths, tokens.
    pub output_tokens: Summary,
    /// Block references, summed over requests.
    pub blocks_referenced: u64,
    /// Distinct block ids.
    pub unique_blocks: u64,
    /// Hit ratio of an infinite cache.
    pub ideal_hit_ratio: Option<f64>,
    /// Fraction of requests (with blocks) whose first block appeared in an earlier request.
    pub first_block_shared: Option<f64>,
    /// CDF of the per-request hit ratio at 0.0, 0.1, …, 1.0 (empty without blocks).
    pub request_hit_ratio_cdf: Vec<CdfPoint>,
    /// Fraction of requests (with blocks) whose hit ratio is at least 0.5.
    pub requests_hit_ratio_ge_0_5: Option<f64>,
    /// Mean over requests (with blocks) of the fraction of blocks in runs of consecutive ids.
    pub sequential_fraction_mean: Option<f64>,
    /// LRU hit ratios, one per requested capacity.
    pub lru: Vec<LruResult>,
}

/// Most requests and distinct blocks the statistics handle (indices are `u32`, `u32::MAX` is a
/// sentinel).
const LIMIT: u32 = u32::MAX - 1;

/// The trace buffered compactly: block ids remapped to dense indices in first-seen order.
struct Buffered {
    arrival_ns: Vec<u64>,
    input_tokens: Vec<u32>,
    output_tokens: Vec<u32>,
    /// Request `i` references `blocks[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    blocks: Vec<u32>,
    unique_blocks: usize,
    /// Sum over requests with blocks of their sequential fraction, and their count.
    sequential_sum: f64,
    with_blocks: u64,
}

impl Buffered {
    fn read(
        requests: impl Iterator<Item = Result<Request, TraceError>>,
    ) -> Result<Self, TraceError> {
        let mut ids: FxHashMap<u64, u32> = FxHashMap::default();
        let mut b = Buffered {
            arrival_ns: Vec::new(),
            input_tokens: Vec::new(),
            output_tokens: Vec::new(),
            starts: vec![0],
            blocks: Vec::new(),
            unique_blocks: 0,
            sequential_sum: 0.0,
            with_blocks: 0,
        };
        for request in requests {
            let request = request?;
            b.arrival_ns.push(request.arrival_ns);
            b.input_tokens.push(request.input_tokens);
            b.output_tokens.push(request.output_tokens);
            if b.arrival_ns.len() >= LIMIT as usize {
                return Err(TraceError::TooLarge {
                    what: "requests",
                    limit: LIMIT.into(),
                });
            }
            for &id in &request.block_ids {
                let next = ids.len() as u32;
                let dense = *ids.entry(id).or_insert(next);
                if ids.len() >= LIMIT as usize {
                    return Err(TraceError::TooLarge {
                        what: "distinct blocks",
                        limit: LIMIT.into(),
                    });
                }
                b.blocks.push(dense);
            }
            b.starts.push(b.blocks.len());
            if !request.block_ids.is_empty() {
                b.with_blocks += 1;
                b.sequential_sum += sequential_fraction(&request.block_ids);
            }
        }
        b.unique_blocks = ids.len();
        Ok(b)
    }

    fn len(&self) -> usize {
        self.arrival_ns.len()
    }

    fn blocks_of(&self, request: usize) -> &[u32] {
        &self.blocks[self.starts[request]..self.starts[request + 1]]
    }

    /// Request positions by arrival, ties in input order.
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if !self.arrival_ns.is_sorted() {
            order.sort_by_key(|&i| self.arrival_ns[i]);
        }
        order
    }
}

/// Fraction of the blocks of one request that lie in a run of ≥ 2 consecutive ids.
fn sequential_fraction(ids: &[u64]) -> f64 {
    let follows = |i: usize| ids[i - 1].checked_add(1) == Some(ids[i]);
    let sequential = (0..ids.len())
        .filter(|&i| (i > 0 && follows(i)) || (i + 1 < ids.len() && follows(i + 1)))
        .count();
    sequential as f64 / ids.len() as f64
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Computes the statistics of a trace (see the [module docs](self)); the first error of the
/// iterator is returned as is.
pub fn compute(
    requests: impl Iterator<Item = Result<Request, TraceError>>,
    options: &StatsOptions,
) -> Result<TraceStats, TraceError> {
    let mut trace = Buffered::read(requests)?;
    let order = trace.order();
    let refs = trace.blocks.len() as u64;

    // Infinite cache: the request position at which each block was first referenced.
    const NEVER: u32 = u32::MAX;
    let mut first_seen = vec![NEVER; trace.unique_blocks];
    let (mut hits, mut first_shared, mut half_or_more) = (0u64, 0u64, 0u64);
    let mut at_or_below = [0u64; 11];
    for (position, &r) in order.iter().enumerate() {
        let position = position as u32;
        let blocks = trace.blocks_of(r);
        let mut request_hits = 0u64;
        for (i, &b) in blocks.iter().enumerate() {
            let seen = &mut first_seen[b as usize];
            if *seen < position {
                request_hits += 1;
                first_shared += u64::from(i == 0);
            } else if *seen == NEVER {
                *seen = position;
            }
        }
        if !blocks.is_empty() {
            let n = blocks.len() as u64;
            for (k, count) in at_or_below.iter_mut().enumerate() {
                *count += u64::from(10 * request_hits <= k as u64 * n);
            }
            half_or_more += u64::from(2 * request_hits >= n);
        }
        hits += request_hits;
    }
    let with_blocks = trace.with_blocks;
    let request_hit_ratio_cdf = if with_blocks == 0 {
        Vec::new()
    } else {
        (0..=10)
            .map(|k| CdfPoint {
                ratio: k as f64 / 10.0,
                fraction: at_or_below[k] as f64 / with_blocks as f64,
            })
            .collect()
    };

    let lru = options
        .capacities
        .iter()
        .map(|&capacity| {
            let capacity_blocks = capacity.resolve(trace.unique_blocks as u64);
            let (hits, prefix_hits) = simulate_lru(&trace, &order, capacity_blocks);
            LruResult {
                capacity,
                capacity_blocks,
                block_hit_ratio: ratio(hits, refs),
                prefix_hit_ratio: ratio(prefix_hits, refs),
            }
        })
        .collect();

    let requests = trace.len() as u64;
    let span_ns = match (order.first(), order.last()) {
        (Some(&first), Some(&last)) => trace.arrival_ns[last] - trace.arrival_ns[first],
        _ => 0,
    };
    let span_s = span_ns as f64 / 1e9;
    Ok(TraceStats {
        requests,
        span_s,
        arrival_rate_per_s: (span_ns > 0).then(|| requests as f64 / span_s),
        input_tokens: Summary::of(&mut trace.input_tokens),
        output_tokens: Summary::of(&mut trace.output_tokens),
        blocks_referenced: refs,
        unique_blocks: trace.unique_blocks as u64,
        ideal_hit_ratio: ratio(hits, refs),
        first_block_shared: ratio(first_shared, with_blocks),
        request_hit_ratio_cdf,
        requests_hit_ratio_ge_0_5: ratio(half_or_more, with_blocks),
        sequential_fraction_mean: (with_blocks > 0)
            .then(|| trace.sequential_sum / with_blocks as f64),
        lru,
    })
}

/// LRU block hits and prefix hits over the whole trace at one capacity.
fn simulate_lru(trace: &Buffered, order: &[usize], capacity_blocks: u64) -> (u64, u64) {
    let mut cache = DenseLru::new(trace.unique_blocks, capacity_blocks);
    let (mut hits, mut prefix_hits) = (0u64, 0u64);
    let mut hit = Vec::new();
    for &r in order {
        let blocks = trace.blocks_of(r);
        hit.clear();
        hit.extend(blocks.iter().map(|&b| cache.contains(b)));
        hits += hit.iter().filter(|&&h| h).count() as u64;
        prefix_hits += hit.iter().take_while(|&&h| h).count() as u64;
        for &b in blocks {
            cache.touch(b);
        }
    }
    (hits, prefix_hits)
}

#[cfg(test)]
mod tests;
