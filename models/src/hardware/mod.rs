//! Hardware profiles: model architectures ([`LlmSpec`]) and GPUs ([`GpuSpec`]).
//!
//! Profiles are YAML files under `scenarios/hardware/{models,gpus}/`, each figure with its public
//! source in a comment. The files are embedded in the binary (`include_str!`), so a bare name
//! such as `h100-sxm` works from any directory; a path ending in `.yaml` or `.yml` loads that
//! file instead, for hardware that has no built-in profile.
//!
//! ```
//! use kvcsim_models::hardware::{load_gpu, load_llm};
//!
//! let llm = load_llm("llama-3.1-8b")?;
//! let gpu = load_gpu("h100-sxm")?;
//! assert_eq!(llm.kv_bytes_per_token(), 131_072);
//! assert_eq!(gpu.hbm_capacity_bytes, 80_000_000_000);
//! assert!(load_gpu("h100").unwrap_err().to_string().contains("did you mean `h100-sxm`"));
//! # Ok::<(), kvcsim_models::hardware::HardwareError>(())
//! ```

mod gpu_spec;
mod llm_spec;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use gpu_spec::GpuSpec;
pub use llm_spec::LlmSpec;

/// Built-in model profiles: (name, YAML text).
const EMBEDDED_LLMS: &[(&str, &str)] = &[
    (
        "llama-3.1-8b",
        include_str!("../../../scenarios/hardware/models/llama-3.1-8b.yaml"),
    ),
    (
        "llama-3.1-70b",
        include_str!("../../../scenarios/hardware/models/llama-3.1-70b.yaml"),
    ),
    (
        "qwen2.5-32b",
        include_str!("../../../scenarios/hardware/models/qwen2.5-32b.yaml"),
    ),
    (
        "llama-2-7b",
        include_str!("../../../scenarios/hardware/models/llama-2-7b.yaml"),
    ),
    (
        "llama-2-70b",
        include_str!("../../../scenarios/hardware/models/llama-2-70b.yaml"),
    ),
    (
        "llama-3-8b",
        include_str!("../../../scenarios/hardware/models/llama-3-8b.yaml"),
    ),
    (
        "llama-3-70b",
        include_str!("../../../scenarios/hardware/models/llama-3-70b.yaml"),
    ),
    (
        "qwen3-32b",
        include_str!("../../../scenarios/hardware/models/qwen3-32b.yaml"),
    ),
];

/// Built-in GPU model profiles, calibrated by `kvcsim calibrate gpu` (the command is in each
/// file's header): (GPU profile name, YAML text).
const EMBEDDED_GPU_MODELS: &[(&str, &str)] = &[
    (
        "a100-80gb",
        include_str!("../../../scenarios/hardware/gpu-models/a100-80gb.yaml"),
    ),
    (
        "h100-sxm",
        include_str!("../../../scenarios/hardware/gpu-models/h100-sxm.yaml"),
    ),
];

/// The GPU whose calibrated curves stand in for a GPU without measured tables (H200, B200):
/// its efficiencies are fractions of the datasheet peaks, so they carry over to a part with
/// other peaks; how well is unvalidated.
pub const FALLBACK_GPU_MODEL: &str = "h100-sxm";

/// Built-in GPU profiles: (name, YAML text).
const EMBEDDED_GPUS: &[(&str, &str)] = &[
    (
        "h100-sxm",
        include_str!("../../../scenarios/hardware/gpus/h100-sxm.yaml"),
    ),
    (
        "h200",
        include_str!("../../../scenarios/hardware/gpus/h200.yaml"),
    ),
    (
        "a100-80gb",
        include_str!("../../../scenarios/hardware/gpus/a100-80gb.yaml"),
    ),
    (
        "b200",
        include_str!("../../../scenarios/hardware/gpus/b200.yaml"),
    ),
];

/// A field whose value is out of range, named so the user can find and fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` = {value}: {reason}")]
pub struct InvalidField {
    /// Field name, as written in the YAML.
    pub field: &'static str,
    /// The offending value, formatted.
    pub value: String,
    /// What the value must satisfy.
    pub reason: &'static str,
}

impl InvalidField {
    /// An error for `field` holding `value`, which breaks `reason`.
    pub fn new(field: &'static str, value: impl fmt::Display, reason: &'static str) -> Self {
        InvalidField {
            field,
            value: value.to_string(),
            reason,
        }
    }
}

impl InvalidField {
    /// Always true: a value out of range is the user's input.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

/// Why a hardware profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    /// A bare name that is no built-in profile.
    #[error(
        "unknown {kind} profile `{name}`{}; built-in profiles: {available} (or give a path ending in .yaml)",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownProfile {
        /// `model` or `GPU`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The nearest built-in name, when one is close.
        suggestion: Option<String>,
        /// Comma-separated built-in names.
        available: String,
    },
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The YAML is malformed, lacks a field or has an unknown one (the message gives line,
    /// column and, for unknown fields, the expected names).
    #[error("{origin}: {source}")]
    Parse {
        /// The file path, or `built-in profile <name>`.
        origin: String,
        /// The YAML error.
        source: serde_norway::Error,
    },
    /// A field is out of range.
    #[error("{origin}: {source}")]
    Invalid {
        /// The file path, or `built-in profile <name>`.
        origin: String,
        /// Which field, what value, and why.
        source: InvalidField,
    },
}

impl HardwareError {
    /// True when the profile (its name, path or contents) is at fault: every variant, unless
    /// reading the file failed for a reason of the machine's own. Exit code 2.
    pub fn is_user_error(&self) -> bool {
        match self {
            HardwareError::UnknownProfile { .. }
            | HardwareError::Parse { .. }
            | HardwareError::Invalid { .. } => true,
            HardwareError::Io { source, .. } => {
                !matches!(source.kind(), std::io::ErrorKind::OutOfMemory)
            }
        }
    }
}

/// Loads a model profile: a bare name (`llama-3.1-8b`) resolves to a built-in profile, a path
/// ending in `.yaml`/`.yml` loads that file. The result is validated.
pub fn load_llm(name_or_path: &str) -> Result<LlmSpec, HardwareError> {
    let spec: LlmSpec = load("model", EMBEDDED_LLMS, name_or_path)?;
    spec.validate()
        .map_err(|source| invalid(name_or_path, source))?;
    Ok(spec)
}

/// Loads a GPU profile: a bare name (`h100-sxm`) resolves to a built-in profile, a path ending
/// in `.yaml`/`.yml` loads that file. The result is validated.
pub fn load_gpu(name_or_path: &str) -> Result<GpuSpec, HardwareError> {
    let spec: GpuSpec = load("GPU", EMBEDDED_GPUS, name_or_path)?;
    spec.validate()
        .map_err(|source| invalid(name_or_path, source))?;
    Ok(spec)
}

/// Loads a GPU model profile (`cluster.gpu_model`, `bench gpu --gpu-model`): a bare name is a
/// built-in calibrated profile (`a100-80gb`, `h100-sxm`), a path ending in `.yaml`/`.yml`
/// loads that file. The result is validated.
pub fn load_gpu_model(name_or_path: &str) -> Result<crate::gpu::GpuModelConfig, HardwareError> {
    let config: crate::gpu::GpuModelConfig = load("GPU model", EMBEDDED_GPU_MODELS, name_or_path)?;
    config
        .validate()
        .map_err(|source| invalid(name_or_path, source))?;
    Ok(config)
}

/// The default GPU model of `gpu`: its calibrated built-in profile, or that of
/// [`FALLBACK_GPU_MODEL`] for a GPU without one.
pub fn default_gpu_model(gpu: &GpuSpec) -> crate::gpu::GpuModelConfig {
    let name = if EMBEDDED_GPU_MODELS.iter().any(|(n, _)| *n == gpu.name) {
        gpu.name.as_str()
    } else {
        FALLBACK_GPU_MODEL
    };
    load_gpu_model(name).expect("built-in GPU model profiles parse (tested)")
}

/// Names of the built-in model profiles.
pub fn builtin_llm_names() -> impl Iterator<Item = &'static str> {
    EMBEDDED_LLMS.iter().map(|(name, _)| *name)
}

/// Names of the built-in GPU profiles.
pub fn builtin_gpu_names() -> impl Iterator<Item = &'static str> {
    EMBEDDED_GPUS.iter().map(|(name, _)| *name)
}

fn is_path(name_or_path: &str) -> bool {
    name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml")
}

fn origin(name_or_path: &str) -> String {
    if is_path(name_or_path) {
        name_or_path.to_string()
    } else {
        format!("built-in profile {name_or_path}")
    }
}

fn invalid(name_or_path: &str, source: InvalidField) -> HardwareError {
    HardwareError::Invalid {
        origin: origin(name_or_path),
        source,
    }
}

fn load<T: DeserializeOwned>(
    kind: &'static str,
    embedded: &[(&'static str, &'static str)],
    name_or_path: &str,
) -> Result<T, HardwareError> {
    let text = if is_path(name_or_path) {
        let path = Path::new(name_or_path);
        std::fs::read_to_string(path).map_err(|source| HardwareError::Io {
            path: path.to_path_buf(),
            source,
        })?
    } else {
        match embedded.iter().find(|(name, _)| *name == name_or_path) {
            Some((_, text)) => (*text).to_string(),
            None => {
                let names = embedded.iter().map(|(name, _)| *name);
                return Err(HardwareError::UnknownProfile {
                    kind,
                    name: name_or_path.to_string(),
                    suggestion: nearest(name_or_path, names.clone()).map(str::to_string),
                    available: names.collect::<Vec<_>>().join(", "),
                });
            }
        }
    };
    serde_norway::from_str(&text).map_err(|source| HardwareError::Parse {
        origin: origin(name_or_path),
        source,
    })
}

/// The candidate closest to `name` by edit distance, if it is within a third of the length
/// or a prefix/extension of it (`h100` -> `h100-sxm`).
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| {
            let d = if c.starts_with(name) || name.starts_with(c) {
                0
            } else {
                levenshtein(name, c)
            };
            (d, c)
        })
        .filter(|(d, c)| *d <= c.len().max(name.len()) / 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_loads_and_validates() {
        for name in builtin_llm_names() {
            let spec = load_llm(name).unwrap();
            assert_eq!(spec.name, name, "profile name must match its key");
        }
        for name in builtin_gpu_names() {
            let spec = load_gpu(name).unwrap();
            assert_eq!(spec.name, name, "profile name must match its key");
            // Every GPU has a default GPU model, its own or the fallback's.
            default_gpu_model(&spec).validate().unwrap();
        }
        for (name, _) in EMBEDDED_GPU_MODELS {
            assert!(builtin_gpu_names().any(|g| g == *name), "{name}");
            load_gpu_model(name).unwrap();
        }
    }

    #[test]
    fn unknown_name_suggests_the_nearest() {
        let err = load_gpu("h200-sxm").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("did you mean `h200`"), "{msg}");
        assert!(msg.contains("a100-80gb"), "{msg}");
        let err = load_llm("lama-3.1-8b").unwrap_err().to_string();
        assert!(err.contains("did you mean `llama-3.1-8b`"), "{err}");
        let err = load_llm("gpt-4").unwrap_err().to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn file_errors_name_file_and_field() {
        let dir = std::env::temp_dir().join(format!("kvcsim-models-hw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();

        let missing = dir.join("missing.yaml");
        let err = load_gpu(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, HardwareError::Io { .. }));
        assert!(err.to_string().contains("missing.yaml"));

        let typo = dir.join("typo.yaml");
        let text = EMBEDDED_GPUS[0]
            .1
            .replace("hbm_bw_bytes_per_s", "hbm_bandwidth");
        std::fs::write(&typo, text).unwrap();
        let msg = load_gpu(typo.to_str().unwrap()).unwrap_err().to_string();
        assert!(
            msg.contains("typo.yaml") && msg.contains("hbm_bandwidth"),
            "{msg}"
        );

        let negative = dir.join("negative.yaml");
        let text = EMBEDDED_GPUS[0].1.replace("3.35e12", "-3.35e12");
        std::fs::write(&negative, text).unwrap();
        let msg = load_gpu(negative.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("negative.yaml")
                && msg.contains("hbm_bw_bytes_per_s")
                && msg.contains("-3350000000000"),
            "{msg}"
        );

        let custom = dir.join("custom.yml");
        std::fs::write(
            &custom,
            EMBEDDED_LLMS[0].1.replace("llama-3.1-8b", "my-llm"),
        )
        .unwrap();
        assert_eq!(load_llm(custom.to_str().unwrap()).unwrap().name, "my-llm");

        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("h200", "h200"), 0);
    }
}
