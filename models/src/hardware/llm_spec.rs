//! [`LlmSpec`]: the shape of a dense decoder-only transformer, and the sizes derived from it.

use serde::{Deserialize, Serialize};

use super::InvalidField;

/// The architecture of a dense decoder-only transformer (Llama, Qwen2 and their relatives:
/// grouped-query attention, gated MLP), as its Hugging Face `config.json` describes it.
///
/// Profiles live in `scenarios/hardware/models/*.yaml`, each figure with its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSpec {
    /// Profile name, e.g. `llama-3.1-8b`.
    pub name: String,
    /// Transformer layers (`num_hidden_layers`).
    pub layers: u64,
    /// Residual stream width (`hidden_size`).
    pub hidden_size: u64,
    /// Query heads (`num_attention_heads`).
    pub attention_heads: u64,
    /// Key/value heads (`num_key_value_heads`); fewer than `attention_heads` under GQA.
    pub kv_heads: u64,
    /// Width of one head (`head_dim`, usually `hidden_size / num_attention_heads`).
    pub head_dim: u64,
    /// MLP inner width (`intermediate_size`).
    pub intermediate_size: u64,
    /// Vocabulary size (`vocab_size`).
    pub vocab_size: u64,
    /// Total parameter count, embeddings included.
    pub parameters: u64,
    /// Bytes per weight and per KV element (2 for BF16/FP16, 1 for FP8).
    pub dtype_bytes: u64,
    /// Whether the output projection (`lm_head`) shares the input embedding's weights
    /// (`tie_word_embeddings`). Default `false`.
    #[serde(default)]
    pub tied_embeddings: bool,
}

impl LlmSpec {
    /// Bytes of K and V that one token adds to the cache, over all layers and all KV heads:
    /// `2 (K and V) * layers * kv_heads * head_dim * dtype_bytes`.
    ///
    /// Llama-3.1-8B in BF16: 2 * 32 * 8 * 128 * 2 = 131,072 B (128 KiB) per token.
    pub fn kv_bytes_per_token(&self) -> u64 {
        2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes
    }

    /// KV heads each GPU holds under tensor parallelism of degree `tp`: `ceil(kv_heads / tp)`.
    /// When `tp > kv_heads` the KV heads are replicated (vLLM does so), so one GPU still holds one.
    pub fn kv_heads_per_gpu(&self, tp: u64) -> u64 {
        self.kv_heads.div_ceil(tp.max(1))
    }

    /// Bytes of KV one token occupies summed over the `tp` GPUs of an instance, counting the
    /// replication of [`kv_heads_per_gpu`](Self::kv_heads_per_gpu):
    /// `tp * ceil(kv_heads / tp) / kv_heads * kv_bytes_per_token`. Equal to
    /// [`kv_bytes_per_token`](Self::kv_bytes_per_token) whenever `tp` divides `kv_heads`.
    pub fn kv_bytes_per_token_tp(&self, tp: u64) -> u64 {
        let tp = tp.max(1);
        2 * self.layers * tp * self.kv_heads_per_gpu(tp) * self.head_dim * self.dtype_bytes
    }

    /// Bytes all weights occupy: `parameters * dtype_bytes`.
    pub fn weight_bytes(&self) -> u64 {
        self.parameters * self.dtype_bytes
    }

    /// Parameters of one embedding-sized matrix: `vocab_size * hidden_size`.
    pub fn embedding_parameters(&self) -> u64 {
        self.vocab_size * self.hidden_size
    }

    /// Parameters outside the input embedding and the output projection (Kaplan et al. 2020,
    /// "Scaling Laws for Neural Language Models", §2.1 convention): `parameters - V*H` when the
    /// two are tied, `parameters - 2*V*H` otherwise. Every token runs through all of them.
    pub fn non_embedding_parameters(&self) -> u64 {
        let embeddings = if self.tied_embeddings { 1 } else { 2 } * self.embedding_parameters();
        self.parameters.saturating_sub(embeddings)
    }

    /// Bytes of weights an iteration streams from HBM: the non-embedding weights plus the output
    /// projection (`(non_embedding + V*H) * dtype_bytes`). The input embedding is a gather of a
    /// few rows, not a full read.
    pub fn streamed_weight_bytes(&self) -> u64 {
        (self.non_embedding_parameters() + self.embedding_parameters()) * self.dtype_bytes
    }

    /// Width of the attention projection, `attention_heads * head_dim` (equal to `hidden_size`
    /// for Llama and Qwen2).
    pub fn attention_dim(&self) -> u64 {
        self.attention_heads * self.head_dim
    }

    /// FLOPs of the dense (linear-layer) work for one token: `2 * non_embedding_parameters`
    /// (one multiply and one add per weight; Kaplan et al. 2020, Table 1, `C_forward ≈ 2N`).
    pub fn linear_flops_per_token(&self) -> f64 {
        2.0 * self.non_embedding_parameters() as f64
    }

    /// FLOPs of the output projection for one sampled position: `2 * vocab_size * hidden_size`.
    pub fn lm_head_flops(&self) -> f64 {
        2.0 * self.embedding_parameters() as f64
    }

    /// FLOPs of attention for one (query, key) pair over all layers:
    /// `4 * layers * attention_dim` (`Q·Kᵀ` and `P·V`, each `2 * head_dim` per head;
    /// Kaplan et al. 2020, Table 1, `2 * n_layer * n_ctx * d_attn` per token and direction).
    pub fn attention_flops_per_pair(&self) -> f64 {
        4.0 * self.layers as f64 * self.attention_dim() as f64
    }

    /// Checks that every count is positive and the shape is self-consistent.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let positive = [
            ("layers", self.layers),
            ("hidden_size", self.hidden_size),
            ("attention_heads", self.attention_heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("parameters", self.parameters),
            ("dtype_bytes", self.dtype_bytes),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(InvalidField::new(field, value, "must be positive"));
            }
        }
        if self.name.trim().is_empty() {
            return Err(InvalidField::new("name", "\"\"", "must not be empty"));
        }
        if self.kv_heads > self.attention_heads
            || !self.attention_heads.is_multiple_of(self.kv_heads)
        {
            return Err(InvalidField::new(
                "kv_heads",
                self.kv_heads,
                "must divide attention_heads (grouped-query attention)",
            ));
        }
        let embeddings = if self.tied_embeddings { 1 } else { 2 } * self.embedding_parameters();
        if self.parameters <= embeddings {
            return Err(InvalidField::new(
                "parameters",
                self.parameters,
                "must exceed the embedding parameters (vocab_size * hidden_size, twice if untied)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::load_llm;

    /// Parameters implied by a Llama/Qwen2-style shape (GQA attention, gated MLP, RMSNorm),
    /// biases ignored: the YAML counts must agree within 0.1% (Qwen2's q/k/v biases are ~0.01%).
    fn architecture_parameters(m: &LlmSpec) -> u64 {
        let h = m.hidden_size;
        let attn = h * m.attention_dim() * 2 + h * m.kv_heads * m.head_dim * 2;
        let mlp = 3 * h * m.intermediate_size;
        let per_layer = attn + mlp + 2 * h;
        let embeddings = if m.tied_embeddings { 1 } else { 2 } * m.embedding_parameters();
        m.layers * per_layer + embeddings + h
    }

    #[test]
    fn embedded_profiles_match_their_architecture() {
        for name in crate::hardware::builtin_llm_names() {
            let m = load_llm(name).unwrap();
            let arch = architecture_parameters(&m) as f64;
            let rel = (arch - m.parameters as f64).abs() / m.parameters as f64;
            assert!(
                rel < 1e-3,
                "{name}: architecture {arch} vs profile {}",
                m.parameters
            );
        }
    }

    #[test]
    fn llama_8b_derived_sizes() {
        let m = load_llm("llama-3.1-8b").unwrap();
        // 2 * 32 layers * 8 kv heads * 128 * 2 B = 131,072 B.
        assert_eq!(m.kv_bytes_per_token(), 131_072);
        assert_eq!(m.kv_bytes_per_token_tp(1), 131_072);
        assert_eq!(m.kv_bytes_per_token_tp(8), 131_072);
        // TP 16 > 8 KV heads: each GPU still holds one head, so KV is stored twice.
        assert_eq!(m.kv_bytes_per_token_tp(16), 2 * 131_072);
        // 8,030,261,248 params * 2 B.
        assert_eq!(m.weight_bytes(), 16_060_522_496);
        // 8,030,261,248 - 2 * 128,256 * 4,096 = 6,979,588,096.
        assert_eq!(m.non_embedding_parameters(), 6_979_588_096);
        assert_eq!(m.attention_dim(), 4096);
        // Qwen2.5-32B: 2 * 64 * 8 * 128 * 2 = 262,144 B; Llama-3.1-70B: 2 * 80 * 8 * 128 * 2.
        assert_eq!(
            load_llm("qwen2.5-32b").unwrap().kv_bytes_per_token(),
            262_144
        );
        assert_eq!(
            load_llm("llama-3.1-70b").unwrap().kv_bytes_per_token(),
            327_680
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut m = load_llm("llama-3.1-8b").unwrap();
        m.kv_heads = 5;
        let err = m.validate().unwrap_err();
        assert_eq!(err.field, "kv_heads");
        m.kv_heads = 0;
        assert_eq!(m.validate().unwrap_err().field, "kv_heads");
        m.kv_heads = 8;
        m.parameters = 1000;
        assert_eq!(m.validate().unwrap_err().field, "parameters");
    }
}
