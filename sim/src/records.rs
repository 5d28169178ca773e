//! Records a cluster run produces, and the sink the world pushes them into.
//!
//! ```text
//!   world ──RequestRecord / TimeseriesRow──▶ dyn RecordSink ──▶ output::RunFiles (Parquet, as the run goes)
//!                                                          └─▶ output::summary::SummaryBuilder
//!                                                          └─▶ RunRecords (in memory, tests)
//! ```
//!
//! Neither the world nor the records know about files: column names and units live in
//! `output`. Records arrive in completion order (requests) and in interval order, then instance
//! order (time series).

use kvcsim_models::tiers::TierCounters;

pub use crate::world::metadata_driver::OpRecord;

use crate::engine::SimTime;

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
    /// Times it was preempted (its KV freed, recomputed on readmission).
    pub preemptions: u32,
    /// Tokens whose KV it had computed, lost to preemptions and computed again (not found in
    /// the cache on readmission).
    pub recomputed_tokens: u64,
    /// Instance that computed its prompt (`instance` when aggregated).
    pub prefill_instance: u32,
    /// Instance that generated its output after the first token (`instance`).
    pub decode_instance: u32,
    /// Disaggregated: from the first token to the start of its KV transfer, waiting for a
    /// decode instance with room, ns (0 aggregated).
    pub decode_wait_ns: u64,
    /// Disaggregated: start of its KV transfer to the arrival of the last byte, ns.
    pub transfer_ns: u64,
    /// Disaggregated: KV bytes moved from the prefill to the decode instance.
    pub transfer_bytes: u64,
}

/// One bulk transfer of KV over the fabric (`transfers.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferRecord {
    /// `pd` (prefill to decode).
    pub kind: &'static str,
    /// The request whose KV it carried.
    pub request_id: u64,
    /// Sending instance.
    pub source: u32,
    /// Receiving instance.
    pub destination: u32,
    /// Bytes.
    pub bytes: u64,
    /// Start, ns since the start of the run.
    pub start_ns: u64,
    /// Arrival of the last byte, ns since the start of the run.
    pub end_ns: u64,
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
    /// Requests preempted in the interval.
    pub preemptions: u64,
    /// Tokens lost to those preemptions that readmissions computed again, in the interval.
    pub recomputed_tokens: u64,
    /// Bytes the instance's NICs sent on the fabric in the interval (KV transfers).
    pub nic_tx_bytes: u64,
    /// Bytes its NICs received.
    pub nic_rx_bytes: u64,
    /// `nic_tx_bytes` over what its NICs could send in the interval (0 without a fabric).
    pub nic_tx_utilisation: f64,
    /// `nic_rx_bytes` over what its NICs could receive.
    pub nic_rx_utilisation: f64,
}

/// Where the world puts its records. Implementations may fail (a full disk); they keep the
/// first error and report it from [`RecordSink::error`], and the run stops.
pub trait RecordSink {
    /// A completed request.
    fn request(&mut self, record: &RequestRecord);
    /// One instance's row of one time-series interval.
    fn interval(&mut self, row: &TimeseriesRow);
    /// A request rejected (waiting queue full, or larger than a whole cache).
    fn rejected(&mut self) {}
    /// A finished metadata operation (only when `metadata.record_ops`).
    fn metadata_op(&mut self, _op: &OpRecord) {}
    /// A finished bulk transfer (disaggregated runs).
    fn transfer(&mut self, _t: &TransferRecord) {}
    /// Whether a record could not be kept; the run then stops.
    fn failed(&self) -> bool {
        false
    }
}

/// Everything recorded by one run, in memory (tests and small tools).
#[derive(Debug, Default)]
pub struct RunRecords {
    /// Completed requests, in completion order.
    pub requests: Vec<RequestRecord>,
    /// Time series, by interval then instance.
    pub timeseries: Vec<TimeseriesRow>,
    /// Requests rejected.
    pub rejected: u64,
    /// Metadata operations, in completion order.
    pub metadata_ops: Vec<OpRecord>,
    /// Bulk transfers, in completion order.
    pub transfers: Vec<TransferRecord>,
}

impl RecordSink for RunRecords {
    fn request(&mut self, record: &RequestRecord) {
        self.requests.push(record.clone());
    }
    fn interval(&mut self, row: &TimeseriesRow) {
        self.timeseries.push(row.clone());
    }
    fn rejected(&mut self) {
        self.rejected += 1;
    }
    fn metadata_op(&mut self, op: &OpRecord) {
        self.metadata_ops.push(op.clone());
    }
    fn transfer(&mut self, t: &TransferRecord) {
        self.transfers.push(t.clone());
    }
}

/// Two sinks fed the same records.
pub struct Tee<'a>(pub &'a mut dyn RecordSink, pub &'a mut dyn RecordSink);

impl RecordSink for Tee<'_> {
    fn request(&mut self, record: &RequestRecord) {
        self.0.request(record);
        self.1.request(record);
    }
    fn interval(&mut self, row: &TimeseriesRow) {
        self.0.interval(row);
        self.1.interval(row);
    }
    fn rejected(&mut self) {
        self.0.rejected();
        self.1.rejected();
    }
    fn metadata_op(&mut self, op: &OpRecord) {
        self.0.metadata_op(op);
        self.1.metadata_op(op);
    }
    fn transfer(&mut self, t: &TransferRecord) {
        self.0.transfer(t);
        self.1.transfer(t);
    }
    fn failed(&self) -> bool {
        self.0.failed() || self.1.failed()
    }
}

/// The totals of a run (its records went to the sink).
#[derive(Debug)]
pub struct RunOutput {
    /// Events handled.
    pub events: u64,
    /// Wall-clock seconds of the simulation loop.
    pub wall_s: f64,
    /// Simulated time of the last event.
    pub end: SimTime,
    /// Total GPU busy time per instance, ns.
    pub busy_ns: Vec<u64>,
    /// Per-tier counters summed over instances (HBM, DRAM, SSD, remote; see
    /// `kvcsim_models::tiers::TIER_NAMES`), and which lower tiers were configured.
    pub tiers: TierTotals,
}

/// Tier counters of a whole run.
#[derive(Debug, Clone, Default)]
pub struct TierTotals {
    /// Counters by tier index (0 HBM, 1 DRAM, 2 SSD, 3 remote).
    pub counters: [kvcsim_models::tiers::TierCounters; 4],
    /// Tier indices configured (HBM always).
    pub configured: Vec<usize>,
}
