//! The paper's Fig. 3 experiment: a trace replayed as a metadata workload against one backend.
//!
//! ```text
//!  request r arrives at its trace time ─▶ job on a client thread of node (r mod nodes):
//!     lookups in prompt order: a range per run of >= 2 consecutive block ids, a get per other
//!     block (the backend's plan: Redis may batch gets, the prefix index asks one `prefix`)
//!     then inserts of the blocks this replay has never seen before
//! ```
//!
//! Concurrency (the paper gives no thread counts): one client node with `client_threads`
//! threads (1 by default: a serving engine's scheduler looks requests up one after another);
//! each request's operations run one after another on one thread, and requests arriving while
//! every thread is busy wait for one (that wait is not part of an operation's latency). The
//! conversation trace's timestamps fall on ~3 s ticks with ~10 requests each, so with several
//! threads a tick's requests run concurrently: they queue at Redis's event loop, and their
//! inserts, which all append to the rightmost leaf under block-id keys, contend for its lock.

use std::collections::HashSet;
use std::time::Instant;

use statrs::statistics::{Data, OrderStatistics};

use crate::engine::{Engine, SimTime};
use crate::scenario::MetadataSetup;
use crate::world::Arrival;
use crate::world::metadata_driver::{MetaEvent, MetadataDriver, OpRecord};
#[cfg(test)]
use kvcsim_models::metadata::OpKind;

#[derive(Debug, Clone, Copy)]
enum ReplayEvent {
    Arrived(u32),
    Meta(MetaEvent),
}

/// What one backend's replay produced.
#[derive(Debug)]
pub struct ReplayOutput {
    /// Backend name.
    pub backend: &'static str,
    /// One record per operation, in completion order.
    pub records: Vec<OpRecord>,
    /// Events handled.
    pub events: u64,
    /// Wall-clock seconds of the simulation loop.
    pub wall_s: f64,
    /// Simulated time of the last event.
    pub end: SimTime,
    /// Keys stored at the end.
    pub keys_stored: u64,
}

/// Replays `arrivals` against backend `which` of `setup`.
pub fn replay(
    setup: &MetadataSetup,
    which: usize,
    arrivals: &[Arrival],
    seed: u64,
) -> ReplayOutput {
    let mut driver = MetadataDriver::new(setup, which, setup.client_nodes, seed, true);
    let mut engine: Engine<ReplayEvent> = Engine::new();
    if let Some(first) = arrivals.first() {
        engine.schedule_at(first.at, ReplayEvent::Arrived(0));
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let nodes = setup.client_nodes;
    let start = Instant::now();
    let mut blocks: Vec<u64> = Vec::new();
    let mut fresh: Vec<u64> = Vec::new();
    while let Some(ev) = engine.step() {
        let now = engine.now();
        let mut sched = |t: SimTime, e: MetaEvent| {
            engine.schedule_at(t, ReplayEvent::Meta(e));
        };
        match ev {
            ReplayEvent::Arrived(r) => {
                let a = &arrivals[r as usize];
                blocks.clear();
                blocks.extend(a.blocks.iter().map(|b| b.0));
                fresh.clear();
                fresh.extend(blocks.iter().copied().filter(|&b| seen.insert(b)));
                let mut ops = driver.plan_lookup(&blocks);
                if let Some(&first) = blocks.first() {
                    ops.extend(driver.plan_insert(first, &fresh));
                }
                driver.submit(now, r % nodes, u64::from(r), a.id, ops, &mut sched);
                if let Some(next) = arrivals.get(r as usize + 1) {
                    engine.schedule_at(next.at, ReplayEvent::Arrived(r + 1));
                }
            }
            ReplayEvent::Meta(e) => driver.handle(now, e, &mut sched),
        }
        driver.take_finished();
    }
    ReplayOutput {
        backend: driver.name(),
        records: std::mem::take(&mut driver.records),
        events: engine.events_processed(),
        wall_s: start.elapsed().as_secs_f64(),
        end: engine.now(),
        keys_stored: driver.keys_stored(),
    }
}

/// One cell of the Fig. 3 table: a backend's operation kind in one time bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRow {
    /// Backend.
    pub backend: &'static str,
    /// Operation kind name.
    pub op: &'static str,
    /// Bucket start and end, minutes of trace time.
    pub start_min: f64,
    /// Bucket end, minutes.
    pub end_min: f64,
    /// True for buckets inside the warm-up.
    pub warmup: bool,
    /// Operations issued in the bucket.
    pub count: u64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th-percentile latency, µs (Hyndman-Fan 8, as every kvcsim percentile).
    pub p99_us: f64,
}

/// p50/p99 per backend, operation and bucket of `bucket_ns` (by issue time).
pub fn bucket_table(outputs: &[ReplayOutput], bucket_ns: u64, warmup_ns: u64) -> Vec<BucketRow> {
    let mut rows = Vec::new();
    for out in outputs {
        let mut kinds: Vec<_> = out.records.iter().map(|r| r.op).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let buckets = out
                .records
                .iter()
                .map(|r| r.issue_ns / bucket_ns)
                .max()
                .unwrap_or(0);
            for b in 0..=buckets {
                let lat: Vec<f64> = out
                    .records
                    .iter()
                    .filter(|r| r.op == kind && r.issue_ns / bucket_ns == b)
                    .map(|r| r.latency_ns as f64 / 1e3)
                    .collect();
                if lat.is_empty() {
                    continue;
                }
                let count = lat.len() as u64;
                let mut d = Data::new(lat);
                let start = b * bucket_ns;
                rows.push(BucketRow {
                    backend: out.backend,
                    op: kind.name(),
                    start_min: start as f64 / 60e9,
                    end_min: (start + bucket_ns) as f64 / 60e9,
                    warmup: start < warmup_ns,
                    count,
                    p50_us: d.quantile(0.5),
                    p99_us: d.quantile(0.99),
                });
            }
        }
    }
    rows
}

/// Mean over the buckets after the warm-up of the p99 of `backend`'s `op`, µs.
pub fn mean_p99(rows: &[BucketRow], backend: &str, op: &str) -> Option<f64> {
    let v: Vec<f64> = rows
        .iter()
        .filter(|r| r.backend == backend && r.op == op && !r.warmup)
        .map(|r| r.p99_us)
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The table as CSV (`fig3_p99.csv`).
pub fn table_csv(rows: &[BucketRow]) -> String {
    let mut s =
        String::from("backend,op,bucket_start_min,bucket_end_min,warmup,count,p50_us,p99_us\n");
    for r in rows {
        s += &format!(
            "{},{},{},{},{},{},{:.3},{:.3}\n",
            r.backend, r.op, r.start_min, r.end_min, r.warmup, r.count, r.p50_us, r.p99_us
        );
    }
    s
}

/// The table as text: one line per backend and operation, p99 (µs) per bucket, then the
/// paper's comparisons.
pub fn table_text(rows: &[BucketRow]) -> String {
    let mut starts: Vec<f64> = rows.iter().map(|r| r.start_min).collect();
    starts.sort_by(f64::total_cmp);
    starts.dedup();
    let mut s = String::from("p99 latency (us) per 10-minute bucket of trace time (* = warm-up)\n");
    s += &format!("{:<14} {:<7}", "backend", "op");
    for &st in &starts {
        let warm = rows.iter().any(|r| r.start_min == st && r.warmup);
        let label = format!(
            "{:.0}-{:.0}{}",
            st,
            st + rows[0].end_min - rows[0].start_min,
            if warm { "*" } else { "" }
        );
        s += &format!(" {label:>9}");
    }
    s += &format!(" {:>9}\n", "mean");
    let mut keys: Vec<(&str, &str)> = rows.iter().map(|r| (r.backend, r.op)).collect();
    keys.dedup();
    let mut seen = Vec::new();
    for k in keys {
        if seen.contains(&k) {
            continue;
        }
        seen.push(k);
        s += &format!("{:<14} {:<7}", k.0, k.1);
        for &st in &starts {
            match rows
                .iter()
                .find(|r| (r.backend, r.op) == k && r.start_min == st)
            {
                Some(r) => s += &format!(" {:>9.2}", r.p99_us),
                None => s += &format!(" {:>9}", "-"),
            }
        }
        match mean_p99(rows, k.0, k.1) {
            Some(m) => s += &format!(" {m:>9.2}\n"),
            None => s += &format!(" {:>9}\n", "-"),
        }
    }
    let cmp = |a: &str, b: &str, op: &str| -> Option<String> {
        let (x, y) = (mean_p99(rows, a, op)?, mean_p99(rows, b, op)?);
        Some(format!(
            "{op} p99, mean of buckets after warm-up: {a} {x:.2} us vs {b} {y:.2} us ({a} {:+.1}%)\n",
            (x - y) / y * 100.0
        ))
    };
    s += "\n";
    for line in [
        cmp("sherman", "chime", "range"),
        cmp("chime", "sherman", "get"),
        cmp("redis", "sherman", "get"),
        cmp("redis", "chime", "range"),
    ]
    .into_iter()
    .flatten()
    {
        s += &line;
    }
    s
}

#[cfg(test)]
mod tests {
    use kvcsim_models::cache::BlockId;
    use kvcsim_models::metadata::BackendConfig;
    use kvcsim_models::metadata::sherman::ShermanConfig;
    use kvcsim_models::net::{HostId, NetworkModel, Verb, VerbOp};

    use super::*;

    fn arrival(id: u64, at_ns: u64, blocks: &[u64]) -> Arrival {
        Arrival {
            id,
            at: SimTime(at_ns),
            input_tokens: 512 * blocks.len() as u64,
            output_tokens: 1,
            blocks: blocks.iter().map(|&b| BlockId(b)).collect(),
        }
    }

    #[test]
    fn a_cold_get_is_two_idle_1kb_reads_then_the_insert_three_round_trips() {
        // Empty tree: the root level-1 node is not cached, so the get READs it (1 KB) and then
        // the leaf (1 KB): twice the idle READ time of the profile, to within the 1 ns event
        // rounding per hand-over (4 per READ). The insert then finds the cache warm: CAS, READ,
        // WRITE + unlock. On the closed-form network (the shipped profile's variability off).
        let mut setup =
            MetadataSetup::single(BackendConfig::Sherman(ShermanConfig::default())).unwrap();
        setup.backends[0].1.jitter = kvcsim_models::net::Jitter::None;
        let out = replay(&setup, 0, &[arrival(0, 1000, &[5])], 1);
        assert_eq!(out.records.len(), 2);
        let get = &out.records[0];
        assert_eq!(
            (get.op, get.round_trips, get.bytes, get.found),
            (OpKind::Get, 2, 2048, 0)
        );
        let profile = &setup.backends[0].1;
        let read = VerbOp::new(Verb::Read, HostId(0), HostId(1), 1024);
        let idle = NetworkModel::idle_timing(profile, &read).latency_ns();
        let got = get.latency_ns as f64;
        assert!((got - 2.0 * idle).abs() <= 8.0, "{got} vs 2 x {idle}");
        let ins = &out.records[1];
        assert_eq!(
            (ins.op, ins.round_trips, ins.retries),
            (OpKind::Insert, 3, 0)
        );
        assert_eq!(ins.bytes, 8 + 1024 + 18 + 8);
        assert_eq!(out.keys_stored, 1);
    }

    #[test]
    fn runs_become_ranges_and_a_burst_queues_at_redis() {
        use kvcsim_models::metadata::redis::RedisConfig;
        let mut setup =
            MetadataSetup::single(BackendConfig::Redis(RedisConfig::default())).unwrap();
        setup.client_threads = 4;
        // Four requests at one instant, each: get(0), range(10..=12).
        let reqs: Vec<Arrival> = (0..4).map(|i| arrival(i, 0, &[0, 10, 11, 12])).collect();
        let out = replay(&setup, 0, &reqs, 1);
        let gets: Vec<&OpRecord> = out.records.iter().filter(|r| r.op == OpKind::Get).collect();
        let ranges = out.records.iter().filter(|r| r.op == OpKind::Range).count();
        assert_eq!((gets.len(), ranges), (4, 4));
        // The four GETs meet at the single event loop: each waits for those before it (8 us
        // of server work each), so their latencies spread by at least 3 x 8 us.
        let lat: Vec<u64> = gets.iter().map(|r| r.latency_ns).collect();
        let spread = lat.iter().max().unwrap() - lat.iter().min().unwrap();
        assert!(spread >= 24_000, "{lat:?}");
    }

    #[test]
    fn replicated_writes_reach_every_replica_and_reads_one() {
        // Two servers, two replicas: the insert of the request's one new block runs on both
        // servers, 3 round trips on the replica its get went to (level-1 node now cached) and
        // 4 on the other (a traversal first); the next get reads one replica, warm: 1.
        let mut setup =
            MetadataSetup::single(BackendConfig::Sherman(ShermanConfig::default())).unwrap();
        setup.servers = 2;
        setup.replicas = 2;
        let out = replay(
            &setup,
            0,
            &[arrival(0, 0, &[7]), arrival(1, 1_000_000, &[7])],
            1,
        );
        let ins: Vec<&OpRecord> = out
            .records
            .iter()
            .filter(|r| r.op == OpKind::Insert)
            .collect();
        assert_eq!(ins.len(), 1);
        assert_eq!(ins[0].round_trips, 3 + 4);
        assert_eq!(out.keys_stored, 2, "one copy per replica");
        let second_get = out
            .records
            .iter()
            .find(|r| r.op == OpKind::Get && r.request_id == 1)
            .unwrap();
        assert_eq!((second_get.round_trips, second_get.found), (1, 1));
    }
}
