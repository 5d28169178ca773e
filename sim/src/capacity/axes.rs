//! The arguments of `kvcsim plan`: `--vary PATH=RANGE|LIST` axes and the `--slo` targets.

use crate::error::input_error;

/// The one axis searched rather than enumerated: more instances never make a request slower
/// in expectation, so "meets the SLO" is taken as monotone in it (and checked, see
/// [`super::Plan::non_monotone`]).
pub const INSTANCES: &str = "cluster.instances";

/// The load multiplier: more load never makes a request faster in expectation, so "meets the
/// SLO" is taken as monotone *decreasing* in it (and checked the same way).
pub const RATE_SCALE: &str = "workload.rate_scale";

/// Paths whose ranges `plan` searches.
pub const MONOTONE: &[&str] = &[INSTANCES, RATE_SCALE];

/// Step of a rate range written without one (`LO..HI`), and of `--headroom`.
pub const DEFAULT_RATE_STEP: f64 = 0.01;

/// Most rates a range may hold (a bisection over them takes 1 + 20 probes).
pub const MAX_RATE_POINTS: u32 = 1 << 20;

/// The rates `LO, LO + STEP, ..., ` up to `HI` (included when on the grid), each rounded to the
/// decimals of `LO` and `STEP` (so `0.5..8:0.25` gives 0.5, 0.75, ..., 8 exactly as written,
/// and no value carries a binary rounding tail such as 0.5700000000000001).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateGrid {
    /// The lowest rate.
    pub lo: f64,
    /// The step.
    pub step: f64,
    /// Number of rates (at least 1).
    pub count: u32,
}

impl RateGrid {
    /// The grid over `lo..=hi`; `None` when `hi < lo` or it would hold more than
    /// [`MAX_RATE_POINTS`].
    pub fn new(lo: f64, hi: f64, step: f64) -> Option<RateGrid> {
        let steps = ((hi - lo) / step + 1e-9).floor();
        (steps >= 0.0 && steps < f64::from(MAX_RATE_POINTS)).then(|| RateGrid {
            lo,
            step,
            count: steps as u32 + 1,
        })
    }

    /// Rate `k` (0 is `lo`).
    pub fn value(&self, k: u32) -> f64 {
        let d = decimals(self.lo).max(decimals(self.step));
        let v = self.lo + f64::from(k) * self.step;
        format!("{v:.d$}").parse().unwrap_or(v)
    }

    /// The highest rate.
    pub fn hi(&self) -> f64 {
        self.value(self.count - 1)
    }
}

/// Decimals needed to write `x` exactly as its shortest form (at most 15).
fn decimals(x: f64) -> usize {
    (0..15)
        .find(|&d| format!("{x:.d$}").parse::<f64>() == Ok(x))
        .unwrap_or(15)
}

/// One `--vary`.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// `cluster.instances=LO..HI` (both included), searched by bisection.
    Instances {
        /// Fewest instances tried.
        lo: u32,
        /// Most instances tried.
        hi: u32,
    },
    /// `workload.rate_scale=LO..HI[:STEP]`, searched by bisection for the largest rate that
    /// meets the SLO.
    RateScale(RateGrid),
    /// `PATH=A,B,C`: every value tried (YAML values, as for `--set`).
    List {
        /// Dotted scenario path.
        path: String,
        /// Values as written.
        values: Vec<String>,
    },
}

impl Axis {
    /// Parses `PATH=LO..HI` or `PATH=A,B,...`.
    pub fn parse(text: &str) -> crate::error::Result<Axis> {
        let bad = |why: String| input_error(format!("bad --vary `{text}`: {why}"));
        let (path, spec) = text
            .split_once('=')
            .ok_or_else(|| bad("expected PATH=LO..HI or PATH=A,B,...".into()))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(bad("no path before `=`".into()));
        }
        if let Some((lo, hi)) = spec.split_once("..") {
            if !MONOTONE.contains(&path) {
                return Err(bad(format!(
                    "a range is searched only on a monotone axis ({}); give `{path}` a list of values, e.g. {path}=a,b",
                    MONOTONE.join(", ")
                )));
            }
            if path == RATE_SCALE {
                return rate_axis(lo, hi).map_err(bad);
            }
            let int = |s: &str, which: &str| -> crate::error::Result<u32> {
                s.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| {
                        bad(format!(
                            "{which} `{s}` is not an instance count (1 or more)"
                        ))
                    })
            };
            let (lo, hi) = (int(lo, "low end")?, int(hi, "high end")?);
            if lo > hi {
                return Err(bad(format!("the range {lo}..{hi} is empty (inverted)")));
            }
            return Ok(Axis::Instances { lo, hi });
        }
        let values: Vec<String> = spec.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(bad("an empty value in the list".into()));
        }
        Ok(Axis::List {
            path: path.to_string(),
            values,
        })
    }

    /// The axis's path.
    pub fn path(&self) -> &str {
        match self {
            Axis::Instances { .. } => INSTANCES,
            Axis::RateScale(_) => RATE_SCALE,
            Axis::List { path, .. } => path,
        }
    }

    /// The axis as `--vary` text in one form (what a plan folder's record hashes).
    pub fn canonical(&self) -> String {
        match self {
            Axis::Instances { lo, hi } => format!("{INSTANCES}={lo}..{hi}"),
            Axis::RateScale(g) => format!("{RATE_SCALE}={}..{}:{}", g.lo, g.hi(), g.step),
            Axis::List { path, values } => format!("{path}={}", values.join(",")),
        }
    }
}

/// `LO..HI[:STEP]` of `workload.rate_scale`.
fn rate_axis(lo: &str, hi: &str) -> Result<Axis, String> {
    let (hi, step) = match hi.split_once(':') {
        Some((h, s)) => (h, Some(s)),
        None => (hi, None),
    };
    let num = |s: &str, which: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| format!("{which} `{}` is not a positive rate scale", s.trim()))
    };
    let (lo, hi) = (num(lo, "low end")?, num(hi, "high end")?);
    let step = match step {
        Some(s) => num(s, "step")?,
        None => DEFAULT_RATE_STEP,
    };
    if lo > hi {
        return Err(format!("the range {lo}..{hi} is empty (inverted)"));
    }
    RateGrid::new(lo, hi, step).map(Axis::RateScale).ok_or_else(|| {
        format!("the range {lo}..{hi} in steps of {step} holds more than {MAX_RATE_POINTS} rates; give a larger step (`LO..HI:STEP`)")
    })
}

/// `--slo ttft_ms=2000,tpot_ms=50` as the `--set` override of the scenario's `slo` block
/// (which then validates it: unknown keys, bad values, no target).
pub fn slo_override(text: &str) -> crate::error::Result<String> {
    let mut pairs = Vec::new();
    for part in text.split(',') {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            input_error(format!(
                "bad --slo `{text}`: expected KEY=VALUE,... (keys ttft_ms, tpot_ms, e2e_ms, percentile)"
            ))
        })?;
        pairs.push(format!("{}: {}", k.trim(), v.trim()));
    }
    Ok(format!("slo={{{}}}", pairs.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_bad_ones_are_refused() {
        assert_eq!(
            Axis::parse("cluster.instances=1..1024").unwrap(),
            Axis::Instances { lo: 1, hi: 1024 }
        );
        assert_eq!(
            Axis::parse("cluster.gpu=h100-sxm, h200").unwrap(),
            Axis::List {
                path: "cluster.gpu".into(),
                values: vec!["h100-sxm".into(), "h200".into()]
            }
        );
        assert_eq!(
            Axis::parse("workload.rate_scale=0.5..8:0.25").unwrap(),
            Axis::RateScale(RateGrid {
                lo: 0.5,
                step: 0.25,
                count: 31
            })
        );
        let Axis::RateScale(g) = Axis::parse("workload.rate_scale=0.5..2").unwrap() else {
            panic!("a rate axis")
        };
        assert_eq!((g.count, g.value(7), g.hi()), (151, 0.57, 2.0));
        for (bad, why) in [
            ("workload.rate_scale=2..1", "inverted"),
            ("workload.rate_scale=0..1", "low end `0`"),
            ("workload.rate_scale=1..2:0", "step `0`"),
            ("workload.rate_scale=1..2:x", "step `x`"),
            ("workload.rate_scale=1..1e9:1e-6", "larger step"),
            ("cluster.instances=8..2", "inverted"),
            ("cluster.instances=0..4", "low end"),
            ("cluster.tensor_parallel=1..4", "monotone"),
            ("cluster.gpu=", "empty value"),
            ("cluster.instances", "PATH="),
        ] {
            let e = Axis::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(
            slo_override("ttft_ms=2000, tpot_ms=50").unwrap(),
            "slo={ttft_ms: 2000, tpot_ms: 50}"
        );
        assert!(slo_override("ttft_ms").is_err());
    }
}
