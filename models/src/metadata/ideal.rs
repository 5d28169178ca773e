//! A metadata service that answers instantly: every operation is done the moment it starts.
//! It is the baseline a real backend is compared with in a cluster run: the lifecycle is the
//! same (requests count at their instance when routed, lookups go through the driver), only
//! the metadata time is zero.

use serde::{Deserialize, Serialize};

use super::{Client, Key, MetaOp, MetadataBackend, OpId, OpKind, Outcome, Step};

/// The ideal service's parameters (none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdealConfig {}

/// The ideal service.
#[derive(Debug, Default)]
pub struct Ideal {
    keys: std::collections::HashSet<Key>,
}

impl MetadataBackend for Ideal {
    fn name(&self) -> &'static str {
        "ideal"
    }

    fn plan_lookup(&self, keys: &[Key], _runs: &[(usize, usize)]) -> Vec<MetaOp> {
        vec![MetaOp::new(OpKind::Prefix, keys.to_vec())]
    }

    fn plan_insert(&self, keys: &[Key]) -> Vec<MetaOp> {
        vec![MetaOp::new(OpKind::Insert, keys.to_vec())]
    }

    fn plan_delete(&self, keys: &[Key]) -> Vec<MetaOp> {
        vec![MetaOp::new(OpKind::Delete, keys.to_vec())]
    }

    fn preload(&mut self, keys: &[Key], _nodes: u32) {
        self.keys.extend(keys.iter().copied());
    }

    fn start(&mut self, _id: OpId, op: &MetaOp, _client: Client, _now_ns: f64) -> Step {
        let found = match op.kind {
            OpKind::Insert => {
                self.keys.extend(op.keys.iter().copied());
                op.keys.len()
            }
            OpKind::Delete => {
                op.keys.iter().for_each(|k| {
                    self.keys.remove(k);
                });
                op.keys.len()
            }
            _ => op.keys.iter().take_while(|k| self.keys.contains(k)).count(),
        };
        Step::Done(Outcome {
            found: found as u64,
            retries: 0,
        })
    }

    fn on_step_done(&mut self, _id: OpId, _now_ns: f64) -> Step {
        unreachable!("the ideal service has no steps")
    }

    fn keys_stored(&self) -> u64 {
        self.keys.len() as u64
    }
}
