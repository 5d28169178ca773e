//! Records a run produces, and their tables. Column names carry their units; README lists them.

use kvcsim_models::tiers::{TIER_NAMES, TierCounters};

use crate::output::{Column, Table};

/// One completed request (`requests.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Position of the request in the trace (0-based).
    pub request_id: u64,
    /// Arrival time, ns since the start of the run (after rate scaling).
    pub arrival_ns: u64,
    /// Instance that served it.
    pub instance: u32,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// KV blocks of the prompt (its `hash_ids`).
    pub blocks: u64,
    /// Leading blocks found in the instance's cache tiers when it was admitted (HBM prefix
    /// plus the blocks after it loaded from lower tiers): not recomputed.
    pub hit_blocks: u64,
    /// Of those, found in HBM.
    pub hbm_hit_blocks: u64,
    /// Loaded from host DRAM.
    pub dram_hit_blocks: u64,
    /// Loaded from the local SSD.
    pub ssd_hit_blocks: u64,
    /// Loaded from the remote pool.
    pub remote_hit_blocks: u64,
    /// Prompt tokens not recomputed: min(hit_blocks x block_size, input_tokens - 1).
    pub cached_tokens: u64,
    /// Arrival to admission by the scheduler, ns (includes `metadata_ns`).
    pub queue_ns: u64,
    /// Arrival to the metadata service's lookup reply, ns (0 without a metadata service); part
    /// of `queue_ns`.
    pub metadata_ns: u64,
    /// Admission to the end of its loads from lower tiers (0 without), ns.
    pub load_ns: u64,
    /// End of loads to first token (all prefill iterations, including batching with others), ns.
    pub prefill_ns: u64,
    /// Arrival to first token, ns.
    pub ttft_ns: u64,
    /// Mean time per output token after the first, ns (0 for a single-token output).
    pub tpot_ns: u64,
    /// Arrival to last token, ns.
    pub e2e_ns: u64,
    /// Completion time, ns since the start of the run.
    pub finish_ns: u64,
}

/// One instance over one interval (`timeseries.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeseriesRow {
    /// End of the interval, ns since the start of the run.
    pub time_ns: u64,
    /// Length of the interval, ns (the last one may be shorter).
    pub interval_ns: u64,
    /// Instance index.
    pub instance: u32,
    /// Requests admitted and not finished, at the end of the interval.
    pub running: u64,
    /// Requests waiting for admission, at the end of the interval.
    pub waiting: u64,
    /// Tokens processed (prefill plus decode) by iterations ending in the interval.
    pub batch_tokens: u64,
    /// Iterations ending in the interval.
    pub iterations: u64,
    /// Fraction of the interval the GPUs were computing.
    pub gpu_busy_fraction: f64,
    /// KV blocks in use (cached plus private to running requests), end of interval.
    pub cache_blocks: u64,
    /// Cached (hash-identified, shareable) blocks resident, end of interval.
    pub cached_blocks: u64,
    /// Prefix lookups (one per admitted request) in the interval.
    pub lookups: u64,
    /// Blocks those lookups asked for.
    pub lookup_blocks: u64,
    /// Blocks those lookups found (HBM prefix plus lower-tier continuation).
    pub hit_blocks: u64,
    /// Per tier (index 0 HBM, 1 DRAM, 2 SSD, 3 remote), what this instance's traffic did in the
    /// interval: hits (lower tiers: blocks loaded from it), bytes read and written, evictions.
    pub tiers: [TierCounters; 4],
    /// Blocks resident in each lower tier store the instance uses, end of interval (index 0
    /// unused).
    pub tier_blocks: [u64; 4],
}

/// Everything recorded by one run.
#[derive(Debug, Default)]
pub struct RunRecords {
    /// Completed requests, sorted by `request_id` at the end of the run.
    pub requests: Vec<RequestRecord>,
    /// Time series, by interval then instance.
    pub timeseries: Vec<TimeseriesRow>,
    /// Requests rejected (waiting queue full, or larger than the whole cache).
    pub rejected: u64,
}

macro_rules! column {
    ($rows:expr, $variant:ident, $field:ident) => {
        Column::$variant($rows.iter().map(|r| r.$field).collect())
    };
}

impl RunRecords {
    /// The `requests.parquet` table.
    pub fn requests_table(&self) -> Table {
        let r = &self.requests;
        Table::new()
            .with("request_id", column!(r, U64, request_id))
            .with("arrival_ns", column!(r, U64, arrival_ns))
            .with("instance", column!(r, U32, instance))
            .with("input_tokens", column!(r, U64, input_tokens))
            .with("output_tokens", column!(r, U64, output_tokens))
            .with("blocks", column!(r, U64, blocks))
            .with("hit_blocks", column!(r, U64, hit_blocks))
            .with("hbm_hit_blocks", column!(r, U64, hbm_hit_blocks))
            .with("dram_hit_blocks", column!(r, U64, dram_hit_blocks))
            .with("ssd_hit_blocks", column!(r, U64, ssd_hit_blocks))
            .with("remote_hit_blocks", column!(r, U64, remote_hit_blocks))
            .with("cached_tokens", column!(r, U64, cached_tokens))
            .with("queue_ns", column!(r, U64, queue_ns))
            .with("load_ns", column!(r, U64, load_ns))
            .with("prefill_ns", column!(r, U64, prefill_ns))
            .with("ttft_ns", column!(r, U64, ttft_ns))
            .with("tpot_ns", column!(r, U64, tpot_ns))
            .with("e2e_ns", column!(r, U64, e2e_ns))
            .with("finish_ns", column!(r, U64, finish_ns))
            .with("metadata_ns", column!(r, U64, metadata_ns))
    }

    /// The `timeseries.parquet` table.
    pub fn timeseries_table(&self) -> Table {
        let t = &self.timeseries;
        let mut table = Table::new()
            .with("time_ns", column!(t, U64, time_ns))
            .with("interval_ns", column!(t, U64, interval_ns))
            .with("instance", column!(t, U32, instance))
            .with("running", column!(t, U64, running))
            .with("waiting", column!(t, U64, waiting))
            .with("batch_tokens", column!(t, U64, batch_tokens))
            .with("iterations", column!(t, U64, iterations))
            .with("gpu_busy_fraction", column!(t, F64, gpu_busy_fraction))
            .with("cache_blocks", column!(t, U64, cache_blocks))
            .with("cached_blocks", column!(t, U64, cached_blocks))
            .with("lookups", column!(t, U64, lookups))
            .with("lookup_blocks", column!(t, U64, lookup_blocks))
            .with("hit_blocks", column!(t, U64, hit_blocks));
        let per_tier = |f: fn(&TierCounters) -> u64, k: usize| {
            Column::U64(t.iter().map(|row| f(&row.tiers[k])).collect())
        };
        for (k, name) in TIER_NAMES.iter().enumerate().skip(1) {
            table = table.with(&format!("{name}_hit_blocks"), per_tier(|c| c.hit_blocks, k));
        }
        for (k, name) in TIER_NAMES.iter().enumerate() {
            table = table
                .with(&format!("{name}_bytes_read"), per_tier(|c| c.bytes_read, k))
                .with(
                    &format!("{name}_bytes_written"),
                    per_tier(|c| c.bytes_written, k),
                )
                .with(&format!("{name}_evictions"), per_tier(|c| c.evictions, k));
        }
        for (k, name) in TIER_NAMES.iter().enumerate().skip(1) {
            table = table.with(
                &format!("{name}_blocks"),
                Column::U64(t.iter().map(|row| row.tier_blocks[k]).collect()),
            );
        }
        table
    }
}
