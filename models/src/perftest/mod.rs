//! perftest results: a parser of perftest's text output and the fit of a network profile to it.
//!
//! ```text
//!  perftest .txt ──parse_perftest──▶ PerftestRun {test, header, rows}
//!        ──observations──▶ (file, settings, bytes, metric, measured)
//!        ──calibrate(base)──▶ Calibration {profile, fitted, rows, cv_rows}
//! ```
#![warn(missing_docs)]

mod fit;
mod lm;
mod parse;
mod tail_fit;

pub use fit::{
    Calibration, FITTABLE, FitRow, FittedProfile, Metric, NOISE_FITTED, Observation, RECV_FITTED,
    RunSettings, apply_headers, bw_prediction, bw_time_per_wr_ns, calibrate, choose_parameters,
    error_summary, fit_parameters, fit_profile, latency_us, observations, predict,
};
pub use lm::levenberg_marquardt;
pub use parse::{
    BwRow, BwUnit, LatDurationRow, LatRow, Measure, ParseError, PerftestRun, PerftestVerb, Row,
    TableKind, TestId, parse_header_pairs, parse_perftest, parse_test_name,
};
pub use tail_fit::{NoiseFit, TailObservation, fit_host_noise, tail_observations};

#[cfg(test)]
mod parse_tests;
