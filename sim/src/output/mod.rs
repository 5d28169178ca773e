//! Output sinks: Parquet tables, JSON summary, the printed summary table.
//!
//! Every file is written to a temporary name in the destination folder and renamed into place,
//! so an interrupted run never leaves a half-written file and never clobbers a good one with a
//! broken one.

pub mod metadata;
pub mod plot;
pub mod run_files;
pub mod staging;
pub mod summary;
pub mod table;

use std::fs;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

pub use staging::StagedDir;
pub use table::{Column, Table};

/// An output that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file-system operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done (`create`, `write`, `move into place`).
        op: &'static str,
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing a file's contents failed (the encoder's error, with any I/O cause).
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// The writer's error chain.
        message: String,
        /// The cause is the machine's (disk full, permissions), not kvcsim's.
        environment: bool,
    },
    /// The output folder is not one kvcsim may write into.
    #[error("output folder {path} {reason}")]
    Refused {
        /// The folder.
        path: String,
        /// Why, and what to do.
        reason: String,
    },
}

impl OutputError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        OutputError::Io {
            op,
            path: path.display().to_string(),
            source,
        }
    }

    /// True when the user (or the machine they gave kvcsim) is at fault: a refused folder, no
    /// permission, a read-only file system, a full disk, a path that is a folder. Exit code 2.
    pub fn is_user_error(&self) -> bool {
        match self {
            OutputError::Io { source, .. } => is_environment(source.kind()),
            OutputError::Write { environment, .. } => *environment,
            OutputError::Refused { .. } => true,
        }
    }
}

/// I/O error kinds that are the environment's (what the user gave), not a kvcsim fault.
pub fn is_environment(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::AlreadyExists
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::StorageFull
            | ErrorKind::QuotaExceeded
            | ErrorKind::FileTooLarge
            | ErrorKind::IsADirectory
            | ErrorKind::NotADirectory
            | ErrorKind::DirectoryNotEmpty
            | ErrorKind::InvalidFilename
            | ErrorKind::CrossesDevices
    )
}

/// Creates `dir` if needed and checks it is a writable folder, before any long work starts.
pub fn prepare_dir(dir: &Path) -> Result<(), OutputError> {
    fs::create_dir_all(dir).map_err(|e| OutputError::io("create output folder", dir, e))?;
    let probe = dir.join(".kvcsim-write-probe");
    fs::write(&probe, b"").map_err(|e| OutputError::io("write into output folder", dir, e))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Writes `path` atomically: `write` fills a temporary file next to it, which is then renamed.
/// Every error names `path`; a target that is a folder is refused before anything is written.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> crate::error::Result<()>,
) -> Result<(), OutputError> {
    if path.is_dir() {
        return Err(OutputError::io(
            "write",
            path,
            std::io::Error::from(ErrorKind::IsADirectory),
        ));
    }
    remove_stale_temps(path);
    let tmp = temp_name(path);
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(|e| OutputError::io("create", &tmp, e))?;
        let mut w = BufWriter::new(file);
        write(&mut w).map_err(|e| OutputError::Write {
            path: path.display().to_string(),
            message: crate::error::chain_message(&e),
            environment: e.caused_by_environment(),
        })?;
        let file = w
            .into_inner()
            .map_err(|e| OutputError::io("write", path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| OutputError::io("sync", path, e))?;
        fs::rename(&tmp, path).map_err(|e| OutputError::io("move into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a text file atomically.
pub fn write_text_atomic(path: &Path, text: &str) -> Result<(), OutputError> {
    write_atomic(path, |w| Ok(w.write_all(text.as_bytes())?))
}

/// Whether process `pid` is alive, where the system tells (`/proc` on Linux); `None` elsewhere.
pub(crate) fn process_alive(pid: u32) -> Option<bool> {
    Path::new("/proc/self")
        .exists()
        .then(|| Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes `.NAME.PID.tmp` files beside `path` left by writers that were killed (their process
/// is gone), so an interrupted run's half file does not stay forever.
fn remove_stale_temps(path: &Path) {
    let (Some(name), Some(dir)) = (path.file_name(), path.parent()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && process_alive(pid) == Some(false)
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

pub(crate) fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_old_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_text_atomic(&path, "good").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(crate::error::internal("interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "good");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "temporary file left behind: {leftovers:?}"
        );
    }

    #[test]
    fn a_killed_writers_temporary_file_is_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        // PID 0 is never a user process: /proc/0 does not exist.
        let stale = dir.path().join(".requests.parquet.0.tmp");
        fs::write(&stale, "half").unwrap();
        let other = dir.path().join(".timeseries.parquet.0.tmp");
        fs::write(&other, "half").unwrap();
        write_text_atomic(&dir.path().join("requests.parquet"), "whole").unwrap();
        assert!(!stale.exists());
        assert!(
            other.exists(),
            "only temporaries of the file written are touched"
        );
    }

    #[test]
    fn disk_full_names_the_file_and_is_the_environments_fault() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.parquet");
        let err = write_atomic(&path, |_| {
            Err(std::io::Error::from(ErrorKind::StorageFull).into())
        })
        .unwrap_err();
        assert!(err.to_string().contains("requests.parquet"), "{err}");
        assert!(err.is_user_error());
    }

    #[test]
    fn a_folder_as_output_file_is_refused_as_the_users_fault() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_text_atomic(dir.path(), "x").unwrap_err();
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        assert!(err.is_user_error());
    }
}
