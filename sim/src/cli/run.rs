//! `kvcsim run [SCENARIO] [--set path=value]... [--out DIR]`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::run::run_to_dir;
use crate::scenario;
use crate::world::Progress;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario YAML file. Without one, the embedded default scenario runs (a synthetic
    /// workload on four Llama-3.1-8B instances; `scenarios/default.yaml`).
    scenario: Option<PathBuf>,
    /// Override a scenario field by its dotted path, e.g. `--set cluster.instances=16` or
    /// `--set workload.trace=other.jsonl`. Repeatable; applied in order.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Output folder: new, empty, or a previous kvcsim output, which is replaced whole when the
    /// run completes (written beside it first, then swapped in).
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Replace `--out` even when it holds files kvcsim did not write.
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write `report.html` (`kvcsim report`) into the output folder.
    #[arg(long)]
    report: bool,
}

/// A progress bar on stderr that appears only on a terminal and only after a second of work.
struct Bar {
    started: Instant,
    bar: Option<ProgressBar>,
    enabled: bool,
}

impl Progress for Bar {
    fn update(&mut self, finished: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() > Duration::from_secs(1) {
            let bar = match total {
                Some(total) => ProgressBar::new(total).with_style(
                    ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:40}] {pos}/{len} requests, ETA {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                ),
                None => ProgressBar::no_length().with_style(
                    ProgressStyle::with_template("{elapsed_precise} {pos} requests finished")
                        .expect("valid template"),
                ),
            };
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(finished);
        }
    }
}

pub fn run(args: RunArgs, limits: scenario::Limits) -> crate::error::Result<()> {
    let scenario = scenario::load_with_limits(args.scenario.as_deref(), &args.set, limits)?;
    if args.report && scenario.mode == scenario::Mode::MetadataReplay {
        return Err(crate::error::input_error(
            "--report covers cluster runs; a metadata-replay run writes no requests or timeseries",
        ));
    }
    if scenario.mode == scenario::Mode::MetadataReplay {
        let (summary, text) =
            crate::metadata_replay::replay_to_dir(&scenario, &args.out, args.force)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print!("{text}");
            println!("outputs in {}", args.out.display());
        }
        return Ok(());
    }
    let mut bar = Bar {
        started: Instant::now(),
        bar: None,
        enabled: std::io::stderr().is_terminal(),
    };
    let summary = run_to_dir(&scenario, &args.out, args.force, &mut bar)?;
    if let Some(b) = bar.bar.take() {
        b.finish_and_clear();
    }
    if args.report {
        crate::report::write_into(&args.out)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.to_text());
        println!("outputs in {}", args.out.display());
    }
    Ok(())
}
