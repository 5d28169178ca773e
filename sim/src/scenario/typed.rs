//! Typing a YAML value with errors that name the field path, the bad value and, for an unknown
//! key or variant, the nearest valid one.

use serde::de::DeserializeOwned;
use serde_norway::Value;

use super::ScenarioError;

/// Deserialises `value` into `T`; `source` (a file name, or "override") prefixes every error.
pub fn from_value<T: DeserializeOwned>(value: Value, source: &str) -> Result<T, ScenarioError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let suggestion = nearest_suggestion(&message);
        ScenarioError::Field {
            origin: source.to_string(),
            path: if path == "." {
                "(top level)".into()
            } else {
                path
            },
            message: match suggestion {
                Some(s) => format!("{message}; did you mean `{s}`?"),
                None => message,
            },
        }
    })
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the valid
/// name closest to `x` (normalised Levenshtein similarity at least 0.5), if any.
fn nearest_suggestion(message: &str) -> Option<String> {
    if !(message.starts_with("unknown field") || message.starts_with("unknown variant")) {
        return None;
    }
    let mut ticked = message.split('`').skip(1).step_by(2);
    let unknown = ticked.next()?;
    ticked
        .map(|cand| (strsim::normalized_levenshtein(unknown, cand), cand))
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, cand)| cand.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        cluster: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        instances: u32,
        #[serde(default)]
        gpu: String,
    }

    fn parse(s: &str) -> Result<Outer, ScenarioError> {
        from_value(serde_norway::from_str(s).unwrap(), "test.yaml")
    }

    #[test]
    fn unknown_key_gets_path_and_nearest_key() {
        let err = parse("cluster:\n  instancs: 4\n").unwrap_err().to_string();
        assert!(err.contains("test.yaml"), "{err}");
        assert!(err.contains("cluster"), "{err}");
        assert!(err.contains("did you mean `instances`"), "{err}");
    }

    #[test]
    fn negative_count_names_path_and_value() {
        let err = parse("cluster:\n  instances: -3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster.instances"), "{err}");
        assert!(err.contains("-3"), "{err}");
    }

    #[test]
    fn no_suggestion_for_unrelated_key() {
        let err = parse("cluster:\n  instances: 1\n  zzzzzzzz: 1\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }
}
