//! Errors of the trace readers and of [`stats::compute`](crate::stats::compute).

use std::path::PathBuf;

/// A trace could not be read. Every variant names the file and, where it applies, the 1-based
/// line number, the field and the offending value, so the message alone locates the problem.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened (missing, unreadable).
    #[error("{}: cannot open trace: {cause}", path.display())]
    Open {
        /// The trace file.
        path: PathBuf,
        /// The underlying error (in the message, not repeated as a source).
        cause: std::io::Error,
    },
    /// Reading failed part-way (I/O error, corrupt gzip stream).
    #[error("{}:{line}: read error: {cause}", path.display())]
    Read {
        /// The trace file.
        path: PathBuf,
        /// Line being read (1-based, of the decompressed text).
        line: u64,
        /// The underlying error (in the message, not repeated as a source).
        cause: std::io::Error,
    },
    /// No format was given and the file name does not tell it.
    #[error(
        "{}: cannot tell the trace format from the file name \
         (expected .jsonl, .json or .csv, optionally followed by .gz); give the format explicitly",
        path.display()
    )]
    UnknownFormat {
        /// The trace file.
        path: PathBuf,
    },
    /// [`ReadOptions::block_size`](crate::ReadOptions::block_size) is zero.
    #[error("{}: block_size must be at least 1, got {block_size}", path.display())]
    InvalidBlockSize {
        /// The trace file.
        path: PathBuf,
        /// The bad value.
        block_size: u32,
    },
    /// The file holds no request (empty, blank lines only, or a CSV header only).
    #[error("{}: the trace holds no request", path.display())]
    Empty {
        /// The trace file.
        path: PathBuf,
    },
    /// A JSONL line is not a valid JSON object.
    #[error("{}:{line}: malformed JSON: {message}", path.display())]
    Json {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The parser's message (with the column).
        message: String,
    },
    /// A required field is absent.
    #[error("{}:{line}: missing field `{field}`", path.display())]
    MissingField {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The field.
        field: &'static str,
    },
    /// A field has a value of the wrong type or out of range.
    #[error("{}:{line}: field `{field}` = {value}: {reason}", path.display())]
    InvalidValue {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The field (for `hash_ids`, with the element index, e.g. `hash_ids[3]`).
        field: String,
        /// The value as written in the file.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `hash_ids` does not hold `ceil(input_length / block_size)` ids.
    #[error(
        "{}:{line}: field `hash_ids` has {found} ids but input_length {input_length} \
         with block size {block_size} needs {expected}; is the block size right?",
        path.display()
    )]
    BlockCountMismatch {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// `input_length` of the line.
        input_length: u32,
        /// Block size in tokens the reader was given.
        block_size: u32,
        /// `ceil(input_length / block_size)`.
        expected: u64,
        /// Length of `hash_ids`.
        found: u64,
    },
    /// A request arrives before the one above it (and reordering was not asked for).
    #[error(
        "{}:{line}: field `{field}` = {value} goes backwards (line {previous_line} has {previous_value}); \
         sort the trace or read it with reorder enabled",
        path.display()
    )]
    TimestampBackwards {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// `timestamp` or `TIMESTAMP`.
        field: &'static str,
        /// The value as written on this line.
        value: String,
        /// Line of the previous request.
        previous_line: u64,
        /// Its value as written.
        previous_value: String,
    },
    /// A CSV record is malformed (wrong number of fields, bad quoting, invalid UTF-8).
    #[error("{}:{line}: malformed CSV: {message}", path.display())]
    Csv {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// The CSV header is not `TIMESTAMP,ContextTokens,GeneratedTokens`.
    #[error(
        "{}:1: CSV header is {found:?}, expected \"TIMESTAMP,ContextTokens,GeneratedTokens\"",
        path.display()
    )]
    BadHeader {
        /// The trace file.
        path: PathBuf,
        /// The header found, fields joined by commas.
        found: String,
    },
    /// A trace exceeds an internal limit of the statistics (e.g. more than 2³²−1 distinct blocks).
    #[error("trace too large for statistics: more than {limit} {what}")]
    TooLarge {
        /// What overflowed.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
}

impl TraceError {
    /// True when the trace (or its path, or the options given for it) is at fault: every
    /// variant but a read that failed part-way for a reason of the machine's own. Exit code 2.
    pub fn is_user_error(&self) -> bool {
        match self {
            TraceError::Read { cause, .. } => !matches!(
                cause.kind(),
                std::io::ErrorKind::OutOfMemory | std::io::ErrorKind::Interrupted
            ),
            TraceError::Open { .. }
            | TraceError::UnknownFormat { .. }
            | TraceError::InvalidBlockSize { .. }
            | TraceError::Empty { .. }
            | TraceError::Json { .. }
            | TraceError::MissingField { .. }
            | TraceError::InvalidValue { .. }
            | TraceError::BlockCountMismatch { .. }
            | TraceError::TimestampBackwards { .. }
            | TraceError::Csv { .. }
            | TraceError::BadHeader { .. }
            | TraceError::TooLarge { .. } => true,
        }
    }
}
