//! A cluster run end to end: scenario -> workload -> world -> output folder.

use std::path::Path;

use kvcsim_models::cache::BlockId;
use kvcsim_traces::Request;
use serde::Serialize;

use crate::engine::{RandomStreams, SimTime};
use crate::output::run_files::RunFiles;
use crate::output::summary::{RunSummary, SummaryBuilder};
use crate::output::{prepare_dir, write_text_atomic};
use crate::records::{RunRecords, Tee};
use crate::scenario::{RawScenario, Scenario, WorkloadSource};
use crate::world::{self, Arrival, Progress, RunOutput};

/// Opens a trace, warning on stderr when reading it reorders requests (`reorder` mode found
/// timestamps going backwards).
pub fn open_trace(
    path: &Path,
    options: &kvcsim_traces::ReadOptions,
) -> anyhow::Result<kvcsim_traces::TraceReader> {
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
/// times divided by `rate_scale`. Also the number of requests when it is known up front.
pub fn arrivals(scenario: &Scenario) -> anyhow::Result<(world::Arrivals<'static>, Option<u64>)> {
    let w = &scenario.workload;
    let limit = w.max_requests.unwrap_or(u64::MAX) as usize;
    let rate_scale = w.rate_scale;
    let to_arrival = move |r: Request| Arrival {
        id: r.index,
        at: SimTime((r.arrival_ns as f64 / rate_scale).round() as u64),
        input_tokens: u64::from(r.input_tokens),
        output_tokens: u64::from(r.output_tokens),
        blocks: r.block_ids.into_iter().map(BlockId).collect(),
    };
    Ok(match &w.source {
        WorkloadSource::Trace { path, options } => {
            let reader = open_trace(path, options)?;
            let iter = reader
                .take(limit)
                .map(move |r| r.map(to_arrival).map_err(anyhow::Error::from));
            (Box::new(iter), w.max_requests)
        }
        WorkloadSource::Synthetic(spec) => {
            let streams = RandomStreams::new(scenario.seed);
            let total = spec.limit.requests.map(|n| n.min(limit as u64));
            let iter = kvcsim_traces::synth::generate(spec, &|name| streams.stream(name))?
                .take(limit)
                .map(move |r| Ok(to_arrival(r)));
            (Box::new(iter), total)
        }
    })
}

/// All the arrivals of the scenario's workload in memory (the metadata replay reads them
/// several times).
pub fn load_arrivals(scenario: &Scenario) -> anyhow::Result<Vec<Arrival>> {
    arrivals(scenario)?.0.collect()
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
) -> anyhow::Result<(MemoryRun, RunSummary)> {
    let mut records = RunRecords::default();
    let mut summary = SummaryBuilder::for_scenario(scenario);
    let (arrivals, total) = arrivals(scenario)?;
    let out = world::run(
        scenario,
        arrivals,
        total,
        &mut Tee(&mut records, &mut summary),
        progress,
    )?;
    let summary = RunSummary::of(summary, &out);
    Ok((MemoryRun { out, records }, summary))
}

/// Runs a scenario writing its records into `dir` as it goes (`requests.parquet`,
/// `timeseries.parquet`, and `metadata_ops.parquet` when `metadata.record_ops` is set), plus
/// `scenario.resolved.yaml`; returns the summary (not written: callers write it with or
/// without wall-clock values).
pub fn simulate_to_dir(
    scenario: &Scenario,
    dir: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<RunSummary> {
    let mut files = RunFiles::new(dir, scenario.slo);
    let mut summary = SummaryBuilder::for_scenario(scenario);
    let (arrivals, total) = arrivals(scenario)?;
    let out = world::run(
        scenario,
        arrivals,
        total,
        &mut Tee(&mut files, &mut summary),
        progress,
    )?;
    files.finish()?;
    if scenario.metadata.as_ref().is_some_and(|m| m.record_ops) {
        crate::output::metadata::ops_table(&out.metadata_ops)
            .write_parquet(&dir.join("metadata_ops.parquet"))?;
    }
    write_resolved(dir, scenario)?;
    Ok(RunSummary::of(summary, &out))
}

#[derive(Serialize)]
struct Resolved<'a> {
    kvcsim_version: &'a str,
    #[serde(flatten)]
    scenario: &'a RawScenario,
}

/// Writes `scenario.resolved.yaml`: the scenario with defaults filled in and the version.
pub fn write_resolved(dir: &Path, scenario: &Scenario) -> anyhow::Result<()> {
    let resolved = Resolved {
        kvcsim_version: env!("CARGO_PKG_VERSION"),
        scenario: &scenario.raw,
    };
    write_text_atomic(
        &dir.join("scenario.resolved.yaml"),
        &serde_norway::to_string(&resolved)?,
    )
}

/// Loads nothing: checks `dir`, simulates, writes.
pub fn run_to_dir(
    scenario: &Scenario,
    dir: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<RunSummary> {
    prepare_dir(dir)?;
    let summary = simulate_to_dir(scenario, dir, progress)?;
    write_text_atomic(
        &dir.join("summary.json"),
        &(serde_json::to_string_pretty(&summary)? + "\n"),
    )?;
    Ok(summary)
}
