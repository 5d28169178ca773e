//! The sweep folder: where each file lives, which folders may be used, and how a point is
//! written so that `points/` never holds half of one.
//!
//! ```text
//!  DIR/sweep.resolved.yaml
//!  DIR/summary.parquet, DIR/timings.parquet
//!  DIR/points/point=7/      requests.parquet timeseries.parquet scenario.resolved.yaml
//!                           summary.json (no wall-clock keys) timings.json _SUCCESS
//!                           (or only _FAILED: the error)
//!  DIR/.tmp/point=7.PID/    a point being written; renamed into points/ when complete
//! ```
//!
//! Folder names are Hive partitions: readers add a `point` column parsed from them. Ids are not
//! zero-padded, so DuckDB, pyarrow and polars all type it as an integer equal to `point_id`
//! (DuckDB keeps `0007` a string). The markers start with `_`, which Parquet dataset readers
//! skip, and are written last.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Context;
use serde::{Deserialize, Serialize};

use super::SweepError;
use super::resolved::ResolvedSweep;
use super::results::PointOutcome;
use crate::output::summary::RunSummary;
use crate::output::{prepare_dir, write_text_atomic};

/// The record of the sweep in its folder.
pub const RESOLVED_FILE: &str = "sweep.resolved.yaml";
/// One row per point.
pub const SUMMARY_FILE: &str = "summary.parquet";
/// Wall-clock measurements per point.
pub const TIMINGS_FILE: &str = "timings.parquet";
/// Marker of a point whose run outputs are all written.
pub const SUCCESS_MARKER: &str = "_SUCCESS";
/// Marker of a failed point; holds the error message.
pub const FAILED_MARKER: &str = "_FAILED";
/// A point's `summary.json`: the run's, less the wall-clock values.
pub const POINT_SUMMARY_FILE: &str = "summary.json";
/// A point's wall-clock values (`wall_s`, `events_per_s`), the only non-deterministic file.
pub const POINT_TIMINGS_FILE: &str = "timings.json";
const POINTS: &str = "points";
const TMP: &str = ".tmp";

/// A sweep output folder.
#[derive(Debug, Clone)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    /// Opens `root` for the sweep `want`, creating it if needed. It must be new, empty, or hold
    /// the same sweep (same spec hash and kvcsim version); anything else is refused, so that two
    /// sweeps never mix in one folder. Clears what an interrupted writer left in `.tmp/`.
    pub fn open(root: &Path, want: &ResolvedSweep) -> crate::error::Result<SweepDir> {
        let dir = SweepDir::open_as(root, want, RESOLVED_FILE, true)?;
        fs::create_dir_all(root.join(POINTS))?;
        Ok(dir)
    }

    /// [`SweepDir::open`] for a folder whose record `want` lives in `record_file` (a sweep's
    /// `sweep.resolved.yaml`, a plan's `plan.resolved.yaml`); `.tmp/` is cleared only when
    /// `clear_tmp` (not while other processes, such as a plan's shards, may write into it).
    pub fn open_as(
        root: &Path,
        want: &ResolvedSweep,
        record_file: &str,
        clear_tmp: bool,
    ) -> crate::error::Result<SweepDir> {
        prepare_dir(root)?;
        let kind = record_file.split('.').next().unwrap_or(record_file);
        match ResolvedSweep::read(&root.join(record_file))? {
            Some(have) => {
                if let Some(why) = want.mismatch(&have) {
                    return Err(SweepError::folder(
                        root,
                        format!(
                            "holds another {kind} ({why}); give a new --out folder or delete this one"
                        ),
                    )
                    .into());
                }
            }
            None => {
                let mut entries = fs::read_dir(root)
                    .with_context(|| format!("cannot list {}", root.display()))?;
                if entries.next().is_some() {
                    return Err(SweepError::folder(
                        root,
                        format!("is not empty and holds no {record_file}; give a new or empty --out folder"),
                    )
                    .into());
                }
            }
        }
        let tmp = root.join(TMP);
        if clear_tmp && tmp.exists() {
            fs::remove_dir_all(&tmp).with_context(|| format!("cannot clear {}", tmp.display()))?;
        }
        Ok(SweepDir {
            root: root.to_path_buf(),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file at the top of the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The folder of a complete point.
    pub fn point_dir(&self, id: u64) -> PathBuf {
        point_dir(&self.root, id)
    }

    /// The outcome of a point already in `points/`: `None` when it is absent or unreadable.
    pub fn load_outcome(&self, id: u64) -> Option<PointOutcome> {
        load_outcome(&self.point_dir(id))
    }

    /// Runs `write` into a fresh temporary folder for point `id`, marks it `_SUCCESS` (or, when
    /// `write` fails, empties it and writes the error into `_FAILED`), and renames it into
    /// `points/`, replacing an older copy.
    pub fn write_point(
        &self,
        id: u64,
        write: impl FnOnce(&Path) -> Result<(), String>,
    ) -> crate::error::Result<()> {
        self.write_folder(&self.point_dir(id), &format!("point={id}"), write)
    }

    /// [`SweepDir::write_point`] into any folder `dest` (a plan's probe run), through the
    /// temporary folder `.tmp/<tmp_name>.<pid>`.
    pub fn write_folder(
        &self,
        dest: &Path,
        tmp_name: &str,
        write: impl FnOnce(&Path) -> Result<(), String>,
    ) -> crate::error::Result<()> {
        let tmp = self.fresh_tmp(tmp_name)?;
        match write(&tmp) {
            Ok(()) => write_text_atomic(&tmp.join(SUCCESS_MARKER), "")?,
            Err(message) => {
                let tmp = self.fresh_tmp(tmp_name)?;
                write_text_atomic(&tmp.join(FAILED_MARKER), &(message + "\n"))?;
            }
        }
        install(dest, &tmp)
    }

    /// Copies a complete point folder of another sweep folder into this one (hard links where
    /// the file system allows, as the files are never modified in place), markers last.
    pub fn copy_point(&self, id: u64, source: &Path) -> crate::error::Result<()> {
        let dest = self.point_dir(id);
        if dest.exists() && fs::canonicalize(&dest)? == fs::canonicalize(source)? {
            return Ok(());
        }
        let tmp = self.fresh_tmp(&format!("point={id}"))?;
        let mut names: Vec<_> = fs::read_dir(source)
            .with_context(|| format!("cannot list {}", source.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        // Markers last: sort by (is marker, name).
        names.sort_by_key(|n| (n == SUCCESS_MARKER || n == FAILED_MARKER, n.clone()));
        for name in names {
            let (from, to) = (source.join(&name), tmp.join(&name));
            if !from.is_file() {
                continue;
            }
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).with_context(|| {
                    format!("cannot copy {} to {}", from.display(), to.display())
                })?;
            }
        }
        install(&dest, &tmp)
    }

    /// Removes `.tmp/` once every point is in place.
    pub fn finish(&self) -> crate::error::Result<()> {
        let tmp = self.root.join(TMP);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
        }
        Ok(())
    }

    fn fresh_tmp(&self, name: &str) -> crate::error::Result<PathBuf> {
        let tmp = self
            .root
            .join(TMP)
            .join(format!("{name}.{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(tmp)
    }
}

/// Renames the complete folder `tmp` to `dest` (creating its parents), replacing an older copy.
fn install(dest: &Path, tmp: &Path) -> crate::error::Result<()> {
    if dest.exists() {
        fs::remove_dir_all(dest).with_context(|| format!("cannot replace {}", dest.display()))?;
    } else if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::rename(tmp, dest).with_context(|| format!("cannot move {} into place", dest.display()))
}

#[derive(Serialize, Deserialize)]
struct PointTimings {
    wall_s: Option<f64>,
    events_per_s: Option<f64>,
}

/// Writes a point's `summary.json` (deterministic: without the wall-clock values) and its
/// `timings.json`.
pub fn write_point_summary(dir: &Path, summary: &RunSummary) -> crate::error::Result<()> {
    let timings = PointTimings {
        wall_s: summary.wall_s,
        events_per_s: summary.events_per_s,
    };
    let deterministic = RunSummary {
        wall_s: None,
        events_per_s: None,
        ..summary.clone()
    };
    write_text_atomic(
        &dir.join(POINT_SUMMARY_FILE),
        &(serde_json::to_string_pretty(&deterministic)? + "\n"),
    )?;
    Ok(write_text_atomic(
        &dir.join(POINT_TIMINGS_FILE),
        &(serde_json::to_string_pretty(&timings)? + "\n"),
    )?)
}

/// The folder of point `id` in the sweep folder `root`.
pub fn point_dir(root: &Path, id: u64) -> PathBuf {
    root.join(POINTS).join(format!("point={id}"))
}

/// The outcome recorded in a point folder: its `summary.json` (with `timings.json`) under
/// `_SUCCESS`, or the message of `_FAILED`; `None` when neither marker is there or the summary
/// does not parse.
pub fn load_outcome(dir: &Path) -> Option<PointOutcome> {
    if dir.join(SUCCESS_MARKER).is_file() {
        let text = fs::read_to_string(dir.join(POINT_SUMMARY_FILE)).ok()?;
        let mut summary: RunSummary = serde_json::from_str(&text).ok()?;
        if let Some(t) = fs::read_to_string(dir.join(POINT_TIMINGS_FILE))
            .ok()
            .and_then(|t| serde_json::from_str::<PointTimings>(&t).ok())
        {
            summary.wall_s = t.wall_s;
            summary.events_per_s = t.events_per_s;
        }
        Some(PointOutcome::Ok(Box::new(summary)))
    } else {
        let text = fs::read_to_string(dir.join(FAILED_MARKER)).ok()?;
        let message = text.strip_suffix('\n').unwrap_or(&text).to_string();
        Some(PointOutcome::Failed(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::resolved::KVCSIM_VERSION;

    fn resolved(hash: &str, points: usize) -> ResolvedSweep {
        ResolvedSweep {
            kvcsim_version: KVCSIM_VERSION.into(),
            spec_hash: hash.into(),
            shard: None,
            parameters: vec![],
            spec: serde_norway::Value::Null,
            points: (0..points as u64)
                .map(|i| super::super::PointRecord {
                    point_id: i,
                    seed: 1,
                    parameters: Default::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn refuses_another_sweep_and_foreign_folders() {
        let dir = tempfile::tempdir().unwrap();
        let a = resolved("aaaa", 3);
        let d = SweepDir::open(dir.path(), &a).unwrap();
        a.write(&d.file(RESOLVED_FILE)).unwrap();
        assert!(SweepDir::open(dir.path(), &a).is_ok());
        let err = SweepDir::open(dir.path(), &resolved("bbbb", 3)).unwrap_err();
        assert!(
            format!("{err:#}").contains("holds another sweep"),
            "{err:#}"
        );
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("notes.txt"), "x").unwrap();
        let err = SweepDir::open(other.path(), &a).unwrap_err();
        assert!(format!("{err:#}").contains("is not empty"), "{err:#}");
    }

    #[test]
    fn a_failed_point_keeps_only_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = SweepDir::open(dir.path(), &resolved("aaaa", 12)).unwrap();
        d.write_point(7, |tmp| {
            std::fs::write(tmp.join("requests.parquet"), "half").unwrap();
            Err("trace.jsonl line 3: bad".into())
        })
        .unwrap();
        let p = d.point_dir(7);
        assert!(p.ends_with("points/point=7"));
        let names: Vec<_> = std::fs::read_dir(&p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FAILED_MARKER)]);
        assert!(
            matches!(d.load_outcome(7), Some(PointOutcome::Failed(m)) if m == "trace.jsonl line 3: bad")
        );
        assert!(d.load_outcome(3).is_none());
        d.finish().unwrap();
        assert!(!dir.path().join(TMP).exists());
    }
}
