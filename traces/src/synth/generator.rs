//! The event loop that turns a [`SynthSpec`] into requests in arrival order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, Gamma, Zipf};
use rand_pcg::Pcg64;

use super::spec::{Arrivals, SpecError, SynthSpec};
use super::{STREAM_ARRIVALS, STREAM_LENGTHS, STREAM_PROMPTS, STREAM_SESSIONS};
use crate::Request;

/// Gaps between session starts, seconds.
enum SessionGaps {
    Exponential { mean_s: f64 },
    Gamma(Gamma<f64>),
}

impl SessionGaps {
    fn sample_ns(&self, rng: &mut Pcg64) -> u64 {
        let gap_s = match self {
            SessionGaps::Exponential { mean_s } => mean_s * Distribution::<f64>::sample(&Exp1, rng),
            SessionGaps::Gamma(gamma) => gamma.sample(rng),
        };
        (gap_s * 1e9).round() as u64
    }
}

/// A system prompt of the pool.
struct Prompt {
    tokens: u32,
    /// Ids of its full blocks, allocated as requests first use them.
    chain: Vec<u64>,
}

/// A live session. Owns its random generators, so its draws do not depend on how sessions
/// interleave in time.
struct Session {
    prompt: usize,
    /// Structure: turns, tool-loop decisions, gaps.
    rng: Pcg64,
    /// Token counts.
    lengths: Pcg64,
    /// User turns not yet sent.
    turns_left: u32,
    /// Tool-loop requests not yet sent (the pending request is one of them when > 0).
    calls_left: u32,
    /// Input + output of the previous request (0 before the first).
    context_tokens: u32,
    /// Block ids of the previous request's full blocks (the reusable prefix).
    chain: Vec<u64>,
}

enum Event {
    SessionStarts,
    NextRequest(Box<Session>),
}

/// A heap entry, ordered by `(time, seq)` only: equal times come out in scheduling order.
struct Pending {
    time_ns: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ns, self.seq) == (other.time_ns, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time_ns, self.seq).cmp(&(other.time_ns, other.seq))
    }
}

/// Iterator over the requests of a synthetic workload, in arrival order (ties in scheduling
/// order). Memory is proportional to the live sessions, not to the requests generated.
pub struct Generator {
    spec: SynthSpec,
    arrivals: Pcg64,
    sessions: Pcg64,
    lengths: Pcg64,
    gaps: SessionGaps,
    zipf: Zipf<f64>,
    prompts: Vec<Prompt>,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    next_block_id: u64,
    emitted: u64,
    max_requests: u64,
    /// Internal times run from the first session start; emitted arrivals are internal − warm-up.
    warmup_ns: u64,
    /// Internal time at which generation stops (warm-up + duration).
    end_ns: u64,
}

/// A generator seeded from `parent` (two 128-bit draws: state and stream).
fn child(parent: &mut Pcg64) -> Pcg64 {
    let mut word = || (u128::from(parent.next_u64()) << 64) | u128::from(parent.next_u64());
    let state = word();
    Pcg64::new(state, word())
}

/// Time `gap_ns` after `time_ns`, saturating.
fn after(time_ns: u64, gap_ns: u64) -> u64 {
    time_ns.saturating_add(gap_ns)
}

fn spec_error(path: &str, value: impl ToString, reason: impl ToString) -> SpecError {
    SpecError {
        path: path.into(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

impl Generator {
    /// Validates `spec` and prepares the generator; `streams` gives each named stream.
    pub fn new(spec: &SynthSpec, streams: &dyn Fn(&str) -> Pcg64) -> Result<Generator, SpecError> {
        spec.validate()?;
        let session_rate = spec.session_rate_per_s();
        let mean_gap_s = 1.0 / session_rate;
        let gaps = match spec.arrivals {
            Arrivals::Poisson { .. } => SessionGaps::Exponential { mean_s: mean_gap_s },
            Arrivals::Gamma { cv, .. } => {
                let shape = 1.0 / (cv * cv);
                let gamma = Gamma::new(shape, mean_gap_s / shape)
                    .map_err(|e| spec_error("arrivals", format!("{:?}", spec.arrivals), e))?;
                SessionGaps::Gamma(gamma)
            }
        };
        let zipf = Zipf::new(
            f64::from(spec.system_prompts.count),
            spec.system_prompts.zipf_exponent,
        )
        .map_err(|e| spec_error("system_prompts", format!("{:?}", spec.system_prompts), e))?;
        let mut prompt_rng = streams(STREAM_PROMPTS);
        let prompts = (0..spec.system_prompts.count)
            .map(|_| Prompt {
                tokens: spec.system_prompts.tokens.sample_tokens(&mut prompt_rng, 0),
                chain: Vec::new(),
            })
            .collect();
        let warmup_ns = (spec.warmup_s * 1e9).round() as u64;
        let mut generator = Generator {
            spec: spec.clone(),
            arrivals: streams(STREAM_ARRIVALS),
            sessions: streams(STREAM_SESSIONS),
            lengths: streams(STREAM_LENGTHS),
            gaps,
            zipf,
            prompts,
            heap: BinaryHeap::new(),
            seq: 0,
            next_block_id: 0,
            emitted: 0,
            max_requests: spec.limit.requests.unwrap_or(u64::MAX),
            warmup_ns,
            end_ns: spec.limit.duration_s.map_or(u64::MAX, |d| {
                warmup_ns.saturating_add((d * 1e9).round() as u64)
            }),
        };
        generator.schedule(0, Event::SessionStarts);
        Ok(generator)
    }

    fn schedule(&mut self, time_ns: u64, event: Event) {
        self.heap.push(Reverse(Pending {
            time_ns,
            seq: self.seq,
            event,
        }));
        self.seq += 1;
    }

    fn start_session(&mut self) -> Session {
        let mut rng = child(&mut self.sessions);
        let lengths = child(&mut self.lengths);
        let rank = self.zipf.sample(&mut rng) as usize; // 1..=count
        let prompt = rank.clamp(1, self.prompts.len()) - 1;
        let turns_left = self.spec.sessions.turns.sample(&mut rng);
        Session {
            prompt,
            rng,
            lengths,
            turns_left,
            calls_left: 0,
            context_tokens: 0,
            chain: Vec::new(),
        }
    }

    /// The session's next request at internal time `time_ns`, scheduling the one after; `None`
    /// during warm-up, or when a later request would exceed `max_context_tokens` (the session
    /// then ends; a first request is truncated instead).
    fn emit(&mut self, mut session: Box<Session>, time_ns: u64) -> Option<Request> {
        let (sessions, tools) = (&self.spec.sessions, &self.spec.tool_loops);
        let first = session.context_tokens == 0;
        let tool_request = session.calls_left > 0;
        let added = if tool_request {
            tools.result_tokens.sample_tokens(&mut session.lengths, 1)
        } else if first {
            sessions
                .first_user_tokens
                .sample_tokens(&mut session.lengths, 1)
        } else {
            sessions.user_tokens.sample_tokens(&mut session.lengths, 1)
        };
        let base = if first {
            self.prompts[session.prompt].tokens
        } else {
            session.context_tokens
        };
        let mut input_tokens = base.saturating_add(added);
        if input_tokens > sessions.max_context_tokens {
            if !first {
                return None;
            }
            // A first request is truncated to the context window, so every session sends at
            // least one request and generation always makes progress.
            input_tokens = sessions.max_context_tokens;
        }
        if tool_request {
            session.calls_left -= 1;
        } else {
            session.turns_left -= 1;
            // Always one draw, so the stream's use does not depend on the probability.
            if session.rng.random::<f64>() < tools.probability {
                session.calls_left = tools.calls.sample(&mut session.rng);
            }
        }
        let output_tokens = if session.calls_left > 0 {
            tools
                .call_output_tokens
                .sample_tokens(&mut session.lengths, 1)
        } else {
            sessions
                .output_tokens
                .sample_tokens(&mut session.lengths, 1)
        };
        session.context_tokens = input_tokens.saturating_add(output_tokens);
        // During warm-up the session advances but nothing is emitted and no id allocated.
        let request = (time_ns >= self.warmup_ns).then(|| {
            let block_ids = self.block_ids(&mut session, input_tokens);
            let index = self.emitted;
            self.emitted += 1;
            Request {
                index,
                arrival_ns: time_ns - self.warmup_ns,
                input_tokens,
                output_tokens,
                block_ids,
            }
        });
        let gap = if session.calls_left > 0 {
            Some(self.spec.tool_loops.latency_s.sample_ns(&mut session.rng))
        } else if session.turns_left > 0 {
            Some(self.spec.sessions.think_time_s.sample_ns(&mut session.rng))
        } else {
            None
        };
        if let Some(gap) = gap {
            self.schedule(after(time_ns, gap), Event::NextRequest(session));
        }
        request
    }

    /// Block ids of a request of `input_tokens` in `session`: the reusable full blocks of the
    /// previous request (or of the system prompt, for the first), then fresh ids.
    fn block_ids(&mut self, session: &mut Session, input_tokens: u32) -> Vec<u64> {
        let block_size = self.spec.block_size;
        let n = input_tokens.div_ceil(block_size) as usize;
        let mut ids = Vec::with_capacity(n);
        if session.chain.is_empty() {
            // First request (or first emitted, after warm-up): the prompt's full blocks, their
            // ids allocated when first used.
            let prompt = &mut self.prompts[session.prompt];
            let shared = (prompt.tokens.min(input_tokens) / block_size) as usize;
            while prompt.chain.len() < shared {
                prompt.chain.push(self.next_block_id);
                self.next_block_id += 1;
            }
            ids.extend_from_slice(&prompt.chain[..shared]);
        } else {
            ids.extend_from_slice(&session.chain[..session.chain.len().min(n)]);
        }
        while ids.len() < n {
            ids.push(self.next_block_id);
            self.next_block_id += 1;
        }
        session.chain.clear();
        session
            .chain
            .extend_from_slice(&ids[..(input_tokens / block_size) as usize]);
        ids
    }
}

impl Iterator for Generator {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        while self.emitted < self.max_requests {
            let Reverse(pending) = self.heap.pop()?;
            if pending.time_ns >= self.end_ns {
                self.heap.clear();
                return None;
            }
            let session = match pending.event {
                Event::SessionStarts => {
                    let gap = self.gaps.sample_ns(&mut self.arrivals);
                    self.schedule(after(pending.time_ns, gap), Event::SessionStarts);
                    Box::new(self.start_session())
                }
                Event::NextRequest(session) => session,
            };
            if let Some(request) = self.emit(session, pending.time_ns) {
                return Some(request);
            }
        }
        None
    }
}
