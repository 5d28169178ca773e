//! kvcsim's prefix index, after the paper's proposed direction: the metadata server keeps a
//! radix tree over the chained block hashes, so "how long is the cached prefix of this
//! request?" is one question answered in one round trip, instead of one B+tree traversal per
//! block or per run; and each compute node keeps a reuse-optimised cache of hot prefixes.
//!
//! ```text
//!  compute node                                  metadata server (RPC threads)
//!  local cache: hot blocks (seen ≥ 2 times) ──▶   radix tree over chained hashes:
//!  longest locally known prefix c                 walk keys[c..] while present
//!  SEND {anchor, keys[c..]}  ───────────────────▶ per_block_ns per probe
//!          ◀─────────────────── SEND {found, found × 8 B locations}
//! ```
//!
//! Because block hashes are chained (a block's hash covers its whole prefix), a present block
//! implies its prefix was inserted: presence is monotone along a request, and the server finds
//! the boundary by bisection in ⌈log2(n + 1)⌉ hash probes (or, `binary_search: false`, by
//! walking until the first absent block). Two-sided
//! RDMA (SEND/RECV) carries the RPC, as eRPC-style systems do.
//!
//! | op | messages (RTTs) | server work | bytes |
//! |---|---|---|---|
//! | prefix, all blocks in the local cache | none | none (client: `local_ns_per_block` per block) | 0 |
//! | prefix | request, reply (1) | `rpc_overhead_ns` + `per_block_ns` × ⌈log2(n − c + 1)⌉ probes (bisection; walking: found + 1) | 16 + 8 (n − c) → 16 + 8 found |
//! | insert (a request's new blocks, batched) | 1 | overhead + per_block × k | 16 + 16 k → 16 |
//! | delete (evicted blocks, batched) | 1 | overhead + per_block × k | 16 + 8 k → 16 |
//!
//! Constants: `rpc_overhead_ns` 100 ([S] eRPC README: ~10 M small RPCs/s per core),
//! `per_block_ns` 100 ([R] one DRAM cache miss per hash-table probe), 8-byte keys and
//! locations. The client cache admits a block once the server has seen it looked up or
//! inserted `hot_threshold` times (reuse-optimised: one-off blocks never displace the shared
//! system prompts), evicts LRU, and drops blocks that are deleted anywhere (the server pushes
//! the invalidation; modelled as immediate and free).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Client, Key, MetaOp, MetadataBackend, OpId, OpKind, Outcome, Reply, Rpc, Step};
use crate::net::{HostId, MultiServer};

/// The prefix index's parameters (scenario `metadata.backends[] { kind: prefix-index }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixIndexConfig {
    /// Network profile (built-in name or YAML path). Default: `metadata.network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Server RPC threads. Default 2.
    #[serde(default = "d_threads")]
    pub server_threads: u32,
    /// Server cost per RPC, ns. Default 100 ([S] eRPC: ~10 M RPC/s per core).
    #[serde(default = "d_overhead")]
    pub rpc_overhead_ns: f64,
    /// Server cost per block probed, ns. Default 100 ([R] one DRAM miss).
    #[serde(default = "d_per_block")]
    pub per_block_ns: f64,
    /// Find the prefix boundary by bisection (⌈log2(n + 1)⌉ probes) instead of walking it
    /// block by block. Default true.
    #[serde(default = "yes")]
    pub binary_search: bool,
    /// Client cost per block found in the local cache, ns. Default 20 [R].
    #[serde(default = "d_local")]
    pub local_ns_per_block: f64,
    /// Client cache capacity per compute node, blocks (0 disables it). Default 65536.
    #[serde(default = "d_cache")]
    pub client_cache_blocks: u64,
    /// Server-side references before a block is cached by clients. Default 2.
    #[serde(default = "d_hot")]
    pub hot_threshold: u32,
    /// Key bytes on the wire. Default 8.
    #[serde(default = "d_eight")]
    pub key_bytes: u64,
    /// Location bytes on the wire. Default 8.
    #[serde(default = "d_eight")]
    pub location_bytes: u64,
}

fn d_threads() -> u32 {
    2
}
fn yes() -> bool {
    true
}
fn d_overhead() -> f64 {
    100.0
}
fn d_per_block() -> f64 {
    100.0
}
fn d_local() -> f64 {
    20.0
}
fn d_cache() -> u64 {
    65536
}
fn d_hot() -> u32 {
    2
}
fn d_eight() -> u64 {
    8
}

impl Default for PrefixIndexConfig {
    fn default() -> Self {
        PrefixIndexConfig {
            network: None,
            server_threads: d_threads(),
            rpc_overhead_ns: d_overhead(),
            per_block_ns: d_per_block(),
            binary_search: true,
            local_ns_per_block: d_local(),
            client_cache_blocks: d_cache(),
            hot_threshold: d_hot(),
            key_bytes: 8,
            location_bytes: 8,
        }
    }
}

impl PrefixIndexConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.server_threads == 0 {
            return Err("server_threads must be at least 1".into());
        }
        for (name, v) in [
            ("rpc_overhead_ns", self.rpc_overhead_ns),
            ("per_block_ns", self.per_block_ns),
            ("local_ns_per_block", self.local_ns_per_block),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be >= 0, got {v}"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default)]
struct ClientCache {
    stamp: HashMap<Key, u64>,
    lru: BTreeMap<u64, Key>,
    clock: u64,
}

impl ClientCache {
    fn touch(&mut self, key: Key) -> bool {
        let Some(s) = self.stamp.get_mut(&key) else {
            return false;
        };
        self.lru.remove(s);
        self.clock += 1;
        *s = self.clock;
        self.lru.insert(self.clock, key);
        true
    }

    fn admit(&mut self, key: Key, capacity: u64) {
        if capacity == 0 || self.touch(key) {
            return;
        }
        while self.stamp.len() as u64 >= capacity {
            let (_, victim) = self.lru.pop_first().expect("non-empty");
            self.stamp.remove(&victim);
        }
        self.clock += 1;
        self.stamp.insert(key, self.clock);
        self.lru.insert(self.clock, key);
    }

    fn remove(&mut self, key: Key) {
        if let Some(s) = self.stamp.remove(&key) {
            self.lru.remove(&s);
        }
    }
}

#[derive(Clone, Debug)]
struct PrefixOp {
    kind: OpKind,
    node: u32,
    /// Blocks the server probes and the reply's found count.
    probes: u64,
    found: u64,
    /// Keys to admit to the client cache when the reply arrives.
    admit: Vec<Key>,
    rpc: Option<Rpc>,
    local_ns: Option<f64>,
}

/// The prefix index's model (see the module docs).
#[derive(Debug)]
pub struct PrefixIndex {
    cfg: PrefixIndexConfig,
    server: HostId,
    /// Present blocks and their reference counts (lookups that found them, inserts).
    blocks: HashMap<Key, u32>,
    threads: MultiServer,
    caches: Vec<ClientCache>,
    ops: HashMap<OpId, PrefixOp>,
}

impl PrefixIndex {
    /// An empty index on `server`.
    pub fn new(cfg: PrefixIndexConfig, server: HostId) -> Self {
        PrefixIndex {
            threads: MultiServer::new(cfg.server_threads),
            cfg,
            server,
            blocks: HashMap::new(),
            caches: Vec::new(),
            ops: HashMap::new(),
        }
    }

    fn cache(&mut self, node: u32) -> &mut ClientCache {
        if self.caches.len() <= node as usize {
            self.caches
                .resize(node as usize + 1, ClientCache::default());
        }
        &mut self.caches[node as usize]
    }

    fn lookup(&mut self, id: OpId, keys: &[Key], node: u32) -> PrefixOp {
        let c = &self.cfg;
        let (key_b, loc_b, hot) = (c.key_bytes, c.location_bytes, c.hot_threshold);
        let cache = self.cache(node);
        let local = keys.iter().take_while(|&&k| cache.touch(k)).count();
        if local == keys.len() {
            let ns = local as f64 * self.cfg.local_ns_per_block;
            let _ = id;
            return PrefixOp {
                kind: OpKind::Prefix,
                node,
                probes: 0,
                found: local as u64,
                admit: Vec::new(),
                rpc: None,
                local_ns: Some(ns),
            };
        }
        let rest_keys = &keys[local..];
        // The answer: the longest present prefix.
        let found = rest_keys
            .iter()
            .take_while(|k| self.blocks.contains_key(k))
            .count() as u64;
        let n = rest_keys.len() as u64;
        let probes = if self.cfg.binary_search {
            // Presence is prefix-closed along a chain (a present block's hash covers its whole
            // prefix, and prefixes are inserted before their extensions), so the boundary is
            // found by bisection: ⌈log2(n + 1)⌉ probes. (Evictions on other compute nodes can
            // break prefix-closure in cluster runs; the model still answers the true prefix.)
            u64::from((n + 1).next_power_of_two().trailing_zeros())
        } else {
            (found + 1).min(n)
        };
        let mut admit = Vec::new();
        for k in &rest_keys[..found as usize] {
            let refs = self.blocks.get_mut(k).expect("found blocks are present");
            *refs += 1;
            if *refs >= hot {
                admit.push(*k);
            }
        }
        let rest = (keys.len() - local) as u64;
        let anchor = u64::from(local > 0) * key_b;
        PrefixOp {
            kind: OpKind::Prefix,
            node,
            probes,
            found: local as u64 + found,
            admit,
            rpc: Some(Rpc {
                server: self.server,
                request_bytes: 16 + anchor + key_b * rest,
                response_bytes: 16 + loc_b * found,
            }),
            local_ns: None,
        }
    }
}

impl MetadataBackend for PrefixIndex {
    fn name(&self) -> &'static str {
        "prefix-index"
    }

    fn plan_lookup(&self, keys: &[Key], _runs: &[(usize, usize)]) -> Vec<MetaOp> {
        if keys.is_empty() {
            return Vec::new();
        }
        vec![MetaOp::new(OpKind::Prefix, keys.to_vec())]
    }

    fn plan_insert(&self, keys: &[Key]) -> Vec<MetaOp> {
        if keys.is_empty() {
            return Vec::new();
        }
        vec![MetaOp::new(OpKind::Insert, keys.to_vec())]
    }

    fn plan_delete(&self, keys: &[Key]) -> Vec<MetaOp> {
        if keys.is_empty() {
            return Vec::new();
        }
        vec![MetaOp::new(OpKind::Delete, keys.to_vec())]
    }

    fn preload(&mut self, keys: &[Key], _nodes: u32) {
        for &k in keys {
            self.blocks.entry(k).or_insert(1);
        }
    }

    fn start(&mut self, id: OpId, op: &MetaOp, client: Client, now_ns: f64) -> Step {
        let c = self.cfg.clone();
        let k = op.keys.len() as u64;
        let state = match op.kind {
            OpKind::Prefix | OpKind::Get | OpKind::Range => self.lookup(id, &op.keys, client.node),
            OpKind::Insert => {
                let mut admit = Vec::new();
                for &key in &op.keys {
                    let refs = self.blocks.entry(key).or_insert(0);
                    *refs += 1;
                    if *refs >= c.hot_threshold {
                        admit.push(key);
                    }
                }
                PrefixOp {
                    kind: op.kind,
                    node: client.node,
                    probes: k,
                    found: k,
                    admit,
                    rpc: Some(Rpc {
                        server: self.server,
                        request_bytes: 16 + k * (c.key_bytes + c.location_bytes),
                        response_bytes: 16,
                    }),
                    local_ns: None,
                }
            }
            OpKind::Delete => {
                for &key in &op.keys {
                    self.blocks.remove(&key);
                    for cache in &mut self.caches {
                        cache.remove(key);
                    }
                }
                PrefixOp {
                    kind: op.kind,
                    node: client.node,
                    probes: k,
                    found: k,
                    admit: Vec::new(),
                    rpc: Some(Rpc {
                        server: self.server,
                        request_bytes: 16 + k * c.key_bytes,
                        response_bytes: 16,
                    }),
                    local_ns: None,
                }
            }
        };
        let step = match (state.rpc, state.local_ns) {
            (Some(r), _) => Step::Rpc(r),
            (None, Some(ns)) => Step::Local(ns),
            (None, None) => Step::Done(Outcome {
                found: state.found,
                retries: 0,
            }),
        };
        let _ = now_ns;
        self.ops.insert(id, state);
        step
    }

    fn on_step_done(&mut self, id: OpId, _now_ns: f64) -> Step {
        let op = self.ops.remove(&id).expect("op in flight");
        let cap = self.cfg.client_cache_blocks;
        if op.kind != OpKind::Delete {
            let cache = self.cache(op.node);
            for k in op.admit {
                cache.admit(k, cap);
            }
        }
        Step::Done(Outcome {
            found: op.found,
            retries: 0,
        })
    }

    fn serve_rpc(&mut self, id: OpId, now_ns: f64) -> Reply {
        let op = &self.ops[&id];
        let work = self.cfg.rpc_overhead_ns + self.cfg.per_block_ns * op.probes as f64;
        let start = self.threads.serve(now_ns, work);
        Reply {
            ready_ns: start + work,
            post_thread: Some(0),
        }
    }

    fn keys_stored(&self) -> u64 {
        self.blocks.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client {
            node: 0,
            host: HostId(0),
            thread: 0,
        }
    }

    #[test]
    fn prefix_is_one_rpc_answering_the_longest_present_prefix() {
        let mut p = PrefixIndex::new(PrefixIndexConfig::default(), HostId(1));
        p.preload(&[10, 11, 12], 1);
        let s = p.start(
            1,
            &MetaOp::new(OpKind::Prefix, vec![10, 11, 12, 99, 13]),
            client(),
            0.0,
        );
        // 5 keys of 8 B + 16; reply 16 + 3 locations.
        assert_eq!(
            s,
            Step::Rpc(Rpc {
                server: HostId(1),
                request_bytes: 56,
                response_bytes: 40
            })
        );
        // Bisection over 5 keys: ⌈log2 6⌉ = 3 probes.
        assert_eq!(p.serve_rpc(1, 0.0).ready_ns, 100.0 + 300.0);
        assert_eq!(
            p.on_step_done(1, 0.0),
            Step::Done(Outcome {
                found: 3,
                retries: 0
            })
        );
    }

    #[test]
    fn hot_prefixes_are_answered_locally_and_invalidated_on_delete() {
        let mut p = PrefixIndex::new(PrefixIndexConfig::default(), HostId(1));
        let ins = MetaOp::new(OpKind::Insert, vec![1, 2]);
        p.start(1, &ins, client(), 0.0);
        p.on_step_done(1, 0.0);
        // Second reference makes them hot: admitted when this lookup's reply arrives.
        let look = MetaOp::new(OpKind::Prefix, vec![1, 2]);
        assert!(matches!(p.start(2, &look, client(), 0.0), Step::Rpc(_)));
        p.on_step_done(2, 0.0);
        assert!(matches!(p.start(3, &look, client(), 0.0), Step::Local(_)));
        assert_eq!(
            p.on_step_done(3, 0.0),
            Step::Done(Outcome {
                found: 2,
                retries: 0
            })
        );
        p.start(4, &MetaOp::new(OpKind::Delete, vec![2]), client(), 0.0);
        p.on_step_done(4, 0.0);
        let Step::Rpc(r) = p.start(5, &look, client(), 0.0) else {
            panic!("block 2 was invalidated")
        };
        // Anchor + one key.
        assert_eq!(r.request_bytes, 16 + 8 + 8);
    }
}
