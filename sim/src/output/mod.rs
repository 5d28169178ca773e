//! Output sinks: Parquet tables, JSON summary, the printed summary table.
//!
//! Every file is written to a temporary name in the destination folder and renamed into place,
//! so an interrupted run never leaves a half-written file and never clobbers a good one with a
//! broken one.

pub mod metadata;
pub mod plot;
pub mod run_files;
pub mod summary;
pub mod table;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

pub use table::{Column, Table};

/// Creates `dir` if needed and checks it is a writable folder, before any long work starts.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).map_err(|e| {
        crate::error::input_error(format!(
            "cannot create output folder {}: {e}",
            dir.display()
        ))
    })?;
    let probe = dir.join(".kvcsim-write-probe");
    fs::write(&probe, b"").map_err(|e| {
        crate::error::input_error(format!(
            "output folder {} is not writable: {e}",
            dir.display()
        ))
    })?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Writes `path` atomically: `write` fills a temporary file next to it, which is then renamed.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = temp_name(path);
    let result = (|| {
        let file =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot sync {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a text file atomically.
pub fn write_text_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    write_atomic(path, |w| Ok(w.write_all(text.as_bytes())?))
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
            anyhow::bail!("interrupted")
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
}
