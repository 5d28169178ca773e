//! `metadata_ops.parquet`: one row per metadata operation.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `backend` | string | `redis`, `sherman`, `chime`, `prefix-index` |
//! | `op` | string | `get`, `range`, `insert`, `delete`, `prefix` |
//! | `issue_ns` | u64 | when a client thread started it |
//! | `latency_ns` | u64 | start to completion |
//! | `keys` | u64 | keys it carried |
//! | `round_trips` | u32 | network round trips (steps) over its sub-operations |
//! | `bytes` | u64 | payload bytes both ways |
//! | `retries` | u32 | lock CAS failures, stale-cache restarts, sibling hops, failed speculative reads |
//! | `found` | u64 | keys found present (writes: keys written) |
//! | `request_id` | u64 | the request it belongs to |

use super::{Column, Table};
use crate::records::OpRecord;

/// The table of `records` (in the given order).
pub fn ops_table(records: &[OpRecord]) -> Table {
    let col_u64 = |f: fn(&OpRecord) -> u64| Column::U64(records.iter().map(f).collect());
    let col_u32 = |f: fn(&OpRecord) -> u32| Column::U32(records.iter().map(f).collect());
    Table::new()
        .with(
            "backend",
            Column::Str(
                records
                    .iter()
                    .map(|r| Some(r.backend.to_string()))
                    .collect(),
            ),
        )
        .with(
            "op",
            Column::Str(
                records
                    .iter()
                    .map(|r| Some(r.op.name().to_string()))
                    .collect(),
            ),
        )
        .with("issue_ns", col_u64(|r| r.issue_ns))
        .with("latency_ns", col_u64(|r| r.latency_ns))
        .with("keys", col_u64(|r| r.keys))
        .with("round_trips", col_u32(|r| r.round_trips))
        .with("bytes", col_u64(|r| r.bytes))
        .with("retries", col_u32(|r| r.retries))
        .with("found", col_u64(|r| r.found))
        .with("request_id", col_u64(|r| r.request_id))
}
