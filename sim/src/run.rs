//! A cluster run end to end: scenario -> workload -> world -> output folder.

use std::path::Path;

use kvcsim_models::cache::BlockId;
use kvcsim_traces::Request;
use serde::Serialize;

use crate::engine::{RandomStreams, SimTime};
use crate::output::summary::RunSummary;
use crate::output::{StagedDir, write_text_atomic};
use crate::scenario::{RawScenario, Scenario, ScenarioError, WorkloadSource};
use crate::world::{self, Arrival, Progress, RunOutput};

/// Opens a trace, warning on stderr when reading it reorders requests (`reorder` mode found
/// timestamps going backwards).
pub fn open_trace(
    path: &Path,
    options: &kvcsim_traces::ReadOptions,
) -> crate::error::Result<kvcsim_traces::TraceReader> {
    let reader = kvcsim_traces::TraceReader::open(path, options)?;
    if reader.out_of_order_count() > 0 {
        eprintln!(
            "warning: {}: {} requests arrived earlier than the line before them; reordered by arrival time",
            path.display(),
            reader.out_of_order_count()
        );
    }
    Ok(reader)
}

/// Builds the arrivals of the scenario's workload: reads the trace (or generates the synthetic
/// workload from the stream `synth/...` of the master seed), keeps the first `max_requests`, and
/// divides arrival times by `rate_scale`.
pub fn load_arrivals(scenario: &Scenario) -> crate::error::Result<Vec<Arrival>> {
    let w = &scenario.workload;
    let limit = w.max_requests.unwrap_or(u64::MAX) as usize;
    let requests: Vec<Request> = match &w.source {
        WorkloadSource::Trace { path, options } => {
            let reader = open_trace(path, options)?;
            reader.take(limit).collect::<Result<Vec<_>, _>>()?
        }
        WorkloadSource::Synthetic(spec) => {
            let streams = RandomStreams::new(scenario.seed);
            kvcsim_traces::synth::generate(spec, &|name| streams.stream(name))?
                .take(limit)
                .collect()
        }
    };
    check_span(scenario, &requests)?;
    Ok(requests
        .into_iter()
        .map(|r| Arrival {
            id: r.index,
            at: SimTime((r.arrival_ns as f64 / w.rate_scale).round() as u64),
            input_tokens: u64::from(r.input_tokens),
            output_tokens: u64::from(r.output_tokens),
            blocks: r.block_ids.into_iter().map(BlockId).collect(),
        })
        .collect())
}

/// Refuses a workload whose scaled arrival times cannot be represented, or whose time series
/// (instances x span / interval rows, a lower bound: the run also drains after the last
/// arrival) is above [`crate::limits::TIMESERIES_ROWS`]. Names the fields that set the span.
fn check_span(scenario: &Scenario, requests: &[Request]) -> Result<(), ScenarioError> {
    let origin = "the workload".to_string();
    let last_ns = requests.iter().map(|r| r.arrival_ns).max().unwrap_or(0) as f64;
    let w = &scenario.workload;
    let span_ns = last_ns / w.rate_scale;
    let limits = scenario.limits;
    limits
        .sim_time(
            "workload.rate_scale",
            format!("{:?}", w.rate_scale),
            span_ns,
        )
        .map_err(|source| ScenarioError::Limit {
            origin: origin.clone(),
            source,
        })?;
    let interval_ns = scenario.timeseries_interval.0.max(1) as f64;
    let rows = f64::from(scenario.instances) * (span_ns / interval_ns).ceil().max(1.0);
    limits
        .count(
            &format!(
                "output.timeseries_interval_s {:?} with workload.rate_scale {:?} over a {:.3e} s span and {} instances: time-series rows",
                scenario.raw.output.timeseries_interval_s,
                w.rate_scale,
                span_ns / 1e9,
                scenario.instances
            ),
            rows.min(u64::MAX as f64) as u64,
            crate::limits::TIMESERIES_ROWS,
        )
        .map_err(|source| ScenarioError::Limit { origin, source })
}

/// Runs a scenario in memory.
pub fn simulate(
    scenario: &Scenario,
    progress: &mut dyn Progress,
) -> crate::error::Result<(RunOutput, RunSummary)> {
    let arrivals = load_arrivals(scenario)?;
    let out = world::run(scenario, arrivals, progress)?;
    let summary = RunSummary::of(&out);
    Ok((out, summary))
}

#[derive(Serialize)]
struct Resolved<'a> {
    kvcsim_version: &'a str,
    #[serde(flatten)]
    scenario: &'a RawScenario,
}

/// Writes a run's files into `dir` (a [`StagedDir`]'s path): `requests.parquet`,
/// `timeseries.parquet`, `summary.json`, `scenario.resolved.yaml`, and `metadata_ops.parquet`
/// when `metadata.record_ops` is set.
pub fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    out: &RunOutput,
    summary: &RunSummary,
) -> crate::error::Result<()> {
    write_records(dir, scenario, out)?;
    Ok(write_text_atomic(
        &dir.join("summary.json"),
        &(serde_json::to_string_pretty(summary)? + "\n"),
    )?)
}

/// Writes the run's files other than `summary.json`: `requests.parquet`, `timeseries.parquet`,
/// `scenario.resolved.yaml` (sweeps write their own summary, without wall-clock values).
pub fn write_records(dir: &Path, scenario: &Scenario, out: &RunOutput) -> crate::error::Result<()> {
    out.records
        .requests_table()
        .write_parquet(&dir.join("requests.parquet"))?;
    out.records
        .timeseries_table()
        .write_parquet(&dir.join("timeseries.parquet"))?;
    if scenario.metadata.as_ref().is_some_and(|m| m.record_ops) {
        crate::output::metadata::ops_table(&out.metadata_ops)
            .write_parquet(&dir.join("metadata_ops.parquet"))?;
    }
    write_resolved(dir, scenario)
}

/// Writes `scenario.resolved.yaml`: the scenario with defaults filled in and the version.
pub fn write_resolved(dir: &Path, scenario: &Scenario) -> crate::error::Result<()> {
    let resolved = Resolved {
        kvcsim_version: env!("CARGO_PKG_VERSION"),
        scenario: &scenario.raw,
    };
    Ok(write_text_atomic(
        &dir.join("scenario.resolved.yaml"),
        &serde_norway::to_string(&resolved)?,
    )?)
}

/// Loads nothing: checks `dir` (see [`StagedDir`]: absent, empty, or a previous kvcsim output,
/// unless `force`), simulates, writes into a staging folder beside it, and swaps that into
/// place, so `dir` always holds one whole run.
pub fn run_to_dir(
    scenario: &Scenario,
    dir: &Path,
    force: bool,
    progress: &mut dyn Progress,
) -> crate::error::Result<RunSummary> {
    let staged = StagedDir::begin(dir, force)?;
    let (out, summary) = simulate(scenario, progress)?;
    write_outputs(staged.path(), scenario, &out, &summary)?;
    staged.commit()?;
    Ok(summary)
}
