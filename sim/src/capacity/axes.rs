//! The arguments of `kvcsim plan`: `--vary PATH=RANGE|LIST` axes and the `--slo` targets.

use crate::error::input_error;

/// The one axis searched rather than enumerated: more instances never make a request slower
/// in expectation, so "meets the SLO" is taken as monotone in it (and checked, see
/// [`super::Plan::non_monotone`]).
pub const INSTANCES: &str = "cluster.instances";

/// Paths whose ranges `plan` searches.
pub const MONOTONE: &[&str] = &[INSTANCES];

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
            Axis::List { path, .. } => path,
        }
    }
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
        for (bad, why) in [
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
