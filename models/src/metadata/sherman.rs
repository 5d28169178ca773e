//! Sherman (Wang et al., SIGMOD'22): a B+tree in a memory node's DRAM, reached with one-sided
//! RDMA; compute nodes cache level-1 internal nodes; leaf locks live in the memory-side NIC's
//! on-chip memory; a per-compute-node local lock (HOCL) hands a remote lock between local
//! threads. All constants and sequences: DM §1 (`thustorage/Sherman` @ 9bca431).
//!
//! Cost model, per operation (h = tree height including the leaf; L = levels above level 1):
//!
//! | op | steps (RTTs) | bytes |
//! |---|---|---|
//! | get, cache fresh | READ leaf | 1024 |
//! | get, level-1 node not cached | L + 1 internal READs, then READ leaf (h RTTs) | h × 1024 |
//! | get, stale copy (the leaf was split off after caching) | READ the old leaf, fence check fails: invalidate, traverse from the root, READ leaf (1 + h) | (1 + h) × 1024 |
//! | insert, no split | CAS on-chip lock (8 B, device memory) · READ leaf · doorbell {WRITE 18 B entry, WRITE 8 B unlock} (3) | 8 + 1024 + 26 |
//! | insert, HOCL hand-over | the waiter inherits the remote lock: READ · WRITE entry (2) | |
//! | insert, leaf split | … · WRITE sibling 1 KB · doorbell {WRITE page 1 KB, unlock} · CAS parent lock · READ parent · doorbell {WRITE parent, unlock} (7) | ≈ 4 KB |
//! | range | refresh any missing level-1 node (h − 1 READs each), then READ every leaf of the range, ≤ 32 outstanding (`kParaFetch`): ⌈leaves / 32⌉ waves | leaves × 1024 |
//! | delete | as insert without split (Sherman has no merge) | |
//!
//! Lock conflicts: the CAS executes at the memory node in arrival order ([`MetadataBackend::on_remote`]);
//! a failed CAS costs one more round trip and is retried at once (Sherman spins). With HOCL
//! (default) threads of one compute node that want the same lock slot queue locally and never
//! compete remotely; the holder hands the remote lock to the next local waiter up to 8 times
//! (`kMaxHandOverTime`) before releasing it. A lock slot is `mix(page address) % 32768`
//! (`kNumOfLock`), so unrelated leaves may share one (false sharing, as in Sherman).
//!
//! Not modelled: torn reads (a READ overlapping a concurrent WRITE of the same leaf, re-read
//! on version mismatch): they need sub-microsecond overlap; root splits (CAS on the root
//! pointer + broadcast); coroutine scheduling inside a thread.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::index_cache::{CacheView, IndexCache};
use super::keys::{KeyOrder, mix64};
use super::tree::{InnerId, LeafId, Tree};
use super::{Client, Key, MetaOp, MetadataBackend, OpId, OpKind, Outcome, RemoteLocks, Step};
use crate::net::{HostId, QpId, Verb, VerbOp};

/// Internal and leaf node size, bytes (`kInternalPageSize`, `kLeafPageSize`; DM §1).
pub const NODE_BYTES: u64 = 1024;
/// Leaf capacity, entries (computed from the 18 B packed entry; DM §1).
pub const LEAF_CAPACITY: usize = 54;
/// Internal fanout (16 B entries; DM §1).
pub const FANOUT: usize = 61;
/// Leaf entry, bytes (4-bit versions + key 8 + value 8; DM §1).
pub const ENTRY_BYTES: u64 = 18;
/// Lock word, bytes.
pub const LOCK_BYTES: u64 = 8;

const LEAF_BASE: u64 = 1 << 40;
const INNER_BASE: u64 = 2 << 40;
const LOCK_BASE: u64 = 3 << 40;

/// Sherman's parameters (scenario `metadata.backends[] { kind: sherman }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShermanConfig {
    /// Network profile (built-in name or YAML path). Default: `metadata.network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Compute-node index cache, MB (`kIndexCacheSize` = 1000; DM §1); holds level-1 nodes
    /// of 1 KB.
    #[serde(default = "d_cache_mb")]
    pub cache_mb: f64,
    /// Per-compute-node local lock with hand-over (HOCL). Default true.
    #[serde(default = "yes")]
    pub local_lock: bool,
    /// Hand-overs before the remote lock is released (`kMaxHandOverTime` = 8).
    #[serde(default = "d_handover")]
    pub max_handover: u32,
    /// Leaf READs outstanding in a range query (`kParaFetch` = 32).
    #[serde(default = "d_para")]
    pub para_fetch: usize,
    /// On-chip lock slots (256 KiB / 8 B = 32768, `kNumOfLock`).
    #[serde(default = "d_slots")]
    pub lock_slots: u64,
}

fn d_cache_mb() -> f64 {
    1000.0
}
fn yes() -> bool {
    true
}
fn d_handover() -> u32 {
    8
}
fn d_para() -> usize {
    32
}
fn d_slots() -> u64 {
    32768
}

impl Default for ShermanConfig {
    fn default() -> Self {
        ShermanConfig {
            network: None,
            cache_mb: d_cache_mb(),
            local_lock: true,
            max_handover: d_handover(),
            para_fetch: d_para(),
            lock_slots: d_slots(),
        }
    }
}

impl ShermanConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.cache_mb.is_finite() && self.cache_mb >= 0.0) {
            return Err(format!("cache_mb must be >= 0, got {}", self.cache_mb));
        }
        if self.para_fetch == 0 || self.lock_slots == 0 {
            return Err("para_fetch and lock_slots must be at least 1".into());
        }
        Ok(())
    }
}

/// A planned action of an operation: network steps and local bookkeeping.
#[derive(Clone, Debug, PartialEq)]
enum Act {
    /// READ one internal node of the traversal (1 KB).
    ReadInner,
    /// Cache the key's level-1 node as read now.
    AdmitParent,
    /// Choose the leaf to work on from the cache's view.
    Resolve,
    /// Take the local (HOCL) lock of the chosen leaf, or park.
    LocalLock,
    /// CAS the chosen leaf's on-chip lock (skipped when handed over).
    Cas,
    /// READ the chosen leaf; then check its fences.
    ReadLeaf,
    /// Apply the write to the structure and plan its WRITEs.
    Apply,
    /// WRITEs in one doorbell: (bytes, address, what the WRITE releases). `releases_leaf`:
    /// after this step the op has given up the leaf lock (unlocked or handed over).
    Writes {
        wrs: Vec<(u64, u64, Release)>,
        releases_leaf: bool,
    },
    /// Lock and update the parent after a split.
    ParentCas(u64),
    /// READ the parent node.
    ReadParent(InnerId),
    /// Range: READ these leaves in one wave.
    Wave(Vec<LeafId>),
    /// Finish.
    Finish,
}

/// What a WRITE releases when it reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Release {
    Nothing,
    /// The leaf lock (slot address).
    Leaf(u64),
    /// A parent lock (slot address).
    Parent(u64),
}

#[derive(Clone, Debug)]
struct ShOp {
    kind: OpKind,
    keys: Vec<Key>,
    client: Client,
    plan: VecDeque<Act>,
    /// The network act in flight (checked when its step completes).
    current: Option<Act>,
    /// Leaf chosen by `Resolve`, and whether the cache's copy was stale.
    leaf: LeafId,
    stale: bool,
    /// Lock slot address of `leaf`.
    lock: u64,
    /// The last CAS won.
    cas_won: bool,
    /// This op holds the leaf's remote lock.
    holds_remote: bool,
    /// Step roles for `on_remote`.
    roles: Vec<Role>,
    outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Plain,
    Cas(u64),
    Unlock(u64),
}

#[derive(Clone, Debug)]
struct LocalLock {
    holder: OpId,
    waiters: VecDeque<OpId>,
    remote_held: bool,
    handovers: u32,
}

#[derive(Clone, Debug, Default)]
struct ComputeNode {
    cache: IndexCache,
    locks: HashMap<u64, LocalLock>,
}

/// Sherman's model for one memory node (see the module docs).
#[derive(Debug)]
pub struct Sherman {
    cfg: ShermanConfig,
    server: HostId,
    order: KeyOrder,
    tree: Tree,
    nodes: Vec<ComputeNode>,
    /// On-chip lock table: slot address -> holder.
    lock_table: RemoteLocks,
    ops: HashMap<OpId, ShOp>,
    wake: Vec<OpId>,
}

impl Sherman {
    /// A memory node on `server` with an empty tree.
    pub fn new(cfg: ShermanConfig, server: HostId, order: KeyOrder) -> Self {
        Sherman {
            cfg,
            server,
            order,
            tree: Tree::new(LEAF_CAPACITY, FANOUT, false),
            nodes: Vec::new(),
            lock_table: RemoteLocks::default(),
            ops: HashMap::new(),
            wake: Vec::new(),
        }
    }

    /// The tree (for tests and reports).
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    fn cache_nodes(&self) -> usize {
        (self.cfg.cache_mb * 1e6 / NODE_BYTES as f64) as usize
    }

    fn node(&mut self, n: u32) -> &mut ComputeNode {
        while self.nodes.len() <= n as usize {
            let cap = self.cache_nodes();
            self.nodes.push(ComputeNode {
                cache: IndexCache::new(cap),
                locks: HashMap::new(),
            });
        }
        &mut self.nodes[n as usize]
    }

    fn lock_addr(&self, page: u64) -> u64 {
        LOCK_BASE + (mix64(page) % self.cfg.lock_slots) * LOCK_BYTES
    }

    fn wr(&self, verb: Verb, c: Client, bytes: u64, addr: u64) -> VerbOp {
        let mut op = VerbOp::new(verb, c.host, self.server, bytes);
        op.qp = QpId(c.thread);
        op.remote_addr = addr;
        op.inline = verb == Verb::Write;
        op.device_memory = addr >= LOCK_BASE;
        op
    }

    /// Plans the traversal from the root to `key`'s level-1 node when it is not cached.
    fn plan_reach(&mut self, id: OpId) {
        let op = &self.ops[&id];
        let (key, node) = (op.keys[0], op.client.node);
        let leaf = self.tree.leaf_of(key);
        let tree = &self.tree;
        let view = self.nodes[node as usize].cache.view(tree, leaf);
        let op = self.ops.get_mut(&id).expect("op");
        if view == CacheView::Miss {
            for _ in 0..=tree.levels_above_l1() {
                op.plan.push_back(Act::ReadInner);
            }
            op.plan.push_back(Act::AdmitParent);
        }
        op.plan.push_back(Act::Resolve);
    }

    /// Runs bookkeeping acts until one needs the network (or the op ends).
    fn advance(&mut self, id: OpId) -> Step {
        loop {
            let op = self.ops.get_mut(&id).expect("op in flight");
            let Some(act) = op.plan.pop_front() else {
                let out = op.outcome;
                self.ops.remove(&id);
                return Step::Done(out);
            };
            let c = op.client;
            match act {
                Act::ReadInner => {
                    let addr = INNER_BASE;
                    return self.issue(id, act, vec![(Verb::Read, NODE_BYTES, addr, Role::Plain)]);
                }
                Act::AdmitParent => {
                    let leaf = self.tree.leaf_of(op.keys[0]);
                    let parent = self.tree.leaf(leaf).parent;
                    let epoch = self.tree.epoch();
                    self.nodes[c.node as usize].cache.admit(parent, epoch);
                }
                Act::Resolve => {
                    let key = op.keys[0];
                    let leaf = self.tree.leaf_of(key);
                    let view = self.nodes[c.node as usize].cache.view(&self.tree, leaf);
                    let (chosen, stale) = match view {
                        CacheView::Stale => (self.prev_leaf(leaf), true),
                        _ => (leaf, false),
                    };
                    let lock = self.lock_addr(LEAF_BASE + u64::from(chosen) * NODE_BYTES);
                    let op = self.ops.get_mut(&id).expect("op");
                    op.leaf = chosen;
                    op.stale = stale;
                    op.lock = lock;
                }
                Act::LocalLock => {
                    let lock = op.lock;
                    let node = self.node(c.node);
                    match node.locks.get_mut(&lock) {
                        None => {
                            node.locks.insert(
                                lock,
                                LocalLock {
                                    holder: id,
                                    waiters: VecDeque::new(),
                                    remote_held: false,
                                    handovers: 0,
                                },
                            );
                        }
                        Some(l) if l.holder == id => {}
                        Some(l) => {
                            l.waiters.push_back(id);
                            let op = self.ops.get_mut(&id).expect("op");
                            op.plan.push_front(Act::LocalLock);
                            op.current = None;
                            return Step::Park;
                        }
                    }
                }
                Act::Cas => {
                    let handed = self.cfg.local_lock
                        && self.nodes[c.node as usize]
                            .locks
                            .get(&op.lock)
                            .is_some_and(|l| l.holder == id && l.remote_held);
                    if handed {
                        op.holds_remote = true;
                        continue;
                    }
                    let lock = op.lock;
                    return self.issue(
                        id,
                        Act::Cas,
                        vec![(Verb::CompareSwap, LOCK_BYTES, lock, Role::Cas(lock))],
                    );
                }
                Act::ReadLeaf => {
                    let addr = LEAF_BASE + u64::from(op.leaf) * NODE_BYTES;
                    return self.issue(id, act, vec![(Verb::Read, NODE_BYTES, addr, Role::Plain)]);
                }
                Act::Apply => self.apply(id),
                Act::Writes { ref wrs, .. } => {
                    let wrs = wrs
                        .iter()
                        .map(|&(bytes, addr, rel)| {
                            let role = match rel {
                                Release::Nothing => Role::Plain,
                                Release::Leaf(l) | Release::Parent(l) => Role::Unlock(l),
                            };
                            (Verb::Write, bytes, addr, role)
                        })
                        .collect();
                    return self.issue(id, act.clone(), wrs);
                }
                Act::ParentCas(lock) => {
                    return self.issue(
                        id,
                        act,
                        vec![(Verb::CompareSwap, LOCK_BYTES, lock, Role::Cas(lock))],
                    );
                }
                Act::ReadParent(p) => {
                    let addr = INNER_BASE + u64::from(p) * NODE_BYTES;
                    return self.issue(id, act, vec![(Verb::Read, NODE_BYTES, addr, Role::Plain)]);
                }
                Act::Wave(ref leaves) => {
                    let wrs = leaves
                        .iter()
                        .map(|&l| {
                            (
                                Verb::Read,
                                NODE_BYTES,
                                LEAF_BASE + u64::from(l) * NODE_BYTES,
                                Role::Plain,
                            )
                        })
                        .collect::<Vec<_>>();
                    let step = self.issue(id, act.clone(), wrs);
                    return match step {
                        Step::Verbs(w) => Step::Parallel(w),
                        s => s,
                    };
                }
                Act::Finish => {
                    let op = &self.ops[&id];
                    let found = match op.kind {
                        OpKind::Get | OpKind::Range => {
                            op.keys.iter().filter(|&&k| self.tree.contains(k)).count() as u64
                        }
                        _ => op.keys.len() as u64,
                    };
                    self.ops.get_mut(&id).expect("op").outcome.found = found;
                }
            }
        }
    }

    fn prev_leaf(&self, leaf: LeafId) -> LeafId {
        let low = self.tree.leaf(leaf).low;
        if low == 0 {
            return leaf;
        }
        self.tree.leaf_of(low - 1)
    }

    fn issue(&mut self, id: OpId, act: Act, wrs: Vec<(Verb, u64, u64, Role)>) -> Step {
        let c = self.ops[&id].client;
        let verbs: Vec<VerbOp> = wrs
            .iter()
            .map(|&(v, b, a, _)| self.wr(v, c, b, a))
            .collect();
        let op = self.ops.get_mut(&id).expect("op");
        op.roles = wrs.iter().map(|w| w.3).collect();
        op.current = Some(act);
        Step::Verbs(verbs)
    }

    /// Under the leaf lock, with the leaf read: change the structure and plan the WRITEs.
    fn apply(&mut self, id: OpId) {
        let op = &self.ops[&id];
        let (key, kind, lock, node) = (op.keys[0], op.kind, op.lock, op.client.node);
        let leaf_addr = LEAF_BASE + u64::from(op.leaf) * NODE_BYTES;
        let release = self.leaf_release(id, node, lock);
        let mut acts = Vec::new();
        if kind == OpKind::Delete {
            self.tree.remove(key);
            acts.push(write_and_release(ENTRY_BYTES, leaf_addr, release));
        } else {
            let e = self.tree.insert(key);
            match e.new_leaf {
                None => acts.push(write_and_release(ENTRY_BYTES, leaf_addr, release)),
                Some(new_leaf) => {
                    let sib = LEAF_BASE + u64::from(new_leaf) * NODE_BYTES;
                    acts.push(plain_writes(vec![(NODE_BYTES, sib, Release::Nothing)]));
                    acts.push(write_and_release(NODE_BYTES, leaf_addr, release));
                    let parent = self.tree.leaf(e.leaf).parent;
                    let paddr = INNER_BASE + u64::from(parent) * NODE_BYTES;
                    let plock = self.lock_addr(paddr);
                    acts.push(Act::ParentCas(plock));
                    acts.push(Act::ReadParent(parent));
                    if let Some(ni) = e.new_inner {
                        let naddr = INNER_BASE + u64::from(ni) * NODE_BYTES;
                        acts.push(plain_writes(vec![(NODE_BYTES, naddr, Release::Nothing)]));
                    }
                    acts.push(plain_writes(vec![
                        (NODE_BYTES, paddr, Release::Nothing),
                        (LOCK_BYTES, plock, Release::Parent(plock)),
                    ]));
                }
            }
        }
        acts.push(Act::Finish);
        let op = self.ops.get_mut(&id).expect("op");
        for a in acts.into_iter().rev() {
            op.plan.push_front(a);
        }
    }

    /// How this op gives up the leaf lock: `Leaf(lock)` (an unlock WRITE) or `Nothing` (HOCL
    /// hand-over to a local waiter, decided now).
    fn leaf_release(&mut self, id: OpId, node: u32, lock: u64) -> Release {
        if !self.cfg.local_lock {
            return Release::Leaf(lock);
        }
        let max = self.cfg.max_handover;
        let l = self.nodes[node as usize]
            .locks
            .get_mut(&lock)
            .expect("holder has its local lock");
        debug_assert_eq!(l.holder, id);
        if !l.waiters.is_empty() && l.handovers < max {
            l.remote_held = true;
            l.handovers += 1;
            Release::Nothing
        } else {
            l.remote_held = false;
            l.handovers = 0;
            Release::Leaf(lock)
        }
    }

    /// After the leaf-lock release step completed: pass the local lock on.
    fn pass_local_lock(&mut self, node: u32, lock: u64) {
        if !self.cfg.local_lock {
            return;
        }
        let locks = &mut self.nodes[node as usize].locks;
        let l = locks.get_mut(&lock).expect("local lock");
        match l.waiters.pop_front() {
            Some(next) => {
                l.holder = next;
                if l.remote_held {
                    // Hand-over: the remote lock changes owner without a round trip.
                    self.lock_table.hand_over(lock, next);
                }
                self.wake.push(next);
            }
            None => {
                locks.remove(&lock);
            }
        }
    }

    /// The leaf read under the lock (or for a lookup) turned out to be the wrong one.
    fn restart(&mut self, id: OpId) {
        let op = self.ops.get_mut(&id).expect("op");
        op.outcome.retries += 1;
        op.plan.clear();
        let (node, lock, leaf, write) = (op.client.node, op.lock, op.leaf, op.kind.is_write());
        let parent = self.tree.leaf(leaf).parent;
        self.nodes[node as usize].cache.invalidate(parent);
        let key_parent = self.tree.leaf(self.tree.leaf_of(op.keys[0])).parent;
        self.nodes[node as usize].cache.invalidate(key_parent);
        if write {
            match self.leaf_release(id, node, lock) {
                Release::Nothing => {
                    self.ops.get_mut(&id).expect("op").holds_remote = false;
                    self.pass_local_lock(node, lock);
                }
                r => {
                    let op = self.ops.get_mut(&id).expect("op");
                    op.plan.push_back(Act::Writes {
                        wrs: vec![(LOCK_BYTES, lock, r)],
                        releases_leaf: true,
                    });
                }
            }
        }
        self.plan_reach(id);
        let op = self.ops.get_mut(&id).expect("op");
        if write {
            op.plan
                .extend([Act::LocalLock, Act::Cas, Act::ReadLeaf, Act::Apply]);
        } else {
            op.plan.extend([Act::ReadLeaf, Act::Finish]);
        }
    }
}

/// The op's last write to its leaf, with the unlock in the same doorbell unless handed over.
fn write_and_release(bytes: u64, addr: u64, release: Release) -> Act {
    let mut wrs = vec![(bytes, addr, Release::Nothing)];
    if let Release::Leaf(lock) = release {
        wrs.push((LOCK_BYTES, lock, release));
    }
    Act::Writes {
        wrs,
        releases_leaf: true,
    }
}

fn plain_writes(wrs: Vec<(u64, u64, Release)>) -> Act {
    Act::Writes {
        wrs,
        releases_leaf: false,
    }
}

impl MetadataBackend for Sherman {
    fn name(&self) -> &'static str {
        "sherman"
    }

    fn preload(&mut self, keys: &[Key], nodes: u32) {
        for &k in keys {
            self.tree.insert(k);
        }
        let epoch = self.tree.epoch();
        for n in 0..nodes {
            let inners = self.tree.inner_count() as u32;
            let node = self.node(n);
            for i in 0..inners {
                node.cache.admit(i, epoch);
            }
        }
    }

    fn start(&mut self, id: OpId, op: &MetaOp, client: Client, _now_ns: f64) -> Step {
        self.node(client.node);
        let mut keys = op.keys.clone();
        if op.kind == OpKind::Range && self.order.runs_are_contiguous() {
            keys.sort_unstable();
        }
        self.ops.insert(
            id,
            ShOp {
                kind: op.kind,
                keys,
                client,
                plan: VecDeque::new(),
                current: None,
                leaf: 0,
                stale: false,
                lock: 0,
                cas_won: false,
                holds_remote: false,
                roles: Vec::new(),
                outcome: Outcome::default(),
            },
        );
        match op.kind {
            OpKind::Get | OpKind::Prefix => {
                self.plan_reach(id);
                let o = self.ops.get_mut(&id).expect("op");
                o.plan.extend([Act::ReadLeaf, Act::Finish]);
            }
            OpKind::Insert | OpKind::Delete => {
                self.plan_reach(id);
                let o = self.ops.get_mut(&id).expect("op");
                if self.cfg.local_lock {
                    o.plan.push_back(Act::LocalLock);
                }
                o.plan.extend([Act::Cas, Act::ReadLeaf, Act::Apply]);
            }
            OpKind::Range => self.plan_range(id),
        }
        self.advance(id)
    }

    fn on_remote(&mut self, id: OpId, wr: usize, _now_ns: f64) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        match op.roles.get(wr).copied() {
            Some(Role::Cas(lock)) => op.cas_won = self.lock_table.cas(lock, id),
            Some(Role::Unlock(lock)) => self.lock_table.unlock(lock, id),
            _ => {}
        }
    }

    fn on_step_done(&mut self, id: OpId, _now_ns: f64) -> Step {
        let op = self.ops.get_mut(&id).expect("op in flight");
        match op.current.take() {
            Some(Act::Cas) => {
                if op.cas_won {
                    op.holds_remote = true;
                } else {
                    op.outcome.retries += 1;
                    op.plan.push_front(Act::Cas);
                }
            }
            Some(Act::ParentCas(lock)) if !op.cas_won => {
                op.outcome.retries += 1;
                op.plan.push_front(Act::ParentCas(lock));
            }
            Some(Act::ReadLeaf) => {
                let moved = self.tree.leaf_of(op.keys[0]) != op.leaf;
                if op.stale || moved {
                    self.restart(id);
                }
            }
            Some(Act::ReadParent(p)) => {
                let (node, epoch) = (op.client.node, self.tree.epoch());
                self.nodes[node as usize].cache.admit(p, epoch);
            }
            Some(Act::Writes {
                releases_leaf: true,
                ..
            }) => {
                op.holds_remote = false;
                let (node, lock) = (op.client.node, op.lock);
                self.pass_local_lock(node, lock);
            }
            _ => {}
        }
        self.advance(id)
    }

    fn take_wakeups(&mut self, out: &mut Vec<OpId>) {
        out.append(&mut self.wake);
    }

    fn keys_stored(&self) -> u64 {
        self.tree.len()
    }
}

impl Sherman {
    fn plan_range(&mut self, id: OpId) {
        let op = &self.ops[&id];
        let node = op.client.node;
        let leaves: Vec<LeafId> = if self.order.runs_are_contiguous() {
            let (lo, hi) = (op.keys[0], *op.keys.last().expect("non-empty"));
            self.tree.leaves_between(lo, hi)
        } else {
            let mut v: Vec<LeafId> = op.keys.iter().map(|&k| self.tree.leaf_of(k)).collect();
            v.dedup();
            v
        };
        let levels = self.tree.levels_above_l1();
        let mut acts = Vec::new();
        let mut refreshed: Vec<InnerId> = Vec::new();
        let mut retries = 0;
        for &l in &leaves {
            let parent = self.tree.leaf(l).parent;
            if refreshed.contains(&parent) {
                continue;
            }
            match self.nodes[node as usize].cache.view(&self.tree, l) {
                CacheView::Fresh => {}
                v => {
                    retries += u32::from(v == CacheView::Stale);
                    refreshed.push(parent);
                    acts.extend((0..=levels).map(|_| Act::ReadInner));
                }
            }
        }
        let epoch = self.tree.epoch();
        for p in refreshed {
            self.nodes[node as usize].cache.admit(p, epoch);
        }
        for wave in leaves.chunks(self.cfg.para_fetch) {
            acts.push(Act::Wave(wave.to_vec()));
        }
        acts.push(Act::Finish);
        let op = self.ops.get_mut(&id).expect("op");
        op.outcome.retries += retries;
        op.plan.extend(acts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(thread: u32) -> Client {
        Client {
            node: 0,
            host: HostId(0),
            thread,
        }
    }

    /// Runs an op alone: every step completes at once; returns (steps, WR bytes, outcome).
    fn run_alone(s: &mut Sherman, id: OpId, op: MetaOp) -> (Vec<Step>, Outcome) {
        let mut steps = Vec::new();
        let mut step = s.start(id, &op, client(0), 0.0);
        loop {
            match step {
                Step::Done(o) => return (steps, o),
                Step::Verbs(ref w) | Step::Parallel(ref w) => {
                    for i in 0..w.len() {
                        s.on_remote(id, i, 0.0);
                    }
                    steps.push(step.clone());
                    step = s.on_step_done(id, 0.0);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn wr_summary(steps: &[Step]) -> Vec<Vec<(Verb, u64)>> {
        steps
            .iter()
            .map(|s| match s {
                Step::Verbs(w) | Step::Parallel(w) => w.iter().map(|o| (o.verb, o.bytes)).collect(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn warm_get_is_one_1kb_read() {
        // DM §1: lookup (hit) = READ leaf, always 1024 B, 1 RTT.
        let mut s = Sherman::new(ShermanConfig::default(), HostId(1), KeyOrder::BlockId);
        s.preload(&(0..1000).collect::<Vec<_>>(), 1);
        let (steps, o) = run_alone(&mut s, 1, MetaOp::new(OpKind::Get, vec![500]));
        assert_eq!(wr_summary(&steps), vec![vec![(Verb::Read, 1024)]]);
        assert_eq!(
            o,
            Outcome {
                found: 1,
                retries: 0
            }
        );
    }

    #[test]
    fn cold_get_traverses_the_height() {
        // h = levels above L1 + L1 + leaf; 1000 keys at 27-54 per leaf: < 61 leaves → h = 2.
        let mut s = Sherman::new(ShermanConfig::default(), HostId(1), KeyOrder::BlockId);
        s.preload(&(0..1000).collect::<Vec<_>>(), 0);
        assert_eq!(s.tree().height(), 2);
        let (steps, _) = run_alone(&mut s, 1, MetaOp::new(OpKind::Get, vec![5]));
        assert_eq!(steps.len(), 2);
        let (steps, _) = run_alone(&mut s, 2, MetaOp::new(OpKind::Get, vec![6]));
        assert_eq!(steps.len(), 1, "level-1 node cached by the first lookup");
    }

    #[test]
    fn warm_insert_is_cas_read_then_write_and_unlock_in_one_doorbell() {
        // DM §1: CAS on-chip lock · READ leaf 1 KB · doorbell {WRITE 18 B entry, WRITE 8 B unlock}.
        let mut s = Sherman::new(ShermanConfig::default(), HostId(1), KeyOrder::BlockId);
        s.preload(&(0..1000).step_by(2).collect::<Vec<_>>(), 1);
        let (steps, o) = run_alone(&mut s, 1, MetaOp::new(OpKind::Insert, vec![501]));
        assert_eq!(
            wr_summary(&steps),
            vec![
                vec![(Verb::CompareSwap, 8)],
                vec![(Verb::Read, 1024)],
                vec![(Verb::Write, 18), (Verb::Write, 8)],
            ]
        );
        assert!(matches!(&steps[0], Step::Verbs(w) if w[0].device_memory));
        assert_eq!(o.retries, 0);
        assert!(s.tree().contains(501));
        assert!(s.lock_table.is_empty(), "the unlock released the lock");
    }

    #[test]
    fn insert_into_a_full_leaf_splits_in_seven_round_trips() {
        let mut s = Sherman::new(ShermanConfig::default(), HostId(1), KeyOrder::BlockId);
        s.preload(&(0..54).collect::<Vec<_>>(), 1);
        let (steps, _) = run_alone(&mut s, 1, MetaOp::new(OpKind::Insert, vec![54]));
        assert_eq!(steps.len(), 7, "{:?}", wr_summary(&steps));
        assert_eq!(s.tree().leaf_count(), 2);
    }

    #[test]
    fn range_reads_each_leaf_in_parallel() {
        let mut s = Sherman::new(ShermanConfig::default(), HostId(1), KeyOrder::BlockId);
        s.preload(&(0..540).collect::<Vec<_>>(), 1);
        // Appended keys: leaves of 27; keys 100..=160 meet 3 or 4 leaves.
        let (steps, o) = run_alone(&mut s, 1, MetaOp::new(OpKind::Range, (100..=160).collect()));
        assert_eq!(steps.len(), 1);
        let Step::Parallel(w) = &steps[0] else {
            panic!()
        };
        assert!((3..=4).contains(&w.len()));
        assert!(w.iter().all(|o| o.bytes == 1024 && o.verb == Verb::Read));
        assert_eq!(o.found, 61);
    }
}
