//! CHIME (Luo et al., SOSP'24): a B+tree whose leaves are hopscotch hash tables, so a lookup
//! reads one neighbourhood instead of a whole leaf; a hotspot buffer lets hot keys be read
//! speculatively as a single entry; node locks are 8-byte words at the end of each node in
//! the memory node's *host* memory, taken with a masked CAS. Constants and sequences: DM §2
//! (`dmemsys/CHIME` @ 31e44b7, CHIME build: every optimisation on).
//!
//! Wire sizes: a segment of `n` leaf entries carries `19 n` bytes of entries plus one 10-byte
//! replicated group metadata per 8 entries, plus one version byte per 63 bytes after the first 64
//! ([`segment_bytes`]: 8 entries → 164 B, DM's "≈ 165 B"). A whole leaf is 1316 B, an internal
//! node 1148 B (DM §2, computed).
//!
//! | op | steps (RTTs) | bytes |
//! |---|---|---|
//! | get, speculative (key in the hotspot buffer, entry not moved) | READ one entry | 20 (30 at a group start) |
//! | get, normal | READ the H = 8 neighbourhood from `home(k)` (2 WRs in 1 doorbell when it wraps past entry 63) | ≈ 165 |
//! | get, stale cached parent | neighbourhood of the old leaf, sibling check fails, READ the sibling's neighbourhood (2) | ≈ 330 |
//! | get, parent not cached | READ root entry 8 B, READ each uncached internal level (1148 B), then as above | |
//! | insert, no split | masked CAS lock word (host memory) · READ entries from `home(k)` to the first vacant one · doorbell {WRITE that segment, WRITE lock word} (3) | 8 + seg + seg + 8 |
//! | insert, split | … · READ rest of leaf · WRITE sibling 1316 · WRITE node + unlock (one WRITE) · CAS parent · READ parent 1148 · doorbell {WRITE parent, unlock} | ≈ 5 KB |
//! | range | every overlapped leaf: the whole leaf if covered, else the merged hop windows of the range's keys (≤ 34 entries per READ, GREEDY); all segments of all leaves in **one doorbell** (1) | ≤ leaves × 1316 |
//!
//! Concurrency: there is no local lock hand-over; two client threads inserting into one leaf
//! both CAS its lock word, and the loser retries at once (one more round trip per failure;
//! CHIME yields the coroutine and retries). Read delegation: a get for a key that another
//! thread of the same compute node is already reading waits for that read instead of issuing
//! its own. Write combining (merging writes to one key) is not modelled: inserts here are of
//! distinct new keys. Torn reads and root splits are not modelled (as for Sherman).

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::hopscotch::{self, H, SPAN};
use super::index_cache::{CacheView, IndexCache};
use super::keys::KeyOrder;
use super::tree::{InnerId, LeafId, Tree};
use super::{Client, Key, MetaOp, MetadataBackend, OpId, OpKind, Outcome, RemoteLocks, Step};
use crate::net::{HostId, QpId, Verb, VerbOp};

/// Leaf entry, bytes: versions 1 + hop bitmap 2 + key 8 + value 8 (DM §2).
pub const ENTRY_BYTES: u64 = 19;
/// Replicated per-group metadata, bytes (DM §2).
pub const GROUP_META_BYTES: u64 = 10;
/// A whole leaf on the wire, bytes (DM §2).
pub const LEAF_WIRE_BYTES: u64 = 1316;
/// An internal node on the wire, bytes (DM §2).
pub const INNER_WIRE_BYTES: u64 = 1148;
/// Leaf allocation incl. its lock area, bytes (DM §2).
const LEAF_ALLOC: u64 = 1332;
const INNER_ALLOC: u64 = 1164;
/// Internal fanout (`internalSpanSize`).
pub const FANOUT: usize = 64;
/// Greedy range READ segment limit, entries (`transLeafSize / 2` = 658 B; DM §2).
pub const MAX_SEGMENT_ENTRIES: usize = 34;
/// Root entry read on a cache-miss traversal, bytes.
pub const ROOT_ENTRY_BYTES: u64 = 8;
/// Lock word, bytes.
pub const LOCK_BYTES: u64 = 8;

const LEAF_BASE: u64 = 1 << 40;
const INNER_BASE: u64 = 2 << 40;
const ROOT_ADDR: u64 = 3 << 40;

/// Wire bytes of a READ/WRITE of `n` consecutive leaf entries: `19 n` bytes of entries, one
/// replicated 10-byte group metadata per 8 entries, one version byte per 63 bytes after the
/// first 64 (DM §2: 8 entries ≈ 165 B, 64 entries = the whole leaf, 1316 B).
pub fn segment_bytes(n: usize) -> u64 {
    let n = n as u64;
    let decoded = n * ENTRY_BYTES + n.div_ceil(8).max(1) * GROUP_META_BYTES;
    (decoded + decoded.saturating_sub(64).div_ceil(63)).min(LEAF_WIRE_BYTES)
}

/// CHIME's parameters (scenario `metadata.backends[] { kind: chime }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChimeConfig {
    /// Network profile (built-in name or YAML path). Default: `metadata.network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Compute-node cache, MB, including the hotspot buffer (`kIndexCacheSize` = 100; DM §2).
    #[serde(default = "d_cache_mb")]
    pub cache_mb: f64,
    /// Hotspot buffer share of the cache, MB (`kHotspotBufSize` = 30; DM §2).
    #[serde(default = "d_hotspot_mb")]
    pub hotspot_mb: f64,
    /// Speculative single-entry reads from the hotspot buffer. Default true.
    #[serde(default = "yes")]
    pub speculative: bool,
    /// Read delegation: concurrent gets of one key on a node share one READ. Default true.
    #[serde(default = "yes")]
    pub read_delegation: bool,
}

fn d_cache_mb() -> f64 {
    100.0
}
fn d_hotspot_mb() -> f64 {
    30.0
}
fn yes() -> bool {
    true
}

impl Default for ChimeConfig {
    fn default() -> Self {
        ChimeConfig {
            network: None,
            cache_mb: d_cache_mb(),
            hotspot_mb: d_hotspot_mb(),
            speculative: true,
            read_delegation: true,
        }
    }
}

impl ChimeConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.cache_mb.is_finite()
            && self.hotspot_mb.is_finite()
            && self.hotspot_mb >= 0.0
            && self.cache_mb >= self.hotspot_mb)
        {
            return Err(format!(
                "need cache_mb >= hotspot_mb >= 0, got {} and {}",
                self.cache_mb, self.hotspot_mb
            ));
        }
        Ok(())
    }
}

/// Bytes of one hotspot-buffer entry (key 8, leaf address 8, entry index and bookkeeping 8) [R].
const HOTSPOT_ENTRY_BYTES: f64 = 24.0;

#[derive(Clone, Debug, PartialEq)]
enum Act {
    /// READ the root entry (8 B).
    ReadRoot,
    /// READ an internal node (1148 B).
    ReadInner,
    /// Cache the key's level-1 node (and mark the upper levels cached).
    AdmitParent,
    /// Choose the leaf from the cache's view.
    Resolve,
    /// Read delegation: wait for another thread's read of the same key, or lead.
    Delegate,
    /// Speculative single-entry READ at (leaf, slot).
    Speculate(LeafId, usize),
    /// READ the key's neighbourhood in the chosen leaf (then sibling validation).
    ReadNeighbourhood,
    /// READ the sibling's neighbourhood (stale parent).
    ReadSibling,
    /// Masked CAS on a node's lock word (address).
    Cas(u64),
    /// Masked CAS on the chosen leaf's lock word.
    LockLeaf,
    /// READ what an insert (or delete) needs of the chosen leaf under its lock.
    ReadLeafSpan,
    /// READ `n` entries from the key's home slot (under the lock).
    ReadSpan(usize),
    /// Apply the change to the structure, plan the WRITEs.
    Apply,
    /// One-sided WRs in one doorbell: (verb, bytes, address, unlock of lock address).
    Batch(Vec<(Verb, u64, u64, Option<u64>)>),
    /// Lock, read and update the parent after a split.
    ReadParent(InnerId),
    /// Finish.
    Finish,
}

#[derive(Clone, Debug)]
struct ChOp {
    kind: OpKind,
    keys: Vec<Key>,
    client: Client,
    plan: VecDeque<Act>,
    current: Option<Act>,
    leaf: LeafId,
    stale: bool,
    cas_won: bool,
    roles: Vec<Option<Role>>,
    delegating: bool,
    outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Cas(u64),
    Unlock(u64),
}

#[derive(Clone, Debug, Default)]
struct ComputeNode {
    cache: IndexCache,
    hotspot: HashMap<Key, (LeafId, usize)>,
    hotspot_fifo: VecDeque<Key>,
    /// Gets in flight by key: the leader's followers.
    reading: HashMap<Key, Vec<OpId>>,
}

/// CHIME's model for one memory node (see the module docs).
#[derive(Debug)]
pub struct Chime {
    cfg: ChimeConfig,
    server: HostId,
    order: KeyOrder,
    tree: Tree,
    nodes: Vec<ComputeNode>,
    locks: RemoteLocks,
    ops: HashMap<OpId, ChOp>,
    wake: Vec<OpId>,
}

fn leaf_addr(l: LeafId) -> u64 {
    LEAF_BASE + u64::from(l) * LEAF_ALLOC
}

fn leaf_lock(l: LeafId) -> u64 {
    leaf_addr(l) + LEAF_WIRE_BYTES.next_multiple_of(8)
}

fn inner_addr(i: InnerId) -> u64 {
    INNER_BASE + u64::from(i) * INNER_ALLOC
}

fn inner_lock(i: InnerId) -> u64 {
    inner_addr(i) + INNER_WIRE_BYTES.next_multiple_of(8)
}

impl Chime {
    /// A memory node on `server` with an empty tree.
    pub fn new(cfg: ChimeConfig, server: HostId, order: KeyOrder) -> Self {
        Chime {
            cfg,
            server,
            order,
            tree: Tree::new(SPAN, FANOUT, true),
            nodes: Vec::new(),
            locks: RemoteLocks::default(),
            ops: HashMap::new(),
            wake: Vec::new(),
        }
    }

    /// The tree (for tests and reports).
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    fn node(&mut self, n: u32) -> &mut ComputeNode {
        while self.nodes.len() <= n as usize {
            let bytes = (self.cfg.cache_mb - self.cfg.hotspot_mb) * 1e6;
            self.nodes.push(ComputeNode {
                cache: IndexCache::new((bytes / INNER_ALLOC as f64) as usize),
                ..Default::default()
            });
        }
        &mut self.nodes[n as usize]
    }

    fn hotspot_capacity(&self) -> usize {
        (self.cfg.hotspot_mb * 1e6 / HOTSPOT_ENTRY_BYTES) as usize
    }

    fn wr(&self, verb: Verb, c: Client, bytes: u64, addr: u64) -> VerbOp {
        let mut op = VerbOp::new(verb, c.host, self.server, bytes);
        op.qp = QpId(c.thread);
        op.remote_addr = addr;
        op.inline = verb == Verb::Write;
        op
    }

    fn issue(&mut self, id: OpId, act: Act, wrs: Vec<(Verb, u64, u64, Option<Role>)>) -> Step {
        let c = self.ops[&id].client;
        let verbs = wrs
            .iter()
            .map(|&(v, b, a, _)| self.wr(v, c, b, a))
            .collect();
        let op = self.ops.get_mut(&id).expect("op");
        op.roles = wrs.iter().map(|w| w.3).collect();
        op.current = Some(act);
        Step::Verbs(verbs)
    }

    /// Plans the way to `key`'s level-1 node when it is not cached.
    fn plan_reach(&mut self, id: OpId) {
        let op = &self.ops[&id];
        let (key, node) = (op.keys[0], op.client.node);
        let leaf = self.tree.leaf_of(key);
        let levels = self.tree.levels_above_l1();
        let n = &mut self.nodes[node as usize];
        let view = n.cache.view(&self.tree, leaf);
        let upper = n.cache.upper_cached;
        let op = self.ops.get_mut(&id).expect("op");
        if view == CacheView::Miss {
            op.plan.push_back(Act::ReadRoot);
            if !upper {
                op.plan.extend((0..levels).map(|_| Act::ReadInner));
            }
            op.plan.push_back(Act::ReadInner);
            op.plan.push_back(Act::AdmitParent);
        }
        op.plan.push_back(Act::Resolve);
    }

    /// Neighbourhood READs of `key` in `leaf`: one, or two in one doorbell when it wraps.
    fn neighbourhood(key: Key, leaf: LeafId) -> Vec<(Verb, u64, u64, Option<Role>)> {
        span_reads(hopscotch::home(key), H, leaf)
    }

    fn advance(&mut self, id: OpId) -> Step {
        loop {
            let op = self.ops.get_mut(&id).expect("op in flight");
            let Some(act) = op.plan.pop_front() else {
                let out = op.outcome;
                let (kind, key, node, delegating) =
                    (op.kind, op.keys[0], op.client.node, op.delegating);
                self.ops.remove(&id);
                if kind == OpKind::Get && delegating {
                    // The leader's read answers its followers too.
                    if let Some(f) = self.nodes[node as usize].reading.remove(&key) {
                        self.wake.extend(f);
                    }
                }
                return Step::Done(out);
            };
            let c = op.client;
            match act {
                Act::ReadRoot => {
                    return self.issue(
                        id,
                        act,
                        vec![(Verb::Read, ROOT_ENTRY_BYTES, ROOT_ADDR, None)],
                    );
                }
                Act::ReadInner => {
                    return self.issue(
                        id,
                        act,
                        vec![(Verb::Read, INNER_WIRE_BYTES, INNER_BASE, None)],
                    );
                }
                Act::AdmitParent => {
                    let leaf = self.tree.leaf_of(op.keys[0]);
                    let parent = self.tree.leaf(leaf).parent;
                    let epoch = self.tree.epoch();
                    let n = &mut self.nodes[c.node as usize];
                    n.cache.admit(parent, epoch);
                    n.cache.upper_cached = true;
                }
                Act::Resolve => {
                    let leaf = self.tree.leaf_of(op.keys[0]);
                    let view = self.nodes[c.node as usize].cache.view(&self.tree, leaf);
                    let (chosen, stale) = match view {
                        CacheView::Stale => (self.prev_leaf(leaf), true),
                        _ => (leaf, false),
                    };
                    let op = self.ops.get_mut(&id).expect("op");
                    op.leaf = chosen;
                    op.stale = stale;
                }
                Act::Delegate => {
                    let key = op.keys[0];
                    let n = &mut self.nodes[c.node as usize];
                    match n.reading.get_mut(&key) {
                        Some(followers) => {
                            followers.push(id);
                            let op = self.ops.get_mut(&id).expect("op");
                            op.plan.clear();
                            op.plan.push_back(Act::Finish);
                            op.current = None;
                            return Step::Park;
                        }
                        None => {
                            n.reading.insert(key, Vec::new());
                            op.delegating = true;
                        }
                    }
                }
                Act::Speculate(leaf, slot) => {
                    let bytes = if slot % H == 0 { 30 } else { 20 };
                    let addr = leaf_addr(leaf) + slot as u64 * ENTRY_BYTES;
                    return self.issue(id, act, vec![(Verb::Read, bytes, addr, None)]);
                }
                Act::ReadNeighbourhood => {
                    let w = Self::neighbourhood(op.keys[0], op.leaf);
                    return self.issue(id, act, w);
                }
                Act::ReadSibling => {
                    let leaf = self.tree.leaf_of(op.keys[0]);
                    let w = Self::neighbourhood(op.keys[0], leaf);
                    return self.issue(id, act, w);
                }
                Act::Cas(lock) => {
                    return self.issue(
                        id,
                        act,
                        vec![(Verb::CompareSwap, LOCK_BYTES, lock, Some(Role::Cas(lock)))],
                    );
                }
                Act::LockLeaf => {
                    let lock = leaf_lock(op.leaf);
                    return self.issue(
                        id,
                        Act::Cas(lock),
                        vec![(Verb::CompareSwap, LOCK_BYTES, lock, Some(Role::Cas(lock)))],
                    );
                }
                Act::ReadLeafSpan => {
                    let (kind, key, leaf) = (op.kind, op.keys[0], op.leaf);
                    let n = if kind == OpKind::Delete {
                        H
                    } else {
                        self.insert_span(key, leaf)
                    };
                    self.ops
                        .get_mut(&id)
                        .expect("op")
                        .plan
                        .push_front(Act::ReadSpan(n));
                }
                Act::ReadSpan(n) => {
                    let w = if n >= SPAN {
                        vec![(Verb::Read, LEAF_WIRE_BYTES, leaf_addr(op.leaf), None)]
                    } else {
                        span_reads(hopscotch::home(op.keys[0]), n, op.leaf)
                    };
                    return self.issue(id, act, w);
                }
                Act::Apply => self.apply(id),
                Act::Batch(ref wrs) => {
                    let w = wrs
                        .iter()
                        .map(|&(v, b, a, unlock)| (v, b, a, unlock.map(Role::Unlock)))
                        .collect();
                    return self.issue(id, act.clone(), w);
                }
                Act::ReadParent(p) => {
                    return self.issue(
                        id,
                        act,
                        vec![(Verb::Read, INNER_WIRE_BYTES, inner_addr(p), None)],
                    );
                }
                Act::Finish => {
                    let op = &self.ops[&id];
                    let found = match op.kind {
                        OpKind::Get | OpKind::Range | OpKind::Prefix => {
                            op.keys.iter().filter(|&&k| self.tree.contains(k)).count() as u64
                        }
                        _ => op.keys.len() as u64,
                    };
                    let (kind, key, node) = (op.kind, op.keys[0], op.client.node);
                    if kind == OpKind::Get && found == 1 && self.cfg.speculative {
                        self.remember_hot(node, key);
                    }
                    self.ops.get_mut(&id).expect("op").outcome.found = found;
                }
            }
        }
    }

    fn remember_hot(&mut self, node: u32, key: Key) {
        let leaf = self.tree.leaf_of(key);
        let Some(slot) = hopscotch::find(&self.tree.leaf(leaf).slots, key) else {
            return;
        };
        let cap = self.hotspot_capacity();
        let n = &mut self.nodes[node as usize];
        if n.hotspot.insert(key, (leaf, slot)).is_none() {
            n.hotspot_fifo.push_back(key);
            while n.hotspot.len() > cap {
                let Some(old) = n.hotspot_fifo.pop_front() else {
                    break;
                };
                n.hotspot.remove(&old);
            }
        }
    }

    fn prev_leaf(&self, leaf: LeafId) -> LeafId {
        let low = self.tree.leaf(leaf).low;
        if low == 0 {
            leaf
        } else {
            self.tree.leaf_of(low - 1)
        }
    }

    /// Under the leaf lock: change the structure and plan the WRITEs.
    fn apply(&mut self, id: OpId) {
        let op = &self.ops[&id];
        let (key, kind, leaf) = (op.keys[0], op.kind, op.leaf);
        let lock = leaf_lock(leaf);
        let mut acts = Vec::new();
        if kind == OpKind::Delete {
            self.tree.remove(key);
            acts.push(Act::Batch(vec![
                (Verb::Write, 20, leaf_addr(leaf), None),
                (Verb::Write, LOCK_BYTES, lock, Some(lock)),
            ]));
        } else {
            let e = self.tree.insert(key);
            match (e.new_leaf, e.hop) {
                (None, Some(h)) => {
                    let mut b: Vec<_> = span_reads(h.home, h.span, leaf)
                        .into_iter()
                        .map(|(_, bytes, addr, _)| (Verb::Write, bytes, addr, None))
                        .collect();
                    b.push((Verb::Write, LOCK_BYTES, lock, Some(lock)));
                    acts.push(Act::Batch(b));
                }
                (None, None) => {
                    // Already present: just release.
                    acts.push(Act::Batch(vec![(
                        Verb::Write,
                        LOCK_BYTES,
                        lock,
                        Some(lock),
                    )]));
                }
                (Some(new_leaf), _) => {
                    acts.push(Act::Batch(vec![(
                        Verb::Read,
                        LEAF_WIRE_BYTES,
                        leaf_addr(leaf),
                        None,
                    )]));
                    acts.push(Act::Batch(vec![(
                        Verb::Write,
                        LEAF_WIRE_BYTES,
                        leaf_addr(new_leaf),
                        None,
                    )]));
                    // SPLIT_WRITE_UNLATCH: the node and its lock word in one WRITE.
                    acts.push(Act::Batch(vec![(
                        Verb::Write,
                        LEAF_WIRE_BYTES + LOCK_BYTES,
                        leaf_addr(leaf),
                        Some(lock),
                    )]));
                    let parent = self.tree.leaf(e.leaf).parent;
                    let plock = inner_lock(parent);
                    acts.push(Act::Cas(plock));
                    acts.push(Act::ReadParent(parent));
                    if let Some(ni) = e.new_inner {
                        acts.push(Act::Batch(vec![(
                            Verb::Write,
                            INNER_WIRE_BYTES,
                            inner_addr(ni),
                            None,
                        )]));
                    }
                    acts.push(Act::Batch(vec![
                        (Verb::Write, INNER_WIRE_BYTES, inner_addr(parent), None),
                        (Verb::Write, LOCK_BYTES, plock, Some(plock)),
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

    /// Entries an insert reads under the lock: from the key's home to the first vacant one.
    fn insert_span(&self, key: Key, leaf: LeafId) -> usize {
        let slots = &self.tree.leaf(leaf).slots;
        let h = hopscotch::home(key);
        (0..SPAN)
            .find(|&d| slots[(h + d) % SPAN] == hopscotch::EMPTY)
            .map_or(SPAN, |d| d + 1)
    }

    /// The chosen leaf was wrong (stale parent or a concurrent split): unlock and start over.
    fn restart(&mut self, id: OpId) {
        let op = self.ops.get_mut(&id).expect("op");
        op.outcome.retries += 1;
        op.plan.clear();
        let (node, leaf, key) = (op.client.node, op.leaf, op.keys[0]);
        let lock = leaf_lock(leaf);
        let p = self.tree.leaf(self.tree.leaf_of(key)).parent;
        self.nodes[node as usize].cache.invalidate(p);
        let op = self.ops.get_mut(&id).expect("op");
        op.plan.push_back(Act::Batch(vec![(
            Verb::Write,
            LOCK_BYTES,
            lock,
            Some(lock),
        )]));
        self.plan_reach(id);
        let op = self.ops.get_mut(&id).expect("op");
        op.plan
            .extend([Act::LockLeaf, Act::ReadLeafSpan, Act::Apply]);
    }

    fn plan_range(&mut self, id: OpId) {
        let op = &self.ops[&id];
        let node = op.client.node;
        let contiguous = self.order.runs_are_contiguous();
        let (lo, hi) = (op.keys[0], *op.keys.last().expect("non-empty"));
        let leaves: Vec<LeafId> = if contiguous {
            self.tree.leaves_between(lo, hi)
        } else {
            let mut v: Vec<LeafId> = op.keys.iter().map(|&k| self.tree.leaf_of(k)).collect();
            v.sort_unstable();
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
            let n = &mut self.nodes[node as usize];
            match n.cache.view(&self.tree, l) {
                CacheView::Fresh => {}
                v => {
                    retries += u32::from(v == CacheView::Stale);
                    refreshed.push(parent);
                    acts.push(Act::ReadRoot);
                    if !n.cache.upper_cached {
                        acts.extend((0..levels).map(|_| Act::ReadInner));
                    }
                    acts.push(Act::ReadInner);
                }
            }
        }
        let epoch = self.tree.epoch();
        for p in refreshed {
            let n = &mut self.nodes[node as usize];
            n.cache.admit(p, epoch);
            n.cache.upper_cached = true;
        }
        let mut batch = Vec::new();
        for &l in &leaves {
            let leaf = self.tree.leaf(l);
            let next_low = self.tree.next_low(l);
            let covered = contiguous && leaf.low >= lo && next_low.is_some_and(|n| n - 1 <= hi);
            let segments = if covered {
                vec![(0, SPAN)]
            } else {
                let keys: Vec<Key> = self.ops[&id]
                    .keys
                    .iter()
                    .copied()
                    .filter(|&k| self.tree.leaf_of(k) == l)
                    .collect();
                hop_window_segments(&keys)
            };
            let total: u64 = segments.iter().map(|&(_, n)| segment_bytes(n)).sum();
            if covered || total >= LEAF_WIRE_BYTES {
                batch.push((Verb::Read, LEAF_WIRE_BYTES, leaf_addr(l), None));
            } else {
                for (start, n) in segments {
                    batch.push((
                        Verb::Read,
                        segment_bytes(n),
                        leaf_addr(l) + start as u64 * ENTRY_BYTES,
                        None,
                    ));
                }
            }
        }
        acts.push(Act::Batch(batch));
        acts.push(Act::Finish);
        let op = self.ops.get_mut(&id).expect("op");
        op.outcome.retries += retries;
        op.plan.extend(acts);
    }
}

/// READs of `n` entries from slot `start`, one per linear piece (two when it wraps).
fn span_reads(start: usize, n: usize, leaf: LeafId) -> Vec<(Verb, u64, u64, Option<Role>)> {
    let n = n.min(SPAN);
    let first = n.min(SPAN - start);
    let mut w = vec![(
        Verb::Read,
        segment_bytes(first),
        leaf_addr(leaf) + start as u64 * ENTRY_BYTES,
        None,
    )];
    if n > first {
        w.push((Verb::Read, segment_bytes(n - first), leaf_addr(leaf), None));
    }
    w
}

/// FINE_GRAINED + GREEDY: the union of the keys' hop windows as linear runs of slots, each
/// cut into READs of at most [`MAX_SEGMENT_ENTRIES`]: `(start slot, entries)`.
fn hop_window_segments(keys: &[Key]) -> Vec<(usize, usize)> {
    let mut marked = [false; SPAN];
    for &k in keys {
        let h = hopscotch::home(k);
        for d in 0..H {
            marked[(h + d) % SPAN] = true;
        }
    }
    let mut out = Vec::new();
    let mut s = 0;
    while s < SPAN {
        if !marked[s] {
            s += 1;
            continue;
        }
        let mut e = s;
        while e < SPAN && marked[e] {
            e += 1;
        }
        let mut at = s;
        while at < e {
            let n = (e - at).min(MAX_SEGMENT_ENTRIES);
            out.push((at, n));
            at += n;
        }
        s = e;
    }
    out
}

impl MetadataBackend for Chime {
    fn name(&self) -> &'static str {
        "chime"
    }

    fn preload(&mut self, keys: &[Key], nodes: u32) {
        for &k in keys {
            self.tree.insert(k);
        }
        let epoch = self.tree.epoch();
        let inners = self.tree.inner_count() as u32;
        for n in 0..nodes {
            let node = self.node(n);
            for i in 0..inners {
                node.cache.admit(i, epoch);
            }
            node.cache.upper_cached = true;
        }
    }

    fn start(&mut self, id: OpId, op: &MetaOp, client: Client, _now_ns: f64) -> Step {
        self.node(client.node);
        let mut keys = op.keys.clone();
        if op.kind == OpKind::Range && self.order.runs_are_contiguous() {
            keys.sort_unstable();
        }
        let key = keys[0];
        self.ops.insert(
            id,
            ChOp {
                kind: op.kind,
                keys,
                client,
                plan: VecDeque::new(),
                current: None,
                leaf: 0,
                stale: false,
                cas_won: false,
                roles: Vec::new(),
                delegating: false,
                outcome: Outcome::default(),
            },
        );
        match op.kind {
            OpKind::Get | OpKind::Prefix => {
                if self.cfg.read_delegation {
                    self.ops
                        .get_mut(&id)
                        .expect("op")
                        .plan
                        .push_back(Act::Delegate);
                }
                let hot = self
                    .cfg
                    .speculative
                    .then(|| self.nodes[client.node as usize].hotspot.get(&key).copied())
                    .flatten();
                if let Some((leaf, slot)) = hot {
                    let o = self.ops.get_mut(&id).expect("op");
                    o.plan.extend([Act::Speculate(leaf, slot), Act::Finish]);
                } else {
                    self.plan_reach(id);
                    let o = self.ops.get_mut(&id).expect("op");
                    o.plan.extend([Act::ReadNeighbourhood, Act::Finish]);
                }
            }
            OpKind::Insert | OpKind::Delete => {
                self.plan_reach(id);
                let o = self.ops.get_mut(&id).expect("op");
                o.plan
                    .extend([Act::LockLeaf, Act::ReadLeafSpan, Act::Apply]);
            }
            OpKind::Range => self.plan_range(id),
        }
        self.advance(id)
    }

    fn on_remote(&mut self, id: OpId, wr: usize, _now_ns: f64) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        match op.roles.get(wr).copied().flatten() {
            Some(Role::Cas(lock)) => op.cas_won = self.locks.cas(lock, id),
            Some(Role::Unlock(lock)) => self.locks.unlock(lock, id),
            _ => {}
        }
    }

    fn on_step_done(&mut self, id: OpId, _now_ns: f64) -> Step {
        let op = self.ops.get_mut(&id).expect("op in flight");
        match op.current.take() {
            Some(Act::Cas(lock)) if !op.cas_won => {
                op.outcome.retries += 1;
                op.plan.push_front(Act::Cas(lock));
            }
            Some(Act::Speculate(leaf, slot)) => {
                let key = op.keys[0];
                let valid = self.tree.leaf_of(key) == leaf
                    && self.tree.leaf(leaf).slots.get(slot) == Some(&key);
                if !valid {
                    op.outcome.retries += 1;
                    op.plan.clear();
                    self.nodes[op.client.node as usize].hotspot.remove(&key);
                    self.plan_reach(id);
                    let o = self.ops.get_mut(&id).expect("op");
                    o.plan.extend([Act::ReadNeighbourhood, Act::Finish]);
                }
            }
            Some(Act::ReadNeighbourhood) => {
                let key = op.keys[0];
                let moved = self.tree.leaf_of(key) != op.leaf;
                if op.stale || moved {
                    // SIBLING_BASED_VALIDATION: read the sibling's neighbourhood.
                    op.outcome.retries += 1;
                    op.plan.push_front(Act::ReadSibling);
                    let p = self.tree.leaf(self.tree.leaf_of(key)).parent;
                    self.nodes[op.client.node as usize].cache.invalidate(p);
                }
            }
            Some(Act::ReadSpan(_)) => {
                let moved = self.tree.leaf_of(op.keys[0]) != op.leaf;
                if op.stale || moved {
                    self.restart(id);
                }
            }
            Some(Act::ReadParent(p)) => {
                let (node, epoch) = (op.client.node, self.tree.epoch());
                self.nodes[node as usize].cache.admit(p, epoch);
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

    fn run_alone(c: &mut Chime, id: OpId, op: MetaOp) -> (Vec<Vec<(Verb, u64)>>, Outcome) {
        let mut steps = Vec::new();
        let mut step = c.start(id, &op, client(), 0.0);
        loop {
            match step {
                Step::Done(o) => return (steps, o),
                Step::Verbs(ref w) | Step::Parallel(ref w) => {
                    for i in 0..w.len() {
                        c.on_remote(id, i, 0.0);
                    }
                    steps.push(w.iter().map(|o| (o.verb, o.bytes)).collect());
                    step = c.on_step_done(id, 0.0);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn segment_sizes_match_dm() {
        // DM §2: a neighbourhood read ≈ 165 B; whole leaf 1316 B.
        assert_eq!(segment_bytes(8), 164);
        assert_eq!(segment_bytes(64), LEAF_WIRE_BYTES);
        assert_eq!(segment_bytes(1), 29);
        assert!(segment_bytes(34) <= 720);
    }

    #[test]
    fn warm_get_reads_one_neighbourhood_then_speculates() {
        let mut c = Chime::new(ChimeConfig::default(), HostId(1), KeyOrder::BlockId);
        c.preload(&(0..2000).collect::<Vec<_>>(), 1);
        let key = (0..2000u64)
            .find(|&k| hopscotch::home(k) + H <= SPAN)
            .unwrap();
        let (steps, o) = run_alone(&mut c, 1, MetaOp::new(OpKind::Get, vec![key]));
        assert_eq!(steps, vec![vec![(Verb::Read, 164)]]);
        assert_eq!(o.found, 1);
        // Now in the hotspot buffer: one entry.
        let (steps, o) = run_alone(&mut c, 2, MetaOp::new(OpKind::Get, vec![key]));
        assert_eq!(steps.len(), 1);
        assert!(steps[0][0].1 <= 30);
        assert_eq!(
            o,
            Outcome {
                found: 1,
                retries: 0
            }
        );
    }

    #[test]
    fn wrapping_neighbourhood_is_two_reads_in_one_doorbell() {
        let mut c = Chime::new(ChimeConfig::default(), HostId(1), KeyOrder::BlockId);
        c.preload(&(0..2000).collect::<Vec<_>>(), 1);
        let key = (0..2000u64)
            .find(|&k| hopscotch::home(k) > SPAN - H)
            .unwrap();
        let (steps, _) = run_alone(&mut c, 1, MetaOp::new(OpKind::Get, vec![key]));
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].len(), 2);
    }

    #[test]
    fn warm_insert_is_masked_cas_read_span_then_write_and_unlock() {
        let mut c = Chime::new(ChimeConfig::default(), HostId(1), KeyOrder::BlockId);
        c.preload(&(0..2000).step_by(3).collect::<Vec<_>>(), 1);
        let (steps, o) = run_alone(&mut c, 1, MetaOp::new(OpKind::Insert, vec![1000]));
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert_eq!(steps[0], vec![(Verb::CompareSwap, 8)]);
        assert!(steps[1].iter().all(|w| w.0 == Verb::Read));
        assert_eq!(steps[2].last(), Some(&(Verb::Write, 8)));
        assert_eq!(o.retries, 0);
        assert!(c.tree().contains(1000));
        assert!(c.locks.is_empty());
    }

    #[test]
    fn range_is_one_doorbell_of_segments() {
        let mut c = Chime::new(ChimeConfig::default(), HostId(1), KeyOrder::BlockId);
        c.preload(&(0..3000).collect::<Vec<_>>(), 1);
        let (steps, o) = run_alone(&mut c, 1, MetaOp::new(OpKind::Range, (100..=113).collect()));
        assert_eq!(steps.len(), 1);
        assert!(steps[0].iter().all(|w| w.0 == Verb::Read));
        let bytes: u64 = steps[0].iter().map(|w| w.1).sum();
        assert!(bytes <= 2 * LEAF_WIRE_BYTES, "{bytes}");
        assert_eq!(o.found, 14);
    }
}
