//! `kvcsim trace ...`: wired to kvcsim-traces.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TraceCommand {}

pub fn run(cmd: TraceCommand) -> anyhow::Result<()> {
    match cmd {}
}
