//! The clap front end. Thin: parses arguments, calls the library, maps errors to exit codes.

mod bench;
mod bench_gpu;
mod bench_metadata;
mod bench_rdma;
mod cache;
mod calibrate;
mod calibrate_gpu;
mod plan;
mod report;
mod run;
mod sweep;
mod trace;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kvcsim: discrete-event simulator of the KV cache of LLM serving clusters.
///
/// Replays request traces (Mooncake JSONL, Azure CSV) or synthetic workloads against a modelled
/// cluster (GPUs, prefix caches, network, metadata services) and reports what a capacity planner
/// needs. Exit codes: 0 success, 2 bad input or usage, 1 internal error.
#[derive(Debug, Parser)]
#[command(name = "kvcsim", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Accept sizes above kvcsim's resource limits (instances, requests, time-series rows,
    /// bench sizes; see validate/ROBUSTNESS.md), for a machine that has the memory.
    #[arg(long, global = true)]
    allow_large: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a serving cluster replaying a workload; writes Parquet, JSON and YAML outputs.
    Run(run::RunArgs),
    /// Run a scenario over a grid of parameters in parallel, into one Parquet dataset.
    Sweep(sweep::SweepArgs),
    /// Find the cheapest cluster that meets latency targets (SLO), by bisection over instances.
    Plan(plan::PlanArgs),
    /// Read, generate and characterise request traces.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Timing-free what-ifs on one cache (hit-ratio curves of eviction policies).
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Built-in benchmarks of kvcsim's own speed and of modelled hardware.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Fit a network profile to perftest outputs (ib_read_lat, ib_write_bw, ...).
    Calibrate(calibrate::CalibrateArgs),
    /// Validation cases: calibrate, replay, compare with real measurements.
    #[command(subcommand)]
    Validate(validate::ValidateCommand),
    /// One self-contained HTML report of a run, a sweep, or several runs compared.
    Report(report::ReportArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = std::panic::catch_unwind(|| dispatch(cli));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("error: {}", crate::error::chain_message(&err));
            if err.is_user_error() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
        // The panic message was already printed by the default hook.
        Err(_) => {
            eprintln!(
                "error: internal error (a bug in kvcsim); please report it with the command line"
            );
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: Cli) -> crate::error::Result<()> {
    let limits = crate::limits::Limits {
        allow_large: cli.allow_large,
    };
    match cli.command {
        Command::Run(args) => run::run(args, limits),
        Command::Sweep(args) => sweep::run(args, limits),
        Command::Plan(args) => plan::run(args, limits),
        Command::Trace(cmd) => trace::run(cmd, limits),
        Command::Cache(cmd) => cache::run(cmd),
        Command::Bench(cmd) => bench::run(cmd, limits),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Validate(cmd) => validate::run(cmd),
        Command::Report(args) => report::run(args),
    }
}
