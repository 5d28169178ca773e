//! `kvcsim sweep SPEC --out DIR [--jobs N] [--shard K/N] [--resume]` and
//! `kvcsim sweep merge DIR... --out DIR`

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sweep::{self, PointOutcome, RunOptions, Shard, SweepProgress};

/// Runs a design-space sweep: every point of the spec's grid is one pure `kvcsim run` of the
/// base scenario with the point's parameter values, run in parallel; results land in one
/// Parquet dataset (`DIR/summary.parquet`, `DIR/points/point=<id>/`). See README, "Sweeps".
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    /// Sweep spec YAML: a base scenario, parameters by `--set` path (values, ranges, zips) and
    /// replicate seeds.
    #[arg(required = true)]
    spec: Option<PathBuf>,
    /// Output folder: new, empty, or holding this same sweep.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Points run at once (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Run only shard K of N (K from 0): the points whose id is K modulo N. For Slurm job
    /// arrays (`$SLURM_ARRAY_TASK_ID/N`) and Kubernetes Indexed Jobs (`$JOB_COMPLETION_INDEX/N`);
    /// combine the shards' folders with `kvcsim sweep merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Keep the points already complete in the output folder and run the rest; the final files
    /// equal those of an uninterrupted sweep.
    #[arg(long)]
    resume: bool,
    /// Also write `report.html` (`kvcsim report`) into the output folder.
    #[arg(long)]
    report: bool,
}

#[derive(Debug, Subcommand)]
enum SweepCommand {
    /// Combine the folders of a sweep's shards into one dataset (refuses folders of different
    /// specs or kvcsim versions, and points missing from every folder).
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder (may be one of the shard folders).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Points done and failed, with an ETA, on stderr when it is a terminal.
struct Bar {
    bar: ProgressBar,
    failed: AtomicU64,
}

impl Bar {
    fn new() -> Self {
        // Hidden until the sweep knows its points (see `started`).
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} points, {msg}, ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message("0 failed");
        Bar {
            bar,
            failed: AtomicU64::new(0),
        }
    }
}

impl SweepProgress for Bar {
    fn started(&self, total: u64, kept: u64) {
        self.bar.set_length(total);
        self.bar.set_position(kept);
        self.bar.reset_eta();
        if std::io::stderr().is_terminal() {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn point_done(&self, id: u64, outcome: &PointOutcome) {
        if let PointOutcome::Failed(message) = outcome {
            let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("{failed} failed"));
            self.bar.println(format!("point {id} failed: {message}"));
        }
        self.bar.inc(1);
    }
}

pub fn run(args: SweepArgs, limits: crate::limits::Limits) -> crate::error::Result<()> {
    if let Some(SweepCommand::Merge { dirs, out }) = args.command {
        let report = sweep::merge(&dirs, &out)?;
        println!(
            "merged {} folders: {} points, {} failed; outputs in {}",
            dirs.len(),
            report.points,
            report.failed.len(),
            out.display()
        );
        return check_failures(&report.failed, report.points, &out);
    }
    let (Some(spec), Some(out)) = (args.spec, args.out) else {
        unreachable!("clap requires SPEC and --out without a subcommand");
    };
    let mut spec = sweep::load_spec(&spec)?;
    spec.limits = limits;
    let plan = sweep::plan(spec)?;
    let jobs = match args.jobs {
        Some(j) => j as usize,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let opts = RunOptions {
        jobs,
        shard: args.shard.unwrap_or(Shard::ALL),
        resume: args.resume,
    };
    let bar = Bar::new();
    let report = sweep::run_sweep(&plan, &out, &opts, &bar)?;
    bar.bar.finish_and_clear();
    if args.report {
        crate::report::write_into(&out)?;
    }
    let of = if opts.shard == Shard::ALL {
        String::new()
    } else {
        format!(
            " (shard {}/{} of {})",
            opts.shard.index,
            opts.shard.count,
            plan.points.len()
        )
    };
    println!(
        "{} points{of}: {} ran, {} kept from an earlier run, {} failed; outputs in {}",
        report.points,
        report.points - report.kept,
        report.kept,
        report.failed.len(),
        out.display()
    );
    check_failures(&report.failed, report.points, &out)
}

/// Lists failed points on stderr; an error (exit 1) when there are any.
fn check_failures(failed: &[(u64, String)], points: usize, out: &Path) -> crate::error::Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    for (id, message) in failed.iter().take(10) {
        eprintln!("point {id} failed: {message}");
    }
    // Exit 1: the points' errors are runs that failed, reported per point.
    Err(crate::error::internal(format!(
        "{} of {points} points failed; every output was written, and the errors are in the `error` column of {}",
        failed.len(),
        out.join("summary.parquet").display()
    )))
}
