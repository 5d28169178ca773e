//! `kvcsim bench metadata`: a metadata backend under closed-loop YCSB or trace load.

use std::path::PathBuf;

use clap::Args;
use kvcsim_models::metadata::{BackendConfig, KeyOrder};

use crate::bench::metadata::{self, Distribution, Workload};
use crate::error::input_error;
use crate::scenario::metadata::{Mode, RawMetadata, validate};

/// Arguments of `kvcsim bench metadata`.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Backend: `redis`, `sherman`, `chime`, `prefix-index`, or a YAML mapping with parameters,
    /// e.g. `'{kind: sherman, cache_mb: 10}'`. Repeatable: each runs in turn.
    #[arg(long, required = true)]
    backend: Vec<String>,
    /// `ycsb-c`, `ycsb-e`, or `trace FILE` (a Mooncake JSONL trace).
    #[arg(long, num_args = 1..=2, value_names = ["WORKLOAD", "FILE"], default_values = ["ycsb-c"])]
    workload: Vec<String>,
    /// Client threads per compute node (each with its own QP).
    #[arg(long, default_value_t = 8)]
    threads: u32,
    /// Compute nodes issuing operations.
    #[arg(long, default_value_t = 1)]
    client_nodes: u32,
    /// YCSB key distribution: `zipfian` (θ = --theta) or `uniform`.
    #[arg(long, default_value = "zipfian")]
    distribution: String,
    /// Zipfian exponent (YCSB default 0.99).
    #[arg(long, default_value_t = 0.99)]
    theta: f64,
    /// Records loaded before a YCSB run.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Operations (trace: requests) to run.
    #[arg(long, default_value_t = 200_000)]
    ops: u64,
    /// Longest YCSB-E scan.
    #[arg(long, default_value_t = 100)]
    scan_max: u64,
    /// Network profile of the RDMA backends (built-in name or YAML path).
    #[arg(long, default_value = "connectx6-100g-roce")]
    network: String,
    /// Key order of a trace workload: `block-id`, `hashed` or `prefix-position`.
    #[arg(long, default_value = "block-id")]
    key_order: String,
    /// Block size of the trace, tokens.
    #[arg(long, default_value_t = 512)]
    block_size: u32,
    /// Seed of the request stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn backend(spec: &str) -> crate::error::Result<BackendConfig> {
    let yaml = if spec.trim_start().starts_with('{') {
        spec.to_string()
    } else {
        format!("{{kind: {spec}}}")
    };
    serde_norway::from_str(&yaml).map_err(|e| input_error(format!("--backend {spec}: {e}")))
}

/// Runs `kvcsim bench metadata`.
pub fn run(a: MetadataArgs, limits: crate::limits::Limits) -> crate::error::Result<()> {
    use crate::limits::{self as lim, at_least_one};
    at_least_one("--keys", a.keys)?;
    limits.count("--keys", a.keys, lim::BENCH_KEYS)?;
    at_least_one("--ops", a.ops)?;
    limits.count("--ops", a.ops, lim::BENCH_OPS)?;
    at_least_one("--scan-max", a.scan_max)?;
    if !(a.theta.is_finite() && a.theta >= 0.0) {
        return Err(input_error(format!(
            "--theta {}: the Zipfian exponent must be a finite number >= 0 (YCSB uses 0.99)",
            a.theta
        )));
    }
    let dist = match a.distribution.as_str() {
        "zipfian" => Distribution::Zipfian(a.theta),
        "uniform" => Distribution::Uniform,
        other => {
            return Err(input_error(format!(
                "--distribution {other}: expected zipfian or uniform"
            )));
        }
    };
    let key_order: KeyOrder = serde_norway::from_str(&a.key_order)
        .map_err(|e| input_error(format!("--key-order {}: {e}", a.key_order)))?;
    let workload = match (a.workload[0].as_str(), a.workload.get(1)) {
        ("ycsb-c", None) => Workload::YcsbC(dist),
        ("ycsb-e", None) => Workload::YcsbE {
            dist,
            scan_max: a.scan_max,
        },
        ("trace", Some(file)) => {
            let opts = kvcsim_traces::ReadOptions {
                format: None,
                block_size: a.block_size,
                reorder: false,
            };
            let reader = kvcsim_traces::TraceReader::open(PathBuf::from(file), &opts)?;
            let reqs = reader.collect::<Result<Vec<_>, _>>()?;
            Workload::Trace(
                reqs.into_iter()
                    .map(|r| crate::world::Arrival {
                        id: r.index,
                        at: crate::engine::SimTime(r.arrival_ns),
                        input_tokens: u64::from(r.input_tokens),
                        output_tokens: u64::from(r.output_tokens),
                        blocks: r
                            .block_ids
                            .into_iter()
                            .map(kvcsim_models::cache::BlockId)
                            .collect(),
                    })
                    .collect(),
            )
        }
        (w, f) => {
            return Err(input_error(format!(
                "--workload {w}{}: expected ycsb-c, ycsb-e or trace FILE",
                f.map(|f| format!(" {f}")).unwrap_or_default()
            )));
        }
    };
    let mut rows = Vec::new();
    for spec in &a.backend {
        let raw = RawMetadata {
            backends: vec![backend(spec)?],
            network: a.network.clone(),
            client_threads: a.threads,
            client_nodes: a.client_nodes,
            key_order,
            ..Default::default()
        };
        let setup = validate(&raw, "bench metadata", Mode::MetadataReplay)?.expect("one backend");
        rows.push(metadata::run(
            &setup,
            workload.clone(),
            a.keys,
            a.ops,
            a.seed,
        )?);
    }
    if a.json {
        println!("{}", serde_json::json!({ "rows": rows }));
    } else {
        print!("{}", metadata::format_text(&rows));
    }
    Ok(())
}
