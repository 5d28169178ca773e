//! Redis: one server process reached over kernel TCP (Mooncake's metadata store). Each client
//! thread holds one connection and has one request outstanding at a time; the server's single
//! event-loop thread serves requests in arrival order, so queueing at the server emerges when
//! clients are concurrent.
//!
//! Keys are the blocks' 32-byte SHA-256 strings (the paper's setup), values 8-byte addresses.
//! A block is a string key (`GET`/`SET`); with an ordered key order every block is also a
//! member of one sorted set scored by its key, so a run of blocks is one `ZRANGEBYSCORE`.
//!
//! Cost model, per request message (REDIS §5): the event loop spends `per_request_ns` (read and
//! write system calls, parsing, one event-loop iteration: "a fixed per-batch cost of roughly
//! 5–8 µs") plus `per_command_ns` per command ("~1–2 µs per command"); the defaults are the
//! midpoints, 6.5 and 1.5 µs, so an unpipelined GET costs 8 µs (125 k ops/s at saturation,
//! REDIS §5: 70–200 k) and a 16-deep pipeline 1.9 µs per command (525 k ops/s; REDIS §1: 403–508
//! k at `-P 16`). Multi-key commands add `per_key_ns` per extra key or reply element, sorted-set
//! reads `zset_level_ns` per skip-list level (`log2 N`) [R: one cache miss per level]. With
//! `io_threads` > 0 (Redis 6 `io-threads`) the per-request half before and the half after the
//! commands run on a pool of I/O threads and only the commands on the main thread.
//!
//! The network (client syscalls, TCP stack, NICs, wire, the server kernel's receive path) is the
//! network model's kernel-TCP transport (`tcp-kernel-100g` by default).
//!
//! | op | messages (RTTs) | server work |
//! |---|---|---|
//! | get, 1 key | `GET` (1) | per_request + per_command |
//! | get, k keys, `mget` | `MGET` (1) | per_request + per_command + (k − 1) per_key |
//! | get, k keys, `pipelining` | k `GET` in one write (1) | per_request + k per_command |
//! | range (ordered keys) | `ZRANGEBYSCORE` (1) | per_request + per_command + log2(N) zset_level + M per_key |
//! | range (hashed keys) | `MGET` of the run (1) | as MGET |
//! | insert | `SET` then `ZADD` (2; 1 with pipelining, and then one op for all new blocks) | per command |
//! | delete | `DEL` then `ZREM` (likewise) | |

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::keys::KeyOrder;
use super::{
    Client, Key, MetaOp, MetadataBackend, OpId, OpKind, Outcome, Reply, Rpc, Step, one_per_key,
};
use crate::net::{FifoServer, HostId, MultiServer};

/// Redis's parameters (scenario `metadata.backends[] { kind: redis }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Network profile (built-in name or YAML path). Default `tcp-kernel-100g`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Redis 6 I/O threads (0: the main thread does all). Default 0 (Redis's default).
    #[serde(default)]
    pub io_threads: u32,
    /// Send a request's gets (and an insert's commands) in one write. Default false.
    #[serde(default)]
    pub pipelining: bool,
    /// Batch a request's gets into one `MGET`. Default false.
    #[serde(default)]
    pub mget: bool,
    /// Event-loop cost per request message, ns. Default 6500 (REDIS §5: 5–8 µs).
    #[serde(default = "d_req")]
    pub per_request_ns: f64,
    /// Cost per command, ns. Default 1500 (REDIS §5: 1–2 µs).
    #[serde(default = "d_cmd")]
    pub per_command_ns: f64,
    /// Extra cost per additional key or reply element of a multi-key command, ns. Default 150 [R].
    #[serde(default = "d_key")]
    pub per_key_ns: f64,
    /// Sorted-set cost per skip-list level, ns. Default 100 [R].
    #[serde(default = "d_level")]
    pub zset_level_ns: f64,
    /// Key bytes on the wire (SHA-256 = 32; the paper). Default 32.
    #[serde(default = "d_key_bytes")]
    pub key_bytes: u64,
    /// Value bytes (an 8-byte address; the paper). Default 8.
    #[serde(default = "d_value_bytes")]
    pub value_bytes: u64,
}

fn d_req() -> f64 {
    6500.0
}
fn d_cmd() -> f64 {
    1500.0
}
fn d_key() -> f64 {
    150.0
}
fn d_level() -> f64 {
    100.0
}
fn d_key_bytes() -> u64 {
    32
}
fn d_value_bytes() -> u64 {
    8
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            network: None,
            io_threads: 0,
            pipelining: false,
            mget: false,
            per_request_ns: d_req(),
            per_command_ns: d_cmd(),
            per_key_ns: d_key(),
            zset_level_ns: d_level(),
            key_bytes: d_key_bytes(),
            value_bytes: d_value_bytes(),
        }
    }
}

impl RedisConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("per_request_ns", self.per_request_ns),
            ("per_command_ns", self.per_command_ns),
            ("per_key_ns", self.per_key_ns),
            ("zset_level_ns", self.zset_level_ns),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be >= 0, got {v}"));
            }
        }
        Ok(())
    }
}

/// One request message: commands in it, extra server work, bytes each way.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Message {
    commands: u32,
    extra_ns: f64,
    request_bytes: u64,
    response_bytes: u64,
}

#[derive(Clone, Debug)]
struct RedisOp {
    messages: VecDeque<Message>,
    current: Option<Message>,
    found: u64,
}

/// Redis's model (see the module docs).
#[derive(Debug)]
pub struct Redis {
    cfg: RedisConfig,
    server: HostId,
    order: KeyOrder,
    keys: BTreeSet<Key>,
    main: FifoServer,
    io: MultiServer,
    ops: std::collections::HashMap<OpId, RedisOp>,
}

impl Redis {
    /// A Redis server on `server`, empty.
    pub fn new(cfg: RedisConfig, server: HostId, order: KeyOrder) -> Self {
        Redis {
            io: MultiServer::new(cfg.io_threads.max(1)),
            cfg,
            server,
            order,
            keys: BTreeSet::new(),
            main: FifoServer::default(),
            ops: Default::default(),
        }
    }

    fn sorted_set(&self) -> bool {
        self.order.runs_are_contiguous()
    }

    fn get_msg(&self, k: u64) -> Message {
        let c = &self.cfg;
        if k == 1 {
            Message {
                commands: 1,
                extra_ns: 0.0,
                request_bytes: 20 + c.key_bytes,
                response_bytes: 6 + c.value_bytes,
            }
        } else {
            Message {
                commands: 1,
                extra_ns: (k - 1) as f64 * c.per_key_ns,
                request_bytes: 14 + k * (7 + c.key_bytes),
                response_bytes: 4 + k * (6 + c.value_bytes),
            }
        }
    }

    /// The messages of a write of one key: SET (+ ZADD), or DEL (+ ZREM).
    fn write_msgs(&self, kind: OpKind, n: u64) -> Vec<Message> {
        let c = &self.cfg;
        let (main_req, main_resp) = match kind {
            OpKind::Delete => (20 + c.key_bytes, 4),
            _ => (26 + c.key_bytes + c.value_bytes, 5),
        };
        let zset = Message {
            commands: 1,
            extra_ns: 0.0,
            request_bytes: 60 + c.key_bytes + c.value_bytes,
            response_bytes: 4,
        };
        let main = Message {
            commands: 1,
            extra_ns: 0.0,
            request_bytes: main_req,
            response_bytes: main_resp,
        };
        let per_key: Vec<Message> = if self.sorted_set() {
            vec![main, zset]
        } else {
            vec![main]
        };
        if self.cfg.pipelining {
            let mut m = Message {
                commands: 0,
                extra_ns: 0.0,
                request_bytes: 0,
                response_bytes: 0,
            };
            for x in &per_key {
                m.commands += x.commands * n as u32;
                m.request_bytes += x.request_bytes * n;
                m.response_bytes += x.response_bytes * n;
            }
            vec![m]
        } else {
            (0..n).flat_map(|_| per_key.iter().copied()).collect()
        }
    }

    fn levels(&self) -> f64 {
        (self.keys.len().max(2) as f64).log2().ceil()
    }
}

impl MetadataBackend for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn plan_lookup(&self, keys: &[Key], runs: &[(usize, usize)]) -> Vec<MetaOp> {
        // Prompt order; batched gets go as one command where the first of them is.
        let batch = self.cfg.mget || self.cfg.pipelining;
        let mut ops: Vec<MetaOp> = Vec::new();
        let mut batch_at: Option<usize> = None;
        for &(s, n) in runs {
            if n >= 2 {
                ops.push(MetaOp::new(OpKind::Range, keys[s..s + n].to_vec()));
            } else if batch {
                match batch_at {
                    Some(i) => ops[i].keys.extend_from_slice(&keys[s..s + n]),
                    None => {
                        batch_at = Some(ops.len());
                        ops.push(MetaOp::new(OpKind::Get, keys[s..s + n].to_vec()));
                    }
                }
            } else {
                ops.extend(one_per_key(OpKind::Get, &keys[s..s + n]));
            }
        }
        ops
    }

    fn plan_insert(&self, keys: &[Key]) -> Vec<MetaOp> {
        if self.cfg.pipelining && !keys.is_empty() {
            vec![MetaOp::new(OpKind::Insert, keys.to_vec())]
        } else {
            one_per_key(OpKind::Insert, keys)
        }
    }

    fn plan_delete(&self, keys: &[Key]) -> Vec<MetaOp> {
        if self.cfg.pipelining && !keys.is_empty() {
            vec![MetaOp::new(OpKind::Delete, keys.to_vec())]
        } else {
            one_per_key(OpKind::Delete, keys)
        }
    }

    fn preload(&mut self, keys: &[Key], _nodes: u32) {
        self.keys.extend(keys.iter().copied());
    }

    fn start(&mut self, id: OpId, op: &MetaOp, _client: Client, now_ns: f64) -> Step {
        let c = &self.cfg;
        let k = op.keys.len() as u64;
        let (messages, found): (Vec<Message>, u64) = match op.kind {
            OpKind::Get | OpKind::Prefix => {
                let found = op.keys.iter().filter(|k| self.keys.contains(k)).count() as u64;
                let msgs = if k == 1 || c.mget {
                    vec![self.get_msg(k)]
                } else if c.pipelining {
                    vec![Message {
                        commands: k as u32,
                        extra_ns: 0.0,
                        request_bytes: k * (20 + c.key_bytes),
                        response_bytes: k * (6 + c.value_bytes),
                    }]
                } else {
                    (0..k).map(|_| self.get_msg(1)).collect()
                };
                (msgs, found)
            }
            OpKind::Range => {
                let (lo, hi) = (
                    *op.keys.iter().min().expect("non-empty"),
                    *op.keys.iter().max().expect("non-empty"),
                );
                if self.sorted_set() {
                    let m = self.keys.range(lo..=hi).count() as u64;
                    let msg = Message {
                        commands: 1,
                        extra_ns: self.levels() * c.zset_level_ns + m as f64 * c.per_key_ns,
                        request_bytes: 60,
                        response_bytes: 4 + m * (7 + c.key_bytes + c.value_bytes),
                    };
                    (vec![msg], m)
                } else {
                    let found = op.keys.iter().filter(|k| self.keys.contains(k)).count() as u64;
                    (vec![self.get_msg(k)], found)
                }
            }
            OpKind::Insert | OpKind::Delete => {
                for key in &op.keys {
                    if op.kind == OpKind::Insert {
                        self.keys.insert(*key);
                    } else {
                        self.keys.remove(key);
                    }
                }
                (self.write_msgs(op.kind, k), k)
            }
        };
        self.ops.insert(
            id,
            RedisOp {
                messages: messages.into(),
                current: None,
                found,
            },
        );
        self.on_step_done(id, now_ns)
    }

    fn on_step_done(&mut self, id: OpId, _now_ns: f64) -> Step {
        let op = self.ops.get_mut(&id).expect("op in flight");
        match op.messages.pop_front() {
            Some(m) => {
                op.current = Some(m);
                Step::Rpc(Rpc {
                    server: self.server,
                    request_bytes: m.request_bytes,
                    response_bytes: m.response_bytes,
                })
            }
            None => {
                let found = op.found;
                self.ops.remove(&id);
                Step::Done(Outcome { found, retries: 0 })
            }
        }
    }

    fn serve_rpc(&mut self, id: OpId, now_ns: f64) -> Reply {
        let m = self.ops[&id].current.expect("an RPC in flight");
        let c = &self.cfg;
        let commands = f64::from(m.commands) * c.per_command_ns + m.extra_ns;
        let ready_ns = if c.io_threads == 0 {
            let work = c.per_request_ns + commands;
            self.main.serve(now_ns, work) + work
        } else {
            let half = c.per_request_ns / 2.0;
            let read = self.io.serve(now_ns, half) + half;
            let exec = self.main.serve(read, commands) + commands;
            self.io.serve(exec, half) + half
        };
        Reply {
            ready_ns,
            post_thread: None,
        }
    }

    fn keys_stored(&self) -> u64 {
        self.keys.len() as u64
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
    fn unpipelined_get_is_one_rpc_of_eight_microseconds() {
        let mut r = Redis::new(RedisConfig::default(), HostId(1), KeyOrder::BlockId);
        r.preload(&[1, 2, 3], 1);
        let s = r.start(1, &MetaOp::new(OpKind::Get, vec![2]), client(), 0.0);
        assert!(matches!(
            s,
            Step::Rpc(Rpc {
                request_bytes: 52,
                response_bytes: 14,
                ..
            })
        ));
        let reply = r.serve_rpc(1, 1000.0);
        assert_eq!(reply.ready_ns, 1000.0 + 8000.0);
        assert_eq!(
            r.on_step_done(1, 0.0),
            Step::Done(Outcome {
                found: 1,
                retries: 0
            })
        );
    }

    #[test]
    fn the_event_loop_serialises_concurrent_clients() {
        let mut r = Redis::new(RedisConfig::default(), HostId(1), KeyOrder::BlockId);
        for id in 0..3 {
            r.start(id, &MetaOp::new(OpKind::Get, vec![7]), client(), 0.0);
        }
        let t: Vec<f64> = (0..3).map(|id| r.serve_rpc(id, 0.0).ready_ns).collect();
        assert_eq!(t, vec![8000.0, 16000.0, 24000.0]);
    }

    #[test]
    fn insert_is_set_then_zadd_unless_pipelined() {
        let mut r = Redis::new(RedisConfig::default(), HostId(1), KeyOrder::BlockId);
        let op = MetaOp::new(OpKind::Insert, vec![5]);
        assert!(matches!(r.start(1, &op, client(), 0.0), Step::Rpc(_)));
        assert!(matches!(r.on_step_done(1, 0.0), Step::Rpc(_)));
        assert!(matches!(r.on_step_done(1, 0.0), Step::Done(_)));
        let cfg = RedisConfig {
            pipelining: true,
            ..Default::default()
        };
        let mut r = Redis::new(cfg, HostId(1), KeyOrder::BlockId);
        let ops = r.plan_insert(&[5, 6, 7]);
        assert_eq!(ops.len(), 1);
        assert!(matches!(r.start(1, &ops[0], client(), 0.0), Step::Rpc(_)));
        // One message of 6 commands: 6.5 + 6 × 1.5 µs.
        assert_eq!(r.serve_rpc(1, 0.0).ready_ns, 6500.0 + 9000.0);
        assert!(matches!(r.on_step_done(1, 0.0), Step::Done(_)));
    }

    #[test]
    fn range_is_one_zrangebyscore() {
        let mut r = Redis::new(RedisConfig::default(), HostId(1), KeyOrder::BlockId);
        r.preload(&(0..1024).collect::<Vec<_>>(), 1);
        let s = r.start(
            1,
            &MetaOp::new(OpKind::Range, (10..20).collect()),
            client(),
            0.0,
        );
        assert!(matches!(s, Step::Rpc(_)));
        // 6.5 + 1.5 µs + 10 levels × 0.1 + 10 elements × 0.15.
        assert!((r.serve_rpc(1, 0.0).ready_ns - (8000.0 + 1000.0 + 1500.0)).abs() < 1e-6);
        assert_eq!(
            r.on_step_done(1, 0.0),
            Step::Done(Outcome {
                found: 10,
                retries: 0
            })
        );
    }
}
