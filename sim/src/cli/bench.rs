//! `kvcsim bench ...`

use clap::{Args, Subcommand};

use crate::bench::engine;
use crate::limits::{self, Limits};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Event-engine throughput (schedule + pop) with a constant number of pending events.
    Engine(EngineArgs),
    /// perftest (ib_read_lat, ib_write_bw, ...) replayed on a modelled network.
    Rdma(super::bench_rdma::RdmaArgs),
    /// A KV metadata backend (Redis, Sherman, CHIME, prefix index) under closed-loop YCSB-C,
    /// YCSB-E or trace load: Mops and latency percentiles.
    Metadata(super::bench_metadata::MetadataArgs),
    /// Modelled GPU iteration times of given prefill and decode shapes, with their breakdown
    /// by operator class.
    Gpu(super::bench_gpu::GpuArgs),
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Queue sizes to measure (pending events), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    pending: Vec<usize>,
    /// Events (pop + schedule) timed per queue size.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Seed of the random event times.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCommand, limits: Limits) -> crate::error::Result<()> {
    match cmd {
        BenchCommand::Rdma(a) => super::bench_rdma::run(a, limits),
        BenchCommand::Metadata(a) => super::bench_metadata::run(a, limits),
        BenchCommand::Gpu(a) => super::bench_gpu::run(a),
        BenchCommand::Engine(a) => {
            // The hold model needs at least one pending event (it pops one to schedule one).
            for &p in &a.pending {
                limits::at_least_one("--pending", p as u64)?;
                limits.count("--pending", p as u64, limits::BENCH_PENDING)?;
            }
            limits::at_least_one("--events", a.events)?;
            limits.count("--events", a.events, limits::BENCH_EVENTS)?;
            let rows: Vec<_> = a
                .pending
                .iter()
                .map(|&p| engine::run(p, a.events, a.seed))
                .collect();
            if a.json {
                println!("{}", serde_json::json!({ "rows": rows }));
            } else {
                println!(
                    "{:>10} {:>12} {:>9} {:>14}",
                    "pending", "events", "wall_s", "Mevents/s"
                );
                for r in rows {
                    println!(
                        "{:>10} {:>12} {:>9.3} {:>14.2}",
                        r.pending,
                        r.events,
                        r.wall_s,
                        r.events_per_s / 1e6
                    );
                }
            }
            Ok(())
        }
    }
}
