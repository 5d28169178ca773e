//! Drives a metadata backend ([`kvcsim_models::metadata`]) through the network model with
//! events, for both the metadata replay (`crate::metadata_replay`) and the cluster lifecycle.
//!
//! ```text
//!  caller ─submit(job: ops in order)─▶ node's thread pool ─free thread─▶ op ─shard─▶ sub-ops
//!                                                                           (one per server)
//!  sub-op step:  Verbs/Parallel ─post_on─▶ request ─▶ WrArrived ─respond, on_remote─▶
//!                WrResponded ─complete_on─▶ (last WR) StepDone ─on_step_done─▶ next step
//!                Rpc ─send_message─▶ RpcArrived ─receive─▶ RpcDelivered ─serve_rpc─▶
//!                ReplyReady ─send─▶ ReplyArrived ─receive(client thread)─▶ StepDone
//!                Local(ns) ─cpu_work─▶ StepDone;   Park ─(backend wakes it)─▶ on_step_done
//! ```
//!
//! Concurrency: each compute node has `client_threads` threads; a job (a request's lookups, or
//! its inserts) runs its operations one after another on one thread, and jobs wait FIFO for a
//! free thread. Each thread has its own CPU in the network model and its own QP to every
//! server; at most `nic.max_outstanding_reads` READs/atomics are outstanding per QP (the rest
//! wait, as an RNIC's initiator depth makes them). Every hand-over between hosts is an event,
//! so WRs meet the server's shared resources (NIC units, atomic units, links, the Redis event
//! loop, lock words) in arrival order.
//!
//! Deployment: `servers` metadata servers (hosts after the compute nodes), keys sharded by key
//! hash or by the hash of their request's first block (prefix root); writes go to `replicas`
//! consecutive servers, reads to one of them (round robin).

use std::collections::{HashMap, VecDeque};

use kvcsim_models::metadata::{
    Client, Key, KeyMapper, KeyOrder, MetaOp, MetadataBackend, OpId, OpKind, Outcome, Reply, Step,
    consecutive_runs, mix64,
};
use kvcsim_models::net::{HostId, NetworkModel, QpId, Train, Verb, VerbOp};

use crate::engine::{RandomStreams, SimTime};
use crate::scenario::{MetadataSetup, ShardBy};

/// Events of the metadata driver; the caller wraps them in its own event type.
#[derive(Debug, Clone, Copy)]
pub enum MetaEvent {
    /// WR `1` of sub-operation `0` reached its server.
    WrArrived(OpId, u32),
    /// The response/ACK of WR `1` of `0` reached the client's side.
    WrResponded(OpId, u32),
    /// The current step of `0` completed.
    StepDone(OpId),
    /// The RPC request of `0` reached the server's side.
    RpcArrived(OpId),
    /// The server application has the RPC request of `0`.
    RpcDelivered(OpId),
    /// The server's reply to `0` is ready to be sent.
    ReplyReady(OpId),
    /// The reply of `0` reached the client's side.
    ReplyArrived(OpId),
}

/// One operation to run, with the request's prefix root (for sharding).
#[derive(Debug, Clone)]
pub struct PlannedOp {
    /// The operation.
    pub op: MetaOp,
    /// Key of the request's first block.
    pub root: Key,
}

/// One finished operation (`metadata_ops.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpRecord {
    /// Backend name.
    pub backend: &'static str,
    /// Operation kind.
    pub op: OpKind,
    /// When a client thread started it, ns.
    pub issue_ns: u64,
    /// Start to completion, ns.
    pub latency_ns: u64,
    /// Keys it carried.
    pub keys: u64,
    /// Network round trips (steps) over all its sub-operations.
    pub round_trips: u32,
    /// Payload bytes both ways.
    pub bytes: u64,
    /// Retries (lock CAS failures, restarts, sibling hops, failed speculation).
    pub retries: u32,
    /// Keys found.
    pub found: u64,
    /// The request it belongs to.
    pub request_id: u64,
}

/// A job the driver finished: the caller's tag and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedJob {
    /// The caller's tag.
    pub tag: u64,
    /// Completion time.
    pub at: SimTime,
}

struct Job {
    tag: u64,
    request_id: u64,
    node: u32,
    ops: VecDeque<PlannedOp>,
    thread: u32,
}

struct Logical {
    job: u32,
    kind: OpKind,
    keys: u64,
    issue: SimTime,
    subs_left: u32,
    round_trips: u32,
    bytes: u64,
    outcome: Outcome,
}

struct Sub {
    logical: u32,
    server: usize,
    client: Client,
    wrs: Vec<VerbOp>,
    trains: Vec<Train>,
    pending: u32,
    done_ns: f64,
    rpc: Option<(VerbOp, VerbOp, Option<u32>)>,
    train: Train,
}

/// A READ waiting for a slot of its QP's initiator depth: (sub-op, WR, ready time ns).
type WaitingRead = (OpId, u32, f64);

#[derive(Default)]
struct Pool {
    free: Vec<u32>,
    queue: VecDeque<u32>,
}

/// The scheduling callback: the caller turns a driver event into one of its own.
pub type Schedule<'a> = dyn FnMut(SimTime, MetaEvent) + 'a;

/// Runs metadata operations of one backend deployment (see the module docs).
pub struct MetadataDriver {
    name: &'static str,
    net: NetworkModel,
    backends: Vec<Box<dyn MetadataBackend>>,
    servers: Vec<HostId>,
    shard_by: ShardBy,
    replicas: u32,
    read_depth: u32,
    mapper: KeyMapper,
    pools: Vec<Pool>,
    jobs: HashMap<u32, Job>,
    next_job: u32,
    logicals: HashMap<u32, Logical>,
    next_logical: u32,
    subs: HashMap<OpId, Sub>,
    next_sub: OpId,
    reads_in_flight: HashMap<(u32, u32), u32>,
    read_queue: HashMap<(u32, u32), VecDeque<WaitingRead>>,
    round_robin: u64,
    roots: HashMap<Key, Key>,
    record: bool,
    /// Finished operations (when recording).
    pub records: Vec<OpRecord>,
    finished: Vec<FinishedJob>,
    wakeups: Vec<OpId>,
}

fn at(ns: f64, now: SimTime) -> SimTime {
    SimTime(ns.ceil().max(0.0) as u64).max(now)
}

impl MetadataDriver {
    /// `egress` and `ingress` bulk transfers cross compute node `node`'s port now
    /// ([`NetworkModel::set_bulk_flows`]).
    pub fn set_bulk_flows(&mut self, node: u32, egress: u32, ingress: u32) {
        self.net.set_bulk_flows(HostId(node), egress, ingress);
    }

    /// A deployment of `setup`'s backend `which` serving `client_nodes` compute nodes (hosts
    /// `0..client_nodes`); servers are the hosts after them. `record`: keep per-op records.
    pub fn new(
        setup: &MetadataSetup,
        which: usize,
        client_nodes: u32,
        seed: u64,
        record: bool,
    ) -> Self {
        let (cfg, profile) = &setup.backends[which];
        let servers: Vec<HostId> = (0..setup.servers)
            .map(|s| HostId(client_nodes + s))
            .collect();
        // The network's variability draws from its own stream of the run (per backend, so
        // adding a backend never shifts another's draws).
        let rng = RandomStreams::new(seed).stream(&format!("metadata/{which}/net"));
        let mut net = NetworkModel::seeded(profile.clone(), client_nodes + setup.servers, rng);
        for n in 0..client_nodes {
            for t in 0..setup.client_threads {
                net.warm_qp(HostId(n), QpId(t));
            }
        }
        let backends = servers
            .iter()
            .map(|&h| cfg.build(h, setup.key_order))
            .collect::<Vec<_>>();
        let pools = (0..client_nodes)
            .map(|_| Pool {
                free: (0..setup.client_threads).rev().collect(),
                queue: VecDeque::new(),
            })
            .collect();
        MetadataDriver {
            name: backends[0].name(),
            read_depth: profile.nic.max_outstanding_reads,
            net,
            backends,
            servers,
            shard_by: setup.shard_by,
            replicas: setup.replicas,
            mapper: KeyMapper::new(setup.key_order),
            pools,
            jobs: HashMap::new(),
            next_job: 0,
            logicals: HashMap::new(),
            next_logical: 0,
            subs: HashMap::new(),
            next_sub: 0,
            reads_in_flight: HashMap::new(),
            read_queue: HashMap::new(),
            round_robin: 0,
            roots: HashMap::new(),
            record,
            records: Vec::new(),
            finished: Vec::new(),
            wakeups: Vec::new(),
        }
    }

    /// Backend name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The key order.
    pub fn key_order(&self) -> KeyOrder {
        self.mapper.order()
    }

    /// Keys stored over all servers.
    pub fn keys_stored(&self) -> u64 {
        self.backends.iter().map(|b| b.keys_stored()).sum()
    }

    /// Loads `blocks` into every server without simulating (benchmarks), warming the caches of
    /// `nodes` compute nodes.
    pub fn preload(&mut self, blocks: &[u64], nodes: u32) {
        let keys = self.mapper.keys_of_request(blocks);
        let n = self.servers.len() as u64;
        let mut per: Vec<Vec<Key>> = vec![Vec::new(); self.servers.len()];
        for &k in &keys {
            let s = (mix64(self.roots.get(&k).copied().unwrap_or(k)) % n) as usize;
            for r in 0..u64::from(self.replicas) {
                per[((s as u64 + r) % n) as usize].push(k);
            }
        }
        for (b, ks) in self.backends.iter_mut().zip(per) {
            b.preload(&ks, nodes);
        }
    }

    /// The lookup operations of a request's `blocks`.
    pub fn plan_lookup(&mut self, blocks: &[u64]) -> Vec<PlannedOp> {
        if blocks.is_empty() {
            return Vec::new();
        }
        let keys = self.mapper.keys_of_request(blocks);
        let runs = consecutive_runs(blocks);
        let root = keys[0];
        self.backends[0]
            .plan_lookup(&keys, &runs)
            .into_iter()
            .map(|op| PlannedOp { op, root })
            .collect()
    }

    /// The insert operations of a request's new `blocks`; `first` is the request's first block.
    pub fn plan_insert(&mut self, first: u64, blocks: &[u64]) -> Vec<PlannedOp> {
        if blocks.is_empty() {
            return Vec::new();
        }
        let root = self.mapper.keys_of_request(&[first])[0];
        let keys: Vec<Key> = blocks
            .iter()
            .map(|&b| {
                self.mapper
                    .key_of(b)
                    .unwrap_or_else(|| self.mapper.keys_of_request(&[b])[0])
            })
            .collect();
        for &k in &keys {
            self.roots.insert(k, root);
        }
        self.backends[0]
            .plan_insert(&keys)
            .into_iter()
            .map(|op| PlannedOp { op, root })
            .collect()
    }

    /// The delete operations of evicted `blocks` (grouped by prefix root for sharding).
    pub fn plan_delete(&mut self, blocks: &[u64]) -> Vec<PlannedOp> {
        let mut by_root: Vec<(Key, Vec<Key>)> = Vec::new();
        for &b in blocks {
            let Some(k) = self.mapper.key_of(b) else {
                continue;
            };
            let root = self.roots.get(&k).copied().unwrap_or(k);
            match by_root.iter_mut().find(|(r, _)| *r == root) {
                Some((_, v)) => v.push(k),
                None => by_root.push((root, vec![k])),
            }
        }
        let mut out = Vec::new();
        for (root, keys) in by_root {
            for op in self.backends[0].plan_delete(&keys) {
                out.push(PlannedOp { op, root });
            }
        }
        out
    }

    /// Jobs finished since the last call.
    pub fn take_finished(&mut self) -> Vec<FinishedJob> {
        std::mem::take(&mut self.finished)
    }

    /// Submits a job: `ops` run one after another on one thread of compute node `node`.
    pub fn submit(
        &mut self,
        now: SimTime,
        node: u32,
        tag: u64,
        request_id: u64,
        ops: Vec<PlannedOp>,
        sched: &mut Schedule<'_>,
    ) {
        if ops.is_empty() {
            self.finished.push(FinishedJob { tag, at: now });
            return;
        }
        let id = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            id,
            Job {
                tag,
                request_id,
                node,
                ops: ops.into(),
                thread: 0,
            },
        );
        let pool = &mut self.pools[node as usize];
        match pool.free.pop() {
            Some(t) => {
                self.jobs.get_mut(&id).expect("job").thread = t;
                self.next_op(id, now, sched);
            }
            None => pool.queue.push_back(id),
        }
    }

    /// Starts the job's next operation, or ends the job and gives its thread to the next one.
    fn next_op(&mut self, job: u32, now: SimTime, sched: &mut Schedule<'_>) {
        let j = self.jobs.get_mut(&job).expect("job");
        let Some(planned) = j.ops.pop_front() else {
            let j = self.jobs.remove(&job).expect("job");
            self.finished.push(FinishedJob {
                tag: j.tag,
                at: now,
            });
            let pool = &mut self.pools[j.node as usize];
            match pool.queue.pop_front() {
                Some(next) => {
                    self.jobs.get_mut(&next).expect("job").thread = j.thread;
                    self.next_op(next, now, sched);
                }
                None => pool.free.push(j.thread),
            }
            return;
        };
        let client = Client {
            node: j.node,
            host: HostId(j.node),
            thread: j.thread,
        };
        let subs = self.shard(&planned);
        let lid = self.next_logical;
        self.next_logical += 1;
        self.logicals.insert(
            lid,
            Logical {
                job,
                kind: planned.op.kind,
                keys: planned.op.keys.len() as u64,
                issue: now,
                subs_left: subs.len() as u32,
                round_trips: 0,
                bytes: 0,
                outcome: Outcome::default(),
            },
        );
        for (server, op) in subs {
            let id = self.next_sub;
            self.next_sub += 1;
            self.subs.insert(
                id,
                Sub {
                    logical: lid,
                    server,
                    client,
                    wrs: Vec::new(),
                    trains: Vec::new(),
                    pending: 0,
                    done_ns: 0.0,
                    rpc: None,
                    train: Train::at(0.0),
                },
            );
            let step = self.backends[server].start(id, &op, client, now.as_nanos() as f64);
            self.drive(id, step, now, sched);
        }
    }

    /// The sub-operations of `p`: (server, operation).
    fn shard(&mut self, p: &PlannedOp) -> Vec<(usize, MetaOp)> {
        let n = self.servers.len() as u64;
        if n == 1 {
            return vec![(0, p.op.clone())];
        }
        let mut groups: Vec<(u64, Vec<Key>)> = Vec::new();
        for &k in &p.op.keys {
            let s = match self.shard_by {
                ShardBy::Key => mix64(k) % n,
                ShardBy::PrefixRoot => mix64(p.root) % n,
            };
            match groups.iter_mut().find(|(g, _)| *g == s) {
                Some((_, v)) => v.push(k),
                None => groups.push((s, vec![k])),
            }
        }
        let replicas = u64::from(self.replicas);
        let mut out = Vec::new();
        for (s, keys) in groups {
            let op = MetaOp::new(p.op.kind, keys);
            if p.op.kind.is_write() {
                for r in 0..replicas {
                    out.push((((s + r) % n) as usize, op.clone()));
                }
            } else {
                self.round_robin += 1;
                out.push((((s + self.round_robin % replicas) % n) as usize, op));
            }
        }
        out
    }

    /// Carries out `step` of sub-operation `id` at `now`, then any wake-ups it caused.
    fn drive(&mut self, id: OpId, step: Step, now: SimTime, sched: &mut Schedule<'_>) {
        self.drive_one(id, step, now, sched);
        loop {
            let mut woken = std::mem::take(&mut self.wakeups);
            for b in &mut self.backends {
                b.take_wakeups(&mut woken);
            }
            if woken.is_empty() {
                self.wakeups = woken;
                break;
            }
            for &w in &woken {
                let server = self.subs[&w].server;
                let step = self.backends[server].on_step_done(w, now.as_nanos() as f64);
                self.drive_one(w, step, now, sched);
            }
            woken.clear();
            self.wakeups = woken;
        }
    }

    fn drive_one(&mut self, id: OpId, step: Step, now: SimTime, sched: &mut Schedule<'_>) {
        let now_ns = now.as_nanos() as f64;
        let sub = self.subs.get_mut(&id).expect("sub-op");
        let (host, thread) = (sub.client.host, sub.client.thread);
        let l = self.logicals.get_mut(&sub.logical).expect("logical op");
        match step {
            Step::Verbs(wrs) | Step::Parallel(wrs) if wrs.is_empty() => {
                sched(now, MetaEvent::StepDone(id));
            }
            Step::Verbs(wrs) => {
                l.round_trips += 1;
                l.bytes += wrs.iter().map(|w| w.bytes).sum::<u64>();
                let at_nic = self.net.post_on(now_ns, host, thread, &wrs);
                self.start_wrs(id, wrs, &[at_nic], sched, now);
            }
            Step::Parallel(wrs) => {
                l.round_trips += 1;
                l.bytes += wrs.iter().map(|w| w.bytes).sum::<u64>();
                let at_nic: Vec<f64> = wrs
                    .iter()
                    .map(|w| {
                        self.net
                            .post_on(now_ns, host, thread, std::slice::from_ref(w))
                    })
                    .collect();
                self.start_wrs(id, wrs, &at_nic, sched, now);
            }
            Step::Rpc(rpc) => {
                l.round_trips += 1;
                l.bytes += rpc.request_bytes + rpc.response_bytes;
                let mut req = VerbOp::new(Verb::Send, host, rpc.server, rpc.request_bytes);
                req.qp = QpId(thread);
                let mut rep = VerbOp::new(Verb::Send, rpc.server, host, rpc.response_bytes);
                rep.qp = QpId(thread);
                let train = self.net.send_message(now_ns, &req, thread);
                let sub = self.subs.get_mut(&id).expect("sub-op");
                sub.rpc = Some((req, rep, None));
                sub.train = train;
                sched(at(train.head_ns, now), MetaEvent::RpcArrived(id));
            }
            Step::Local(ns) => {
                let t = self.net.cpu_work(now_ns, host, thread, ns);
                sched(at(t, now), MetaEvent::StepDone(id));
            }
            Step::Park => {}
            Step::Done(outcome) => self.sub_done(id, outcome, now, sched),
        }
    }

    fn start_wrs(
        &mut self,
        id: OpId,
        wrs: Vec<VerbOp>,
        at_nic: &[f64],
        sched: &mut Schedule<'_>,
        now: SimTime,
    ) {
        let n = wrs.len();
        let sub = self.subs.get_mut(&id).expect("sub-op");
        sub.trains = vec![Train::at(0.0); n];
        sub.pending = n as u32;
        sub.done_ns = 0.0;
        sub.wrs = wrs;
        for i in 0..n {
            let ready = at_nic[i.min(at_nic.len() - 1)];
            self.issue_wr(id, i as u32, ready, sched, now);
        }
    }

    /// The requester NIC starts WR `wr` of `id` when its QP has room for another READ.
    fn issue_wr(&mut self, id: OpId, wr: u32, ready: f64, sched: &mut Schedule<'_>, now: SimTime) {
        let op = self.subs[&id].wrs[wr as usize];
        if !op.verb.carries_payload() {
            let key = (op.requester.0, op.qp.0);
            let n = self.reads_in_flight.entry(key).or_insert(0);
            if *n >= self.read_depth {
                self.read_queue
                    .entry(key)
                    .or_default()
                    .push_back((id, wr, ready));
                return;
            }
            *n += 1;
        }
        let train = self.net.request(ready, &op);
        self.subs.get_mut(&id).expect("sub-op").trains[wr as usize] = train;
        sched(at(train.head_ns, now), MetaEvent::WrArrived(id, wr));
    }

    /// Handles one driver event.
    pub fn handle(&mut self, now: SimTime, ev: MetaEvent, sched: &mut Schedule<'_>) {
        let now_ns = now.as_nanos() as f64;
        match ev {
            MetaEvent::WrArrived(id, wr) => {
                let sub = &self.subs[&id];
                let (op, train, server) =
                    (sub.wrs[wr as usize], sub.trains[wr as usize], sub.server);
                let r = self.net.respond(train, &op);
                self.backends[server].on_remote(id, wr as usize, now_ns);
                self.subs.get_mut(&id).expect("sub-op").trains[wr as usize] = r.response;
                sched(at(r.response.head_ns, now), MetaEvent::WrResponded(id, wr));
            }
            MetaEvent::WrResponded(id, wr) => {
                let sub = &self.subs[&id];
                let (op, train, thread) = (
                    sub.wrs[wr as usize],
                    sub.trains[wr as usize],
                    sub.client.thread,
                );
                let done = self.net.complete_on(train, &op, thread);
                if !op.verb.carries_payload() {
                    let key = (op.requester.0, op.qp.0);
                    match self.read_queue.get_mut(&key).and_then(VecDeque::pop_front) {
                        Some((next, w, ready)) => {
                            let nop = self.subs[&next].wrs[w as usize];
                            let train = self.net.request(ready.max(now_ns), &nop);
                            self.subs.get_mut(&next).expect("sub-op").trains[w as usize] = train;
                            sched(at(train.head_ns, now), MetaEvent::WrArrived(next, w));
                        }
                        None => {
                            *self.reads_in_flight.get_mut(&key).expect("counted") -= 1;
                        }
                    }
                }
                let sub = self.subs.get_mut(&id).expect("sub-op");
                sub.pending -= 1;
                sub.done_ns = sub.done_ns.max(done);
                if sub.pending == 0 {
                    sched(at(sub.done_ns, now), MetaEvent::StepDone(id));
                }
            }
            MetaEvent::StepDone(id) => {
                let server = self.subs[&id].server;
                let step = self.backends[server].on_step_done(id, now_ns);
                self.drive(id, step, now, sched);
            }
            MetaEvent::RpcArrived(id) => {
                let sub = &self.subs[&id];
                let (req, _, _) = sub.rpc.expect("rpc");
                let d = self.net.receive_message(sub.train, &req, None);
                sched(at(d, now), MetaEvent::RpcDelivered(id));
            }
            MetaEvent::RpcDelivered(id) => {
                let server = self.subs[&id].server;
                let Reply {
                    ready_ns,
                    post_thread,
                } = self.backends[server].serve_rpc(id, now_ns);
                let sub = self.subs.get_mut(&id).expect("sub-op");
                if let Some(r) = sub.rpc.as_mut() {
                    r.2 = post_thread;
                }
                sched(at(ready_ns, now), MetaEvent::ReplyReady(id));
            }
            MetaEvent::ReplyReady(id) => {
                let (_, rep, post) = self.subs[&id].rpc.expect("rpc");
                let train = match post {
                    Some(t) => self.net.send_message(now_ns, &rep, t),
                    None => {
                        let at_nic = now_ns + self.net.profile().pcie.latency_ns;
                        self.net.request(at_nic, &rep)
                    }
                };
                self.subs.get_mut(&id).expect("sub-op").train = train;
                sched(at(train.head_ns, now), MetaEvent::ReplyArrived(id));
            }
            MetaEvent::ReplyArrived(id) => {
                let sub = &self.subs[&id];
                let (_, rep, _) = sub.rpc.expect("rpc");
                let d = self
                    .net
                    .receive_message(sub.train, &rep, Some(sub.client.thread));
                sched(at(d, now), MetaEvent::StepDone(id));
            }
        }
    }

    fn sub_done(&mut self, id: OpId, outcome: Outcome, now: SimTime, sched: &mut Schedule<'_>) {
        let sub = self.subs.remove(&id).expect("sub-op");
        let l = self.logicals.get_mut(&sub.logical).expect("logical op");
        l.outcome.found += outcome.found;
        l.outcome.retries += outcome.retries;
        l.subs_left -= 1;
        if l.subs_left > 0 {
            return;
        }
        let l = self.logicals.remove(&sub.logical).expect("logical op");
        if self.record {
            let request_id = self.jobs[&l.job].request_id;
            let found = if l.kind.is_write() {
                l.keys
            } else {
                l.outcome.found
            };
            self.records.push(OpRecord {
                backend: self.name,
                op: l.kind,
                issue_ns: l.issue.as_nanos(),
                latency_ns: (now - l.issue).as_nanos(),
                keys: l.keys,
                round_trips: l.round_trips,
                bytes: l.bytes,
                retries: l.outcome.retries,
                found,
                request_id,
            });
        }
        self.next_op(l.job, now, sched);
    }
}
