//! Azure LLM inference trace CSV: header `TIMESTAMP,ContextTokens,GeneratedTokens`, wall-clock
//! `YYYY-MM-DD HH:MM:SS.fffffff` timestamps, no prefix information.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::civil_time;
use super::order::OrderCheck;
use crate::{Request, TraceError};

/// The header the reader requires, in this order.
pub const AZURE_HEADER: [&str; 3] = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"];

/// Streaming parser over one reused CSV record. Arrivals come out as ns since 1970 (UTC); the
/// [`TraceReader`](crate::TraceReader) makes them relative to the first row.
pub(super) struct AzureParser {
    path: PathBuf,
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    index: u64,
    order: OrderCheck<String>,
}

impl AzureParser {
    /// Reads and checks the header.
    pub(super) fn new(
        path: &Path,
        input: Box<dyn Read + Send>,
        reorder: bool,
    ) -> Result<Self, TraceError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(input);
        let header = reader.headers().map_err(|e| csv_error(path, e))?;
        if header.iter().all(str::is_empty) {
            return Err(TraceError::Empty {
                path: path.to_path_buf(),
            });
        }
        if !header.iter().eq(AZURE_HEADER) {
            return Err(TraceError::BadHeader {
                path: path.to_path_buf(),
                found: header.iter().collect::<Vec<_>>().join(","),
            });
        }
        Ok(AzureParser {
            path: path.to_path_buf(),
            reader,
            record: csv::StringRecord::new(),
            index: 0,
            order: OrderCheck::new("TIMESTAMP", reorder),
        })
    }

    pub(super) fn out_of_order(&self) -> u64 {
        self.order.out_of_order()
    }

    fn parse_record(&mut self) -> Result<Request, TraceError> {
        let line = self.record.position().map_or(0, csv::Position::line);
        let invalid = |field: &str, value: &str, reason| TraceError::InvalidValue {
            path: self.path.clone(),
            line,
            field: field.to_owned(),
            value: format!("{value:?}"),
            reason,
        };
        // The CSV reader guarantees as many fields as the (checked) header; `get` keeps this total.
        let field = |i| self.record.get(i).unwrap_or("");
        let (stamp, context, generated) = (field(0), field(1), field(2));
        let arrival = civil_time::parse_ns(stamp)
            .map_err(|reason| invalid(AZURE_HEADER[0], stamp, reason))?;
        let input_tokens =
            token_count(context).map_err(|reason| invalid(AZURE_HEADER[1], context, reason))?;
        let output_tokens =
            token_count(generated).map_err(|reason| invalid(AZURE_HEADER[2], generated, reason))?;
        self.order
            .check(&self.path, line, arrival, &stamp.to_owned())?;
        let index = self.index;
        self.index += 1;
        Ok(Request {
            index,
            arrival_ns: arrival,
            input_tokens,
            output_tokens,
            block_ids: Vec::new(),
        })
    }
}

impl Iterator for AzureParser {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => Some(self.parse_record()),
            Err(e) => Some(Err(csv_error(&self.path, e))),
        }
    }
}

fn csv_error(path: &Path, error: csv::Error) -> TraceError {
    let line = error.position().map_or(0, csv::Position::line);
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => TraceError::Read {
            path: path.to_path_buf(),
            line,
            cause: source,
        },
        _ => TraceError::Csv {
            path: path.to_path_buf(),
            line,
            message,
        },
    }
}

/// A token count: a non-negative integer that fits in u32 (`12.0` is accepted, as in JSON).
fn token_count(text: &str) -> Result<u32, &'static str> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    if text.parse::<u64>().is_ok() {
        return Err("too large (over 2^32 - 1)");
    }
    match text.parse::<f64>() {
        Ok(x) if x < 0.0 || text.starts_with('-') => Err("negative"),
        Ok(x) if x.fract() != 0.0 || !x.is_finite() => Err("not an integer"),
        Ok(x) if x > f64::from(u32::MAX) => Err("too large (over 2^32 - 1)"),
        Ok(x) => Ok(x as u32),
        Err(_) => Err("not a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Request>, TraceError> {
        let input: Box<dyn Read + Send> =
            Box::new(std::io::Cursor::new(text.to_owned().into_bytes()));
        AzureParser::new(Path::new("a.csv"), input, false)?.collect()
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("an error").to_string()
    }

    #[test]
    fn parses_rows_without_final_newline() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 18:17:03.9799600,4808,10\n\
                    2023-11-16 18:17:04.0319600,3180,8";
        let got = parse(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].arrival_ns - got[0].arrival_ns, 52_000_000);
        assert_eq!(
            (got[1].index, got[1].input_tokens, got[1].output_tokens),
            (1, 3180, 8)
        );
        assert!(got[1].block_ids.is_empty());
    }

    #[test]
    fn header_must_match() {
        assert_eq!(
            error("timestamp,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,1,1\n"),
            "a.csv:1: CSV header is \"timestamp,ContextTokens,GeneratedTokens\", \
             expected \"TIMESTAMP,ContextTokens,GeneratedTokens\""
        );
        assert_eq!(error(""), "a.csv: the trace holds no request");
    }

    #[test]
    fn bad_fields_are_named() {
        let head = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
        for (row, want) in [
            (
                "2023-11-16 18:17:03.9799600,-4,1",
                "a.csv:2: field `ContextTokens` = \"-4\": negative",
            ),
            (
                "2023-11-16 18:17:03.9799600,4.5,1",
                "a.csv:2: field `ContextTokens` = \"4.5\": not an integer",
            ),
            (
                "2023-11-16 18:17:03.9799600,4,",
                "a.csv:2: field `GeneratedTokens` = \"\": not a number",
            ),
            (
                "2023-11-16 18:17:03.9799600,4,x",
                "a.csv:2: field `GeneratedTokens` = \"x\": not a number",
            ),
            (
                "2023-11-16 18:17:03.9799600,4,9999999999",
                "a.csv:2: field `GeneratedTokens` = \"9999999999\": too large (over 2^32 - 1)",
            ),
            (
                "2023-11-31 18:17:03.9799600,4,1",
                "a.csv:2: field `TIMESTAMP` = \"2023-11-31 18:17:03.9799600\": day out of range for the month",
            ),
            (
                "16/11/2023 18:17,4,1",
                "a.csv:2: field `TIMESTAMP` = \"16/11/2023 18:17\": expected YYYY-MM-DD HH:MM:SS.fffffff",
            ),
        ] {
            assert_eq!(error(&format!("{head}{row}")), want, "{row}");
        }
        assert_eq!(token_count("12.0"), Ok(12));
    }

    #[test]
    fn wrong_field_count_is_a_csv_error_with_line() {
        let e = error(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,1,1\n2023-11-16 18:17:04.0,1\n",
        );
        assert!(e.starts_with("a.csv:3: malformed CSV:"), "{e}");
    }

    #[test]
    fn backwards_rows_are_rejected() {
        let e = error(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04.0,1,1\n2023-11-16 18:17:03.9,1,1\n",
        );
        assert_eq!(
            e,
            "a.csv:3: field `TIMESTAMP` = 2023-11-16 18:17:03.9 goes backwards (line 2 has 2023-11-16 18:17:04.0); \
             sort the trace or read it with reorder enabled"
        );
    }
}
