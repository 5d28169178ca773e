//! [`SynthSpec`]: the synthetic workload description (serde, with documented defaults) and its
//! validation.

use std::fmt::Display;

use serde::{Deserialize, Serialize};

use super::dist::{CountDist, Dist};

/// An invalid parameter of a [`SynthSpec`]: the field path (relative to the spec, e.g.
/// `arrivals.rate_per_s`), the value and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` = {value}: {reason}")]
pub struct SpecError {
    /// Dotted field path inside the spec.
    pub path: String,
    /// The offending value.
    pub value: String,
    /// The rule it breaks.
    pub reason: String,
}

impl SpecError {
    /// Always true: a synthetic spec's values are the user's.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

/// A value a spec check can print and test for finiteness.
pub(crate) trait SpecValue: Display {
    fn finite(&self) -> bool;
}

impl SpecValue for f64 {
    fn finite(&self) -> bool {
        self.is_finite()
    }
}

impl SpecValue for u32 {
    fn finite(&self) -> bool {
        true
    }
}

impl SpecValue for u64 {
    fn finite(&self) -> bool {
        true
    }
}

/// `Ok` when `value` is finite and `ok`; else the error for `path.field` (`field` may be empty).
pub(crate) fn check<V: SpecValue>(
    path: &str,
    field: &str,
    value: V,
    ok: bool,
    reason: &str,
) -> Result<(), SpecError> {
    if value.finite() && ok {
        return Ok(());
    }
    let path = match (path.is_empty(), field.is_empty()) {
        (_, true) => path.to_owned(),
        (true, false) => field.to_owned(),
        (false, false) => format!("{path}.{field}"),
    };
    Err(SpecError {
        path,
        value: value.to_string(),
        reason: reason.to_owned(),
    })
}

/// A synthetic chat/agent workload. Every field has a default (see [`SynthSpec::default`] and
/// the [module docs](super) for the model and the reasons for each default); unknown fields are
/// rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthSpec {
    /// Tokens per KV block (default 512, as the Mooncake traces).
    pub block_size: u32,
    /// When to stop (default: 1500 requests).
    pub limit: Limit,
    /// Arrival process (default: Poisson, 2 requests/s).
    pub arrivals: Arrivals,
    /// Seconds of simulated traffic before time 0 that are generated and discarded, so that the
    /// trace starts in steady state: sessions already in progress, the full request rate from the
    /// start (default 300; 0 starts from an empty system).
    pub warmup_s: f64,
    /// Shared system prompts.
    pub system_prompts: SystemPrompts,
    /// Multi-turn sessions.
    pub sessions: Sessions,
    /// Agent-style tool loops inside sessions.
    pub tool_loops: ToolLoops,
}

/// When generation stops: after `requests` requests, or at the first arrival at or after
/// `duration_s`, whichever comes first. At least one must be given. When the spec omits `limit`
/// altogether the default is 1500 requests; when it gives `limit`, an omitted bound is unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Number of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Arrivals before this time, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

/// The arrival process of sessions, parameterised by the *request* rate it should produce.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Arrivals {
    /// Sessions start as a Poisson process (exponential gaps).
    Poisson {
        /// Target mean request rate, requests per second (> 0).
        rate_per_s: f64,
    },
    /// Sessions start as a renewal process with Gamma gaps of coefficient of variation `cv`
    /// (shape `1/cv²`): `cv` > 1 is burstier than Poisson, < 1 more regular, 1 is Poisson.
    Gamma {
        /// Target mean request rate, requests per second (> 0).
        rate_per_s: f64,
        /// Coefficient of variation of the gaps, in [0.01, 100].
        cv: f64,
    },
}

impl Arrivals {
    /// The target request rate.
    pub fn rate_per_s(&self) -> f64 {
        match *self {
            Arrivals::Poisson { rate_per_s } | Arrivals::Gamma { rate_per_s, .. } => rate_per_s,
        }
    }
}

/// A pool of system prompts shared between sessions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemPrompts {
    /// Number of distinct prompts, 1 to 10⁶.
    pub count: u32,
    /// Length of each prompt, tokens, drawn once per prompt (0 allowed: no shared prefix).
    pub tokens: Dist,
    /// Zipf exponent `s` of prompt popularity: prompt of rank `k` (1-based) is chosen by a new
    /// session with probability ∝ `k^−s` (0: uniform).
    pub zipf_exponent: f64,
}

/// Multi-turn sessions: each turn's input is the previous turn's input and output plus new user
/// tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// User turns per session.
    pub turns: CountDist,
    /// Tokens of a session's first user message (often carries a document or code), ≥ 1.
    pub first_user_tokens: Dist,
    /// Tokens of each later user message, ≥ 1.
    pub user_tokens: Dist,
    /// Tokens of each final answer (a turn's answer, or the answer ending a tool loop), ≥ 1.
    pub output_tokens: Dist,
    /// From a request's arrival to the arrival of the session's next user turn, seconds
    /// (covers the response time and the user's think time).
    pub think_time_s: Dist,
    /// A session ends instead of sending a request whose input would exceed this, tokens.
    pub max_context_tokens: u32,
}

/// Agent-style tool loops: after a user turn the model may call tools several times; each call
/// is a short output, and the tool's result is appended for the next request.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolLoops {
    /// Probability that a user turn starts a tool loop, in [0, 1].
    pub probability: f64,
    /// Tool calls in a loop (each adds one request).
    pub calls: CountDist,
    /// Tokens of the model's output that is a tool call, ≥ 1.
    pub call_output_tokens: Dist,
    /// Tokens of a tool's result appended to the context, ≥ 1.
    pub result_tokens: Dist,
    /// From a request's arrival to the next request of the loop, seconds (decode of the call plus
    /// the tool's run time).
    pub latency_s: Dist,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            block_size: 512,
            limit: Limit {
                requests: Some(1500),
                duration_s: None,
            },
            arrivals: Arrivals::Poisson { rate_per_s: 2.0 },
            warmup_s: 300.0,
            system_prompts: SystemPrompts::default(),
            sessions: Sessions::default(),
            tool_loops: ToolLoops::default(),
        }
    }
}

impl Default for SystemPrompts {
    fn default() -> Self {
        SystemPrompts {
            count: 20,
            tokens: Dist::LogNormal {
                mean: 1000.0,
                sigma: 0.5,
            },
            zipf_exponent: 1.1,
        }
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            turns: CountDist::Geometric { mean: 1.5 },
            first_user_tokens: Dist::LogNormal {
                mean: 6000.0,
                sigma: 1.2,
            },
            user_tokens: Dist::LogNormal {
                mean: 250.0,
                sigma: 1.0,
            },
            output_tokens: Dist::LogNormal {
                mean: 350.0,
                sigma: 0.6,
            },
            think_time_s: Dist::LogNormal {
                mean: 45.0,
                sigma: 1.0,
            },
            max_context_tokens: 131_072,
        }
    }
}

impl Default for ToolLoops {
    fn default() -> Self {
        ToolLoops {
            probability: 0.1,
            calls: CountDist::Geometric { mean: 3.0 },
            call_output_tokens: Dist::LogNormal {
                mean: 60.0,
                sigma: 0.5,
            },
            result_tokens: Dist::LogNormal {
                mean: 800.0,
                sigma: 1.0,
            },
            latency_s: Dist::LogNormal {
                mean: 2.0,
                sigma: 0.7,
            },
        }
    }
}

impl SynthSpec {
    /// Checks every parameter; the error names the first bad field.
    pub fn validate(&self) -> Result<(), SpecError> {
        check(
            "",
            "block_size",
            self.block_size,
            self.block_size >= 1,
            "must be >= 1",
        )?;
        let Limit {
            requests,
            duration_s,
        } = self.limit;
        if requests.is_none() && duration_s.is_none() {
            return Err(SpecError {
                path: "limit".into(),
                value: "{}".into(),
                reason: "give `requests`, `duration_s` or both".into(),
            });
        }
        if let Some(n) = requests {
            check("limit", "requests", n, n >= 1, "must be >= 1")?;
        }
        if let Some(d) = duration_s {
            check(
                "limit",
                "duration_s",
                d,
                d > 0.0 && d < 1.8e10,
                "must be finite, > 0 and below 1.8e10 s",
            )?;
        }
        check(
            "",
            "warmup_s",
            self.warmup_s,
            (0.0..1.8e10).contains(&self.warmup_s),
            "must be finite, >= 0 and below 1.8e10 s",
        )?;
        match self.arrivals {
            Arrivals::Poisson { rate_per_s } => {
                check(
                    "arrivals",
                    "rate_per_s",
                    rate_per_s,
                    rate_per_s > 0.0,
                    "must be finite and > 0",
                )?;
            }
            Arrivals::Gamma { rate_per_s, cv } => {
                check(
                    "arrivals",
                    "rate_per_s",
                    rate_per_s,
                    rate_per_s > 0.0,
                    "must be finite and > 0",
                )?;
                check(
                    "arrivals",
                    "cv",
                    cv,
                    (0.01..=100.0).contains(&cv),
                    "must be in [0.01, 100]",
                )?;
            }
        }
        let p = &self.system_prompts;
        check(
            "system_prompts",
            "count",
            p.count,
            (1..=1_000_000).contains(&p.count),
            "must be in [1, 1000000]",
        )?;
        p.tokens.validate("system_prompts.tokens")?;
        check(
            "system_prompts",
            "zipf_exponent",
            p.zipf_exponent,
            p.zipf_exponent >= 0.0,
            "must be finite and >= 0",
        )?;
        let s = &self.sessions;
        s.turns.validate("sessions.turns")?;
        s.first_user_tokens.validate("sessions.first_user_tokens")?;
        s.user_tokens.validate("sessions.user_tokens")?;
        s.output_tokens.validate("sessions.output_tokens")?;
        s.think_time_s.validate("sessions.think_time_s")?;
        check(
            "sessions",
            "max_context_tokens",
            s.max_context_tokens,
            s.max_context_tokens >= 1,
            "must be >= 1",
        )?;
        let t = &self.tool_loops;
        check(
            "tool_loops",
            "probability",
            t.probability,
            (0.0..=1.0).contains(&t.probability),
            "must be in [0, 1]",
        )?;
        t.calls.validate("tool_loops.calls")?;
        t.call_output_tokens
            .validate("tool_loops.call_output_tokens")?;
        t.result_tokens.validate("tool_loops.result_tokens")?;
        t.latency_s.validate("tool_loops.latency_s")
    }

    /// Expected requests per session, ignoring `max_context_tokens`:
    /// `E[turns] · (1 + probability · E[calls])`.
    pub fn requests_per_session(&self) -> f64 {
        self.sessions.turns.mean()
            * (1.0 + self.tool_loops.probability * self.tool_loops.calls.mean())
    }

    /// Session start rate that gives the target request rate:
    /// `arrivals.rate_per_s / requests_per_session()`.
    pub fn session_rate_per_s(&self) -> f64 {
        self.arrivals.rate_per_s() / self.requests_per_session()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_yaml() {
        let spec = SynthSpec::default();
        spec.validate().unwrap();
        let yaml = serde_norway::to_string(&spec).unwrap();
        let back: SynthSpec = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back, spec);
        // An empty mapping is the defaults.
        assert_eq!(serde_norway::from_str::<SynthSpec>("{}").unwrap(), spec);
        // E[turns] 1.5 * (1 + 0.1 * 3) = 1.95 requests per session.
        assert!((spec.requests_per_session() - 1.95).abs() < 1e-12);
    }

    #[test]
    fn partial_yaml_keeps_other_defaults() {
        let yaml = "
arrivals: {kind: gamma, rate_per_s: 5, cv: 2}
limit: {duration_s: 600}
sessions:
  turns: {kind: constant, value: 2}
  output_tokens: {kind: uniform, min: 10, max: 20}
";
        let spec: SynthSpec = serde_norway::from_str(yaml).unwrap();
        assert_eq!(
            spec.arrivals,
            Arrivals::Gamma {
                rate_per_s: 5.0,
                cv: 2.0
            }
        );
        assert_eq!(
            spec.limit,
            Limit {
                requests: None,
                duration_s: Some(600.0)
            }
        );
        assert_eq!(spec.sessions.turns, CountDist::Constant { value: 2 });
        assert_eq!(spec.sessions.user_tokens, Sessions::default().user_tokens);
        assert_eq!(spec.tool_loops, ToolLoops::default());
        spec.validate().unwrap();
    }

    #[test]
    fn unknown_fields_and_kinds_are_rejected() {
        for yaml in [
            "block_sise: 16",
            "arrivals: {kind: poisson, rate: 2}",
            "arrivals: {kind: gamma, rate_per_s: 2}",
            "arrivals: {kind: hawkes, rate_per_s: 2}",
            "sessions: {turns: {kind: geometric, mean: 3, max: 9}}",
            "system_prompts: {tokens: {kind: log-normal, mean: 9}}",
            "limit: {requests: 5, seconds: 3}",
        ] {
            let e = serde_norway::from_str::<SynthSpec>(yaml);
            assert!(e.is_err(), "{yaml} parsed as {e:?}");
        }
    }

    #[test]
    fn validation_names_path_and_value() {
        type Breakage = (fn(&mut SynthSpec), &'static str);
        let cases: [Breakage; 9] = [
            (|s| s.block_size = 0, "`block_size` = 0: must be >= 1"),
            (
                |s| {
                    s.limit = Limit {
                        requests: None,
                        duration_s: None,
                    }
                },
                "`limit` = {}: give `requests`, `duration_s` or both",
            ),
            (
                |s| s.limit.duration_s = Some(-1.0),
                "`limit.duration_s` = -1: must be finite, > 0 and below 1.8e10 s",
            ),
            (
                |s| s.arrivals = Arrivals::Poisson { rate_per_s: 0.0 },
                "`arrivals.rate_per_s` = 0: must be finite and > 0",
            ),
            (
                |s| {
                    s.arrivals = Arrivals::Gamma {
                        rate_per_s: 1.0,
                        cv: f64::NAN,
                    }
                },
                "`arrivals.cv` = NaN: must be in [0.01, 100]",
            ),
            (
                |s| s.system_prompts.count = 0,
                "`system_prompts.count` = 0: must be in [1, 1000000]",
            ),
            (
                |s| s.system_prompts.zipf_exponent = -0.5,
                "`system_prompts.zipf_exponent` = -0.5: must be finite and >= 0",
            ),
            (
                |s| s.tool_loops.probability = 1.5,
                "`tool_loops.probability` = 1.5: must be in [0, 1]",
            ),
            (
                |s| {
                    s.sessions.think_time_s = Dist::Exponential {
                        mean: f64::INFINITY,
                    }
                },
                "`sessions.think_time_s.mean` = inf: must be finite and > 0",
            ),
        ];
        for (break_it, want) in cases {
            let mut spec = SynthSpec::default();
            break_it(&mut spec);
            assert_eq!(spec.validate().unwrap_err().to_string(), want);
        }
    }
}
