//! `kvcsim trace ...`: characterise and generate request traces.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use kvcsim_traces::stats::{self, Capacity, StatsOptions};
use kvcsim_traces::synth::{self, Limit, SynthSpec};
use kvcsim_traces::{ReadOptions, TraceFormat};

use crate::engine::RandomStreams;
use crate::error::input_error;
use crate::output::write_atomic;

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Characterise a trace: sizes, arrival rate, block reuse, sequential runs and LRU hit
    /// ratios (the analysis of Zhu et al., IEEE CLOUD 2025). JSON keys are listed in README.
    Stats(StatsArgs),
    /// Generate a synthetic chat/agent workload as Mooncake-format JSONL.
    Synth(SynthArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    Mooncake,
    Azure,
}

impl FormatArg {
    pub(crate) fn format(self) -> TraceFormat {
        match self {
            FormatArg::Mooncake => TraceFormat::Mooncake,
            FormatArg::Azure => TraceFormat::Azure,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Trace file: Mooncake `.jsonl` or Azure `.csv`, optionally gzip-compressed (`.gz`).
    file: PathBuf,
    /// Tokens per block of the trace's `hash_ids` (Mooncake FAST'25: 512; Qwen/Bailian: 16).
    #[arg(long, default_value_t = 512)]
    block_size: u32,
    /// LRU capacities to replay: block counts or percentages of the unique blocks,
    /// comma-separated (e.g. `1%,5%,10%,50%` or `1000,5000`).
    #[arg(long, value_delimiter = ',', default_value = "1%,5%,10%,50%")]
    lru_capacity: Vec<String>,
    /// Format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Accept timestamps that go backwards by sorting the trace (reads it all into memory).
    #[arg(long)]
    reorder: bool,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output JSONL file (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Generator spec (YAML, the `workload.synthetic` section of a scenario). Default: the
    /// built-in spec described in README.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Master seed; the generator uses the streams `synth/*` derived from it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of requests (overrides the spec's limit).
    #[arg(long)]
    requests: Option<u64>,
}

pub fn run(cmd: TraceCommand, limits: crate::limits::Limits) -> crate::error::Result<()> {
    match cmd {
        TraceCommand::Stats(a) => stats_cmd(a),
        TraceCommand::Synth(a) => synth_cmd(a, limits),
    }
}

fn stats_cmd(a: StatsArgs) -> crate::error::Result<()> {
    let capacities = a
        .lru_capacity
        .iter()
        .map(|c| {
            c.parse::<Capacity>()
                .map_err(|e| input_error(format!("--lru-capacity: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = ReadOptions {
        format: a.format.map(FormatArg::format),
        block_size: a.block_size,
        reorder: a.reorder,
    };
    let reader = crate::run::open_trace(&a.file, &options)?;
    let has_blocks = reader.has_block_ids();
    let s = stats::compute(reader, &StatsOptions { capacities })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", s.to_text());
        if !has_blocks {
            println!("note: this trace has no block hashes; block statistics are empty");
        }
    }
    Ok(())
}

fn synth_cmd(a: SynthArgs, limits: crate::limits::Limits) -> crate::error::Result<()> {
    let mut spec: SynthSpec = match &a.spec {
        None => SynthSpec::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| input_error(format!("cannot read {}: {e}", p.display())))?;
            let value: serde_norway::Value = serde_norway::from_str(&text)
                .map_err(|e| input_error(format!("{}: not valid YAML: {e}", p.display())))?;
            crate::scenario::from_value(value, &p.display().to_string())?
        }
    };
    if let Some(n) = a.requests {
        spec.limit = Limit {
            requests: Some(n),
            duration_s: None,
        };
    }
    spec.validate()?;
    // The file is written as it is generated (no memory bound), but the warm-up is drawn
    // before the first line: bound it as `run` does.
    crate::scenario::check_warmup(&spec, limits)?;
    let streams = RandomStreams::new(a.seed);
    let requests = synth::generate(&spec, &|name| streams.stream(name))?;
    let mut count = 0u64;
    write_atomic(&a.out, |w| {
        let counted = requests.inspect(|_| count += 1);
        Ok(kvcsim_traces::write_jsonl(counted, w)?)
    })?;
    eprintln!("wrote {count} requests to {}", a.out.display());
    Ok(())
}
