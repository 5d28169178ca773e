//! Running a plan: the points of one shard in a rayon pool of `--jobs` threads, results kept
//! in point order, then `summary.parquet` and `timings.parquet`.
//!
//! Each point is `run::simulate` of its own scenario (a pure function) and writes its folder on
//! its own, so the files do not depend on the number of threads or on which point ends first.
//! A point that fails (an error or a panic) is recorded as failed; the others go on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::str::FromStr;

use rayon::prelude::*;

use super::SweepError;
use super::layout::{RESOLVED_FILE, SUMMARY_FILE, SweepDir, TIMINGS_FILE, write_point_summary};
use super::plan::{Plan, PlannedPoint};
use super::resolved::{KVCSIM_VERSION, PointRecord, ResolvedSweep};
use super::results::{PointOutcome, summary_table, timings_table};
use crate::run::simulate_to_dir;

/// The subset `index/count`: points whose id is `index` modulo `count` (so every shard gets a
/// share of each part of the grid). `0/1` is the whole sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index (a Slurm array index or `JOB_COMPLETION_INDEX`).
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether point `id` belongs to this shard.
    pub fn contains(&self, id: u64) -> bool {
        id % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = SweepError;

    fn from_str(text: &str) -> Result<Shard, SweepError> {
        let bad = |reason: &str| SweepError::Shard {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 0/4 (K from 0 to N-1)"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| bad("K is not a non-negative integer"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a positive integer"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("K must be below N (shards are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }
}

/// How to run a sweep.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Which points.
    pub shard: Shard,
    /// Keep points already complete in the output folder.
    pub resume: bool,
}

/// Observer of a sweep's progress (the CLI's progress bar). Called from worker threads.
pub trait SweepProgress: Sync {
    /// The shard has `total` points, `kept` of them already complete (`--resume`).
    fn started(&self, _total: u64, _kept: u64) {}
    /// Point `id` ended.
    fn point_done(&self, _id: u64, _outcome: &PointOutcome) {}
}

impl SweepProgress for () {}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// Points of this shard.
    pub points: usize,
    /// Points kept from an earlier run (`--resume`).
    pub kept: usize,
    /// Failed points: id and error.
    pub failed: Vec<(u64, String)>,
}

/// The record of `plan` for the folder of `shard`.
pub fn resolved_of(plan: &Plan, shard: Shard) -> ResolvedSweep {
    ResolvedSweep {
        kvcsim_version: KVCSIM_VERSION.to_string(),
        spec_hash: plan.spec.hash.clone(),
        shard: (shard != Shard::ALL).then(|| format!("{}/{}", shard.index, shard.count)),
        parameters: plan.parameters.clone(),
        spec: plan.spec.canonical.clone(),
        points: plan.records(),
    }
}

/// Runs the points of `opts.shard` into `out` and writes the folder's tables.
pub fn run_sweep(
    plan: &Plan,
    out: &Path,
    opts: &RunOptions,
    progress: &dyn SweepProgress,
) -> crate::error::Result<SweepReport> {
    let resolved = resolved_of(plan, opts.shard);
    let dir = SweepDir::open(out, &resolved)?;
    resolved.write(&dir.file(RESOLVED_FILE))?;

    let mine: Vec<&PlannedPoint> = plan
        .points
        .iter()
        .filter(|p| opts.shard.contains(p.point.id))
        .collect();
    let kept: Vec<Option<PointOutcome>> = mine
        .iter()
        .map(|p| {
            opts.resume
                .then(|| dir.load_outcome(p.point.id))
                .flatten()
                .filter(|o| matches!(o, PointOutcome::Ok(_)))
        })
        .collect();
    let kept_count = kept.iter().filter(|k| k.is_some()).count();
    progress.started(mine.len() as u64, kept_count as u64);

    let pool = rayon::ThreadPoolBuilder::new()
        // More threads than points to run would only idle (and `--jobs 100000` would spawn
        // them all): clamp to the points left.
        .num_threads(opts.jobs.clamp(1, (mine.len() - kept_count).max(1)))
        .thread_name(|i| format!("kvcsim-sweep-{i}"))
        .build()?;
    let outcomes: Vec<PointOutcome> = pool.install(|| {
        mine.par_iter()
            .zip(kept)
            .map(|(p, kept)| {
                kept.unwrap_or_else(|| {
                    let outcome = run_point(&dir, p);
                    progress.point_done(p.point.id, &outcome);
                    outcome
                })
            })
            .collect()
    });

    let records: Vec<PointRecord> = mine.iter().map(|p| p.record()).collect();
    summary_table(&plan.parameters, &records, &outcomes).write_parquet(&dir.file(SUMMARY_FILE))?;
    timings_table(&records, &outcomes).write_parquet(&dir.file(TIMINGS_FILE))?;
    dir.finish()?;
    Ok(SweepReport {
        points: mine.len(),
        kept: kept_count,
        failed: failures(&records, &outcomes),
    })
}

/// Failed points' labels and errors.
pub(super) fn failures(records: &[PointRecord], outcomes: &[PointOutcome]) -> Vec<(u64, String)> {
    records
        .iter()
        .zip(outcomes)
        .filter_map(|(r, o)| match o {
            PointOutcome::Failed(m) => Some((r.point_id, m.clone())),
            PointOutcome::Ok(_) => None,
        })
        .collect()
}

/// Runs one point into its folder; its outcome is what the folder then says, exactly what
/// `--resume` would read back.
fn run_point(dir: &SweepDir, p: &PlannedPoint) -> PointOutcome {
    let id = p.point.id;
    let written = dir.write_point(id, |tmp| {
        let run = catch_unwind(AssertUnwindSafe(|| -> crate::error::Result<()> {
            let summary = simulate_to_dir(&p.scenario, tmp, &mut ())?;
            write_point_summary(tmp, &summary)
        }));
        match run {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(panic) => Err(format!(
                "internal error (a bug in kvcsim): {}",
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into())
            )),
        }
    });
    match written {
        Ok(()) => dir.load_outcome(id).unwrap_or_else(|| {
            PointOutcome::Failed(format!("cannot read back {}", dir.point_dir(id).display()))
        }),
        Err(e) => PointOutcome::Failed(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
        assert!(s.contains(4) && !s.contains(3));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
