//! The scenario file as written: serde types with documented defaults, unknown keys rejected.
//!
//! ```yaml
//! seed: 42
//! workload:
//!   synthetic: { requests: 2000 }    # or: trace: path/to/trace.jsonl
//!   rate_scale: 1.0
//! model: llama-3.1-8b
//! cluster: { instances: 4, gpu: h100-sxm, tensor_parallel: 1 }
//! router: { kind: cache-aware }
//! cache: { eviction: { kind: lru } }
//! output: { timeseries_interval_s: 1.0 }
//! ```

use kvcsim_models::cache::EvictionConfig;
use kvcsim_models::gpu::GpuModelConfig;
use kvcsim_models::routing::RoutingConfig;
use kvcsim_models::tiers::{LinkConfig, LoadOverlap, PlacementConfig, TierConfig};
use kvcsim_traces::synth::SynthSpec;
use serde::{Deserialize, Serialize};

use super::metadata::{Mode, RawMetadata};
use super::slo::RawSlo;

/// Top level of a scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Master seed: every random stream of the run derives from it. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// What requests arrive, and when.
    pub workload: RawWorkload,
    /// LLM profile: a built-in name (`llama-3.1-8b`, `llama-3.1-70b`, `qwen2.5-32b`) or a path
    /// to a YAML profile. Default `llama-3.1-8b`.
    #[serde(default = "default_model")]
    pub model: String,
    /// Serving instances and their hardware.
    #[serde(default)]
    pub cluster: RawCluster,
    /// How arriving requests are spread over instances. Default cache-aware.
    #[serde(default = "default_router")]
    pub router: RoutingConfig,
    /// The per-instance HBM prefix cache.
    #[serde(default)]
    pub cache: RawCache,
    /// What the run writes.
    #[serde(default)]
    pub output: RawOutput,
    /// `cluster` (default) or `metadata-replay` (the trace against metadata services alone).
    #[serde(default, skip_serializing_if = "is_cluster")]
    pub mode: Mode,
    /// KV metadata service. Default none (lookups take no time).
    #[serde(default, skip_serializing_if = "no_backends")]
    pub metadata: RawMetadata,
    /// Latency targets every summary reports attainment and goodput against. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<RawSlo>,
}

fn is_cluster(m: &Mode) -> bool {
    *m == Mode::Cluster
}

fn no_backends(m: &RawMetadata) -> bool {
    m.backends.is_empty()
}

/// The workload: a trace file or a synthetic generator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// Trace file (Mooncake `.jsonl` or Azure `.csv`, optionally `.gz`). A relative path is
    /// relative to the scenario file's folder (a `--set` value: to the current folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Trace format, if the extension does not say: `mooncake` or `azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TraceFormatName>,
    /// Tokens per KV block of the trace's `hash_ids`. Default 512 (the Mooncake release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    /// Reorder a trace whose timestamps go backwards instead of rejecting it. Default false.
    #[serde(default)]
    pub reorder: bool,
    /// Synthetic workload generator, used when `trace` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SynthSpec>,
    /// Arrival-rate multiplier: arrival times are divided by it (2.0 = twice the load).
    /// Default 1.
    #[serde(default = "one")]
    pub rate_scale: f64,
    /// Replay only the first N requests. Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
}

/// Trace formats by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormatName {
    /// Mooncake FAST'25 JSONL.
    Mooncake,
    /// Azure LLM inference CSV.
    Azure,
}

/// The serving cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Number of model replicas (role `mixed`: prefill and decode on the same instance).
    /// Default 1. Leave it out when `pools` are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// GPU profile: a built-in name (`h100-sxm`, `h200`, `a100-80gb`, `b200`) or a YAML path.
    /// Default `h100-sxm`.
    #[serde(default = "default_gpu")]
    pub gpu: String,
    /// GPUs per instance (tensor parallelism). Default 1.
    #[serde(default = "one_u32")]
    pub tensor_parallel: u32,
    /// GPU execution model: a profile (a built-in calibrated name, `h100-sxm` or
    /// `a100-80gb`, or a YAML path written by `kvcsim calibrate gpu`), or inline
    /// `{kind: roofline, ...}`. Default: the calibrated profile of `gpu` (H100's for a GPU
    /// without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<RawGpuModel>,
    /// Iteration scheduler of each instance.
    #[serde(default)]
    pub scheduler: RawScheduler,
    /// Pools of instances with roles (`prefill`, `decode`, `mixed`), each with its own count
    /// and optionally its own GPU, TP degree, GPU model, scheduler and HBM capacity (the
    /// cluster-level values are the defaults). Default none: `instances` mixed instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<RawPool>,
    /// How prefill instances hand requests to decode instances, and the fabric the KV crosses
    /// (pools with roles only). Default: least-loaded decode selection on a ConnectX-7 fabric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<RawDisaggregation>,
}

impl Default for RawCluster {
    fn default() -> Self {
        RawCluster {
            instances: None,
            gpu: default_gpu(),
            tensor_parallel: 1,
            gpu_model: None,
            scheduler: RawScheduler::default(),
            pools: Vec::new(),
            disaggregation: None,
        }
    }
}

/// What the instances of a pool do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Prompt computation only: the KV then goes to a decode instance.
    Prefill,
    /// Output generation only, from KV shipped by a prefill instance.
    Decode,
    /// Both, on the same instance (aggregated serving).
    Mixed,
}

impl Role {
    /// The role's name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Prefill => "prefill",
            Role::Decode => "decode",
            Role::Mixed => "mixed",
        }
    }
}

/// A pool of instances (`cluster.pools[i]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    /// Name (unique), used in outputs.
    pub name: String,
    /// `prefill`, `decode` or `mixed`.
    pub role: Role,
    /// Instances in the pool.
    pub instances: u32,
    /// GPU profile. Default `cluster.gpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// GPUs per instance. Default `cluster.tensor_parallel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_parallel: Option<u32>,
    /// GPU execution model. Default `cluster.gpu_model` when the pool's GPU is the cluster's,
    /// else the calibrated profile of the pool's GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<RawGpuModel>,
    /// Iteration scheduler. Default `cluster.scheduler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<RawScheduler>,
    /// HBM prefix-cache capacity per instance, blocks. Default `cache.capacity_blocks`, or
    /// derived from the pool's GPU and TP degree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_blocks: Option<u64>,
}

/// `cluster.disaggregation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisaggregation {
    /// Decode-instance choice: `least-loaded` (default) or `kv-aware`.
    #[serde(default)]
    pub decode_selection: kvcsim_models::decode_select::DecodeSelection,
    /// The NICs and switches the KV crosses.
    #[serde(default)]
    pub fabric: kvcsim_models::net::FabricConfig,
}

/// `cluster.gpu_model`: a profile name or path, or the model inline.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RawGpuModel {
    /// A built-in profile name or a YAML path.
    Profile(String),
    /// The model and its parameters.
    Inline(Box<GpuModelConfig>),
}

impl<'de> Deserialize<'de> for RawGpuModel {
    /// A string is a profile; anything else must be a [`GpuModelConfig`], whose own error
    /// (missing or unknown field, unknown kind) is reported.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_norway::Value::deserialize(d)? {
            serde_norway::Value::String(s) => Ok(RawGpuModel::Profile(s)),
            other => serde_norway::from_value::<GpuModelConfig>(other)
                .map(|c| RawGpuModel::Inline(Box::new(c)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Continuous-batching scheduler of one instance (vLLM-style).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    /// Scheduling policy: `vllm` (default; vLLM V1: FCFS, KV allocated on demand, preemption
    /// by recompute) or `sglang-lpm` (the same with SGLang's longest-prefix-first admission).
    #[serde(default)]
    pub kind: kvcsim_models::scheduler::SchedulerKind,
    /// Token budget of one iteration (vLLM `max_num_batched_tokens`). Default 8192.
    #[serde(default = "default_batch_tokens")]
    pub max_batch_tokens: u32,
    /// Most sequences in one iteration (vLLM `max_num_seqs`). Default 256.
    #[serde(default = "default_max_running")]
    pub max_running: u32,
    /// Split long prompts into chunks that share iterations with decodes. Default true (the
    /// vLLM V1 default).
    #[serde(default = "yes")]
    pub chunked_prefill: bool,
    /// Waiting-queue bound per instance; a request arriving at a full queue is rejected.
    /// Default 100000.
    #[serde(default = "default_max_waiting")]
    pub max_waiting: u32,
}

impl Default for RawScheduler {
    fn default() -> Self {
        RawScheduler {
            kind: Default::default(),
            max_batch_tokens: default_batch_tokens(),
            max_running: default_max_running(),
            chunked_prefill: true,
            max_waiting: default_max_waiting(),
        }
    }
}

/// The per-instance HBM prefix cache, and the tiers below it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// HBM capacity in blocks. Default: derived from HBM (TP x HBM - weights - reserve) / block
    /// bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_blocks: Option<u64>,
    /// Fraction of HBM kept for activations and the runtime when deriving the capacity.
    /// Default 0.1 (vLLM's `gpu_memory_utilization` default of 0.9 leaves 10%).
    #[serde(default = "default_reserve")]
    pub activation_reserve_fraction: f64,
    /// HBM eviction policy. Default LRU.
    #[serde(default)]
    pub eviction: EvictionConfig,
    /// Tiers below HBM, fastest first (the order evicted blocks move down in), e.g.
    /// `[{ kind: dram, capacity_gb: 256 }, { kind: ssd, capacity_gb: 3840 }]`. Default none:
    /// HBM only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierConfig>,
    /// Where evicted and loaded blocks go: `{ kind: cascade }` (default) or
    /// `{ kind: hotness, hot_hits: 2 }`.
    #[serde(default)]
    pub placement: PlacementConfig,
    /// PCIe and NIC of each instance (the paths of block moves).
    #[serde(default)]
    pub links: LinkConfig,
    /// Whether a load from a lower tier overlaps the prefill: `none` (default) or `layerwise`.
    #[serde(default)]
    pub load_overlap: LoadOverlap,
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            capacity_blocks: None,
            activation_reserve_fraction: default_reserve(),
            eviction: EvictionConfig::default(),
            tiers: Vec::new(),
            placement: PlacementConfig::default(),
            links: LinkConfig::default(),
            load_overlap: LoadOverlap::default(),
        }
    }
}

/// Output options.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Interval of `timeseries.parquet` rows, simulated seconds. Default 1.
    #[serde(default = "one")]
    pub timeseries_interval_s: f64,
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            timeseries_interval_s: 1.0,
        }
    }
}

fn default_seed() -> u64 {
    1
}
fn default_model() -> String {
    "llama-3.1-8b".into()
}
fn default_gpu() -> String {
    "h100-sxm".into()
}
fn default_router() -> RoutingConfig {
    RoutingConfig::default()
}
fn one() -> f64 {
    1.0
}
fn one_u32() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_batch_tokens() -> u32 {
    8192
}
fn default_max_running() -> u32 {
    256
}
fn default_max_waiting() -> u32 {
    100_000
}
fn default_reserve() -> f64 {
    0.1
}
