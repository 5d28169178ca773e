//! The world: wires the models into the request lifecycle and gives events their meaning.
//!
//! ```text
//!  RequestArrived ─route (RoutingPolicy)─▶ prefix lookup (LookupService: zero time, or the
//!        │                                 metadata service's timed steps, Metadata events)
//!        │                                        │ LookupReplied
//!        ▼ next arrival pulled and scheduled      ▼
//!                                   instance waiting queue ──BatchScheduler──▶ iteration
//!                                          ▲ preempted                           │ IterationFinished
//!              prefill chunks ─▶ last chunk: a token, new blocks enter the cache
//!              decode steps   ─▶ last step: request done, blocks released, record pushed
//! ```
//!
//! The modules: `lifecycle` (the event handlers), `schedule` (the scheduler's view of an
//! instance and applying its plan), `intervals` (the time series), `instance` and `request`
//! (state), `lookup` (the lookup service). Requests are pulled from the workload one
//! arrival ahead and leave the world when they finish: memory follows what is in flight, and
//! records go to a [`RecordSink`] as they are made.
//!
//! One [`run`] is a pure function of the scenario and its seed: the same inputs give the same
//! records, byte for byte, whatever else runs in the process.

mod disagg;
pub mod instance;
mod intervals;
mod lifecycle;
pub mod lookup;
pub mod metadata_driver;
pub mod request;
mod schedule;

use std::sync::Arc;
use std::time::Instant;

use kvcsim_models::cache::{BlockId, BlockLocator, BlockMeta, FutureUses, PrefixCache};
use kvcsim_models::gpu::{Batch, GpuModel};
use kvcsim_models::routing::{InstanceView, RoutingPolicy};
use kvcsim_models::scheduler::{BatchScheduler, Budgets, Plan, PrefillSeq, SeqId};
use kvcsim_models::tiers::{HBM, TierHierarchy};

use crate::engine::{Engine, EventId, SimDuration, SimTime};
use crate::records::RecordSink;
use crate::scenario::{Role, Scenario};
use instance::Instance;
use request::Requests;

/// An instance of the cluster (index into the world's instances).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u32);

impl InstanceId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Events of a cluster run: past-tense facts.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// The next request of the workload reached the cluster front end.
    RequestArrived,
    /// The prefix lookup of a request answered; it can queue at its instance.
    LookupReplied(SeqId),
    /// The blocks a request loads from lower tiers have arrived in HBM; its prefill can run.
    LoadFinished(SeqId),
    /// An instance finished its current iteration.
    IterationFinished(InstanceId),
    /// A time-series interval ended.
    IntervalEnded,
    /// A step of the metadata service (see `lookup`).
    Metadata(metadata_driver::MetaEvent),
    /// The fabric changed: a KV flow's last byte left or arrived (see `disagg`).
    Fabric,
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

/// The workload: arrivals in time order, pulled one ahead of the simulation.
pub type Arrivals<'a> = Box<dyn Iterator<Item = crate::error::Result<Arrival>> + 'a>;

/// Optional observer of progress (the CLI's progress bar).
pub trait Progress {
    /// Called now and then with requests finished (done or rejected) out of the total, when
    /// the total is known.
    fn update(&mut self, finished: u64, total: Option<u64>);
}

impl Progress for () {
    fn update(&mut self, _: u64, _: Option<u64>) {}
}

pub use crate::records::{RunOutput, TierTotals};

/// A pool of instances at run time: its role, GPU model and scheduler.
struct PoolRt {
    role: Role,
    gpu: Box<dyn GpuModel>,
    scheduler: Box<dyn BatchScheduler>,
    budgets: Budgets,
    max_waiting: usize,
}

struct World<'a> {
    reqs: Requests,
    instances: Vec<Instance>,
    /// The pools; every instance names its own.
    pools: Vec<PoolRt>,
    /// Tokens per KV block.
    block_size: u64,
    /// The instances arriving requests are routed to (prefill and mixed pools), in order.
    entry: Vec<InstanceId>,
    router: Box<dyn RoutingPolicy>,
    interval: SimDuration,
    /// Scratch buffers reused every iteration.
    batch: Batch,
    plan: Plan,
    needers: Vec<SeqId>,
    prefill_views: Vec<PrefillSeq>,
    span_times: Vec<f64>,
    views: Vec<InstanceView>,
    /// Which instance caches which block (the router's prefix index), and its answer for the
    /// request being routed.
    locator: BlockLocator,
    prefix_lengths: Vec<usize>,
    evicted: Vec<BlockId>,
    /// The next arrival, pulled ahead; `None` once the workload is exhausted.
    next: Option<Arrival>,
    arrivals: Arrivals<'a>,
    /// The workload's first error (a malformed trace line): the run stops and reports it.
    workload_error: Option<crate::error::Error>,
    sink: &'a mut dyn RecordSink,
    /// Requests that entered the world, and that left it (done or rejected).
    entered: u64,
    finished: u64,
    /// HBM prefix hits of completed requests (the HBM tier's hits without lower tiers).
    hbm_hit_blocks: u64,
    /// Tiers below HBM, if configured.
    tiers: Option<TierHierarchy>,
    /// HBM victims waiting to be demoted.
    demote: Vec<(BlockId, BlockMeta)>,
    /// Run decode-only iterations of an unchanged batch as one event (see
    /// `World::decode_span`); off only to check that it changes nothing.
    fast_forward: bool,
    /// When the current time-series interval ends.
    next_tick: SimTime,
    /// The pending end-of-interval event, cancelled once the last request finishes so that the
    /// run ends at its last completion.
    tick: Option<EventId>,
    /// The prefix lookup and the metadata writes, and their drained steps and replies.
    lookup: Box<dyn lookup::LookupService>,
    lookup_steps: Vec<(SimTime, metadata_driver::MetaEvent)>,
    lookup_replies: Vec<(SeqId, SimTime)>,
    /// The prefill-to-decode hand-off and its fabric, when pools have those roles.
    disagg: Option<disagg::Disagg>,
}

/// Runs `scenario` over `arrivals` (in time order) to completion, pushing records into `sink`.
/// `total` is the number of requests when known (progress only).
pub fn run(
    scenario: &Scenario,
    arrivals: Arrivals<'_>,
    total: Option<u64>,
    sink: &mut dyn RecordSink,
    progress: &mut dyn Progress,
) -> crate::error::Result<RunOutput> {
    run_with(scenario, arrivals, total, sink, progress, true)
}

/// [`run`], choosing whether decode-only iterations of an unchanged batch run as one event
/// (`fast_forward`). Both give the same records; only the event count differs.
pub fn run_with(
    scenario: &Scenario,
    arrivals: Arrivals<'_>,
    total: Option<u64>,
    sink: &mut dyn RecordSink,
    progress: &mut dyn Progress,
    fast_forward: bool,
) -> crate::error::Result<RunOutput> {
    // Belady reads the future: every block's uses at its requests' arrival times. Only then
    // is the whole workload read up front.
    let offline = scenario.eviction.is_offline()
        || scenario
            .tiers
            .as_ref()
            .is_some_and(|t| t.tiers.iter().any(|s| s.eviction.is_offline()));
    let (arrivals, future): (Arrivals<'_>, _) = if offline {
        let all = arrivals.collect::<crate::error::Result<Vec<_>>>()?;
        let future = Arc::new(FutureUses::from_uses(
            all.iter()
                .flat_map(|a| a.blocks.iter().map(|&b| (b, a.at.as_nanos()))),
        ));
        (Box::new(all.into_iter().map(Ok)), Some(future))
    } else {
        (arrivals, None)
    };
    let mut instances = Vec::with_capacity(scenario.instances as usize);
    let mut pools = Vec::with_capacity(scenario.pools.len());
    let mut entry = Vec::new();
    for (p, pool) in scenario.pools.iter().enumerate() {
        let capacity = usize::try_from(pool.cache_capacity_blocks)?;
        for _ in 0..pool.instances {
            let policy = scenario.eviction.build(capacity, future.as_ref())?;
            let mut cache = PrefixCache::new(capacity, policy);
            if scenario.tiers.is_some() {
                cache.log_evictions();
            }
            if pool.role != Role::Decode {
                entry.push(InstanceId(instances.len() as u32));
            }
            instances.push(Instance::new(cache, p as u32));
        }
        let sched = &pool.scheduler;
        pools.push(PoolRt {
            role: pool.role,
            gpu: pool.gpu_model.build(
                scenario.llm.clone(),
                pool.gpu.clone(),
                u64::from(pool.tensor_parallel),
            )?,
            scheduler: sched.kind.build(),
            budgets: Budgets {
                max_batch_tokens: sched.max_batch_tokens,
                max_running: sched.max_running,
                chunked_prefill: sched.chunked_prefill,
                block_size: u64::from(scenario.workload.block_size),
            },
            max_waiting: sched.max_waiting,
        });
    }
    let tiers = match &scenario.tiers {
        Some(setup) => Some(TierHierarchy::new(setup, future.as_ref())?),
        None => None,
    };
    let mut world = World {
        reqs: Requests::default(),
        instances,
        pools,
        block_size: u64::from(scenario.workload.block_size),
        entry,
        router: scenario.router.build()?,
        interval: scenario.timeseries_interval,
        batch: Batch::new(),
        plan: Plan::default(),
        needers: Vec::new(),
        prefill_views: Vec::new(),
        span_times: Vec::new(),
        views: Vec::new(),
        locator: BlockLocator::new(scenario.instances as usize),
        prefix_lengths: vec![0; scenario.instances as usize],
        evicted: Vec::new(),
        next: None,
        arrivals,
        workload_error: None,
        sink,
        entered: 0,
        finished: 0,
        hbm_hit_blocks: 0,
        tiers,
        demote: Vec::new(),
        fast_forward,
        next_tick: SimTime::ZERO + scenario.timeseries_interval,
        tick: None,
        lookup: lookup::build(scenario),
        lookup_steps: Vec::new(),
        lookup_replies: Vec::new(),
        disagg: None,
    };
    if let Some(d) = &scenario.disaggregation {
        let ranks: Vec<u32> = scenario
            .pools
            .iter()
            .flat_map(|p| std::iter::repeat_n(p.tensor_parallel, p.instances as usize))
            .collect();
        let decoders = world
            .instances
            .iter()
            .enumerate()
            .filter(|(_, inst)| world.pools[inst.pool as usize].role == Role::Decode)
            .map(|(k, _)| InstanceId(k as u32))
            .collect();
        let mut pd = disagg::Disagg::new(
            kvcsim_models::net::Fabric::new(&d.fabric, &d.network, &ranks),
            d.decode_selection,
            decoders,
            scenario.llm.kv_bytes_per_token(),
        );
        pd.reported_bytes = vec![(0.0, 0.0); ranks.len()];
        pd.metadata_shares_nics = d.fabric.metadata_shares_nics;
        world.disagg = Some(pd);
    }
    let mut engine = Engine::new();
    world.pull_arrival(&mut engine);
    if world.next.is_some() {
        world.tick = Some(engine.schedule_in(world.interval, Event::IntervalEnded));
    }
    let start = Instant::now();
    let mut reported = 0u64;
    while let Some(event) = engine.step() {
        world.handle(&mut engine, event);
        let drained = world.next.is_none() && world.finished == world.entered;
        if drained && let Some(tick) = world.tick.take() {
            engine.cancel(tick);
        }
        if world.finished >= reported + 1024 || drained {
            reported = world.finished;
            progress.update(world.finished, total);
            if world.sink.failed() || world.workload_error.is_some() {
                break;
            }
        }
    }
    if let Some(e) = world.workload_error.take() {
        return Err(e);
    }
    let wall_s = start.elapsed().as_secs_f64();
    let end = engine.now();
    world.close_interval(end, true);
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
            hbm.hit_blocks = world.hbm_hit_blocks;
        }
    }
    Ok(RunOutput {
        tiers: tier_totals,
        busy_ns: world.instances.iter().map(|i| i.busy_total_ns).collect(),
        events: engine.events_processed(),
        wall_s,
        end,
    })
}

impl World<'_> {
    fn handle(&mut self, engine: &mut Engine<Event>, event: Event) {
        match event {
            Event::RequestArrived => self.on_request_arrived(engine),
            Event::LookupReplied(r) => self.on_lookup_replied(engine, r),
            Event::LoadFinished(r) => self.on_load_finished(engine, r),
            Event::IterationFinished(i) => self.on_iteration_finished(engine, i),
            Event::IntervalEnded => self.on_interval_ended(engine),
            Event::Metadata(e) => self.lookup.on_event(engine.now(), e),
            Event::Fabric => self.on_fabric(engine.now()),
        }
        self.pump_lookups(engine);
        self.pump_fabric(engine);
    }

    /// Takes the workload's next arrival and schedules it.
    fn pull_arrival(&mut self, engine: &mut Engine<Event>) {
        self.next = match self.arrivals.next() {
            None => None,
            Some(Ok(a)) => {
                engine.schedule_at(a.at.max(engine.now()), Event::RequestArrived);
                Some(a)
            }
            Some(Err(e)) => {
                self.workload_error = Some(e);
                None
            }
        };
    }
}
