//! Measured operator tables turned into observations of the roofline's operator classes: each
//! row of `../shared/gpu` becomes the feature vector the model computes for its shape, and the
//! measured seconds.

use std::path::{Path, PathBuf};

use kvcsim_models::gpu::ops::{
    ALLREDUCE_LOWER_BOUNDS, AllReduceCurve, AttentionShape, Features, KERNEL_LOWER_BOUNDS, Peaks,
};
use kvcsim_models::gpu::{LayerKernel, LayerShape};
use kvcsim_models::hardware::GpuSpec;

use super::data::{self, DataError, VIDUR_OPS};

/// An operator class with its own curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Linear layers (Vidur's per-layer GEMMs, real model shapes).
    Gemm,
    /// RMSNorm.
    Norm,
    /// Rotary embedding.
    Rope,
    /// SiLU-and-multiply.
    Activation,
    /// Residual add.
    Residual,
    /// Embedding gather.
    Embedding,
    /// AIConfigurator's GEMM grid (synthetic shapes).
    GemmGrid,
    /// Prefill attention.
    PrefillAttention,
    /// Decode attention.
    DecodeAttention,
    /// All-reduce.
    AllReduce,
}

impl Class {
    /// Name in tables and profiles.
    pub fn name(self) -> &'static str {
        match self {
            Class::Gemm => "gemm",
            Class::Norm => "norm",
            Class::Rope => "rope",
            Class::Activation => "activation",
            Class::Residual => "residual",
            Class::Embedding => "embedding",
            Class::GemmGrid => "gemm (grid)",
            Class::PrefillAttention => "prefill_attention",
            Class::DecodeAttention => "decode_attention",
            Class::AllReduce => "allreduce",
        }
    }

    /// Lower bounds of the class's coefficients.
    pub fn lower_bounds(self) -> &'static [f64] {
        match self {
            Class::AllReduce => &ALLREDUCE_LOWER_BOUNDS,
            _ => &KERNEL_LOWER_BOUNDS,
        }
    }
}

/// The Vidur operator column of each per-layer kernel class (and the embedding).
pub(super) fn vidur_op(op: &str) -> Option<(Class, Option<LayerKernel>)> {
    Some(match op {
        "emb" => (Class::Embedding, None),
        "input_layernorm" => (Class::Norm, Some(LayerKernel::InputNorm)),
        "attn_pre_proj" => (Class::Gemm, Some(LayerKernel::QkvProj)),
        "attn_rope" => (Class::Rope, Some(LayerKernel::Rope)),
        "attn_post_proj" => (Class::Gemm, Some(LayerKernel::OProj)),
        "post_attention_layernorm" => (Class::Norm, Some(LayerKernel::PostNorm)),
        "mlp_up_proj" => (Class::Gemm, Some(LayerKernel::UpProj)),
        "mlp_act" => (Class::Activation, Some(LayerKernel::Activation)),
        "mlp_down_proj" => (Class::Gemm, Some(LayerKernel::DownProj)),
        "add" => (Class::Residual, Some(LayerKernel::Residual)),
        _ => return None,
    })
}

/// One measured kernel call.
#[derive(Clone, Debug)]
pub struct Obs {
    /// Model (or, without one, shape configuration) for leave-one-model-out.
    pub model: String,
    /// TP degree (all-reduce: GPUs) for leave-one-TP-out; 0 where the table has none.
    pub tp: u64,
    /// Feature vector.
    pub x: Vec<f64>,
    /// Measured seconds.
    pub t: f64,
    /// Index of the Vidur layer row this op belongs to (layer sums), if any.
    pub layer: Option<usize>,
}

/// The observations of one operator class from one source on one GPU: the unit that is fitted.
#[derive(Clone, Debug)]
pub struct Unit {
    /// GPU profile name.
    pub gpu: String,
    /// Where the rows come from (`vidur eager fp16`, `aic vllm 0.24.0`, ...).
    pub source: String,
    /// The class.
    pub class: Class,
    /// Rows.
    pub obs: Vec<Obs>,
}

/// The GPUs of `../shared/gpu`: Vidur compute folder, Vidur network folder, AIConfigurator
/// system folder, kvcsim GPU profile.
pub const GPUS: [(&str, &str, &str, &str); 2] = [
    ("a100", "a100_dgx", "a100_sxm", "a100-80gb"),
    ("h100", "h100_dgx", "h100_sxm", "h100-sxm"),
];

/// Which AIConfigurator tables calibrate the attention and all-reduce curves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Framework {
    /// vLLM (FlashAttention kernels, vLLM custom all-reduce).
    Vllm,
    /// TensorRT-LLM.
    Trtllm,
}

impl Framework {
    /// Folder name in the AIConfigurator tree.
    pub fn folder(self) -> &'static str {
        match self {
            Framework::Vllm => "vllm",
            Framework::Trtllm => "trtllm",
        }
    }

    /// The attention kernel to keep on `aic_gpu` (`vllm_flash_attn_fa3` on Hopper, FA2 on
    /// Ampere, `torch_flow` for TRT-LLM).
    pub(super) fn attention_kernel(self, aic_gpu: &str) -> &'static str {
        match (self, aic_gpu) {
            (Framework::Trtllm, _) => "torch_flow",
            (Framework::Vllm, "a100_sxm") => "vllm_flash_attn",
            (Framework::Vllm, _) => "vllm_flash_attn_fa3",
        }
    }
}

/// All units of one GPU found under `data` (the `../shared/gpu` folder). Missing tables are
/// skipped (a GPU may lack one); unreadable ones are errors.
pub fn gpu_units(
    data: &Path,
    gpu: &(&str, &str, &str, &str),
    spec: &GpuSpec,
    framework: Framework,
) -> Result<(Vec<Unit>, Vec<VidurLayer>), DataError> {
    let (vidur_gpu, vidur_net, aic_gpu, profile) = *gpu;
    let peaks = spec.peaks();
    let link = spec.nvlink_unidirectional_bw_bytes_per_s();
    let mut units = Vec::new();
    let mut layers = Vec::new();

    // Vidur per-layer ops, one file per model.
    let compute = data.join("vidur/data/profiling/compute").join(vidur_gpu);
    let mut by_class: std::collections::BTreeMap<Class, Vec<Obs>> = Default::default();
    for file in sorted_files(&compute, "mlp.csv", 2)? {
        let model = file
            .parent()
            .and_then(|p| p.strip_prefix(&compute).ok())
            .map_or_else(|| file.display().to_string(), |p| p.display().to_string());
        for row in data::read_vidur_layers(&file)? {
            let layer = layers.len();
            let shape = vidur_shape(&row);
            for (op, &t) in VIDUR_OPS.iter().zip(&row.op_s) {
                let Some((class, kernel)) = vidur_op(op) else {
                    continue;
                };
                let x = match kernel {
                    Some(k) => shape.kernel(&peaks, k, row.tokens),
                    None => shape.embedding(&peaks, row.tokens),
                };
                by_class.entry(class).or_default().push(Obs {
                    model: model.clone(),
                    tp: row.tp,
                    x: x.0.to_vec(),
                    t,
                    layer: Some(layer),
                });
            }
            layers.push(VidurLayer {
                model: model.clone(),
                tp: row.tp,
                tokens: row.tokens,
                measured_s: row.op_s.iter().sum(),
            });
        }
    }
    for (class, obs) in by_class {
        units.push(unit(profile, "vidur eager fp16", class, obs));
    }

    // Vidur NCCL all-reduce.
    let ar = data
        .join("vidur/data/profiling/network")
        .join(vidur_net)
        .join("all_reduce.csv");
    if ar.is_file() {
        let obs = allreduce_obs(&data::read_vidur_allreduce(&ar)?, link);
        units.push(unit(profile, "vidur nccl eager", Class::AllReduce, obs));
    }

    // AIConfigurator tables of the framework.
    let aic = data.join("aiconfigurator/systems/data").join(aic_gpu);
    let fw = framework.folder();
    for file in sorted_files(&aic.join("gemm").join(fw), "gemm_perf.parquet", 1)? {
        let rows = data::read_aic_gemm(&file)?;
        let obs = rows
            .iter()
            .filter(|r| r.dtype == "bfloat16")
            .map(|r| Obs {
                model: format!("n{} k{}", r.n, r.k),
                tp: 0,
                x: Features::gemm(&peaks, r.m, r.n, r.k, 2.0, 2.0).0.to_vec(),
                t: r.time_s,
                layer: None,
            })
            .collect();
        units.push(unit(profile, &source(fw, &file), Class::GemmGrid, obs));
    }
    let kernel = framework.attention_kernel(aic_gpu);
    for (name, decode, class) in [
        (
            "context_attention_perf.parquet",
            false,
            Class::PrefillAttention,
        ),
        (
            "generation_attention_perf.parquet",
            true,
            Class::DecodeAttention,
        ),
    ] {
        for file in sorted_files(&aic.join("attention").join(fw), name, 1)? {
            let rows = data::read_aic_attention(&file, decode)?;
            let obs = rows
                .iter()
                .filter(|r| {
                    r.kernel == kernel
                        && r.head_dim == 128
                        && r.window == 0
                        && r.kv_dtype == "bfloat16"
                })
                .map(|r| attention_obs(&peaks, r, decode))
                .collect();
            units.push(unit(profile, &source(fw, &file), class, obs));
        }
    }
    for file in sorted_files(
        &aic.join("comm").join(fw),
        "custom_allreduce_perf.parquet",
        1,
    )? {
        let rows = data::read_aic_custom_allreduce(&file)?;
        for graph in [true, false] {
            let part: Vec<_> = rows.iter().filter(|r| r.graph == graph).cloned().collect();
            if part.is_empty() {
                continue;
            }
            let mode = if graph { "graph" } else { "eager" };
            let label = format!("{} custom {mode}", source(fw, &file));
            units.push(unit(
                profile,
                &label,
                Class::AllReduce,
                allreduce_obs(&part, link),
            ));
        }
    }
    // nccl-tests: the newest version folder (H100's 2.27.3 folder is a mislabelled duplicate,
    // see SOURCES.md).
    if let Some(file) = sorted_files(&aic.join("comm/nccl"), "nccl_perf.parquet", 1)?.pop() {
        let obs = allreduce_obs(&data::read_aic_nccl(&file)?, link);
        units.push(unit(
            profile,
            &source("nccl-tests", &file),
            Class::AllReduce,
            obs,
        ));
    }
    units.retain(|u| !u.obs.is_empty());
    Ok((units, layers))
}

/// A Vidur layer row: the sum of its measured operators.
#[derive(Clone, Debug)]
pub struct VidurLayer {
    /// Model folder.
    pub model: String,
    /// TP degree.
    pub tp: u64,
    /// Tokens.
    pub tokens: u64,
    /// Σ of its operators' medians, seconds.
    pub measured_s: f64,
}

fn unit(gpu: &str, source: &str, class: Class, obs: Vec<Obs>) -> Unit {
    Unit {
        gpu: gpu.to_string(),
        source: source.to_string(),
        class,
        obs,
    }
}

/// `aic <framework> <version>` from `.../<framework>/<version>/<file>`.
pub(super) fn source(framework: &str, file: &Path) -> String {
    let version = file
        .parent()
        .and_then(Path::file_name)
        .map_or_else(String::new, |v| v.to_string_lossy().to_string());
    format!("aic {framework} {version}")
}

/// Vidur's sharded shapes of one row (fp16 everywhere, head width `n_embd / n_head`).
pub(super) fn vidur_shape(row: &data::VidurLayerRow) -> LayerShape {
    LayerShape {
        hidden: row.n_embd,
        intermediate: row.n_expanded_embd,
        gated: row.gated,
        tp: row.tp,
        attention: AttentionShape {
            q_heads: row.n_head.div_ceil(row.tp),
            kv_heads: row.n_kv_head.div_ceil(row.tp),
            head_dim: row.n_embd / row.n_head,
            act_bytes: 2.0,
            kv_bytes: 2.0,
        },
        weight_bytes: 2.0,
    }
}

fn attention_obs(peaks: &Peaks, r: &data::AttentionRow, decode: bool) -> Obs {
    let shape = AttentionShape {
        q_heads: r.heads,
        kv_heads: r.kv_heads,
        head_dim: r.head_dim,
        act_bytes: 2.0,
        kv_bytes: 2.0,
    };
    let x = if decode {
        shape.decode(peaks, r.batch, r.batch * r.cached)
    } else {
        // `batch` identical pieces: every feature but the constant scales with the batch.
        let mut x = shape.prefill(peaks, [(r.isl, 0)]);
        for v in &mut x.0[1..] {
            *v *= r.batch as f64;
        }
        x
    };
    Obs {
        model: format!("{}q/{}kv", r.heads, r.kv_heads),
        tp: 0,
        x: x.0.to_vec(),
        t: r.time_s,
        layer: None,
    }
}

fn allreduce_obs(rows: &[data::AllReduceRow], link: f64) -> Vec<Obs> {
    rows.iter()
        .filter(|r| r.gpus > 1)
        .map(|r| Obs {
            model: String::new(),
            tp: r.gpus,
            x: AllReduceCurve::features(r.gpus, r.bytes, link).to_vec(),
            t: r.time_s,
            layer: None,
        })
        .collect()
}

/// Files named `name` exactly `depth` folders below `dir`, sorted; none when `dir` is absent.
pub(super) fn sorted_files(
    dir: &Path,
    name: &str,
    depth: usize,
) -> Result<Vec<PathBuf>, DataError> {
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..depth {
        let mut next = Vec::new();
        for d in level {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries {
                let e = e.map_err(|source| DataError::Io {
                    path: d.clone(),
                    source,
                })?;
                if e.path().is_dir() {
                    next.push(e.path());
                }
            }
        }
        level = next;
    }
    let mut files: Vec<PathBuf> = level
        .into_iter()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
