//! `kvcsim plan [SCENARIO] [--set PATH=VALUE]... --slo KEY=VALUE,... --vary PATH=RANGE...`

use std::path::PathBuf;

use clap::Args;

use crate::capacity::{self, Axis, CostExpr, PlanRequest};
use crate::sweep::Shard;

/// Finds the cheapest configurations (GPUs = instances x tensor parallelism, or `--cost`) that
/// meet an SLO: `cluster.instances` and `workload.rate_scale` ranges are bisected, lists are
/// enumerated, every probe is a pure run per seed and meets the SLO when every seed does. See
/// README, "SLOs and `kvcsim plan`".
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
    /// An axis: `cluster.instances=LO..HI` (both included, bisected for the fewest that meet
    /// the SLO), `workload.rate_scale=LO..HI[:STEP]` (rates LO, LO+STEP, ... up to HI, default
    /// step 0.01, bisected for the largest that meets it) or `PATH=A,B,...` (enumerated). At
    /// most one range. Repeatable.
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
    /// The cost to minimise, an expression over the scenario's fields by `--set` path, e.g.
    /// `cluster.instances * cluster.tensor_parallel * if(cluster.gpu == "h200", 3.7, 2.5)`
    /// (default: GPUs).
    #[arg(long, value_name = "EXPR", value_parser = parse_cost)]
    cost: Option<CostExpr>,
    /// Output folder (new, empty, or holding this same plan): `plan.parquet`, `plan.json` and
    /// every probe's run folders. Without it, probes run in memory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Search only the choices (combinations of the --vary lists) whose index is K modulo N,
    /// writing their probes into --out (no plan.parquet). For Slurm job arrays and Kubernetes
    /// Indexed Jobs; then run the same command with --resume and without --shard to assemble.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Reuse the probe runs already complete in --out (same resolved scenario) and run the
    /// rest; the files equal those of an uninterrupted plan.
    #[arg(long)]
    resume: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_axis(text: &str) -> Result<Axis, String> {
    Axis::parse(text).map_err(|e| e.to_string())
}

fn parse_cost(text: &str) -> Result<CostExpr, String> {
    CostExpr::parse(text).map_err(|e| e.to_string())
}

pub fn run(args: PlanArgs, limits: crate::limits::Limits) -> crate::error::Result<()> {
    let mut overrides = args.set;
    if let Some(slo) = &args.slo {
        // A fresh block: the scenario's own `slo` keys do not mix into --slo's.
        overrides.push("slo=".into());
        overrides.push(capacity::slo_override(slo)?);
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
        cost: args.cost,
        shard: args.shard.unwrap_or(Shard::ALL),
        resume: args.resume,
        limits,
    };
    let plan = capacity::plan(&req)?;
    let reuse = format!(
        "{} runs: {} run now, {} reused from the output folder",
        plan.runs(),
        plan.runs() - plan.reused_runs(),
        plan.reused_runs()
    );
    if req.shard != Shard::ALL {
        eprintln!("{reuse}");
        let mine: Vec<String> = (0..plan.choices.len())
            .filter(|&i| req.shard.contains(i as u64))
            .map(|i| i.to_string())
            .collect();
        println!(
            "shard {}/{}: searched choices [{}] of {}: {} probes; probes in {}; assemble the plan with the same command, --resume and no --shard",
            req.shard.index,
            req.shard.count,
            mine.join(", "),
            plan.choices.len(),
            plan.probes(),
            req.out
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .join("probes")
                .display()
        );
        return Ok(());
    }
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
    eprintln!("{reuse}");
    Ok(())
}
