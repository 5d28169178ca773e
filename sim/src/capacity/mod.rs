//! `kvcsim plan`: the cheapest configurations that meet an SLO.
//!
//! ```text
//!  base scenario + --set + --slo ──▶ choices: the product of the --vary lists (enumerated)
//!                                       │ in parallel (rayon, --jobs threads)
//!                                       ▼
//!         per choice: bisection over cluster.instances LO..HI; each probe = one pure run
//!         per seed (--seeds N: seeds 1..=N), the probe meets the SLO when every seed does
//!                                       ▼
//!  plan.parquet (every probe, Pareto set marked), table / --json of the cheapest per choice
//! ```
//!
//! **Search.** "Meets the SLO" is taken as monotone in the instance count: probe `HI` first
//! (if it misses, no count in the range meets the SLO, and `HI` is reported as the closest),
//! then bisect `[LO, HI)` keeping "`hi` meets": at most `1 + ceil(log2(HI - LO + 1))` probes,
//! 11 for 1..1024. Galloping up from `LO` (1, 2, 4, ...) then bisecting would find small
//! answers in fewer probes but takes up to `2 log2` (20 for 1..1024). Each choice's search is
//! a fixed sequence of pure runs, so the result does not depend on `--jobs`.
//!
//! **Monotonicity.** Bisection never probes a count above one that met the SLO or below one
//! that missed, so it cannot see a contradiction of pass and fail directly; what it reports is
//! every pair of probes of one choice where more instances gave a *lower* attainment
//! ([`Plan::non_monotone`]), which says how far the assumption bends on this workload.
//!
//! **Cost** is GPUs: instances x tensor parallelism of the probe's scenario.

pub mod axes;
mod output;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use axes::{Axis, slo_override};
pub use output::{plan_json, plan_table, plan_text};

use crate::output::summary::RunSummary;
use crate::run::{simulate, simulate_to_dir};
use crate::scenario::{self, Scenario};

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
    /// Probe run folders go to `DIR/probes/choice=C/instances=N/seed=S/` (headroom probes:
    /// `DIR/probes/headroom/rate_scale=X/seed=S/`).
    pub out: Option<PathBuf>,
    /// Search the best configuration's headroom: the largest `workload.rate_scale` up to this
    /// that still meets the SLO.
    pub headroom: Option<f64>,
    /// Size limits every probe's scenario is checked against (`--allow-large` lifts them).
    pub limits: crate::limits::Limits,
}

/// Resolution of the headroom search: rate scales are multiples of 1/100.
pub const HEADROOM_STEPS_PER_UNIT: f64 = 100.0;

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
    pub cost: u64,
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
}

/// One enumerated choice: values of the list axes, and what its search found.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `(path, value)` of each list axis.
    pub values: Vec<(String, String)>,
    /// Its probes, in the order they ran.
    pub probes: Vec<Probe>,
    /// Index into `probes` of the cheapest that meets the SLO, if any.
    pub cheapest: Option<usize>,
}

/// The result of a plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every choice, in enumeration order (the first list axis varies slowest).
    pub choices: Vec<Choice>,
    /// Whether an instance range was searched (else each choice ran at the scenario's count).
    pub searched_instances: bool,
    /// Percent of requests the SLO asks.
    pub percentile: f64,
    /// The best configuration's headroom, when asked and some configuration met the SLO.
    pub headroom: Option<Headroom>,
}

impl Plan {
    /// The cheapest configuration meeting the SLO over all choices (ties: higher goodput, then
    /// the earlier choice), or `None`.
    pub fn best(&self) -> Option<(usize, &Probe)> {
        self.choices
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.cheapest.map(|k| (i, &c.probes[k])))
            .min_by(|(ia, a), (ib, b)| {
                a.cost
                    .cmp(&b.cost)
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
                    .then(a.cost.cmp(&b.cost))
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

    /// Every probe: the choices' in order, then the headroom search's.
    pub fn all_probes(&self) -> impl Iterator<Item = &Probe> {
        self.choices
            .iter()
            .flat_map(|c| &c.probes)
            .chain(self.headroom.iter().flat_map(|h| &h.probes))
    }

    /// Pairs of probes of one choice, `(choice, fewer, more)` instances, where more instances
    /// attained less.
    pub fn non_monotone(&self) -> Vec<(usize, &Probe, &Probe)> {
        let mut out = Vec::new();
        for (i, c) in self.choices.iter().enumerate() {
            let mut sorted: Vec<&Probe> = c.probes.iter().collect();
            sorted.sort_by_key(|p| p.instances);
            for (k, a) in sorted.iter().enumerate() {
                for b in &sorted[k + 1..] {
                    if b.slo_attainment < a.slo_attainment {
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

/// Where a probe sits: its choice, instance count and rate scale (`None`: the scenario's).
#[derive(Debug, Clone, Copy)]
struct At<'a> {
    choice: usize,
    values: &'a [(String, String)],
    instances: Option<u32>,
    rate_scale: Option<f64>,
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
    o.extend(at.rate_scale.map(|r| format!("workload.rate_scale={r}")));
    o.extend(seed.map(|s| format!("seed={s}")));
    scenario::load_with_limits(req.scenario.as_deref(), &o, req.limits)
}

/// Checks the request before anything runs: axes on distinct paths, at most one range, an
/// SLO, and every choice's scenario valid at both ends of the range.
fn check(req: &PlanRequest) -> crate::error::Result<()> {
    use crate::error::input_error;
    for (i, a) in req.axes.iter().enumerate() {
        if req.axes[..i].iter().any(|b| b.path() == a.path()) {
            return Err(input_error(format!("--vary {} given twice", a.path())));
        }
    }
    let ends: Vec<Option<u32>> = match req.axes.iter().find_map(range) {
        Some((lo, hi)) => vec![Some(lo), Some(hi)],
        None => vec![None],
    };
    for (choice, values) in choices(&req.axes).iter().enumerate() {
        for &n in &ends {
            let at = At {
                choice,
                values,
                instances: n,
                rate_scale: req.headroom,
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
                if max <= base.workload.rate_scale {
                    return Err(input_error(format!(
                        "--headroom {max} must be above the scenario's workload.rate_scale {}",
                        base.workload.rate_scale
                    )));
                }
            }
            if s.slo.is_none() {
                return Err(input_error(
                    "no SLO: give --slo KEY=VALUE,... (ttft_ms, tpot_ms, e2e_ms, percentile) or an `slo` block in the scenario",
                ));
            }
        }
    }
    Ok(())
}

fn range(a: &Axis) -> Option<(u32, u32)> {
    match a {
        Axis::Instances { lo, hi } => Some((*lo, *hi)),
        Axis::List { .. } => None,
    }
}

/// Runs one probe: every seed, in parallel.
fn probe(req: &PlanRequest, at: At) -> crate::error::Result<Probe> {
    let seeds: Vec<Option<u64>> = match req.seeds {
        Some(n) => (1..=n).map(Some).collect(),
        None => vec![None],
    };
    let runs: Vec<(Scenario, RunSummary)> = seeds
        .par_iter()
        .map(|&seed| {
            let s = scenario_of(req, at, seed)?;
            let summary = match &req.out {
                Some(out) => {
                    let dir = match at.rate_scale {
                        None => probe_dir(out, at.choice, s.instances, s.seed),
                        Some(r) => out
                            .join("probes/headroom")
                            .join(format!("rate_scale={r}"))
                            .join(format!("seed={}", s.seed)),
                    };
                    crate::output::prepare_dir(&dir)?;
                    let summary = simulate_to_dir(&s, &dir, &mut ())?;
                    crate::sweep::write_point_summary(&dir, &summary)?;
                    summary
                }
                None => simulate(&s, &mut ())?.1,
            };
            Ok((s, summary))
        })
        .collect::<crate::error::Result<_>>()?;
    let s = &runs[0].0;
    let n = runs.len() as f64;
    let mean = |f: fn(&RunSummary) -> Option<f64>| {
        runs.iter().map(|(_, r)| f(r).unwrap_or(0.0)).sum::<f64>() / n
    };
    Ok(Probe {
        choice: at.choice,
        instances: s.instances,
        rate_scale: s.workload.rate_scale,
        cost: u64::from(s.instances) * u64::from(s.tensor_parallel),
        slo_attainment: runs
            .iter()
            .map(|(_, r)| r.slo_attainment.unwrap_or(0.0))
            .fold(f64::INFINITY, f64::min),
        goodput_requests_per_s: mean(|r| r.goodput_requests_per_s),
        goodput_per_gpu: mean(|r| r.goodput_per_gpu),
        meets_slo: runs.iter().all(|(_, r)| r.slo_met == Some(true)),
        runs: runs.len(),
    })
}

/// Runs a probe, keeps it in `probes`, and says whether it met the SLO.
fn probe_into(req: &PlanRequest, at: At, probes: &mut Vec<Probe>) -> crate::error::Result<bool> {
    let p = probe(req, at)?;
    let met = p.meets_slo;
    probes.push(p);
    Ok(met)
}

/// Where a probe's run for one seed writes.
pub fn probe_dir(out: &Path, choice: usize, instances: u32, seed: u64) -> PathBuf {
    out.join("probes")
        .join(format!("choice={choice}"))
        .join(format!("instances={instances}"))
        .join(format!("seed={seed}"))
}

/// Plans: checks the request, then searches every choice in a pool of `req.jobs` threads.
pub fn plan(req: &PlanRequest) -> crate::error::Result<Plan> {
    check(req)?;
    let range = req.axes.iter().find_map(range);
    let all = choices(&req.axes);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(req.jobs.max(1))
        .thread_name(|i| format!("kvcsim-plan-{i}"))
        .build()?;
    let searched: Vec<Choice> = pool.install(|| {
        all.par_iter()
            .enumerate()
            .map(|(i, values)| -> crate::error::Result<Choice> {
                let mut probes = Vec::new();
                let at = At {
                    choice: i,
                    values,
                    instances: None,
                    rate_scale: None,
                };
                let cheapest = match range {
                    Some((lo, hi)) => {
                        let (_, found) = bisect(lo, hi, |n| {
                            let at = At {
                                instances: Some(n),
                                ..at
                            };
                            probe_into(req, at, &mut probes)
                        })?;
                        found.map(|n| {
                            probes
                                .iter()
                                .position(|p| p.instances == n)
                                .expect("the answer was probed")
                        })
                    }
                    None => {
                        probes.push(probe(req, at)?);
                        probes[0].meets_slo.then_some(0)
                    }
                };
                Ok(Choice {
                    values: values.clone(),
                    probes,
                    cheapest,
                })
            })
            .collect::<crate::error::Result<_>>()
    })?;
    let first = At {
        choice: 0,
        values: &all[0],
        instances: range.map(|r| r.1),
        rate_scale: None,
    };
    let percentile = scenario_of(req, first, None)?
        .slo
        .map_or(99.0, |s| s.percentile);
    let mut plan = Plan {
        choices: searched,
        searched_instances: range.is_some(),
        percentile,
        headroom: None,
    };
    if let (Some(max), Some((choice, best))) = (req.headroom, plan.best()) {
        let at = At {
            choice,
            values: &all[choice],
            instances: Some(best.instances),
            rate_scale: None,
        };
        plan.headroom = Some(pool.install(|| headroom(req, at, best.rate_scale, max))?);
    }
    Ok(plan)
}

/// The largest rate scale in `base..=max` (steps of 1 / [`HEADROOM_STEPS_PER_UNIT`]) at which
/// `at` meets the SLO, known to meet it at `base`: bisection with the axis reversed (more load
/// never helps), `base` itself not run again.
fn headroom(req: &PlanRequest, at: At, base: f64, max: f64) -> crate::error::Result<Headroom> {
    let k_lo = (base * HEADROOM_STEPS_PER_UNIT).round() as u32;
    let k_hi = (max * HEADROOM_STEPS_PER_UNIT).floor() as u32;
    let scale = |k: u32| f64::from(k) / HEADROOM_STEPS_PER_UNIT;
    let mut probes = Vec::new();
    // n = k_lo + k_hi - k grows as the load falls, so "meets" grows with n.
    let (_, found) = bisect(k_lo, k_hi.max(k_lo), |n| {
        let k = k_lo + k_hi.max(k_lo) - n;
        if k == k_lo {
            return Ok(true);
        }
        let at = At {
            rate_scale: Some(scale(k)),
            ..at
        };
        probe_into(req, at, &mut probes)
    })?;
    let k = k_lo + k_hi.max(k_lo) - found.expect("base meets the SLO");
    Ok(Headroom {
        rate_scale: if k == k_lo { base } else { scale(k) },
        at_limit: k == k_hi,
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
