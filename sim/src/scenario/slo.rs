//! Service-level objectives: latency targets a request must meet, and the share of requests
//! that must meet them.
//!
//! ```yaml
//! slo: { ttft_ms: 2000, tpot_ms: 50, e2e_ms: 30000, percentile: 99 }
//! ```
//!
//! A request meets the SLO when it meets every target given (DistServe's joint attainment, per
//! request: Zhong et al., OSDI'24, §2), and a run meets it when the fraction of its requests
//! that do (its attainment) is at least `percentile` / 100. Rejected requests count as
//! requests that miss. A request with one output token has no TPOT (0 in `requests.parquet`)
//! and so meets any TPOT target.

use serde::{Deserialize, Serialize};

use super::ScenarioError;
use crate::records::RequestRecord;

/// The `slo` block as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// Time-to-first-token target, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Time-per-output-token target (mean over the request's tokens after the first), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    /// End-to-end latency target, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
    /// Percent of requests that must meet every target. Default 99.
    #[serde(default = "default_percentile")]
    pub percentile: f64,
}

fn default_percentile() -> f64 {
    99.0
}

/// A validated SLO: targets in nanoseconds (rounded to the nearest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// TTFT target, ns.
    pub ttft_ns: Option<u64>,
    /// TPOT target, ns.
    pub tpot_ns: Option<u64>,
    /// E2E target, ns.
    pub e2e_ns: Option<u64>,
    /// Required attainment, percent (0, 100].
    pub percentile: f64,
}

impl Slo {
    /// Validates `raw`: at least one target, each finite and positive, `percentile` in
    /// (0, 100]. `path` is where the block sits (`slo`, or `--slo`).
    pub fn validate(raw: &RawSlo, source: &str, path: &str) -> Result<Slo, ScenarioError> {
        let target = |name: &str, v: Option<f64>| -> Result<Option<u64>, ScenarioError> {
            match v {
                None => Ok(None),
                Some(ms) if ms.is_finite() && ms > 0.0 => Ok(Some((ms * 1e6).round() as u64)),
                Some(ms) => Err(ScenarioError::field(
                    source,
                    &format!("{path}.{name}"),
                    format!("must be a positive number of milliseconds, got {ms}"),
                )),
            }
        };
        let slo = Slo {
            ttft_ns: target("ttft_ms", raw.ttft_ms)?,
            tpot_ns: target("tpot_ms", raw.tpot_ms)?,
            e2e_ns: target("e2e_ms", raw.e2e_ms)?,
            percentile: raw.percentile,
        };
        if !(slo.percentile.is_finite() && slo.percentile > 0.0 && slo.percentile <= 100.0) {
            return Err(ScenarioError::field(
                source,
                &format!("{path}.percentile"),
                format!("must be in (0, 100], got {}", slo.percentile),
            ));
        }
        if slo.ttft_ns.is_none() && slo.tpot_ns.is_none() && slo.e2e_ns.is_none() {
            return Err(ScenarioError::field(
                source,
                path,
                "give at least one target: ttft_ms, tpot_ms or e2e_ms",
            ));
        }
        Ok(slo)
    }

    /// Whether `r` meets every target.
    pub fn meets(&self, r: &RequestRecord) -> bool {
        let ok = |target: Option<u64>, v: u64| target.is_none_or(|t| v <= t);
        ok(self.ttft_ns, r.ttft_ns) && ok(self.tpot_ns, r.tpot_ns) && ok(self.e2e_ns, r.e2e_ns)
    }

    /// Whether an attainment (fraction of requests meeting every target) meets the SLO.
    pub fn met_by(&self, attainment: f64) -> bool {
        attainment >= self.percentile / 100.0
    }
}

/// A completed request with these latencies (ms), arriving at 0 (tests).
#[cfg(test)]
pub(crate) fn record(ttft_ms: u64, tpot_ms: u64, e2e_ms: u64) -> RequestRecord {
    RequestRecord {
        request_id: 0,
        arrival_ns: 0,
        instance: 0,
        input_tokens: 10,
        output_tokens: 2,
        blocks: 1,
        hit_blocks: 0,
        hbm_hit_blocks: 0,
        dram_hit_blocks: 0,
        ssd_hit_blocks: 0,
        remote_hit_blocks: 0,
        cached_tokens: 0,
        queue_ns: 0,
        metadata_ns: 0,
        load_ns: 0,
        prefill_ns: ttft_ms * 1_000_000,
        ttft_ns: ttft_ms * 1_000_000,
        tpot_ns: tpot_ms * 1_000_000,
        e2e_ns: e2e_ms * 1_000_000,
        finish_ns: e2e_ms * 1_000_000,
        preemptions: 0,
        recomputed_tokens: 0,
        prefill_instance: 0,
        decode_instance: 0,
        decode_wait_ns: 0,
        transfer_ns: 0,
        transfer_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(yaml: &str) -> Result<Slo, ScenarioError> {
        let raw: RawSlo = serde_norway::from_str(yaml).unwrap();
        Slo::validate(&raw, "test", "slo")
    }

    #[test]
    fn joint_attainment_needs_every_target() {
        let s = slo("{ttft_ms: 100, tpot_ms: 10}").unwrap();
        assert_eq!(s.percentile, 99.0);
        assert!(s.meets(&record(100, 10, 5000)), "targets are inclusive");
        assert!(!s.meets(&record(101, 1, 200)));
        assert!(!s.meets(&record(1, 11, 200)));
        let e2e = slo("{e2e_ms: 300, percentile: 50}").unwrap();
        assert!(e2e.meets(&record(250, 50, 300)) && !e2e.meets(&record(1, 1, 301)));
        assert!(e2e.met_by(0.5) && !e2e.met_by(0.49));
    }

    #[test]
    fn bad_slos_name_the_field() {
        let msg = |y: &str| slo(y).unwrap_err().to_string();
        assert!(msg("{ttft_ms: -1}").contains("slo.ttft_ms"));
        assert!(msg("{tpot_ms: .nan}").contains("slo.tpot_ms"));
        assert!(msg("{e2e_ms: 5, percentile: 0}").contains("slo.percentile"));
        assert!(msg("{e2e_ms: 5, percentile: 101}").contains("slo.percentile"));
        assert!(msg("{percentile: 90}").contains("at least one target"));
        assert!(serde_norway::from_str::<RawSlo>("{ttft: 5}").is_err());
    }
}
