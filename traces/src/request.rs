//! The request record every reader and generator produces.

/// One request of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// 0-based position of the request in the file (blank lines and the CSV header are not
    /// counted), or in generation order for synthetic workloads. With
    /// [`ReadOptions::reorder`](crate::ReadOptions::reorder) the requests come out sorted by
    /// arrival but keep their original index.
    pub index: u64,
    /// Arrival time in nanoseconds from the trace's time origin: Mooncake `timestamp` (ms) × 10⁶;
    /// Azure: relative to the first (earliest, when reordering) row.
    pub arrival_ns: u64,
    /// Prompt length in tokens.
    pub input_tokens: u32,
    /// Generated length in tokens.
    pub output_tokens: u32,
    /// Prefix-chained block hashes, `ceil(input_tokens / block_size)` of them, the last one
    /// usually covering a partial block. Equal ids mean equal prefixes up to and including that
    /// block. Empty for traces without prefix information (Azure).
    pub block_ids: Vec<u64>,
}
