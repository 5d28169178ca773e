//! Operator classes of a transformer forward pass and their time curves.
//!
//! Every kernel is modelled by one small physical form, linear in its coefficients:
//!
//! ```text
//! t = latency_s + sequences * per_sequence_s + bytes / (bw * mbu) + flops / (peak * mfu)
//!     └ launch and  └ per-sequence setup       └ memory roof        └ compute roof
//!       tail latency  (attention only)
//! ```
//!
//! with `bw` and `peak` the GPU's datasheet HBM bandwidth and dense FLOP/s. The sum, not the max,
//! of the two roofs is deliberate: it is the simplest form whose achieved rate *saturates*
//! smoothly. A GEMM of `m` tokens reaches
//! `flops / t = peak mfu / (1 + (latency + bytes/bw') peak mfu / flops)`, so its efficiency grows with `m` (and with `n`, `k`) towards `mfu`,
//! as the AIConfigurator and Vidur GEMM tables show; a weight-streaming GEMM (small `m`) reaches
//! `mbu` of the bandwidth once its weights are large enough to hide the latency. The inverse
//! efficiencies `1/mbu`, `1/mfu` and the latencies are what [`fit`](super::fit) fits; nothing
//! is fitted row by row.
//!
//! [`Features`] is the vector `x = (1, sequences, bytes/bw, flops/peak)` of one kernel call,
//! so `t = c · x` with `c = (latency_s, per_sequence_s, 1/mbu, 1/mfu)` ([`KernelCurve::coefficients`]).
//!
//! | class | bytes | FLOPs | sequences |
//! |---|---|---|---|
//! | GEMM `m x k` by `k x n` | `(m k + m n) a + k n w` | `2 m n k` | 0 |
//! | prefill attention | `Σ new (2 h_q d) a + (new + cached) 2 h_kv d kv` | `4 h_q d Σ causal pairs` | pieces |
//! | decode attention | `Σ (context + 1) 2 h_kv d kv` | `4 h_q d Σ (context + 1)` | sequences |
//! | element-wise pass | bytes read + written | 0 | 0 |
//!
//! (`a`, `w`, `kv`: bytes per activation, weight and KV element; `h_q`, `h_kv`, `d`: rank-local
//! query heads, KV heads and head width.) *Causal pairs* of a piece of `new` tokens after
//! `cached` ones: `new cached + new (new + 1) / 2` (FlashAttention skips masked tiles). Short
//! prompts reach a low FLOP rate because the latency, the per-sequence term and the per-token
//! bytes term dominate them: measured FA2/FA3 prefill on A100/H100 goes from about 20 TFLOP/s at
//! 128 tokens to 670 TFLOP/s at 16k (AIConfigurator tables), which this form follows.
//!
//! All-reduce is a ring (Patarasuk & Yuan 2009; NCCL's cost model): [`AllReduceCurve`].

use serde::{Deserialize, Serialize};

use super::fit::dot;
use crate::hardware::InvalidField;

/// Number of coefficients of a [`KernelCurve`] (and entries of [`Features`]).
pub const KERNEL_COEFFICIENTS: usize = 4;

/// Lower bounds of [`KernelCurve::coefficients`]: latencies not negative, efficiencies at most 1.
pub const KERNEL_LOWER_BOUNDS: [f64; KERNEL_COEFFICIENTS] = [0.0, 0.0, 1.0, 1.0];

/// The peaks an operator runs against: datasheet HBM bandwidth and dense FLOP/s of the compute
/// dtype, per GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peaks {
    /// Peak HBM bandwidth, bytes/s.
    pub hbm_bw_bytes_per_s: f64,
    /// Peak dense tensor-core FLOP/s of the dtype the kernel computes in.
    pub flops_per_s: f64,
}

/// Features of one kernel call: `(1, sequences, bytes / bw, flops / peak)`, the last two in
/// seconds at 100% of the peaks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Features(pub [f64; KERNEL_COEFFICIENTS]);

impl Features {
    /// Features of a kernel moving `bytes` and computing `flops` for `sequences` sequences.
    pub fn new(peaks: &Peaks, sequences: f64, bytes: f64, flops: f64) -> Self {
        Features([
            1.0,
            sequences,
            bytes / peaks.hbm_bw_bytes_per_s,
            flops / peaks.flops_per_s,
        ])
    }

    /// A GEMM `[m, k] x [k, n]` with activations of `act_bytes` and weights of `weight_bytes`
    /// per element.
    pub fn gemm(peaks: &Peaks, m: u64, n: u64, k: u64, act_bytes: f64, weight_bytes: f64) -> Self {
        Self::gemm_dims(peaks, m as f64, n as f64, k as f64, act_bytes, weight_bytes)
    }

    /// [`gemm`](Self::gemm) with real-valued dimensions (a point between the integer shapes of
    /// a measured grid).
    pub fn gemm_dims(
        peaks: &Peaks,
        m: f64,
        n: f64,
        k: f64,
        act_bytes: f64,
        weight_bytes: f64,
    ) -> Self {
        let bytes = (m * k + m * n) * act_bytes + k * n * weight_bytes;
        Features::new(peaks, 0.0, bytes, 2.0 * m * n * k)
    }

    /// An element-wise (memory-bound) pass moving `bytes`.
    pub fn memory_pass(peaks: &Peaks, bytes: f64) -> Self {
        Features::new(peaks, 0.0, bytes, 0.0)
    }
}

/// Rank-local attention shape: query heads, KV heads and head width on one GPU, and bytes per
/// activation and per KV element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionShape {
    /// Query heads on this GPU.
    pub q_heads: u64,
    /// KV heads on this GPU.
    pub kv_heads: u64,
    /// Head width.
    pub head_dim: u64,
    /// Bytes per query/output element.
    pub act_bytes: f64,
    /// Bytes per K or V element.
    pub kv_bytes: f64,
}

impl AttentionShape {
    /// Features of one prefill-attention kernel over `pieces` of (new, cached) tokens.
    pub fn prefill(&self, peaks: &Peaks, pieces: impl IntoIterator<Item = (u64, u64)>) -> Features {
        let (mut seqs, mut bytes, mut pairs) = (0.0, 0.0, 0.0);
        let d = self.head_dim as f64;
        for (new, cached) in pieces {
            if new == 0 {
                continue;
            }
            seqs += 1.0;
            bytes += new as f64 * 2.0 * self.q_heads as f64 * d * self.act_bytes
                + (new + cached) as f64 * 2.0 * self.kv_heads as f64 * d * self.kv_bytes;
            pairs += causal_pairs(new, cached) as f64;
        }
        Features::new(peaks, seqs, bytes, 4.0 * self.q_heads as f64 * d * pairs)
    }

    /// Features of one decode-attention kernel over `sequences` whose KV contexts sum to
    /// `context_sum` tokens (each also reads the token it just wrote).
    pub fn decode(&self, peaks: &Peaks, sequences: u64, context_sum: u64) -> Features {
        self.decode_read(peaks, sequences as f64, (context_sum + sequences) as f64)
    }

    /// [`decode`](Self::decode) of `sequences` that read `read` tokens of KV in all (their
    /// contexts plus one each), real-valued.
    pub fn decode_read(&self, peaks: &Peaks, sequences: f64, read: f64) -> Features {
        let d = self.head_dim as f64;
        Features::new(
            peaks,
            sequences,
            read * 2.0 * self.kv_heads as f64 * d * self.kv_bytes,
            4.0 * self.q_heads as f64 * d * read,
        )
    }
}

impl AttentionShape {
    /// Features of one prefill-attention kernel over `batch` uncached prompts of `isl` tokens
    /// each, real-valued: [`prefill`](Self::prefill) of one piece `(isl, 0)` with every
    /// feature but the constant multiplied by `batch`.
    pub fn uniform_prefill(&self, peaks: &Peaks, batch: f64, isl: f64) -> Features {
        let d = self.head_dim as f64;
        let bytes = isl * 2.0 * self.q_heads as f64 * d * self.act_bytes
            + isl * 2.0 * self.kv_heads as f64 * d * self.kv_bytes;
        let pairs = isl * (isl + 1.0) / 2.0;
        let mut x = Features::new(peaks, 1.0, bytes, 4.0 * self.q_heads as f64 * d * pairs);
        for v in &mut x.0[1..] {
            *v *= batch;
        }
        x
    }
}

/// Causal (query, key) pairs of `new` tokens after `cached` ones: `new cached + new (new+1) / 2`.
pub fn causal_pairs(new: u64, cached: u64) -> u64 {
    new * cached + new * (new + 1) / 2
}

/// Time curve of one kernel class: see the module docs. Fractions are of the datasheet peak.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelCurve {
    /// Fixed time of one call, seconds (launch latency, tail, small-shape floor).
    pub latency_s: f64,
    /// Time per sequence in the call, seconds (attention kernels' per-sequence setup; 0 for
    /// the others).
    #[serde(default)]
    pub per_sequence_s: f64,
    /// Achieved fraction of peak HBM bandwidth (model bandwidth utilisation).
    pub mbu: f64,
    /// Achieved fraction of peak FLOP/s (model FLOPs utilisation); 1 where the class does no
    /// math worth counting.
    #[serde(default = "one")]
    pub mfu: f64,
}

fn one() -> f64 {
    1.0
}

impl KernelCurve {
    /// The curve with coefficients `c = (latency_s, per_sequence_s, 1/mbu, 1/mfu)`.
    pub fn from_coefficients(c: &[f64]) -> Self {
        KernelCurve {
            latency_s: c[0],
            per_sequence_s: c[1],
            mbu: 1.0 / c[2],
            mfu: 1.0 / c[3],
        }
    }

    /// `(latency_s, per_sequence_s, 1/mbu, 1/mfu)`.
    pub fn coefficients(&self) -> [f64; KERNEL_COEFFICIENTS] {
        [
            self.latency_s,
            self.per_sequence_s,
            1.0 / self.mbu,
            1.0 / self.mfu,
        ]
    }

    /// Seconds of one call with features `x`.
    pub fn time(&self, x: &Features) -> f64 {
        dot(&self.coefficients(), &x.0)
    }

    /// Checks latencies finite and not negative, efficiencies in (0, 1]; errors name `field`
    /// and the bad sub-field.
    pub fn validate(&self, field: &'static str) -> Result<(), InvalidField> {
        check_latency(field, "latency_s", self.latency_s)?;
        check_latency(field, "per_sequence_s", self.per_sequence_s)?;
        check_fraction(field, "mbu", self.mbu)?;
        check_fraction(field, "mfu", self.mfu)
    }
}

/// Number of coefficients of an [`AllReduceCurve`].
pub const ALLREDUCE_COEFFICIENTS: usize = 3;

/// Lower bounds of [`AllReduceCurve::coefficients`].
pub const ALLREDUCE_LOWER_BOUNDS: [f64; ALLREDUCE_COEFFICIENTS] = [0.0, 0.0, 1.0];

/// Ring all-reduce of `bytes` over `tp` GPUs (NCCL's cost model, `src/graph/tuning.cc`: a base
/// latency plus a latency per ring step; Patarasuk & Yuan 2009 for the volume):
///
/// ```text
/// t = latency_s + 2 (tp - 1) step_latency_s + 2 (tp - 1) / tp * bytes / (link * bus_efficiency)
/// ```
///
/// with `link` one direction of the GPU's NVLink bandwidth (half the datasheet's bidirectional
/// figure). Zero when `tp == 1`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllReduceCurve {
    /// Fixed time of one call, seconds.
    pub latency_s: f64,
    /// Time of one ring step, seconds.
    pub step_latency_s: f64,
    /// Achieved fraction of one direction's NVLink bandwidth.
    pub bus_efficiency: f64,
}

impl AllReduceCurve {
    /// Features `(1, 2 (tp-1), 2 (tp-1)/tp * bytes / link)`.
    pub fn features(tp: u64, bytes: f64, link_bytes_per_s: f64) -> [f64; ALLREDUCE_COEFFICIENTS] {
        let steps = 2.0 * tp.saturating_sub(1) as f64;
        [
            1.0,
            steps,
            steps / tp.max(1) as f64 * bytes / link_bytes_per_s,
        ]
    }

    /// The curve with coefficients `(latency_s, step_latency_s, 1/bus_efficiency)`.
    pub fn from_coefficients(c: &[f64]) -> Self {
        AllReduceCurve {
            latency_s: c[0],
            step_latency_s: c[1],
            bus_efficiency: 1.0 / c[2],
        }
    }

    /// `(latency_s, step_latency_s, 1/bus_efficiency)`.
    pub fn coefficients(&self) -> [f64; ALLREDUCE_COEFFICIENTS] {
        [
            self.latency_s,
            self.step_latency_s,
            1.0 / self.bus_efficiency,
        ]
    }

    /// Seconds of one all-reduce of `bytes` over `tp` GPUs; zero when `tp <= 1`.
    pub fn time(&self, tp: u64, bytes: f64, link_bytes_per_s: f64) -> f64 {
        if tp <= 1 {
            return 0.0;
        }
        dot(
            &self.coefficients(),
            &Self::features(tp, bytes, link_bytes_per_s),
        )
    }

    /// Checks latencies finite and not negative, efficiency in (0, 1].
    pub fn validate(&self, field: &'static str) -> Result<(), InvalidField> {
        check_latency(field, "latency_s", self.latency_s)?;
        check_latency(field, "step_latency_s", self.step_latency_s)?;
        check_fraction(field, "bus_efficiency", self.bus_efficiency)
    }
}

fn check_latency(field: &'static str, sub: &str, v: f64) -> Result<(), InvalidField> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(InvalidField::new(
            field,
            format!("{sub}: {v}"),
            "latencies must be finite and not negative",
        ))
    }
}

fn check_fraction(field: &'static str, sub: &str, v: f64) -> Result<(), InvalidField> {
    if v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(InvalidField::new(
            field,
            format!("{sub}: {v}"),
            "efficiencies must be in (0, 1]",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H100: Peaks = Peaks {
        hbm_bw_bytes_per_s: 3.35e12,
        flops_per_s: 989.5e12,
    };

    /// Llama-3.1-8B's attention on one GPU, BF16.
    const LLAMA_8B_TP1: AttentionShape = AttentionShape {
        q_heads: 32,
        kv_heads: 8,
        head_dim: 128,
        act_bytes: 2.0,
        kv_bytes: 2.0,
    };

    fn close(a: f64, b: f64) {
        assert!(((a - b) / b).abs() < 1e-5, "{a:e} vs {b:e}");
    }

    /// GEMM 4096 x 4096 x 4096 in BF16 on H100 with latency 5 us, mbu 0.8, mfu 0.7.
    /// Bytes = (4096² + 4096²) 2 + 4096² 2 = 100,663,296; / (3.35e12 0.8) = 3.75609e-5 s.
    /// FLOPs = 2 4096³ = 1.37439e11; / (989.5e12 0.7) = 1.98424e-4 s. Total 2.409849e-4 s.
    #[test]
    fn gemm_hand_computed() {
        let c = KernelCurve {
            latency_s: 5e-6,
            per_sequence_s: 0.0,
            mbu: 0.8,
            mfu: 0.7,
        };
        let x = Features::gemm(&H100, 4096, 4096, 4096, 2.0, 2.0);
        close(c.time(&x), 5e-6 + 3.75609e-5 + 1.98424e-4);
    }

    /// Decode attention, 32 sequences of 2047 cached tokens, 8 KV heads of 128, BF16 KV:
    /// bytes = 32 2048 2 8 128 2 = 268,435,456; / (3.35e12 0.5) = 1.60260e-4 s; FLOPs
    /// 4 32 128 65,536 = 1.07374e9, / 989.5e12 = 1.08513e-6 s; plus 3 us + 32 0.1 us.
    #[test]
    fn decode_attention_hand_computed() {
        let shape = LLAMA_8B_TP1;
        let c = KernelCurve {
            latency_s: 3e-6,
            per_sequence_s: 1e-7,
            mbu: 0.5,
            mfu: 1.0,
        };
        let x = shape.decode(&H100, 32, 32 * 2047);
        close(c.time(&x), 3e-6 + 3.2e-6 + 1.60260e-4 + 1.08513e-6);
    }

    #[test]
    fn causal_pairs_hand_computed() {
        // 3 new after 10 cached: 30 + 6.
        assert_eq!(causal_pairs(3, 10), 36);
        assert_eq!(causal_pairs(0, 300), 0);
    }

    /// Prefill of 1024 tokens, 32/8 heads: pairs 1024 * 1025 / 2 = 524,800; FLOPs
    /// 4 32 128 524,800 = 8.59832e9, / (989.5e12 0.5) = 1.73791e-5 s; bytes 1024 (2 32 128 + 2 8 128) 2
    /// = 20,971,520, / 3.35e12 = 6.26015e-6 s; plus 10 us + 1 us.
    #[test]
    fn prefill_attention_hand_computed() {
        let shape = LLAMA_8B_TP1;
        let c = KernelCurve {
            latency_s: 1e-5,
            per_sequence_s: 1e-6,
            mbu: 1.0,
            mfu: 0.5,
        };
        let x = shape.prefill(&H100, [(1024, 0)]);
        close(c.time(&x), 1e-5 + 1e-6 + 6.26015e-6 + 1.73791e-5);
    }

    /// All-reduce of 16 MiB over 8 GPUs, 450 GB/s per direction, efficiency 0.8, 5 us + 14
    /// steps of 0.5 us: volume 14/8 16,777,216 = 29,360,128 B; / 360e9 = 8.15559e-5 s.
    #[test]
    fn allreduce_hand_computed() {
        let c = AllReduceCurve {
            latency_s: 5e-6,
            step_latency_s: 0.5e-6,
            bus_efficiency: 0.8,
        };
        close(c.time(8, 16_777_216.0, 450e9), 5e-6 + 7e-6 + 8.15559e-5);
        assert_eq!(c.time(1, 1e9, 450e9), 0.0);
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = KernelCurve {
            latency_s: 1e-6,
            per_sequence_s: 0.0,
            mbu: 0.5,
            mfu: 1.0,
        };
        assert!(c.validate("gemm").is_ok());
        c.mbu = 1.2;
        let err = c.validate("gemm").unwrap_err();
        assert_eq!((err.field, err.value.as_str()), ("gemm", "mbu: 1.2"));
        c.mbu = 0.5;
        c.latency_s = f64::NAN;
        assert_eq!(c.validate("gemm").unwrap_err().value, "latency_s: NaN");
    }
}
