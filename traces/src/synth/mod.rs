//! Synthetic chat/agent workload generator: requests with Mooncake-style prefix-chained block
//! ids, from a [`SynthSpec`] and named random streams.
//!
//! # Model
//!
//! ```text
//!  session starts (Poisson/Gamma) ──► session: system prompt p ~ Zipf(count, s), T user turns
//!                                      │
//!   user turn 1: [prompt p][first user msg]                                 → answer
//!   user turn 2: [prompt p][first user msg][answer][user msg]               → answer
//!   user turn 3 (with a tool loop of k = 2 calls):
//!                [......... context .........][user msg]                    → tool call
//!   tool call 1: [......... context ......................][tool result]    → tool call
//!   tool call 2: [......... context ...................................][r] → answer
//! ```
//!
//! - **Sessions** start as a renewal process: gaps `Exp(λ_s)` (Poisson) or
//!   `Gamma(shape 1/cv², scale cv²/λ_s)` (mean `1/λ_s`, coefficient of variation `cv`), with
//!   `λ_s = rate_per_s / E[requests per session]` and
//!   `E[requests per session] = E[turns] · (1 + probability · E[calls])`, so `rate_per_s` is the
//!   long-run *request* rate (sessions cut short by `max_context_tokens` lower it slightly).
//! - Each session picks a **system prompt** `p` of the pool with probability `∝ rank^−s`
//!   (`rand_distr::Zipf`), and a number of user turns `T ~ turns`. The pool's prompt lengths are
//!   drawn once from `system_prompts.tokens`.
//! - **Turns.** Let `c` be the session's context after its previous request (its input plus its
//!   output). The first user turn's input is `len(p) + first_user_tokens`; a later user turn's
//!   is `c + user_tokens`. Each user turn starts a **tool loop** with probability
//!   `tool_loops.probability`, of `k ~ tool_loops.calls` calls: the turn and the first `k − 1`
//!   calls output `call_output_tokens` (the tool call), each call's input is
//!   `c + result_tokens`, and the last call (or the turn, without a loop) outputs
//!   `output_tokens`. The next request of a loop arrives `latency_s` after the previous one; the
//!   next user turn `think_time_s` after the session's previous request. A session ends after
//!   its `T` user turns (and their loops), or instead of sending a request whose input would
//!   exceed `max_context_tokens` (a session's first request is truncated to it instead, so every
//!   session sends at least one request). Token draws are rounded and at least 1 (prompts: at least 0).
//! - **Blocks.** The input of `n` tokens has `ceil(n / block_size)` blocks, the last one usually
//!   partial. Ids are prefix-chained as in the Mooncake traces: equal ids mean equal content and
//!   equal prefix, and ids are allocated sequentially from 0 in first-seen (output) order, like
//!   Mooncake's remapped ids. Since a session's context only grows by appending, a block's
//!   content is fixed by (its prompt, for blocks wholly inside the prompt; else its session),
//!   its index and how many tokens it holds. So a request reuses the ids of the previous
//!   request's *full* blocks (or of the prompt's full blocks, for the session's first request)
//!   and gets fresh ids for the rest: a block that was partial gets a new id once it has grown,
//!   as a content hash would. This is the `(parent, content) → id` interning of a hash chain,
//!   without the table: a session's blocks are never seen again once it ends, so memory is
//!   proportional to the live sessions. User messages are taken as unique: two sessions share
//!   nothing beyond their system prompt.
//! - **Warm-up.** Generation starts `warmup_s` before time 0 and discards what arrives before 0,
//!   so the trace starts in steady state, like a window cut from production traffic: sessions
//!   already in progress at 0 send requests whose earlier context was never emitted (their
//!   blocks get fresh ids, except the prompt's).
//! - **Output** is in arrival order (a heap of pending requests keyed by `(time, sequence)`), ties
//!   in scheduling order; times are integer ns, gaps rounded to the ns. It stops after
//!   `limit.requests` requests or at the first arrival at or after `limit.duration_s`.
//!
//! # Randomness
//!
//! Four named streams, each for one concern: [`STREAM_ARRIVALS`] (session start gaps),
//! [`STREAM_PROMPTS`] (prompt lengths), [`STREAM_SESSIONS`] and [`STREAM_LENGTHS`]. The last two
//! only seed, at each session's start, that session's own structure generator (prompt choice,
//! turns, tool-loop decisions, gaps) and token-length generator, so the `i`-th session draws the
//! same structure and lengths whatever the arrival rate or the interleaving of sessions. Changing
//! the length distributions changes no arrival time (unless `max_context_tokens` then cuts a
//! session short). Same spec and streams, same requests, on every platform.
//!
//! # Defaults and where they come from
//!
//! | parameter | default | why |
//! |---|---|---|
//! | `block_size` | 512 | Mooncake FAST'25 traces |
//! | `limit` | 1500 requests | about 12 min at 2 req/s: a small, quick validation workload |
//! | `arrivals` | Poisson, 2 req/s | open-loop arrivals; the Mooncake conversation trace averages 3.4 req/s |
//! | `warmup_s` | 300 | longer than almost every session (mean think time 45 s, 1.5 turns) |
//! | `system_prompts` | 20 prompts, log-normal mean 1000 tokens (σ 0.5), Zipf s = 1.1 | a few popular prompts dominate, as block 0 starts 99.99% of the conversation trace's requests; lengths are an assumption |
//! | `sessions.turns` | geometric, mean 1.5 | calibrated: with the lengths below it puts the ideal hit ratio near 0.5 |
//! | `sessions.first_user_tokens` | log-normal mean 6000 (σ 1.2) | long first messages (documents, code): the conversation trace's input mean is 12,035 tokens, median 6,909 |
//! | `sessions.user_tokens` | log-normal mean 250 (σ 1.0) | short follow-ups (assumption) |
//! | `sessions.output_tokens` | log-normal mean 350 (σ 0.6) | conversation trace output: mean 343, median 350, p90 597 |
//! | `sessions.think_time_s` | log-normal mean 45 s (σ 1.0) | response plus reading and typing time (assumption) |
//! | `sessions.max_context_tokens` | 131,072 | a 128k-context model; the conversation trace's longest input is 126,195 |
//! | `tool_loops` | probability 0.1, geometric mean 3 calls, call 60 tokens, result 800 tokens, latency 2 s | an agent share of about a quarter of requests (assumption) |
//!
//! The trace figures are from [`stats::compute`](crate::stats::compute) on
//! `shared/traces/conversation_trace.jsonl`. With the defaults, seeds 1–8 (streams as in
//! `examples/synth_stats.rs`) give 1500 requests over 733–789 s (1.90–2.05 req/s), mean input
//! 7.3k–8.3k tokens, ideal hit ratio 0.48–0.54 (the conversation trace: 0.37), 46–58% of
//! requests with a hit ratio of at least 0.5 (conversation trace 42%; Zhu et al. report about
//! 40%), and an LRU at 10% of the unique blocks 0.03–0.05 below the ideal (conversation trace:
//! 0.09 below): reuse in this model is mostly at short distance, the next turn of a live session.

mod dist;
mod generator;
mod spec;

pub use dist::{CountDist, Dist};
pub use generator::Generator;
pub use spec::{Arrivals, Limit, Sessions, SpecError, SynthSpec, SystemPrompts, ToolLoops};

pub use crate::write_jsonl;

/// Stream of session start gaps.
pub const STREAM_ARRIVALS: &str = "synth/arrivals";
/// Stream that seeds each session's structure generator (prompt choice, turns, tool loops, gaps).
pub const STREAM_SESSIONS: &str = "synth/sessions";
/// Stream that seeds each session's token-length generator.
pub const STREAM_LENGTHS: &str = "synth/lengths";
/// Stream of the system prompt lengths.
pub const STREAM_PROMPTS: &str = "synth/prompts";

/// The requests of `spec`, in arrival order; `streams` returns the independent random stream of
/// each name ([`STREAM_ARRIVALS`], [`STREAM_SESSIONS`], [`STREAM_LENGTHS`], [`STREAM_PROMPTS`]).
/// Fails only if `spec` does not [validate](SynthSpec::validate).
///
/// ```
/// use kvcsim_traces::synth::{self, Limit, SynthSpec};
/// use rand_pcg::Pcg64;
///
/// let spec = SynthSpec { limit: Limit { requests: Some(50), duration_s: None }, ..SynthSpec::default() };
/// // The simulator derives each stream from (seed, name); any distinct streams will do here.
/// let streams = |name: &str| Pcg64::new(42, name.bytes().fold(0, |h, b| h * 131 + u128::from(b)));
/// let requests: Vec<_> = synth::generate(&spec, &streams).unwrap().collect();
/// assert_eq!(requests.len(), 50);
/// assert!(requests.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns));
/// assert!(requests.iter().all(|r| r.block_ids.len() == r.input_tokens.div_ceil(512) as usize));
/// ```
pub fn generate(
    spec: &SynthSpec,
    streams: &dyn Fn(&str) -> rand_pcg::Pcg64,
) -> Result<Generator, SpecError> {
    Generator::new(spec, streams)
}

#[cfg(test)]
mod tests;
