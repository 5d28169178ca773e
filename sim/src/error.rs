//! Error classes of the command-line tool.
//!
//! kvcsim exits with 0 on success, 2 when the input is at fault (a malformed trace line, an
//! unknown YAML key, a bad flag, a missing file) and 1 on an internal error. Library errors keep
//! their own `thiserror` types; this module decides which of them are the user's input.

use std::fmt;

/// An error in what the user gave kvcsim (a file, a flag, a field): exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Shorthand to build an input error as an `anyhow::Error`.
pub fn input_error(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(msg.into()))
}

/// True when any error in the chain is the user's input rather than a kvcsim fault.
pub fn is_input_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<InputError>()
            || e.is::<crate::scenario::ScenarioError>()
            || e.is::<crate::sweep::SweepError>()
            || e.is::<kvcsim_traces::TraceError>()
            || e.is::<kvcsim_traces::synth::SpecError>()
            || e.is::<kvcsim_models::hardware::HardwareError>()
            || e.is::<kvcsim_models::net::NetError>()
            || e.is::<kvcsim_models::perftest::ParseError>()
    })
}
