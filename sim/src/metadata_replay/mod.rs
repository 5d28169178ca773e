//! A metadata replay end to end (`mode: metadata-replay`, the paper's Fig. 3): scenario ->
//! trace -> each backend in turn -> `metadata_ops.parquet`, `fig3_p99.csv`, `summary.json`,
//! `scenario.resolved.yaml`, and the printed table.

mod world;

use std::path::Path;

use serde::Serialize;

use crate::output::metadata::ops_table;
use crate::output::summary::LatencyMs;
use crate::output::{StagedDir, write_text_atomic};
use crate::run::{load_arrivals, write_resolved};
use crate::scenario::Scenario;
pub use world::{BucketRow, ReplayOutput, mean_p99};

/// Per backend and operation kind, after the warm-up.
#[derive(Debug, Serialize)]
pub struct OpSummary {
    /// Backend.
    pub backend: &'static str,
    /// Operation kind.
    pub op: &'static str,
    /// Operations (after the warm-up).
    pub count: u64,
    /// Latency (after the warm-up), milliseconds.
    pub latency_ms: LatencyMs,
    /// Mean over buckets of the bucket p99, µs (the paper's comparison).
    pub mean_bucket_p99_us: Option<f64>,
    /// Mean round trips.
    pub round_trips_mean: f64,
    /// Mean payload bytes.
    pub bytes_mean: f64,
    /// Operations that retried at least once, fraction.
    pub retried_fraction: f64,
}

/// Per backend: the run's cost.
#[derive(Debug, Serialize)]
pub struct BackendRun {
    /// Backend.
    pub backend: &'static str,
    /// Metadata time of one request's lookup (its lookup operations back to back) after the
    /// warm-up, milliseconds: what a request's TTFT pays.
    pub lookup_per_request_ms: LatencyMs,
    /// Operations.
    pub ops: u64,
    /// Keys stored at the end.
    pub keys_stored: u64,
    /// Events handled.
    pub events: u64,
    /// Simulated span, s.
    pub simulated_s: f64,
    /// Wall-clock seconds of the simulation loop (not deterministic).
    pub wall_s: f64,
}

/// `summary.json` of a replay.
#[derive(Debug, Serialize)]
pub struct ReplaySummary {
    /// Requests replayed.
    pub requests: u64,
    /// Block references in them.
    pub block_references: u64,
    /// Per backend.
    pub backends: Vec<BackendRun>,
    /// Per backend and operation kind.
    pub ops: Vec<OpSummary>,
}

/// Runs every backend of the scenario over its trace; writes the outputs into `dir`; returns
/// the summary and the printed table.
pub fn replay_to_dir(
    scenario: &Scenario,
    target: &Path,
    force: bool,
) -> crate::error::Result<(ReplaySummary, String)> {
    let setup = scenario
        .metadata
        .as_ref()
        .ok_or_else(|| crate::error::input_error("a metadata replay needs metadata.backends"))?;
    let staged = StagedDir::begin(target, force)?;
    let dir = staged.path();
    let arrivals = load_arrivals(scenario)?;
    let outputs: Vec<ReplayOutput> = (0..setup.backends.len())
        .map(|i| world::replay(setup, i, &arrivals, scenario.seed))
        .collect();
    let rows = world::bucket_table(&outputs, setup.bucket_ns, setup.warmup_ns);
    let mut records = Vec::new();
    for o in &outputs {
        let mut r = o.records.clone();
        r.sort_by_key(|x| (x.issue_ns, x.request_id));
        records.extend(r);
    }
    ops_table(&records).write_parquet(&dir.join("metadata_ops.parquet"))?;
    write_text_atomic(&dir.join("fig3_p99.csv"), &world::table_csv(&rows))?;
    let summary = summarise(&arrivals, &outputs, &rows, setup.warmup_ns);
    write_text_atomic(
        &dir.join("summary.json"),
        &(serde_json::to_string_pretty(&summary)? + "\n"),
    )?;
    write_resolved(dir, scenario)?;
    staged.commit()?;
    let mut text = world::table_text(&rows);
    text += &format!(
        "\n{:<14} {:>13} {:>13} {:>9} {:>10} {:>8}\n",
        "backend", "req_p50_us", "req_p99_us", "ops", "events", "wall_s"
    );
    for b in &summary.backends {
        text += &format!(
            "{:<14} {:>13.2} {:>13.2} {:>9} {:>10} {:>8.3}\n",
            b.backend,
            b.lookup_per_request_ms.p50 * 1e3,
            b.lookup_per_request_ms.p99 * 1e3,
            b.ops,
            b.events,
            b.wall_s
        );
    }
    text += "req_*: one request's lookup operations back to back (its metadata share of TTFT)\n";
    Ok((summary, text))
}

/// Sum of each request's lookup latencies (get, range, prefix), requests issued after the
/// warm-up.
fn per_request(o: &ReplayOutput, warmup_ns: u64) -> LatencyMs {
    let mut sums: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for r in &o.records {
        if !r.op.is_write() {
            let e = sums.entry(r.request_id).or_insert((r.issue_ns, 0));
            e.0 = e.0.min(r.issue_ns);
            e.1 += r.latency_ns;
        }
    }
    LatencyMs::of_ns(sums.values().filter(|v| v.0 >= warmup_ns).map(|v| v.1))
}

fn summarise(
    arrivals: &[crate::world::Arrival],
    outputs: &[ReplayOutput],
    rows: &[BucketRow],
    warmup_ns: u64,
) -> ReplaySummary {
    let mut ops = Vec::new();
    for o in outputs {
        let mut kinds: Vec<_> = o.records.iter().map(|r| r.op).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for k in kinds {
            let rs: Vec<_> = o
                .records
                .iter()
                .filter(|r| r.op == k && r.issue_ns >= warmup_ns)
                .collect();
            let n = rs.len().max(1) as f64;
            ops.push(OpSummary {
                backend: o.backend,
                op: k.name(),
                count: rs.len() as u64,
                latency_ms: LatencyMs::of_ns(rs.iter().map(|r| r.latency_ns)),
                mean_bucket_p99_us: mean_p99(rows, o.backend, k.name()),
                round_trips_mean: rs.iter().map(|r| f64::from(r.round_trips)).sum::<f64>() / n,
                bytes_mean: rs.iter().map(|r| r.bytes as f64).sum::<f64>() / n,
                retried_fraction: rs.iter().filter(|r| r.retries > 0).count() as f64 / n,
            });
        }
    }
    ReplaySummary {
        requests: arrivals.len() as u64,
        block_references: arrivals.iter().map(|a| a.blocks.len() as u64).sum(),
        backends: outputs
            .iter()
            .map(|o| BackendRun {
                backend: o.backend,
                lookup_per_request_ms: per_request(o, warmup_ns),
                ops: o.records.len() as u64,
                keys_stored: o.keys_stored,
                events: o.events,
                simulated_s: o.end.as_secs_f64(),
                wall_s: o.wall_s,
            })
            .collect(),
        ops,
    }
}
