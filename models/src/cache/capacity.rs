//! [`capacity_from_hbm`]: how many KV blocks fit in an instance's HBM.

use crate::hardware::{GpuSpec, InvalidField, LlmSpec};

/// HBM kept back from the KV cache for everything else: activations of the largest batch,
/// CUDA graphs, NCCL buffers, the CUDA context and allocator fragmentation.
///
/// Not a serde type: the scenario layer chooses how to spell it in YAML.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MemoryReserve {
    /// A fraction of the instance's total HBM, in [0, 1). vLLM's `gpu_memory_utilization`
    /// default 0.9 leaves 0.1 to other processes and the CUDA context (vLLM then also
    /// subtracts the activation peak it profiles, which a larger fraction stands for here).
    Fraction(f64),
    /// A fixed number of bytes over the whole instance (all `tp` GPUs).
    Bytes(u64),
}

/// Why no KV capacity could be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CapacityError {
    /// An argument is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// Weights and reserve leave no room for a single block.
    #[error(
        "{llm} on {tp} x {gpu} leaves no room for KV: {hbm_bytes} B of HBM, {weight_bytes} B of weights, {reserve_bytes} B reserved"
    )]
    DoesNotFit {
        /// Model profile name.
        llm: String,
        /// GPU profile name.
        gpu: String,
        /// Tensor-parallel degree.
        tp: u64,
        /// Total HBM of the instance.
        hbm_bytes: u64,
        /// Weights of the model.
        weight_bytes: u64,
        /// Bytes held back.
        reserve_bytes: u64,
    },
}

impl CapacityError {
    /// True: the profiles and the reserve the user chose leave no room, or are out of range.
    pub fn is_user_error(&self) -> bool {
        match self {
            CapacityError::Invalid(_) | CapacityError::DoesNotFit { .. } => true,
        }
    }
}

/// KV blocks one instance (`llm` on `tp` GPUs of type `gpu`) can hold:
///
/// ```text
/// blocks = floor( (tp * hbm_capacity - weight_bytes - reserve) / (block_size_tokens * kv_bytes_per_token_tp) )
/// ```
///
/// Weights are split over the GPUs, so they are subtracted once from the instance's total.
/// `kv_bytes_per_token_tp` counts KV heads replicated when `tp > kv_heads`
/// ([`LlmSpec::kv_bytes_per_token_tp`]). The block size is in tokens (vLLM's default is 16).
///
/// Llama-3.1-8B on one H100 with 16-token blocks and a 0.1 reserve:
/// (80e9 - 16,060,522,496 - 8e9) / (16 * 131,072) = 26,674 blocks (426,784 tokens).
pub fn capacity_from_hbm(
    gpu: &GpuSpec,
    llm: &LlmSpec,
    tp: u64,
    block_size_tokens: u64,
    reserve: MemoryReserve,
) -> Result<usize, CapacityError> {
    if tp == 0 {
        return Err(InvalidField::new("tp", tp, "must be at least 1").into());
    }
    if block_size_tokens == 0 {
        return Err(InvalidField::new("block_size_tokens", 0, "must be positive").into());
    }
    let hbm_bytes = tp * gpu.hbm_capacity_bytes;
    let reserve_bytes = match reserve {
        MemoryReserve::Fraction(f) if (0.0..1.0).contains(&f) => (f * hbm_bytes as f64) as u64,
        MemoryReserve::Fraction(f) => {
            return Err(InvalidField::new("reserve.fraction", f, "must be in [0, 1)").into());
        }
        MemoryReserve::Bytes(b) => b,
    };
    let weight_bytes = llm.weight_bytes();
    let block_bytes = block_size_tokens * llm.kv_bytes_per_token_tp(tp);
    let blocks = hbm_bytes
        .checked_sub(weight_bytes)
        .and_then(|free| free.checked_sub(reserve_bytes))
        .map_or(0, |free| free / block_bytes);
    if blocks == 0 {
        return Err(CapacityError::DoesNotFit {
            llm: llm.name.clone(),
            gpu: gpu.name.clone(),
            tp,
            hbm_bytes,
            weight_bytes,
            reserve_bytes,
        });
    }
    Ok(usize::try_from(blocks).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{load_gpu, load_llm};

    #[test]
    fn llama8b_on_h100() {
        let (gpu, llm) = (
            load_gpu("h100-sxm").unwrap(),
            load_llm("llama-3.1-8b").unwrap(),
        );
        // (80e9 - 16,060,522,496 - 8e9) = 55,939,477,504 B; / 2,097,152 B = 26,674.02.
        let blocks = capacity_from_hbm(&gpu, &llm, 1, 16, MemoryReserve::Fraction(0.1)).unwrap();
        assert_eq!(blocks, 26_674);
        // A fixed reserve of 8e9 B is the same thing here.
        let same = capacity_from_hbm(&gpu, &llm, 1, 16, MemoryReserve::Bytes(8_000_000_000));
        assert_eq!(same, Ok(26_674));
    }

    #[test]
    fn llama70b_tp4_on_h100() {
        let (gpu, llm) = (
            load_gpu("h100-sxm").unwrap(),
            load_llm("llama-3.1-70b").unwrap(),
        );
        // 4 * 80e9 = 320e9; weights 70,553,706,496 * 2 = 141,107,412,992; reserve 32e9.
        // Free 146,892,587,008 B; block = 16 * 327,680 = 5,242,880 B -> 28,017.4 blocks.
        let blocks = capacity_from_hbm(&gpu, &llm, 4, 16, MemoryReserve::Fraction(0.1)).unwrap();
        assert_eq!(blocks, 28_017);
    }

    #[test]
    fn too_big_or_bad_arguments() {
        let (gpu, llm) = (
            load_gpu("h100-sxm").unwrap(),
            load_llm("llama-3.1-70b").unwrap(),
        );
        let err = capacity_from_hbm(&gpu, &llm, 1, 16, MemoryReserve::Fraction(0.1)).unwrap_err();
        assert!(matches!(err, CapacityError::DoesNotFit { .. }), "{err}");
        assert!(err.to_string().contains("llama-3.1-70b"));
        let err = capacity_from_hbm(&gpu, &llm, 8, 0, MemoryReserve::Fraction(0.1)).unwrap_err();
        assert!(err.to_string().contains("block_size_tokens"));
        let err = capacity_from_hbm(&gpu, &llm, 8, 16, MemoryReserve::Fraction(1.5)).unwrap_err();
        assert!(err.to_string().contains("reserve.fraction"));
    }
}
