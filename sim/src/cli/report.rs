//! `kvcsim report DIR... [--out report.html] [--open]`

use std::path::PathBuf;

use clap::Args;

use crate::report;

/// Writes one self-contained HTML report (SVG figures inline, no network needed) of a run
/// folder, a sweep folder, or several run folders compared (one colour per run).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output folders of `kvcsim run` (one, or several to compare) or of `kvcsim sweep` (one).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// HTML file to write (default: `report.html` in the folder; in the current folder when
    /// several are compared).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Open the report in the desktop's browser once written.
    #[arg(long)]
    open: bool,
}

pub fn run(args: ReportArgs) -> crate::error::Result<()> {
    let out = args.out.unwrap_or_else(|| report::default_out(&args.dirs));
    report::write(&args.dirs, &out)?;
    println!("report in {}", out.display());
    if args.open {
        report::open_in_browser(&out);
    }
    Ok(())
}
