//! GPU execution model: how long one forward iteration of a serving instance takes.
//!
//! An *instance* is one model replica on `tp` GPUs (tensor parallelism). Continuous batching
//! engines (vLLM, SGLang) run one forward pass per *iteration* over a [`Batch`] that mixes
//! prefill pieces (a chunk of a prompt, part of whose prefix may already be cached) and decode
//! sequences (one new token each). A [`GpuModel`] maps a batch to a duration in seconds; the
//! caller turns it into `SimDuration` once and schedules the iteration's end.
//!
//! ```text
//!   Batch { prefills: [(new, cached), ..], decodes: [context, ..] }
//!            │
//!            ▼  GpuModel::iteration_time
//!   seconds = host + max(Σ kernels + all-reduces, launches)    (RooflineGpuModel)
//! ```
//!
//! [`RooflineGpuModel`] sums per-kernel rooflines whose efficiencies depend on shape
//! ([`ops`]); [`fit`] fits their curves to measured operator tables (`kvcsim calibrate gpu`).
//! [`ProfiledGpuModel`] keeps the roofline's structure but takes each operator's time from
//! measured tables ([`grid`]: interpolation in log-log), with the roofline outside them.

pub mod fit;
pub mod grid;
pub mod ops;
mod profile;
mod profiled;
mod roofline;

pub use profile::GpuModelConfig;
pub use profiled::{
    Axis, OperatorTable, ProfiledGpuModel, ProfiledParams, TableClass, table_leave_one_out,
};

pub use roofline::{
    CpuCost, IterationBreakdown, LAYER_KERNELS, LayerKernel, LayerShape, OpCall, PassClass,
    RooflineGpuModel, RooflineParams, curve_of,
};

/// Part of one request's prompt that an iteration computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PrefillPiece {
    /// Tokens whose KV this iteration computes.
    pub new_tokens: u64,
    /// Tokens before them whose KV is already in HBM (a prefix-cache hit, or earlier chunks of
    /// the same prompt); the new tokens attend to them but are not recomputed.
    pub cached_tokens: u64,
}

impl PrefillPiece {
    /// (query, key) pairs of causal attention: token `i` of the piece (0-based) attends to the
    /// `cached` tokens and to new tokens `0..=i`, so the pairs are
    /// `new * cached + new * (new + 1) / 2`.
    pub fn attention_pairs(&self) -> u64 {
        self.new_tokens * self.cached_tokens + self.new_tokens * (self.new_tokens + 1) / 2
    }
}

/// The work of one forward iteration of an instance.
///
/// A decode step of a sequence with `context` tokens of KV is exactly a prefill piece with
/// `new = 1, cached = context`; decodes are listed apart only to keep the caller's intent
/// visible. Reuse one `Batch` across iterations ([`clear`](Self::clear)) to avoid allocating.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Prefill pieces, at most one per request.
    pub prefills: Vec<PrefillPiece>,
    /// Decoding sequences, one new token each.
    pub decodes: u64,
    /// Sum over the decoding sequences of the tokens already in their KV cache (prompt plus
    /// tokens generated so far). Every cost of a decode step is linear in its context, so the
    /// batch keeps only the count and this sum: a scheduler with hundreds of decoding sequences
    /// updates it in O(1) per iteration instead of listing them.
    pub decode_context_sum: u64,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// A batch of a single prefill piece.
    pub fn prefill(new_tokens: u64, cached_tokens: u64) -> Self {
        Batch {
            prefills: vec![PrefillPiece {
                new_tokens,
                cached_tokens,
            }],
            decodes: 0,
            decode_context_sum: 0,
        }
    }

    /// A batch of decode steps only.
    pub fn decode(contexts: impl IntoIterator<Item = u64>) -> Self {
        let mut b = Batch::new();
        for c in contexts {
            b.push_decode(c);
        }
        b
    }

    /// Adds a prefill piece.
    pub fn push_prefill(&mut self, new_tokens: u64, cached_tokens: u64) -> &mut Self {
        self.prefills.push(PrefillPiece {
            new_tokens,
            cached_tokens,
        });
        self
    }

    /// Adds a decode step of a sequence with `context` tokens of KV.
    pub fn push_decode(&mut self, context: u64) -> &mut Self {
        self.push_decodes(1, context)
    }

    /// Adds `count` decode steps whose contexts sum to `context_sum` tokens.
    pub fn push_decodes(&mut self, count: u64, context_sum: u64) -> &mut Self {
        self.decodes += count;
        self.decode_context_sum += context_sum;
        self
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.prefills.clear();
        self.decodes = 0;
        self.decode_context_sum = 0;
    }

    /// True when there is nothing to compute.
    pub fn is_empty(&self) -> bool {
        self.prefills.iter().all(|p| p.new_tokens == 0) && self.decodes == 0
    }

    /// Sequences in the batch (prefill pieces plus decodes): one output row each.
    pub fn sequences(&self) -> u64 {
        self.prefills.len() as u64 + self.decodes
    }

    /// Tokens computed this iteration: all new prefill tokens plus one per decode.
    pub fn new_tokens(&self) -> u64 {
        self.prefills.iter().map(|p| p.new_tokens).sum::<u64>() + self.decodes
    }

    /// Tokens of KV read from HBM: every piece's cached and new tokens (attention reads the
    /// whole context, including what it just wrote), and every decode's context plus its token.
    pub fn kv_tokens_read(&self) -> u64 {
        self.prefills
            .iter()
            .map(|p| p.cached_tokens + p.new_tokens)
            .sum::<u64>()
            + self.decode_context_sum
            + self.decodes
    }

    /// Causal (query, key) pairs over the whole batch (see [`PrefillPiece::attention_pairs`];
    /// a decode with context `c` contributes `c + 1`).
    pub fn attention_pairs(&self) -> u64 {
        self.prefills
            .iter()
            .map(PrefillPiece::attention_pairs)
            .sum::<u64>()
            + self.decode_context_sum
            + self.decodes
    }
}

/// Physics of a serving instance's GPUs: the duration of a forward iteration.
///
/// Implementations are pure: the same batch always takes the same time.
pub trait GpuModel: Send {
    /// Seconds one forward iteration over `batch` takes; zero for an empty batch.
    fn iteration_time(&self, batch: &Batch) -> f64;

    /// Where [`iteration_time`](Self::iteration_time) goes, part by part (`bench gpu`
    /// reports it); its `total_s()` equals `iteration_time`.
    fn breakdown(&self, batch: &Batch) -> IterationBreakdown;

    /// Seconds to prefill one request alone: `new_tokens` computed, `cached_tokens` reused.
    fn prefill_time(&self, new_tokens: u64, cached_tokens: u64) -> f64 {
        self.iteration_time(&Batch::prefill(new_tokens, cached_tokens))
    }

    /// Seconds of one decode iteration over sequences with the given KV context lengths.
    fn decode_time(&self, contexts: &[u64]) -> f64 {
        self.iteration_time(&Batch::decode(contexts.iter().copied()))
    }

    /// Appends to `out` the seconds of consecutive decode-only iterations of `decodes`
    /// sequences whose contexts sum to `context_sum` in the first and grow by `decodes` in each
    /// next one: at most `max` of them, stopping after the first that brings their sum above
    /// `within_s`. Each value equals [`iteration_time`](Self::iteration_time) of that batch
    /// bit for bit; implementations may share the work that does not change between them (a
    /// cluster run evaluates every iteration of a decode span this way).
    fn decode_iterations(
        &self,
        decodes: u64,
        context_sum: u64,
        max: usize,
        within_s: f64,
        out: &mut Vec<f64>,
    ) {
        let mut batch = Batch::new();
        span_times(max, within_s, out, |j| {
            batch.clear();
            batch.push_decodes(decodes, context_sum + j * decodes);
            self.iteration_time(&batch)
        });
    }
}

/// Appends `time(j)` for `j = 0, 1, ...` to `out`: at most `max` values, stopping after the
/// first that brings their sum above `within_s` (the contract of
/// [`GpuModel::decode_iterations`]).
pub fn span_times(max: usize, within_s: f64, out: &mut Vec<f64>, mut time: impl FnMut(u64) -> f64) {
    let mut total = 0.0;
    for j in 0..max as u64 {
        let t = time(j);
        out.push(t);
        total += t;
        if total > within_s {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_counts() {
        let mut b = Batch::new();
        assert!(b.is_empty());
        b.push_prefill(3, 10).push_decode(5).push_decode(0);
        // Pairs: prefill 3*10 + 3*4/2 = 36; decodes 6 + 1 = 7.
        assert_eq!(b.attention_pairs(), 43);
        assert_eq!(b.new_tokens(), 5);
        assert_eq!(b.sequences(), 3);
        // KV read: 10 + 3, then 5 + 1 and 0 + 1.
        assert_eq!(b.kv_tokens_read(), 20);
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn decode_equals_single_token_prefill() {
        let d = Batch::decode([100]);
        let p = Batch::prefill(1, 100);
        assert_eq!(d.attention_pairs(), p.attention_pairs());
        assert_eq!(d.kv_tokens_read(), p.kv_tokens_read());
        assert_eq!(d.new_tokens(), p.new_tokens());
    }
}
