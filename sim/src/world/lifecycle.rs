//! The event handlers of a request's life: arrival and routing, the lookup reply, loads,
//! iterations ending, completion.

use kvcsim_models::cache::{Admit, InsertOutcome};
use kvcsim_models::routing::{InstanceView, RouteQuery};
use kvcsim_models::scheduler::SeqId;

use super::request::{Owed, Phase, Req};
use super::{Event, InstanceId, World};
use crate::engine::{Engine, SimTime};
use crate::records::RequestRecord;
use crate::scenario::Role;

impl World<'_> {
    pub(super) fn on_request_arrived(&mut self, engine: &mut Engine<Event>) {
        let arrival = self.next.take().expect("an arrival was scheduled");
        self.pull_arrival(engine);
        self.entered += 1;
        self.views.clear();
        self.locator
            .prefix_lengths(&arrival.blocks, &mut self.prefix_lengths);
        for &InstanceId(e) in &self.entry {
            let (inst, cached) = (&self.instances[e as usize], self.prefix_lengths[e as usize]);
            debug_assert_eq!(cached, inst.cache.longest_prefix(&arrival.blocks));
            self.views.push(InstanceView {
                outstanding_tokens: inst.outstanding_tokens(engine.now()),
                running: inst.running() as u32,
                waiting: inst.waiting.len() as u32,
                cached_prefix_blocks: cached,
                queued_prefill_tokens: inst.queued_prefill_tokens(),
                active_blocks: (inst.cache.pinned_blocks() + inst.cache.private_blocks()) as u64,
            });
        }
        let query = RouteQuery {
            prompt_tokens: arrival.input_tokens,
            block_size_tokens: self.block_size,
        };
        let target = self.entry[self.router.route(&query, &self.views)];
        let req = Req::new(arrival, target);
        // The router counts a request at its instance as soon as it routes it (as a KV-aware
        // router tracks its active requests), so a burst arriving while lookups are in flight
        // spreads over the instances instead of piling onto the first.
        let inst = &mut self.instances[target.index()];
        inst.assigned += 1;
        inst.reowe(Owed::default(), req.owed());
        let (request_id, now) = (req.id, engine.now());
        let r = self.reqs.insert(req);
        self.lookup
            .lookup(now, target, r, request_id, &self.reqs[r].blocks);
    }

    pub(super) fn on_lookup_replied(&mut self, engine: &mut Engine<Event>, r: SeqId) {
        let i = self.reqs[r].instance;
        let inst = &self.instances[i.index()];
        if inst.waiting.len() >= self.pools[inst.pool as usize].max_waiting {
            self.reject(r);
            return;
        }
        self.reqs[r].phase = Phase::Waiting;
        let inst = &mut self.instances[i.index()];
        inst.waiting.push_back(r);
        if inst.busy.is_none() {
            self.start_iteration(engine, i);
        } else {
            self.cut_span(engine, i);
        }
    }

    /// Drops request `r` (waiting queue full, or larger than its instance's whole cache).
    pub(super) fn reject(&mut self, r: SeqId) {
        let req = self.reqs.remove(r);
        let inst = &mut self.instances[req.instance.index()];
        inst.assigned -= 1;
        inst.reowe(req.owed(), Owed::default());
        self.sink.rejected();
        self.finished += 1;
    }

    pub(super) fn on_load_finished(&mut self, engine: &mut Engine<Event>, r: SeqId) {
        let req = &mut self.reqs[r];
        debug_assert_eq!(req.phase, Phase::Loading);
        req.phase = Phase::Prefilling;
        let i = req.instance;
        let inst = &mut self.instances[i.index()];
        inst.loading -= 1;
        inst.prefilling.push(r);
        if inst.busy.is_none() {
            self.start_iteration(engine, i);
        } else {
            self.cut_span(engine, i);
        }
    }

    pub(super) fn on_iteration_finished(&mut self, engine: &mut Engine<Event>, i: InstanceId) {
        let now = engine.now();
        let bs = self.block_size;
        let prefill_only =
            self.pools[self.instances[i.index()].pool as usize].role == Role::Prefill;
        let inst = &mut self.instances[i.index()];
        let it = inst.busy.take().expect("an iteration was running");
        inst.account_busy(it.start, now);
        let iterations = it.last - it.number + 1;
        inst.interval.iterations += iterations;
        inst.interval.batch_tokens +=
            it.decodes * iterations + it.prefills.iter().map(|p| p.1).sum::<u64>();
        // Decode steps: every decoding request produced a token per iteration; some are done.
        inst.generated(it.decodes * iterations);
        loop {
            let reqs = &self.reqs;
            let inst = &mut self.instances[i.index()];
            let Some(r) = inst.pop_finished(it.last, |s, id, g| reqs.is_current(s, id, g)) else {
                break;
            };
            let req = &mut self.reqs[r];
            inst.stop_decoding(req, it.last + 1);
            debug_assert_eq!(req.generated, req.output_tokens);
            self.complete(r, now);
        }
        // Prefill pieces: tokens computed; a finished prefill emits a token.
        for &(r, take) in &it.prefills {
            let inst = &mut self.instances[i.index()];
            let req = &mut self.reqs[r];
            if req.phase != Phase::Prefilling {
                continue; // preempted after this iteration was planned: cannot happen
            }
            req.prefilled_tokens += take;
            inst.computed(take);
            if req.prefilled_tokens < req.target_tokens {
                continue;
            }
            req.generated += 1;
            inst.generated(1);
            req.first_token.get_or_insert(now);
            let from = self.cache_prompt_blocks(i, r, now);
            let inst = &mut self.instances[i.index()];
            let req = &mut self.reqs[r];
            if let Some(tiers) = &mut self.tiers {
                inst.cache.take_evicted(&mut self.demote);
                for (block, meta) in self.demote.drain(..) {
                    tiers.evicted_from_hbm(i.index(), block, meta);
                }
                tiers.computed(
                    i.index(),
                    &req.blocks,
                    req.reused_blocks as usize,
                    now.as_nanos(),
                );
            }
            if let Some(&first) = req.blocks.first() {
                self.lookup
                    .stored(now, i, req.id, first, &req.blocks[from..]);
            }
            if req.generated == req.output_tokens {
                inst.prefilling.retain(|&p| p != r);
                self.complete(r, now);
            } else if prefill_only {
                self.hand_off(r, now);
            } else {
                req.phase = Phase::Decoding;
                inst.start_decoding(r, req, it.number, bs);
            }
        }
        let reqs = &self.reqs;
        self.instances[i.index()]
            .prefilling
            .retain(|&p| reqs.get(p).is_some_and(|r| r.phase == Phase::Prefilling));
        self.start_iteration(engine, i);
        // Blocks freed here may make room for requests waiting for a decode instance.
        self.dispatch_decodes(now);
    }

    /// The prompt blocks of request `r` on instance `i` not yet pinned (its prefill, or its KV
    /// transferred from a prefill instance, has just filled them) become cached blocks pinned
    /// by it, in place of as many of its private blocks. Returns the first such block.
    pub(super) fn cache_prompt_blocks(&mut self, i: InstanceId, r: SeqId, now: SimTime) -> usize {
        let inst = &mut self.instances[i.index()];
        let req = &mut self.reqs[r];
        let from = req.pinned_blocks as usize;
        let new_blocks = req.blocks.len() - from;
        inst.cache.free_private(new_blocks);
        req.private_blocks -= new_blocks as u32;
        for (depth, &b) in req.blocks.iter().enumerate().skip(from) {
            let parent = depth.checked_sub(1).map(|p| req.blocks[p]);
            let outcome = inst
                .cache
                .insert(b, parent, depth as u32, now.as_nanos(), Admit::Pinned)
                .expect("its private blocks made room");
            if let InsertOutcome::Inserted { evicted } = outcome {
                self.locator.stored(b, i.0);
                if let Some(victim) = evicted {
                    self.locator.removed(victim, i.0);
                }
            }
        }
        req.pinned_blocks = req.blocks.len() as u32;
        from
    }

    /// Request `r` produced its last token at `now`: its blocks are released (cached ones tail
    /// first, so the tail of a chain is evicted before its head) and its record is pushed.
    fn complete(&mut self, r: SeqId, now: SimTime) {
        let req = self.reqs.remove(r);
        let inst = &mut self.instances[req.instance.index()];
        inst.unrun(&req);
        inst.cache
            .unpin(&req.blocks[..req.pinned_blocks as usize], now.as_nanos())
            .expect("a running request pins its blocks");
        inst.cache.free_private(req.private_blocks as usize);
        inst.assigned -= 1;
        self.finished += 1;
        self.hbm_hit_blocks += u64::from(req.hit_blocks);
        let first_token = req.first_token.expect("a finished request emitted a token");
        let admitted = req.admitted.expect("a finished request was admitted");
        let steps = req.output_tokens - 1;
        self.sink.request(&RequestRecord {
            request_id: req.id,
            arrival_ns: req.arrival.as_nanos(),
            instance: req.instance.0,
            input_tokens: req.input_tokens,
            output_tokens: req.output_tokens,
            blocks: req.blocks.len() as u64,
            hit_blocks: u64::from(req.hit_blocks + req.loaded_blocks),
            hbm_hit_blocks: u64::from(req.hit_blocks),
            dram_hit_blocks: u64::from(req.tier_blocks[1]),
            ssd_hit_blocks: u64::from(req.tier_blocks[2]),
            remote_hit_blocks: u64::from(req.tier_blocks[3]),
            cached_tokens: req.cached_tokens,
            queue_ns: (admitted - req.arrival).as_nanos(),
            load_ns: (req.load_ready - admitted).as_nanos(),
            metadata_ns: req.metadata_ns,
            prefill_ns: (first_token - req.load_ready).as_nanos(),
            ttft_ns: (first_token - req.arrival).as_nanos(),
            tpot_ns: (now - first_token)
                .as_nanos()
                .checked_div(steps)
                .unwrap_or(0),
            e2e_ns: (now - req.arrival).as_nanos(),
            finish_ns: now.as_nanos(),
            preemptions: req.preemptions,
            recomputed_tokens: req.recomputed_tokens,
            prefill_instance: req.prefill_instance.0,
            decode_instance: req.instance.0,
            decode_wait_ns: (req.transfer_start.max(first_token) - first_token).as_nanos(),
            transfer_ns: (req.transfer_end - req.transfer_start).as_nanos(),
            transfer_bytes: req.transfer_bytes,
        });
    }
}
