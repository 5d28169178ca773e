//! `kvcsim plan`: the cheapest configurations that meet an SLO.
//!
//! ```text
//!  base scenario + --set + --slo ──▶ choices: the product of the --vary lists (enumerated;
//!                                       │ --shard K/N: the choices whose index is K mod N)
//!                                       │ in parallel (rayon, --jobs threads)
//!                                       ▼
//!         per choice: bisection over cluster.instances LO..HI (fewest that meet the SLO) or
//!         over workload.rate_scale LO..HI:STEP (most load that meets it); each probe = one
//!         pure run per seed (--seeds N: seeds 1..=N), meeting the SLO when every seed does
//!                                       ▼
//!  plan.parquet (every probe, Pareto set marked), table / --json of the best per choice
//! ```
//!
//! **Search.** "Meets the SLO" is taken as monotone in the instance count: probe `HI` first
//! (if it misses, no count in the range meets the SLO, and `HI` is reported as the closest),
//! then bisect `[LO, HI)` keeping "`hi` meets": at most `1 + ceil(log2(HI - LO + 1))` probes,
//! 11 for 1..1024. Galloping up from `LO` (1, 2, 4, ...) then bisecting would find small
//! answers in fewer probes but takes up to `2 log2` (20 for 1..1024). The rate axis is the
//! same bisection on the reversed grid of rates ([`largest_meeting`]): the lowest rate first
//! (if it misses, nothing does), then halving, at most `1 + ceil(log2(rates))` probes; the
//! headroom search is the same function over `base..=MAX` in steps of 0.01. Each choice's
//! search is a fixed sequence of pure runs, so the result does not depend on `--jobs`, on
//! sharding, or on how many probes `--resume` found already done.
//!
//! **Monotonicity.** Bisection never probes a count above one that met the SLO or below one
//! that missed, so it cannot see a contradiction of pass and fail directly; what it reports is
//! every pair of probes of one choice where more instances gave a *lower* attainment (more load
//! a *higher* one) ([`Plan::non_monotone`]), which says how far the assumption bends.
//!
//! **Cost** is GPUs (instances x tensor parallelism of the probe's scenario) or `--cost EXPR`
//! ([`cost`]). The instance search returns the fewest instances, the cheapest only when the
//! cost grows with the count (true of GPUs and of any price per GPU). With an instance range or
//! none, the best configuration is the cheapest meeting the SLO; with a rate range, the one that
//! sustains the most load per unit of cost (`rate_scale / cost`).
//!
//! **Folders, `--resume`, `--shard`.** With `--out`, every run goes through a temporary folder
//! into `probes/...` (as a sweep's points, [`crate::sweep::SweepDir`]), and the folder records
//! the plan in `plan.resolved.yaml` (the sweep's record: kvcsim version and the hash of the
//! base scenario, `--vary` and `--seeds`); another plan's folder is refused. `--resume` reuses
//! a complete run whose `scenario.resolved.yaml` equals the one it would write. A shard runs the
//! searches of its choices only and writes no plan.parquet; a run without `--shard` and with
//! `--resume` replays every search, reuses the shards' runs and writes the whole plan.

pub mod axes;
pub mod cost;
mod output;
mod probes;

use std::path::PathBuf;

use rayon::prelude::*;
use serde_norway::{Mapping, Value};

pub use axes::{Axis, RateGrid, slo_override};
pub use cost::{CostExpr, cost_of, gpus};
pub use output::{plan_json, plan_table, plan_text};
pub use probes::{PLAN_RECORD_FILE, run_path};

use crate::error::input_error;
use crate::output::summary::RunSummary;
use crate::run::simulate;
use crate::scenario::{self, Scenario};
use crate::sweep::{KVCSIM_VERSION, ResolvedSweep, Shard};
use probes::PlanDir;

/// What `kvcsim plan` was asked.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// Scenario file (`None`: the embedded default).
    pub scenario: Option<PathBuf>,
    /// `--set` overrides, then the `--slo` override.
    pub overrides: Vec<String>,
    /// The axes.
    pub axes: Vec<Axis>,
    /// Replicate seeds (`None`: the scenario's seed).
    pub seeds: Option<u64>,
    /// Threads.
    pub jobs: usize,
    /// Probe run folders go to `DIR/probes/choice=C/instances=N/seed=S/` (rate-axis probes:
    /// `.../instances=N/rate_scale=X/seed=S/`; headroom probes:
    /// `DIR/probes/headroom/rate_scale=X/seed=S/`).
    pub out: Option<PathBuf>,
    /// Search the best configuration's headroom: the largest `workload.rate_scale` up to this
    /// that still meets the SLO.
    pub headroom: Option<f64>,
    /// `--cost EXPR` (`None`: GPUs).
    pub cost: Option<CostExpr>,
    /// The choices this process searches ([`Shard::ALL`]: every one, and the plan's files).
    pub shard: Shard,
    /// Reuse complete runs already in `out`.
    pub resume: bool,
    /// Size limits every probe's scenario is checked against (`--allow-large` lifts them).
    pub limits: crate::limits::Limits,
}

impl PlanRequest {
    /// A request for `axes` with `overrides` on the embedded default scenario, every other
    /// option at its default (scenario seed, all cores, in memory, GPUs as the cost).
    pub fn new(overrides: Vec<String>, axes: Vec<Axis>) -> PlanRequest {
        PlanRequest {
            scenario: None,
            overrides,
            axes,
            seeds: None,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            out: None,
            headroom: None,
            cost: None,
            shard: Shard::ALL,
            resume: false,
            limits: Default::default(),
        }
    }
}

/// Resolution of the headroom search: rate scales in steps of 1/100.
pub const HEADROOM_STEPS_PER_UNIT: f64 = 1.0 / axes::DEFAULT_RATE_STEP;

/// The largest load the best configuration sustains.
#[derive(Debug, Clone)]
pub struct Headroom {
    /// The largest `rate_scale` tried that met the SLO (the scenario's own if none above did).
    pub rate_scale: f64,
    /// Whether even the top of the range met it (the headroom is at least `rate_scale`).
    pub at_limit: bool,
    /// Its probes, in the order they ran.
    pub probes: Vec<Probe>,
}

/// One configuration tried, over its seeds.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Index of its choice (of the enumerated values).
    pub choice: usize,
    /// Instances.
    pub instances: u32,
    /// `workload.rate_scale` of the run.
    pub rate_scale: f64,
    /// GPUs: instances x tensor parallelism.
    pub gpus: u64,
    /// Its cost: GPUs, or `--cost`'s value.
    pub cost: f64,
    /// Lowest attainment over the seeds.
    pub slo_attainment: f64,
    /// Mean goodput over the seeds, requests/s.
    pub goodput_requests_per_s: f64,
    /// Mean goodput per GPU over the seeds.
    pub goodput_per_gpu: f64,
    /// Every seed met the SLO (the decision rule).
    pub meets_slo: bool,
    /// Runs it took (one per seed).
    pub runs: usize,
    /// Of those, runs found complete in the output folder (`--resume`) rather than run.
    pub reused: usize,
}

/// One enumerated choice: values of the list axes, and what its search found.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `(path, value)` of each list axis.
    pub values: Vec<(String, String)>,
    /// Its probes, in the order they ran (empty when another shard searches it).
    pub probes: Vec<Probe>,
    /// Index into `probes` of the search's answer, if any probe met the SLO: the fewest
    /// instances, or the largest rate scale.
    pub chosen: Option<usize>,
}

/// What the searches vary within a choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Search {
    /// Nothing: each choice is one probe at the scenario's count and load.
    Fixed,
    /// `cluster.instances` over `lo..=hi`, fewest meeting the SLO.
    Instances {
        /// Fewest tried.
        lo: u32,
        /// Most tried.
        hi: u32,
    },
    /// `workload.rate_scale` over a grid, largest meeting the SLO.
    RateScale(RateGrid),
}

/// The result of a plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every choice, in enumeration order (the first list axis varies slowest).
    pub choices: Vec<Choice>,
    /// What was searched within each choice.
    pub search: Search,
    /// Percent of requests the SLO asks.
    pub percentile: f64,
    /// The best configuration's headroom, when asked and some configuration met the SLO.
    pub headroom: Option<Headroom>,
    /// The shard this plan searched ([`Shard::ALL`]: all of it).
    pub shard: Shard,
}

impl Plan {
    /// The best configuration meeting the SLO over all choices, or `None`: the cheapest (ties:
    /// higher goodput, then the earlier choice); with a rate range, the most load per unit of
    /// cost (ties: the same).
    pub fn best(&self) -> Option<(usize, &Probe)> {
        let rate = matches!(self.search, Search::RateScale(_));
        self.choices
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.chosen.map(|k| (i, &c.probes[k])))
            .min_by(|(ia, a), (ib, b)| {
                let first = if rate {
                    (b.rate_scale / b.cost).total_cmp(&(a.rate_scale / a.cost))
                } else {
                    a.cost.total_cmp(&b.cost)
                };
                first
                    .then(
                        b.goodput_requests_per_s
                            .total_cmp(&a.goodput_requests_per_s),
                    )
                    .then(ia.cmp(ib))
            })
    }

    /// When nothing meets the SLO: the probe of highest attainment (ties: cheaper, earlier).
    pub fn closest(&self) -> Option<(usize, &Probe)> {
        self.choices
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.probes.iter().map(move |p| (i, p)))
            .min_by(|(ia, a), (ib, b)| {
                b.slo_attainment
                    .total_cmp(&a.slo_attainment)
                    .then(a.cost.total_cmp(&b.cost))
                    .then(ia.cmp(ib))
            })
    }

    /// Probes run (configurations tried), over all choices and the headroom search.
    pub fn probes(&self) -> usize {
        self.all_probes().count()
    }

    /// Simulation runs (probes x seeds).
    pub fn runs(&self) -> usize {
        self.all_probes().map(|p| p.runs).sum()
    }

    /// Runs found complete in the output folder (`--resume`) rather than run.
    pub fn reused_runs(&self) -> usize {
        self.all_probes().map(|p| p.reused).sum()
    }

    /// Every probe: the choices' in order, then the headroom search's.
    pub fn all_probes(&self) -> impl Iterator<Item = &Probe> {
        self.choices
            .iter()
            .flat_map(|c| &c.probes)
            .chain(self.headroom.iter().flat_map(|h| &h.probes))
    }

    /// Pairs of probes of one choice, `(choice, lower, higher)` on the searched axis, that
    /// contradict its monotonicity: more instances attained less, or more load attained more.
    pub fn non_monotone(&self) -> Vec<(usize, &Probe, &Probe)> {
        let rate = matches!(self.search, Search::RateScale(_));
        let mut out = Vec::new();
        for (i, c) in self.choices.iter().enumerate() {
            let mut sorted: Vec<&Probe> = c.probes.iter().collect();
            if rate {
                sorted.sort_by(|a, b| a.rate_scale.total_cmp(&b.rate_scale));
            } else {
                sorted.sort_by_key(|p| p.instances);
            }
            for (k, a) in sorted.iter().enumerate() {
                for b in &sorted[k + 1..] {
                    let contradicts = if rate {
                        b.slo_attainment > a.slo_attainment
                    } else {
                        b.slo_attainment < a.slo_attainment
                    };
                    if contradicts {
                        out.push((i, *a, *b));
                    }
                }
            }
        }
        out
    }
}

/// The counts bisection probes to find the smallest `n` in `lo..=hi` with `meets(n)`, assuming
/// `meets` is monotone: `hi` first, then halving `[lo, hi)`. Returns the probes in order and
/// the answer (`None` when `hi` misses).
pub fn bisect(
    lo: u32,
    hi: u32,
    mut meets: impl FnMut(u32) -> crate::error::Result<bool>,
) -> crate::error::Result<(Vec<u32>, Option<u32>)> {
    let mut probed = vec![hi];
    if !meets(hi)? {
        return Ok((probed, None));
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        probed.push(mid);
        if meets(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok((probed, Some(hi)))
}

/// The largest `k` in `0..count` with `meets(k)`, `meets` taken as decreasing in `k` (more
/// load meets the SLO less): [`bisect`] on the reversed axis, so `k = 0` first (`None` when it
/// misses), at most `1 + ceil(log2(count))` calls. `first_known`: `meets(0)` is known true and
/// not called (the headroom search starts from a configuration that met the SLO).
pub fn largest_meeting(
    count: u32,
    first_known: bool,
    mut meets: impl FnMut(u32) -> crate::error::Result<bool>,
) -> crate::error::Result<Option<u32>> {
    let top = count.saturating_sub(1);
    let (_, found) = bisect(0, top, |n| {
        let k = top - n;
        if first_known && k == 0 {
            return Ok(true);
        }
        meets(k)
    })?;
    Ok(found.map(|n| top - n))
}

/// Every combination of the list axes' values (the first axis varies slowest).
fn choices(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for a in axes {
        if let Axis::List { path, values } = a {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push((path.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
    }
    out
}

/// What the axes search within a choice (at most one range, checked by [`check`]).
fn search_of(axes: &[Axis]) -> Search {
    axes.iter()
        .find_map(|a| match a {
            Axis::Instances { lo, hi } => Some(Search::Instances { lo: *lo, hi: *hi }),
            Axis::RateScale(g) => Some(Search::RateScale(*g)),
            Axis::List { .. } => None,
        })
        .unwrap_or(Search::Fixed)
}

/// Where a probe sits: its choice, instance count and rate scale (`None`: the scenario's).
#[derive(Debug, Clone, Copy)]
struct At<'a> {
    choice: usize,
    values: &'a [(String, String)],
    instances: Option<u32>,
    rate_scale: Option<f64>,
    /// A probe of the headroom search.
    headroom: bool,
}

impl<'a> At<'a> {
    fn of(choice: usize, values: &'a [(String, String)]) -> At<'a> {
        At {
            choice,
            values,
            instances: None,
            rate_scale: None,
            headroom: false,
        }
    }
}

/// The scenario of one run: the request's overrides, the choice's values, the count, the
/// rate scale, the seed.
fn scenario_of(
    req: &PlanRequest,
    at: At,
    seed: Option<u64>,
) -> Result<Scenario, scenario::ScenarioError> {
    let mut o = req.overrides.clone();
    o.extend(at.values.iter().map(|(p, v)| format!("{p}={v}")));
    o.extend(at.instances.map(|n| format!("{}={n}", axes::INSTANCES)));
    o.extend(at.rate_scale.map(|r| format!("{}={r}", axes::RATE_SCALE)));
    o.extend(seed.map(|s| format!("seed={s}")));
    scenario::load_with_limits(req.scenario.as_deref(), &o, req.limits)
}

/// The headroom grid `base..=max` in steps of [`axes::DEFAULT_RATE_STEP`].
fn headroom_grid(base: f64, max: f64) -> crate::error::Result<RateGrid> {
    if max.is_nan() || max <= base {
        return Err(input_error(format!(
            "--headroom {max} must be above the scenario's workload.rate_scale {base}"
        )));
    }
    RateGrid::new(base, max, axes::DEFAULT_RATE_STEP).ok_or_else(|| {
        input_error(format!(
            "--headroom {max}: more than {} rates in steps of {} above {base}",
            axes::MAX_RATE_POINTS,
            axes::DEFAULT_RATE_STEP
        ))
    })
}

/// Checks the request before anything runs: axes on distinct paths, at most one range, an
/// SLO, a folder for `--shard` / `--resume`, and every choice's scenario valid, with a cost, at
/// both ends of the range.
fn check(req: &PlanRequest) -> crate::error::Result<()> {
    for (i, a) in req.axes.iter().enumerate() {
        if req.axes[..i].iter().any(|b| b.path() == a.path()) {
            return Err(input_error(format!("--vary {} given twice", a.path())));
        }
    }
    let ranges = req
        .axes
        .iter()
        .filter(|a| !matches!(a, Axis::List { .. }))
        .count();
    if ranges > 1 {
        return Err(input_error(format!(
            "--vary: at most one range ({} or {}) is searched; give the other a list of values",
            axes::INSTANCES,
            axes::RATE_SCALE
        )));
    }
    let search = search_of(&req.axes);
    if req.headroom.is_some() && matches!(search, Search::RateScale(_)) {
        return Err(input_error(
            "--headroom with a workload.rate_scale range: the range already searches the largest load that meets the SLO",
        ));
    }
    if req.out.is_none() && (req.resume || req.shard != Shard::ALL) {
        return Err(input_error(
            "--resume and --shard need --out: the folder that keeps the probes' runs",
        ));
    }
    let ends: Vec<(Option<u32>, Option<f64>)> = match search {
        Search::Fixed => vec![(None, None)],
        Search::Instances { lo, hi } => vec![(Some(lo), None), (Some(hi), None)],
        Search::RateScale(g) => vec![(None, Some(g.lo)), (None, Some(g.hi()))],
    };
    for (choice, values) in choices(&req.axes).iter().enumerate() {
        for &(instances, rate_scale) in &ends {
            let at = At {
                instances,
                rate_scale: rate_scale.or(req.headroom),
                ..At::of(choice, values)
            };
            let s = scenario_of(req, at, None)?;
            if let Some(max) = req.headroom {
                let base = scenario_of(
                    req,
                    At {
                        rate_scale: None,
                        ..at
                    },
                    None,
                )?;
                headroom_grid(base.workload.rate_scale, max)?;
            }
            if s.slo.is_none() {
                return Err(input_error(
                    "no SLO: give --slo KEY=VALUE,... (ttft_ms, tpot_ms, e2e_ms, percentile) or an `slo` block in the scenario",
                ));
            }
            cost_of(&s, req.cost.as_ref())?;
        }
    }
    Ok(())
}

/// The record of the plan in its folder: what decides the choices' probes (the base scenario
/// with `--set` and `--slo`, `--vary`, `--seeds`), hashed. `--cost`, `--headroom` and `--jobs`
/// may change between runs on one folder (headroom runs are checked one by one).
fn record(req: &PlanRequest) -> crate::error::Result<ResolvedSweep> {
    let base = scenario_of(req, At::of(0, &[]), None)?;
    let mut spec = Mapping::new();
    spec.insert("scenario".into(), serde_norway::to_value(&base.raw)?);
    spec.insert(
        "vary".into(),
        Value::Sequence(
            req.axes
                .iter()
                .map(|a| Value::String(a.canonical()))
                .collect(),
        ),
    );
    spec.insert("seeds".into(), req.seeds.map_or(Value::Null, Value::from));
    let spec = Value::Mapping(spec);
    Ok(ResolvedSweep {
        kvcsim_version: KVCSIM_VERSION.into(),
        spec_hash: crate::sweep::hash_text(&serde_norway::to_string(&spec)?),
        shard: None,
        parameters: req.axes.iter().map(|a| a.path().to_string()).collect(),
        spec,
        points: Vec::new(),
    })
}

/// Runs one probe: every seed, in parallel (or reads them back, `--resume`).
fn probe(req: &PlanRequest, dir: Option<&PlanDir>, at: At) -> crate::error::Result<Probe> {
    let seeds: Vec<Option<u64>> = match req.seeds {
        Some(n) => (1..=n).map(Some).collect(),
        None => vec![None],
    };
    let runs: Vec<(Scenario, RunSummary, bool)> = seeds
        .par_iter()
        .map(|&seed| {
            let s = scenario_of(req, at, seed)?;
            let (summary, reused) = match dir {
                Some(d) => {
                    let rate = at.rate_scale.map(|r| (r, at.headroom));
                    d.run(&run_path(at.choice, s.instances, rate, s.seed), &s)?
                }
                None => (simulate(&s, &mut ())?.1, false),
            };
            Ok((s, summary, reused))
        })
        .collect::<crate::error::Result<_>>()?;
    let s = &runs[0].0;
    let n = runs.len() as f64;
    let mean = |f: fn(&RunSummary) -> Option<f64>| {
        runs.iter()
            .map(|(_, r, _)| f(r).unwrap_or(0.0))
            .sum::<f64>()
            / n
    };
    Ok(Probe {
        choice: at.choice,
        instances: s.instances,
        rate_scale: s.workload.rate_scale,
        gpus: gpus(s),
        cost: cost_of(s, req.cost.as_ref())?,
        slo_attainment: runs
            .iter()
            .map(|(_, r, _)| r.slo_attainment.unwrap_or(0.0))
            .fold(f64::INFINITY, f64::min),
        goodput_requests_per_s: mean(|r| r.goodput_requests_per_s),
        goodput_per_gpu: mean(|r| r.goodput_per_gpu),
        meets_slo: runs.iter().all(|(_, r, _)| r.slo_met == Some(true)),
        runs: runs.len(),
        reused: runs.iter().filter(|(_, _, reused)| *reused).count(),
    })
}

/// Runs a probe, keeps it in `probes`, and says whether it met the SLO.
fn probe_into(
    req: &PlanRequest,
    dir: Option<&PlanDir>,
    at: At,
    probes: &mut Vec<Probe>,
) -> crate::error::Result<bool> {
    let p = probe(req, dir, at)?;
    let met = p.meets_slo;
    probes.push(p);
    Ok(met)
}

/// [`largest_meeting`] over the rates of `grid` at `at`, its probes kept in `probes`.
fn search_rates(
    req: &PlanRequest,
    dir: Option<&PlanDir>,
    at: At,
    grid: RateGrid,
    first_known: bool,
    probes: &mut Vec<Probe>,
) -> crate::error::Result<Option<u32>> {
    largest_meeting(grid.count, first_known, |k| {
        let at = At {
            rate_scale: Some(grid.value(k)),
            ..at
        };
        probe_into(req, dir, at, probes)
    })
}

/// One choice's search.
fn search_choice(
    req: &PlanRequest,
    dir: Option<&PlanDir>,
    search: Search,
    at: At,
) -> crate::error::Result<Choice> {
    let mut probes = Vec::new();
    let chosen = match search {
        Search::Instances { lo, hi } => {
            let (_, found) = bisect(lo, hi, |n| {
                let at = At {
                    instances: Some(n),
                    ..at
                };
                probe_into(req, dir, at, &mut probes)
            })?;
            found.and_then(|n| probes.iter().position(|p| p.instances == n))
        }
        Search::RateScale(grid) => {
            let found = search_rates(req, dir, at, grid, false, &mut probes)?;
            found.and_then(|k| probes.iter().position(|p| p.rate_scale == grid.value(k)))
        }
        Search::Fixed => {
            probes.push(probe(req, dir, at)?);
            probes[0].meets_slo.then_some(0)
        }
    };
    Ok(Choice {
        values: at.values.to_vec(),
        probes,
        chosen,
    })
}

/// Plans: checks the request, opens the folder, then searches every choice of the shard in a
/// pool of `req.jobs` threads, then (whole plans only) the best configuration's headroom.
pub fn plan(req: &PlanRequest) -> crate::error::Result<Plan> {
    check(req)?;
    let search = search_of(&req.axes);
    let all = choices(&req.axes);
    let dir = match &req.out {
        Some(out) => Some(PlanDir::open(out, &record(req)?, req.shard, req.resume)?),
        None => None,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(req.jobs.max(1))
        .thread_name(|i| format!("kvcsim-plan-{i}"))
        .build()?;
    let searched: Vec<Choice> = pool.install(|| {
        all.par_iter()
            .enumerate()
            .map(|(i, values)| {
                if req.shard.contains(i as u64) {
                    search_choice(req, dir.as_ref(), search, At::of(i, values))
                } else {
                    Ok(Choice {
                        values: values.clone(),
                        probes: Vec::new(),
                        chosen: None,
                    })
                }
            })
            .collect::<crate::error::Result<_>>()
    })?;
    let percentile = scenario_of(req, At::of(0, &all[0]), None)?
        .slo
        .map_or(99.0, |s| s.percentile);
    let mut plan = Plan {
        choices: searched,
        search,
        percentile,
        headroom: None,
        shard: req.shard,
    };
    if req.shard == Shard::ALL
        && let (Some(max), Some((choice, best))) = (req.headroom, plan.best())
    {
        let at = At {
            instances: Some(best.instances),
            headroom: true,
            ..At::of(choice, &all[choice])
        };
        let grid = headroom_grid(best.rate_scale, max)?;
        plan.headroom = Some(pool.install(|| headroom(req, dir.as_ref(), at, grid))?);
    }
    if let Some(d) = &dir {
        d.finish()?;
    }
    Ok(plan)
}

/// The largest rate scale of `grid` at which `at` meets the SLO, known to meet it at the
/// grid's first rate (the best configuration's own, not run again).
fn headroom(
    req: &PlanRequest,
    dir: Option<&PlanDir>,
    at: At,
    grid: RateGrid,
) -> crate::error::Result<Headroom> {
    let mut probes = Vec::new();
    let k = search_rates(req, dir, at, grid, true, &mut probes)?.unwrap_or(0);
    Ok(Headroom {
        rate_scale: if k == 0 { grid.lo } else { grid.value(k) },
        at_limit: k + 1 == grid.count,
        probes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_every_threshold_within_eleven_probes() {
        // 1..=1024: hi first, then 10 halvings of [1, 1024).
        for threshold in 1..=1025u32 {
            let (probed, found) = bisect(1, 1024, |n| Ok(n >= threshold)).unwrap();
            assert_eq!(found, (threshold <= 1024).then_some(threshold));
            assert!(probed.len() <= 11, "{threshold}: {probed:?}");
            let mut unique = probed.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), probed.len(), "no count probed twice");
        }
        assert_eq!(bisect(5, 5, |_| Ok(true)).unwrap(), (vec![5], Some(5)));
    }

    #[test]
    fn largest_meeting_finds_every_threshold_on_the_reversed_axis() {
        // 751 rates (0.5..8 in steps of 0.01): at most 1 + ceil(log2 751) = 11 calls.
        for count in [1u32, 2, 3, 751] {
            for threshold in 0..=count {
                // meets(k) for k < threshold: decreasing in k.
                for first_known in [false, true] {
                    if first_known && threshold == 0 {
                        continue;
                    }
                    let mut calls = Vec::new();
                    let found = largest_meeting(count, first_known, |k| {
                        calls.push(k);
                        Ok(k < threshold)
                    })
                    .unwrap();
                    assert_eq!(found, threshold.checked_sub(1), "{count} {threshold}");
                    assert!(calls.len() <= 11, "{calls:?}");
                    assert!(!first_known || !calls.contains(&0), "{calls:?}");
                    let mut unique = calls.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    assert_eq!(unique.len(), calls.len(), "no rate probed twice");
                }
            }
        }
    }

    #[test]
    fn choices_are_the_product_of_the_lists() {
        let axes = [
            Axis::parse("cluster.gpu=h100-sxm,h200").unwrap(),
            Axis::parse("cluster.instances=1..8").unwrap(),
            Axis::parse("cluster.tensor_parallel=1,2").unwrap(),
        ];
        let c = choices(&axes);
        assert_eq!(c.len(), 4);
        assert_eq!(c[1][0].1, "h100-sxm");
        assert_eq!(c[1][1], ("cluster.tensor_parallel".into(), "2".into()));
    }
}
