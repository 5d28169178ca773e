//! `kvcsim validate ...`: validation cases against real measurements.

use std::path::PathBuf;

use crate::error::Context;
use clap::{Args, Subcommand};

use crate::error::input_error;
use crate::validate::rdma;

/// Validation cases.
#[derive(Debug, Subcommand)]
pub enum ValidateCommand {
    /// Calibrate on every perftest output in DATA/perftest_outputs, replay with `bench rdma`,
    /// compare; prints a markdown table.
    Rdma(ValidateRdmaArgs),
}

/// Arguments of `kvcsim validate rdma`.
#[derive(Debug, Args)]
pub struct ValidateRdmaArgs {
    /// The calibration folder (holding perftest_outputs/), e.g. ../shared/calibration.
    #[arg(long)]
    data: PathBuf,
    /// Folder of the shipped network profiles used as calibration bases.
    #[arg(long, default_value = "scenarios/hardware/network")]
    profiles: PathBuf,
    /// Also write the table to this markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cap the iterations of each replay (faster, for smoke tests).
    #[arg(long)]
    max_iters: Option<u64>,
}

/// Runs `kvcsim validate ...`.
pub fn run(cmd: ValidateCommand) -> crate::error::Result<()> {
    match cmd {
        ValidateCommand::Rdma(a) => {
            if !a.data.join("perftest_outputs").is_dir() {
                return Err(input_error(format!(
                    "{} has no perftest_outputs/ folder",
                    a.data.display()
                )));
            }
            let report = rdma::validate(&a.data, &a.profiles, a.max_iters)?;
            let md = rdma::markdown(&report);
            print!("{md}");
            if let Some(out) = a.out {
                let tmp = out.with_extension("md.tmp");
                std::fs::write(&tmp, &md).with_context(|| format!("writing {}", tmp.display()))?;
                std::fs::rename(&tmp, &out)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            Ok(())
        }
    }
}
