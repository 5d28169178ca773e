//! [`GpuSpec`]: the datasheet figures of one GPU and its intra-node interconnect.

use serde::{Deserialize, Serialize};

use super::InvalidField;

/// Peak rates and capacities of one GPU, as its vendor datasheet gives them, plus the latency
/// of an all-reduce over the node's NVLink fabric.
///
/// Profiles live in `scenarios/hardware/gpus/*.yaml`, each figure with its source. Rates are
/// peaks; the efficiency factors that turn them into achieved rates belong to the execution
/// model ([`RooflineParams`](crate::gpu::RooflineParams)), not to the hardware.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// Profile name, e.g. `h100-sxm`.
    pub name: String,
    /// Peak dense (no structured sparsity) BF16 tensor-core throughput, FLOP/s.
    pub bf16_dense_flops_per_s: f64,
    /// Peak dense FP8 tensor-core throughput, FLOP/s; absent on parts without FP8 (A100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8_dense_flops_per_s: Option<f64>,
    /// Peak dense FP4 tensor-core throughput, FLOP/s; absent on parts without FP4 (before
    /// Blackwell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp4_dense_flops_per_s: Option<f64>,
    /// HBM capacity, bytes.
    pub hbm_capacity_bytes: u64,
    /// Peak HBM bandwidth, bytes/s.
    pub hbm_bw_bytes_per_s: f64,
    /// NVLink bandwidth of one GPU, both directions summed, as datasheets quote it (H100:
    /// 900 GB/s), bytes/s. Each direction carries half; see
    /// [`nvlink_unidirectional_bw_bytes_per_s`](Self::nvlink_unidirectional_bw_bytes_per_s).
    pub nvlink_bidirectional_bw_bytes_per_s: f64,
    /// Fixed latency of one all-reduce call, seconds (NCCL's `baseLat`).
    pub allreduce_base_latency_s: f64,
    /// Latency added by each ring step of an all-reduce, seconds (NCCL's `hwLat`); a ring
    /// all-reduce over `n` GPUs takes `2 * (n - 1)` steps.
    pub allreduce_step_latency_s: f64,
}

impl GpuSpec {
    /// The peaks BF16/FP16 kernels run against: HBM bandwidth and dense BF16 FLOP/s.
    pub fn peaks(&self) -> crate::gpu::ops::Peaks {
        crate::gpu::ops::Peaks {
            hbm_bw_bytes_per_s: self.hbm_bw_bytes_per_s,
            flops_per_s: self.bf16_dense_flops_per_s,
        }
    }

    /// The peaks of kernels whose weights are `weight_bytes` wide: FP8 tensor cores for 1-byte
    /// weights where the part has them (weights and activations in FP8, as FP8 serving
    /// checkpoints run), else the BF16 peak (A100 runs FP8 weights upcast, at BF16 rate).
    pub fn peaks_for_weight_bytes(&self, weight_bytes: u64) -> crate::gpu::ops::Peaks {
        let flops_per_s = match (weight_bytes, self.fp8_dense_flops_per_s) {
            (1, Some(fp8)) => fp8,
            _ => self.bf16_dense_flops_per_s,
        };
        crate::gpu::ops::Peaks {
            hbm_bw_bytes_per_s: self.hbm_bw_bytes_per_s,
            flops_per_s,
        }
    }

    /// NVLink bandwidth in one direction, bytes/s: half the datasheet's bidirectional figure.
    /// A ring all-reduce sends and receives at the same time, so each direction is the limit.
    pub fn nvlink_unidirectional_bw_bytes_per_s(&self) -> f64 {
        self.nvlink_bidirectional_bw_bytes_per_s / 2.0
    }

    /// Checks that rates and capacities are positive and finite, latencies finite and not
    /// negative.
    pub fn validate(&self) -> Result<(), InvalidField> {
        if self.name.trim().is_empty() {
            return Err(InvalidField::new("name", "\"\"", "must not be empty"));
        }
        let rates = [
            ("bf16_dense_flops_per_s", self.bf16_dense_flops_per_s),
            ("hbm_bw_bytes_per_s", self.hbm_bw_bytes_per_s),
            (
                "nvlink_bidirectional_bw_bytes_per_s",
                self.nvlink_bidirectional_bw_bytes_per_s,
            ),
        ];
        let optional = [
            ("fp8_dense_flops_per_s", self.fp8_dense_flops_per_s),
            ("fp4_dense_flops_per_s", self.fp4_dense_flops_per_s),
        ];
        for (field, value) in optional.into_iter().filter_map(|(f, v)| v.map(|v| (f, v))) {
            if !(value.is_finite() && value > 0.0) {
                return Err(InvalidField::new(
                    field,
                    value,
                    "must be positive and finite",
                ));
            }
        }
        for (field, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                return Err(InvalidField::new(
                    field,
                    value,
                    "must be positive and finite",
                ));
            }
        }
        if self.hbm_capacity_bytes == 0 {
            return Err(InvalidField::new(
                "hbm_capacity_bytes",
                0,
                "must be positive",
            ));
        }
        let latencies = [
            ("allreduce_base_latency_s", self.allreduce_base_latency_s),
            ("allreduce_step_latency_s", self.allreduce_step_latency_s),
        ];
        for (field, value) in latencies {
            if !(value.is_finite() && value >= 0.0) {
                return Err(InvalidField::new(
                    field,
                    value,
                    "must be finite and not negative",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::hardware::load_gpu;

    #[test]
    fn h100_datasheet_figures() {
        let g = load_gpu("h100-sxm").unwrap();
        assert_eq!(g.bf16_dense_flops_per_s, 989.5e12);
        assert_eq!(g.hbm_capacity_bytes, 80_000_000_000);
        assert_eq!(g.hbm_bw_bytes_per_s, 3.35e12);
        assert_eq!(g.nvlink_unidirectional_bw_bytes_per_s(), 450e9);
        assert_eq!(g.peaks_for_weight_bytes(1).flops_per_s, 1979e12);
        assert_eq!(g.peaks_for_weight_bytes(2).flops_per_s, 989.5e12);
        // A100 has no FP8 tensor cores: FP8 weights run at the BF16 peak.
        let a = load_gpu("a100-80gb").unwrap();
        assert_eq!(a.peaks_for_weight_bytes(1).flops_per_s, 312e12);
        assert_eq!(load_gpu("b200").unwrap().fp4_dense_flops_per_s, Some(9e15));
    }

    #[test]
    fn validation_rejects_nonpositive_and_nan() {
        let mut g = load_gpu("a100-80gb").unwrap();
        g.hbm_bw_bytes_per_s = f64::NAN;
        assert_eq!(g.validate().unwrap_err().field, "hbm_bw_bytes_per_s");
        g.hbm_bw_bytes_per_s = 1e12;
        g.allreduce_step_latency_s = -1.0;
        assert_eq!(g.validate().unwrap_err().field, "allreduce_step_latency_s");
    }
}
