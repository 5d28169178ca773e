//! The metadata service in the cluster lifecycle: the prefix lookup, block inserts and
//! evictions become timed operations of a [`MetadataDriver`].
//!
//! ```text
//!  RequestArrived ─route─▶ lookup job on the instance's compute node:
//!                          one lookup per prompt chunk (chunked prefill) or per request,
//!                          back to back on one client thread ──▶ LookupReplied
//!                          (metadata_ns = arrival → reply; it is part of queue_ns and TTFT)
//!  last prefill chunk ──▶ insert job: the blocks this instance computed (not waited for)
//!  admission evicts   ──▶ delete job: the evicted blocks (not waited for)
//! ```
//!
//! Without a configured backend nothing here runs and the lookup takes zero time: the
//! lifecycle is the same either way. Each instance is one compute node (host `i`); the metadata servers are the hosts
//! after them. The store's contents only shape its costs (tree structure, caches, locks); which
//! blocks hit is still decided by the instance's own cache.

use kvcsim_models::cache::BlockId;
use kvcsim_models::scheduler::SeqId;

use super::metadata_driver::{MetaEvent, MetadataDriver, PlannedOp};
use super::{Event, InstanceId, World};
use crate::engine::{Engine, SimDuration};
use crate::scenario::{Mode, Scenario};

/// Metadata writes the lifecycle decided, issued once the instance is no longer borrowed.
#[derive(Debug, Clone)]
pub enum MetaWork {
    /// A request's prompt blocks after its HBM prefix are now cached on its instance: insert
    /// them.
    Insert {
        /// The instance (compute node).
        node: InstanceId,
        /// The request (trace position).
        request_id: u64,
        /// The chain's first block (the key the backends shard and order by).
        first: BlockId,
        /// The blocks to insert.
        blocks: Vec<BlockId>,
    },
    /// An instance evicted blocks making room for a request: delete them.
    Delete {
        /// The instance.
        node: InstanceId,
        /// The request (trace position) that needed the room.
        request_id: u64,
        /// The evicted blocks.
        blocks: Vec<BlockId>,
    },
}

/// Tags of jobs that no request waits for.
const BACKGROUND: u64 = 1 << 63;

/// A cluster's metadata service.
pub struct ClusterMetadata {
    driver: MetadataDriver,
    /// Blocks per lookup (one lookup per prefill chunk), or `None`: one lookup per request.
    chunk_blocks: Option<usize>,
}

impl ClusterMetadata {
    /// The service of `scenario`, if it configures one.
    pub fn new(scenario: &Scenario) -> Option<Self> {
        let setup = scenario.metadata.as_ref()?;
        if scenario.mode != Mode::Cluster {
            return None;
        }
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
        Some(ClusterMetadata {
            driver,
            chunk_blocks,
        })
    }

    /// The recorded operations (when `metadata.record_ops`).
    pub fn into_records(self) -> Vec<super::metadata_driver::OpRecord> {
        self.driver.records
    }
}

impl World<'_> {
    /// Starts request `r`'s prefix lookup: zero time without a metadata service.
    pub(super) fn begin_lookup(&mut self, engine: &mut Engine<Event>, r: SeqId) {
        let Some(m) = self.metadata.as_mut() else {
            engine.schedule_in(SimDuration::ZERO, Event::LookupReplied(r));
            return;
        };
        let req = &self.reqs[r];
        let blocks: Vec<u64> = req.blocks.iter().map(|b| b.0).collect();
        let mut ops: Vec<PlannedOp> = Vec::new();
        match m.chunk_blocks {
            Some(n) => {
                for chunk in blocks.chunks(n) {
                    ops.extend(m.driver.plan_lookup(chunk));
                }
            }
            None => ops = m.driver.plan_lookup(&blocks),
        }
        let (node, id) = (req.instance.0, req.id);
        let now = engine.now();
        m.driver
            .submit(now, node, u64::from(r.0), id, ops, &mut |t, e| {
                engine.schedule_at(t, Event::Metadata(e));
            });
        self.drain_metadata(engine);
    }

    /// Issues the inserts and deletes decided since the last call.
    pub(super) fn flush_metadata(&mut self, engine: &mut Engine<Event>) {
        if self.meta_pending.is_empty() {
            return;
        }
        for w in std::mem::take(&mut self.meta_pending) {
            match w {
                MetaWork::Insert {
                    node,
                    request_id,
                    first,
                    blocks,
                } => self.metadata_insert(engine, node, request_id, first, &blocks),
                MetaWork::Delete {
                    node,
                    request_id,
                    blocks,
                } => self.metadata_delete(engine, node, request_id, &blocks),
            }
        }
    }

    /// Blocks now cached on instance `node` for request `request_id`: insert them.
    fn metadata_insert(
        &mut self,
        engine: &mut Engine<Event>,
        node: InstanceId,
        request_id: u64,
        first: BlockId,
        blocks: &[BlockId],
    ) {
        let Some(m) = self.metadata.as_mut() else {
            return;
        };
        let new: Vec<u64> = blocks.iter().map(|b| b.0).collect();
        let ops = m.driver.plan_insert(first.0, &new);
        let now = engine.now();
        m.driver
            .submit(now, node.0, BACKGROUND, request_id, ops, &mut |t, e| {
                engine.schedule_at(t, Event::Metadata(e));
            });
        self.drain_metadata(engine);
    }

    /// Instance `i` evicted `blocks` making room for request `request_id`: delete them.
    fn metadata_delete(
        &mut self,
        engine: &mut Engine<Event>,
        i: InstanceId,
        request_id: u64,
        blocks: &[BlockId],
    ) {
        let Some(m) = self.metadata.as_mut() else {
            return;
        };
        if blocks.is_empty() {
            return;
        }
        let ids: Vec<u64> = blocks.iter().map(|b| b.0).collect();
        let ops = m.driver.plan_delete(&ids);
        let now = engine.now();
        m.driver
            .submit(now, i.0, BACKGROUND, request_id, ops, &mut |t, e| {
                engine.schedule_at(t, Event::Metadata(e));
            });
        self.drain_metadata(engine);
    }

    /// A metadata event.
    pub(super) fn on_metadata(&mut self, engine: &mut Engine<Event>, e: MetaEvent) {
        let m = self
            .metadata
            .as_mut()
            .expect("metadata events need a service");
        let now = engine.now();
        m.driver.handle(now, e, &mut |t, e| {
            engine.schedule_at(t, Event::Metadata(e));
        });
        self.drain_metadata(engine);
    }

    /// Lookups that finished become `LookupReplied` now.
    fn drain_metadata(&mut self, engine: &mut Engine<Event>) {
        let Some(m) = self.metadata.as_mut() else {
            return;
        };
        for f in m.driver.take_finished() {
            if f.tag & BACKGROUND != 0 {
                continue;
            }
            let r = SeqId(f.tag as u32);
            let req = &mut self.reqs[r];
            req.metadata_ns = f.at.saturating_since(req.arrival).as_nanos();
            engine.schedule_at(f.at.max(engine.now()), Event::LookupReplied(r));
        }
    }
}
