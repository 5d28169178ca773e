//! Streaming trace readers.
//!
//! ```text
//!  file ──► gzip? (sniffed: 1f 8b) ──► MooncakeParser (JSONL, one reused line buffer)
//!                                  └─► AzureParser   (CSV, one reused record)
//!                                          │
//!                     order check (error, or count and buffer+sort in reorder mode)
//!                                          ▼
//!                                  TraceReader: Iterator<Item = Result<Request, TraceError>>
//! ```
//!
//! Without reordering a reader holds one line and one request at a time, whatever the file size.

mod azure;
mod civil_time;
mod json_value;
mod mooncake;
mod order;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

pub use azure::AZURE_HEADER;
use azure::AzureParser;
use mooncake::MooncakeParser;

use crate::{Request, TraceError};

/// On-disk trace format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// Mooncake FAST'25 JSONL (`timestamp` ms, `input_length`, `output_length`, `hash_ids`).
    Mooncake,
    /// Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`).
    Azure,
}

impl TraceFormat {
    /// The format a file name implies: `.jsonl` or `.json` → Mooncake, `.csv` → Azure, each
    /// optionally followed by `.gz` (case-insensitive). `None` for anything else.
    pub fn from_path(path: &Path) -> Option<TraceFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".jsonl") || name.ends_with(".json") {
            Some(TraceFormat::Mooncake)
        } else if name.ends_with(".csv") {
            Some(TraceFormat::Azure)
        } else {
            None
        }
    }
}

/// How to read a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Format; `None` (default) tells it from the file name with [`TraceFormat::from_path`].
    pub format: Option<TraceFormat>,
    /// Tokens per `hash_ids` block, used to check `len(hash_ids) == ceil(input_length /
    /// block_size)`. Default 512 (Mooncake FAST'25); the Qwen/Bailian traces use 16.
    pub block_size: u32,
    /// Default false: an arrival earlier than the previous line's is an error. When true the
    /// reader reads the **whole file into memory** at [`TraceReader::open`], counts such lines
    /// ([`TraceReader::out_of_order_count`]), and yields the requests stably sorted by arrival
    /// (ties keep file order; each keeps its original [`Request::index`]). Reorder mode is
    /// therefore not constant-memory.
    pub reorder: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            block_size: 512,
            reorder: false,
        }
    }
}

enum Source {
    Mooncake(MooncakeParser),
    Azure(AzureParser),
    Sorted(std::vec::IntoIter<Request>),
}

impl Source {
    fn next_raw(&mut self) -> Option<Result<Request, TraceError>> {
        match self {
            Source::Mooncake(parser) => parser.next(),
            Source::Azure(parser) => parser.next(),
            Source::Sorted(requests) => requests.next().map(Ok),
        }
    }

    fn out_of_order(&self) -> u64 {
        match self {
            Source::Mooncake(parser) => parser.out_of_order(),
            Source::Azure(parser) => parser.out_of_order(),
            Source::Sorted(_) => 0,
        }
    }
}

/// A trace file as an iterator of requests in arrival order.
///
/// [`open`](Self::open) reads up to the first request, so a missing file, an unknown format, a
/// bad CSV header, an empty file or a bad first line fail there. Later errors come out of the
/// iterator as `Some(Err(..))`, after which it yields `None`.
pub struct TraceReader {
    path: PathBuf,
    format: TraceFormat,
    source: Source,
    first: Option<Request>,
    /// Subtracted from every arrival: 0 for Mooncake, the first row's wall-clock ns for Azure.
    origin_ns: u64,
    out_of_order: u64,
    failed: bool,
}

impl TraceReader {
    /// Opens `path` (gzip-compressed or not: detected from the content) and reads its first
    /// request.
    pub fn open(path: impl AsRef<Path>, options: &ReadOptions) -> Result<TraceReader, TraceError> {
        let path = path.as_ref();
        let format = options
            .format
            .or_else(|| TraceFormat::from_path(path))
            .ok_or_else(|| TraceError::UnknownFormat {
                path: path.to_path_buf(),
            })?;
        if options.block_size == 0 {
            return Err(TraceError::InvalidBlockSize {
                path: path.to_path_buf(),
                block_size: 0,
            });
        }
        let input = open_input(path)?;
        Self::with_input(path, format, input, options)
    }

    /// Reads a trace already in memory (`bytes`, not compressed), named `path` in messages. The
    /// parsers are the ones [`open`](Self::open) uses; fuzz tests feed them this way.
    pub fn from_bytes(
        path: impl AsRef<Path>,
        format: TraceFormat,
        bytes: Vec<u8>,
        options: &ReadOptions,
    ) -> Result<TraceReader, TraceError> {
        let path = path.as_ref();
        if options.block_size == 0 {
            return Err(TraceError::InvalidBlockSize {
                path: path.to_path_buf(),
                block_size: 0,
            });
        }
        Self::with_input(path, format, Box::new(std::io::Cursor::new(bytes)), options)
    }

    fn with_input(
        path: &Path,
        format: TraceFormat,
        input: Box<dyn BufRead + Send>,
        options: &ReadOptions,
    ) -> Result<TraceReader, TraceError> {
        let mut source = match format {
            TraceFormat::Mooncake => Source::Mooncake(MooncakeParser::new(
                path,
                input,
                options.block_size,
                options.reorder,
            )),
            TraceFormat::Azure => {
                Source::Azure(AzureParser::new(path, Box::new(input), options.reorder)?)
            }
        };
        let empty = || TraceError::Empty {
            path: path.to_path_buf(),
        };
        let (first, out_of_order) = if options.reorder {
            let mut all = Vec::new();
            while let Some(request) = source.next_raw() {
                all.push(request?);
            }
            let out_of_order = source.out_of_order();
            all.sort_by_key(|r| r.arrival_ns);
            let mut all = all.into_iter();
            let first = all.next().ok_or_else(empty)?;
            source = Source::Sorted(all);
            (first, out_of_order)
        } else {
            (source.next_raw().ok_or_else(empty)??, 0)
        };
        let origin_ns = match format {
            TraceFormat::Mooncake => 0,
            TraceFormat::Azure => first.arrival_ns,
        };
        Ok(TraceReader {
            path: path.to_path_buf(),
            format,
            source,
            first: Some(first),
            origin_ns,
            out_of_order,
            failed: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format being read.
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    /// Whether requests carry prefix block ids (false for Azure, whose `block_ids` are empty:
    /// prefix sharing must then come from a synthetic model).
    pub fn has_block_ids(&self) -> bool {
        self.format == TraceFormat::Mooncake
    }

    /// In reorder mode, how many requests arrived earlier than the request on the line above them
    /// (a warning count: 0 means the file was already sorted). Always 0 otherwise, since such a
    /// request is then an error.
    pub fn out_of_order_count(&self) -> u64 {
        self.out_of_order
    }
}

impl Iterator for TraceReader {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut request = match self.first.take() {
            Some(request) => request,
            None => match self.source.next_raw()? {
                Ok(request) => request,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            },
        };
        // Never underflows: arrivals are non-decreasing from the first, or sorted.
        request.arrival_ns -= self.origin_ns;
        Some(Ok(request))
    }
}

/// Reads a whole trace into memory (see [`TraceReader`]).
pub fn read_all(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Vec<Request>, TraceError> {
    TraceReader::open(path, options)?.collect()
}

/// Opens a file for buffered reading, through a gzip decoder when it starts with the gzip magic
/// bytes (`1f 8b`; concatenated gzip members are read as one stream).
fn open_input(path: &Path) -> Result<Box<dyn BufRead + Send>, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Open {
        path: path.to_path_buf(),
        cause: source,
    })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(|source| TraceError::Read {
        path: path.to_path_buf(),
        line: 1,
        cause: source,
    })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_file_name() {
        for (name, want) in [
            ("a/conversation_trace.jsonl", Some(TraceFormat::Mooncake)),
            ("t.json.gz", Some(TraceFormat::Mooncake)),
            ("T.JSONL.GZ", Some(TraceFormat::Mooncake)),
            ("azure.csv", Some(TraceFormat::Azure)),
            ("azure.csv.gz", Some(TraceFormat::Azure)),
            ("trace.txt", None),
            ("trace.gz", None),
            ("csv", None),
        ] {
            assert_eq!(TraceFormat::from_path(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn default_options() {
        let o = ReadOptions::default();
        assert_eq!((o.format, o.block_size, o.reorder), (None, 512, false));
    }
}
