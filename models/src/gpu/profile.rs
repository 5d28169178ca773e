//! [`GpuModelConfig`]: which [`GpuModel`] an instance runs and with what parameters, as a
//! scenario's `cluster.gpu_model` or a profile file (`scenarios/hardware/gpu-models/*.yaml`,
//! written by `kvcsim calibrate gpu`) gives it.
//!
//! ```yaml
//! kind: roofline          # or profiled
//! gemm: {latency_s: 4.5e-6, mbu: 1.0, mfu: 0.88}
//! ...                     # one curve per operator class, see RooflineParams
//! ```
//!
//! ```yaml
//! kind: profiled          # measured tables, the roofline outside them (ProfiledGpuModel)
//! dtype_bytes: 2
//! fallback: {gemm: {...}, ...}          # RooflineParams
//! tables:
//!   - class: decode_attention
//!     source: aic vllm 0.24.0 generation_attention_perf.parquet (vllm_flash_attn_fa3)
//!     q_heads: 32
//!     kv_heads: 8
//!     head_dim: 128
//!     axes: [{name: batch, values: [1, 2]}, {name: kv_tokens, values: [1, 2048]}]
//!     time_us: [10.0, 15.0, 11.0, null]  # row-major, null = not measured
//! ```

use serde::{Deserialize, Serialize};

use super::{GpuModel, ProfiledGpuModel, ProfiledParams, RooflineGpuModel, RooflineParams};
use crate::hardware::{GpuSpec, InvalidField, LlmSpec};

/// A GPU execution model and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GpuModelConfig {
    /// [`RooflineGpuModel`] with these curves.
    Roofline(RooflineParams),
    /// [`ProfiledGpuModel`]: measured tables with a roofline fallback.
    Profiled(ProfiledParams),
}

impl Default for GpuModelConfig {
    fn default() -> Self {
        GpuModelConfig::Roofline(RooflineParams::default())
    }
}

impl GpuModelConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidField> {
        match self {
            GpuModelConfig::Roofline(p) => p.validate(),
            GpuModelConfig::Profiled(p) => p.validate(),
        }
    }

    /// The model of `llm` on `tp` GPUs of type `gpu`.
    pub fn build(
        &self,
        llm: LlmSpec,
        gpu: GpuSpec,
        tp: u64,
    ) -> Result<Box<dyn GpuModel>, InvalidField> {
        match self {
            GpuModelConfig::Roofline(p) => {
                Ok(Box::new(RooflineGpuModel::new(llm, gpu, tp, p.clone())?))
            }
            GpuModelConfig::Profiled(p) => {
                Ok(Box::new(ProfiledGpuModel::new(llm, gpu, tp, p.clone())?))
            }
        }
    }

    /// The roofline parameters (of a profiled model: its fallback).
    pub fn roofline(&self) -> &RooflineParams {
        match self {
            GpuModelConfig::Roofline(p) => p,
            GpuModelConfig::Profiled(p) => &p.fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_round_trip_and_unknown_fields() {
        let c = GpuModelConfig::default();
        let text = serde_norway::to_string(&c).unwrap();
        assert!(text.starts_with("kind: roofline"), "{text}");
        let back: GpuModelConfig = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, c);
        let bad = text.replace("per_iteration_s", "per_iter_s");
        let err = serde_norway::from_str::<GpuModelConfig>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("per_iter_s"), "{err}");
        let err = serde_norway::from_str::<GpuModelConfig>("kind: magic\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("magic"), "{err}");
    }
}
