//! KV metadata services: the stores that map KV-block keys to block locations, modelled as
//! state machines of network steps that the simulator drives through [`crate::net`].
//!
//! ```text
//!   sim driver                                   backend (this module, pure)
//!   ──────────                                   ───────────────────────────
//!   submit op ─────────────── start(op) ───────▶ tree/hash state, caches, locks
//!       ◀──────────────── Step::Verbs([WR..]) ── (a doorbell batch of one-sided WRs)
//!   post → request → (event) → respond ── on_remote(op, wr) ──▶ CAS/unlock take effect here,
//!   (event) → complete ×N ─── on_step_done ───▶                  in arrival order
//!       ◀───────────────── Step::Rpc{..} ──────── (two-sided: request, server work, reply)
//!   send → (event) → receive ─ serve_rpc ─────▶ server CPU (FIFO) says when the reply leaves
//!       ◀───────────────── Step::Park ─────────── (a local lock; take_wakeups resumes it)
//!       ◀───────────────── Step::Done(outcome) ─
//! ```
//!
//! A backend holds the *structure* of one metadata server (the B+tree's leaves and internal
//! nodes over the keys actually inserted, the hash table, the lock words) and the per-compute-
//! node state that goes with it (index caches, local lock tables, hotspot buffers). Lock
//! conflicts, retries, stale-cache restarts and splits therefore arise from the simulated
//! concurrency of real operations, never from a probability. Every network cost comes from the
//! network model: the backend says *which* verbs, of *what size*, to *where*; the profile says
//! how long they take and queueing at the NICs, links and atomic units emerges.
//!
//! Backends ([`BackendConfig`]):
//! * [`redis::Redis`]: one Redis server over kernel TCP; single-threaded event loop.
//! * [`sherman::Sherman`]: Sherman's B+tree on disaggregated memory (SIGMOD'22).
//! * [`chime::Chime`]: CHIME's B+tree with hopscotch-hashed leaves (SOSP'24).
//! * [`prefix_index::PrefixIndex`]: kvcsim's radix index answering the longest cached prefix in
//!   one two-sided RDMA round trip, with a reuse-optimised client cache.
//! * [`ideal::Ideal`]: answers instantly (the zero-cost baseline of a cluster run).
//!
//! Constants and per-operation verb sequences come from
//! `../shared/calibration/DM_INDEX_MODELS.md` (cited as DM §n) and
//! `../shared/calibration/REDIS_REFERENCE.md` (REDIS §n).
//!
//! # Operations
//!
//! A request's lookup becomes operations by [`MetadataBackend::plan_lookup`]: the B+trees issue
//! one range query per run of two or more consecutive block ids and one point get per other
//! block (the paper's Fig. 3 workload); Redis may batch the gets (MGET, pipelining); the prefix
//! index issues one `prefix` operation. Inserts and deletes likewise
//! ([`MetadataBackend::plan_insert`]).

#![warn(missing_docs)]

pub mod chime;
mod hopscotch;
pub mod ideal;
mod index_cache;
pub mod keys;
pub mod prefix_index;
pub mod redis;
pub mod sherman;
mod tree;

use serde::{Deserialize, Serialize};

use crate::net::{HostId, VerbOp};

pub use keys::{KeyMapper, KeyOrder, mix64};

/// A key in a metadata store (8 bytes, as in Sherman's and CHIME's trees; DM §1, §2).
pub type Key = u64;

/// An operation's id, unique within a run (given by the driver).
pub type OpId = u64;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// Point lookup of one key (Redis: one or more keys, batched).
    Get,
    /// Range query over a run of keys.
    Range,
    /// Insert new keys.
    Insert,
    /// Remove keys (evicted blocks).
    Delete,
    /// Longest cached prefix of a request (prefix index).
    Prefix,
}

impl OpKind {
    /// The name in `metadata_ops.parquet`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Range => "range",
            OpKind::Insert => "insert",
            OpKind::Delete => "delete",
            OpKind::Prefix => "prefix",
        }
    }

    /// True for operations that modify the store.
    pub fn is_write(self) -> bool {
        matches!(self, OpKind::Insert | OpKind::Delete)
    }
}

/// One operation on one metadata server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaOp {
    /// What it does.
    pub kind: OpKind,
    /// Its keys, in request order (a range: the run's keys, in order).
    pub keys: Vec<Key>,
}

impl MetaOp {
    /// An operation of `kind` on `keys`.
    pub fn new(kind: OpKind, keys: Vec<Key>) -> Self {
        MetaOp { kind, keys }
    }
}

/// The client issuing an operation: compute node (scope of caches and local locks), its host
/// in the network model, and the client thread (which is also its QP to every server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// Compute-node index (0-based), the scope of per-node caches and local lock tables.
    pub node: u32,
    /// The node's host in the network model.
    pub host: HostId,
    /// Client thread on that node; also the QP number it uses.
    pub thread: u32,
}

/// What a finished operation found and how often it had to retry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Keys found present (prefix: the longest present prefix).
    pub found: u64,
    /// Lock CAS failures, stale-cache restarts, sibling hops and failed speculative reads.
    pub retries: u32,
}

/// A two-sided RPC: the request message, server work ([`MetadataBackend::serve_rpc`]), the reply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rpc {
    /// The server host.
    pub server: HostId,
    /// Request message payload, bytes.
    pub request_bytes: u64,
    /// Reply message payload, bytes.
    pub response_bytes: u64,
}

/// The next network step of an operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// One-sided WRs posted in one call (one doorbell, chained WRs); the step ends when the
    /// last completes. One round trip.
    Verbs(Vec<VerbOp>),
    /// One-sided WRs posted by separate calls back to back and outstanding together (up to
    /// the QP's read depth); the step ends when all complete. One round trip (a wave).
    Parallel(Vec<VerbOp>),
    /// A two-sided RPC. One round trip.
    Rpc(Rpc),
    /// Client-side CPU work, ns (on the client's thread).
    Local(f64),
    /// Wait until the backend wakes the operation ([`MetadataBackend::take_wakeups`]); the
    /// driver then calls [`MetadataBackend::on_step_done`].
    Park,
    /// Finished.
    Done(Outcome),
}

/// When a server's reply to an RPC is ready, and who sends it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    /// The reply is ready to be sent, ns.
    pub ready_ns: f64,
    /// `Some(t)`: server CPU thread `t` posts it (its post cost is paid on that thread);
    /// `None`: the send cost is part of the server work already (Redis's event loop).
    pub post_thread: Option<u32>,
}

/// A metadata service backend: one server's state plus its clients' per-node state.
pub trait MetadataBackend: Send {
    /// Backend name (`redis`, `sherman`, `chime`, `prefix-index`).
    fn name(&self) -> &'static str;

    /// Operations for looking up a request's `keys` (prompt order). `runs` are the trace's
    /// runs of consecutive block ids as `(start, len)` index ranges into `keys`, covering it.
    /// The default is the paper's mapping for one-sided trees: a run of two or more
    /// consecutive blocks is one range query, any other block one point get.
    fn plan_lookup(&self, keys: &[Key], runs: &[(usize, usize)]) -> Vec<MetaOp> {
        plan_gets_and_ranges(keys, runs)
    }

    /// Operations for inserting `keys` (a request's new blocks, prompt order).
    /// The default is one insert per key.
    fn plan_insert(&self, keys: &[Key]) -> Vec<MetaOp> {
        one_per_key(OpKind::Insert, keys)
    }

    /// Operations for deleting `keys` (blocks evicted together).
    /// The default is one delete per key.
    fn plan_delete(&self, keys: &[Key]) -> Vec<MetaOp> {
        one_per_key(OpKind::Delete, keys)
    }

    /// Puts `keys` into the store without simulating (benchmark load phase), and warms every
    /// compute node's caches of `nodes` as a warm-up run would.
    fn preload(&mut self, keys: &[Key], nodes: u32);

    /// Begins operation `id` from `client` at `now_ns`; returns its first step.
    fn start(&mut self, id: OpId, op: &MetaOp, client: Client, now_ns: f64) -> Step;

    /// WR `wr` (index in the current step) of operation `id` executes at the server at
    /// `now_ns`; atomics and lock releases take effect here, in arrival order.
    fn on_remote(&mut self, _id: OpId, _wr: usize, _now_ns: f64) {}

    /// The current step of `id` completed at `now_ns` (parked: it was woken); the next step.
    fn on_step_done(&mut self, id: OpId, now_ns: f64) -> Step;

    /// The request message of RPC step of `id` reached the server application at `now_ns`;
    /// returns when the reply is ready.
    fn serve_rpc(&mut self, _id: OpId, now_ns: f64) -> Reply {
        Reply {
            ready_ns: now_ns,
            post_thread: Some(0),
        }
    }

    /// Moves the operations to wake (their `Park` ended) into `out`.
    fn take_wakeups(&mut self, _out: &mut Vec<OpId>) {}

    /// Keys stored.
    fn keys_stored(&self) -> u64;
}

/// Which backend, with its parameters (scenario `metadata.backends[]`, tagged by `kind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BackendConfig {
    /// Redis over kernel TCP.
    Redis(redis::RedisConfig),
    /// Sherman's B+tree.
    Sherman(sherman::ShermanConfig),
    /// CHIME's hybrid B+tree.
    Chime(chime::ChimeConfig),
    /// kvcsim's prefix index.
    PrefixIndex(prefix_index::PrefixIndexConfig),
    /// Instant answers: the zero-cost baseline of a cluster run.
    Ideal(ideal::IdealConfig),
}

impl BackendConfig {
    /// Backend name.
    pub fn name(&self) -> &'static str {
        match self {
            BackendConfig::Redis(_) => "redis",
            BackendConfig::Sherman(_) => "sherman",
            BackendConfig::Chime(_) => "chime",
            BackendConfig::PrefixIndex(_) => "prefix-index",
            BackendConfig::Ideal(_) => "ideal",
        }
    }

    /// The network profile this backend runs on (a built-in name or a YAML path): its own
    /// `network` if set, else kernel TCP for Redis and `default_rdma` for the others.
    pub fn network<'a>(&'a self, default_rdma: &'a str) -> &'a str {
        let own = match self {
            BackendConfig::Redis(c) => return c.network.as_deref().unwrap_or("tcp-kernel-100g"),
            BackendConfig::Sherman(c) => &c.network,
            BackendConfig::Chime(c) => &c.network,
            BackendConfig::PrefixIndex(c) => &c.network,
            BackendConfig::Ideal(_) => &None,
        };
        own.as_deref().unwrap_or(default_rdma)
    }

    /// Checks the parameters; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            BackendConfig::Redis(c) => c.validate(),
            BackendConfig::Sherman(c) => c.validate(),
            BackendConfig::Chime(c) => c.validate(),
            BackendConfig::PrefixIndex(c) => c.validate(),
            BackendConfig::Ideal(_) => Ok(()),
        }
    }

    /// A backend for the server on `server`, with the given key order (which decides whether
    /// a range is contiguous in key space).
    pub fn build(&self, server: HostId, order: KeyOrder) -> Box<dyn MetadataBackend> {
        match self {
            BackendConfig::Redis(c) => Box::new(redis::Redis::new(c.clone(), server, order)),
            BackendConfig::Sherman(c) => Box::new(sherman::Sherman::new(c.clone(), server, order)),
            BackendConfig::Chime(c) => Box::new(chime::Chime::new(c.clone(), server, order)),
            BackendConfig::PrefixIndex(c) => {
                Box::new(prefix_index::PrefixIndex::new(c.clone(), server))
            }
            BackendConfig::Ideal(_) => Box::new(ideal::Ideal::default()),
        }
    }
}

/// Runs of consecutive block ids in `blocks`: `(start, len)` index ranges covering it, in order
/// (the paper's definition: a block is sequential when it is in a run of two or more).
pub fn consecutive_runs(blocks: &[u64]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=blocks.len() {
        if i == blocks.len() || blocks[i] != blocks[i - 1].wrapping_add(1) {
            runs.push((start, i - start));
            start = i;
        }
    }
    runs
}

/// The B+trees' lookup plan: a range per run of two or more, a get per other key.
pub(crate) fn plan_gets_and_ranges(keys: &[Key], runs: &[(usize, usize)]) -> Vec<MetaOp> {
    let mut ops = Vec::with_capacity(runs.len());
    for &(s, n) in runs {
        if n >= 2 {
            ops.push(MetaOp::new(OpKind::Range, keys[s..s + n].to_vec()));
        } else {
            ops.extend(
                keys[s..s + n]
                    .iter()
                    .map(|&k| MetaOp::new(OpKind::Get, vec![k])),
            );
        }
    }
    ops
}

/// Lock words at a memory node and the operation holding each. A lock CAS arriving at the node
/// wins when the word is free (or already its own); an unlock WRITE frees the word only if its
/// sender holds it. Sherman (NIC on-chip lock table) and CHIME (a word in each node) both
/// serialise writers this way; contention comes from the order CASes reach the node.
#[derive(Debug, Default)]
pub(crate) struct RemoteLocks(std::collections::HashMap<u64, OpId>);

impl RemoteLocks {
    /// A CAS on `lock` by `op` reached the node: whether `op` now holds the lock.
    pub(crate) fn cas(&mut self, lock: u64, op: OpId) -> bool {
        *self.0.entry(lock).or_insert(op) == op
    }

    /// An unlock WRITE of `lock` by `op` reached the node.
    pub(crate) fn unlock(&mut self, lock: u64, op: OpId) {
        if self.0.get(&lock) == Some(&op) {
            self.0.remove(&lock);
        }
    }

    /// The lock passes to `op` without a round trip (a local hand-over).
    pub(crate) fn hand_over(&mut self, lock: u64, op: OpId) {
        self.0.insert(lock, op);
    }

    /// True when no lock is held.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One operation per key.
pub(crate) fn one_per_key(kind: OpKind, keys: &[Key]) -> Vec<MetaOp> {
    keys.iter().map(|&k| MetaOp::new(kind, vec![k])).collect()
}

#[cfg(test)]
mod tests;
