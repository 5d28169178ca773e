//! The sweep spec as written (serde types that reject unknown keys), and its loaded form: the
//! base scenario inlined, the canonical spec and its hash.
//!
//! ```yaml
//! base: ../default.yaml          # a scenario file (relative to this file), an inline scenario
//!                                # mapping, or absent (the embedded default scenario)
//! set:                           # overrides applied to every point, by `run --set` paths
//!   workload.synthetic.limit.requests: 500
//! parameters:                    # axes of a cartesian grid; the first varies slowest
//!   - path: cache.capacity_blocks
//!     values: [100, 400]
//!   - path: workload.rate_scale
//!     range: { from: 0.5, to: 2.0, steps: 3, scale: log }
//!   - zip:                       # paths that advance together (lists of equal length)
//!       - { path: cluster.instances, values: [2, 4] }
//!       - { path: router.kind, values: [round-robin, cache-aware] }
//! seeds: 2                       # replicates: a count (seeds 1..=N) or a list; innermost
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use super::SweepError;
use super::expand::{Axis, RangeScale};
use crate::scenario::{DEFAULT_SCENARIO, Override, ScenarioError, from_value, resolve_trace_path};

/// Top level of a sweep spec file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// The base scenario: a file path (relative to the spec's folder), an inline mapping, or
    /// absent for the embedded default scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Value>,
    /// Overrides of every point, `path: value`, applied in order before the parameters.
    #[serde(default, skip_serializing_if = "Mapping::is_empty")]
    pub set: Mapping,
    /// Parameter axes, combined as a cartesian product (first axis slowest).
    #[serde(default)]
    pub parameters: Vec<RawAxis>,
    /// Replicate seeds: a count N (seeds 1..=N) or a list. Absent: the base scenario's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Value>,
}

/// One axis: a parameter (`path` with `values` or `range`) or a `zip` of parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAxis {
    /// Scenario field, as `run --set` writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The values (any YAML: numbers, strings, mappings, null to unset an optional field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    /// Evenly spaced numbers instead of `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RawRange>,
    /// Parameters that advance together instead of `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<Vec<RawParameter>>,
}

/// A member of a `zip`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParameter {
    /// Scenario field.
    pub path: String,
    /// The values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    /// Evenly spaced numbers instead of `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RawRange>,
}

/// `steps` numbers from `from` to `to` (both included), evenly spaced on a linear or log scale,
/// rounded to 12 significant digits (or to integers with `round: true`, for integer fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    /// First value.
    pub from: f64,
    /// Last value.
    pub to: f64,
    /// Number of values (1 gives `from` alone).
    pub steps: u32,
    /// `linear` (default) or `log` (geometric; `from` and `to` positive).
    #[serde(default)]
    pub scale: RangeScale,
    /// Round to integers (for fields such as `cluster.instances`). Default false.
    #[serde(default)]
    pub round: bool,
}

/// A loaded, checked spec, ready to expand into points.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// The spec file (for messages).
    pub source: String,
    /// Its folder: relative paths in the spec resolve against it.
    pub dir: PathBuf,
    /// The spec with the base scenario inlined, as `sweep.resolved.yaml` records it.
    pub canonical: Value,
    /// XXH64 of the canonical spec's YAML text, 16 hex digits: equal hashes, same sweep.
    pub hash: String,
    /// The base scenario with `set` applied; a relative trace path already resolved.
    pub base: Value,
    /// The axes, values expanded.
    pub axes: Vec<Axis>,
    /// Replicate seeds, if given.
    pub seeds: Option<Vec<u64>>,
    /// Resource limits every point is checked against (default; `--allow-large` lifts them).
    pub limits: crate::limits::Limits,
}

/// Loads a sweep spec file.
pub fn load_spec(path: &Path) -> Result<SweepSpec, SweepError> {
    let text = std::fs::read_to_string(path).map_err(|e| SweepError::Read {
        path: path.display().to_string(),
        source: e,
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_spec_str(&text, &path.display().to_string(), &dir)
}

/// Loads a sweep spec from YAML text; `dir` is where its relative paths resolve.
pub fn load_spec_str(text: &str, source: &str, dir: &Path) -> Result<SweepSpec, SweepError> {
    let value: Value = serde_norway::from_str(text).map_err(|e| ScenarioError::Yaml {
        path: source.to_string(),
        message: e.to_string(),
    })?;
    let raw: RawSweep = from_value(value, source)?;
    let (base_value, base_dir) = load_base(&raw, source, dir)?;

    // YAML parses a mapping used as a key (`{ {a: 1}: 2 }`, or `{ {a: 1} }`) but cannot write
    // one back; the canonical text is what the hash and `sweep.resolved.yaml` record.
    let unwritable = |e: serde_norway::Error| {
        SweepError::spec(
            source,
            format!(
                "cannot be recorded as YAML ({e}); is a mapping or a list used as a key, as in `{{ {{a: 1}} }}`?"
            ),
        )
    };
    let mut canonical = serde_norway::to_value(&raw).map_err(unwritable)?;
    if let Value::Mapping(m) = &mut canonical {
        m.insert("base".into(), base_value.clone());
    }
    let text = serde_norway::to_string(&canonical).map_err(unwritable)?;
    let hash = hash_text(&text);

    let mut base = base_value;
    resolve_trace_path(&mut base, &base_dir);
    let before = trace_of(&base);
    for (key, value) in &raw.set {
        let Value::String(path) = key else {
            return Err(SweepError::spec(
                source,
                format!(
                    "set: keys are field paths, got {}",
                    super::render_value(key)
                ),
            ));
        };
        check_path(source, &format!("set: `{path}`"), path)?;
        Override {
            path: path.clone(),
            value: value.clone(),
        }
        .apply(&mut base)
        .map_err(|e| SweepError::spec(source, format!("set: {e}")))?;
    }
    if trace_of(&base) != before {
        resolve_trace_path(&mut base, dir);
    }

    let mut axes: Vec<Axis> = Vec::with_capacity(raw.parameters.len());
    for (i, a) in raw.parameters.iter().enumerate() {
        let axis = Axis::from_raw(a, &format!("parameters[{i}]"))
            .map_err(|message| SweepError::spec(source, message))?;
        for path in &axis.paths {
            check_path(source, &format!("parameters[{i}]: `{path}`"), path)?;
            if path == "seed" {
                return Err(SweepError::spec(
                    source,
                    format!(
                        "parameters[{i}]: sweep seeds with `seeds:` (a count or a list), which fills the `seed` column"
                    ),
                ));
            }
            if axes.iter().flat_map(|a| &a.paths).any(|p| p == path) {
                return Err(SweepError::spec(
                    source,
                    format!("parameters[{i}]: `{path}` is already a parameter"),
                ));
            }
        }
        axes.push(axis);
    }
    let seeds = raw
        .seeds
        .as_ref()
        .map(|v| parse_seeds(v).map_err(|m| SweepError::spec(source, format!("seeds: {m}"))))
        .transpose()?;
    Ok(SweepSpec {
        source: source.to_string(),
        dir: dir.to_path_buf(),
        canonical,
        hash,
        base,
        axes,
        seeds,
        limits: crate::limits::Limits::default(),
    })
}

/// The base scenario's YAML value (as written) and the folder its relative paths resolve to.
fn load_base(raw: &RawSweep, source: &str, dir: &Path) -> Result<(Value, PathBuf), SweepError> {
    match &raw.base {
        None => Ok((
            serde_norway::from_str(DEFAULT_SCENARIO).expect("the default scenario parses"),
            PathBuf::new(),
        )),
        Some(Value::String(p)) => {
            let path = dir.join(p);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                SweepError::spec(
                    source,
                    format!("base: cannot read scenario {}: {e}", path.display()),
                )
            })?;
            let value = serde_norway::from_str(&text).map_err(|e| ScenarioError::Yaml {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            Ok((value, base_dir))
        }
        Some(v @ Value::Mapping(_)) => Ok((v.clone(), dir.to_path_buf())),
        Some(other) => Err(SweepError::spec(
            source,
            format!(
                "base: expected a scenario file path or a scenario mapping, got {}",
                super::render_value(other)
            ),
        )),
    }
}

/// `workload.trace` of a scenario value, if any.
pub(super) fn trace_of(value: &Value) -> Option<Value> {
    value.get("workload").and_then(|w| w.get("trace")).cloned()
}

fn check_path(source: &str, what: &str, path: &str) -> Result<(), SweepError> {
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(SweepError::spec(
            source,
            format!("{what}: the path has an empty component"),
        ));
    }
    Ok(())
}

fn parse_seeds(v: &Value) -> Result<Vec<u64>, String> {
    let seeds: Vec<u64> = match v {
        Value::Number(n) => match n.as_u64() {
            Some(count) if count > super::expand::MAX_POINTS as u64 => {
                return Err(format!(
                    "a count of {count} is above the {} points a sweep may have",
                    super::expand::MAX_POINTS
                ));
            }
            Some(count) if count >= 1 => (1..=count).collect(),
            _ => return Err(format!("a count must be at least 1, got {n}")),
        },
        Value::Sequence(items) => items
            .iter()
            .map(|s| {
                s.as_u64().ok_or_else(|| {
                    format!(
                        "seeds must be non-negative integers, got {}",
                        super::render_value(s)
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a count or a list of seeds, got {}",
                super::render_value(other)
            ));
        }
    };
    if seeds.is_empty() {
        return Err("the list is empty".into());
    }
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("seed {} appears twice", w[0]));
    }
    Ok(seeds)
}

/// The hash recorded for a canonical text (a sweep's spec, a plan's request): XXH64, 16 hex
/// digits; equal hashes, same sweep.
pub fn hash_text(text: &str) -> String {
    format!("{:016x}", twox_hash::XxHash64::oneshot(0, text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SweepSpec, SweepError> {
        load_spec_str(text, "s.yaml", Path::new(""))
    }

    #[test]
    fn the_hash_ignores_layout_and_comments_but_not_values() {
        let a = load("parameters:\n  - {path: cluster.instances, values: [1, 2]}\n").unwrap();
        let b =
            load("# a comment\nparameters:\n- path: cluster.instances\n  values:\n  - 1\n  - 2\n")
                .unwrap();
        let c = load("parameters:\n  - {path: cluster.instances, values: [1, 3]}\n").unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.hash.len(), 16);
    }

    #[test]
    fn unknown_keys_are_named_with_a_suggestion() {
        let err = load("parameters:\n  - {path: cluster.instances, valuse: [1]}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `values`"), "{err}");
        let err = load("seed: 3\n").unwrap_err().to_string();
        assert!(err.contains("did you mean `seeds`"), "{err}");
    }

    #[test]
    fn seeds_are_a_count_or_a_list_without_repeats() {
        assert_eq!(load("seeds: 3\n").unwrap().seeds, Some(vec![1, 2, 3]));
        assert_eq!(load("seeds: [7, 5]\n").unwrap().seeds, Some(vec![7, 5]));
        for bad in ["seeds: 0\n", "seeds: [1, 1]\n", "seeds: []\n", "seeds: x\n"] {
            assert!(load(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mapping_used_as_a_key_in_the_base_is_an_error_not_a_panic() {
        // Found by `fuzz_sweep_yaml` (a deletion turned `{ synthetic: {..} }` into `{ {..} }`).
        let err = load("base:\n  workload: {  { limit: { requests: 10 } } }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("s.yaml") && err.contains("as a key"), "{err}");
    }

    #[test]
    fn a_billion_seeds_is_refused_before_the_list_is_built() {
        let err = load("seeds: 1000000000\n").unwrap_err().to_string();
        assert!(err.contains("seeds") && err.contains("1000000000"), "{err}");
        assert!(err.contains("100000"), "{err}");
    }

    #[test]
    fn duplicate_and_seed_parameters_are_rejected() {
        let err = load(
            "parameters:\n  - {path: cluster.instances, values: [1]}\n  - {path: cluster.instances, values: [2]}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("already a parameter"), "{err}");
        let err = load("parameters:\n  - {path: seed, values: [1]}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("seeds:"), "{err}");
    }

    #[test]
    fn set_applies_to_the_base() {
        let s = load("set:\n  cluster.instances: 7\n").unwrap();
        assert_eq!(s.base["cluster"]["instances"], Value::from(7));
    }
}
