//! `summary.json` and the printed summary table of a cluster run.
//!
//! Percentiles are statrs's `quantile`, the median-unbiased estimator of Hyndman and Fan (1996),
//! definition 8 (R's `type = 8`), interpolating between order statistics.

use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, OrderStatistics};

use kvcsim_models::tiers::TIER_NAMES;

use crate::records::RunOutput;
use crate::records::{RecordSink, RequestRecord, TimeseriesRow};
use crate::scenario::{Scenario, Slo};

/// Mean and percentiles of one latency, milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LatencyMs {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl LatencyMs {
    /// Summarises nanosecond values; all zero when there are none. The mean is the exact
    /// integer sum divided once, so it does not depend on the values' order.
    pub fn of_ns(values: impl Iterator<Item = u64>) -> Self {
        let mut sum: u128 = 0;
        let v: Vec<f64> = values
            .map(|ns| {
                sum += u128::from(ns);
                ns as f64 * 1e-6
            })
            .collect();
        if v.is_empty() {
            return LatencyMs {
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
            };
        }
        let mean = sum as f64 * 1e-6 / v.len() as f64;
        let mut d = Data::new(v);
        LatencyMs {
            mean,
            p50: d.quantile(0.5),
            p90: d.quantile(0.9),
            p99: d.quantile(0.99),
        }
    }
}

/// Collects what `summary.json` needs from the records as the run pushes them: sums, and the
/// latencies themselves (32 bytes per completed request) so that percentiles stay exact.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    rejected: u64,
    ttft_ns: Vec<u64>,
    tpot_ns: Vec<u64>,
    e2e_ns: Vec<u64>,
    metadata_ns: Vec<u64>,
    first_arrival_ns: Option<u64>,
    blocks: u64,
    hit_blocks: u64,
    cached_tokens: u64,
    input_tokens: u64,
    output_tokens: u64,
    preemptions: u64,
    recomputed_tokens: u64,
    slo: Option<Slo>,
    gpus: u64,
    meeting_slo: u64,
    /// Disaggregated runs: per request, its transfer and decode-queue wait (empty otherwise).
    disaggregated: bool,
    transfer_ns: Vec<u64>,
    decode_wait_ns: Vec<u64>,
    transfer_bytes: u64,
}

impl SummaryBuilder {
    /// A builder for a run of `scenario`: its SLO, and its GPUs (instances x tensor
    /// parallelism, summed over pools) for goodput per GPU.
    pub fn for_scenario(scenario: &Scenario) -> Self {
        SummaryBuilder {
            slo: scenario.slo,
            gpus: scenario.gpus(),
            disaggregated: scenario.disaggregation.is_some(),
            ..SummaryBuilder::default()
        }
    }
}

impl RecordSink for SummaryBuilder {
    fn request(&mut self, r: &RequestRecord) {
        if self.slo.is_some_and(|s| s.meets(r)) {
            self.meeting_slo += 1;
        }
        self.ttft_ns.push(r.ttft_ns);
        if r.output_tokens > 1 {
            self.tpot_ns.push(r.tpot_ns);
        }
        self.e2e_ns.push(r.e2e_ns);
        self.metadata_ns.push(r.metadata_ns);
        self.first_arrival_ns = Some(
            self.first_arrival_ns
                .map_or(r.arrival_ns, |a| a.min(r.arrival_ns)),
        );
        self.blocks += r.blocks;
        self.hit_blocks += r.hit_blocks;
        self.cached_tokens += r.cached_tokens;
        self.input_tokens += r.input_tokens;
        self.output_tokens += r.output_tokens;
        self.preemptions += u64::from(r.preemptions);
        self.recomputed_tokens += r.recomputed_tokens;
        if self.disaggregated && r.prefill_instance != r.decode_instance {
            self.transfer_ns.push(r.transfer_ns);
            self.decode_wait_ns.push(r.decode_wait_ns);
            self.transfer_bytes += r.transfer_bytes;
        }
    }

    fn interval(&mut self, _: &TimeseriesRow) {}

    fn rejected(&mut self) {
        self.rejected += 1;
    }
}

/// The prefill-to-decode hand-offs of a disaggregated run in `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DisaggSummary {
    /// Completed requests whose KV moved from a prefill to a decode instance.
    pub transfers: u64,
    /// KV bytes moved, GB (1e9 bytes).
    pub transfer_gb: f64,
    /// Transfer time per request (start to last byte).
    pub transfer_ms: LatencyMs,
    /// Transfer time over end-to-end latency, summed over the completed requests: the share
    /// of request time spent moving KV.
    pub transfer_share_of_e2e: f64,
    /// Requests that found no decode instance with room at their hand-off and queued.
    pub decode_queued_requests: u64,
    /// First token to transfer start (the decode-queue wait) per request.
    pub decode_wait_ms: LatencyMs,
}

/// One cache tier in `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TierSummary {
    /// `hbm`, `dram`, `ssd` or `remote`.
    pub tier: String,
    /// Prompt blocks served by this tier (HBM: prefix hits; lower tiers: blocks loaded).
    pub hit_blocks: u64,
    /// `hit_blocks` / prompt blocks of the completed requests.
    pub block_hit_ratio: f64,
    /// Bytes read out of the tier (all instances).
    pub bytes_read: u64,
    /// Bytes written into the tier.
    pub bytes_written: u64,
    /// Blocks evicted from the tier.
    pub evictions: u64,
}

/// The `summary.json` of a run. Keys are documented in README ("Outputs"). Sweeps read it back
/// (`Deserialize`) so that a resumed sweep reports exactly what the file says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    /// Requests that finished.
    pub requests_completed: u64,
    /// Requests rejected (waiting queue full, or larger than a whole cache).
    pub requests_rejected: u64,
    /// Time to first token.
    pub ttft_ms: LatencyMs,
    /// The metadata service's part of TTFT (arrival to lookup reply; all zero without one).
    pub metadata_ms: LatencyMs,
    /// Sum of `metadata_ns` over sum of `ttft_ns`, completed requests.
    pub metadata_share_of_ttft: f64,
    /// Time per output token after the first (requests with more than one output token).
    pub tpot_ms: LatencyMs,
    /// End-to-end latency.
    pub e2e_ms: LatencyMs,
    /// Prompt blocks found in any cache tier (not recomputed) / prompt blocks, over completed
    /// requests.
    pub block_hit_ratio: f64,
    /// Prompt tokens not recomputed / prompt tokens.
    pub token_hit_ratio: f64,
    /// Preemptions (by recompute) over all requests.
    #[serde(default)]
    pub preemptions: u64,
    /// Tokens computed again after preemptions (see `requests.parquet`).
    #[serde(default)]
    pub recomputed_tokens: u64,
    /// Output tokens per simulated second, from the first arrival to the last completion.
    pub throughput_tokens_per_s: f64,
    /// Prompt plus output tokens per simulated second, same span.
    pub total_tokens_per_s: f64,
    /// Mean over instances of GPU busy time / simulated span.
    pub gpu_busy_fraction: f64,
    /// Simulated span, seconds (time of the last event).
    pub simulated_s: f64,
    /// Events handled.
    pub events: u64,
    /// HBM and each configured lower tier.
    #[serde(default)]
    pub tiers: Vec<TierSummary>,
    /// With an `slo`: requests meeting every target / requests completed or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_attainment: Option<f64>,
    /// With an `slo`: requests meeting every target per simulated second (the throughput's
    /// span).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_requests_per_s: Option<f64>,
    /// `goodput_requests_per_s` / GPUs (instances x tensor parallelism).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_per_gpu: Option<f64>,
    /// With an `slo`: `slo_attainment >= percentile / 100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_met: Option<bool>,
    /// Prefill-to-decode hand-offs (disaggregated runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<DisaggSummary>,
    /// Wall-clock seconds of the simulation loop: the only non-deterministic value. Always
    /// set by a run; `None` leaves it out of `summary.json` (sweeps keep it apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    /// `events / wall_s` (not deterministic; as `wall_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_per_s: Option<f64>,
}

impl RunSummary {
    /// Summarises a run from its records and totals.
    pub fn of(records: SummaryBuilder, out: &RunOutput) -> Self {
        let b = records;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let first = b.first_arrival_ns.unwrap_or(0);
        let span_s = out.end.as_nanos().saturating_sub(first) as f64 * 1e-9;
        let per_s = |x: u64| if span_s > 0.0 { x as f64 / span_s } else { 0.0 };
        let simulated_s = out.end.as_secs_f64();
        let busy = if out.busy_ns.is_empty() || simulated_s == 0.0 {
            0.0
        } else {
            out.busy_ns
                .iter()
                .map(|&b| b as f64 * 1e-9 / simulated_s)
                .sum::<f64>()
                / out.busy_ns.len() as f64
        };
        let sum = |v: &[u64]| v.iter().sum::<u64>();
        let offered = b.ttft_ns.len() as u64 + b.rejected;
        let attainment = b.slo.map(|_| ratio(b.meeting_slo, offered));
        let goodput = b.slo.map(|_| per_s(b.meeting_slo));
        let disaggregation = b.disaggregated.then(|| DisaggSummary {
            transfers: b.transfer_ns.len() as u64,
            transfer_gb: b.transfer_bytes as f64 * 1e-9,
            transfer_share_of_e2e: ratio(sum(&b.transfer_ns), sum(&b.e2e_ns)),
            decode_queued_requests: b.decode_wait_ns.iter().filter(|&&w| w > 0).count() as u64,
            transfer_ms: LatencyMs::of_ns(b.transfer_ns.iter().copied()),
            decode_wait_ms: LatencyMs::of_ns(b.decode_wait_ns.iter().copied()),
        });
        RunSummary {
            disaggregation,
            slo_attainment: attainment,
            goodput_requests_per_s: goodput,
            goodput_per_gpu: goodput.map(|g| g / b.gpus.max(1) as f64),
            slo_met: b.slo.zip(attainment).map(|(s, a)| s.met_by(a)),
            requests_completed: b.ttft_ns.len() as u64,
            requests_rejected: b.rejected,
            metadata_share_of_ttft: ratio(sum(&b.metadata_ns), sum(&b.ttft_ns)),
            ttft_ms: LatencyMs::of_ns(b.ttft_ns.into_iter()),
            metadata_ms: LatencyMs::of_ns(b.metadata_ns.into_iter()),
            tpot_ms: LatencyMs::of_ns(b.tpot_ns.into_iter()),
            e2e_ms: LatencyMs::of_ns(b.e2e_ns.into_iter()),
            block_hit_ratio: ratio(b.hit_blocks, b.blocks),
            token_hit_ratio: ratio(b.cached_tokens, b.input_tokens),
            preemptions: b.preemptions,
            recomputed_tokens: b.recomputed_tokens,
            throughput_tokens_per_s: per_s(b.output_tokens),
            total_tokens_per_s: per_s(b.output_tokens + b.input_tokens),
            gpu_busy_fraction: busy,
            simulated_s,
            events: out.events,
            wall_s: Some(out.wall_s),
            events_per_s: Some(if out.wall_s > 0.0 {
                out.events as f64 / out.wall_s
            } else {
                0.0
            }),
            tiers: out
                .tiers
                .configured
                .iter()
                .map(|&k| {
                    let c = &out.tiers.counters[k];
                    TierSummary {
                        tier: TIER_NAMES[k].to_string(),
                        hit_blocks: c.hit_blocks,
                        block_hit_ratio: ratio(c.hit_blocks, b.blocks),
                        bytes_read: c.bytes_read,
                        bytes_written: c.bytes_written,
                        evictions: c.evictions,
                    }
                })
                .collect(),
        }
    }

    /// A readable table for stdout.
    pub fn to_text(&self) -> String {
        let lat = |name: &str, l: &LatencyMs| {
            format!(
                "  {name:<6} {:>10.2} {:>10.2} {:>10.2} {:>10.2}\n",
                l.mean, l.p50, l.p90, l.p99
            )
        };
        let mut s = String::new();
        s += &format!("requests completed   {:>12}\n", self.requests_completed);
        s += &format!("requests rejected    {:>12}\n", self.requests_rejected);
        s += &format!("simulated time       {:>12.1} s\n", self.simulated_s);
        s += &format!("block hit ratio      {:>12.4}\n", self.block_hit_ratio);
        s += &format!("token hit ratio      {:>12.4}\n", self.token_hit_ratio);
        if self.preemptions > 0 {
            s += &format!(
                "preemptions          {:>12} ({} tokens recomputed)\n",
                self.preemptions, self.recomputed_tokens
            );
        }
        s += &format!(
            "output throughput    {:>12.1} tokens/s\n",
            self.throughput_tokens_per_s
        );
        s += &format!(
            "GPU busy             {:>12.1} %\n",
            self.gpu_busy_fraction * 100.0
        );
        if let Some(d) = &self.disaggregation {
            s += &format!(
                "KV transfers         {:>12} ({:.1} GB, p99 {:.2} ms, {:.2} % of e2e; {} waited for a decode instance)\n",
                d.transfers,
                d.transfer_gb,
                d.transfer_ms.p99,
                d.transfer_share_of_e2e * 100.0,
                d.decode_queued_requests
            );
        }
        if self.tiers.len() > 1 {
            s += "tier        hit ratio   read GB  written GB   evictions\n";
            for t in &self.tiers {
                s += &format!(
                    "  {:<8} {:>10.4} {:>9.1} {:>11.1} {:>11}\n",
                    t.tier,
                    t.block_hit_ratio,
                    t.bytes_read as f64 / 1e9,
                    t.bytes_written as f64 / 1e9,
                    t.evictions
                );
            }
        }
        if let (Some(a), Some(g), Some(met)) = (
            self.slo_attainment,
            self.goodput_requests_per_s,
            self.slo_met,
        ) {
            s += &format!(
                "SLO attainment       {:>12.4} ({})\n",
                a,
                if met { "met" } else { "missed" }
            );
            s += &format!("goodput              {g:>12.2} requests/s\n");
        }
        s += "latency (ms)      mean        p50        p90        p99\n";
        s += &lat("TTFT", &self.ttft_ms);
        s += &lat("TPOT", &self.tpot_ms);
        s += &lat("E2E", &self.e2e_ms);
        if self.metadata_ms.mean > 0.0 {
            s += &lat("meta", &self.metadata_ms);
            s += &format!(
                "metadata share of TTFT {:>8.4} %\n",
                self.metadata_share_of_ttft * 100.0
            );
        }
        if let (Some(wall_s), Some(rate)) = (self.wall_s, self.events_per_s) {
            s += &format!(
                "events {} in {wall_s:.3} s wall ({:.2} M events/s)\n",
                self.events,
                rate / 1e6
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_hyndman_fan_8() {
        // 1..=10 ms: type-8 median is 5.5; p90: h = (10 + 1/3) * 0.9 + 1/3 = 9.6333,
        // x9 + 0.6333 * (x10 - x9) = 9.6333.
        let l = LatencyMs::of_ns((1..=10).map(|ms| ms * 1_000_000));
        assert!((l.mean - 5.5).abs() < 1e-12);
        assert!((l.p50 - 5.5).abs() < 1e-9);
        assert!((l.p90 - (9.0 + (31.0 / 3.0 * 0.9 + 1.0 / 3.0 - 9.0))).abs() < 1e-9);
    }

    #[test]
    fn slo_attainment_and_goodput_by_hand() {
        // Targets TTFT <= 100 ms and TPOT <= 10 ms, 90 %. Four completed requests, one
        // rejected: (50, 5) and (100, 10) meet both; (101, 1) misses TTFT, (20, 11) misses
        // TPOT. Attainment 2 / 5 = 0.4 (< 0.9: missed). The span is 0 (first arrival) to 2 s:
        // goodput 2 / 2 = 1 request/s; 2 instances x TP 2 = 4 GPUs: 0.25 per GPU.
        let raw = crate::scenario::RawSlo {
            ttft_ms: Some(100.0),
            tpot_ms: Some(10.0),
            e2e_ms: None,
            percentile: 90.0,
        };
        let mut b = SummaryBuilder {
            slo: Some(Slo::validate(&raw, "test", "slo").unwrap()),
            gpus: 4,
            ..SummaryBuilder::default()
        };
        use crate::scenario::slo::record;
        for (ttft, tpot) in [(50, 5), (100, 10), (101, 1), (20, 11)] {
            b.request(&record(ttft, tpot, 1000));
        }
        b.rejected();
        let out = RunOutput {
            events: 0,
            wall_s: 0.0,
            end: crate::engine::SimTime(2_000_000_000),
            busy_ns: vec![0, 0],
            tiers: Default::default(),
        };
        let s = RunSummary::of(b, &out);
        assert_eq!(s.slo_attainment, Some(0.4));
        assert_eq!(s.goodput_requests_per_s, Some(1.0));
        assert_eq!(s.goodput_per_gpu, Some(0.25));
        assert_eq!(s.slo_met, Some(false));
        let none = RunSummary::of(SummaryBuilder::default(), &out);
        assert_eq!((none.slo_attainment, none.slo_met), (None, None));
        assert!(!serde_json::to_string(&none).unwrap().contains("slo"));
    }

    #[test]
    fn empty_is_zero() {
        assert_eq!(
            LatencyMs::of_ns(std::iter::empty()),
            LatencyMs {
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0
            }
        );
    }
}
