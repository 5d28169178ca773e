//! A cluster run end to end: scenario -> workload -> world -> output folder.

use std::path::Path;

use kvcsim_models::cache::BlockId;
use kvcsim_traces::Request;
use serde::Serialize;

use crate::engine::{RandomStreams, SimTime};
use crate::output::run_files::RunFiles;
use crate::output::summary::{RunSummary, SummaryBuilder};
use crate::output::{StagedDir, write_text_atomic};
use crate::records::{RunRecords, Tee};
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

/// The arrivals of the scenario's workload, read as the run goes: the trace (or the synthetic
/// workload from the stream `synth/...` of the master seed), its first `max_requests`, arrival
/// times divided by `rate_scale`. Also the number of requests when it is known up front. An
/// arrival past the simulated-time or time-series limits ends the workload with that error
/// ([`check_span`]).
pub fn arrivals(
    scenario: &Scenario,
) -> crate::error::Result<(world::Arrivals<'static>, Option<u64>)> {
    let w = &scenario.workload;
    let limit = w.max_requests.unwrap_or(u64::MAX) as usize;
    let rate_scale = w.rate_scale;
    let checked = SpanCheck::new(scenario);
    let to_arrival = move |r: Request| -> crate::error::Result<Arrival> {
        checked.check(r.arrival_ns)?;
        Ok(Arrival {
            id: r.index,
            at: SimTime((r.arrival_ns as f64 / rate_scale).round() as u64),
            input_tokens: u64::from(r.input_tokens),
            output_tokens: u64::from(r.output_tokens),
            blocks: r.block_ids.into_iter().map(BlockId).collect(),
        })
    };
    Ok(match &w.source {
        WorkloadSource::Trace { path, options } => {
            let reader = open_trace(path, options)?;
            let iter = reader
                .take(limit)
                .map(move |r| r.map_err(crate::error::Error::from).and_then(&to_arrival));
            (Box::new(iter), w.max_requests)
        }
        WorkloadSource::Synthetic(spec) => {
            let streams = RandomStreams::new(scenario.seed);
            let total = spec.limit.requests.map(|n| n.min(limit as u64));
            let iter = kvcsim_traces::synth::generate(spec, &|name| streams.stream(name))?
                .take(limit)
                .map(to_arrival);
            (Box::new(iter), total)
        }
    })
}

/// All the arrivals of the scenario's workload in memory (the metadata replay reads them
/// several times).
pub fn load_arrivals(scenario: &Scenario) -> crate::error::Result<Vec<Arrival>> {
    arrivals(scenario)?.0.collect()
}

/// The limits an arrival's time must respect: simulated time below 2^62 ns, and the time
/// series it implies (instances x intervals up to it) within `limits::TIMESERIES_ROWS` unless
/// `--allow-large`. Checked per arrival, as the workload is read.
#[derive(Clone)]
struct SpanCheck {
    limits: crate::limits::Limits,
    rate_scale: f64,
    interval_ns: f64,
    instances: u32,
    interval_s: f64,
}

impl SpanCheck {
    fn new(scenario: &Scenario) -> Self {
        SpanCheck {
            limits: scenario.limits,
            rate_scale: scenario.workload.rate_scale,
            interval_ns: scenario.timeseries_interval.0.max(1) as f64,
            instances: scenario.instances,
            interval_s: scenario.raw.output.timeseries_interval_s,
        }
    }

    fn check(&self, arrival_ns: u64) -> Result<(), ScenarioError> {
        let origin = "the workload".to_string();
        let span_ns = arrival_ns as f64 / self.rate_scale;
        self.limits
            .sim_time(
                "workload.rate_scale",
                format!("{:?}", self.rate_scale),
                span_ns,
            )
            .map_err(|source| ScenarioError::Limit {
                origin: origin.clone(),
                source,
            })?;
        let rows = f64::from(self.instances) * (span_ns / self.interval_ns).ceil().max(1.0);
        self.limits
            .count(
                &format!(
                    "output.timeseries_interval_s {:?} with workload.rate_scale {:?} over a {:.3e} s span and {} instances: time-series rows",
                    self.interval_s,
                    self.rate_scale,
                    span_ns / 1e9,
                    self.instances
                ),
                rows.min(u64::MAX as f64) as u64,
                crate::limits::TIMESERIES_ROWS,
            )
            .map_err(|source| ScenarioError::Limit { origin, source })
    }
}

/// A run kept in memory: its totals and every record (tests and small tools).
#[derive(Debug)]
pub struct MemoryRun {
    /// Totals.
    pub out: RunOutput,
    /// Every record, in the order the world pushed them.
    pub records: RunRecords,
}

/// Runs a scenario in memory.
pub fn simulate(
    scenario: &Scenario,
    progress: &mut dyn Progress,
) -> crate::error::Result<(MemoryRun, RunSummary)> {
    let mut records = RunRecords::default();
    let (out, summary) = run_into(scenario, &mut records, progress)?;
    Ok((MemoryRun { out, records }, summary))
}

/// Runs a scenario pushing its records into `sink` and into the summary.
fn run_into(
    scenario: &Scenario,
    sink: &mut dyn crate::records::RecordSink,
    progress: &mut dyn Progress,
) -> crate::error::Result<(RunOutput, RunSummary)> {
    let mut summary = SummaryBuilder::for_scenario(scenario);
    let (arrivals, total) = arrivals(scenario)?;
    let out = world::run(
        scenario,
        arrivals,
        total,
        &mut Tee(sink, &mut summary),
        progress,
    )?;
    let summary = RunSummary::of(summary, &out);
    Ok((out, summary))
}

/// Runs a scenario writing its records into `dir` as it goes (`requests.parquet`,
/// `timeseries.parquet`, and `metadata_ops.parquet` when `metadata.record_ops` is set), plus
/// `scenario.resolved.yaml`; returns the summary (not written: callers write it with or
/// without wall-clock values). `dir` is a staging folder ([`StagedDir`]) or a sweep point's
/// temporary folder.
pub fn simulate_to_dir(
    scenario: &Scenario,
    dir: &Path,
    progress: &mut dyn Progress,
) -> crate::error::Result<RunSummary> {
    let record_ops = scenario.metadata.as_ref().is_some_and(|m| m.record_ops);
    let mut files = RunFiles::new(
        dir,
        record_ops,
        scenario.disaggregation.is_some(),
        scenario.slo,
    );
    let (_, summary) = run_into(scenario, &mut files, progress)?;
    files.finish()?;
    write_resolved(dir, scenario)?;
    Ok(summary)
}

#[derive(Serialize)]
struct Resolved<'a> {
    kvcsim_version: &'a str,
    #[serde(flatten)]
    scenario: &'a RawScenario,
}

/// A run folder's resolved scenario.
pub const RESOLVED_SCENARIO_FILE: &str = "scenario.resolved.yaml";

/// The text of `scenario.resolved.yaml`: the scenario with defaults filled in and the version
/// (`plan --resume` compares it with a probe folder's to tell whether the run is the same).
pub fn resolved_text(scenario: &Scenario) -> crate::error::Result<String> {
    let resolved = Resolved {
        kvcsim_version: env!("CARGO_PKG_VERSION"),
        scenario: &scenario.raw,
    };
    Ok(serde_norway::to_string(&resolved)?)
}

/// Writes `scenario.resolved.yaml` ([`resolved_text`]).
pub fn write_resolved(dir: &Path, scenario: &Scenario) -> crate::error::Result<()> {
    Ok(write_text_atomic(
        &dir.join(RESOLVED_SCENARIO_FILE),
        &resolved_text(scenario)?,
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
    let summary = simulate_to_dir(scenario, staged.path(), progress)?;
    write_text_atomic(
        &staged.path().join("summary.json"),
        &(serde_json::to_string_pretty(&summary)? + "\n"),
    )?;
    staged.commit()?;
    Ok(summary)
}
