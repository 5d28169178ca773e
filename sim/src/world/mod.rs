//! The world: wires the models into the request lifecycle and gives events their meaning.
//!
//! ```text
//!  RequestArrived ─route (RoutingPolicy)─▶ prefix lookup (zero time, or the metadata service:
//!        │                                 metadata_cluster.rs, Metadata events)
//!        │                                        │ LookupReplied
//!        ▼ next arrival scheduled                 ▼
//!                                   instance waiting queue ──scheduler──▶ iteration
//!                                                                          │ IterationFinished
//!              prefill chunks ─▶ last chunk: first token, new blocks enter the cache
//!              decode steps   ─▶ last step: request done, blocks unpinned, record written
//! ```
//!
//! One [`run`] is a pure function of the scenario and its seed: the same inputs give the same
//! records, byte for byte, whatever else runs in the process.

pub mod instance;
pub mod metadata_bench;
pub mod metadata_cluster;
pub mod metadata_driver;
pub mod rdma_bench;
pub mod records;
pub mod request;

use std::sync::Arc;
use std::time::Instant;

use kvcsim_models::cache::{Admit, BlockId, BlockMeta, FutureUses, PrefixCache};
use kvcsim_models::gpu::{Batch, GpuModel};
use kvcsim_models::routing::{InstanceView, RouteQuery, RoutingPolicy};
use kvcsim_models::tiers::{HBM, TierHierarchy, TierKind};

use crate::engine::{Engine, EventId, SimDuration, SimTime};
use crate::scenario::{Scenario, SchedulerConfig};
use instance::{Instance, Iteration, ReqIdx};
use metadata_cluster::MetaWork;
use records::{RequestRecord, RunRecords, TimeseriesRow};
use request::{Phase, Req};

/// Events of a cluster run: past-tense facts.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// Request `0` reached the cluster front end.
    RequestArrived(ReqIdx),
    /// The prefix lookup of request `0` answered; it can queue at its instance.
    LookupReplied(ReqIdx),
    /// The blocks request `0` loads from lower tiers have arrived in HBM; its prefill can run.
    LoadFinished(ReqIdx),
    /// Instance `0` finished its current iteration.
    IterationFinished(u32),
    /// A time-series interval ended.
    IntervalEnded,
    /// A step of the metadata service (see `metadata_cluster`).
    Metadata(metadata_driver::MetaEvent),
}

/// A request as the workload hands it to the world.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Trace position.
    pub id: u64,
    /// Arrival time.
    pub at: SimTime,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Prompt block ids.
    pub blocks: Vec<BlockId>,
}

/// Optional observer of progress (the CLI's progress bar).
pub trait Progress {
    /// Called now and then with requests finished (done or rejected) out of the total.
    fn update(&mut self, finished: u64, total: u64);
}

impl Progress for () {
    fn update(&mut self, _: u64, _: u64) {}
}

/// Everything a run produces.
#[derive(Debug)]
pub struct RunOutput {
    /// Per-request and per-interval records.
    pub records: RunRecords,
    /// Events handled.
    pub events: u64,
    /// Wall-clock seconds of the simulation loop.
    pub wall_s: f64,
    /// Simulated time of the last event.
    pub end: SimTime,
    /// Total GPU busy time per instance, ns.
    pub busy_ns: Vec<u64>,
    /// Per-tier counters summed over instances (HBM, DRAM, SSD, remote; see
    /// `kvcsim_models::tiers::TIER_NAMES`), and which lower tiers were configured.
    pub tiers: TierTotals,
    /// Metadata operations (when `metadata.record_ops`).
    pub metadata_ops: Vec<metadata_driver::OpRecord>,
}

/// Tier counters of a whole run.
#[derive(Debug, Clone, Default)]
pub struct TierTotals {
    /// Counters by tier index (0 HBM, 1 DRAM, 2 SSD, 3 remote).
    pub counters: [kvcsim_models::tiers::TierCounters; 4],
    /// Tier indices configured (HBM always).
    pub configured: Vec<usize>,
}

struct World {
    reqs: Vec<Req>,
    instances: Vec<Instance>,
    gpu: Box<dyn GpuModel>,
    router: Box<dyn RoutingPolicy>,
    sched: SchedulerConfig,
    block_size: u64,
    interval: SimDuration,
    batch: Batch,
    views: Vec<InstanceView>,
    finished: u64,
    records: RunRecords,
    evicted: Vec<BlockId>,
    /// Tiers below HBM, if configured.
    tiers: Option<TierHierarchy>,
    /// HBM victims waiting to be demoted.
    demote: Vec<(BlockId, BlockMeta)>,
    /// The pending end-of-interval event, cancelled once the last request finishes so that the
    /// run ends at its last completion.
    tick: Option<EventId>,
    /// The metadata service, if the scenario configures one.
    metadata: Option<metadata_cluster::ClusterMetadata>,
    /// Metadata inserts and deletes decided while an instance is borrowed, issued right after.
    meta_pending: Vec<metadata_cluster::MetaWork>,
}

/// Runs `scenario` over `arrivals` (sorted by time) to completion.
pub fn run(
    scenario: &Scenario,
    arrivals: Vec<Arrival>,
    progress: &mut dyn Progress,
) -> anyhow::Result<RunOutput> {
    let gpu = scenario.gpu_model.build(
        scenario.llm.clone(),
        scenario.gpu.clone(),
        u64::from(scenario.tensor_parallel),
    )?;
    let capacity = usize::try_from(scenario.cache_capacity_blocks)?;
    // Belady reads the future: every block's uses at its requests' arrival times.
    let offline = scenario.eviction.is_offline()
        || scenario
            .tiers
            .as_ref()
            .is_some_and(|t| t.tiers.iter().any(|s| s.eviction.is_offline()));
    let future = offline.then(|| {
        Arc::new(FutureUses::from_uses(
            arrivals
                .iter()
                .flat_map(|a| a.blocks.iter().map(|&b| (b, a.at.as_nanos()))),
        ))
    });
    let instances = (0..scenario.instances)
        .map(|_| {
            let policy = scenario.eviction.build(capacity, future.as_ref())?;
            let mut cache = PrefixCache::new(capacity, policy);
            if scenario.tiers.is_some() {
                cache.log_evictions();
            }
            Ok(Instance::new(cache))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tiers = match &scenario.tiers {
        Some(setup) => Some(TierHierarchy::new(setup, future.as_ref())?),
        None => None,
    };
    let reqs = arrivals
        .into_iter()
        .map(|a| Req {
            id: a.id,
            arrival: a.at,
            input_tokens: a.input_tokens,
            output_tokens: a.output_tokens,
            blocks: a.blocks,
            instance: 0,
            phase: Phase::LookingUp,
            admitted: SimTime::ZERO,
            load_ready: SimTime::ZERO,
            hit_blocks: 0,
            loaded_blocks: 0,
            tier_blocks: [0; 4],
            cached_tokens: 0,
            prefilled_tokens: 0,
            private_blocks: 0,
            first_token: SimTime::ZERO,
            finish: SimTime::ZERO,
            metadata_ns: 0,
        })
        .collect::<Vec<_>>();
    anyhow::ensure!(
        reqs.len() < u32::MAX as usize,
        "at most 2^32 - 1 requests per run"
    );
    let mut world = World {
        reqs,
        instances,
        gpu,
        router: scenario.router.build()?,
        sched: scenario.scheduler,
        block_size: u64::from(scenario.workload.block_size),
        interval: scenario.timeseries_interval,
        batch: Batch::new(),
        views: Vec::new(),
        finished: 0,
        records: RunRecords::default(),
        evicted: Vec::new(),
        tiers,
        demote: Vec::new(),
        tick: None,
        metadata: metadata_cluster::ClusterMetadata::new(scenario),
        meta_pending: Vec::new(),
    };
    let mut engine = Engine::new();
    if let Some(first) = world.reqs.first() {
        engine.schedule_at(first.arrival, Event::RequestArrived(0));
        world.tick = Some(engine.schedule_in(world.interval, Event::IntervalEnded));
    }
    let total = world.reqs.len() as u64;
    let start = Instant::now();
    let mut reported = 0u64;
    while let Some(event) = engine.step() {
        world.handle(&mut engine, event);
        if world.finished == total
            && let Some(tick) = world.tick.take()
        {
            engine.cancel(tick);
        }
        if world.finished >= reported + 1024 || world.finished == total {
            reported = world.finished;
            progress.update(world.finished, total);
        }
    }
    let wall_s = start.elapsed().as_secs_f64();
    let end = engine.now();
    world.close_interval(end, true);
    world.records.requests.sort_by_key(|r| r.request_id);
    let mut tier_totals = TierTotals {
        configured: vec![HBM],
        ..Default::default()
    };
    match &world.tiers {
        Some(t) => {
            tier_totals.counters = t.cluster_totals();
            tier_totals
                .configured
                .extend(t.kinds().map(kvcsim_models::tiers::tier_index));
        }
        None => {
            // Without lower tiers the HBM counters come from the caches themselves.
            let hbm = &mut tier_totals.counters[HBM];
            hbm.evictions = world
                .instances
                .iter()
                .map(|i| i.cache.stats().evictions)
                .sum();
            hbm.hit_blocks = world
                .records
                .requests
                .iter()
                .map(|r| r.hbm_hit_blocks)
                .sum();
        }
    }
    Ok(RunOutput {
        tiers: tier_totals,
        metadata_ops: world
            .metadata
            .take()
            .map(|m| m.into_records())
            .unwrap_or_default(),
        busy_ns: world.instances.iter().map(|i| i.busy_total_ns).collect(),
        records: world.records,
        events: engine.events_processed(),
        wall_s,
        end,
    })
}

/// Prompt tokens a request computes in this iteration given the remaining `budget`: a chunk
/// with chunked prefill; otherwise the whole rest of the prompt, if it fits or if it is the
/// iteration's only prompt (`None`: it waits for the next iteration).
fn prefill_take(
    sched: &SchedulerConfig,
    remaining: u64,
    budget: u64,
    first_prompt: bool,
) -> Option<u64> {
    if sched.chunked_prefill {
        Some(remaining.min(budget))
    } else if remaining <= budget || first_prompt {
        Some(remaining)
    } else {
        None
    }
}

impl World {
    fn handle(&mut self, engine: &mut Engine<Event>, event: Event) {
        match event {
            Event::RequestArrived(r) => self.on_request_arrived(engine, r),
            Event::LookupReplied(r) => self.on_lookup_replied(engine, r),
            Event::LoadFinished(r) => self.on_load_finished(engine, r),
            Event::IterationFinished(i) => self.on_iteration_finished(engine, i),
            Event::IntervalEnded => self.on_interval_ended(engine),
            Event::Metadata(e) => self.on_metadata(engine, e),
        }
    }

    fn on_request_arrived(&mut self, engine: &mut Engine<Event>, r: ReqIdx) {
        if let Some(next) = self.reqs.get(r as usize + 1) {
            engine.schedule_at(next.arrival, Event::RequestArrived(r + 1));
        }
        let req = &self.reqs[r as usize];
        self.views.clear();
        for inst in &self.instances {
            self.views.push(InstanceView {
                outstanding_tokens: inst.outstanding_tokens,
                running: inst.running() as u32,
                waiting: inst.waiting.len() as u32,
                cached_prefix_blocks: inst.cache.longest_prefix(&req.blocks),
            });
        }
        let query = RouteQuery {
            prompt_tokens: req.input_tokens,
            block_size_tokens: self.block_size,
        };
        let target = self.router.route(&query, &self.views) as u32;
        let req = &mut self.reqs[r as usize];
        req.instance = target;
        // The prefix lookup: zero time, or the metadata service's operations.
        self.begin_lookup(engine, r);
    }

    fn on_lookup_replied(&mut self, engine: &mut Engine<Event>, r: ReqIdx) {
        // With a metadata service the request was counted at its instance when routed.
        let counted = self.metadata.is_some();
        let req = &mut self.reqs[r as usize];
        let inst = &mut self.instances[req.instance as usize];
        if inst.waiting.len() >= self.sched.max_waiting {
            if counted {
                inst.assigned -= 1;
                inst.outstanding_tokens -= req.input_tokens + req.output_tokens.max(1);
            }
            req.phase = Phase::Rejected;
            self.records.rejected += 1;
            self.finished += 1;
            return;
        }
        req.phase = Phase::Waiting;
        inst.waiting.push_back(r);
        if !counted {
            inst.assigned += 1;
            inst.outstanding_tokens += req.input_tokens + req.output_tokens.max(1);
        }
        let i = req.instance;
        if self.instances[i as usize].busy.is_none() {
            self.start_iteration(engine, i);
        }
    }

    /// Forms and starts the next iteration of instance `i`, if it has work.
    fn start_iteration(&mut self, engine: &mut Engine<Event>, i: u32) {
        let now = engine.now();
        let bs = self.block_size;
        let sched = self.sched;
        let inst = &mut self.instances[i as usize];
        debug_assert!(inst.busy.is_none());
        let number = inst.next_iteration;
        let mut it = Iteration {
            number,
            start: now,
            prefills: Vec::new(),
            decodes: inst.decoding,
        };
        self.batch.clear();
        if inst.decoding > 0 {
            self.batch
                .push_decodes(inst.decoding, inst.decode_context_sum(number));
        }
        let mut budget = sched.max_batch_tokens.saturating_sub(inst.decoding);
        // 1. Requests already prefilling, in admission order.
        for &r in &inst.prefilling {
            if budget == 0 {
                break;
            }
            let req = &self.reqs[r as usize];
            let remaining = req.input_tokens - req.prefilled_tokens;
            let Some(take) = prefill_take(&sched, remaining, budget, it.prefills.is_empty()) else {
                break;
            };
            self.batch.push_prefill(take, req.prefilled_tokens);
            it.prefills.push((r, take));
            budget = budget.saturating_sub(take);
        }
        // 2. Admit waiting requests, FCFS, head of line blocks.
        while budget > 0 && (inst.running() as usize) < sched.max_running {
            let Some(&r) = inst.waiting.front() else {
                break;
            };
            let req = &mut self.reqs[r as usize];
            let hit = inst.cache.longest_prefix(&req.blocks);
            // Blocks after the HBM prefix that lower tiers hold: loaded, not recomputed.
            let lower = self
                .tiers
                .as_ref()
                .map_or(0, |t| t.continuation(i as usize, &req.blocks, hit));
            let prompt_blocks = req.prompt_blocks(bs);
            let private = prompt_blocks - hit as u64 + req.decode_blocks(bs);
            if private + hit as u64 > inst.cache.capacity_blocks() as u64 {
                // Can never fit, even in an empty cache.
                inst.waiting.pop_front();
                req.phase = Phase::Rejected;
                inst.assigned -= 1;
                inst.outstanding_tokens -= req.input_tokens + req.output_tokens.max(1);
                self.records.rejected += 1;
                self.finished += 1;
                continue;
            }
            let evictable_hits = req.blocks[..hit]
                .iter()
                .filter(|&&b| inst.cache.pin_count(b) == Some(0))
                .count();
            if inst.cache.available_blocks().saturating_sub(evictable_hits) < private as usize {
                break; // wait for running requests to free KV
            }
            let cached = ((hit + lower) as u64 * bs).min(req.input_tokens.saturating_sub(1));
            let remaining = req.input_tokens - cached;
            // A request that loads blocks computes nothing until they arrive.
            let take = if lower > 0 {
                0
            } else {
                match prefill_take(&sched, remaining, budget, it.prefills.is_empty()) {
                    Some(take) => take,
                    None => break, // whole prompt must fit in this iteration
                }
            };
            inst.waiting.pop_front();
            let looked_up = inst.cache.lookup(&req.blocks, now.as_nanos());
            debug_assert_eq!(looked_up, hit);
            inst.cache
                .pin(&req.blocks[..hit])
                .expect("hit blocks are resident");
            self.evicted.clear();
            inst.cache
                .allocate_private(private as usize, now.as_nanos(), &mut self.evicted)
                .expect("availability checked above");
            if self.metadata.is_some() && !self.evicted.is_empty() {
                self.meta_pending
                    .push(MetaWork::Delete(i, r, self.evicted.clone()));
            }
            inst.interval.lookups += 1;
            inst.interval.lookup_blocks += req.blocks.len() as u64;
            inst.interval.hit_blocks += (hit + lower) as u64;
            req.admitted = now;
            req.load_ready = now;
            req.hit_blocks = hit as u32;
            req.loaded_blocks = lower as u32;
            req.cached_tokens = cached;
            req.prefilled_tokens = cached;
            req.private_blocks = private as u32;
            inst.outstanding_tokens -= cached;
            if let Some(tiers) = &mut self.tiers {
                let i = i as usize;
                tiers.hbm_hits(i, &req.blocks[..hit]);
                // Load before demoting the victims of this admission: demotions can push
                // blocks out of the last tier, and these ones were found where they are.
                let load =
                    (lower > 0).then(|| tiers.load(i, &req.blocks, hit, lower, now.as_nanos()));
                inst.cache.take_evicted(&mut self.demote);
                for (block, meta) in self.demote.drain(..) {
                    tiers.evicted_from_hbm(i, block, meta);
                }
                if let Some(load) = load {
                    req.tier_blocks = load.blocks.map(|b| b as u32);
                    req.load_ready = SimTime(load.ready_ns);
                    req.phase = Phase::Loading;
                    inst.loading += 1;
                    engine.schedule_at(req.load_ready, Event::LoadFinished(r));
                    continue;
                }
            }
            req.phase = Phase::Prefilling;
            inst.prefilling.push_back(r);
            self.batch.push_prefill(take, cached);
            it.prefills.push((r, take));
            budget = budget.saturating_sub(take);
        }
        self.flush_metadata(engine);
        let inst = &mut self.instances[i as usize];
        if it.prefills.is_empty() && it.decodes == 0 {
            return; // idle
        }
        let secs = self.gpu.iteration_time(&self.batch);
        inst.next_iteration += 1;
        inst.busy = Some(it);
        engine.schedule_in(
            SimDuration::from_secs_f64(secs),
            Event::IterationFinished(i),
        );
    }

    fn on_load_finished(&mut self, engine: &mut Engine<Event>, r: ReqIdx) {
        let req = &mut self.reqs[r as usize];
        debug_assert_eq!(req.phase, Phase::Loading);
        req.phase = Phase::Prefilling;
        let i = req.instance;
        let inst = &mut self.instances[i as usize];
        inst.loading -= 1;
        inst.prefilling.push_back(r);
        if inst.busy.is_none() {
            self.start_iteration(engine, i);
        }
    }

    fn on_iteration_finished(&mut self, engine: &mut Engine<Event>, i: u32) {
        let now = engine.now();
        let inst = &mut self.instances[i as usize];
        let it = inst.busy.take().expect("an iteration was running");
        inst.account_busy(it.start, now);
        inst.interval.iterations += 1;
        inst.interval.batch_tokens += it.decodes + it.prefills.iter().map(|p| p.1).sum::<u64>();
        // Decode steps: every decoding request produced one token; some are done.
        inst.outstanding_tokens -= it.decodes;
        while let Some(&std::cmp::Reverse((last, r))) = inst.decode_finish.peek() {
            if last != it.number {
                break;
            }
            inst.decode_finish.pop();
            let req = &self.reqs[r as usize];
            inst.decoding -= 1;
            inst.decode_ctx_base -= req.input_tokens as i64 - it.number as i64;
            Self::complete(&mut self.reqs[r as usize], inst, &mut self.records, now);
            self.finished += 1;
        }
        // Prefill pieces: tokens computed; a finished prompt emits its first token.
        for &(r, take) in &it.prefills {
            let req = &mut self.reqs[r as usize];
            req.prefilled_tokens += take;
            inst.outstanding_tokens -= take;
            if req.prefilled_tokens < req.input_tokens {
                continue;
            }
            req.first_token = now;
            inst.outstanding_tokens -= 1;
            // The prompt's uncached blocks become cached blocks, pinned by this request.
            let hit = req.hit_blocks as usize;
            let new_blocks = req.blocks.len() - hit;
            inst.cache.free_private(new_blocks);
            req.private_blocks -= new_blocks as u32;
            for (depth, &b) in req.blocks.iter().enumerate().skip(hit) {
                let parent = depth.checked_sub(1).map(|p| req.blocks[p]);
                inst.cache
                    .insert(b, parent, depth as u32, now.as_nanos(), Admit::Pinned)
                    .expect("space was reserved at admission");
            }
            if let Some(tiers) = &mut self.tiers {
                inst.cache.take_evicted(&mut self.demote);
                for (block, meta) in self.demote.drain(..) {
                    tiers.evicted_from_hbm(i as usize, block, meta);
                }
                let computed_from = hit + req.loaded_blocks as usize;
                tiers.computed(i as usize, &req.blocks, computed_from, now.as_nanos());
            }
            if self.metadata.is_some() {
                self.meta_pending.push(MetaWork::Insert(r));
            }
            let steps = req.decode_steps();
            if steps == 0 {
                Self::complete(req, inst, &mut self.records, now);
                self.finished += 1;
            } else {
                req.phase = Phase::Decoding;
                inst.decoding += 1;
                // Context in iteration j (> number) is input + (j - number).
                inst.decode_ctx_base += req.input_tokens as i64 - it.number as i64;
                inst.decode_finish
                    .push(std::cmp::Reverse((it.number + steps, r)));
            }
        }
        inst.prefilling
            .retain(|&r| self.reqs[r as usize].phase == Phase::Prefilling);
        self.flush_metadata(engine);
        self.start_iteration(engine, i);
    }

    fn complete(req: &mut Req, inst: &mut Instance, records: &mut RunRecords, now: SimTime) {
        req.phase = Phase::Done;
        req.finish = now;
        inst.cache
            .unpin(&req.blocks, now.as_nanos())
            .expect("a running request pins its blocks");
        inst.cache.free_private(req.private_blocks as usize);
        req.private_blocks = 0;
        inst.assigned -= 1;
        let steps = req.decode_steps();
        let ttft = req.first_token - req.arrival;
        records.requests.push(RequestRecord {
            request_id: req.id,
            arrival_ns: req.arrival.as_nanos(),
            instance: req.instance,
            input_tokens: req.input_tokens,
            output_tokens: req.output_tokens,
            blocks: req.blocks.len() as u64,
            hit_blocks: u64::from(req.hit_blocks + req.loaded_blocks),
            hbm_hit_blocks: u64::from(req.hit_blocks),
            dram_hit_blocks: u64::from(req.tier_blocks[1]),
            ssd_hit_blocks: u64::from(req.tier_blocks[2]),
            remote_hit_blocks: u64::from(req.tier_blocks[3]),
            cached_tokens: req.cached_tokens,
            queue_ns: (req.admitted - req.arrival).as_nanos(),
            load_ns: (req.load_ready - req.admitted).as_nanos(),
            metadata_ns: req.metadata_ns,
            prefill_ns: (req.first_token - req.load_ready).as_nanos(),
            ttft_ns: ttft.as_nanos(),
            tpot_ns: (req.finish - req.first_token)
                .as_nanos()
                .checked_div(steps)
                .unwrap_or(0),
            e2e_ns: (req.finish - req.arrival).as_nanos(),
            finish_ns: req.finish.as_nanos(),
        });
        req.blocks = Vec::new(); // free memory early
    }

    fn on_interval_ended(&mut self, engine: &mut Engine<Event>) {
        let now = engine.now();
        self.close_interval(now, false);
        self.tick = Some(engine.schedule_in(self.interval, Event::IntervalEnded));
    }

    /// Writes one time-series row per instance for the interval ending at `now`.
    fn close_interval(&mut self, now: SimTime, last: bool) {
        for (idx, inst) in self.instances.iter_mut().enumerate() {
            if last && now == inst.interval_start {
                continue; // nothing left to report
            }
            if let Some(it) = &inst.busy {
                let start = it.start;
                inst.account_busy(start, now);
            }
            let len = now.saturating_since(inst.interval_start).as_nanos().max(1);
            let c = inst.interval;
            let mut tiers = match &mut self.tiers {
                Some(t) => t.take_interval(idx),
                None => Default::default(),
            };
            let hbm_evictions = inst.cache.stats().evictions;
            tiers[HBM].evictions = hbm_evictions - inst.evictions_reported;
            inst.evictions_reported = hbm_evictions;
            let resident = |kind| {
                self.tiers
                    .as_ref()
                    .map_or(0, |t| t.resident_blocks(idx, kind) as u64)
            };
            let tier_blocks = [
                0,
                resident(TierKind::Dram),
                resident(TierKind::Ssd),
                resident(TierKind::Remote),
            ];
            self.records.timeseries.push(TimeseriesRow {
                time_ns: now.as_nanos(),
                interval_ns: len,
                instance: idx as u32,
                running: inst.running(),
                waiting: inst.waiting.len() as u64,
                batch_tokens: c.batch_tokens,
                iterations: c.iterations,
                gpu_busy_fraction: c.busy_ns as f64 / len as f64,
                cache_blocks: (inst.cache.resident_blocks() + inst.cache.private_blocks()) as u64,
                cached_blocks: inst.cache.resident_blocks() as u64,
                lookups: c.lookups,
                lookup_blocks: c.lookup_blocks,
                hit_blocks: c.hit_blocks,
                tiers,
                tier_blocks,
            });
            inst.interval = Default::default();
            inst.interval_start = now;
        }
    }
}
