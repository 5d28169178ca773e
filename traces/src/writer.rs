//! Writing requests as Mooncake FAST'25 JSONL, the format [`TraceReader`](crate::TraceReader)
//! reads back.

use std::borrow::Borrow;
use std::io::{self, Write};

use crate::Request;

/// Writes one line per request:
/// `{"timestamp": 1500, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1]}`.
///
/// `timestamp` is `arrival_ns` in milliseconds: an integer when whole, else a decimal with up to
/// six fractional digits (exact, no float rounding), so reading the file back gives the same
/// `arrival_ns`. The writer is used as given: wrap it in a `BufWriter` for files.
pub fn write_jsonl<I, W>(requests: I, mut writer: W) -> io::Result<()>
where
    I: IntoIterator,
    I::Item: Borrow<Request>,
    W: Write,
{
    let mut line = String::with_capacity(256);
    for request in requests {
        let request = request.borrow();
        line.clear();
        format_line(request, &mut line);
        writer.write_all(line.as_bytes())?;
    }
    writer.flush()
}

fn format_line(request: &Request, out: &mut String) {
    use std::fmt::Write as _;
    let ms = request.arrival_ns / 1_000_000;
    let frac = request.arrival_ns % 1_000_000;
    // Writing to a String cannot fail.
    let _ = write!(out, "{{\"timestamp\": {ms}");
    if frac != 0 {
        let digits = format!("{frac:06}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
    let _ = write!(
        out,
        ", \"input_length\": {}, \"output_length\": {}, \"hash_ids\": [",
        request.input_tokens, request.output_tokens
    );
    for (i, id) in request.block_ids.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{id}");
    }
    out.push_str("]}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_mooncake_lines() {
        let requests = [
            Request {
                index: 0,
                arrival_ns: 3_000_000_000,
                input_tokens: 600,
                output_tokens: 5,
                block_ids: vec![0, 1],
            },
            Request {
                index: 1,
                arrival_ns: 3_000_250_100,
                input_tokens: 0,
                output_tokens: 1,
                block_ids: vec![],
            },
        ];
        let mut out = Vec::new();
        write_jsonl(&requests, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"timestamp\": 3000, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
             {\"timestamp\": 3000.2501, \"input_length\": 0, \"output_length\": 1, \"hash_ids\": []}\n"
        );
    }
}
