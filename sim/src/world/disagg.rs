//! Disaggregated prefill and decode: the hand-off of a request from the prefill instance that
//! computed its prompt to a decode instance, and its KV's transfer over the fabric.
//!
//! ```text
//!  prefill instance: last chunk ─▶ first token (TTFT) ─▶ leaves its running set, keeps its KV
//!        │ decode queue (FIFO; waits while no decode instance has room: counted)
//!        ▼ DecodeSelection over the decode instances that can reserve the KV now
//!  decode instance: cached prefix pinned, the rest reserved as private blocks
//!        │ Fabric: one max-min fair flow per (prefill rank, decode rank) over NIC, leaf, spine
//!        ▼ last flow delivered
//!  prefill instance frees the KV; the decode instance caches the prompt's blocks and the
//!  request joins its decode batch at the next iteration (the transfer delays the 2nd token)
//! ```
//!
//! What crosses the fabric is the KV of the prompt tokens the decode instance does not cache:
//! `(input_tokens - cached_blocks x block_size) x kv_bytes_per_token` (all layers and heads;
//! each rank ships its heads' share). The decode instance reserves the KV of the whole prompt,
//! `ceil(input_tokens / block_size)` blocks, before the transfer starts (as Mooncake's and
//! vLLM's `NixlConnector` allocate on the decode side first).

use std::collections::VecDeque;

use kvcsim_models::decode_select::{DecodeCandidate, DecodeSelection};
use kvcsim_models::net::{Delivered, Fabric};
use kvcsim_models::scheduler::SeqId;

use super::request::{Owed, Phase};
use super::{Event, InstanceId, World};
use crate::engine::{Engine, EventId, SimTime};
use crate::records::TransferRecord;

/// The hand-off's state: the fabric, the decode queue, the pending fabric event.
pub(super) struct Disagg {
    pub(super) fabric: Fabric,
    selection: DecodeSelection,
    /// Decode instances, in order.
    decoders: Vec<InstanceId>,
    /// Requests waiting for room on a decode instance, first come first served.
    queue: VecDeque<SeqId>,
    /// KV bytes of one token, all layers and heads.
    kv_bytes_per_token: u64,
    candidates: Vec<DecodeCandidate>,
    delivered: Vec<Delivered>,
    /// The pending fabric event and its time.
    event: Option<(EventId, SimTime)>,
    /// Per instance: NIC bytes sent and received up to the last time-series row.
    pub(super) reported_bytes: Vec<(f64, f64)>,
    /// Whether the metadata service shares the first NIC of each instance.
    pub(super) metadata_shares_nics: bool,
    /// Instances whose first NIC's flow counts the metadata service was last told, or that
    /// started a transfer since: (instance, egress, ingress).
    nic_flows: Vec<(usize, u32, u32)>,
}

impl Disagg {
    pub(super) fn new(
        fabric: Fabric,
        selection: DecodeSelection,
        decoders: Vec<InstanceId>,
        kv_bytes_per_token: u64,
    ) -> Self {
        Disagg {
            fabric,
            selection,
            decoders,
            queue: VecDeque::new(),
            kv_bytes_per_token,
            candidates: Vec::new(),
            delivered: Vec::new(),
            event: None,
            reported_bytes: Vec::new(),
            metadata_shares_nics: false,
            nic_flows: Vec::new(),
        }
    }
}

/// A flow's tag: the request's slot and generation.
fn tag(r: SeqId, generation: u32) -> u64 {
    (u64::from(r.0) << 32) | u64::from(generation)
}

fn untag(tag: u64) -> (SeqId, u32) {
    (SeqId((tag >> 32) as u32), tag as u32)
}

/// The prefill instance `s` frees the KV that handed-off request `req` still holds there.
fn release_source(s: &mut super::instance::Instance, req: &mut super::request::Req, now: SimTime) {
    s.cache
        .unpin(&req.blocks[..req.source_pinned as usize], now.as_nanos())
        .expect("the prefill instance pins the prompt until the hand-off ends");
    s.cache.free_private(req.source_private as usize);
    req.source_pinned = 0;
    req.source_private = 0;
}

fn ns(t: SimTime) -> f64 {
    t.as_nanos() as f64
}

impl World<'_> {
    /// Request `r` finished its prefill on a prefill instance at `now` (its first token is
    /// out): it leaves that instance's running set, keeping its KV there, and queues for a
    /// decode instance.
    pub(super) fn hand_off(&mut self, r: SeqId, now: SimTime) {
        let req = &mut self.reqs[r];
        let inst = &mut self.instances[req.instance.index()];
        inst.unrun(req);
        inst.reowe(req.owed(), Owed::default());
        inst.assigned -= 1;
        req.source_pinned = req.pinned_blocks;
        req.source_private = req.private_blocks;
        req.pinned_blocks = 0;
        req.private_blocks = 0;
        req.phase = Phase::AwaitingDecode;
        req.handoff_at = now;
        let pd = self.disagg.as_mut().expect("a prefill pool has a hand-off");
        pd.queue.push_back(r);
        self.dispatch_decodes(now);
    }

    /// Moves the requests at the head of the decode queue to decode instances with room, in
    /// order, until one finds none.
    pub(super) fn dispatch_decodes(&mut self, now: SimTime) {
        let bs = self.block_size;
        loop {
            let Some(pd) = self.disagg.as_mut() else {
                return;
            };
            let Some(&r) = pd.queue.front() else {
                return;
            };
            let req = &self.reqs[r];
            let need = req.input_tokens.div_ceil(bs).max(req.blocks.len() as u64) as usize;
            let largest = pd
                .decoders
                .iter()
                .map(|d| self.instances[d.index()].cache.capacity_blocks())
                .max()
                .unwrap_or(0);
            if need > largest {
                // No decode instance could ever hold it (as a prompt larger than a whole cache
                // is rejected by the scheduler when aggregated).
                pd.queue.pop_front();
                self.reject_handed_off(r, now);
                continue;
            }
            let pd = self.disagg.as_mut().expect("disaggregated");
            pd.candidates.clear();
            for &d in &pd.decoders {
                let inst = &self.instances[d.index()];
                let cache = &inst.cache;
                let hit = cache.longest_prefix(&req.blocks).min(need);
                // Pinning an unpinned hit block takes it out of the evictable ones.
                let unpinned_hits = req.blocks[..hit]
                    .iter()
                    .filter(|&&b| cache.pin_count(b) == Some(0))
                    .count();
                let room = cache.available_blocks() - unpinned_hits;
                pd.candidates.push(DecodeCandidate {
                    fits: room >= need - hit,
                    cached_prefix_blocks: hit,
                    outstanding_tokens: inst.outstanding_tokens(now),
                });
            }
            let Some(k) = pd.selection.choose(&pd.candidates) else {
                return;
            };
            pd.queue.pop_front();
            let d = pd.decoders[k];
            self.reserve_and_send(r, d, need, now);
        }
    }

    /// Drops request `r`, handed off by its prefill instance and fitting no decode instance:
    /// the prefill instance frees its KV and the request counts as rejected.
    fn reject_handed_off(&mut self, r: SeqId, now: SimTime) {
        let mut req = self.reqs.remove(r);
        release_source(
            &mut self.instances[req.prefill_instance.index()],
            &mut req,
            now,
        );
        self.sink.rejected();
        self.finished += 1;
    }

    /// Reserves request `r`'s KV (`need` blocks) on decode instance `d` and starts its
    /// transfer.
    fn reserve_and_send(&mut self, r: SeqId, d: InstanceId, need: usize, now: SimTime) {
        let bs = self.block_size;
        let inst = &mut self.instances[d.index()];
        let req = &mut self.reqs[r];
        let hit = inst.cache.lookup(&req.blocks, now.as_nanos()).min(need);
        inst.cache
            .pin(&req.blocks[..hit])
            .expect("hit blocks are resident");
        req.pinned_blocks = hit as u32;
        req.instance = d;
        inst.assigned += 1;
        inst.reowe(Owed::default(), req.owed());
        self.allocate(d, r, (need - hit) as u64, now, true);
        let pd = self.disagg.as_mut().expect("disaggregated");
        let req = &mut self.reqs[r];
        let tokens = req.input_tokens.saturating_sub(hit as u64 * bs);
        let bytes = tokens * pd.kv_bytes_per_token;
        if pd.metadata_shares_nics {
            for i in [req.prefill_instance.index(), d.index()] {
                if !pd.nic_flows.iter().any(|&(k, _, _)| k == i) {
                    pd.nic_flows.push((i, 0, 0));
                }
            }
        }
        req.phase = Phase::Transferring;
        req.transfer_start = now;
        req.transfer_bytes = bytes;
        req.pending_flows = pd.fabric.start_transfer(
            ns(now),
            req.prefill_instance.index(),
            d.index(),
            bytes,
            tag(r, req.generation),
            &mut pd.delivered,
        );
    }

    /// The fabric's pending event fired.
    pub(super) fn on_fabric(&mut self, now: SimTime) {
        self.advance_fabric(now);
    }

    /// Brings the fabric's clock to `now` (its link byte counters with it); deliveries are
    /// handled by the next [`pump_fabric`](Self::pump_fabric).
    pub(super) fn advance_fabric(&mut self, now: SimTime) {
        let Some(pd) = self.disagg.as_mut() else {
            return;
        };
        if pd.event.is_some_and(|(_, at)| at <= now) {
            pd.event = None;
        }
        pd.fabric.advance_to(ns(now), &mut pd.delivered);
    }

    /// Handles the deliveries collected since the last call and keeps one event pending at
    /// the fabric's next change.
    pub(super) fn pump_fabric(&mut self, engine: &mut Engine<Event>) {
        if self.disagg.is_none() {
            return;
        }
        let now = engine.now();
        loop {
            let pd = self.disagg.as_mut().expect("disaggregated");
            if pd.delivered.is_empty() {
                break;
            }
            let mut done = std::mem::take(&mut pd.delivered);
            for d in &done {
                let (r, generation) = untag(d.tag);
                let req = &mut self.reqs[r];
                debug_assert!(req.phase == Phase::Transferring && req.generation == generation);
                req.pending_flows -= 1;
                if req.pending_flows == 0 {
                    self.transfer_done(engine, r, now);
                }
            }
            done.clear();
            let pd = self.disagg.as_mut().expect("disaggregated");
            if pd.delivered.is_empty() {
                pd.delivered = done; // keep the buffer
            }
        }
        let pd = self.disagg.as_mut().expect("disaggregated");
        // The metadata service's messages share these ports with the flows now on them.
        pd.nic_flows.retain_mut(|(i, egress, ingress)| {
            let (e, n) = pd.fabric.first_nic_flows(*i);
            if (e, n) != (*egress, *ingress) {
                self.lookup.bulk_flows(InstanceId(*i as u32), e, n);
                (*egress, *ingress) = (e, n);
            }
            e > 0 || n > 0
        });
        let next = pd
            .fabric
            .next_event_ns()
            .map(|t| SimTime((t.ceil() as u64).max(now.as_nanos())));
        if next != pd.event.map(|e| e.1) {
            if let Some((old, _)) = pd.event.take() {
                engine.cancel(old);
            }
            if let Some(at) = next {
                pd.event = Some((engine.schedule_at(at, Event::Fabric), at));
            }
        }
    }

    /// The last flow of request `r`'s KV arrived at `now`: the prefill instance frees it, the
    /// decode instance caches the prompt's blocks and the request joins its decode batch.
    fn transfer_done(&mut self, engine: &mut Engine<Event>, r: SeqId, now: SimTime) {
        let bs = self.block_size;
        let req = &mut self.reqs[r];
        req.transfer_end = now;
        self.sink.transfer(&TransferRecord {
            kind: "pd",
            request_id: req.id,
            source: req.prefill_instance.0,
            destination: req.instance.0,
            bytes: req.transfer_bytes,
            start_ns: req.transfer_start.as_nanos(),
            end_ns: now.as_nanos(),
        });
        let src = req.prefill_instance;
        let s = &mut self.instances[src.index()];
        release_source(s, req, now);
        if s.busy.is_none() {
            self.start_iteration(engine, src);
        }
        let d = self.reqs[r].instance;
        self.cache_prompt_blocks(d, r, now);
        let inst = &mut self.instances[d.index()];
        let req = &mut self.reqs[r];
        inst.admit(r, req);
        req.phase = Phase::Decoding;
        if inst.busy.is_some() {
            self.cut_span(engine, d);
        }
        let inst = &mut self.instances[d.index()];
        let req = &mut self.reqs[r];
        let number = inst.next_iteration - 1;
        inst.start_decoding(r, req, number, bs);
        if inst.busy.is_none() {
            self.start_iteration(engine, d);
        }
    }
}
