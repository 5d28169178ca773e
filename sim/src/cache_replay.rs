//! `kvcsim cache replay`: a trace through one cache per (policy, capacity), no timing.
//!
//! ```text
//!  trace ─read, sort by arrival (stable)─▶ ReplayTrace ─┬─ (lru, 1%) ─▶ replay ─┐
//!                                                       ├─ (lru, 5%) ─▶ replay ─┼─▶ rows, in input order
//!                                                       └─ ... rayon ...        ┘
//! ```
//!
//! The engine is `kvcsim_models::cache::replay`; its semantics are those of `kvcsim trace
//! stats --lru` (same order, same lookup-then-access rule, same capacity rounding), so LRU
//! gives exactly its numbers.

use std::path::Path;

use kvcsim_models::cache::{EvictionConfig, ReplayTrace, replay_config};
use kvcsim_traces::ReadOptions;
use kvcsim_traces::stats::Capacity;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::input_error;
use crate::output::{Column, Table};

/// Reads a trace into replay order: by arrival time, ties in file order (as `trace stats`).
/// Fails on a trace without block ids (Azure): there is nothing to cache.
pub fn load_trace(path: &Path, options: &ReadOptions) -> crate::error::Result<ReplayTrace> {
    let reader = crate::run::open_trace(path, options)?;
    let mut requests: Vec<(u64, Vec<u64>)> = reader
        .map(|r| r.map(|r| (r.arrival_ns, r.block_ids)))
        .collect::<Result<_, _>>()?;
    requests.sort_by_key(|r| r.0); // stable: ties keep file order
    let trace = ReplayTrace::from_chains(requests.iter().map(|r| &r.1));
    if trace.references() == 0 {
        return Err(input_error(format!(
            "{}: the trace has no block ids (hash_ids), so there is nothing to cache",
            path.display()
        )));
    }
    Ok(trace)
}

/// One point of the curve: a policy at a capacity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Policy name.
    pub policy: String,
    /// Capacity as given (`5%` or `1000`).
    pub capacity: Capacity,
    /// Capacity in blocks.
    pub capacity_blocks: u64,
    /// Hits / block references.
    pub block_hit_ratio: f64,
    /// Hits in each request's leading run of hits / block references.
    pub prefix_hit_ratio: f64,
    /// Blocks evicted.
    pub evictions: u64,
}

/// Replays `trace` for every (policy, capacity) pair, policies outer, in parallel; the points
/// come back in that order whatever the thread count.
pub fn replay_all(
    trace: &ReplayTrace,
    policies: &[EvictionConfig],
    capacities: &[Capacity],
) -> crate::error::Result<Vec<CurvePoint>> {
    let jobs: Vec<(EvictionConfig, Capacity)> = policies
        .iter()
        .flat_map(|&p| capacities.iter().map(move |&c| (p, c)))
        .collect();
    let unique = trace.unique_blocks() as u64;
    jobs.par_iter()
        .map(|&(policy, capacity)| {
            let capacity_blocks = capacity.resolve(unique);
            // A cache of at least the unique blocks never evicts, whatever the policy: clamping
            // gives the same replay without sizing tables for blocks that never come.
            let r = replay_config(
                trace,
                &policy,
                usize::try_from(capacity_blocks.min(unique))?,
            )?;
            Ok(CurvePoint {
                policy: policy.name().to_string(),
                capacity,
                capacity_blocks,
                block_hit_ratio: r.block_hit_ratio().unwrap_or(0.0),
                prefix_hit_ratio: r.prefix_hit_ratio().unwrap_or(0.0),
                evictions: r.evictions,
            })
        })
        .collect()
}

/// The `curve.parquet` table: one row per point.
pub fn curve_table(points: &[CurvePoint]) -> Table {
    Table::new()
        .with(
            "policy",
            Column::Str(points.iter().map(|p| Some(p.policy.clone())).collect()),
        )
        .with(
            "capacity",
            Column::Str(
                points
                    .iter()
                    .map(|p| Some(p.capacity.to_string()))
                    .collect(),
            ),
        )
        .with(
            "capacity_blocks",
            Column::U64(points.iter().map(|p| p.capacity_blocks).collect()),
        )
        .with(
            "block_hit_ratio",
            Column::F64(points.iter().map(|p| p.block_hit_ratio).collect()),
        )
        .with(
            "prefix_hit_ratio",
            Column::F64(points.iter().map(|p| p.prefix_hit_ratio).collect()),
        )
        .with(
            "evictions",
            Column::U64(points.iter().map(|p| p.evictions).collect()),
        )
}

/// A readable table for stdout.
pub fn curve_text(points: &[CurvePoint]) -> String {
    let mut s = format!(
        "{:<12} {:>9} {:>10} {:>10} {:>10} {:>12}\n",
        "policy", "capacity", "blocks", "block hit", "prefix hit", "evictions"
    );
    for p in points {
        s += &format!(
            "{:<12} {:>9} {:>10} {:>10.4} {:>10.4} {:>12}\n",
            p.policy,
            p.capacity.to_string(),
            p.capacity_blocks,
            p.block_hit_ratio,
            p.prefix_hit_ratio,
            p.evictions
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_keep_input_order_and_lru_matches_trace_stats() {
        // Prefix-chained requests with reuse; capacities small enough to evict.
        let chains: Vec<Vec<u64>> = (0..200u64)
            .map(|i| (0..(i % 7 + 1)).map(|j| (i % 5) * 100 + j).collect())
            .collect();
        let trace = ReplayTrace::from_chains(&chains);
        let caps = [Capacity::Blocks(3), Capacity::PercentOfUnique(50.0)];
        let points = replay_all(&trace, &EvictionConfig::ALL, &caps).unwrap();
        assert_eq!(points.len(), 16);
        assert_eq!(points[0].policy, "lru");
        assert_eq!(points[15].policy, "belady");
        assert_eq!(points[1].capacity_blocks, 18); // 50% of 35 unique blocks, rounded
        let table = curve_table(&points);
        assert_eq!(table.rows(), 16);
        assert!(curve_text(&points).contains("prefix-lru"));
    }
}
