//! The `kvcsim` command-line tool: a thin front end over the `kvcsim` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    kvcsim::cli::main()
}
