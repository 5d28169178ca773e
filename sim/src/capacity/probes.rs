//! A plan's output folder: where each probe's runs live, and how they are written and reused.
//!
//! ```text
//!  DIR/plan.resolved.yaml                         the plan's record (a sweep's ResolvedSweep)
//!  DIR/plan.parquet, DIR/plan.json                 written by a whole plan (no --shard)
//!  DIR/probes/choice=C/instances=N/seed=S/         a run: as a sweep point's folder
//!  DIR/probes/choice=C/instances=N/rate_scale=X/seed=S/   (a rate-axis probe)
//!  DIR/probes/headroom/rate_scale=X/seed=S/        (a headroom probe)
//!  DIR/.tmp/...                                    runs being written
//! ```
//!
//! Runs are written through [`SweepDir::write_folder`] (`_SUCCESS` last, renamed into place),
//! so a folder under `probes/` is always whole. `--resume` reuses a run folder under
//! `_SUCCESS` whose `scenario.resolved.yaml` is byte for byte the one this run would write (the
//! same scenario, defaults, seed and kvcsim version); anything else is run again and replaced.
//! Shards of one plan may share the folder: each writes only its choices' folders, and `.tmp/`
//! is cleared only by a whole plan (run it after the shards end).

use std::path::{Path, PathBuf};

use crate::output::summary::RunSummary;
use crate::run::{RESOLVED_SCENARIO_FILE, resolved_text, simulate_to_dir};
use crate::scenario::Scenario;
use crate::sweep::{PointOutcome, ResolvedSweep, Shard, SweepDir, load_outcome};

/// The record of the plan in its folder.
pub const PLAN_RECORD_FILE: &str = "plan.resolved.yaml";

/// The folder of a run, relative to the plan's folder: its choice, count and seed, with the
/// rate scale for a rate probe (`Some((rate, false))`) or a headroom probe (`Some((rate,
/// true))`, not under its choice: the headroom is searched once, on the best configuration).
pub fn run_path(choice: usize, instances: u32, rate: Option<(f64, bool)>, seed: u64) -> PathBuf {
    let mut p = PathBuf::from("probes");
    match rate {
        Some((r, true)) => p.push(format!("headroom/rate_scale={r}")),
        Some((r, false)) => p.push(format!(
            "choice={choice}/instances={instances}/rate_scale={r}"
        )),
        None => p.push(format!("choice={choice}/instances={instances}")),
    }
    p.join(format!("seed={seed}"))
}

/// An open plan folder.
#[derive(Debug)]
pub(super) struct PlanDir {
    dir: SweepDir,
    resume: bool,
    whole: bool,
}

impl PlanDir {
    /// Opens `out` for the plan `record` (new, empty, or holding the same plan; see
    /// [`SweepDir::open_as`]) and writes the record.
    pub fn open(
        out: &Path,
        record: &ResolvedSweep,
        shard: Shard,
        resume: bool,
    ) -> crate::error::Result<PlanDir> {
        let whole = shard == Shard::ALL;
        let dir = SweepDir::open_as(out, record, PLAN_RECORD_FILE, whole)?;
        record.write(&dir.file(PLAN_RECORD_FILE))?;
        Ok(PlanDir { dir, resume, whole })
    }

    /// The summary of the run of `s` at `rel` (relative to the folder), and whether it was
    /// reused: read back from a complete folder of the same scenario under `--resume`, else
    /// run into it. Either way the summary is the one the folder holds, so a plan reads the
    /// same numbers whether it ran or resumed.
    pub fn run(&self, rel: &Path, s: &Scenario) -> crate::error::Result<(RunSummary, bool)> {
        let dest = self.dir.root().join(rel);
        let want = resolved_text(s)?;
        if self.resume
            && let Some(PointOutcome::Ok(summary)) = load_outcome(&dest)
            && std::fs::read_to_string(dest.join(RESOLVED_SCENARIO_FILE)).ok() == Some(want)
        {
            return Ok((*summary, true));
        }
        let tmp_name = rel.to_string_lossy().replace(['/', '\\'], "_");
        self.dir.write_folder(&dest, &tmp_name, |tmp| {
            simulate_to_dir(s, tmp, &mut ())
                .and_then(|summary| crate::sweep::write_point_summary(tmp, &summary))
                .map_err(|e| format!("{e:#}"))
        })?;
        match load_outcome(&dest) {
            Some(PointOutcome::Ok(summary)) => Ok((*summary, false)),
            Some(PointOutcome::Failed(m)) => Err(crate::error::internal(format!(
                "probe run {} failed: {m}",
                dest.display()
            ))),
            None => Err(crate::error::internal(format!(
                "cannot read back {}",
                dest.display()
            ))),
        }
    }

    /// Removes `.tmp/` (whole plans only: shards may be writing beside each other).
    pub fn finish(&self) -> crate::error::Result<()> {
        if self.whole {
            self.dir.finish()?;
        }
        Ok(())
    }
}
