//! [`RooflineGpuModel`]: an iteration as the sum of its kernels, each a roofline with
//! shape-dependent efficiency ([`KernelCurve`]), plus all-reduces and the CPU's share.
//!
//! # Formulas
//!
//! A [`Batch`] on an instance of `tp` GPUs computes `T` tokens (new prefill tokens plus one per
//! decode) for `S` sequences. Every GPU of the instance runs the same rank-local kernels
//! (Megatron-LM tensor parallelism, Shoeybi et al. 2019): per layer, with width `H`, MLP width
//! `I`, rank-local heads `h_q = ⌈heads/tp⌉`, `h_kv = ⌈kv_heads/tp⌉` of width `d` ([`LayerShape`]):
//!
//! ```text
//! qkv_proj  GEMM m=T n=(h_q + 2 h_kv) d  k=H          input_norm, post_norm  2 T H a each
//! o_proj    GEMM m=T n=H                k=h_q d       rope                   2 T (h_q + h_kv) d a
//! up_proj   GEMM m=T n=2 I/tp (gated)   k=H           activation (SiLU·mul)  3 T I/tp a
//! down_proj GEMM m=T n=H                k=I/tp        residual add (x2)      3 T H a each
//! attention: one prefill kernel over the prefill pieces, one decode kernel over the decodes
//! all-reduce x2 (after o_proj and down_proj) of T H a bytes when tp > 1
//! ```
//!
//! and once per iteration the embedding gather (`2 T H a`), the final norm and the LM head
//! (GEMM `m=S n=V/tp k=H`: vLLM and SGLang compute logits only at each sequence's last
//! position). Each kernel's time is its class's [`KernelCurve`] (`latency + bytes/(bw mbu) +
//! flops/(peak mfu)`, see [`ops`](super::ops)); all-reduces follow [`AllReduceCurve`].
//!
//! ```text
//! gpu_s       = layers * Σ per-layer kernels + once-per-iteration kernels
//! launch_s    = kernels * kernel_launch_s      (eager)  |  graph_launch_s   (CUDA graphs)
//! iteration_s = per_iteration_s + max(gpu_s, launch_s)
//! ```
//!
//! The CPU issues kernels asynchronously, so the GPU's work hides the launches unless they are
//! slower (small eager batches are launch-bound); `per_iteration_s` is the host's serial work
//! (scheduling, input preparation, sampling) that no kernel overlaps.
//!
//! # Parameters
//!
//! [`RooflineParams`] holds one curve per operator class. [`RooflineParams::default`] gives
//! the uncalibrated published figures below; the calibrated profiles
//! (`scenarios/hardware/gpu-models/*.yaml`, written by `kvcsim calibrate gpu`) replace them.

use serde::{Deserialize, Serialize};

use super::ops::{AllReduceCurve, AttentionShape, Features, KernelCurve, Peaks};
use super::{Batch, GpuModel};
use crate::hardware::{GpuSpec, InvalidField, LlmSpec};

/// Host-side cost of an iteration (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuCost {
    /// Whether the forward pass is replayed as one CUDA graph (vLLM and TRT-LLM do so for
    /// decode batches) instead of launching each kernel.
    pub cuda_graphs: bool,
    /// Host time to launch one kernel in eager mode, seconds.
    pub kernel_launch_s: f64,
    /// Host time to launch one CUDA-graph replay, seconds.
    pub graph_launch_s: f64,
    /// Serial host work per iteration (scheduling, inputs, sampling), seconds.
    pub per_iteration_s: f64,
}

impl CpuCost {
    fn validate(&self) -> Result<(), InvalidField> {
        for (field, v) in [
            ("cpu.kernel_launch_s", self.kernel_launch_s),
            ("cpu.graph_launch_s", self.graph_launch_s),
            ("cpu.per_iteration_s", self.per_iteration_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(InvalidField::new(
                    field,
                    v,
                    "must be finite and not negative",
                ));
            }
        }
        Ok(())
    }
}

/// One curve per operator class, fractions of the datasheet peaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RooflineParams {
    /// Linear layers (QKV, O, gated up, down) and the LM head.
    pub gemm: KernelCurve,
    /// Prefill (context) attention.
    pub prefill_attention: KernelCurve,
    /// Decode (generation) attention.
    pub decode_attention: KernelCurve,
    /// RMSNorm (twice per layer, once at the end).
    pub norm: KernelCurve,
    /// Rotary embedding of Q and K.
    pub rope: KernelCurve,
    /// SiLU-and-multiply of the gated MLP.
    pub activation: KernelCurve,
    /// Residual add (twice per layer).
    pub residual: KernelCurve,
    /// Token-embedding gather.
    pub embedding: KernelCurve,
    /// Tensor-parallel all-reduce.
    pub allreduce: AllReduceCurve,
    /// Host cost.
    pub cpu: CpuCost,
}

impl Default for RooflineParams {
    /// Uncalibrated published figures (use a calibrated profile where one exists):
    /// GEMMs reach 60-75% of the dense BF16 peak and 80-90% of HBM bandwidth on Ampere/Hopper
    /// (cuBLAS; PaLM §4.1 MFU), 0.6 and 0.8 here; FlashAttention-2 reaches 50-73% of A100 peak
    /// forward (Dao 2023), 0.5 here; decode kernels 60%+ of bandwidth (Databricks 2023, "LLM
    /// Inference Performance Engineering"), 0.6 here; element-wise passes 0.5 of bandwidth
    /// (unfused PyTorch ops make several passes); a kernel launch costs about 5 us of host time
    /// and 3 us of GPU-side latency (NVIDIA, "Getting Started with CUDA Graphs", 2019); all-reduce
    /// latency from NCCL's cost model (`src/graph/tuning.cc`: 3.6 us base, 0.47 us per ring
    /// step, NVLink) at 0.8 of the link rate; 1 ms of serial host work per iteration, an
    /// order-of-magnitude assumption for vLLM-class engines.
    fn default() -> Self {
        let curve = |mbu, mfu| KernelCurve {
            latency_s: 3e-6,
            per_sequence_s: 0.0,
            mbu,
            mfu,
        };
        RooflineParams {
            gemm: curve(0.8, 0.6),
            prefill_attention: curve(0.6, 0.5),
            decode_attention: curve(0.6, 1.0),
            norm: curve(0.5, 1.0),
            rope: curve(0.5, 1.0),
            activation: curve(0.5, 1.0),
            residual: curve(0.5, 1.0),
            embedding: curve(0.5, 1.0),
            allreduce: AllReduceCurve {
                latency_s: 3.6e-6,
                step_latency_s: 0.47e-6,
                bus_efficiency: 0.8,
            },
            cpu: CpuCost {
                cuda_graphs: true,
                kernel_launch_s: 5e-6,
                graph_launch_s: 5e-6,
                per_iteration_s: 1e-3,
            },
        }
    }
}

impl RooflineParams {
    /// Checks every curve; the error names the class.
    pub fn validate(&self) -> Result<(), InvalidField> {
        for (field, c) in [
            ("gemm", &self.gemm),
            ("prefill_attention", &self.prefill_attention),
            ("decode_attention", &self.decode_attention),
            ("norm", &self.norm),
            ("rope", &self.rope),
            ("activation", &self.activation),
            ("residual", &self.residual),
            ("embedding", &self.embedding),
        ] {
            c.validate(field)?;
        }
        self.allreduce.validate("allreduce")?;
        self.cpu.validate()
    }
}

/// The rank-local shape of one transformer layer under tensor parallelism, and the bytes of
/// each element kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerShape {
    /// Residual width `H`.
    pub hidden: u64,
    /// MLP width `I` (whole model).
    pub intermediate: u64,
    /// Whether the MLP is gated (up and gate projections fused: `n = 2 I/tp`).
    pub gated: bool,
    /// Tensor-parallel degree.
    pub tp: u64,
    /// Rank-local attention heads and element sizes.
    pub attention: AttentionShape,
    /// Bytes per weight element.
    pub weight_bytes: f64,
}

/// The per-layer kernels of [`LayerShape::layer_kernels`], in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKernel {
    /// RMSNorm before attention.
    InputNorm,
    /// Fused QKV projection.
    QkvProj,
    /// Rotary embedding.
    Rope,
    /// Attention output projection.
    OProj,
    /// RMSNorm before the MLP.
    PostNorm,
    /// Fused gate and up projection.
    UpProj,
    /// SiLU-and-multiply.
    Activation,
    /// Down projection.
    DownProj,
    /// One residual add.
    Residual,
}

impl LayerShape {
    /// The shape of `llm` on `tp` GPUs, all elements in the model's dtype.
    pub fn of(llm: &LlmSpec, tp: u64) -> Self {
        let bytes = llm.dtype_bytes as f64;
        LayerShape {
            hidden: llm.hidden_size,
            intermediate: llm.intermediate_size,
            gated: true,
            tp,
            attention: AttentionShape {
                q_heads: llm.attention_heads.div_ceil(tp),
                kv_heads: llm.kv_heads_per_gpu(tp),
                head_dim: llm.head_dim,
                act_bytes: bytes,
                kv_bytes: bytes,
            },
            weight_bytes: bytes,
        }
    }

    /// The call of one non-attention kernel of the layer over `tokens` tokens.
    pub fn op(&self, kernel: LayerKernel, tokens: u64) -> OpCall<'static> {
        let h = self.hidden;
        let hd = self.attention.head_dim;
        let (q, kv) = (self.attention.q_heads, self.attention.kv_heads);
        let ffn = self.intermediate.div_ceil(self.tp);
        let pass = |class, width| OpCall::Pass {
            class,
            width,
            tokens,
        };
        let gemm = |n, k| OpCall::Gemm { m: tokens, n, k };
        match kernel {
            LayerKernel::InputNorm | LayerKernel::PostNorm => pass(PassClass::Norm, h),
            LayerKernel::QkvProj => gemm((q + 2 * kv) * hd, h),
            LayerKernel::Rope => pass(PassClass::Rope, (q + kv) * hd),
            LayerKernel::OProj => gemm(h, q * hd),
            LayerKernel::UpProj => gemm(if self.gated { 2 * ffn } else { ffn }, h),
            LayerKernel::Activation => pass(PassClass::Activation, ffn),
            LayerKernel::DownProj => gemm(h, ffn),
            LayerKernel::Residual => pass(PassClass::Residual, h),
        }
    }

    /// Passes over its width that an element-wise kernel of `class` makes per token (bytes
    /// read plus written, in elements): a norm reads and writes (2), rope reads and writes Q
    /// and K (2), SiLU-and-multiply reads gate and up and writes (3; 2 ungated), a residual add
    /// reads two and writes one (3), the embedding gathers and writes (2).
    pub fn passes(&self, class: PassClass) -> f64 {
        class.passes(self.gated)
    }

    /// Features of a GEMM or element-wise call (`None` for attention and all-reduce).
    pub fn op_features(&self, peaks: &Peaks, op: &OpCall<'_>) -> Option<Features> {
        let a = self.attention.act_bytes;
        match *op {
            OpCall::Gemm { m, n, k } => Some(Features::gemm(peaks, m, n, k, a, self.weight_bytes)),
            OpCall::Pass {
                class,
                width,
                tokens,
            } => Some(Features::memory_pass(
                peaks,
                self.passes(class) * tokens as f64 * width as f64 * a,
            )),
            _ => None,
        }
    }

    /// Features of one non-attention kernel of the layer over `tokens` tokens.
    pub fn kernel(&self, peaks: &Peaks, kernel: LayerKernel, tokens: u64) -> Features {
        self.op_features(peaks, &self.op(kernel, tokens))
            .expect("layer kernels are GEMMs or passes")
    }

    /// The embedding gather of `tokens` rows.
    pub fn embedding_op(&self, tokens: u64) -> OpCall<'static> {
        OpCall::Pass {
            class: PassClass::Embedding,
            width: self.hidden,
            tokens,
        }
    }

    /// Features of the embedding gather of `tokens` rows (read and written).
    pub fn embedding(&self, peaks: &Peaks, tokens: u64) -> Features {
        self.op_features(peaks, &self.embedding_op(tokens))
            .expect("a pass")
    }
}

impl PassClass {
    /// Passes over its width per token ([`LayerShape::passes`]) in a model whose MLP is
    /// `gated` or not.
    pub fn passes(self, gated: bool) -> f64 {
        match self {
            PassClass::Norm | PassClass::Rope | PassClass::Embedding => 2.0,
            PassClass::Activation if !gated => 2.0,
            PassClass::Activation | PassClass::Residual => 3.0,
        }
    }
}

/// Element-wise (memory-bound) kernel classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassClass {
    /// RMSNorm.
    Norm,
    /// Rotary embedding of Q and K.
    Rope,
    /// SiLU-and-multiply.
    Activation,
    /// Residual add.
    Residual,
    /// Token-embedding gather.
    Embedding,
}

/// One operator call of an iteration, by shape: what [`RooflineGpuModel::breakdown_with`]
/// asks a timer for (the profiled model looks the shape up in a measured table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpCall<'a> {
    /// GEMM `[m, k] x [k, n]`.
    Gemm {
        /// Rows (tokens, or sequences for the LM head).
        m: u64,
        /// Output features.
        n: u64,
        /// Input features.
        k: u64,
    },
    /// Element-wise pass over `tokens` rows of `width` elements.
    Pass {
        /// Kernel class.
        class: PassClass,
        /// Rank-local elements per token the pass is over.
        width: u64,
        /// Rows.
        tokens: u64,
    },
    /// Prefill attention over these pieces.
    PrefillAttention {
        /// The batch's prefill pieces (those with no new token do nothing).
        pieces: &'a [super::PrefillPiece],
    },
    /// Decode attention over `sequences` whose contexts sum to `context_sum`.
    DecodeAttention {
        /// Sequences.
        sequences: u64,
        /// Σ context tokens.
        context_sum: u64,
    },
    /// One tensor-parallel all-reduce of `bytes`.
    AllReduce {
        /// Bytes reduced.
        bytes: f64,
    },
}

/// The curve of a per-layer kernel's class.
pub fn curve_of(params: &RooflineParams, kernel: LayerKernel) -> &KernelCurve {
    match kernel {
        LayerKernel::InputNorm | LayerKernel::PostNorm => &params.norm,
        LayerKernel::QkvProj | LayerKernel::OProj | LayerKernel::UpProj | LayerKernel::DownProj => {
            &params.gemm
        }
        LayerKernel::Rope => &params.rope,
        LayerKernel::Activation => &params.activation,
        LayerKernel::Residual => &params.residual,
    }
}

/// Kernels of one layer in the order they run: the residual add runs twice.
pub const LAYER_KERNELS: [LayerKernel; 10] = [
    LayerKernel::InputNorm,
    LayerKernel::QkvProj,
    LayerKernel::Rope,
    LayerKernel::OProj,
    LayerKernel::Residual,
    LayerKernel::PostNorm,
    LayerKernel::UpProj,
    LayerKernel::Activation,
    LayerKernel::DownProj,
    LayerKernel::Residual,
];

/// Where an iteration's time goes, seconds. The iteration takes [`total_s`](Self::total_s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct IterationBreakdown {
    /// Linear layers (all layers).
    pub gemm_s: f64,
    /// The LM head GEMM.
    pub lm_head_s: f64,
    /// Prefill attention (all layers).
    pub prefill_attention_s: f64,
    /// Decode attention (all layers).
    pub decode_attention_s: f64,
    /// Norms, rope, activation, residual adds and the embedding gather.
    pub elementwise_s: f64,
    /// Tensor-parallel all-reduces.
    pub allreduce_s: f64,
    /// Host time to launch the iteration's kernels (or its graph), overlapped with the GPU.
    pub launch_s: f64,
    /// Serial host work.
    pub per_iteration_s: f64,
}

impl IterationBreakdown {
    /// GPU time: every kernel and all-reduce.
    pub fn gpu_s(&self) -> f64 {
        self.gemm_s
            + self.lm_head_s
            + self.prefill_attention_s
            + self.decode_attention_s
            + self.elementwise_s
            + self.allreduce_s
    }

    /// The iteration's duration: `per_iteration_s + max(gpu_s, launch_s)`.
    pub fn total_s(&self) -> f64 {
        self.per_iteration_s + self.gpu_s().max(self.launch_s)
    }

    /// `(name, seconds)` of every part, for reports.
    pub fn parts(&self) -> [(&'static str, f64); 8] {
        [
            ("gemm", self.gemm_s),
            ("lm_head", self.lm_head_s),
            ("prefill_attention", self.prefill_attention_s),
            ("decode_attention", self.decode_attention_s),
            ("elementwise", self.elementwise_s),
            ("allreduce", self.allreduce_s),
            ("launch", self.launch_s),
            ("per_iteration", self.per_iteration_s),
        ]
    }
}

/// Roofline [`GpuModel`] of one instance: an [`LlmSpec`] on `tp` identical GPUs of a
/// [`GpuSpec`], with [`RooflineParams`]. See the module docs for the formulas.
#[derive(Clone, Debug)]
pub struct RooflineGpuModel {
    llm: LlmSpec,
    gpu: GpuSpec,
    tp: u64,
    params: RooflineParams,
    shape: LayerShape,
    peaks: Peaks,
}

impl RooflineGpuModel {
    /// A model of `llm` served on `tp` GPUs of type `gpu`. Fails when `tp` is zero or a
    /// parameter is out of range.
    pub fn new(
        llm: LlmSpec,
        gpu: GpuSpec,
        tp: u64,
        params: RooflineParams,
    ) -> Result<Self, InvalidField> {
        if tp == 0 {
            return Err(InvalidField::new("tp", tp, "must be at least 1"));
        }
        params.validate()?;
        Ok(RooflineGpuModel {
            shape: LayerShape::of(&llm, tp),
            peaks: gpu.peaks_for_weight_bytes(llm.dtype_bytes),
            llm,
            gpu,
            tp,
            params,
        })
    }

    /// The model architecture.
    pub fn llm(&self) -> &LlmSpec {
        &self.llm
    }

    /// The GPU type.
    pub fn gpu(&self) -> &GpuSpec {
        &self.gpu
    }

    /// Tensor-parallel degree.
    pub fn tp(&self) -> u64 {
        self.tp
    }

    /// Parameters in use.
    pub fn params(&self) -> &RooflineParams {
        &self.params
    }

    /// The rank-local layer shape.
    pub fn shape(&self) -> &LayerShape {
        &self.shape
    }

    /// Seconds of one all-reduce of `bytes` over the instance's GPUs; zero when `tp == 1`.
    pub fn allreduce_time(&self, bytes: f64) -> f64 {
        self.params.allreduce.time(
            self.tp,
            bytes,
            self.gpu.nvlink_unidirectional_bw_bytes_per_s(),
        )
    }

    /// The iteration's time, part by part; all zero for an empty batch.
    pub fn breakdown(&self, batch: &Batch) -> IterationBreakdown {
        self.breakdown_with(batch, &|_: &OpCall<'_>, roofline_s: f64| roofline_s)
    }

    /// Seconds of the roofline of one operator call (the curve of its class at its features).
    pub fn op_time(&self, op: &OpCall<'_>) -> f64 {
        let (p, shape, peaks) = (&self.params, &self.shape, &self.peaks);
        match *op {
            OpCall::Gemm { .. } => p.gemm.time(&shape.op_features(peaks, op).expect("gemm")),
            OpCall::Pass { class, .. } => {
                pass_curve(p, class).time(&shape.op_features(peaks, op).expect("pass"))
            }
            OpCall::PrefillAttention { pieces } => {
                p.prefill_attention.time(&shape.attention.prefill(
                    peaks,
                    pieces.iter().map(|q| (q.new_tokens, q.cached_tokens)),
                ))
            }
            OpCall::DecodeAttention {
                sequences,
                context_sum,
            } => p
                .decode_attention
                .time(&shape.attention.decode(peaks, sequences, context_sum)),
            OpCall::AllReduce { bytes } => self.allreduce_time(bytes),
        }
    }

    /// [`breakdown`](Self::breakdown) with every operator's time given by `timer(call,
    /// roofline seconds)`: the roofline's structure (which kernels, how often, host cost) with
    /// another model's operator times.
    pub fn breakdown_with(
        &self,
        batch: &Batch,
        timer: &dyn Fn(&OpCall<'_>, f64) -> f64,
    ) -> IterationBreakdown {
        if batch.is_empty() {
            return IterationBreakdown::default();
        }
        let p = &self.params;
        let shape = &self.shape;
        let tokens = batch.new_tokens();
        let layers = self.llm.layers as f64;
        let time = |op: &OpCall<'_>| timer(op, self.op_time(op));

        let (mut gemm, mut elementwise) = (0.0, 0.0);
        for kernel in LAYER_KERNELS {
            let t = time(&shape.op(kernel, tokens));
            if is_gemm(kernel) {
                gemm += t;
            } else {
                elementwise += t;
            }
        }
        let mut kernels = LAYER_KERNELS.len() as f64;
        let mut prefill_attention = 0.0;
        if batch.prefills.iter().any(|piece| piece.new_tokens > 0) {
            prefill_attention = time(&OpCall::PrefillAttention {
                pieces: &batch.prefills,
            });
            kernels += 1.0;
        }
        let mut decode_attention = 0.0;
        if batch.decodes > 0 {
            decode_attention = time(&OpCall::DecodeAttention {
                sequences: batch.decodes,
                context_sum: batch.decode_context_sum,
            });
            kernels += 1.0;
        }
        let activation_bytes = tokens as f64 * (self.llm.hidden_size * self.llm.dtype_bytes) as f64;
        let allreduce = if self.tp > 1 {
            kernels += 2.0;
            2.0 * time(&OpCall::AllReduce {
                bytes: activation_bytes,
            })
        } else {
            0.0
        };
        kernels *= layers;

        // Once per iteration: embedding, final norm, LM head.
        let once_elementwise =
            time(&shape.embedding_op(tokens)) + time(&shape.op(LayerKernel::InputNorm, tokens));
        let lm_head = time(&OpCall::Gemm {
            m: batch.sequences(),
            n: self.llm.vocab_size.div_ceil(self.tp),
            k: self.llm.hidden_size,
        });
        kernels += 3.0;

        let launch_s = if p.cpu.cuda_graphs {
            p.cpu.graph_launch_s
        } else {
            kernels * p.cpu.kernel_launch_s
        };
        IterationBreakdown {
            gemm_s: layers * gemm,
            lm_head_s: lm_head,
            prefill_attention_s: layers * prefill_attention,
            decode_attention_s: layers * decode_attention,
            elementwise_s: layers * elementwise + once_elementwise,
            allreduce_s: layers * allreduce,
            launch_s,
            per_iteration_s: p.cpu.per_iteration_s,
        }
    }

    /// [`GpuModel::decode_iterations`] with operator times from `timer` (see
    /// [`breakdown_with`](Self::breakdown_with)): only decode attention depends on the
    /// context, so the rest of the first iteration's breakdown is kept and that one term
    /// recomputed, with the same sum as `total_s`.
    pub fn decode_iterations_with(
        &self,
        timer: &dyn Fn(&OpCall<'_>, f64) -> f64,
        decodes: u64,
        context_sum: u64,
        max: usize,
        within_s: f64,
        out: &mut Vec<f64>,
    ) {
        if max == 0 || decodes == 0 {
            return;
        }
        let mut batch = Batch::new();
        batch.push_decodes(decodes, context_sum);
        let mut b = self.breakdown_with(&batch, timer);
        let layers = self.llm.layers as f64;
        super::span_times(max, within_s, out, |j| {
            if j > 0 {
                let op = OpCall::DecodeAttention {
                    sequences: decodes,
                    context_sum: context_sum + j * decodes,
                };
                b.decode_attention_s = layers * timer(&op, self.op_time(&op));
            }
            b.total_s()
        });
    }
}

/// The curve of an element-wise class.
pub(crate) fn pass_curve(p: &RooflineParams, class: PassClass) -> &KernelCurve {
    match class {
        PassClass::Norm => &p.norm,
        PassClass::Rope => &p.rope,
        PassClass::Activation => &p.activation,
        PassClass::Residual => &p.residual,
        PassClass::Embedding => &p.embedding,
    }
}

fn is_gemm(kernel: LayerKernel) -> bool {
    matches!(
        kernel,
        LayerKernel::QkvProj | LayerKernel::OProj | LayerKernel::UpProj | LayerKernel::DownProj
    )
}

impl GpuModel for RooflineGpuModel {
    fn iteration_time(&self, batch: &Batch) -> f64 {
        self.breakdown(batch).total_s()
    }

    fn breakdown(&self, batch: &Batch) -> IterationBreakdown {
        RooflineGpuModel::breakdown(self, batch)
    }

    /// Only decode attention depends on the context: see
    /// [`decode_iterations_with`](RooflineGpuModel::decode_iterations_with).
    fn decode_iterations(
        &self,
        decodes: u64,
        context_sum: u64,
        max: usize,
        within_s: f64,
        out: &mut Vec<f64>,
    ) {
        let identity = |_: &OpCall<'_>, roofline_s: f64| roofline_s;
        self.decode_iterations_with(&identity, decodes, context_sum, max, within_s, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{load_gpu, load_llm};

    /// Relative tolerance of hand computations: they are written with 6 significant digits.
    const REL_TOL: f64 = 1e-5;

    fn assert_close(actual: f64, expected: f64) {
        let rel = ((actual - expected) / expected).abs();
        assert!(rel < REL_TOL, "actual {actual:e}, expected {expected:e}");
    }

    /// Parameters whose every curve is a bare roofline (no latency, efficiency 1), so hand
    /// computations stay short; the CPU is free.
    fn bare() -> RooflineParams {
        let c = KernelCurve {
            latency_s: 0.0,
            per_sequence_s: 0.0,
            mbu: 1.0,
            mfu: 1.0,
        };
        RooflineParams {
            gemm: c,
            prefill_attention: c,
            decode_attention: c,
            norm: c,
            rope: c,
            activation: c,
            residual: c,
            embedding: c,
            allreduce: AllReduceCurve {
                latency_s: 0.0,
                step_latency_s: 0.0,
                bus_efficiency: 1.0,
            },
            cpu: CpuCost {
                cuda_graphs: true,
                kernel_launch_s: 0.0,
                graph_launch_s: 0.0,
                per_iteration_s: 0.0,
            },
        }
    }

    fn model(llm: &str, gpu: &str, tp: u64, params: RooflineParams) -> RooflineGpuModel {
        let llm = load_llm(llm).unwrap();
        let gpu = load_gpu(gpu).unwrap();
        RooflineGpuModel::new(llm, gpu, tp, params).unwrap()
    }

    /// Llama-3.1-8B on one H100, one decode token, bare roofline: every GEMM is memory-bound
    /// on its weights. Per layer: qkv 4096*6144, o 4096*4096, up 4096*28672, down 14336*4096
    /// = 218,103,808 weights; activations (1*k + 1*n) per GEMM = 4096+6144 + 4096+4096 +
    /// 4096+28672 + 14336+4096 = 69,632. Bytes 2 * 218,173,440 = 436,346,880; FLOPs
    /// 2 * 218,103,808 = 436,207,616. Seconds 436,346,880 / 3.35e12 + 436,207,616 / 989.5e12
    /// = 1.302528e-4 + 4.40836e-7 = 1.306936e-4; * 32 layers = 4.182196e-3 s.
    #[test]
    fn llama8b_h100_decode_gemms_hand_computed() {
        let m = model("llama-3.1-8b", "h100-sxm", 1, bare());
        let b = m.breakdown(&Batch::decode([100]));
        assert_close(b.gemm_s, 4.182196e-3);
        // LM head: 128,256 * 4096 = 525,336,576 weights + 4096 + 128,256 activations, 2 B
        // each: 1,050,937,856 B / 3.35e12 + 2 * 525,336,576 / 989.5e12
        // = 3.137128e-4 + 1.061822e-6 = 3.147746e-4 s.
        assert_close(b.lm_head_s, 3.147746e-4);
        assert_eq!(b.allreduce_s, 0.0);
    }

    /// Same model, the elementwise passes of 1000 tokens (bare): per layer 2 norms 2*1000*4096*2,
    /// rope 2*1000*(32+8)*128*2, act 3*1000*14336*2, 2 residuals 3*1000*4096*2 bytes
    /// = 32,768,000 + 20,480,000 + 86,016,000 + 49,152,000 = 188,416,000 B; * 32 layers
    /// = 6,029,312,000 B; + embedding and final norm 2 * 16,384,000 = 32,768,000 B;
    /// total 6,062,080,000 / 3.35e12 = 1.809576e-3 s.
    #[test]
    fn llama8b_elementwise_hand_computed() {
        let m = model("llama-3.1-8b", "h100-sxm", 1, bare());
        assert_close(
            m.breakdown(&Batch::prefill(1000, 0)).elementwise_s,
            1.809576e-3,
        );
    }

    /// Llama-3.1-70B on 4 H100s, 1000 new tokens, default all-reduce curve: activations
    /// 1000 * 8192 * 2 = 16,384,000 B. One all-reduce = 3.6e-6 + 6 * 0.47e-6 + (6/4) *
    /// 16,384,000 / (450e9 * 0.8) = 6.42e-6 + 6.826667e-5 = 7.468667e-5 s; 2 per layer * 80.
    #[test]
    fn llama70b_tp4_allreduce() {
        let m = model("llama-3.1-70b", "h100-sxm", 4, RooflineParams::default());
        assert_close(m.allreduce_time(16_384_000.0), 7.468667e-5);
        assert_close(
            m.breakdown(&Batch::prefill(1000, 0)).allreduce_s,
            160.0 * 7.468667e-5,
        );
    }

    /// Eager mode: Llama-3.1-8B, one decode on TP 1 launches 32 * (10 + 1 attention) + 3
    /// = 355 kernels; at 1 ms per launch the host binds: 0.355 s + per-iteration 0.
    #[test]
    fn eager_launches_can_bind() {
        let mut p = bare();
        p.cpu.cuda_graphs = false;
        p.cpu.kernel_launch_s = 1e-3;
        let m = model("llama-3.1-8b", "h100-sxm", 1, p);
        let b = m.breakdown(&Batch::decode([100]));
        assert_close(b.launch_s, 0.355);
        assert_close(b.total_s(), 0.355);
    }

    /// FP8 weights and KV (`dtype_bytes: 1`) on H100: every GEMM byte halves and the FP8 peak
    /// (1,979 TFLOP/s) doubles the BF16 one, so under a bare roofline GEMM time halves exactly;
    /// on A100 (no FP8 tensor cores) only the bytes halve.
    #[test]
    fn fp8_weights_use_the_fp8_peak() {
        let llm = load_llm("llama-3.1-8b").unwrap();
        let mut fp8 = llm.clone();
        fp8.dtype_bytes = 1;
        let gemm = |llm: &LlmSpec, gpu: &str| {
            let g = load_gpu(gpu).unwrap();
            RooflineGpuModel::new(llm.clone(), g, 1, bare())
                .unwrap()
                .breakdown(&Batch::prefill(8192, 0))
                .gemm_s
        };
        assert_close(gemm(&fp8, "h100-sxm") / gemm(&llm, "h100-sxm"), 0.5);
        let a100 = gemm(&fp8, "a100-80gb") / gemm(&llm, "a100-80gb");
        assert!(a100 > 0.5 && a100 < 1.0, "{a100}");
    }

    #[test]
    fn empty_batch_takes_no_time() {
        let m = model("llama-3.1-8b", "h100-sxm", 1, RooflineParams::default());
        assert_eq!(m.iteration_time(&Batch::new()), 0.0);
    }

    #[test]
    fn cache_hits_save_time_and_context_costs_time() {
        let m = model("qwen2.5-32b", "h200", 2, RooflineParams::default());
        let hit = m.prefill_time(1000, 3000);
        assert!(hit < m.prefill_time(4000, 0));
        assert!(hit > m.prefill_time(1000, 0));
        assert!(m.prefill_time(2001, 0) > m.prefill_time(2000, 0));
        assert!(m.decode_time(&[5000; 8]) > m.decode_time(&[1000; 8]));
    }

    #[test]
    fn mixed_batch_costs_more_than_either_part_but_less_than_both() {
        let m = model("llama-3.1-8b", "h100-sxm", 1, RooflineParams::default());
        let mut mixed = Batch::prefill(512, 0);
        mixed.push_decodes(32, 32 * 2000);
        let t = m.iteration_time(&mixed);
        assert!(t > m.prefill_time(512, 0));
        assert!(t > m.decode_time(&[2000; 32]));
        assert!(t < m.prefill_time(512, 0) + m.decode_time(&[2000; 32]));
    }

    #[test]
    fn tensor_parallelism_speeds_up_compute() {
        let p = RooflineParams::default;
        let one = model("llama-3.1-70b", "h100-sxm", 1, p()).prefill_time(4000, 0);
        let eight = model("llama-3.1-70b", "h100-sxm", 8, p()).prefill_time(4000, 0);
        assert!(eight < one / 4.0, "tp1 {one}, tp8 {eight}");
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let llm = load_llm("llama-3.1-8b").unwrap();
        let gpu = load_gpu("h100-sxm").unwrap();
        let mut bad = RooflineParams::default();
        bad.gemm.mbu = 1.5;
        let err = RooflineGpuModel::new(llm.clone(), gpu.clone(), 1, bad).unwrap_err();
        assert_eq!(err.field, "gemm");
        let err = RooflineGpuModel::new(llm, gpu, 0, RooflineParams::default()).unwrap_err();
        assert_eq!(err.field, "tp");
    }

    mod monotone {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Modelled time never decreases when tokens, batch or context grow.
            #[test]
            fn time_never_decreases(
                new in 1u64..20_000, cached in 0u64..50_000, batch in 1u64..512,
                context in 0u64..40_000, grow in 1u64..5_000, tp in prop::sample::select(vec![1u64, 2, 4, 8]),
                eager in any::<bool>(),
            ) {
                let mut p = RooflineParams::default();
                p.cpu.cuda_graphs = !eager;
                let m = model("llama-3.1-70b", "h100-sxm", tp, p);
                let prefill = |n, c| m.prefill_time(n, c);
                prop_assert!(prefill(new + grow, cached) >= prefill(new, cached));
                prop_assert!(prefill(new, cached + grow) >= prefill(new, cached));
                let decode = |b: u64, c: u64| {
                    let mut x = Batch::new();
                    x.push_decodes(b, b * c);
                    m.iteration_time(&x)
                };
                prop_assert!(decode(batch + grow, context) >= decode(batch, context));
                prop_assert!(decode(batch, context + grow) >= decode(batch, context));
            }
        }
    }

    #[test]
    fn decode_iterations_equal_iteration_time_bit_for_bit() {
        // The shared-work path of decode spans must give exactly what one call per iteration
        // gives (the cluster run's records depend on it), and stop after crossing `within_s`.
        let m = model("llama-3.1-8b", "h100-sxm", 2, RooflineParams::default());
        let (decodes, ctx) = (37, 37 * 1500);
        let mut fast = Vec::new();
        m.decode_iterations(decodes, ctx, 50, f64::INFINITY, &mut fast);
        let slow: Vec<f64> = (0..50u64)
            .map(|j| m.iteration_time(Batch::new().push_decodes(decodes, ctx + j * decodes)))
            .collect();
        assert_eq!(fast.len(), 50);
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!(f.to_bits(), s.to_bits());
        }
        let mut cut = Vec::new();
        m.decode_iterations(decodes, ctx, 50, slow[0] + slow[1] * 0.5, &mut cut);
        assert_eq!(
            cut.len(),
            2,
            "stops after the iteration that crosses the bound"
        );
    }
}
