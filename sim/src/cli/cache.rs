//! `kvcsim cache ...`: timing-free what-ifs on one cache.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use kvcsim_models::cache::EvictionConfig;
use kvcsim_traces::ReadOptions;
use kvcsim_traces::stats::Capacity;
use serde::Serialize;

use super::trace::FormatArg;
use crate::cache_replay::{CurvePoint, curve_table, curve_text, load_trace, replay_all};
use crate::error::input_error;
use crate::output::StagedDir;
use crate::output::plot::{Series, write_line_plot_svg};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Replay a trace through one cache per policy and capacity, with no timing: the hit-ratio
    /// curve. Semantics of `trace stats --lru` (LRU gives exactly its numbers): requests by
    /// arrival, a request's blocks looked up against the cache as it was before it, then
    /// accessed in order.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Trace file: Mooncake `.jsonl`, optionally gzip-compressed (`.gz`).
    file: PathBuf,
    /// Policies, comma-separated: lru, fifo, lfu, s3fifo, arc, prefix-lru, cost-aware, belady
    /// (default parameters; belady is the offline optimum).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lru,fifo,lfu,s3fifo,arc,prefix-lru,cost-aware,belady"
    )]
    policy: Vec<String>,
    /// Capacities: block counts or percentages of the trace's unique blocks, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1%,5%,10%,50%")]
    capacity: Vec<String>,
    /// Tokens per block of the trace's `hash_ids` (Mooncake FAST'25: 512; Qwen/Bailian: 16).
    #[arg(long, default_value_t = 512)]
    block_size: u32,
    /// Format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Accept timestamps that go backwards by sorting the trace.
    #[arg(long)]
    reorder: bool,
    /// Print `{"results": [...]}` instead of the table.
    #[arg(long)]
    json: bool,
    /// Write `curve.parquet` and `curve.svg` (hit ratio against capacity per policy) here: a
    /// new or empty folder, or a previous kvcsim output (replaced whole at the end).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace `--out` even when it holds files kvcsim did not write.
    #[arg(long)]
    force: bool,
}

#[derive(Serialize)]
struct ReplayJson<'a> {
    requests: usize,
    blocks_referenced: u64,
    unique_blocks: usize,
    results: &'a [CurvePoint],
}

pub fn run(cmd: CacheCommand) -> crate::error::Result<()> {
    match cmd {
        CacheCommand::Replay(a) => replay_cmd(a),
    }
}

fn parse_policy(name: &str) -> crate::error::Result<EvictionConfig> {
    let name = name.trim();
    EvictionConfig::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = EvictionConfig::ALL.iter().map(|c| c.name()).collect();
        let nearest = names
            .iter()
            .map(|n| (strsim::normalized_levenshtein(name, n), *n))
            .filter(|(score, _)| *score >= 0.5)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        input_error(format!(
            "--policy: unknown policy `{name}`{nearest} (policies: {})",
            names.join(", ")
        ))
    })
}

fn replay_cmd(a: ReplayArgs) -> crate::error::Result<()> {
    let policies = a
        .policy
        .iter()
        .map(|p| parse_policy(p))
        .collect::<crate::error::Result<Vec<_>>>()?;
    let capacities = a
        .capacity
        .iter()
        .map(|c| {
            c.parse::<Capacity>()
                .map_err(|e| input_error(format!("--capacity: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let staged = a
        .out
        .as_ref()
        .map(|dir| StagedDir::begin(dir, a.force))
        .transpose()?;
    let options = ReadOptions {
        format: a.format.map(FormatArg::format),
        block_size: a.block_size,
        reorder: a.reorder,
    };
    let start = Instant::now();
    let trace = load_trace(&a.file, &options)?;
    let points = replay_all(&trace, &policies, &capacities)?;
    let wall_s = start.elapsed().as_secs_f64();
    if a.json {
        let json = ReplayJson {
            requests: trace.requests(),
            blocks_referenced: trace.references(),
            unique_blocks: trace.unique_blocks(),
            results: &points,
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "{} requests, {} block references, {} unique blocks",
            trace.requests(),
            trace.references(),
            trace.unique_blocks()
        );
        print!("{}", curve_text(&points));
    }
    eprintln!(
        "replayed {} policies x {} capacities in {wall_s:.3} s (reading included)",
        policies.len(),
        capacities.len()
    );
    if let Some(staged) = staged {
        let dir = staged.path();
        curve_table(&points).write_parquet(&dir.join("curve.parquet"))?;
        let series: Vec<Series> = policies
            .iter()
            .map(|p| Series {
                name: p.name().to_string(),
                points: points
                    .iter()
                    .filter(|c| c.policy == p.name())
                    .map(|c| (c.capacity_blocks as f64, c.block_hit_ratio))
                    .collect(),
            })
            .collect();
        write_line_plot_svg(
            &dir.join("curve.svg"),
            &format!(
                "Block hit ratio against capacity: {}",
                a.file.file_name().unwrap_or_default().to_string_lossy()
            ),
            "cache capacity (blocks, log scale)",
            "block hit ratio",
            &series,
            true,
        )?;
        staged.commit()?;
    }
    Ok(())
}
