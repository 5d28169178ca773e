//! `summary.parquet` (one row per point, deterministic) and `timings.parquet` (wall clock).
//!
//! `summary.parquet` columns: `point_id` (u64); one column per parameter, named by its path,
//! typed from the parameter's values (all integers: i64; all numbers: f64; all booleans: bool;
//! otherwise string: strings as written, other values as compact JSON; null where a value is
//! null); `seed` (u64); the metrics of `summary.json` except the wall-clock ones, latencies
//! flattened as `ttft_ms_p50` and so on, null for a failed point; `status` (`ok` or `failed`);
//! `error` (the message of a failed point, else null). Rows are sorted by `point_id`.

use serde_norway::Value;

use super::expand::render_value;
use super::resolved::PointRecord;
use crate::output::summary::{LatencyMs, RunSummary};
use crate::output::{Column, Table};

/// Column of point ids.
pub const POINT_ID: &str = "point_id";
/// Column of seeds.
pub const SEED: &str = "seed";
/// Column of statuses.
pub const STATUS: &str = "status";
/// Column of error messages.
pub const ERROR: &str = "error";
/// Status of a point whose run finished.
pub const STATUS_OK: &str = "ok";
/// Status of a point whose run failed.
pub const STATUS_FAILED: &str = "failed";

/// How a point ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PointOutcome {
    /// It ran; its `summary.json`.
    Ok(Box<RunSummary>),
    /// It failed; the error message.
    Failed(String),
}

impl PointOutcome {
    /// The summary, if the point ran.
    pub fn summary(&self) -> Option<&RunSummary> {
        match self {
            PointOutcome::Ok(s) => Some(s),
            PointOutcome::Failed(_) => None,
        }
    }
}

/// Reads one value of a summary.
type Of<T> = fn(&RunSummary) -> T;
/// Reads one statistic of a latency.
type Stat = fn(&LatencyMs) -> f64;

enum Metric {
    Count(&'static str, Of<u64>),
    Real(String, Box<dyn Fn(&RunSummary) -> f64>),
}

/// The deterministic metrics of `summary.json`, in its order.
fn metrics() -> Vec<Metric> {
    let mut m = vec![
        Metric::Count("requests_completed", |s| s.requests_completed),
        Metric::Count("requests_rejected", |s| s.requests_rejected),
    ];
    let latencies: [(&str, Of<LatencyMs>); 4] = [
        ("ttft_ms", |s| s.ttft_ms),
        ("tpot_ms", |s| s.tpot_ms),
        ("e2e_ms", |s| s.e2e_ms),
        ("metadata_ms", |s| s.metadata_ms),
    ];
    for (name, get) in latencies {
        let stats: [(&str, Stat); 4] = [
            ("mean", |l| l.mean),
            ("p50", |l| l.p50),
            ("p90", |l| l.p90),
            ("p99", |l| l.p99),
        ];
        for (stat, pick) in stats {
            m.push(Metric::Real(
                format!("{name}_{stat}"),
                Box::new(move |s| pick(&get(s))),
            ));
        }
    }
    let reals: [(&str, Of<f64>); 7] = [
        ("metadata_share_of_ttft", |s| s.metadata_share_of_ttft),
        ("block_hit_ratio", |s| s.block_hit_ratio),
        ("token_hit_ratio", |s| s.token_hit_ratio),
        ("throughput_tokens_per_s", |s| s.throughput_tokens_per_s),
        ("total_tokens_per_s", |s| s.total_tokens_per_s),
        ("gpu_busy_fraction", |s| s.gpu_busy_fraction),
        ("simulated_s", |s| s.simulated_s),
    ];
    for (name, get) in reals {
        m.push(Metric::Real(name.to_string(), Box::new(get)));
    }
    m.push(Metric::Count("preemptions", |s| s.preemptions));
    m.push(Metric::Count("recomputed_tokens", |s| s.recomputed_tokens));
    m.push(Metric::Count("events", |s| s.events));
    m
}

/// The `summary.parquet` table of `points` (any order) and their outcomes, sorted by point id.
pub fn summary_table(
    parameters: &[String],
    points: &[PointRecord],
    outcomes: &[PointOutcome],
) -> Table {
    assert_eq!(points.len(), outcomes.len(), "one outcome per point");
    let mut rows: Vec<(&PointRecord, &PointOutcome)> = points.iter().zip(outcomes).collect();
    rows.sort_by_key(|(p, _)| p.point_id);
    let mut t = Table::new().with(
        POINT_ID,
        Column::U64(rows.iter().map(|(p, _)| p.point_id).collect()),
    );
    for path in parameters {
        let values: Vec<Option<&Value>> = rows
            .iter()
            .map(|(p, _)| p.parameters.get(path.as_str()).filter(|v| !v.is_null()))
            .collect();
        t = t.with(path, parameter_column(&values));
    }
    t = t.with(
        SEED,
        Column::U64(rows.iter().map(|(p, _)| p.seed).collect()),
    );
    for metric in metrics() {
        t = match metric {
            Metric::Count(name, get) => t.with(
                name,
                Column::OptU64(rows.iter().map(|(_, o)| o.summary().map(get)).collect()),
            ),
            Metric::Real(name, get) => t.with(
                &name,
                Column::OptF64(rows.iter().map(|(_, o)| o.summary().map(&get)).collect()),
            ),
        };
    }
    // SLO figures: null where the point has no `slo` (or failed); hand-off figures: null
    // where it is not disaggregated.
    let opt_reals: [(&str, Of<Option<f64>>); 5] = [
        ("slo_attainment", |s| s.slo_attainment),
        ("goodput_requests_per_s", |s| s.goodput_requests_per_s),
        ("goodput_per_gpu", |s| s.goodput_per_gpu),
        ("transfer_share_of_e2e", |s| {
            s.disaggregation.as_ref().map(|d| d.transfer_share_of_e2e)
        }),
        ("transfer_ms_p99", |s| {
            s.disaggregation.as_ref().map(|d| d.transfer_ms.p99)
        }),
    ];
    for (name, get) in opt_reals {
        t = t.with(
            name,
            Column::OptF64(
                rows.iter()
                    .map(|(_, o)| o.summary().and_then(get))
                    .collect(),
            ),
        );
    }
    t = t.with(
        "slo_met",
        Column::OptBool(
            rows.iter()
                .map(|(_, o)| o.summary().and_then(|s| s.slo_met))
                .collect(),
        ),
    );
    // Per-tier figures, for every tier kind; null where the point did not configure that tier
    // (or failed), so sweeps over tier layouts land in one schema.
    for tier in kvcsim_models::tiers::TIER_NAMES {
        let of = |(_, o): &(&PointRecord, &PointOutcome)| {
            o.summary()
                .and_then(|s| s.tiers.iter().find(|t| t.tier == tier).cloned())
        };
        t = t
            .with(
                &format!("{tier}_block_hit_ratio"),
                Column::OptF64(
                    rows.iter()
                        .map(|r| of(r).map(|t| t.block_hit_ratio))
                        .collect(),
                ),
            )
            .with(
                &format!("{tier}_bytes_read"),
                Column::OptU64(rows.iter().map(|r| of(r).map(|t| t.bytes_read)).collect()),
            )
            .with(
                &format!("{tier}_bytes_written"),
                Column::OptU64(
                    rows.iter()
                        .map(|r| of(r).map(|t| t.bytes_written))
                        .collect(),
                ),
            )
            .with(
                &format!("{tier}_evictions"),
                Column::OptU64(rows.iter().map(|r| of(r).map(|t| t.evictions)).collect()),
            );
    }
    t.with(
        STATUS,
        Column::Str(
            rows.iter()
                .map(|(_, o)| {
                    Some(match o {
                        PointOutcome::Ok(_) => STATUS_OK.to_string(),
                        PointOutcome::Failed(_) => STATUS_FAILED.to_string(),
                    })
                })
                .collect(),
        ),
    )
    .with(
        ERROR,
        Column::Str(
            rows.iter()
                .map(|(_, o)| match o {
                    PointOutcome::Ok(_) => None,
                    PointOutcome::Failed(m) => Some(m.clone()),
                })
                .collect(),
        ),
    )
}

/// The `timings.parquet` table: `point_id`, `wall_s` (the simulation loop, seconds) and
/// `events_per_s` of each point that ran (null for a failed one), sorted by point id.
pub fn timings_table(points: &[PointRecord], outcomes: &[PointOutcome]) -> Table {
    let mut rows: Vec<(u64, Option<&RunSummary>)> = points
        .iter()
        .zip(outcomes)
        .map(|(p, o)| (p.point_id, o.summary()))
        .collect();
    rows.sort_by_key(|(id, _)| *id);
    Table::new()
        .with(
            POINT_ID,
            Column::U64(rows.iter().map(|(id, _)| *id).collect()),
        )
        .with(
            "wall_s",
            Column::OptF64(rows.iter().map(|(_, s)| s.and_then(|s| s.wall_s)).collect()),
        )
        .with(
            "events_per_s",
            Column::OptF64(
                rows.iter()
                    .map(|(_, s)| s.and_then(|s| s.events_per_s))
                    .collect(),
            ),
        )
}

/// A parameter's column, typed from its non-null values.
fn parameter_column(values: &[Option<&Value>]) -> Column {
    let present = || values.iter().flatten();
    if present().next().is_none() {
        Column::Str(vec![None; values.len()])
    } else if present().all(|v| v.is_bool()) {
        Column::OptBool(values.iter().map(|v| v.and_then(Value::as_bool)).collect())
    } else if present().all(|v| v.is_i64()) {
        Column::OptI64(values.iter().map(|v| v.and_then(Value::as_i64)).collect())
    } else if present().all(|v| v.is_i64() || v.is_f64()) {
        Column::OptF64(values.iter().map(|v| v.and_then(Value::as_f64)).collect())
    } else {
        Column::Str(values.iter().map(|v| v.map(render_value)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(values: &[Value]) -> Column {
        let refs: Vec<Option<&Value>> = values
            .iter()
            .map(|v| Some(v).filter(|v| !v.is_null()))
            .collect();
        parameter_column(&refs)
    }

    #[test]
    fn parameter_columns_keep_their_type() {
        assert_eq!(
            col(&[Value::from(1), Value::from(2)]),
            Column::OptI64(vec![Some(1), Some(2)])
        );
        assert_eq!(
            col(&[Value::from(1), Value::from(2.5)]),
            Column::OptF64(vec![Some(1.0), Some(2.5)])
        );
        assert_eq!(
            col(&[Value::from(true), Value::Null]),
            Column::OptBool(vec![Some(true), None])
        );
        assert_eq!(
            col(&[Value::from("lru"), Value::from(3)]),
            Column::Str(vec![Some("lru".into()), Some("3".into())])
        );
        let kv: Value = serde_norway::from_str("{kind: kv-cost, overlap_weight: 0.5}").unwrap();
        assert_eq!(
            col(&[kv]),
            Column::Str(vec![Some(
                r#"{"kind":"kv-cost","overlap_weight":0.5}"#.into()
            )])
        );
    }

    #[test]
    fn failed_points_have_null_metrics_and_an_error() {
        let points: Vec<PointRecord> = (0..2)
            .map(|i| PointRecord {
                point_id: 1 - i,
                seed: 1,
                parameters: Default::default(),
            })
            .collect();
        let outcomes = vec![
            PointOutcome::Failed("boom".into()),
            PointOutcome::Ok(Box::new(RunSummary {
                requests_completed: 5,
                requests_rejected: 0,
                ttft_ms: LatencyMs::of_ns([1_000_000].into_iter()),
                tpot_ms: LatencyMs::of_ns([].into_iter()),
                e2e_ms: LatencyMs::of_ns([2_000_000].into_iter()),
                block_hit_ratio: 0.5,
                token_hit_ratio: 0.25,
                preemptions: 0,
                recomputed_tokens: 0,
                throughput_tokens_per_s: 1.0,
                total_tokens_per_s: 2.0,
                gpu_busy_fraction: 0.1,
                simulated_s: 3.0,
                events: 9,
                wall_s: Some(0.01),
                events_per_s: Some(900.0),
                tiers: Vec::new(),
                slo_attainment: None,
                disaggregation: None,
                goodput_requests_per_s: None,
                goodput_per_gpu: None,
                slo_met: None,
                metadata_ms: LatencyMs {
                    mean: 0.0,
                    p50: 0.0,
                    p90: 0.0,
                    p99: 0.0,
                },
                metadata_share_of_ttft: 0.0,
            })),
        ];
        let t = summary_table(&[], &points, &outcomes);
        let names: Vec<&str> = t.names().collect();
        assert_eq!(names.first(), Some(&POINT_ID));
        assert_eq!(names.last(), Some(&ERROR));
        assert!(!names.contains(&"wall_s") && names.contains(&"ttft_ms_p99"));
        let batch = t.to_record_batch().unwrap();
        // Sorted: point 0 (ok) first, point 1 (failed) second.
        let completed = batch.column_by_name("requests_completed").unwrap();
        assert_eq!(completed.null_count(), 1);
        assert!(completed.is_null(1));
        assert_eq!(t.rows(), 2);
    }
}
