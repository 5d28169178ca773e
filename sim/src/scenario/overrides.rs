//! `--set path=value` overrides applied to the parsed YAML before it is typed.
//!
//! A path is a dot-separated list of mapping keys (`cluster.instances`) or sequence indices
//! (`sweep.points.0`). Missing intermediate mappings are created, so an override can set a field
//! the file left to its default. The value is parsed as a YAML scalar or flow collection:
//! `16` is a number, `true` a boolean, `[1, 2]` a list, `other.jsonl` a string. Sweeps address
//! parameters with the same paths.

use serde_norway::{Mapping, Value};

use super::ScenarioError;

/// One parsed `path=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dot-separated path, as given.
    pub path: String,
    /// Parsed value.
    pub value: Value,
}

impl Override {
    /// Parses `path=value`.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let Some((path, raw)) = text.split_once('=') else {
            return Err(ScenarioError::BadOverride {
                text: text.to_string(),
                reason: "expected PATH=VALUE, e.g. cluster.instances=16".into(),
            });
        };
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(ScenarioError::BadOverride {
                text: text.to_string(),
                reason: "the path has an empty component".into(),
            });
        }
        let value = if raw.trim().is_empty() {
            Value::Null
        } else {
            serde_norway::from_str(raw).map_err(|e| ScenarioError::BadOverride {
                text: text.to_string(),
                reason: format!("the value is not valid YAML: {e}"),
            })?
        };
        Ok(Override {
            path: path.to_string(),
            value,
        })
    }

    /// Writes the value at the path inside `root`.
    pub fn apply(&self, root: &mut Value) -> Result<(), ScenarioError> {
        let mut node = root;
        let parts: Vec<&str> = self.path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if node.is_null() {
                // A numeric part under an absent key means a list item nobody made yet: say so
                // rather than create a mapping `{5: ...}` that fails later without the index.
                if i > 0 && part.parse::<usize>().is_ok() {
                    return Err(self.not_container(
                        &parts[..i],
                        &format!(
                            "absent, so it has no item {part}; set the whole list, e.g. `{}=[...]`",
                            parts[..i].join(".")
                        ),
                    ));
                }
                *node = Value::Mapping(Mapping::new());
            }
            node = match node {
                Value::Mapping(map) => {
                    let key = Value::String((*part).to_string());
                    if last {
                        map.insert(key, self.value.clone());
                        return Ok(());
                    }
                    map.entry(key).or_insert(Value::Null)
                }
                Value::Sequence(seq) => {
                    let idx: usize = part.parse().map_err(|_| {
                        self.not_container(&parts[..i], "a list (use a numeric index)")
                    })?;
                    let len = seq.len();
                    let slot = seq.get_mut(idx).ok_or_else(|| {
                        self.not_container(
                            &parts[..i],
                            &format!(
                                "a list of {len} items (indices 0 to {}), so index {idx} is past its end",
                                len.saturating_sub(1)
                            ),
                        )
                    })?;
                    if last {
                        *slot = self.value.clone();
                        return Ok(());
                    }
                    slot
                }
                _ => return Err(self.not_container(&parts[..i], "a scalar")),
            };
        }
        Ok(())
    }

    fn not_container(&self, prefix: &[&str], what: &str) -> ScenarioError {
        ScenarioError::BadOverride {
            text: format!("{}=...", self.path),
            reason: format!(
                "`{}` is {what}, so `{}` cannot go inside it",
                prefix.join("."),
                self.path
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn sets_nested_and_creates_missing_maps() {
        let mut v = yaml("cluster:\n  instances: 2\n");
        Override::parse("cluster.instances=16")
            .unwrap()
            .apply(&mut v)
            .unwrap();
        Override::parse("cache.eviction.kind=lru")
            .unwrap()
            .apply(&mut v)
            .unwrap();
        assert_eq!(
            v,
            yaml("cluster:\n  instances: 16\ncache:\n  eviction:\n    kind: lru\n")
        );
    }

    #[test]
    fn values_are_typed_yaml() {
        let o = Override::parse("workload.trace=other.jsonl").unwrap();
        assert_eq!(o.value, Value::String("other.jsonl".into()));
        let o = Override::parse("x=[1, 2]").unwrap();
        assert_eq!(o.value, yaml("[1, 2]"));
        assert_eq!(Override::parse("x=").unwrap().value, Value::Null);
    }

    #[test]
    fn rejects_malformed_overrides() {
        assert!(Override::parse("cluster.instances").is_err());
        assert!(Override::parse("cluster..instances=3").is_err());
        let mut v = yaml("seed: 1\n");
        let err = Override::parse("seed.x=3")
            .unwrap()
            .apply(&mut v)
            .unwrap_err();
        assert!(err.to_string().contains("`seed` is a scalar"), "{err}");
    }

    #[test]
    fn indexes_sequences() {
        let mut v = yaml("a: [1, 2]\n");
        Override::parse("a.1=5").unwrap().apply(&mut v).unwrap();
        assert_eq!(v, yaml("a: [1, 5]\n"));
        assert!(Override::parse("a.7=5").unwrap().apply(&mut v).is_err());
    }

    #[test]
    fn an_index_past_the_end_or_into_an_absent_list_is_named() {
        let mut v = yaml("cache:\n  tiers: [{kind: dram}]\n");
        let err = Override::parse("cache.tiers.5.kind=dram")
            .unwrap()
            .apply(&mut v)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("index 5") && err.contains("cache.tiers"),
            "{err}"
        );
        let mut v = yaml("seed: 1\n");
        let err = Override::parse("cache.tiers.5.kind=dram")
            .unwrap()
            .apply(&mut v)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no item 5") && err.contains("cache.tiers=[...]"),
            "{err}"
        );
    }
}
