//! The prefix lookup in the cluster lifecycle, behind one [`LookupService`] interface: zero
//! time ([`Instant`]), or the timed operations of a metadata service ([`Timed`], a
//! [`MetadataDriver`] on the RDMA model). The lifecycle has one path whatever the backend.
//!
//! ```text
//!  RequestArrived ─route─▶ lookup on the instance's compute node:
//!                          one lookup per prompt chunk (chunked prefill) or per request,
//!                          back to back on one client thread ──▶ reply ──▶ LookupReplied
//!                          (metadata_ns = arrival → reply; it is part of queue_ns and TTFT)
//!  last prefill chunk ──▶ stored: insert the blocks this instance cached (not waited for)
//!  allocation evicts  ──▶ evicted: delete the blocks (not waited for)
//! ```
//!
//! A service never touches the engine: it keeps the steps it wants timed and the replies that
//! are ready until the world drains them after each event ([`World::pump_lookups`]). With the
//! timed service each instance is one compute node (host `i`); the metadata servers are the
//! hosts after them. The store's contents only shape its costs (tree structure, caches, locks);
//! which blocks hit is still decided by the instance's own cache.

use kvcsim_models::cache::BlockId;
use kvcsim_models::scheduler::SeqId;

use super::metadata_driver::{MetaEvent, MetadataDriver, OpRecord, PlannedOp};
use super::{Event, InstanceId, World};
use crate::engine::{Engine, SimTime};
use crate::scenario::{Mode, Scenario};

/// Where a request's prefix lookup, and the writes that follow, go.
pub trait LookupService: Send {
    /// Starts the lookup of request `r` (trace position `request_id`) arriving at `node`.
    fn lookup(
        &mut self,
        now: SimTime,
        node: InstanceId,
        r: SeqId,
        request_id: u64,
        chain: &[BlockId],
    );
    /// `node` now caches `blocks`, the part after `chain[0]`'s prefix it already had.
    fn stored(
        &mut self,
        now: SimTime,
        node: InstanceId,
        request_id: u64,
        first: BlockId,
        blocks: &[BlockId],
    );
    /// `node` evicted `blocks` making room for request `request_id`.
    fn evicted(&mut self, now: SimTime, node: InstanceId, request_id: u64, blocks: &[BlockId]);
    /// One of its timed steps is due.
    fn on_event(&mut self, now: SimTime, event: MetaEvent);
    /// Moves the steps to schedule and the replies ready (request, time) into the lists.
    fn drain(&mut self, steps: &mut Vec<(SimTime, MetaEvent)>, replies: &mut Vec<(SeqId, SimTime)>);
    /// Hands the operations finished since the last call to `out` (recorded only when
    /// `metadata.record_ops`).
    fn drain_ops(&mut self, out: &mut dyn FnMut(&OpRecord));
    /// `egress` and `ingress` bulk KV transfers now cross `node`'s NIC port (the one its
    /// metadata traffic uses): its messages get their fair share of the link beside them.
    fn bulk_flows(&mut self, _node: InstanceId, _egress: u32, _ingress: u32) {}
}

/// The service of `scenario`: timed if it configures a metadata backend, else instant.
pub fn build(scenario: &Scenario) -> Box<dyn LookupService> {
    match &scenario.metadata {
        Some(setup) if scenario.mode == Mode::Cluster => {
            let driver = MetadataDriver::new(
                setup,
                0,
                scenario.instances,
                scenario.seed,
                setup.record_ops,
            );
            let sched = &scenario.scheduler;
            let chunk_blocks = (sched.chunked_prefill && setup.lookup_per_chunk).then(|| {
                (sched.max_batch_tokens / u64::from(scenario.workload.block_size)).max(1) as usize
            });
            Box::new(Timed {
                driver,
                chunk_blocks,
                steps: Vec::new(),
            })
        }
        _ => Box::new(Instant::default()),
    }
}

/// Lookups answered at once; writes cost nothing.
#[derive(Debug, Default)]
pub struct Instant {
    replies: Vec<(SeqId, SimTime)>,
}

impl LookupService for Instant {
    fn lookup(&mut self, now: SimTime, _: InstanceId, r: SeqId, _: u64, _: &[BlockId]) {
        self.replies.push((r, now));
    }
    fn stored(&mut self, _: SimTime, _: InstanceId, _: u64, _: BlockId, _: &[BlockId]) {}
    fn evicted(&mut self, _: SimTime, _: InstanceId, _: u64, _: &[BlockId]) {}
    fn on_event(&mut self, _: SimTime, _: MetaEvent) {
        unreachable!("an instant lookup service schedules no steps")
    }
    fn drain(&mut self, _: &mut Vec<(SimTime, MetaEvent)>, replies: &mut Vec<(SeqId, SimTime)>) {
        replies.append(&mut self.replies);
    }
    fn drain_ops(&mut self, _: &mut dyn FnMut(&OpRecord)) {}
}

/// Jobs no request waits for (inserts, deletes) carry this tag; a lookup's tag is its slot.
const BACKGROUND: u64 = 1 << 63;

/// A metadata service's timed operations.
pub struct Timed {
    driver: MetadataDriver,
    /// Blocks per lookup (one lookup per prefill chunk), or `None`: one lookup per request.
    chunk_blocks: Option<usize>,
    steps: Vec<(SimTime, MetaEvent)>,
}

impl Timed {
    fn submit(
        &mut self,
        now: SimTime,
        node: InstanceId,
        tag: u64,
        request_id: u64,
        ops: Vec<PlannedOp>,
    ) {
        let steps = &mut self.steps;
        self.driver
            .submit(now, node.0, tag, request_id, ops, &mut |t, e| {
                steps.push((t, e))
            });
    }
}

impl LookupService for Timed {
    fn lookup(
        &mut self,
        now: SimTime,
        node: InstanceId,
        r: SeqId,
        request_id: u64,
        chain: &[BlockId],
    ) {
        let blocks: Vec<u64> = chain.iter().map(|b| b.0).collect();
        let ops = match self.chunk_blocks {
            Some(n) => blocks
                .chunks(n)
                .flat_map(|chunk| self.driver.plan_lookup(chunk))
                .collect(),
            None => self.driver.plan_lookup(&blocks),
        };
        self.submit(now, node, u64::from(r.0), request_id, ops);
    }

    fn stored(
        &mut self,
        now: SimTime,
        node: InstanceId,
        request_id: u64,
        first: BlockId,
        blocks: &[BlockId],
    ) {
        let new: Vec<u64> = blocks.iter().map(|b| b.0).collect();
        let ops = self.driver.plan_insert(first.0, &new);
        self.submit(now, node, BACKGROUND, request_id, ops);
    }

    fn evicted(&mut self, now: SimTime, node: InstanceId, request_id: u64, blocks: &[BlockId]) {
        if blocks.is_empty() {
            return;
        }
        let ids: Vec<u64> = blocks.iter().map(|b| b.0).collect();
        let ops = self.driver.plan_delete(&ids);
        self.submit(now, node, BACKGROUND, request_id, ops);
    }

    fn on_event(&mut self, now: SimTime, event: MetaEvent) {
        let steps = &mut self.steps;
        self.driver
            .handle(now, event, &mut |t, e| steps.push((t, e)));
    }

    fn drain(
        &mut self,
        steps: &mut Vec<(SimTime, MetaEvent)>,
        replies: &mut Vec<(SeqId, SimTime)>,
    ) {
        steps.append(&mut self.steps);
        replies.extend(
            self.driver
                .take_finished()
                .into_iter()
                .filter(|f| f.tag & BACKGROUND == 0)
                .map(|f| (SeqId(f.tag as u32), f.at)),
        );
    }

    fn drain_ops(&mut self, out: &mut dyn FnMut(&OpRecord)) {
        for op in self.driver.records.drain(..) {
            out(&op);
        }
    }

    fn bulk_flows(&mut self, node: InstanceId, egress: u32, ingress: u32) {
        self.driver.set_bulk_flows(node.0, egress, ingress);
    }
}

impl World<'_> {
    /// Schedules the lookup service's steps and turns its replies into `LookupReplied`.
    pub(super) fn pump_lookups(&mut self, engine: &mut Engine<Event>) {
        self.lookup
            .drain(&mut self.lookup_steps, &mut self.lookup_replies);
        let sink = &mut *self.sink;
        self.lookup.drain_ops(&mut |op| sink.metadata_op(op));
        for (t, e) in self.lookup_steps.drain(..) {
            engine.schedule_at(t, Event::Metadata(e));
        }
        for (r, at) in self.lookup_replies.drain(..) {
            let req = &mut self.reqs[r];
            req.metadata_ns = at.saturating_since(req.arrival).as_nanos();
            engine.schedule_at(at.max(engine.now()), Event::LookupReplied(r));
        }
    }
}
