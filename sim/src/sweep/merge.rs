//! `kvcsim sweep merge DIR... --out DIR`: shard folders of one sweep into one dataset.
//!
//! Every input must record the same spec hash and kvcsim version. Each point is taken from the
//! first input holding it complete (a success before a failure); a point found in none is an
//! error. The output gets the points' folders (hard-linked where possible), the unsharded
//! `sweep.resolved.yaml`, and `summary.parquet` and `timings.parquet` built exactly as an
//! unsharded run builds them, so merged shards equal the unsharded sweep byte for byte.

use std::path::{Path, PathBuf};

use super::SweepError;
use super::layout::{RESOLVED_FILE, SUMMARY_FILE, SweepDir, TIMINGS_FILE, load_outcome, point_dir};
use super::resolved::ResolvedSweep;
use super::results::{PointOutcome, summary_table, timings_table};
use super::runner::failures;

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    /// Points in the merged sweep.
    pub points: usize,
    /// Failed points: id and error.
    pub failed: Vec<(u64, String)>,
}

/// Why a point folder that exists holds no readable outcome (`None` when it is absent or
/// fine): a `_SUCCESS` beside a missing or malformed `summary.json`.
fn corrupt_point(dir: &Path) -> Option<String> {
    use super::layout::{FAILED_MARKER, POINT_SUMMARY_FILE, SUCCESS_MARKER};
    if !dir.is_dir() {
        return None;
    }
    let summary = dir.join(POINT_SUMMARY_FILE);
    if dir.join(SUCCESS_MARKER).is_file() {
        let why = match std::fs::read_to_string(&summary) {
            Err(e) => format!("cannot read {}: {e}", summary.display()),
            Ok(text) => match serde_json::from_str::<crate::output::summary::RunSummary>(&text) {
                Err(e) => format!("{} is not a run summary: {e}", summary.display()),
                Ok(_) => return None,
            },
        };
        return Some(why);
    }
    if dir.join(FAILED_MARKER).is_file() {
        return None;
    }
    Some(format!(
        "{} has neither {SUCCESS_MARKER} nor {FAILED_MARKER}",
        dir.display()
    ))
}

/// Merges the sweep folders `inputs` into `out`.
pub fn merge(inputs: &[PathBuf], out: &Path) -> crate::error::Result<MergeReport> {
    let Some(first) = inputs.first() else {
        return Err(SweepError::folder(out, "give at least one shard folder to merge").into());
    };
    let mut sweeps = Vec::with_capacity(inputs.len());
    for dir in inputs {
        let resolved = ResolvedSweep::read(&dir.join(RESOLVED_FILE))?.ok_or_else(|| {
            SweepError::folder(
                dir,
                format!("holds no {RESOLVED_FILE}: not the output of `kvcsim sweep`"),
            )
        })?;
        sweeps.push(resolved);
    }
    let mut resolved = sweeps[0].clone();
    for (dir, other) in inputs.iter().zip(&sweeps).skip(1) {
        if let Some(why) = resolved.mismatch(other) {
            return Err(SweepError::folder(
                dir,
                format!(
                    "is not a shard of the same sweep as {} ({why}); only shards of one spec merge",
                    first.display()
                ),
            )
            .into());
        }
    }
    resolved.shard = None;

    let mut sources = Vec::with_capacity(resolved.points.len());
    let mut missing = Vec::new();
    for p in &resolved.points {
        let found: Vec<(PathBuf, PointOutcome)> = inputs
            .iter()
            .map(|d| point_dir(d, p.point_id))
            .filter_map(|d| load_outcome(&d).map(|o| (d, o)))
            .collect();
        let best = found
            .iter()
            .find(|(_, o)| matches!(o, PointOutcome::Ok(_)))
            .or(found.first());
        match best {
            Some(b) => sources.push(b.clone()),
            None => {
                // Present but unreadable is not "missing": name the folder and the file.
                if let Some(why) = inputs
                    .iter()
                    .find_map(|d| corrupt_point(&point_dir(d, p.point_id)))
                {
                    return Err(SweepError::folder(
                        out,
                        format!(
                            "point {} cannot be merged: {why}; rerun that shard with --resume",
                            p.point_id
                        ),
                    )
                    .into());
                }
                missing.push(p.point_id.to_string());
            }
        }
    }
    if !missing.is_empty() {
        let shown = missing
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SweepError::folder(
            out,
            format!(
                "{} of {} points are in none of the inputs ({shown}{}): run their shards (or resume them) first",
                missing.len(),
                resolved.points.len(),
                if missing.len() > 10 { ", ..." } else { "" }
            ),
        )
        .into());
    }

    let dir = SweepDir::open(out, &resolved)?;
    resolved.write(&dir.file(RESOLVED_FILE))?;
    for (p, (source, _)) in resolved.points.iter().zip(&sources) {
        dir.copy_point(p.point_id, source)?;
    }
    let outcomes: Vec<PointOutcome> = sources.into_iter().map(|(_, o)| o).collect();
    summary_table(&resolved.parameters, &resolved.points, &outcomes)
        .write_parquet(&dir.file(SUMMARY_FILE))?;
    timings_table(&resolved.points, &outcomes).write_parquet(&dir.file(TIMINGS_FILE))?;
    dir.finish()?;
    Ok(MergeReport {
        points: resolved.points.len(),
        failed: failures(&resolved.points, &outcomes),
    })
}
