//! Prints the statistics of a trace and the time they took.
//!
//! ```text
//! cargo run --release -p kvcsim-traces --example trace_stats -- ../shared/traces/conversation_trace.jsonl [block_size] [--json]
//! ```

use std::time::Instant;

use kvcsim_traces::stats::{self, StatsOptions};
use kvcsim_traces::{ReadOptions, TraceReader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(path) = positional.first() else {
        return Err("usage: trace_stats TRACE [BLOCK_SIZE] [--json]".into());
    };
    let block_size = positional.get(1).map_or(Ok(512), |b| b.parse())?;
    let start = Instant::now();
    let reader = TraceReader::open(
        path,
        &ReadOptions {
            block_size,
            ..ReadOptions::default()
        },
    )?;
    let stats = stats::compute(reader, &StatsOptions::default())?;
    let elapsed = start.elapsed();
    if json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        print!("{}", stats.to_text());
    }
    eprintln!(
        "read + statistics + {} LRU capacities: {:.1} ms",
        stats.lru.len(),
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}
