//! Scenarios: YAML file -> raw serde types -> validated [`Scenario`] with references resolved
//! and units converted.
//!
//! ```text
//!   file.yaml ──parse──▶ YAML value ──--set path=value──▶ RawScenario ──validate──▶ Scenario
//!                                    (overrides.rs)        (raw.rs, typed.rs)       (this file)
//! ```
//!
//! Every error names the file (or "--set"), the field path and the bad value; unknown keys get
//! the nearest valid key suggested.

pub mod metadata;
mod overrides;
pub mod raw;
pub mod slo;
mod typed;

use std::path::{Path, PathBuf};

use kvcsim_models::cache::{EvictionConfig, MemoryReserve, capacity_from_hbm};
use kvcsim_models::decode_select::DecodeSelection;
use kvcsim_models::gpu::GpuModelConfig;
use kvcsim_models::hardware::{self, GpuSpec, LlmSpec};
use kvcsim_models::net::{FabricConfig, NetworkProfile};
use kvcsim_models::routing::RoutingConfig;
use kvcsim_models::tiers::TierSetup;
use kvcsim_traces::synth::SynthSpec;
use kvcsim_traces::{ReadOptions, TraceFormat};
use serde_norway::Value;

pub use metadata::{MetadataSetup, Mode, ShardBy};
pub use overrides::Override;
pub use raw::{RawScenario, Role};
pub use slo::{RawSlo, Slo};
pub use typed::from_value;

use crate::engine::SimDuration;
pub use crate::limits::Limits;
use crate::limits::{self, LimitError};

/// The scenario kvcsim runs when none is given (`kvcsim run`): `scenarios/default.yaml`.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/default.yaml");

/// A scenario that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{path}: not valid YAML: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// Parser message with line and column.
        message: String,
    },
    /// A `--set` argument is malformed.
    #[error("bad override `{text}`: {reason}")]
    BadOverride {
        /// The argument.
        text: String,
        /// Why.
        reason: String,
    },
    /// A size is above its resource limit ([`crate::limits`]).
    #[error("{origin}: {source}")]
    Limit {
        /// The file, with "with --set" when overrides were applied.
        origin: String,
        /// The field, value and limit.
        source: LimitError,
    },
    /// A field has a wrong type, an unknown key or an invalid value.
    #[error("{origin}: field `{path}`: {message}")]
    Field {
        /// The file, with "with --set" when overrides were applied.
        origin: String,
        /// Dotted path of the field.
        path: String,
        /// What is wrong, with the value.
        message: String,
    },
}

impl ScenarioError {
    /// True: a scenario that does not load is the user's file, override or sizes.
    pub fn is_user_error(&self) -> bool {
        match self {
            ScenarioError::Read { .. }
            | ScenarioError::Yaml { .. }
            | ScenarioError::BadOverride { .. }
            | ScenarioError::Limit { .. }
            | ScenarioError::Field { .. } => true,
        }
    }

    fn field(source: &str, path: &str, message: impl Into<String>) -> Self {
        ScenarioError::Field {
            origin: source.to_string(),
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Where requests come from.
#[derive(Debug, Clone)]
pub enum WorkloadSource {
    /// A trace file.
    Trace {
        /// Resolved path.
        path: PathBuf,
        /// Reader options.
        options: ReadOptions,
    },
    /// The synthetic generator.
    Synthetic(Box<SynthSpec>),
}

/// The validated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Trace or generator.
    pub source: WorkloadSource,
    /// Arrival times are divided by this.
    pub rate_scale: f64,
    /// Replay at most this many requests.
    pub max_requests: Option<u64>,
    /// Tokens per block.
    pub block_size: u32,
}

/// Scheduler limits of one instance.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerConfig {
    /// The policy.
    pub kind: kvcsim_models::scheduler::SchedulerKind,
    /// Token budget of one iteration.
    pub max_batch_tokens: u64,
    /// Most sequences in one iteration.
    pub max_running: usize,
    /// Chunked prefill on.
    pub chunked_prefill: bool,
    /// Waiting-queue bound.
    pub max_waiting: usize,
}

/// One pool of instances, validated (`cluster.pools[i]`, or the cluster itself).
#[derive(Debug, Clone)]
pub struct Pool {
    /// Its name.
    pub name: String,
    /// What its instances do.
    pub role: Role,
    /// Instances in it.
    pub instances: u32,
    /// Their GPU.
    pub gpu: GpuSpec,
    /// GPUs per instance.
    pub tensor_parallel: u32,
    /// Their GPU execution model.
    pub gpu_model: GpuModelConfig,
    /// Their scheduler.
    pub scheduler: SchedulerConfig,
    /// HBM prefix-cache capacity per instance, blocks.
    pub cache_capacity_blocks: u64,
}

/// The prefill-to-decode hand-off of a disaggregated cluster.
#[derive(Debug, Clone)]
pub struct Disaggregation {
    /// How the decode instance is chosen.
    pub decode_selection: DecodeSelection,
    /// The NICs and switches.
    pub fabric: FabricConfig,
    /// The fabric's network profile, loaded.
    pub network: NetworkProfile,
}

/// The hardware and limits of a pool's instances.
#[derive(Debug, Clone)]
struct PoolHardware {
    gpu: GpuSpec,
    tensor_parallel: u32,
    gpu_model: GpuModelConfig,
    scheduler: SchedulerConfig,
    cache_capacity_blocks: u64,
}

impl PoolHardware {
    fn into_pool(self, name: &str, role: Role, instances: u32) -> Pool {
        Pool {
            name: name.to_string(),
            role,
            instances,
            gpu: self.gpu,
            tensor_parallel: self.tensor_parallel,
            gpu_model: self.gpu_model,
            scheduler: self.scheduler,
            cache_capacity_blocks: self.cache_capacity_blocks,
        }
    }
}

/// What every pool's hardware is resolved against.
struct PoolInputs<'a> {
    source: &'a str,
    llm: &'a LlmSpec,
    block_size: u32,
    reserve: f64,
}

impl PoolInputs<'_> {
    /// Resolves a pool's (or the cluster's, `at` = `cluster`) hardware: the GPU profile, TP
    /// degree, GPU model, scheduler limits and HBM capacity (given at `capacity`, a field path
    /// and value, or derived from HBM).
    fn resolve(
        &self,
        at: &str,
        gpu_name: &str,
        tensor_parallel: u32,
        gpu_model: Option<&raw::RawGpuModel>,
        s: &raw::RawScheduler,
        capacity: Option<(&str, u64)>,
    ) -> Result<PoolHardware, ScenarioError> {
        let source = self.source;
        let gpu = hardware::load_gpu(gpu_name)
            .map_err(|e| ScenarioError::field(source, &format!("{at}.gpu"), e.to_string()))?;
        let tp = at_least_one(
            source,
            &format!("{at}.tensor_parallel"),
            u64::from(tensor_parallel),
        )? as u32;
        let model_path = format!("{at}.gpu_model");
        let gpu_model = match gpu_model {
            None => hardware::default_gpu_model(&gpu),
            Some(raw::RawGpuModel::Profile(name)) => hardware::load_gpu_model(name)
                .map_err(|e| ScenarioError::field(source, &model_path, e.to_string()))?,
            Some(raw::RawGpuModel::Inline(config)) => {
                config
                    .validate()
                    .map_err(|e| ScenarioError::field(source, &model_path, e.to_string()))?;
                (**config).clone()
            }
        };
        let field = |name: &str| format!("{at}.scheduler.{name}");
        let scheduler = SchedulerConfig {
            kind: s.kind,
            max_batch_tokens: at_least_one(
                source,
                &field("max_batch_tokens"),
                u64::from(s.max_batch_tokens),
            )?,
            max_running: at_least_one(source, &field("max_running"), u64::from(s.max_running))?
                as usize,
            chunked_prefill: s.chunked_prefill,
            max_waiting: at_least_one(source, &field("max_waiting"), u64::from(s.max_waiting))?
                as usize,
        };
        let cache_capacity_blocks = match capacity {
            Some((path, n)) => at_least_one(source, path, n)?,
            None => capacity_from_hbm(
                &gpu,
                self.llm,
                u64::from(tp),
                u64::from(self.block_size),
                MemoryReserve::Fraction(self.reserve),
            )
            .map_err(|e| {
                let path = if at == "cluster" {
                    "cache.capacity_blocks".to_string()
                } else {
                    format!("{at}.capacity_blocks")
                };
                ScenarioError::field(source, &path, format!("cannot derive from HBM: {e}"))
            })? as u64,
        };
        Ok(PoolHardware {
            gpu,
            tensor_parallel: tp,
            gpu_model,
            scheduler,
            cache_capacity_blocks,
        })
    }
}

/// A validated scenario: what `world` runs.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Master seed.
    pub seed: u64,
    /// Requests.
    pub workload: Workload,
    /// The served model.
    pub llm: LlmSpec,
    /// The GPU of every instance.
    pub gpu: GpuSpec,
    /// GPUs per instance.
    pub tensor_parallel: u32,
    /// The GPU execution model of every instance.
    pub gpu_model: GpuModelConfig,
    /// Number of instances, all pools together.
    pub instances: u32,
    /// The pools of instances, in order (instances are numbered pool after pool); one `mixed`
    /// pool named `default` when the scenario gives none.
    pub pools: Vec<Pool>,
    /// The prefill-to-decode hand-off, when pools have those roles.
    pub disaggregation: Option<Disaggregation>,
    /// Scheduler limits.
    pub scheduler: SchedulerConfig,
    /// Routing policy.
    pub router: RoutingConfig,
    /// HBM prefix-cache capacity per instance, blocks.
    pub cache_capacity_blocks: u64,
    /// HBM eviction policy.
    pub eviction: EvictionConfig,
    /// Tiers below HBM; `None` when only HBM is configured.
    pub tiers: Option<TierSetup>,
    /// Interval of the time series.
    pub timeseries_interval: SimDuration,
    /// Cluster run or metadata replay.
    pub mode: Mode,
    /// The KV metadata service, if any.
    pub metadata: Option<MetadataSetup>,
    /// Latency targets, if any.
    pub slo: Option<Slo>,
    /// The raw form, with defaults filled in, for `scenario.resolved.yaml`.
    pub raw: RawScenario,
    /// The resource limits it was checked against (the run checks what only the workload
    /// tells, such as the time series' length, against the same).
    pub limits: Limits,
}

impl Scenario {
    /// GPUs of the cluster: instances x tensor parallelism, summed over pools.
    pub fn gpus(&self) -> u64 {
        self.pools
            .iter()
            .map(|p| u64::from(p.instances) * u64::from(p.tensor_parallel))
            .sum()
    }
}

/// Loads a scenario file (or the embedded default when `path` is `None`) and applies overrides,
/// with the default [`Limits`].
pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    load_with_limits(path, overrides, Limits::default())
}

/// [`load`] with explicit resource limits (`--allow-large`).
pub fn load_with_limits(
    path: Option<&Path>,
    overrides: &[String],
    limits: Limits,
) -> Result<Scenario, ScenarioError> {
    let (text, source, base_dir) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| ScenarioError::Read {
                path: p.display().to_string(),
                source: e,
            })?;
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, p.display().to_string(), dir)
        }
        None => (
            DEFAULT_SCENARIO.to_string(),
            "(embedded default scenario)".to_string(),
            PathBuf::new(),
        ),
    };
    load_str_with_limits(&text, &source, &base_dir, overrides, limits)
}

/// Loads a scenario from YAML text. Relative trace paths in the text resolve against `base_dir`;
/// those given by overrides stay relative to the current folder.
pub fn load_str(
    text: &str,
    source: &str,
    base_dir: &Path,
    overrides: &[String],
) -> Result<Scenario, ScenarioError> {
    load_str_with_limits(text, source, base_dir, overrides, Limits::default())
}

/// [`load_str`] with explicit resource limits.
pub fn load_str_with_limits(
    text: &str,
    source: &str,
    base_dir: &Path,
    overrides: &[String],
    limits: Limits,
) -> Result<Scenario, ScenarioError> {
    let mut value: Value = serde_norway::from_str(text).map_err(|e| ScenarioError::Yaml {
        path: source.to_string(),
        message: e.to_string(),
    })?;
    resolve_trace_path(&mut value, base_dir);
    let mut from_override = false;
    for text in overrides {
        let o = Override::parse(text)?;
        from_override |= o.path.starts_with("workload");
        o.apply(&mut value)?;
    }
    let source = if from_override || !overrides.is_empty() {
        format!("{source} with --set")
    } else {
        source.to_string()
    };
    load_value_with_limits(value, &source, limits)
}

/// Types and validates a scenario already parsed into a YAML value, with any overrides applied
/// and trace paths resolved (sweeps build each point's value this way). `source` prefixes every
/// error.
pub fn load_value(value: Value, source: &str) -> Result<Scenario, ScenarioError> {
    load_value_with_limits(value, source, Limits::default())
}

/// [`load_value`] with explicit resource limits.
pub fn load_value_with_limits(
    value: Value,
    source: &str,
    limits: Limits,
) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = from_value(value, source)?;
    validate(raw, source, limits)
}

/// Makes a relative `workload.trace` in `value` relative to `base_dir` (a no-op when the trace is
/// absent or absolute, or `base_dir` is empty).
pub fn resolve_trace_path(value: &mut Value, base_dir: &Path) {
    let Some(trace) = value.get_mut("workload").and_then(|w| w.get_mut("trace")) else {
        return;
    };
    if let Value::String(s) = trace {
        let p = Path::new(s.as_str());
        if p.is_relative() && !base_dir.as_os_str().is_empty() {
            *s = base_dir.join(p).display().to_string();
        }
    }
}

fn positive_finite(source: &str, path: &str, v: f64) -> Result<f64, ScenarioError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ScenarioError::field(
            source,
            path,
            format!("must be a positive finite number, got {v}"),
        ))
    }
}

fn at_least_one(source: &str, path: &str, v: u64) -> Result<u64, ScenarioError> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(ScenarioError::field(
            source,
            path,
            format!("must be at least 1, got {v}"),
        ))
    }
}

fn validate(mut raw: RawScenario, source: &str, limits: Limits) -> Result<Scenario, ScenarioError> {
    let over = |e: LimitError| ScenarioError::Limit {
        origin: source.to_string(),
        source: e,
    };
    let w = &raw.workload;
    let block_size = match (&w.synthetic, w.block_size) {
        (Some(spec), Some(b)) if b != spec.block_size => {
            return Err(ScenarioError::field(
                source,
                "workload.block_size",
                format!(
                    "{b} differs from workload.synthetic.block_size {}; set only the latter",
                    spec.block_size
                ),
            ));
        }
        (Some(spec), _) => spec.block_size,
        (None, b) => {
            at_least_one(source, "workload.block_size", u64::from(b.unwrap_or(512)))? as u32
        }
    };
    let rate_scale = positive_finite(source, "workload.rate_scale", w.rate_scale)?;
    let workload_source = match (&w.trace, &w.synthetic) {
        (Some(_), Some(_)) => {
            return Err(ScenarioError::field(
                source,
                "workload",
                "give either `trace` or `synthetic`, not both",
            ));
        }
        (None, None) => {
            return Err(ScenarioError::field(
                source,
                "workload",
                "give a `trace` file or a `synthetic` spec",
            ));
        }
        (Some(path), None) => {
            let options = ReadOptions {
                format: w.format.map(|f| match f {
                    raw::TraceFormatName::Mooncake => TraceFormat::Mooncake,
                    raw::TraceFormatName::Azure => TraceFormat::Azure,
                }),
                block_size,
                reorder: w.reorder,
            };
            WorkloadSource::Trace {
                path: PathBuf::from(path),
                options,
            }
        }
        (None, Some(spec)) => {
            spec.validate()
                .map_err(|e| ScenarioError::field(source, "workload.synthetic", e.to_string()))?;
            check_synthetic_size(spec, w.max_requests, limits).map_err(over)?;
            WorkloadSource::Synthetic(Box::new(spec.clone()))
        }
    };
    if let Some(0) = w.max_requests {
        return Err(ScenarioError::field(
            source,
            "workload.max_requests",
            "must be at least 1, got 0",
        ));
    }
    let llm = hardware::load_llm(&raw.model)
        .map_err(|e| ScenarioError::field(source, "model", e.to_string()))?;
    raw.router
        .build()
        .map_err(|e| ScenarioError::field(source, "router", e.to_string()))?;
    // Links are checked whether or not a tier uses them, so a typo never waits for a tier.
    raw.cache
        .links
        .validate()
        .map_err(|e| ScenarioError::field(source, "cache.links", e.to_string()))?;
    raw.cache
        .eviction
        .validate()
        .map_err(|e| ScenarioError::field(source, "cache.eviction", e.to_string()))?;
    let reserve = raw.cache.activation_reserve_fraction;
    if !(reserve.is_finite() && (0.0..1.0).contains(&reserve)) {
        return Err(ScenarioError::field(
            source,
            "cache.activation_reserve_fraction",
            format!("must be in [0, 1), got {reserve}"),
        ));
    }
    let c = &raw.cluster;
    let hw = PoolInputs {
        source,
        llm: &llm,
        block_size,
        reserve,
    };
    let cluster_hw = hw.resolve(
        "cluster",
        &c.gpu,
        c.tensor_parallel,
        c.gpu_model.as_ref(),
        &c.scheduler,
        raw.cache
            .capacity_blocks
            .map(|n| ("cache.capacity_blocks", n)),
    )?;
    let pools = if c.pools.is_empty() {
        let n = c.instances.unwrap_or(1);
        let instances = at_least_one(source, "cluster.instances", u64::from(n))? as u32;
        vec![
            cluster_hw
                .clone()
                .into_pool("default", Role::Mixed, instances),
        ]
    } else {
        if c.instances.is_some() {
            return Err(ScenarioError::field(
                source,
                "cluster.instances",
                "give the instance count of each pool in `cluster.pools`, not both",
            ));
        }
        let mut pools: Vec<Pool> = Vec::new();
        for (i, p) in c.pools.iter().enumerate() {
            let at = format!("cluster.pools[{i}]");
            if p.name.is_empty() || pools.iter().any(|q| q.name == p.name) {
                return Err(ScenarioError::field(
                    source,
                    &format!("{at}.name"),
                    format!("pool names must be unique and non-empty, got `{}`", p.name),
                ));
            }
            let instances =
                at_least_one(source, &format!("{at}.instances"), u64::from(p.instances))? as u32;
            let same_gpu = p.gpu.as_ref().is_none_or(|g| *g == c.gpu);
            let hw = hw.resolve(
                &at,
                p.gpu.as_deref().unwrap_or(&c.gpu),
                p.tensor_parallel.unwrap_or(c.tensor_parallel),
                p.gpu_model
                    .as_ref()
                    .or(if same_gpu { c.gpu_model.as_ref() } else { None }),
                p.scheduler.as_ref().unwrap_or(&c.scheduler),
                p.capacity_blocks
                    .map(|n| (format!("{at}.capacity_blocks"), n))
                    .or(raw
                        .cache
                        .capacity_blocks
                        .map(|n| ("cache.capacity_blocks".into(), n)))
                    .as_ref()
                    .map(|(path, n)| (path.as_str(), *n)),
            )?;
            pools.push(hw.into_pool(&p.name, p.role, instances));
        }
        pools
    };
    let has = |r: Role| pools.iter().any(|p| p.role == r);
    let disaggregation = if has(Role::Prefill) || has(Role::Decode) {
        if !(has(Role::Prefill) && has(Role::Decode)) {
            return Err(ScenarioError::field(
                source,
                "cluster.pools",
                "a `prefill` pool needs a `decode` pool and the other way round",
            ));
        }
        let d = c.disaggregation.clone().unwrap_or_default();
        d.fabric
            .validate()
            .map_err(|e| ScenarioError::field(source, "cluster.disaggregation.fabric", e))?;
        let network = kvcsim_models::net::load_network(&d.fabric.network).map_err(|e| {
            ScenarioError::field(
                source,
                "cluster.disaggregation.fabric.network",
                e.to_string(),
            )
        })?;
        Some(Disaggregation {
            decode_selection: d.decode_selection,
            fabric: d.fabric,
            network,
        })
    } else {
        if c.disaggregation.is_some() {
            return Err(ScenarioError::field(
                source,
                "cluster.disaggregation",
                "needs pools with roles `prefill` and `decode` in `cluster.pools`",
            ));
        }
        None
    };
    let instances = pools
        .iter()
        .try_fold(0u32, |n, p| n.checked_add(p.instances))
        .ok_or_else(|| {
            ScenarioError::field(source, "cluster.pools", "more than 2^32 instances in all")
        })?;
    let PoolHardware {
        gpu,
        tensor_parallel: tp,
        gpu_model,
        scheduler,
        cache_capacity_blocks,
    } = cluster_hw;
    if c.pools.is_empty() {
        raw.cluster.instances = Some(instances);
    }
    let tiers = if raw.cache.tiers.is_empty() {
        None
    } else {
        let block_bytes = u64::from(block_size) * llm.kv_bytes_per_token_tp(u64::from(tp));
        let mut specs = Vec::new();
        for (i, t) in raw.cache.tiers.iter().enumerate() {
            let path = format!("cache.tiers[{i}]");
            if specs
                .iter()
                .any(|s: &kvcsim_models::tiers::TierSpec| s.kind == t.kind)
            {
                return Err(ScenarioError::field(
                    source,
                    &path,
                    format!("a second `{}` tier; each kind at most once", t.kind.name()),
                ));
            }
            specs.push(
                t.resolve(block_bytes)
                    .map_err(|e| ScenarioError::field(source, &path, e.to_string()))?,
            );
        }
        Some(TierSetup {
            tiers: specs,
            placement: raw.cache.placement,
            links: raw.cache.links.clone(),
            overlap: raw.cache.load_overlap,
            instances: instances as usize,
            tensor_parallel: u64::from(tp),
            block_bytes,
            layers: llm.layers,
        })
    };
    check_memory(&pools, tiers.as_ref(), limits).map_err(over)?;
    let metadata = metadata::validate(&raw.metadata, source, raw.mode)?;
    let slo = raw
        .slo
        .as_ref()
        .map(|s| Slo::validate(s, source, "slo"))
        .transpose()?;
    let interval_s = positive_finite(
        source,
        "output.timeseries_interval_s",
        raw.output.timeseries_interval_s,
    )?;
    if interval_s < 1e-9 {
        return Err(ScenarioError::field(
            source,
            "output.timeseries_interval_s",
            format!(
                "must be at least 1e-9 (one nanosecond, the clock's resolution), got {interval_s}"
            ),
        ));
    }
    Ok(Scenario {
        seed: raw.seed,
        workload: Workload {
            source: workload_source,
            rate_scale,
            max_requests: w.max_requests,
            block_size,
        },
        llm,
        gpu,
        tensor_parallel: tp,
        gpu_model,
        instances,
        pools,
        disaggregation,
        scheduler,
        router: raw.router,
        cache_capacity_blocks,
        eviction: raw.cache.eviction,
        tiers,
        timeseries_interval: SimDuration::from_secs_f64(interval_s),
        mode: raw.mode,
        metadata,
        slo,
        raw,
        limits,
    })
}

/// Refuses a synthetic workload whose generation would not fit [`limits::REQUESTS`] emitted or
/// [`limits::WARMUP_REQUESTS`] drawn during warm-up (`rate_per_s: 1e9` with the default 300 s
/// of warm-up is 3e11 draws: hours, before the first request).
fn check_synthetic_size(
    spec: &SynthSpec,
    max_requests: Option<u64>,
    limits: Limits,
) -> Result<(), LimitError> {
    check_warmup(spec, limits)?;
    let rate = spec.arrivals.rate_per_s();
    // The requests kept: the generator's own limits, and `max_requests`.
    let kept = [
        spec.limit.requests.map(|n| n as f64),
        spec.limit.duration_s.map(|d| rate * d),
        max_requests.map(|n| n as f64),
    ]
    .into_iter()
    .flatten()
    .fold(f64::INFINITY, f64::min);
    let what = if spec.limit.requests.is_some_and(|n| n as f64 <= kept) {
        "workload.synthetic.limit.requests".to_string()
    } else if max_requests.is_some_and(|n| n as f64 <= kept) {
        "workload.max_requests".to_string()
    } else {
        format!("workload.synthetic.limit.duration_s x arrivals.rate_per_s ({kept:.0} requests)")
    };
    limits.count(&what, kept.min(u64::MAX as f64) as u64, limits::REQUESTS)
}

/// Refuses a synthetic spec whose warm-up (generated and discarded before the first request)
/// draws more than [`limits::WARMUP_REQUESTS`] requests.
pub fn check_warmup(spec: &SynthSpec, limits: Limits) -> Result<(), LimitError> {
    let rate = spec.arrivals.rate_per_s();
    let warmup = rate * spec.warmup_s;
    limits.count(
        &format!(
            "arrivals.rate_per_s x warmup_s ({rate} x {}, requests drawn during warm-up)",
            spec.warmup_s
        ),
        warmup.min(u64::MAX as f64) as u64,
        limits::WARMUP_REQUESTS,
    )
}

/// Refuses a cluster whose fixed memory (instances, and the cache tables sized up front) is
/// estimated above [`limits::MEMORY_BYTES`].
fn check_memory(
    pools: &[Pool],
    tiers: Option<&TierSetup>,
    limits: Limits,
) -> Result<(), LimitError> {
    let presized = |blocks: u64| {
        blocks.min(kvcsim_models::cache::PRESIZE_MAX_ENTRIES as u64) * limits::ENTRY_BYTES
    };
    let mut bytes = 0u64;
    let mut instances = 0u32;
    for p in pools {
        instances = instances.saturating_add(p.instances);
        bytes = bytes.saturating_add(
            u64::from(p.instances)
                .saturating_mul(limits::INSTANCE_BYTES + presized(p.cache_capacity_blocks)),
        );
    }
    let n = u64::from(instances);
    for t in tiers.map(|t| t.tiers.as_slice()).unwrap_or_default() {
        let stores = if t.shared { 1 } else { n };
        bytes = bytes.saturating_add(stores.saturating_mul(presized(t.capacity_blocks)));
    }
    limits.memory("cluster.instances", instances, bytes)
}
