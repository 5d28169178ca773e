//! [`RooflineGpuModel`]: an analytical iteration-time model (roofline with efficiency factors).
//!
//! # Formulas
//!
//! For a [`Batch`] on an instance of `tp` GPUs, with `T` tokens computed (new prefill tokens
//! plus one per decode), `S` sequences, `P` causal (query, key) pairs and `R` tokens of KV read
//! (see [`Batch`]), and a model with `N` non-embedding parameters, vocabulary `V`, width `H`,
//! `L` layers, attention width `A = heads * head_dim` and `kv` bytes of KV per token:
//!
//! ```text
//! linear FLOPs    = 2 N T + 2 V H S            (every weight once per token; lm_head per sequence)
//! linear bytes    = (N + V H) * dtype          (weights streamed once per iteration)
//! attention FLOPs = 4 L A P                    (Q·Kᵀ and P·V, 2 FLOPs per multiply-add)
//! attention bytes = kv * (R + T)               (KV read, plus the new tokens' KV written)
//!
//! t_linear    = max(linear FLOPs / (tp * peak * linear_mfu),    linear bytes / (tp * bw * mbu))
//! t_attention = max(attention FLOPs / (tp * peak * attention_mfu), attention bytes / (tp * bw * mbu))
//! t_allreduce = 2 L * [ base + 2 (tp-1) step + 2 (tp-1)/tp * T H dtype / (nvlink_1dir * nvlink_efficiency) ]
//!               (zero when tp = 1)
//! iteration   = t_linear + t_attention + t_allreduce + iteration_overhead_s
//! ```
//!
//! * **Per-operator roofline.** Each operator class is bounded by its own compute or memory
//!   roof and the classes are summed, as LLM-Viewer does per layer (Yuan et al. 2024, "LLM
//!   Inference Unveiled: Survey and Roofline Model Insights", arXiv:2402.16363). One `max`
//!   over the whole iteration would hide the decodes' KV reads under the prefill's GEMMs, which
//!   run in different kernels. Vidur (Agrawal et al., MLSys 2024) also predicts per operator,
//!   from profiles instead of a roofline; LLMCompass (Zhang et al., ISCA 2024) simulates tiles.
//! * **Linear FLOPs** `2N` per token is Kaplan et al. 2020 ("Scaling Laws for Neural Language
//!   Models", Table 1). The output projection runs only for each sequence's last position, as
//!   vLLM and SGLang compute logits only there.
//! * **Attention** is causal: new token `i` of a piece with `c` cached tokens attends to
//!   `c + i + 1` keys (Kaplan's `2 L n_ctx d_attn` per token and direction).
//! * **Bytes.** Weights are read once per iteration whatever the batch; KV is read once per
//!   sequence (FlashAttention keeps re-reads of K/V tiles on chip). Activations are neglected:
//!   for decode they are tiny next to weights and KV, and where they grow (long prefills) the
//!   iteration is compute-bound anyway.
//! * **Tensor parallelism** (Megatron-LM, Shoeybi et al. 2019) splits weights, heads and KV over
//!   `tp` GPUs (KV heads are replicated when `tp > kv_heads`, see
//!   [`LlmSpec::kv_bytes_per_token_tp`]) and adds two all-reduces of the `T x H` activations per
//!   layer (after attention and after the MLP), not overlapped with compute. The ring all-reduce
//!   moves `2 (tp-1)/tp` of the buffer through each GPU's link in each direction (Patarasuk &
//!   Yuan 2009); latency follows NCCL's cost model (`src/graph/tuning.cc`: a base latency plus a
//!   per-step latency, `2 (tp-1)` steps).
//!
//! # Efficiency factors
//!
//! [`RooflineParams`] holds them, with defaults chosen from published figures, not fitted to any
//! measurement; calibrate them (or replace the model) when measurements exist.

use serde::{Deserialize, Serialize};

use super::{Batch, GpuModel};
use crate::hardware::{GpuSpec, InvalidField, LlmSpec};

/// Efficiency factors and fixed costs of [`RooflineGpuModel`]. All fractions are of the
/// datasheet peak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RooflineParams {
    /// Achieved fraction of peak FLOP/s in the linear layers (MFU, model FLOPs utilisation;
    /// Chowdhery et al. 2022, PaLM, §4.1). Default 0.6: large BF16 GEMMs reach roughly 60-75% of
    /// the dense peak on Ampere/Hopper, and serving also runs smaller, less efficient GEMMs;
    /// Pope et al. 2022 ("Efficiently Scaling Transformer Inference") report up to 76% MFU for
    /// large-batch prefill on TPU v4.
    pub linear_mfu: f64,
    /// Achieved fraction of peak FLOP/s in attention. Default 0.5: FlashAttention-2 reaches
    /// 50-73% of A100 peak in the forward pass (Dao 2023), FlashAttention-3 about 75% on H100
    /// (Shah et al. 2024), both at long sequences; the short, ragged sequences of serving reach
    /// less.
    pub attention_mfu: f64,
    /// Achieved fraction of peak HBM bandwidth (MBU, model bandwidth utilisation; Databricks
    /// 2023, "LLM Inference Performance Engineering: Best Practices"). Default 0.7: decode
    /// kernels measured there reach roughly 60%+, streaming copies 80-90% of peak.
    pub mbu: f64,
    /// Achieved fraction of one direction's NVLink bandwidth in an all-reduce. Default 0.8, an
    /// assumption: NCCL's own tuning model caps bus bandwidth below the link rate, and measured
    /// `nccl-tests` bus bandwidth sits below the datasheet figure.
    pub nvlink_efficiency: f64,
    /// Fixed cost of every iteration, seconds: scheduling, input preparation, kernel launches
    /// (or a CUDA-graph replay), sampling. Default 1 ms, an order-of-magnitude assumption for
    /// vLLM-class engines (Vidur models these CPU overheads separately; vLLM's V1 redesign
    /// targeted them); set it from a calibration when one exists, or 0 for a pure roofline.
    pub iteration_overhead_s: f64,
}

impl Default for RooflineParams {
    fn default() -> Self {
        RooflineParams {
            linear_mfu: 0.6,
            attention_mfu: 0.5,
            mbu: 0.7,
            nvlink_efficiency: 0.8,
            iteration_overhead_s: 1e-3,
        }
    }
}

impl RooflineParams {
    /// Checks that the efficiencies are in (0, 1] and the overhead is finite and not negative.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let fractions = [
            ("linear_mfu", self.linear_mfu),
            ("attention_mfu", self.attention_mfu),
            ("mbu", self.mbu),
            ("nvlink_efficiency", self.nvlink_efficiency),
        ];
        for (field, value) in fractions {
            if !(value > 0.0 && value <= 1.0) {
                return Err(InvalidField::new(field, value, "must be in (0, 1]"));
            }
        }
        if !(self.iteration_overhead_s.is_finite() && self.iteration_overhead_s >= 0.0) {
            return Err(InvalidField::new(
                "iteration_overhead_s",
                self.iteration_overhead_s,
                "must be finite and not negative",
            ));
        }
        Ok(())
    }
}

/// Where an iteration's time goes, seconds. The iteration takes
/// [`total_s`](Self::total_s); the parts are for reporting and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IterationBreakdown {
    /// Linear layers, compute roof.
    pub linear_compute_s: f64,
    /// Linear layers, memory roof (weights).
    pub linear_memory_s: f64,
    /// Attention, compute roof.
    pub attention_compute_s: f64,
    /// Attention, memory roof (KV read and written).
    pub attention_memory_s: f64,
    /// Tensor-parallel all-reduces.
    pub allreduce_s: f64,
    /// Fixed per-iteration overhead.
    pub overhead_s: f64,
}

impl IterationBreakdown {
    /// Time of the linear layers: the higher roof.
    pub fn linear_s(&self) -> f64 {
        self.linear_compute_s.max(self.linear_memory_s)
    }

    /// Time of attention: the higher roof.
    pub fn attention_s(&self) -> f64 {
        self.attention_compute_s.max(self.attention_memory_s)
    }

    /// The iteration's duration.
    pub fn total_s(&self) -> f64 {
        self.linear_s() + self.attention_s() + self.allreduce_s + self.overhead_s
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
    /// Achieved FLOP/s of the whole instance in linear layers: `tp * peak * linear_mfu`.
    linear_flops_per_s: f64,
    /// Achieved FLOP/s of the whole instance in attention: `tp * peak * attention_mfu`.
    attention_flops_per_s: f64,
    /// Achieved HBM bytes/s of the whole instance: `tp * bw * mbu`.
    hbm_bytes_per_s: f64,
    /// KV bytes per token over the instance, replication included.
    kv_bytes_per_token: f64,
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
        let n = tp as f64;
        Ok(RooflineGpuModel {
            linear_flops_per_s: n * gpu.bf16_dense_flops_per_s * params.linear_mfu,
            attention_flops_per_s: n * gpu.bf16_dense_flops_per_s * params.attention_mfu,
            hbm_bytes_per_s: n * gpu.hbm_bw_bytes_per_s * params.mbu,
            kv_bytes_per_token: llm.kv_bytes_per_token_tp(tp) as f64,
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

    /// Efficiency factors in use.
    pub fn params(&self) -> &RooflineParams {
        &self.params
    }

    /// Seconds of one ring all-reduce of `bytes` over the instance's `tp` GPUs; zero when
    /// `tp == 1`: `base + 2 (tp-1) step + 2 (tp-1)/tp * bytes / (nvlink_1dir * efficiency)`.
    pub fn allreduce_time(&self, bytes: f64) -> f64 {
        if self.tp <= 1 {
            return 0.0;
        }
        let steps = 2.0 * (self.tp - 1) as f64;
        let link = self.gpu.nvlink_unidirectional_bw_bytes_per_s() * self.params.nvlink_efficiency;
        self.gpu.allreduce_base_latency_s
            + steps * self.gpu.allreduce_step_latency_s
            + steps / self.tp as f64 * bytes / link
    }

    /// The iteration's time, part by part; all zero for an empty batch.
    pub fn breakdown(&self, batch: &Batch) -> IterationBreakdown {
        if batch.is_empty() {
            return IterationBreakdown::default();
        }
        let llm = &self.llm;
        let tokens = batch.new_tokens() as f64;

        let linear_flops =
            llm.linear_flops_per_token() * tokens + llm.lm_head_flops() * batch.sequences() as f64;
        let linear_bytes = llm.streamed_weight_bytes() as f64;
        let attention_flops = llm.attention_flops_per_pair() * batch.attention_pairs() as f64;
        let attention_bytes =
            self.kv_bytes_per_token * (batch.kv_tokens_read() + batch.new_tokens()) as f64;

        let activation_bytes = tokens * (llm.hidden_size * llm.dtype_bytes) as f64;
        let allreduce_s = 2.0 * llm.layers as f64 * self.allreduce_time(activation_bytes);

        IterationBreakdown {
            linear_compute_s: linear_flops / self.linear_flops_per_s,
            linear_memory_s: linear_bytes / self.hbm_bytes_per_s,
            attention_compute_s: attention_flops / self.attention_flops_per_s,
            attention_memory_s: attention_bytes / self.hbm_bytes_per_s,
            allreduce_s,
            overhead_s: self.params.iteration_overhead_s,
        }
    }
}

impl GpuModel for RooflineGpuModel {
    fn iteration_time(&self, batch: &Batch) -> f64 {
        self.breakdown(batch).total_s()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{load_gpu, load_llm};

    /// Relative tolerance of hand computations: they are written with 5-6 significant digits.
    const REL_TOL: f64 = 1e-4;

    fn assert_close(actual: f64, expected: f64) {
        let rel = ((actual - expected) / expected).abs();
        assert!(rel < REL_TOL, "actual {actual:e}, expected {expected:e}");
    }

    fn model(llm: &str, gpu: &str, tp: u64) -> RooflineGpuModel {
        let llm = load_llm(llm).unwrap();
        let gpu = load_gpu(gpu).unwrap();
        RooflineGpuModel::new(llm, gpu, tp, RooflineParams::default()).unwrap()
    }

    /// Llama-3.1-8B on one H100, 1000 new tokens, nothing cached (default parameters).
    ///
    /// N = 8,030,261,248 - 2 * 128,256 * 4,096 = 6,979,588,096; V H = 525,336,576.
    /// Linear FLOPs = 2 * 6,979,588,096 * 1000 + 2 * 525,336,576 * 1 = 1.3960227e13;
    ///   / (989.5e12 * 0.6 = 5.937e14) = 2.35139e-2 s (compute-bound).
    /// Weights = (6,979,588,096 + 525,336,576) * 2 = 15,009,849,344 B;
    ///   / (3.35e12 * 0.7 = 2.345e12) = 6.40079e-3 s.
    /// Pairs = 1000 * 1001 / 2 = 500,500; attention FLOPs = 4 * 32 * 4096 * 500,500
    ///   = 2.62406e11; / (989.5e12 * 0.5 = 4.9475e14) = 5.30381e-4 s (compute-bound).
    /// KV = 131,072 * (1000 read + 1000 written) = 2.62144e8 B; / 2.345e12 = 1.11788e-4 s.
    /// No all-reduce; overhead 1e-3 s. Total = 2.35139e-2 + 5.30381e-4 + 1e-3 = 2.50443e-2 s.
    #[test]
    fn llama8b_h100_prefill_1000() {
        let m = model("llama-3.1-8b", "h100-sxm", 1);
        let b = m.breakdown(&Batch::prefill(1000, 0));
        assert_close(b.linear_compute_s, 2.35139e-2);
        assert_close(b.linear_memory_s, 6.40079e-3);
        assert_close(b.attention_compute_s, 5.30381e-4);
        assert_close(b.attention_memory_s, 1.11788e-4);
        assert_eq!(b.allreduce_s, 0.0);
        assert_close(m.prefill_time(1000, 0), 2.50443e-2);
    }

    /// Llama-3.1-8B on one H100, decode of 64 sequences with 1000 tokens of context each.
    ///
    /// Linear FLOPs = 64 * 2 * (6,979,588,096 + 525,336,576) = 9.60630e11; / 5.937e14
    ///   = 1.61804e-3 s < weights 6.40079e-3 s, so memory-bound.
    /// Pairs = 64 * 1001 = 64,064; FLOPs = 524,288 * 64,064 = 3.35878e10; / 4.9475e14
    ///   = 6.78885e-5 s. KV = 131,072 * (64 * 1001 read + 64 written) = 8.40540e9 B;
    ///   / 2.345e12 = 3.58439e-3 s (memory-bound).
    /// Total = 6.40079e-3 + 3.58439e-3 + 1e-3 = 1.09852e-2 s.
    #[test]
    fn llama8b_h100_decode_64x1000() {
        let m = model("llama-3.1-8b", "h100-sxm", 1);
        let b = m.breakdown(&Batch::decode([1000; 64]));
        assert_close(b.linear_compute_s, 1.61804e-3);
        assert_close(b.attention_memory_s, 3.58439e-3);
        assert_close(m.decode_time(&[1000; 64]), 1.09852e-2);
    }

    /// Llama-3.1-70B on 4 H100s, 1000 new tokens: the all-reduce term.
    ///
    /// Activations = 1000 * 8192 * 2 = 16,384,000 B.
    /// One all-reduce = 3.6e-6 + 6 * 0.47e-6 + (6/4) * 16,384,000 / (450e9 * 0.8)
    ///   = 6.42e-6 + 6.82667e-5 = 7.46867e-5 s; 2 per layer * 80 layers = 1.19499e-2 s.
    #[test]
    fn llama70b_tp4_allreduce() {
        let m = model("llama-3.1-70b", "h100-sxm", 4);
        assert_close(m.allreduce_time(16_384_000.0), 7.46867e-5);
        assert_close(
            m.breakdown(&Batch::prefill(1000, 0)).allreduce_s,
            1.19499e-2,
        );
    }

    #[test]
    fn empty_batch_takes_no_time() {
        let m = model("llama-3.1-8b", "h100-sxm", 1);
        assert_eq!(m.iteration_time(&Batch::new()), 0.0);
    }

    #[test]
    fn cache_hits_save_time_and_context_costs_time() {
        let m = model("qwen2.5-32b", "h200", 2);
        // Reusing 3000 of 4000 tokens beats computing them all, but costs more than a
        // 1000-token prompt with no context (attention over the cached prefix).
        let hit = m.prefill_time(1000, 3000);
        assert!(hit < m.prefill_time(4000, 0));
        assert!(hit > m.prefill_time(1000, 0));
        // Time grows with new tokens, and with decode context.
        assert!(m.prefill_time(2001, 0) > m.prefill_time(2000, 0));
        assert!(m.decode_time(&[5000; 8]) > m.decode_time(&[1000; 8]));
    }

    #[test]
    fn mixed_batch_costs_more_than_either_part() {
        let m = model("llama-3.1-8b", "h100-sxm", 1);
        let mut mixed = Batch::prefill(512, 0);
        mixed.push_decodes(32, 32 * 2000);
        let t = m.iteration_time(&mixed);
        assert!(t > m.prefill_time(512, 0));
        assert!(t > m.decode_time(&[2000; 32]));
        // ...but less than running them separately: weights are read once.
        assert!(t < m.prefill_time(512, 0) + m.decode_time(&[2000; 32]));
    }

    #[test]
    fn tensor_parallelism_speeds_up_compute() {
        let one = model("llama-3.1-70b", "h100-sxm", 1).prefill_time(4000, 0);
        let eight = model("llama-3.1-70b", "h100-sxm", 8).prefill_time(4000, 0);
        assert!(eight < one / 4.0, "tp1 {one}, tp8 {eight}");
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let llm = load_llm("llama-3.1-8b").unwrap();
        let gpu = load_gpu("h100-sxm").unwrap();
        let bad = RooflineParams {
            mbu: 1.5,
            ..RooflineParams::default()
        };
        let err = RooflineGpuModel::new(llm.clone(), gpu.clone(), 1, bad).unwrap_err();
        assert_eq!(err.field, "mbu");
        let err = RooflineGpuModel::new(llm, gpu, 0, RooflineParams::default()).unwrap_err();
        assert_eq!(err.field, "tp");
        let yaml: RooflineParams = serde_norway::from_str("mbu: 0.8").unwrap();
        assert_eq!(yaml.linear_mfu, 0.6);
        assert!(serde_norway::from_str::<RooflineParams>("mfu: 0.8").is_err());
    }
}
