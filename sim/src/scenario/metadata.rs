//! The `metadata` section of a scenario: which KV metadata service(s), how deployed, and the
//! `mode` that replays a trace against them alone (the paper's Fig. 3 experiment).
//!
//! ```yaml
//! mode: metadata-replay            # or cluster (default)
//! metadata:
//!   backends:                      # a cluster run takes at most one; a replay runs each in turn
//!     - { kind: redis }            # network tcp-kernel-100g unless set
//!     - { kind: sherman, cache_mb: 1000 }
//!     - { kind: chime }
//!     - { kind: prefix-index }
//!   network: connectx6-100g-roce   # profile of the RDMA backends
//!   servers: 1
//!   shard_by: prefix-root          # or key
//!   replicas: 1
//!   client_threads: 1              # per compute node
//!   key_order: block-id            # or hashed, prefix-position
//! ```

use kvcsim_models::metadata::{BackendConfig, KeyOrder};
use kvcsim_models::net::{NetworkProfile, load_network};
use serde::{Deserialize, Serialize};

use super::ScenarioError;

/// What `kvcsim run` does with the scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Simulate the serving cluster (default).
    #[default]
    Cluster,
    /// Replay the trace as a metadata workload against each backend in turn (Fig. 3).
    MetadataReplay,
}

/// How keys are spread over several metadata servers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShardBy {
    /// By the hash of the request's first block: a request's keys stay on one server.
    #[default]
    PrefixRoot,
    /// By the hash of each key.
    Key,
}

/// The `metadata` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetadata {
    /// Backends (see the module docs). Default none: lookups take no time.
    #[serde(default)]
    pub backends: Vec<BackendConfig>,
    /// Network profile of the RDMA backends (a built-in name or a YAML path). Default
    /// `connectx6-100g-roce` (the paper's ConnectX-6 100 Gb; CHIME's and SMART's testbeds).
    #[serde(default = "d_network")]
    pub network: String,
    /// Metadata servers. Default 1.
    #[serde(default = "one")]
    pub servers: u32,
    /// Sharding over servers. Default `prefix-root`.
    #[serde(default)]
    pub shard_by: ShardBy,
    /// Copies of every key (writes go to all, reads to one). Default 1.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Client threads per compute node. Default 1: a serving engine's scheduler is one thread
    /// that looks requests up one after another (README, "Concurrency"; the paper gives none).
    #[serde(default = "d_threads")]
    pub client_threads: u32,
    /// Key order. Default `block-id` (what the paper's setup implies; see README).
    #[serde(default)]
    pub key_order: KeyOrder,
    /// Cluster runs: write `metadata_ops.parquet`. Default false (the replay always writes it).
    #[serde(default)]
    pub record_ops: bool,
    /// Cluster runs with chunked prefill: one lookup per prompt chunk of
    /// `cluster.scheduler.max_batch_tokens` tokens instead of one per request. Default true.
    #[serde(default = "yes")]
    pub lookup_per_chunk: bool,
    /// Replay: client compute nodes. Default 1 (the paper's two-node setup).
    #[serde(default = "one")]
    pub client_nodes: u32,
    /// Replay: bucket of the p99 table, seconds. Default 600 (the paper's 10 minutes).
    #[serde(default = "d_bucket")]
    pub bucket_s: f64,
    /// Replay: warm-up excluded from the headline comparison, seconds. Default 600.
    #[serde(default = "d_bucket")]
    pub warmup_s: f64,
}

fn d_network() -> String {
    "connectx6-100g-roce".into()
}
fn one() -> u32 {
    1
}
fn d_threads() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn d_bucket() -> f64 {
    600.0
}

impl Default for RawMetadata {
    fn default() -> Self {
        RawMetadata {
            backends: Vec::new(),
            network: d_network(),
            servers: 1,
            shard_by: ShardBy::default(),
            replicas: 1,
            client_threads: d_threads(),
            key_order: KeyOrder::default(),
            record_ops: false,
            lookup_per_chunk: true,
            client_nodes: 1,
            bucket_s: d_bucket(),
            warmup_s: d_bucket(),
        }
    }
}

/// The validated `metadata` section.
#[derive(Debug, Clone)]
pub struct MetadataSetup {
    /// Backends with their network profiles loaded.
    pub backends: Vec<(BackendConfig, NetworkProfile)>,
    /// Metadata servers.
    pub servers: u32,
    /// Sharding.
    pub shard_by: ShardBy,
    /// Replicas.
    pub replicas: u32,
    /// Client threads per compute node.
    pub client_threads: u32,
    /// Key order.
    pub key_order: KeyOrder,
    /// Cluster: write per-op records.
    pub record_ops: bool,
    /// Cluster: one lookup per chunk.
    pub lookup_per_chunk: bool,
    /// Replay: client nodes.
    pub client_nodes: u32,
    /// Replay: table bucket, ns.
    pub bucket_ns: u64,
    /// Replay: warm-up, ns.
    pub warmup_ns: u64,
}

impl MetadataSetup {
    /// A setup with one backend and otherwise the defaults (tests, benchmarks).
    pub fn single(backend: BackendConfig) -> Result<Self, ScenarioError> {
        let raw = RawMetadata {
            backends: vec![backend],
            ..Default::default()
        };
        validate(&raw, "(built-in)", Mode::MetadataReplay)
            .map(|m| m.expect("one backend is a setup"))
    }
}

/// Validates the section; `None` when no backend is configured.
pub fn validate(
    raw: &RawMetadata,
    source: &str,
    mode: Mode,
) -> Result<Option<MetadataSetup>, ScenarioError> {
    let err = |path: &str, msg: String| ScenarioError::field(source, path, msg);
    if raw.backends.is_empty() {
        if mode == Mode::MetadataReplay {
            return Err(err(
                "metadata.backends",
                "a metadata replay needs at least one backend".into(),
            ));
        }
        return Ok(None);
    }
    if mode == Mode::Cluster && raw.backends.len() > 1 {
        return Err(err(
            "metadata.backends",
            format!(
                "a cluster run uses one backend, got {} (use mode: metadata-replay to compare)",
                raw.backends.len()
            ),
        ));
    }
    let mut backends = Vec::new();
    for (i, b) in raw.backends.iter().enumerate() {
        let path = format!("metadata.backends[{i}]");
        b.validate().map_err(|m| err(&path, m))?;
        let name = b.network(&raw.network);
        let profile =
            load_network(name).map_err(|e| err(&format!("{path}.network"), e.to_string()))?;
        backends.push((b.clone(), profile));
    }
    for (path, v) in [
        ("metadata.servers", raw.servers),
        ("metadata.replicas", raw.replicas),
        ("metadata.client_threads", raw.client_threads),
        ("metadata.client_nodes", raw.client_nodes),
    ] {
        if v == 0 {
            return Err(err(path, "must be at least 1, got 0".into()));
        }
    }
    if raw.replicas > raw.servers {
        return Err(err(
            "metadata.replicas",
            format!("{} exceeds metadata.servers {}", raw.replicas, raw.servers),
        ));
    }
    for (path, v) in [
        ("metadata.bucket_s", raw.bucket_s),
        ("metadata.warmup_s", raw.warmup_s),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(err(path, format!("must be a finite number >= 0, got {v}")));
        }
    }
    if raw.bucket_s <= 0.0 {
        return Err(err("metadata.bucket_s", "must be positive".into()));
    }
    Ok(Some(MetadataSetup {
        backends,
        servers: raw.servers,
        shard_by: raw.shard_by,
        replicas: raw.replicas,
        client_threads: raw.client_threads,
        key_order: raw.key_order,
        record_ops: raw.record_ops,
        lookup_per_chunk: raw.lookup_per_chunk,
        client_nodes: raw.client_nodes,
        bucket_ns: (raw.bucket_s * 1e9).round() as u64,
        warmup_ns: (raw.warmup_s * 1e9).round() as u64,
    }))
}
