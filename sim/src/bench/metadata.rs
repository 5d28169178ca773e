//! `kvcsim bench metadata`: a metadata backend under a closed-loop load, as the DM-index papers
//! measure them: every client thread issues its next operation as soon as the last one ends.
//!
//! * YCSB-C: 100 % point reads of loaded records, uniform or Zipfian (θ = 0.99, YCSB's
//!   default; ranks scrambled over the key space as YCSB's `ScrambledZipfian`).
//! * YCSB-E: 95 % short scans (start from the request distribution, length uniform in
//!   1..=`scan_max`, YCSB's default 100) and 5 % inserts of new records.
//! * trace: each request of a Mooncake trace is one job (its lookups, then its new blocks'
//!   inserts), issued as fast as the threads allow instead of at trace time.
//!
//! Records are keys `0..keys` (YCSB's ordered inserts: record `i` is key `i`), loaded without
//! simulation before the run, with every compute node's index cache warm (as the papers' warm-up
//! phases leave it). Throughput = operations / simulated time from the first start to the last
//! completion.

use std::time::Instant;

use kvcsim_models::metadata::{MetaOp, OpKind, mix64};
use rand::RngExt;
use rand_distr::Zipf;
use serde::Serialize;
use statrs::statistics::{Data, OrderStatistics};

use crate::engine::{Engine, RandomStreams, StreamRng};
use crate::scenario::MetadataSetup;
use crate::world::Arrival;
use crate::world::metadata_driver::{MetaEvent, MetadataDriver, PlannedOp};

/// Which keys the YCSB workloads touch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Uniform over the records.
    Uniform,
    /// Scrambled Zipfian with exponent θ.
    Zipfian(f64),
}

/// The workload.
#[derive(Debug, Clone)]
pub enum Workload {
    /// YCSB-C: point reads.
    YcsbC(Distribution),
    /// YCSB-E: scans and inserts.
    YcsbE {
        /// Scan start keys.
        dist: Distribution,
        /// Longest scan.
        scan_max: u64,
    },
    /// A trace's requests, closed loop.
    Trace(Vec<Arrival>),
}

impl Workload {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::YcsbC(_) => "ycsb-c",
            Workload::YcsbE { .. } => "ycsb-e",
            Workload::Trace(_) => "trace",
        }
    }
}

/// One benchmark's result.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Backend.
    pub backend: &'static str,
    /// Workload name.
    pub workload: &'static str,
    /// Compute nodes.
    pub client_nodes: u32,
    /// Threads per node.
    pub threads: u32,
    /// Operations completed.
    pub ops: u64,
    /// Simulated time, s.
    pub simulated_s: f64,
    /// Million operations per simulated second.
    pub mops: f64,
    /// Latency percentiles, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// 99.9th percentile, µs.
    pub p999_us: f64,
    /// Mean round trips per operation.
    pub round_trips_mean: f64,
    /// Mean payload bytes per operation.
    pub bytes_mean: f64,
    /// Fraction of operations that retried.
    pub retried_fraction: f64,
    /// Events handled.
    pub events: u64,
    /// Wall-clock seconds (not deterministic).
    pub wall_s: f64,
}

struct Generator {
    workload: Workload,
    keys: u64,
    inserted: u64,
    next_request: usize,
    rng: StreamRng,
    zipf: Option<Zipf<f64>>,
}

impl Generator {
    fn pick(&mut self, dist: Distribution) -> u64 {
        match (dist, &self.zipf) {
            (Distribution::Zipfian(_), Some(z)) => {
                let rank = self.rng.sample(*z) as u64 - 1;
                mix64(rank) % self.keys
            }
            _ => self.rng.random_range(0..self.keys),
        }
    }

    /// The next job's operations, or `None` when the workload is exhausted.
    fn next(&mut self, driver: &mut MetadataDriver) -> Option<(u64, Vec<PlannedOp>)> {
        let planned = |kind, keys: Vec<u64>| PlannedOp {
            root: keys[0],
            op: MetaOp::new(kind, keys),
        };
        match &self.workload {
            &Workload::YcsbC(d) => {
                let k = self.pick(d);
                Some((0, vec![planned(OpKind::Get, vec![k])]))
            }
            &Workload::YcsbE { dist, scan_max } => {
                if self.rng.random_range(0..100) < 5 {
                    let k = self.keys + self.inserted;
                    self.inserted += 1;
                    return Some((0, vec![planned(OpKind::Insert, vec![k])]));
                }
                let s = self.pick(dist);
                let len = self.rng.random_range(1..=scan_max).min(self.keys - s);
                Some((0, vec![planned(OpKind::Range, (s..s + len).collect())]))
            }
            Workload::Trace(reqs) => {
                let a = reqs.get(self.next_request)?;
                let blocks: Vec<u64> = a.blocks.iter().map(|b| b.0).collect();
                let id = a.id;
                self.next_request += 1;
                Some((id, driver.plan_lookup(&blocks)))
            }
        }
    }
}

/// Runs backend 0 of `setup` (its threads and nodes) on `workload`: `keys` records loaded,
/// `ops` operations (jobs for a trace) in all.
pub fn run(
    setup: &MetadataSetup,
    workload: Workload,
    keys: u64,
    ops: u64,
    seed: u64,
) -> crate::error::Result<BenchResult> {
    let nodes = setup.client_nodes;
    let mut driver = MetadataDriver::new(setup, 0, nodes, seed, true);
    let is_trace = matches!(workload, Workload::Trace(_));
    let keys = if is_trace { 1 } else { keys.max(1) };
    if !is_trace {
        let all: Vec<u64> = (0..keys).collect();
        driver.preload(&all, nodes);
    }
    let zipf = match &workload {
        Workload::YcsbC(Distribution::Zipfian(t))
        | Workload::YcsbE {
            dist: Distribution::Zipfian(t),
            ..
        } => Some(
            Zipf::new(keys as f64, *t)
                .map_err(|e| crate::error::input_error(format!("zipf with θ = {t}: {e}")))?,
        ),
        _ => None,
    };
    let name = workload.name();
    let mut generator = Generator {
        workload,
        keys,
        inserted: 0,
        next_request: 0,
        rng: RandomStreams::new(seed).stream("bench/metadata"),
        zipf,
    };
    let mut seen = std::collections::HashSet::new();
    let mut engine: Engine<MetaEvent> = Engine::new();
    let mut issued = 0u64;
    let streams = u64::from(nodes) * u64::from(setup.client_threads);
    let start = Instant::now();
    // Prime every thread, then keep each node's count of outstanding jobs constant.
    let mut submit = |driver: &mut MetadataDriver,
                      engine: &mut Engine<MetaEvent>,
                      generator: &mut Generator,
                      node: u64,
                      issued: &mut u64| {
        if *issued >= ops {
            return;
        }
        let Some((id, mut job)) = generator.next(driver) else {
            return;
        };
        if let Workload::Trace(reqs) = &generator.workload {
            // The request's new blocks are inserted after its lookups.
            let a = &reqs[generator.next_request - 1];
            let blocks: Vec<u64> = a.blocks.iter().map(|b| b.0).collect();
            let fresh: Vec<u64> = blocks.iter().copied().filter(|&b| seen.insert(b)).collect();
            if let Some(&first) = blocks.first() {
                job.extend(driver.plan_insert(first, &fresh));
            }
        }
        *issued += 1;
        let now = engine.now();
        driver.submit(now, node as u32, node, id, job, &mut |t, e| {
            engine.schedule_at(t, e);
        });
    };
    for k in 0..streams {
        submit(
            &mut driver,
            &mut engine,
            &mut generator,
            k % u64::from(nodes),
            &mut issued,
        );
    }
    let mut finished = driver.take_finished();
    loop {
        for f in finished.drain(..) {
            submit(&mut driver, &mut engine, &mut generator, f.tag, &mut issued);
        }
        finished = driver.take_finished();
        if !finished.is_empty() {
            continue;
        }
        let Some(ev) = engine.step() else {
            break;
        };
        let now = engine.now();
        driver.handle(now, ev, &mut |t, e| {
            engine.schedule_at(t, e);
        });
        finished = driver.take_finished();
    }
    let wall_s = start.elapsed().as_secs_f64();
    let recs = std::mem::take(&mut driver.records);
    let n = recs.len().max(1) as f64;
    let first = recs.iter().map(|r| r.issue_ns).min().unwrap_or(0);
    let last = recs
        .iter()
        .map(|r| r.issue_ns + r.latency_ns)
        .max()
        .unwrap_or(0);
    let span_s = (last - first) as f64 * 1e-9;
    let mut lat = Data::new(
        recs.iter()
            .map(|r| r.latency_ns as f64 / 1e3)
            .collect::<Vec<_>>(),
    );
    let q = |d: &mut Data<Vec<f64>>, p| if recs.is_empty() { 0.0 } else { d.quantile(p) };
    Ok(BenchResult {
        backend: driver.name(),
        workload: name,
        client_nodes: nodes,
        threads: setup.client_threads,
        ops: recs.len() as u64,
        simulated_s: span_s,
        mops: if span_s > 0.0 {
            recs.len() as f64 / span_s / 1e6
        } else {
            0.0
        },
        p50_us: q(&mut lat, 0.5),
        p99_us: q(&mut lat, 0.99),
        p999_us: q(&mut lat, 0.999),
        round_trips_mean: recs.iter().map(|r| f64::from(r.round_trips)).sum::<f64>() / n,
        bytes_mean: recs.iter().map(|r| r.bytes as f64).sum::<f64>() / n,
        retried_fraction: recs.iter().filter(|r| r.retries > 0).count() as f64 / n,
        events: engine.events_processed(),
        wall_s,
    })
}

/// The results as a table.
pub fn format_text(rows: &[BenchResult]) -> String {
    let mut s = format!(
        "{:<13} {:<7} {:>5} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>8}\n",
        "backend",
        "load",
        "nodes",
        "threads",
        "ops",
        "Mops",
        "p50_us",
        "p99_us",
        "p999_us",
        "rtts",
        "bytes",
        "retried"
    );
    for r in rows {
        s += &format!(
            "{:<13} {:<7} {:>5} {:>7} {:>9} {:>9.3} {:>9.2} {:>9.2} {:>9.2} {:>6.2} {:>8.0} {:>8.4}\n",
            r.backend,
            r.workload,
            r.client_nodes,
            r.threads,
            r.ops,
            r.mops,
            r.p50_us,
            r.p99_us,
            r.p999_us,
            r.round_trips_mean,
            r.bytes_mean,
            r.retried_fraction
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use kvcsim_models::metadata::BackendConfig;

    use super::*;

    fn setup(b: &str, nodes: u32, threads: u32) -> MetadataSetup {
        let cfg: BackendConfig = serde_norway::from_str(&format!("{{kind: {b}}}")).unwrap();
        let mut s = MetadataSetup::single(cfg).unwrap();
        s.client_nodes = nodes;
        s.client_threads = threads;
        s
    }

    #[test]
    fn chime_reads_several_times_faster_than_sherman_when_the_link_saturates() {
        // Many clients: Sherman's 1 KB leaf reads fill the memory node's 100 Gb/s link at
        // about 12.5 GB/s / (1024 + 98 B) ≈ 11 M reads/s; CHIME's ≈ 165 B neighbourhoods do not.
        let run_one = |b| {
            run(
                &setup(b, 4, 64),
                Workload::YcsbC(Distribution::Uniform),
                20_000,
                40_000,
                1,
            )
            .unwrap()
        };
        let (s, c) = (run_one("sherman"), run_one("chime"));
        assert!((9.0..12.5).contains(&s.mops), "sherman {}", s.mops);
        assert!(
            c.mops > 3.0 * s.mops,
            "chime {} vs sherman {}",
            c.mops,
            s.mops
        );
    }

    #[test]
    fn redis_saturates_its_event_loop_near_125k_ops() {
        // 8 µs of event-loop work per unpipelined GET: 125 k ops/s whatever the client count.
        let r = run(
            &setup("redis", 1, 32),
            Workload::YcsbC(Distribution::Uniform),
            1000,
            5000,
            1,
        )
        .unwrap();
        assert!((r.mops - 0.125).abs() < 0.005, "{}", r.mops);
    }
}
