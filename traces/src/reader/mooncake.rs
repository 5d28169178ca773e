//! Mooncake FAST'25 JSONL: one object per line,
//! `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [id, ...]}`.
//! Extra fields (Qwen/Bailian `chat_id`, `parent_chat_id`, `turn`, `type`) are ignored.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::json_value::{HashIds, Scalar};
use super::order::OrderCheck;
use crate::{Request, TraceError};

/// One line as parsed, every field captured leniently.
#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    timestamp: Scalar,
    #[serde(default)]
    input_length: Scalar,
    #[serde(default)]
    output_length: Scalar,
    #[serde(default)]
    hash_ids: HashIds,
}

/// Streaming parser: one reused line buffer, one `Request` per non-blank line.
pub(super) struct MooncakeParser {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line: u64,
    index: u64,
    block_size: u32,
    order: OrderCheck<Scalar>,
}

impl MooncakeParser {
    pub(super) fn new(
        path: &Path,
        input: Box<dyn BufRead + Send>,
        block_size: u32,
        reorder: bool,
    ) -> Self {
        MooncakeParser {
            path: path.to_path_buf(),
            input,
            buf: Vec::with_capacity(4096),
            line: 0,
            index: 0,
            block_size,
            order: OrderCheck::new("timestamp", reorder),
        }
    }

    pub(super) fn out_of_order(&self) -> u64 {
        self.order.out_of_order()
    }

    fn parse_line(&mut self) -> Result<Request, TraceError> {
        let line = self.line;
        // A UTF-8 byte-order mark (Windows editors write one) is not part of the first object.
        let text = match self.buf.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if line == 1 => rest,
            _ => &self.buf[..],
        };
        // serde reads a struct from an array by position; a line must be an object.
        let first = text.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            let found = match first {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b'0'..=b'9' | b'-') => "a number",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                _ => "no JSON value",
            };
            return Err(TraceError::Json {
                path: self.path.clone(),
                line,
                message: format!(
                    "expected one JSON object `{{\"timestamp\": ..., ...}}` per line, found {found}"
                ),
            });
        }
        let parsed: Line = serde_json::from_slice(text).map_err(|e| TraceError::Json {
            path: self.path.clone(),
            line,
            message: e.to_string(),
        })?;
        let arrival_ns = timestamp_ns(&parsed.timestamp)
            .map_err(|e| self.field_error(e, "timestamp", &parsed.timestamp))?;
        let input_tokens = token_count(&parsed.input_length)
            .map_err(|e| self.field_error(e, "input_length", &parsed.input_length))?;
        let output_tokens = token_count(&parsed.output_length)
            .map_err(|e| self.field_error(e, "output_length", &parsed.output_length))?;
        let block_ids = match parsed.hash_ids {
            HashIds::Ids(ids) => ids,
            HashIds::Missing => return Err(self.field_error(None, "hash_ids", &Scalar::Missing)),
            HashIds::NotArray(value) => {
                return Err(self.invalid("hash_ids".to_owned(), &value, "not an array"));
            }
            HashIds::BadElement(i, value) => {
                let reason = match value {
                    Scalar::Negative(_) => "negative; block ids are non-negative integers",
                    Scalar::Float(x) if x.fract() == 0.0 && x >= 1.8e19 => {
                        "too large; block ids must fit in 64 bits (at most 18446744073709551615)"
                    }
                    Scalar::Float(x) if x < 0.0 => "negative; block ids are non-negative integers",
                    Scalar::Float(_) => "not an integer; block ids are non-negative integers",
                    _ => "not a number; block ids are non-negative integers",
                };
                return Err(self.invalid(format!("hash_ids[{i}]"), &value, reason));
            }
        };
        let expected = u64::from(input_tokens).div_ceil(u64::from(self.block_size));
        if block_ids.len() as u64 != expected {
            return Err(TraceError::BlockCountMismatch {
                path: self.path.clone(),
                line,
                input_length: input_tokens,
                block_size: self.block_size,
                expected,
                found: block_ids.len() as u64,
            });
        }
        self.order
            .check(&self.path, line, arrival_ns, &parsed.timestamp)?;
        let index = self.index;
        self.index += 1;
        Ok(Request {
            index,
            arrival_ns,
            input_tokens,
            output_tokens,
            block_ids,
        })
    }

    /// `reason` None means the field is missing.
    fn field_error(
        &self,
        reason: Option<&'static str>,
        field: &'static str,
        value: &Scalar,
    ) -> TraceError {
        match reason {
            None => TraceError::MissingField {
                path: self.path.clone(),
                line: self.line,
                field,
            },
            Some(reason) => self.invalid(field.to_owned(), value, reason),
        }
    }

    fn invalid(&self, field: String, value: &Scalar, reason: &'static str) -> TraceError {
        TraceError::InvalidValue {
            path: self.path.clone(),
            line: self.line,
            field,
            value: value.to_string(),
            reason,
        }
    }
}

impl Iterator for MooncakeParser {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(TraceError::Read {
                        path: self.path.clone(),
                        line: self.line + 1,
                        cause: source,
                    }));
                }
            }
            self.line += 1;
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(self.parse_line());
        }
    }
}

/// Milliseconds (integer or fractional) to nanoseconds, rounded to the nearest ns.
/// `Err(None)`: missing; `Err(Some(reason))`: invalid.
fn timestamp_ns(value: &Scalar) -> Result<u64, Option<&'static str>> {
    match *value {
        Scalar::Missing => Err(None),
        Scalar::Unsigned(ms) => ms
            .checked_mul(1_000_000)
            .ok_or(Some("too large (over 2^64 ns)")),
        Scalar::Float(ms) if ms.is_nan() || ms < 0.0 => Err(Some("negative")),
        Scalar::Float(ms) => {
            let ns = (ms * 1e6).round();
            // 2^64 is exactly representable; anything at or above it does not fit.
            if ns >= 18_446_744_073_709_551_616.0 {
                Err(Some("too large (over 2^64 ns)"))
            } else {
                Ok(ns as u64)
            }
        }
        Scalar::Negative(_) => Err(Some("negative")),
        Scalar::Other(_) => Err(Some("not a number")),
    }
}

/// A token count: a non-negative integer that fits in u32 (a whole float such as `12.0` is
/// accepted). `Err(None)`: missing; `Err(Some(reason))`: invalid.
fn token_count(value: &Scalar) -> Result<u32, Option<&'static str>> {
    const TOO_LARGE: &str = "too large (over 2^32 - 1)";
    match *value {
        Scalar::Missing => Err(None),
        Scalar::Unsigned(n) => u32::try_from(n).map_err(|_| Some(TOO_LARGE)),
        Scalar::Negative(_) => Err(Some("negative")),
        Scalar::Float(x) if x < 0.0 => Err(Some("negative")),
        Scalar::Float(x) if x.fract() != 0.0 || x.is_nan() => Err(Some("not an integer")),
        Scalar::Float(x) if x > f64::from(u32::MAX) => Err(Some(TOO_LARGE)),
        Scalar::Float(x) => Ok(x as u32),
        Scalar::Other(_) => Err(Some("not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, block_size: u32) -> Vec<Result<Request, TraceError>> {
        let input: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.to_owned().into_bytes()));
        let parser = MooncakeParser::new(Path::new("t.jsonl"), input, block_size, false);
        let mut out = Vec::new();
        for item in parser {
            let stop = item.is_err();
            out.push(item);
            if stop {
                break;
            }
        }
        out
    }

    fn first_error(text: &str) -> String {
        parse(text, 4)
            .into_iter()
            .find_map(Result::err)
            .expect("an error")
            .to_string()
    }

    #[test]
    fn parses_lines_with_extra_fields_blank_lines_and_float_timestamps() {
        let text = "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [0, 1]}\n\
                    \n\
                    {\"chat_id\": 9, \"type\": \"text\", \"timestamp\": 1.5, \"input_length\": 4.0, \
                    \"output_length\": 0, \"hash_ids\": [2], \"turn\": 1}\r\n\
                    {\"timestamp\": 3, \"input_length\": 0, \"output_length\": 1, \"hash_ids\": []}";
        let got: Vec<Request> = parse(text, 4).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            vec![
                Request {
                    index: 0,
                    arrival_ns: 0,
                    input_tokens: 5,
                    output_tokens: 2,
                    block_ids: vec![0, 1]
                },
                Request {
                    index: 1,
                    arrival_ns: 1_500_000,
                    input_tokens: 4,
                    output_tokens: 0,
                    block_ids: vec![2]
                },
                Request {
                    index: 2,
                    arrival_ns: 3_000_000,
                    input_tokens: 0,
                    output_tokens: 1,
                    block_ids: vec![]
                },
            ]
        );
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = first_error(
            "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}\n{\"timestamp\": 0,,}\n",
        );
        assert!(e.starts_with("t.jsonl:2: malformed JSON:"), "{e}");
        assert!(e.contains("column"), "{e}");
    }

    #[test]
    fn missing_fields_are_named() {
        let e = first_error("{\"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}");
        assert_eq!(e, "t.jsonl:1: missing field `timestamp`");
        let e = first_error("{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1}");
        assert_eq!(e, "t.jsonl:1: missing field `hash_ids`");
        let e = first_error("{\"timestamp\": 1, \"output_length\": 1, \"hash_ids\": [0]}");
        assert_eq!(e, "t.jsonl:1: missing field `input_length`");
    }

    #[test]
    fn bad_values_are_named_with_field_and_value() {
        let cases = [
            (
                "{\"timestamp\": -1, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}",
                "field `timestamp` = -1: negative",
            ),
            (
                "{\"timestamp\": \"0\", \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}",
                "field `timestamp` = \"0\": not a number",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": -5, \"output_length\": 1, \"hash_ids\": [0]}",
                "field `input_length` = -5: negative",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 2.5, \"output_length\": 1, \"hash_ids\": [0]}",
                "field `input_length` = 2.5: not an integer",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": null, \"hash_ids\": [0]}",
                "field `output_length` = null: not a number",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 4294967296, \"hash_ids\": [0]}",
                "field `output_length` = 4294967296: too large (over 2^32 - 1)",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0.5]}",
                "field `hash_ids[0]` = 0.5: not an integer; block ids are non-negative integers",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [0, -2]}",
                "field `hash_ids[1]` = -2: negative; block ids are non-negative integers",
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": 7}",
                "field `hash_ids` = 7: not an array",
            ),
            (
                "{\"timestamp\": 1e300, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}",
                "field `timestamp` = 1e300: too large (over 2^64 ns)",
            ),
        ];
        for (line, want) in cases {
            let e = first_error(line);
            assert_eq!(e, format!("t.jsonl:1: {want}"), "{line}");
        }
    }

    #[test]
    fn block_count_must_match_input_length() {
        // block size 4: 9 tokens need ceil(9/4) = 3 ids.
        let e = first_error(
            "{\"timestamp\": 0, \"input_length\": 9, \"output_length\": 1, \"hash_ids\": [0, 1]}",
        );
        assert_eq!(
            e,
            "t.jsonl:1: field `hash_ids` has 2 ids but input_length 9 with block size 4 needs 3; is the block size right?"
        );
    }

    #[test]
    fn backwards_timestamps_are_rejected_with_both_lines() {
        let text = "{\"timestamp\": 10, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}\n\
                    {\"timestamp\": 9.5, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [0]}\n";
        assert_eq!(
            first_error(text),
            "t.jsonl:2: field `timestamp` = 9.5 goes backwards (line 1 has 10); \
             sort the trace or read it with reorder enabled"
        );
    }

    #[test]
    fn timestamp_conversion_is_exact_for_integers_and_rounds_floats() {
        assert_eq!(
            timestamp_ns(&Scalar::Unsigned(3_537_000)),
            Ok(3_537_000_000_000)
        );
        assert_eq!(timestamp_ns(&Scalar::Float(1234.567891)), Ok(1_234_567_891));
        assert_eq!(timestamp_ns(&Scalar::Float(-0.0)), Ok(0));
        assert_eq!(
            timestamp_ns(&Scalar::Unsigned(u64::MAX)),
            Err(Some("too large (over 2^64 ns)"))
        );
    }

    #[test]
    fn a_json_array_line_is_refused_not_read_by_position() {
        let err = first_error("[5, 1000, 10, [0, 1]]\n");
        assert!(
            err.contains("t.jsonl:1") && err.contains("found an array"),
            "{err}"
        );
    }

    #[test]
    fn a_utf8_byte_order_mark_before_the_first_object_is_skipped() {
        let text = "\u{FEFF}{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [0, 1]}\n";
        let out = parse(text, 4);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().block_ids, vec![0, 1]);
    }

    #[test]
    fn a_hash_id_past_64_bits_is_called_too_large() {
        let err = first_error(
            "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [0, 18446744073709551616]}\n",
        );
        assert!(
            err.contains("hash_ids[1]") && err.contains("too large"),
            "{err}"
        );
        let err = first_error(
            "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2, \"hash_ids\": [-1, 1]}\n",
        );
        assert!(
            err.contains("hash_ids[0]") && err.contains("negative"),
            "{err}"
        );
    }
}
