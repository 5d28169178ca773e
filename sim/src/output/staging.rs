//! Output folders that are always one whole run: written into a staging folder beside the
//! target, then swapped into place.
//!
//! ```text
//!   parent/.out.kvcsim-staging.PID/   the run writes here (writers get this path)
//!        │  commit: write .kvcsim-output (the list of files) last, then
//!        │    rename  parent/out  -> parent/.out.kvcsim-old.PID   (if there was one)
//!        │    rename  staging     -> parent/out
//!        ▼    remove  the old folder
//!   parent/out/                       the complete run; the old one, untouched, until then
//! ```
//!
//! A reader sees the old run, then (for the instant between the two renames) no folder, then the
//! new run; never a mix. A run that is killed leaves only its staging folder, which the next run
//! into the same target removes (when the process that made it is gone). A folder is taken as a
//! previous kvcsim output only when it holds the marker [`MARKER`] and nothing the marker does
//! not list; anything else non-empty is refused unless `--force`, so `--out ~/Documents` never
//! replaces a user's files.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::OutputError;

/// The marker of a complete kvcsim output folder, written last: the files of the run, one a
/// line, after a first line `kvcsim VERSION`.
pub const MARKER: &str = ".kvcsim-output";

const STAGING: &str = "kvcsim-staging";
const OLD: &str = "kvcsim-old";

/// A run's output folder while it is being written.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Checks `target` (absent, empty, or a previous kvcsim output; anything with `force`),
    /// removes stale staging folders of dead processes beside it, and creates this run's
    /// staging folder. Nothing in `target` changes until [`commit`](Self::commit).
    pub fn begin(target: &Path, force: bool) -> Result<StagedDir, OutputError> {
        let (parent, name) = split(target)?;
        fs::create_dir_all(&parent).map_err(|e| OutputError::io("create", &parent, e))?;
        check_target(target, force)?;
        clean_stale(&parent, &name);
        let staging = parent.join(format!(".{name}.{STAGING}.{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| OutputError::io("remove", &staging, e))?;
        }
        fs::create_dir(&staging).map_err(|e| OutputError::io("create", &staging, e))?;
        Ok(StagedDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// Where the run's writers write.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Where the run will be once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes the marker, then swaps the staging folder into place of the target.
    pub fn commit(mut self) -> Result<(), OutputError> {
        let mut files: Vec<String> = fs::read_dir(&self.staging)
            .map_err(|e| OutputError::io("list", &self.staging, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let marker = std::iter::once(format!("kvcsim {}", env!("CARGO_PKG_VERSION")))
            .chain(files)
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        super::write_text_atomic(&self.staging.join(MARKER), &marker)?;
        let (parent, name) = split(&self.target)?;
        let old = parent.join(format!(".{name}.{OLD}.{}", std::process::id()));
        let had_old = match fs::rename(&self.target, &old) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(OutputError::io("move aside", &self.target, e)),
        };
        if let Err(e) = fs::rename(&self.staging, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(OutputError::io("move into place", &self.target, e));
        }
        self.committed = true;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// The target's parent folder and its name; `.` and `..` are resolved first.
fn split(target: &Path) -> Result<(PathBuf, String), OutputError> {
    let full = if target.exists() {
        fs::canonicalize(target).map_err(|e| OutputError::io("resolve", target, e))?
    } else {
        target.to_path_buf()
    };
    let name = full.file_name().map(|n| n.to_string_lossy().into_owned());
    match name {
        Some(name) if !name.is_empty() => {
            let parent = full
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            Ok((parent, name))
        }
        _ => Err(OutputError::Refused {
            path: target.display().to_string(),
            reason: "is not a folder kvcsim can replace; give a named --out folder".into(),
        }),
    }
}

/// Refuses a target that is a file, or a non-empty folder that is not a kvcsim output.
fn check_target(target: &Path, force: bool) -> Result<(), OutputError> {
    let meta = match fs::metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::io("inspect", target, e)),
    };
    if !meta.is_dir() {
        return Err(OutputError::Refused {
            path: target.display().to_string(),
            reason: "is a file, not a folder".into(),
        });
    }
    if force {
        return Ok(());
    }
    let entries: Vec<String> = fs::read_dir(target)
        .map_err(|e| OutputError::io("list", target, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let listed: Option<Vec<String>> = fs::read_to_string(target.join(MARKER))
        .ok()
        .filter(|t| t.starts_with("kvcsim "))
        .map(|t| t.lines().skip(1).map(str::to_string).collect());
    let Some(listed) = listed else {
        return Err(OutputError::Refused {
            path: target.display().to_string(),
            reason: format!(
                "is not empty and is not a kvcsim output (no {MARKER}); give a new or empty --out folder, or --force to replace it"
            ),
        });
    };
    let foreign: Vec<&String> = entries
        .iter()
        .filter(|e| e.as_str() != MARKER && !listed.contains(e))
        .collect();
    if let Some(first) = foreign.first() {
        return Err(OutputError::Refused {
            path: target.display().to_string(),
            reason: format!(
                "holds {} file(s) kvcsim did not write (first: {first}); they would be lost: move them, or --force",
                foreign.len()
            ),
        });
    }
    Ok(())
}

/// Removes `.NAME.kvcsim-staging.PID` and `.NAME.kvcsim-old.PID` folders beside the target
/// whose process is gone (a killed run's leftovers). A process is alive when `/proc/PID`
/// exists; where `/proc` is absent nothing is removed.
fn clean_stale(parent: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&format!(".{name}.")) else {
            continue;
        };
        let pid = [STAGING, OLD]
            .iter()
            .find_map(|kind| rest.strip_prefix(&format!("{kind}.")))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && super::process_alive(pid) == Some(false)
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_committed_run_replaces_the_previous_one_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let first = StagedDir::begin(&out, false).unwrap();
        fs::write(first.path().join("a.txt"), "1").unwrap();
        fs::write(first.path().join("old-only.txt"), "1").unwrap();
        assert!(!out.exists(), "nothing in the target before commit");
        first.commit().unwrap();
        let second = StagedDir::begin(&out, false).unwrap();
        fs::write(second.path().join("a.txt"), "2").unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "1");
        second.commit().unwrap();
        assert_eq!(names(&out), [MARKER, "a.txt"]);
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "2");
        assert_eq!(names(tmp.path()), ["out"], "no staging or old folder left");
    }

    #[test]
    fn an_abandoned_run_leaves_the_old_output_and_no_staging_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let first = StagedDir::begin(&out, false).unwrap();
        fs::write(first.path().join("a.txt"), "1").unwrap();
        first.commit().unwrap();
        {
            let failed = StagedDir::begin(&out, false).unwrap();
            fs::write(failed.path().join("a.txt"), "half").unwrap();
        }
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "1");
        assert_eq!(names(tmp.path()), ["out"]);
    }

    #[test]
    fn a_killed_runs_staging_folder_is_removed_by_the_next_run() {
        let tmp = tempfile::tempdir().unwrap();
        // PID 0 is never a user process: /proc/0 does not exist.
        let stale = tmp.path().join(".out.kvcsim-staging.0");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("requests.parquet"), "half").unwrap();
        let run = StagedDir::begin(&tmp.path().join("out"), false).unwrap();
        assert!(!stale.exists());
        run.commit().unwrap();
    }

    #[test]
    fn a_folder_of_unrelated_files_is_refused_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("mine");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("requests.parquet"), "the user's own").unwrap();
        let err = StagedDir::begin(&out, false).unwrap_err().to_string();
        assert!(
            err.contains("not a kvcsim output") && err.contains("--force"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(out.join("requests.parquet")).unwrap(),
            "the user's own"
        );
        StagedDir::begin(&out, true).unwrap().commit().unwrap();
    }

    #[test]
    fn a_previous_output_with_a_users_extra_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        StagedDir::begin(&out, false).unwrap().commit().unwrap();
        fs::write(out.join("notes.md"), "mine").unwrap();
        let err = StagedDir::begin(&out, false).unwrap_err().to_string();
        assert!(err.contains("notes.md"), "{err}");
    }

    #[test]
    fn a_file_as_target_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        fs::write(&f, "x").unwrap();
        let err = StagedDir::begin(&f, true).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
    }
}
