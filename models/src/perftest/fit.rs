//! Fitting a [`NetworkProfile`] to perftest results, and predicting perftest's numbers from a
//! profile.
//!
//! Predictions use the same model as the simulator: latency rows are the idle closed form of
//! [`NetworkModel`] (READ/atomic: full round trip; WRITE/SEND: one-way, = RTT/2 of the ping-pong);
//! bandwidth rows are the steady state of a window of WRs through the slowest resource
//! (CPU posting, NIC units, DMA, link, read engine, atomic unit, RECV reposting, or the
//! outstanding-READ window over the round trip), plus one idle latency of start-up.
//!
//! The fit minimises squared log-ratios `ln(model / measured)` with Levenberg–Marquardt in
//! log-parameter space (all parameters stay positive), with Huber reweighting (δ = 3 %) so that
//! an outlying row (a run's warm-up artefact) does not drag the others. Only the parameters the
//! data constrain are fitted (see [`choose_parameters`]); every other one keeps the base value.

use std::collections::BTreeSet;

use serde::Serialize;

use super::lm::levenberg_marquardt;
use super::parse::{Measure, PerftestRun, PerftestVerb, Row, TestId};
use super::tail_fit::{NoiseFit, fit_host_noise, tail_observations};
use crate::net::{
    HostId, Jitter, NetworkModel, NetworkProfile, QpId, StageJitter, StreamShape, Transport, Verb,
    VerbOp,
};

/// The settings of one perftest run that matter to the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSettings {
    /// The test.
    pub test: TestId,
    /// Iterations per size.
    pub iterations: u64,
    /// `TX depth` (WRs in flight per QP).
    pub tx_depth: u64,
    /// Inline threshold asked by the test (perftest: 220 B WRITE / 236 B SEND latency, 0 BW).
    pub inline_bytes: u64,
    /// `Outstand reads` per QP.
    pub outstanding_reads: u64,
    /// `CQ Moderation`: one signalled WR every `cq_mod`.
    pub cq_mod: u64,
    /// `Post List`: WRs per post call.
    pub post_list: u64,
    /// `Number of qps`.
    pub qps: u64,
}

impl RunSettings {
    /// perftest's defaults for `test` (PERFTEST_FORMAT.md §2, §3).
    pub fn perftest_defaults(test: TestId) -> Self {
        let lat = test.measure == Measure::Latency;
        RunSettings {
            test,
            iterations: match (test.measure, test.verb) {
                (Measure::Bandwidth, PerftestVerb::Write) => 5000,
                _ => 1000,
            },
            tx_depth: if lat { 1 } else { 128 },
            inline_bytes: match (lat, test.verb) {
                (true, PerftestVerb::Write) => 220,
                (true, PerftestVerb::Send) => 236,
                _ => 0,
            },
            outstanding_reads: 16,
            cq_mod: if lat { 1 } else { 100 },
            post_list: 1,
            qps: 1,
        }
    }

    /// The settings a parsed run printed (defaults where it printed nothing).
    pub fn from_run(run: &PerftestRun, iterations: u64) -> Self {
        let d = Self::perftest_defaults(run.test);
        RunSettings {
            test: run.test,
            iterations,
            tx_depth: run.tx_depth().unwrap_or(d.tx_depth).max(1),
            inline_bytes: run.max_inline_bytes().unwrap_or(d.inline_bytes),
            outstanding_reads: run
                .outstanding_reads()
                .unwrap_or(d.outstanding_reads)
                .max(1),
            cq_mod: run.cq_moderation().unwrap_or(d.cq_mod).max(1),
            post_list: run.post_list().unwrap_or(1).max(1),
            qps: run.qps().unwrap_or(1).max(1),
        }
    }

    /// The model verb of the test.
    pub fn verb(&self) -> Verb {
        match self.test.verb {
            PerftestVerb::Read => Verb::Read,
            PerftestVerb::Write => Verb::Write,
            PerftestVerb::Send => Verb::Send,
            PerftestVerb::FetchAdd => Verb::FetchAdd,
            PerftestVerb::CompareSwap => Verb::CompareSwap,
        }
    }

    /// The WR of one iteration of `bytes` on `qp`, from host 0 to host 1.
    pub fn op(&self, bytes: u64, qp: u32) -> VerbOp {
        let mut op = VerbOp::new(self.verb(), HostId(0), HostId(1), bytes);
        op.qp = QpId(qp);
        op.inline = bytes <= self.inline_bytes;
        op
    }
}

/// A perftest column the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Latency median, µs (duration mode: the mean).
    TTypicalUs,
    /// BW average, MiB/s.
    BwAvgMibS,
    /// Message rate, Mpps.
    MsgRateMpps,
}

impl Metric {
    /// Snake-case name with unit.
    pub fn name(self) -> &'static str {
        match self {
            Metric::TTypicalUs => "t_typical_us",
            Metric::BwAvgMibS => "bw_avg_mib_s",
            Metric::MsgRateMpps => "msg_rate_mpps",
        }
    }
}

/// One measured number of one input row.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Input file (as given).
    pub file: String,
    /// The run's settings.
    pub settings: RunSettings,
    /// Message size, bytes.
    pub bytes: u64,
    /// Which column.
    pub metric: Metric,
    /// The measured value in the metric's unit.
    pub measured: f64,
}

impl Observation {
    /// BW rows appear twice (average and rate carry the same information); only the rate
    /// enters the fit.
    fn in_fit(&self) -> bool {
        self.metric != Metric::BwAvgMibS && self.measured.is_finite() && self.measured > 0.0
    }
}

/// The observations of a file's runs (bidirectional runs are not modelled and are skipped).
pub fn observations(file: &str, runs: &[PerftestRun]) -> Vec<Observation> {
    let mut out = Vec::new();
    for run in runs.iter().filter(|r| !r.test.bidirectional) {
        for row in &run.rows {
            let push = |out: &mut Vec<Observation>, iters, metric, measured| {
                out.push(Observation {
                    file: file.to_string(),
                    settings: RunSettings::from_run(run, iters),
                    bytes: row.bytes(),
                    metric,
                    measured,
                })
            };
            match (row, run.table) {
                (Row::Latency(r), _) => {
                    push(&mut out, r.iterations, Metric::TTypicalUs, r.t_typical_us)
                }
                (Row::LatencyDuration(r), _) => {
                    push(&mut out, r.iterations, Metric::TTypicalUs, r.t_avg_us)
                }
                (Row::Bandwidth(r), Some(super::parse::TableKind::Bandwidth { unit, .. })) => {
                    push(
                        &mut out,
                        r.iterations,
                        Metric::BwAvgMibS,
                        unit.to_mib_s(r.bw_avg),
                    );
                    push(&mut out, r.iterations, Metric::MsgRateMpps, r.msg_rate_mpps);
                }
                _ => {}
            }
        }
    }
    out
}

/// perftest's latency for `bytes` on an idle network, µs (READ/atomic: round trip; WRITE/SEND:
/// one way = half the ping-pong round trip).
pub fn latency_us(model: &mut NetworkModel, s: &RunSettings, bytes: u64) -> f64 {
    model.reset();
    let op = s.op(bytes, 0);
    model.warm_qp(op.requester, op.qp);
    let t = model.execute(0.0, &op);
    let ns = match op.verb {
        Verb::Write | Verb::Send => t.delivered_ns.unwrap_or(t.completed_ns) - t.post_start_ns,
        _ => t.latency_ns(),
    };
    ns / 1e3
}

/// Steady-state time per WR of a BW test, ns, and the idle latency of one WR, ns.
pub fn bw_time_per_wr_ns(model: &mut NetworkModel, s: &RunSettings, bytes: u64) -> (f64, f64) {
    model.reset();
    let op = s.op(bytes, 0);
    model.warm_qp(op.requester, op.qp);
    let first = model.execute(0.0, &op).latency_ns();
    let p = model.profile().clone();
    let link = p.link_bytes_per_ns();
    let pcie = p.pcie_bytes_per_ns();
    let units = f64::from(p.nic.processing_units);
    let qps = s.qps as f64;
    let wire = |b: u64| {
        StreamShape::packets(b, p.nic.mtu_bytes, p.link.header_bytes_per_packet, link).total_ns
    };
    let batch: Vec<VerbOp> = (0..s.post_list).map(|_| op).collect();
    let mut cpu = model.post_cost_ns(&batch) / s.post_list as f64;
    if let Transport::TcpKernel(t) = &p.transport {
        // The server's receive + reply and the client's receive also run on CPUs.
        cpu += t.syscall_ns + t.stack_ns;
    }
    let miss = if s.qps > u64::from(p.nic.qp_cache_entries) {
        p.nic.qp_miss_ns
    } else {
        0.0
    };
    let mut tau: f64 = cpu.max((p.unit_service_ns() + miss) / units);
    let dma = bytes as f64 / pcie;
    let window;
    match op.verb {
        Verb::Write | Verb::Send => {
            tau = tau.max(if model.is_inline(&op) { 0.0 } else { dma });
            tau = tau.max(wire(bytes)).max(dma);
            if op.verb == Verb::Send {
                tau = tau.max(p.host.recv_repost_ns);
            }
            window = (s.tx_depth * s.qps) as f64;
        }
        Verb::Read | Verb::CompareSwap | Verb::FetchAdd => {
            let resp = if op.verb == Verb::Read { bytes } else { 8 };
            let engine = (p.nic.read_responder_ns + op.bytes as f64 / pcie) / qps;
            tau = tau.max(engine).max(wire(resp)).max(resp as f64 / pcie);
            if op.verb.is_atomic() {
                tau = tau.max(p.nic.atomic_rmw_ns);
            }
            window = (s.tx_depth.min(s.outstanding_reads) * s.qps) as f64;
        }
    }
    (tau.max(first / window), first)
}

/// perftest's BW average (MiB/s) and message rate (Mpps) predicted for `bytes`.
pub fn bw_prediction(model: &mut NetworkModel, s: &RunSettings, bytes: u64) -> (f64, f64) {
    let (tau, first) = bw_time_per_wr_ns(model, s, bytes);
    let iters = s.iterations.max(1) as f64;
    let total_ns = first + (iters - 1.0) * tau;
    let per_s = iters / (total_ns * 1e-9);
    (per_s * bytes as f64 / 1_048_576.0, per_s / 1e6)
}

/// The model's value of `metric` for `bytes`.
pub fn predict(model: &mut NetworkModel, s: &RunSettings, bytes: u64, metric: Metric) -> f64 {
    match metric {
        Metric::TTypicalUs => latency_us(model, s, bytes),
        Metric::BwAvgMibS => bw_prediction(model, s, bytes).0,
        Metric::MsgRateMpps => bw_prediction(model, s, bytes).1,
    }
}

/// Names of the profile parameters a fit may adjust.
pub const FITTABLE: &[&str] = &[
    "host.post_ns",
    "host.inline_ns_per_byte",
    "host.recv_repost_ns",
    "pcie.latency_ns",
    "pcie.bw_bytes_per_s",
    "nic.latency_ns",
    "nic.recv_wqe_ns",
    "nic.read_responder_ns",
    "nic.atomic_latency_ns",
    "nic.atomic_rmw_ns",
    "link.bw_bits_per_s",
    "link.header_bytes_per_packet",
];

fn param_mut<'a>(p: &'a mut NetworkProfile, name: &str) -> &'a mut f64 {
    match name {
        "host.post_ns" => &mut p.host.post_ns,
        "host.inline_ns_per_byte" => &mut p.host.inline_ns_per_byte,
        "host.recv_repost_ns" => &mut p.host.recv_repost_ns,
        "pcie.latency_ns" => &mut p.pcie.latency_ns,
        "pcie.bw_bytes_per_s" => &mut p.pcie.bw_bytes_per_s,
        "nic.latency_ns" => &mut p.nic.latency_ns,
        "nic.recv_wqe_ns" => &mut p.nic.recv_wqe_ns,
        "nic.read_responder_ns" => &mut p.nic.read_responder_ns,
        "nic.atomic_latency_ns" => &mut p.nic.atomic_latency_ns,
        "nic.atomic_rmw_ns" => &mut p.nic.atomic_rmw_ns,
        "link.bw_bits_per_s" => &mut p.link.bw_bits_per_s,
        "link.header_bytes_per_packet" => &mut p.link.header_bytes_per_packet,
        other => panic!("not a fittable parameter: {other}"),
    }
}

/// The parameters the observations constrain, by which tests and sizes are present.
pub fn choose_parameters(obs: &[Observation], profile: &NetworkProfile) -> Vec<&'static str> {
    let mtu = profile.nic.mtu_bytes;
    let has = |name: &str, m: Option<Measure>| {
        obs.iter().any(|o| {
            o.settings.test.short_name().starts_with(name)
                && m.is_none_or(|m| o.settings.test.measure == m)
        })
    };
    let lat: Vec<&Observation> = obs
        .iter()
        .filter(|o| o.settings.test.measure == Measure::Latency)
        .collect();
    let bw: Vec<&Observation> = obs
        .iter()
        .filter(|o| o.settings.test.measure == Measure::Bandwidth)
        .collect();
    let sizes = |v: &[&Observation], f: &dyn Fn(&Observation) -> bool| {
        v.iter()
            .filter(|o| f(o))
            .map(|o| o.bytes)
            .collect::<BTreeSet<_>>()
            .len()
    };
    let payload_lat = |o: &Observation| {
        o.settings.test.verb == PerftestVerb::Write || o.settings.test.verb == PerftestVerb::Send
    };
    let mut out = Vec::new();
    if !lat.is_empty() {
        out.push("nic.latency_ns");
    }
    if sizes(&lat, &|o| o.bytes > mtu) >= 1 || sizes(&bw, &|o| o.bytes >= mtu) >= 2 {
        out.push("link.bw_bits_per_s");
    }
    if sizes(&lat, &|o| {
        o.bytes <= mtu && (!payload_lat(o) || o.bytes > o.settings.inline_bytes)
    }) >= 3
        || sizes(&bw, &|o| o.bytes >= mtu) >= 2
    {
        out.push("pcie.bw_bytes_per_s");
    }
    let inline_sizes = sizes(&lat, &|o| {
        payload_lat(o) && o.bytes <= o.settings.inline_bytes
    });
    let dma_sizes = sizes(&lat, &|o| {
        payload_lat(o) && o.bytes > o.settings.inline_bytes
    });
    if inline_sizes >= 2 {
        out.push("host.inline_ns_per_byte");
    }
    if inline_sizes >= 1 && dma_sizes >= 1 {
        out.push("pcie.latency_ns");
    }
    let lat_other = has("write", Some(Measure::Latency)) || has("read", Some(Measure::Latency));
    if has("send", Some(Measure::Latency)) && lat_other {
        out.push("nic.recv_wqe_ns");
    }
    if has("atomic", Some(Measure::Latency)) {
        out.push("nic.atomic_latency_ns");
    }
    if has("atomic", Some(Measure::Bandwidth)) {
        out.push("nic.atomic_rmw_ns");
    }
    if !bw.is_empty() {
        out.push("host.post_ns");
    }
    if sizes(&bw, &|o| o.bytes < mtu && o.bytes >= 256) >= 2 {
        out.push("link.header_bytes_per_packet");
    }
    if has("read", Some(Measure::Bandwidth)) {
        out.push("nic.read_responder_ns");
    }
    let bw_other = has("write", Some(Measure::Bandwidth)) || has("read", Some(Measure::Bandwidth));
    if has("send", Some(Measure::Bandwidth)) && bw_other {
        out.push("host.recv_repost_ns");
    }
    out
}

/// One compared number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitRow {
    /// Input file.
    pub file: String,
    /// `read_lat`, `write_bw`, ...
    pub test: String,
    /// Message size, bytes.
    pub bytes: u64,
    /// Column name with unit.
    pub metric: String,
    /// Measured value.
    pub measured: f64,
    /// Model value.
    pub model: f64,
    /// `model / measured − 1`.
    pub rel_error: f64,
}

/// The result of [`calibrate`].
#[derive(Clone, Debug)]
pub struct Calibration {
    /// The fitted profile.
    pub profile: NetworkProfile,
    /// Parameters the fit adjusted.
    pub fitted: Vec<String>,
    /// Parameters set from the perftest headers (MTU, inline cap, transport).
    pub from_header: Vec<String>,
    /// Every input number against the fitted model.
    pub rows: Vec<FitRow>,
    /// Every input number against a model fitted without its message size.
    pub cv_rows: Vec<FitRow>,
    /// The host-stage variability fitted to the percentile columns (None: no row has them).
    pub noise: Option<NoiseFit>,
}

/// Median and maximum of |rel_error|.
pub fn error_summary(rows: &[FitRow]) -> (f64, f64) {
    let mut v: Vec<f64> = rows
        .iter()
        .map(|r| r.rel_error.abs())
        .filter(|e| e.is_finite())
        .collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    };
    (median, v[n - 1])
}

/// What the variability adds to the closed form of `o`, in its unit (the median noise of a
/// latency sample; nothing for bandwidth rows).
fn noise_offset(noise: Option<&NoiseFit>, o: &Observation) -> f64 {
    match (noise, o.metric) {
        (Some(n), Metric::TTypicalUs) => n.median_offset_us(&o.settings),
        _ => 0.0,
    }
}

fn compare(
    model: &mut NetworkModel,
    obs: &[&Observation],
    noise: Option<&NoiseFit>,
) -> Vec<FitRow> {
    obs.iter()
        .map(|o| {
            let m = predict(model, &o.settings, o.bytes, o.metric) + noise_offset(noise, o);
            FitRow {
                file: o.file.clone(),
                test: o.settings.test.short_name().to_string(),
                bytes: o.bytes,
                metric: o.metric.name().to_string(),
                measured: o.measured,
                model: m,
                rel_error: m / o.measured - 1.0,
            }
        })
        .collect()
}

/// Least-squares fit of `params` to `obs`, starting from `start`.
pub fn fit_parameters(
    start: &NetworkProfile,
    params: &[&str],
    obs: &[&Observation],
    max_iter: usize,
) -> NetworkProfile {
    let used: Vec<&Observation> = obs.iter().copied().filter(|o| o.in_fit()).collect();
    if params.is_empty() || used.is_empty() {
        return start.clone();
    }
    let mut work = start.clone();
    let x0: Vec<f64> = params
        .iter()
        .map(|n| param_mut(&mut work, n).max(1e-6).ln())
        .collect();
    let lo: Vec<f64> = x0.iter().map(|x| x - 12.0).collect();
    let hi: Vec<f64> = x0.iter().map(|x| x + 7.0).collect();
    let mut model = NetworkModel::new(start.clone(), 2);
    let mut weights = vec![1.0; used.len()];
    let mut x;
    let mut eval = |x: &[f64], weights: &[f64]| -> Vec<f64> {
        let mut p = start.clone();
        for (n, v) in params.iter().zip(x) {
            *param_mut(&mut p, n) = v.exp();
        }
        model = NetworkModel::new(p, 2);
        used.iter()
            .zip(weights)
            .map(|(o, w)| {
                let m = predict(&mut model, &o.settings, o.bytes, o.metric);
                let r = (m / o.measured).ln();
                if r.is_finite() { r * w.sqrt() } else { 10.0 }
            })
            .collect()
    };
    const HUBER: f64 = 0.03;
    // The model is a max() of resources, so least squares has kinks and local minima (a
    // bandwidth that stops binding has no gradient). Start the first round from the base and
    // from the base scaled by 3 up and down (every parameter), keep the best.
    let cost = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>();
    let mut best: Option<(f64, Vec<f64>)> = None;
    for shift in [0.0, 1.1, -1.1] {
        let start: Vec<f64> = x0.iter().map(|v| v + shift).collect();
        let cand = levenberg_marquardt(&start, &lo, &hi, max_iter, |x| eval(x, &weights));
        let c = cost(&eval(&cand, &weights));
        if best.as_ref().is_none_or(|(bc, _)| c < *bc) {
            best = Some((c, cand));
        }
    }
    x = best.expect("three starts").1;
    for _round in 0..3 {
        x = levenberg_marquardt(&x, &lo, &hi, max_iter, |x| eval(x, &weights));
        let r = eval(&x, &vec![1.0; used.len()]);
        weights = r
            .iter()
            .map(|e| {
                if e.abs() <= HUBER {
                    1.0
                } else {
                    HUBER / e.abs()
                }
            })
            .collect();
    }
    let mut out = start.clone();
    for (n, v) in params.iter().zip(&x) {
        *param_mut(&mut out, n) = v.exp();
    }
    out
}

/// Sets what the perftest headers state: the path MTU, the device's inline capability (the
/// largest `Max inline data` printed) and the transport (`Link type: Ethernet` → RoCE,
/// `Connection type: SRD` → EFA). Returns the names of the fields it set.
pub fn apply_headers(profile: &mut NetworkProfile, runs: &[&PerftestRun]) -> Vec<String> {
    let mut set = Vec::new();
    let mtus: BTreeSet<u64> = runs.iter().filter_map(|r| r.mtu_bytes()).collect();
    if mtus.len() == 1 {
        profile.nic.mtu_bytes = *mtus.first().expect("one");
        set.push("nic.mtu_bytes".to_string());
    }
    if let Some(max_inline) = runs.iter().filter_map(|r| r.max_inline_bytes()).max()
        && max_inline > 0
    {
        profile.nic.max_inline_bytes = max_inline;
        set.push("nic.max_inline_bytes".to_string());
    }
    if !matches!(profile.transport, Transport::TcpKernel(_)) {
        if runs.iter().any(|r| r.connection_type() == Some("SRD")) {
            profile.transport = Transport::EfaSrd;
            set.push("transport".to_string());
        } else if runs.iter().any(|r| r.link_type() == Some("Ethernet")) {
            profile.transport = Transport::Roce;
            set.push("transport".to_string());
        }
    }
    set
}

/// A fitted profile without its cross-validation: see [`calibrate`].
#[derive(Clone, Debug)]
pub struct FittedProfile {
    /// The fitted profile (with its variability when the rows carry percentiles).
    pub profile: NetworkProfile,
    /// Closed-form parameters the data constrain (the others keep the base values).
    pub params: Vec<&'static str>,
    /// Parameters set from the headers.
    pub from_header: Vec<String>,
    /// The host-stage variability fit.
    pub noise: Option<NoiseFit>,
    /// The start point (base with the headers applied).
    start: NetworkProfile,
    /// The observations, with latency targets less the median noise.
    target: Vec<Observation>,
    /// The observations as measured.
    obs: Vec<Observation>,
}

/// Sets what the headers state and fits the closed form and the host variability.
pub fn fit_profile(base: &NetworkProfile, files: &[(String, Vec<PerftestRun>)]) -> FittedProfile {
    let mut start = base.clone();
    let runs: Vec<&PerftestRun> = files.iter().flat_map(|(_, r)| r.iter()).collect();
    let from_header = apply_headers(&mut start, &runs);
    let obs: Vec<Observation> = files.iter().flat_map(|(f, r)| observations(f, r)).collect();
    let params = choose_parameters(&obs, &start);
    let tails: Vec<_> = files
        .iter()
        .flat_map(|(f, r)| tail_observations(f, r))
        .collect();
    let noise = fit_host_noise(&tails.iter().collect::<Vec<_>>());
    // The closed form is fitted to t_typical less the median the variability adds.
    let target: Vec<Observation> = obs
        .iter()
        .map(|o| Observation {
            measured: o.measured - noise_offset(noise.as_ref(), o),
            ..o.clone()
        })
        .collect();
    let mut profile = fit_parameters(&start, &params, &target.iter().collect::<Vec<_>>(), 60);
    if let Some(n) = &noise {
        let mut stages: StageJitter = start.jitter.stages().unwrap_or_default();
        stages.host = n.host;
        if let Some(r) = n.recv {
            stages.recv = r;
        }
        profile.jitter = Jitter::from_stages(
            stages,
            format!(
                "host stage fitted by `kvcsim calibrate` to the t_min/t_typical/p99/p99.9 columns of {} latency row(s); other stages from the base profile",
                tails.len()
            ),
        );
    }
    FittedProfile {
        profile,
        params,
        from_header,
        noise,
        start,
        target,
        obs,
    }
}

/// Names of the variability parameters [`fit_profile`] fits.
pub const NOISE_FITTED: [&str; 4] = [
    "jitter.host.body_mean_ns",
    "jitter.host.tail_prob",
    "jitter.host.tail_min_ns",
    "jitter.host.tail_shape",
];

/// Names of the RECV-stage variability parameters (fitted from SEND latency rows only).
pub const RECV_FITTED: [&str; 4] = [
    "jitter.recv.body_mean_ns",
    "jitter.recv.tail_prob",
    "jitter.recv.tail_min_ns",
    "jitter.recv.tail_shape",
];

/// Sets what the headers state, fits the parameters the data constrain, and compares every
/// input number with the fitted model and with leave-one-size-out refits (each fold starts
/// from the base profile, so a size's data never leaks into its own prediction).
pub fn calibrate(base: &NetworkProfile, files: &[(String, Vec<PerftestRun>)]) -> Calibration {
    let f = fit_profile(base, files);
    let all: Vec<&Observation> = f.obs.iter().collect();
    let mut fitted: Vec<String> = f.params.iter().map(|s| s.to_string()).collect();
    if let Some(n) = &f.noise {
        fitted.extend(NOISE_FITTED.map(String::from));
        if n.recv.is_some() {
            fitted.extend(RECV_FITTED.map(String::from));
        }
    }
    let mut model = NetworkModel::new(f.profile.clone(), 2);
    let rows = compare(&mut model, &all, f.noise.as_ref());
    let sizes: BTreeSet<u64> = f.obs.iter().map(|o| o.bytes).collect();
    let mut cv_rows = Vec::new();
    for &size in &sizes {
        let train: Vec<&Observation> = f.target.iter().filter(|o| o.bytes != size).collect();
        let test: Vec<&Observation> = f.obs.iter().filter(|o| o.bytes == size).collect();
        let fold = fit_parameters(&f.start, &f.params, &train, 40);
        let mut m = NetworkModel::new(fold, 2);
        cv_rows.extend(compare(&mut m, &test, f.noise.as_ref()));
    }
    Calibration {
        profile: f.profile,
        fitted,
        from_header: f.from_header,
        rows,
        cv_rows,
        noise: f.noise,
    }
}
