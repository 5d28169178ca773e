//! Design-space sweeps: many pure runs of one base scenario, written as one Parquet dataset.
//!
//! ```text
//!  SWEEP.yaml ──spec.rs──▶ SweepSpec ──expand.rs──▶ points ──plan.rs──▶ Plan (every point's
//!  (base, set,             (canonical form,       (grid x zip x       Scenario validated
//!   parameters, seeds)      XXH64 hash)            range x seeds)      before anything runs)
//!                                                                       │ runner.rs: rayon pool
//!                                                                       ▼ of --jobs threads
//!  DIR/sweep.resolved.yaml   spec, hash, version, points (written first; resolved.rs)
//!  DIR/points/point=<id>/    each point's run outputs, `_SUCCESS` or `_FAILED` (layout.rs)
//!  DIR/summary.parquet       one row per point, sorted by point_id (results.rs)
//!  DIR/timings.parquet       wall-clock per point (the only non-deterministic file)
//! ```
//!
//! A point is written into `DIR/.tmp/` and renamed into `DIR/points/` only when complete, so
//! `points/` never holds half a point; `--resume` keeps points already there. `--shard K/N`
//! runs the points whose index is K modulo N; `merge.rs` combines shard folders of one spec
//! (same hash) into one dataset.

mod expand;
mod layout;
mod merge;
mod plan;
mod resolved;
mod results;
mod runner;
mod spec;

pub use expand::{Point, RangeScale, render_value};
pub use layout::{SweepDir, load_outcome, write_point_summary};
pub use merge::{MergeReport, merge};
pub use plan::{Plan, PlannedPoint, plan};
pub use resolved::{KVCSIM_VERSION, PointRecord, ResolvedSweep};
pub use results::{PointOutcome, summary_table, timings_table};
pub use runner::{RunOptions, Shard, SweepProgress, SweepReport, run_sweep};
pub use spec::{RawSweep, SweepSpec, hash_text, load_spec, load_spec_str};

use crate::scenario::ScenarioError;

/// A sweep that cannot start: a bad spec, an invalid point, an output folder of another sweep.
/// All of these are the user's input (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The spec file cannot be read.
    #[error("cannot read sweep spec {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The spec breaks a rule that serde cannot check (a range, a zip, a duplicate path).
    #[error("{spec}: {message}")]
    Spec {
        /// The spec file.
        spec: String,
        /// What is wrong, with the field and value.
        message: String,
    },
    /// A field of the spec (or of its base scenario) has a wrong type or an unknown key.
    #[error(transparent)]
    Field(Box<ScenarioError>),
    /// A parameter value makes a point's scenario invalid.
    #[error("{spec}: parameter `{path}` = {value} (point {point}) is invalid{hint}")]
    Parameter {
        /// The spec file.
        spec: String,
        /// The parameter's path.
        path: String,
        /// The value, rendered.
        value: String,
        /// The point's id.
        point: u64,
        /// Advice (with a leading separator), or empty.
        hint: String,
        /// The scenario error.
        source: Box<ScenarioError>,
    },
    /// A point's scenario is invalid and no single parameter is to blame (the base, `set`, or
    /// a combination).
    #[error("{spec}: point {point} ({values}) is invalid")]
    Point {
        /// The spec file.
        spec: String,
        /// The point's id.
        point: u64,
        /// The point's parameter values, rendered.
        values: String,
        /// The scenario error.
        source: Box<ScenarioError>,
    },
    /// An output or shard folder cannot be used as asked.
    #[error("{dir}: {message}")]
    Folder {
        /// The folder.
        dir: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A malformed `--shard`.
    #[error("bad --shard `{text}`: {reason}")]
    Shard {
        /// The argument.
        text: String,
        /// Why.
        reason: String,
    },
}

impl From<ScenarioError> for SweepError {
    fn from(e: ScenarioError) -> Self {
        SweepError::Field(Box::new(e))
    }
}

impl SweepError {
    /// True: every sweep error is the spec's, a point's, or a folder's the user named.
    pub fn is_user_error(&self) -> bool {
        match self {
            SweepError::Read { .. }
            | SweepError::Spec { .. }
            | SweepError::Folder { .. }
            | SweepError::Shard { .. } => true,
            SweepError::Field(e)
            | SweepError::Parameter { source: e, .. }
            | SweepError::Point { source: e, .. } => e.is_user_error(),
        }
    }
}

impl SweepError {
    fn spec(spec: &str, message: impl Into<String>) -> Self {
        SweepError::Spec {
            spec: spec.to_string(),
            message: message.into(),
        }
    }

    fn folder(dir: &std::path::Path, message: impl Into<String>) -> Self {
        SweepError::Folder {
            dir: dir.display().to_string(),
            message: message.into(),
        }
    }
}
