//! `kvcsim plan [SCENARIO] [--set PATH=VALUE]... --slo KEY=VALUE,... --vary PATH=RANGE...`

use std::path::PathBuf;

use clap::Args;

use crate::capacity::{self, Axis, PlanRequest};

/// Finds the cheapest configurations (GPUs = instances x tensor parallelism) that meet an SLO:
/// `cluster.instances` ranges are bisected, lists are enumerated, every probe is a pure run
/// per seed and meets the SLO when every seed does. See README, "SLOs and `kvcsim plan`".
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Scenario YAML file (default: the embedded default scenario).
    scenario: Option<PathBuf>,
    /// Override a scenario field, as for `kvcsim run`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// SLO targets: `ttft_ms=2000,tpot_ms=50[,e2e_ms=..][,percentile=99]` (replaces the
    /// scenario's `slo`; without it the scenario must have one).
    #[arg(long, value_name = "KEY=VALUE,...")]
    slo: Option<String>,
    /// An axis: `cluster.instances=LO..HI` (both included, bisected) or `PATH=A,B,...`
    /// (enumerated). Repeatable.
    #[arg(long, value_name = "PATH=RANGE|LIST", value_parser = parse_axis)]
    vary: Vec<Axis>,
    /// Replicate seeds per probe: seeds 1..=N (default: the scenario's seed).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: Option<u64>,
    /// Runs at once (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Also search the cheapest configuration's headroom: the largest `workload.rate_scale` up
    /// to MAX (in steps of 0.01) at which it still meets the SLO.
    #[arg(long, value_name = "MAX")]
    headroom: Option<f64>,
    /// Output folder (new or empty): `plan.parquet`, `plan.json` and every probe's run
    /// folders. Without it, probes run in memory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_axis(text: &str) -> Result<Axis, String> {
    Axis::parse(text).map_err(|e| e.to_string())
}

pub fn run(args: PlanArgs, limits: crate::limits::Limits) -> crate::error::Result<()> {
    let mut overrides = args.set;
    if let Some(slo) = &args.slo {
        // A fresh block: the scenario's own `slo` keys do not mix into --slo's.
        overrides.push("slo=".into());
        overrides.push(capacity::slo_override(slo)?);
    }
    if let Some(out) = &args.out {
        // Probe folders are named by choice and count, so an earlier plan's would mix in.
        if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
            return Err(crate::error::input_error(format!(
                "{}: output folder is not empty; give a new or empty --out folder",
                out.display()
            )));
        }
        crate::output::prepare_dir(out)?;
    }
    let req = PlanRequest {
        scenario: args.scenario,
        overrides,
        axes: args.vary,
        seeds: args.seeds,
        jobs: match args.jobs {
            Some(j) => j as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        },
        out: args.out.clone(),
        headroom: args.headroom,
        limits,
    };
    let plan = capacity::plan(&req)?;
    let json = capacity::plan_json(&plan);
    if let Some(out) = &args.out {
        capacity::plan_table(&plan).write_parquet(&out.join("plan.parquet"))?;
        crate::output::write_text_atomic(
            &out.join("plan.json"),
            &(serde_json::to_string_pretty(&json)? + "\n"),
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", capacity::plan_text(&plan));
    }
    Ok(())
}
