//! `kvcsim report`: one self-contained HTML file of a run, a sweep, or several runs compared.
//!
//! ```text
//!  run folder(s) ──data.rs──▶ RunFolder ──run.rs──────────▶ figures ─┐
//!  (summary.json, requests/timeseries.parquet, ...)  series.rs,       │ html.rs: one page,
//!                                                    summary_tables.rs├▶ SVG inline, print CSS,
//!  sweep folder ──data.rs──▶ SweepFolder ──sweep.rs──▶ figures, table ┘  a table-sorting script
//!  (sweep.resolved.yaml, summary.parquet)               chart.rs: plotters, SVG backend
//! ```
//!
//! The report reads only the files a run or sweep wrote, by column and key name, so it works on
//! any folder (older runs lack newer columns: figures of optional data appear only when the
//! columns or files exist). It writes nothing time- or host-dependent: the same folders give the
//! same bytes.

pub mod chart;
pub mod data;
pub mod html;
mod optional;
pub mod run;
pub mod series;
pub mod summary_tables;
pub mod sweep;

use std::path::{Path, PathBuf};

use crate::error::input_error;
use crate::output::write_text_atomic;

/// The file name `run --report` and `sweep --report` write into the output folder.
pub const REPORT_FILE: &str = "report.html";

/// Renders the report of `dirs`: one sweep folder, or one or more run folders.
pub fn render(dirs: &[PathBuf]) -> crate::error::Result<String> {
    let Some(first) = dirs.first() else {
        return Err(input_error("report: no folder given"));
    };
    if sweep::is_sweep_folder(first) {
        if dirs.len() > 1 {
            return Err(input_error(format!(
                "{} is a sweep folder: a sweep is reported alone (compare run folders, or point folders of the sweep)",
                first.display()
            )));
        }
        return sweep::render(&sweep::SweepFolder::read(first, label(first, dirs))?);
    }
    let mut runs = Vec::with_capacity(dirs.len());
    for dir in dirs {
        if sweep::is_sweep_folder(dir) {
            return Err(input_error(format!(
                "{} is a sweep folder: a sweep is reported alone",
                dir.display()
            )));
        }
        if !dir.is_dir() {
            return Err(input_error(format!("{}: no such folder", dir.display())));
        }
        if !run::is_run_folder(dir) {
            return Err(input_error(format!(
                "{}: neither a run's output folder (summary.json, requests.parquet, timeseries.parquet) nor a sweep's (sweep.resolved.yaml, summary.parquet)",
                dir.display()
            )));
        }
        runs.push(run::RunFolder::read(dir, label(dir, dirs))?);
    }
    run::render(&runs)
}

/// A folder's name in the report: its last component, or its whole path when two folders
/// share that name.
fn label(dir: &Path, all: &[PathBuf]) -> String {
    let name = |d: &Path| {
        d.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| d.display().to_string())
    };
    let mine = name(dir);
    if all.iter().filter(|d| name(d) == mine).count() > 1 {
        dir.display().to_string()
    } else {
        mine
    }
}

/// Where the report of `dirs` goes without `--out`: `report.html` in the folder when there is
/// one, in the current folder when several are compared.
pub fn default_out(dirs: &[PathBuf]) -> PathBuf {
    match dirs {
        [one] => one.join(REPORT_FILE),
        _ => PathBuf::from(REPORT_FILE),
    }
}

/// Renders the report of `dirs` and writes it to `out` (atomically).
pub fn write(dirs: &[PathBuf], out: &Path) -> crate::error::Result<()> {
    let html = render(dirs)?;
    Ok(write_text_atomic(out, &html)?)
}

/// Writes `report.html` into the output folder `dir` of a run or sweep (`--report`).
pub fn write_into(dir: &Path) -> crate::error::Result<()> {
    write(
        std::slice::from_ref(&dir.to_path_buf()),
        &dir.join(REPORT_FILE),
    )
}

/// Opens `path` in the desktop's browser; a warning on stderr when none can be started.
pub fn open_in_browser(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!(
            "warning: cannot start `{opener}` to open {}: {e}",
            path.display()
        );
    }
}
