//! `sweep.resolved.yaml`: what a sweep folder holds. Written before any point runs, read by
//! `--resume` and `merge` to tell whether folders hold the same sweep.
//!
//! ```yaml
//! kvcsim_version: 0.1.0
//! spec_hash: 3f0c9d1e6a2b7c45      # XXH64 of the canonical spec
//! shard: 1/4                       # only in a shard's folder
//! parameters: [cache.capacity_blocks, router.kind]
//! spec: { base: {...}, set: {...}, parameters: [...], seeds: 2 }
//! points:
//! - point_id: 0
//!   seed: 1
//!   parameters: { cache.capacity_blocks: 100, router.kind: round-robin }
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use super::SweepError;
use crate::output::write_text_atomic;

/// The kvcsim version that writes sweep folders.
pub const KVCSIM_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One point as recorded: its id, seed and parameter values (`path: value`, column order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    /// Index in expansion order.
    pub point_id: u64,
    /// The scenario's master seed.
    pub seed: u64,
    /// Parameter values by path.
    pub parameters: Mapping,
}

/// The contents of `sweep.resolved.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSweep {
    /// Version of the kvcsim that wrote the folder.
    pub kvcsim_version: String,
    /// Hash of the canonical spec.
    pub spec_hash: String,
    /// `K/N` when the folder holds one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Parameter paths in column order.
    pub parameters: Vec<String>,
    /// The canonical spec (base scenario inlined).
    pub spec: Value,
    /// Every point of the sweep (all shards), in id order.
    pub points: Vec<PointRecord>,
}

impl ResolvedSweep {
    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<ResolvedSweep>, SweepError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SweepError::folder(path, format!("cannot read: {e}")));
            }
        };
        serde_norway::from_str(&text)
            .map(Some)
            .map_err(|e| SweepError::folder(path, format!("not a sweep.resolved.yaml: {e}")))
    }

    /// Writes it atomically.
    pub fn write(&self, path: &Path) -> crate::error::Result<()> {
        Ok(write_text_atomic(path, &serde_norway::to_string(self)?)?)
    }

    /// Whether `other` records the same sweep by the same kvcsim; if not, why.
    pub fn mismatch(&self, other: &ResolvedSweep) -> Option<String> {
        if self.spec_hash != other.spec_hash {
            Some(format!(
                "spec hash {} differs from {}",
                other.spec_hash, self.spec_hash
            ))
        } else if self.kvcsim_version != other.kvcsim_version {
            Some(format!(
                "written by kvcsim {}, not {}",
                other.kvcsim_version, self.kvcsim_version
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_yaml_exactly() {
        let mut parameters = Mapping::new();
        parameters.insert("workload.rate_scale".into(), Value::from(0.1 + 0.2));
        parameters.insert("router.kind".into(), Value::from("1"));
        parameters.insert("workload.synthetic".into(), Value::Null);
        let r = ResolvedSweep {
            kvcsim_version: KVCSIM_VERSION.into(),
            spec_hash: "0123456789abcdef".into(),
            shard: Some("1/2".into()),
            parameters: vec!["workload.rate_scale".into(), "router.kind".into()],
            spec: Value::Null,
            points: vec![PointRecord {
                point_id: 3,
                seed: u64::MAX,
                parameters,
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.resolved.yaml");
        r.write(&path).unwrap();
        assert_eq!(ResolvedSweep::read(&path).unwrap(), Some(r));
        assert_eq!(ResolvedSweep::read(&dir.path().join("none")).unwrap(), None);
    }
}
