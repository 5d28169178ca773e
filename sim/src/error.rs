//! Errors that know whose fault they are, and so which exit code they give.
//!
//! kvcsim exits with 0 on success, 2 when the user is at fault (a malformed trace line, an
//! unknown YAML key, a bad flag, a missing file, a size above its limit, an output folder it may
//! not write) and 1 on an internal error (a bug).
//!
//! ```text
//!   TraceError, ScenarioError, OutputError, ...   each has  fn is_user_error(&self) -> bool
//!            │  `?` (From<E: UserFault>: the class is read when the error is converted)
//!            ▼
//!   error::Error { user, error }  ──context──▶  Error::Context { context, error }
//!            │  returned by the library and the CLI
//!            ▼
//!   cli::main: exit 2 if err.is_user_error() else 1
//! ```
//!
//! Every library error type answers [`UserFault::is_user_error`] with an exhaustive `match`, so a
//! new variant must be classified to compile; and only types implementing [`UserFault`] convert
//! into [`Error`] with `?`, so a new error type cannot reach the exit code unclassified (the old
//! design walked a list of types, and a type missing from it silently became exit 1). An error
//! from a crate kvcsim does not own (arrow, parquet, serde_json) is internal unless its I/O cause
//! is the environment's ([`crate::output::is_environment`]).

use std::fmt;

/// An error whose fault is known: the user's input (exit 2) or kvcsim's (exit 1).
pub trait UserFault: std::error::Error + Send + Sync + 'static {
    /// True when the user (their file, flag, field, size or folder) is at fault.
    fn is_user_error(&self) -> bool;
}

macro_rules! user_fault_by_method {
    ($($t:ty),* $(,)?) => {
        $(impl UserFault for $t {
            fn is_user_error(&self) -> bool {
                <$t>::is_user_error(self)
            }
        })*
    };
}

user_fault_by_method!(
    crate::scenario::ScenarioError,
    crate::sweep::SweepError,
    crate::output::OutputError,
    crate::limits::LimitError,
    crate::validate::gpu::data::DataError,
    kvcsim_traces::TraceError,
    kvcsim_traces::synth::SpecError,
    kvcsim_traces::stats::CapacityParseError,
    kvcsim_models::hardware::HardwareError,
    kvcsim_models::hardware::InvalidField,
    kvcsim_models::net::NetError,
    kvcsim_models::perftest::ParseError,
    kvcsim_models::cache::PolicyError,
    kvcsim_models::cache::CapacityError,
    kvcsim_models::cache::CacheFull,
    kvcsim_models::cache::CacheError,
    kvcsim_models::tiers::TierError,
    InputError,
);

/// I/O outside a named file (stdout): the environment's when its kind says so.
impl UserFault for std::io::Error {
    fn is_user_error(&self) -> bool {
        crate::output::is_environment(self.kind())
    }
}

/// Errors of crates kvcsim does not own, raised on data kvcsim built itself (a summary to
/// serialise, a table to encode, a thread pool): kvcsim's fault.
macro_rules! internal {
    ($($t:ty),* $(,)?) => {
        $(impl UserFault for $t {
            fn is_user_error(&self) -> bool {
                false
            }
        })*
    };
}

internal!(
    serde_json::Error,
    serde_norway::Error,
    arrow_schema::ArrowError,
    parquet::errors::ParquetError,
    rayon::ThreadPoolBuildError,
    std::num::TryFromIntError,
    std::fmt::Error,
    plotters::drawing::DrawingAreaErrorKind<std::io::Error>,
    Internal,
);

/// An error in what the user gave kvcsim (a file, a flag, a field): exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl InputError {
    /// Always true.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// A broken invariant of kvcsim itself (a bug): exit code 1.
#[derive(Debug)]
pub struct Internal(pub String);

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Internal {}

/// The error of the kvcsim library and command line: a classified error, with context.
#[derive(Debug)]
pub enum Error {
    /// An error classified when it was converted.
    Classified {
        /// The user is at fault.
        user: bool,
        /// The error.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sentence of context in front of an error (which keeps its class).
    Context {
        /// What was being done.
        context: String,
        /// The error.
        error: Box<Error>,
    },
}

impl Error {
    /// True when the user is at fault (exit code 2).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Classified { user, .. } => *user,
            Error::Context { error, .. } => error.is_user_error(),
        }
    }

    /// True when an I/O error of the environment's kind ([`crate::output::is_environment`]) is
    /// this error or one of its causes (a disk that filled up under a Parquet writer).
    pub fn caused_by_environment(&self) -> bool {
        let first: &(dyn std::error::Error + 'static) = match self {
            Error::Classified { error, .. } => error.as_ref(),
            Error::Context { error, .. } => return error.caused_by_environment(),
        };
        std::iter::successors(Some(first), |e| e.source()).any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| crate::output::is_environment(io.kind()))
        })
    }

    /// Adds a sentence of context.
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error::Context {
            context: context.to_string(),
            error: Box::new(self),
        }
    }
}

impl<E: UserFault> From<E> for Error {
    fn from(e: E) -> Self {
        Error::Classified {
            user: e.is_user_error(),
            error: Box::new(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Classified { error, .. } => error.fmt(f),
            Error::Context { context, .. } => f.write_str(context),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The classified error's own message is this one's; its cause comes next.
            Error::Classified { error, .. } => error.source(),
            Error::Context { error, .. } => Some(error.as_ref()),
        }
    }
}

/// The library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `context` and `with_context` on results, keeping the error's class (as `anyhow::Context`
/// does for messages).
pub trait Context<T> {
    /// Adds `context` to the error.
    fn context(self, context: impl fmt::Display) -> Result<T>;
    /// Adds the context `f` makes to the error.
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(f()))
    }
}

/// An input error (exit 2) from a message.
pub fn input_error(msg: impl Into<String>) -> Error {
    InputError(msg.into()).into()
}

/// An internal error (exit 1) from a message: a broken invariant of kvcsim.
pub fn internal(msg: impl Into<String>) -> Error {
    Internal(msg.into()).into()
}

/// The full message: the error and its causes, joined by `: ` (as `anyhow`'s `{:#}`).
pub fn chain_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let m = e.to_string();
        if !s.ends_with(&m) {
            s += ": ";
            s += &m;
        }
        cur = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_survives_context() {
        let user: Error = input_error("bad flag");
        assert!(user.context("while parsing").is_user_error());
        let bug: Error = internal("broken invariant");
        assert!(!bug.context("while running").is_user_error());
    }

    #[test]
    fn io_errors_of_the_environment_are_the_users() {
        let full: Error = std::io::Error::from(std::io::ErrorKind::StorageFull).into();
        assert!(full.is_user_error());
        let other: Error = std::io::Error::other("a bug").into();
        assert!(!other.is_user_error());
    }

    #[test]
    fn the_chain_message_joins_context_and_cause_once() {
        let e = Error::from(kvcsim_traces::synth::SpecError {
            path: "arrivals.rate_per_s".into(),
            value: "-1".into(),
            reason: "must be > 0".into(),
        })
        .context("spec.yaml");
        assert_eq!(
            chain_message(&e),
            "spec.yaml: `arrivals.rate_per_s` = -1: must be > 0"
        );
    }
}
