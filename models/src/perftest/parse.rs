//! Parser of perftest's text output, following `../shared/calibration/PERFTEST_FORMAT.md` §6.
//!
//! It reads all eight tools (`ib_{read,write,send,atomic}_{lat,bw}`), the `MB/sec`, `MiB/sec`
//! and `Gb/sec` bandwidth headers (and the 6-decimal small-bandwidth row variant), 9- and
//! 5-column latency tables, duration-mode latency tables, `-a` sweeps, server and client output
//! interleaved in one stream (repeated headers, merged header blocks, duplicated rows), and stray
//! lines (CPU-frequency warnings, banners) inside a table. A row it cannot read is an error
//! naming the line.

use std::fmt;

/// Which perftest verb a run measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PerftestVerb {
    /// `RDMA_Read`.
    Read,
    /// `RDMA_Write` / `RDMA_Write_imm`.
    Write,
    /// `Send` / `Send_imm`.
    Send,
    /// `Atomic FETCH_AND_ADD`.
    FetchAdd,
    /// `Atomic CMP_AND_SWAP`.
    CompareSwap,
}

/// Latency or bandwidth test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// `*_lat`.
    Latency,
    /// `*_bw`.
    Bandwidth,
}

/// The test a run performed, from its test-name line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TestId {
    /// The verb.
    pub verb: PerftestVerb,
    /// Latency or bandwidth.
    pub measure: Measure,
    /// `Bidirectional` BW test (rows are the sum of both directions).
    pub bidirectional: bool,
    /// `Post List` BW test.
    pub post_list: bool,
}

impl TestId {
    /// The `bench rdma --test` name: `read_lat`, `write_bw`, `atomic_lat`, ...
    pub fn short_name(&self) -> &'static str {
        use Measure::*;
        use PerftestVerb::*;
        match (self.verb, self.measure) {
            (Read, Latency) => "read_lat",
            (Write, Latency) => "write_lat",
            (Send, Latency) => "send_lat",
            (FetchAdd | CompareSwap, Latency) => "atomic_lat",
            (Read, Bandwidth) => "read_bw",
            (Write, Bandwidth) => "write_bw",
            (Send, Bandwidth) => "send_bw",
            (FetchAdd | CompareSwap, Bandwidth) => "atomic_bw",
        }
    }
}

/// Bandwidth unit of a BW table header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BwUnit {
    /// `MB/sec` (perftest ≤ 24.04; the number is 2^20 bytes per second).
    MB,
    /// `MiB/sec` (perftest ≥ 24.07; same number).
    MiB,
    /// `Gb/sec` (`--report_gbits`, 10^9 bits per second).
    Gb,
}

impl BwUnit {
    /// Converts a value in this unit to MiB/s.
    pub fn to_mib_s(self, v: f64) -> f64 {
        match self {
            BwUnit::MB | BwUnit::MiB => v,
            BwUnit::Gb => v * 1e9 / 8.0 / 1_048_576.0,
        }
    }
}

/// Kind of result table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// BW table: peak, average, message rate.
    Bandwidth {
        /// Unit of the two BW columns.
        unit: BwUnit,
        /// `--report_qos`: an SL column after the size.
        qos: bool,
        /// `--report-per-port`: four extra columns.
        per_port: bool,
    },
    /// Latency table; `full` = 9 columns (since 2016), else the old 5.
    Latency {
        /// t_avg, t_stdev and percentiles present.
        full: bool,
    },
    /// Duration-mode latency (`-D`): t_avg and (newer) tps.
    LatencyDuration,
}

/// One row of a BW table, values in the table's unit (see [`BwUnit::to_mib_s`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BwRow {
    /// Message size, bytes.
    pub bytes: u64,
    /// Iterations (all QPs).
    pub iterations: u64,
    /// BW peak (0.00 when perftest did not measure it).
    pub bw_peak: f64,
    /// BW average.
    pub bw_avg: f64,
    /// Message rate, Mpps.
    pub msg_rate_mpps: f64,
}

/// One row of a latency table, µs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatRow {
    /// Message size, bytes.
    pub bytes: u64,
    /// Iterations.
    pub iterations: u64,
    /// Smallest sample.
    pub t_min_us: f64,
    /// Second-largest sample.
    pub t_max_us: f64,
    /// Median.
    pub t_typical_us: f64,
    /// Mean (9-column tables only), and the remaining columns.
    pub t_avg_us: Option<f64>,
    /// Standard deviation (coarse, see the format doc).
    pub t_stdev_us: Option<f64>,
    /// 99th percentile.
    pub p99_us: Option<f64>,
    /// 99.9th percentile.
    pub p999_us: Option<f64>,
}

/// One row of a duration-mode latency table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatDurationRow {
    /// Message size, bytes.
    pub bytes: u64,
    /// Iterations posted.
    pub iterations: u64,
    /// Mean latency, µs.
    pub t_avg_us: f64,
    /// Transactions per second (newer perftest).
    pub tps: Option<f64>,
}

/// A result row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Row {
    /// BW test row.
    Bandwidth(BwRow),
    /// Latency test row.
    Latency(LatRow),
    /// Duration-mode latency row.
    LatencyDuration(LatDurationRow),
}

impl Row {
    /// Message size, bytes.
    pub fn bytes(&self) -> u64 {
        match self {
            Row::Bandwidth(r) => r.bytes,
            Row::Latency(r) => r.bytes,
            Row::LatencyDuration(r) => r.bytes,
        }
    }
}

/// One perftest run: its test, header block, table kind and rows.
#[derive(Clone, Debug, PartialEq)]
pub struct PerftestRun {
    /// The test-name line, trimmed (`RDMA_Read BW Test`).
    pub test_name: String,
    /// The parsed test.
    pub test: TestId,
    /// Header key/value pairs in order of appearance (first value of a key wins).
    pub header: Vec<(String, String)>,
    /// Table kind (None if the run printed no table).
    pub table: Option<TableKind>,
    /// Data rows, duplicates of interleaved streams removed.
    pub rows: Vec<Row>,
    /// 1-based line of the test-name line.
    pub line: usize,
}

impl PerftestRun {
    /// A header value by key (`Mtu`, `TX depth`, ...).
    pub fn header_value(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn header_number(&self, key: &str) -> Option<u64> {
        let v = self.header_value(key)?;
        let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    }

    /// `Mtu`, bytes.
    pub fn mtu_bytes(&self) -> Option<u64> {
        self.header_number("Mtu")
    }
    /// `Max inline data`, bytes.
    pub fn max_inline_bytes(&self) -> Option<u64> {
        self.header_number("Max inline data")
    }
    /// `Outstand reads`.
    pub fn outstanding_reads(&self) -> Option<u64> {
        self.header_number("Outstand reads")
    }
    /// `TX depth`.
    pub fn tx_depth(&self) -> Option<u64> {
        self.header_number("TX depth")
    }
    /// `CQ Moderation`.
    pub fn cq_moderation(&self) -> Option<u64> {
        self.header_number("CQ Moderation")
    }
    /// `Number of qps`.
    pub fn qps(&self) -> Option<u64> {
        self.header_number("Number of qps")
    }
    /// `Post List`.
    pub fn post_list(&self) -> Option<u64> {
        self.header_number("Post List")
    }
    /// `Link type`: `IB` or `Ethernet` (RoCE).
    pub fn link_type(&self) -> Option<&str> {
        self.header_value("Link type")
    }
    /// `Connection type`: RC, UC, UD, SRD, ...
    pub fn connection_type(&self) -> Option<&str> {
        self.header_value("Connection type")
    }
}

/// A line perftest output cannot contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (0: the whole input).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// Always true: a perftest text that does not parse is the user's input.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

fn is_result_line(t: &str) -> bool {
    t.len() >= 40 && t.bytes().all(|b| b == b'-')
}

/// Parses a test-name line (`RDMA_Read BW Test`, `Atomic FETCH_AND_ADD Latency Test`, ...).
pub fn parse_test_name(line: &str) -> Option<TestId> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.last() != Some(&"Test") || words.len() < 3 {
        return None;
    }
    let mut verb = match words[0] {
        "RDMA_Read" => PerftestVerb::Read,
        "RDMA_Write" | "RDMA_Write_imm" => PerftestVerb::Write,
        "Send" | "Send_imm" => PerftestVerb::Send,
        "Atomic" => PerftestVerb::FetchAdd,
        _ => return None,
    };
    let mut measure = None;
    let (mut bidirectional, mut post_list) = (false, false);
    for w in &words[1..words.len() - 1] {
        match *w {
            "FETCH_AND_ADD" if verb == PerftestVerb::FetchAdd => {}
            "CMP_AND_SWAP" if verb == PerftestVerb::FetchAdd => verb = PerftestVerb::CompareSwap,
            "BW" => measure = Some(Measure::Bandwidth),
            "Latency" => measure = Some(Measure::Latency),
            "Bidirectional" => bidirectional = true,
            "Post" | "List" => post_list = true,
            "forwarding" | "Multicast" => {}
            _ => return None,
        }
    }
    Some(TestId {
        verb,
        measure: measure?,
        bidirectional,
        post_list,
    })
}

/// Splits a header line into `key : value` pairs (TABs, or 2+ spaces before a capital letter,
/// separate pairs; `rdma_cm QPs\t : OFF` is one pair).
pub fn parse_header_pairs(line: &str) -> Vec<(String, String)> {
    let norm = line.replace('\t', "  ");
    let chars: Vec<char> = norm.chars().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j - i >= 2 && j < chars.len() && chars[j].is_ascii_uppercase() {
                parts.push(chars[start..i].iter().collect::<String>());
                start = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    parts.push(chars[start..].iter().collect::<String>());
    parts
        .iter()
        .filter_map(|p| {
            let (k, v) = p.split_once(':')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

fn parse_column_header(t: &str, line: usize) -> Result<TableKind, ParseError> {
    let bracket = |label: &str| -> Option<&str> {
        let i = t.find(label)? + label.len();
        let rest = &t[i..];
        Some(&rest[..rest.find(']')?])
    };
    if t.contains("BW peak[") {
        let unit = match (bracket("BW peak["), bracket("BW average[")) {
            (Some(a), Some(b)) if a == b => match a {
                "MB/sec" => BwUnit::MB,
                "MiB/sec" => BwUnit::MiB,
                "Gb/sec" => BwUnit::Gb,
                other => {
                    return Err(ParseError {
                        line,
                        message: format!("unknown bandwidth unit `{other}` in the column header"),
                    });
                }
            },
            _ => {
                return Err(ParseError {
                    line,
                    message: "BW column header without matching `BW average[...]` unit".into(),
                });
            }
        };
        if !t.contains("MsgRate[Mpps]") {
            return Err(ParseError {
                line,
                message: "BW column header without `MsgRate[Mpps]`".into(),
            });
        }
        return Ok(TableKind::Bandwidth {
            unit,
            qos: t.contains("#sl"),
            per_port: t.contains("BW Port1"),
        });
    }
    if t.contains("t_min[usec]") && t.contains("t_typical[usec]") {
        let full = t.contains("t_avg[usec]") && t.contains("99.9% percentile[usec]");
        return Ok(TableKind::Latency { full });
    }
    if t.contains("t_avg[usec]") {
        return Ok(TableKind::LatencyDuration);
    }
    Err(ParseError {
        line,
        message: format!("unrecognised column header `{t}`"),
    })
}

fn parse_row(t: &str, kind: TableKind, line: usize) -> Result<Row, ParseError> {
    let toks: Vec<&str> = t.split_whitespace().collect();
    let bad = |m: String| ParseError { line, message: m };
    let int = |s: &str, what: &str| -> Result<u64, ParseError> {
        s.parse::<u64>()
            .map_err(|_| bad(format!("{what} `{s}` is not a whole number")))
    };
    // perftest prints finite non-negative figures; `nan`, `inf` or `-3` is a damaged table,
    // which a fit would turn into a NaN profile.
    let num = |s: &str| -> Result<f64, ParseError> {
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            Ok(_) => Err(bad(format!(
                "value `{s}` is not a finite non-negative number"
            ))),
            Err(_) => Err(bad(format!("value `{s}` is not a number"))),
        }
    };
    let (expected, extra_ok): (usize, usize) = match kind {
        TableKind::Bandwidth { qos, per_port, .. } => {
            (3 + usize::from(qos) + if per_port { 4 } else { 0 }, 1)
        }
        TableKind::Latency { full: true } => (7, 1),
        TableKind::Latency { full: false } => (3, 1),
        TableKind::LatencyDuration => (1, 2),
    };
    let got = toks.len().saturating_sub(2);
    if toks.len() < 2 || got < expected || got > expected + extra_ok {
        return Err(bad(format!(
            "expected a size, an iteration count and {expected} values for this table, found {} fields in `{t}`",
            toks.len()
        )));
    }
    let bytes = int(toks[0], "message size")?;
    match kind {
        TableKind::Bandwidth { qos, .. } => {
            let o = usize::from(qos);
            let iterations = int(toks[1 + o], "iteration count")?;
            Ok(Row::Bandwidth(BwRow {
                bytes,
                iterations,
                bw_peak: num(toks[2 + o])?,
                bw_avg: num(toks[3 + o])?,
                msg_rate_mpps: num(toks[4 + o])?,
            }))
        }
        TableKind::Latency { full } => {
            let v: Vec<f64> = toks[2..].iter().map(|s| num(s)).collect::<Result<_, _>>()?;
            Ok(Row::Latency(LatRow {
                bytes,
                iterations: int(toks[1], "iteration count")?,
                t_min_us: v[0],
                t_max_us: v[1],
                t_typical_us: v[2],
                t_avg_us: full.then(|| v[3]),
                t_stdev_us: full.then(|| v[4]),
                p99_us: full.then(|| v[5]),
                p999_us: full.then(|| v[6]),
            }))
        }
        TableKind::LatencyDuration => {
            let v: Vec<f64> = toks[2..].iter().map(|s| num(s)).collect::<Result<_, _>>()?;
            Ok(Row::LatencyDuration(LatDurationRow {
                bytes,
                iterations: int(toks[1], "iteration count")?,
                t_avg_us: v[0],
                tps: v.get(1).copied(),
            }))
        }
    }
}

/// Parses a whole perftest output (one or more runs, possibly interleaved server and client).
pub fn parse_perftest(text: &str) -> Result<Vec<PerftestRun>, ParseError> {
    let mut runs: Vec<PerftestRun> = Vec::new();
    let mut in_table = false;
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        if is_result_line(t) {
            in_table = false;
            continue;
        }
        if let Some(test) = parse_test_name(t) {
            in_table = false;
            let merge = runs
                .last()
                .is_some_and(|r| r.rows.is_empty() && r.test == test);
            if !merge {
                runs.push(PerftestRun {
                    test_name: t.to_string(),
                    test,
                    header: Vec::new(),
                    table: None,
                    rows: Vec::new(),
                    line,
                });
            }
            continue;
        }
        if t.starts_with("#bytes") {
            let kind = parse_column_header(t, line)?;
            let Some(run) = runs.last_mut() else {
                return Err(ParseError {
                    line,
                    message: "column header before any perftest test-name line".into(),
                });
            };
            match run.table {
                Some(k) if k != kind => {
                    return Err(ParseError {
                        line,
                        message: format!(
                            "column header of a different table ({kind:?}) inside a {k:?} run"
                        ),
                    });
                }
                _ => run.table = Some(kind),
            }
            in_table = true;
            continue;
        }
        let Some(run) = runs.last_mut() else {
            continue; // banner or warning before the first run
        };
        if in_table {
            if !t.as_bytes()[0].is_ascii_digit() {
                continue; // stray warning inside the table (CPU frequency, ...)
            }
            let row = parse_row(t, run.table.expect("in a table"), line)?;
            if !run.rows.contains(&row) {
                run.rows.push(row);
            }
        } else {
            for (k, v) in parse_header_pairs(t) {
                if !run.header.iter().any(|(hk, _)| *hk == k) {
                    run.header.push((k, v));
                }
            }
        }
    }
    // Drop empty runs (a server's header block) and runs repeating an earlier run's rows.
    let mut out: Vec<PerftestRun> = Vec::new();
    for r in runs {
        if r.rows.is_empty() {
            continue;
        }
        let dup = out
            .iter()
            .any(|o| o.test == r.test && r.rows.iter().all(|row| o.rows.contains(row)));
        if !dup {
            out.push(r);
        }
    }
    if out.is_empty() {
        return Err(ParseError {
            line: 0,
            message: "no perftest result table found (expected a `#bytes ...` column header followed by rows)".into(),
        });
    }
    Ok(out)
}
