//! The scheduler's view of an instance, and applying the plan it returns.
//!
//! [`World::start_iteration`] asks the instance's [`BatchScheduler`] for a plan over a
//! [`Snapshot`] (which probes the caches lazily, for the waiting requests the scheduler looks
//! at), then applies it: preemptions (KV freed, back to the front of the queue), block
//! allocations, admissions (lookup, pins, loads from lower tiers), rejections; and starts the
//! iteration on the GPU model.
//!
//! [`BatchScheduler`]: kvcsim_models::scheduler::BatchScheduler

use kvcsim_models::scheduler::{InstanceView, PrefillSeq, SeqId, Victim, WaitingSeq};
use kvcsim_models::tiers::TierHierarchy;

use super::instance::{Instance, Iteration};
use super::request::{Phase, Requests};
use super::{Event, InstanceId, World};
use crate::engine::{Engine, SimDuration, SimTime};

/// One instance as its scheduler sees it, before this iteration.
struct Snapshot<'a> {
    inst: &'a Instance,
    reqs: &'a Requests,
    tiers: Option<&'a TierHierarchy>,
    instance: usize,
    needers: &'a [SeqId],
    prefilling: &'a [PrefillSeq],
    block_size: u64,
}

impl InstanceView for Snapshot<'_> {
    fn free_blocks(&self) -> u64 {
        self.inst.cache.available_blocks() as u64
    }

    fn capacity_blocks(&self) -> u64 {
        self.inst.cache.capacity_blocks() as u64
    }

    fn running(&self) -> usize {
        self.inst.running() as usize
    }

    fn decoding(&self) -> u64 {
        self.inst.decoding
    }

    fn decode_block_needers(&self) -> &[SeqId] {
        self.needers
    }

    fn prefilling(&self) -> &[PrefillSeq] {
        self.prefilling
    }

    fn waiting_len(&self) -> usize {
        self.inst.waiting.len()
    }

    fn waiting(&self, k: usize) -> WaitingSeq {
        let id = self.inst.waiting[k];
        let req = &self.reqs[id];
        let cache = &self.inst.cache;
        let hit = cache.longest_prefix(&req.blocks);
        let lower = self
            .tiers
            .map_or(0, |t| t.continuation(self.instance, &req.blocks, hit));
        let evictable = req.blocks[..hit]
            .iter()
            .filter(|&&b| cache.pin_count(b) == Some(0))
            .count();
        WaitingSeq {
            id,
            target_tokens: req.target_tokens,
            cached_tokens: cached_tokens(hit + lower, self.block_size, req.target_tokens),
            hit_blocks: hit as u64,
            evictable_hit_blocks: evictable as u64,
            load_blocks: lower as u64,
            peak_blocks: req.peak_blocks(self.block_size),
        }
    }

    fn victim(&self, k: usize) -> Option<Victim> {
        let cache = &self.inst.cache;
        self.inst
            .running_newest_first()
            .filter(|&r| self.reqs[r].phase != Phase::Loading)
            .nth(k)
            .map(|id| {
                let req = &self.reqs[id];
                let sole = req.blocks[..req.pinned_blocks as usize]
                    .iter()
                    .filter(|&&b| cache.pin_count(b) == Some(1))
                    .count();
                Victim {
                    id,
                    releases_blocks: u64::from(req.private_blocks) + sole as u64,
                    decoding: req.phase == Phase::Decoding,
                }
            })
    }
}

/// Tokens a request does not compute when `reused` leading blocks are found: all of them, but
/// at least one token is computed (the one whose forward pass emits the next token).
fn cached_tokens(reused: usize, block_size: u64, target: u64) -> u64 {
    (reused as u64 * block_size).min(target.saturating_sub(1))
}

impl World<'_> {
    /// Forms and starts the next iteration of instance `i`, if it has work.
    pub(super) fn start_iteration(&mut self, engine: &mut Engine<Event>, i: InstanceId) {
        let now = engine.now();
        let bs = self.block_size;
        let inst = &mut self.instances[i.index()];
        debug_assert!(inst.busy.is_none());
        let number = inst.next_iteration;
        // Decodes whose step in this iteration crosses a block boundary, oldest admission first.
        let mut needers = std::mem::take(&mut self.needers);
        needers.clear();
        let reqs = &self.reqs;
        while let Some(r) = inst.pop_block_needer(number, |s, id, g| reqs.is_current(s, id, g)) {
            needers.push(r);
        }
        needers.sort_by_key(|&r| reqs[r].admission);
        let mut prefilling = std::mem::take(&mut self.prefill_views);
        prefilling.clear();
        prefilling.extend(inst.prefilling.iter().map(|&r| {
            let req = &reqs[r];
            PrefillSeq {
                id: r,
                kv_tokens: req.prefilled_tokens,
                remaining_tokens: req.target_tokens - req.prefilled_tokens,
                held_blocks: req.held_blocks(),
            }
        }));
        self.plan.clear();
        let view = Snapshot {
            inst,
            reqs,
            tiers: self.tiers.as_ref(),
            instance: i.index(),
            needers: &needers,
            prefilling: &prefilling,
            block_size: bs,
        };
        let pool = &mut self.pools[inst.pool as usize];
        pool.scheduler.plan(&view, &pool.budgets, &mut self.plan);
        let plan = std::mem::take(&mut self.plan);
        for &r in &plan.preempt {
            self.preempt(i, r, number, now);
        }
        for &r in &needers {
            if plan.preempt.contains(&r) {
                continue;
            }
            assert!(
                plan.decode_blocks.contains(&r),
                "the scheduler left a decode without its block"
            );
            self.allocate(i, r, 1, now, true);
            let req = &self.reqs[r];
            self.instances[i.index()].block_granted(r, req, number, bs);
        }
        let mut it = Iteration {
            number,
            last: number,
            start: now,
            decodes: self.instances[i.index()].decoding,
            ..Iteration::default()
        };
        self.batch.clear();
        if it.decodes > 0 {
            let ctx = self.instances[i.index()].decode_context_sum(number);
            self.batch.push_decodes(it.decodes, ctx);
        }
        for c in &plan.prefill {
            self.allocate(i, c.id, c.new_blocks, now, true);
            self.batch
                .push_prefill(c.tokens, self.reqs[c.id].prefilled_tokens);
            it.prefills.push((c.id, c.tokens));
        }
        for c in &plan.admit {
            if self.admit(engine, i, c.id, c.new_blocks, now) && c.tokens > 0 {
                self.batch
                    .push_prefill(c.tokens, self.reqs[c.id].prefilled_tokens);
                it.prefills.push((c.id, c.tokens));
            }
        }
        for &r in &plan.reject {
            let inst = &mut self.instances[i.index()];
            let pos = inst.waiting.iter().position(|&w| w == r).expect("waiting");
            inst.waiting.remove(pos);
            self.reject(r);
        }
        let decode_only = plan.prefill.is_empty()
            && plan.admit.is_empty()
            && plan.preempt.is_empty()
            && plan.reject.is_empty();
        self.plan = plan;
        self.needers = needers;
        self.prefill_views = prefilling;
        if it.prefills.is_empty() && it.decodes == 0 {
            return; // idle
        }
        let gpu = &self.pools[self.instances[i.index()].pool as usize].gpu;
        let mut end = now + SimDuration::from_secs_f64(gpu.iteration_time(&self.batch));
        if decode_only && self.fast_forward {
            end = self.decode_span(i, &mut it, end);
        }
        let inst = &mut self.instances[i.index()];
        inst.next_iteration = it.last + 1;
        it.event = Some(engine.schedule_at(end, Event::IterationFinished(i)));
        inst.busy = Some(it);
    }

    /// Extends a decode-only iteration ending at `end` into a span of the same batch, as long
    /// as nothing would change the next plan: up to the iteration where a decode finishes,
    /// before the one where a decode needs a new block, and not past the end of the current
    /// time-series interval. Each iteration keeps its own duration (rounded alone, as if run
    /// one by one); an event that needs the instance in between cuts the span at the next
    /// iteration boundary ([`World::cut_span`]). Returns the span's end.
    fn decode_span(&mut self, i: InstanceId, it: &mut Iteration, mut end: SimTime) -> SimTime {
        const MAX_SPAN: u64 = 4096;
        let reqs = &self.reqs;
        let inst = &mut self.instances[i.index()];
        let (finish, block) = inst.next_decode_event(|s, id, g| reqs.is_current(s, id, g));
        let mut last = it.number + MAX_SPAN;
        if let Some(f) = finish {
            last = last.min(f);
        }
        if let Some(b) = block {
            last = last.min(b.saturating_sub(1));
        }
        if last <= it.number {
            return end;
        }
        it.ends.push(end);
        let mut times = std::mem::take(&mut self.span_times);
        times.clear();
        let within_s = self.next_tick.saturating_since(end).as_secs_f64();
        self.pools[inst.pool as usize].gpu.decode_iterations(
            it.decodes,
            inst.decode_context_sum(it.number + 1),
            (last - it.number) as usize,
            within_s,
            &mut times,
        );
        let mut j = it.number + 1;
        for &secs in &times {
            let next = end + SimDuration::from_secs_f64(secs);
            if next > self.next_tick {
                break;
            }
            end = next;
            it.ends.push(end);
            j += 1;
        }
        self.span_times = times;
        it.last = j - 1;
        if it.last == it.number {
            it.ends.clear();
        }
        end
    }

    /// Something needs instance `i` (a request queued, loads arrived) while it runs a span of
    /// decode iterations: the span ends at the first iteration boundary not before now, where
    /// the scheduler plans again, exactly as if the iterations had run one by one.
    pub(super) fn cut_span(&mut self, engine: &mut Engine<Event>, i: InstanceId) {
        let now = engine.now();
        let inst = &mut self.instances[i.index()];
        let Some(it) = inst.busy.as_mut() else {
            return;
        };
        if it.ends.is_empty() {
            return;
        }
        let k = it.ends.partition_point(|&t| t < now);
        let cut = it.number + k as u64;
        if cut >= it.last {
            return;
        }
        let end = it.ends[k];
        it.last = cut;
        it.ends.truncate(k + 1);
        inst.next_iteration = cut + 1;
        if let Some(old) = it.event.take() {
            engine.cancel(old);
        }
        it.event = Some(engine.schedule_at(end, Event::IterationFinished(i)));
    }

    /// Allocates `n` private blocks to request `r` on instance `i`, evicting cached blocks by
    /// policy; the victims are deleted from the metadata service and, with `demote`, moved to
    /// the lower tiers now.
    pub(super) fn allocate(&mut self, i: InstanceId, r: SeqId, n: u64, now: SimTime, demote: bool) {
        if n == 0 {
            return;
        }
        let inst = &mut self.instances[i.index()];
        self.evicted.clear();
        inst.cache
            .allocate_private(n as usize, now.as_nanos(), &mut self.evicted)
            .expect("the scheduler counted these blocks free");
        for &victim in &self.evicted {
            self.locator.removed(victim, i.0);
        }
        self.reqs[r].private_blocks += n as u32;
        self.lookup.evicted(now, i, self.reqs[r].id, &self.evicted);
        if demote {
            self.demote_victims(i);
        }
    }

    /// Moves the HBM victims of instance `i` logged since the last call to the lower tiers.
    fn demote_victims(&mut self, i: InstanceId) {
        if let Some(tiers) = &mut self.tiers {
            self.instances[i.index()]
                .cache
                .take_evicted(&mut self.demote);
            for (block, meta) in self.demote.drain(..) {
                tiers.evicted_from_hbm(i.index(), block, meta);
            }
        }
    }

    /// Admits waiting request `r`: its HBM prefix is looked up and pinned, `new_blocks` are
    /// allocated, and blocks found in lower tiers are loaded. Returns whether it computes in
    /// this iteration (false while it loads).
    fn admit(
        &mut self,
        engine: &mut Engine<Event>,
        i: InstanceId,
        r: SeqId,
        new_blocks: u64,
        now: SimTime,
    ) -> bool {
        let bs = self.block_size;
        let inst = &mut self.instances[i.index()];
        let pos = inst.waiting.iter().position(|&w| w == r).expect("waiting");
        inst.waiting.remove(pos);
        let req = &mut self.reqs[r];
        let hit = inst.cache.lookup(&req.blocks, now.as_nanos());
        inst.cache
            .pin(&req.blocks[..hit])
            .expect("hit blocks are resident");
        let lower = self
            .tiers
            .as_ref()
            .map_or(0, |t| t.continuation(i.index(), &req.blocks, hit));
        let cached = cached_tokens(hit + lower, bs, req.target_tokens);
        let first = req.admitted.is_none();
        let owed = req.owed();
        req.pinned_blocks = hit as u32;
        req.reused_blocks = (hit + lower) as u32;
        req.prefilled_tokens = cached;
        if first {
            inst.interval.lookups += 1;
            inst.interval.lookup_blocks += req.blocks.len() as u64;
            inst.interval.hit_blocks += (hit + lower) as u64;
            req.admitted = Some(now);
            req.load_ready = now;
            req.hit_blocks = hit as u32;
            req.loaded_blocks = lower as u32;
            req.cached_tokens = cached;
        } else {
            // Tokens computed before the preemption and not found again are recomputed.
            let again = req.lost_kv_tokens.saturating_sub(cached);
            req.recomputed_tokens += again;
            inst.interval.recomputed_tokens += again;
            req.lost_kv_tokens = 0;
        }
        inst.reowe(owed, req.owed());
        inst.admit(r, req);
        self.allocate(i, r, new_blocks, now, false);
        let inst = &mut self.instances[i.index()];
        let req = &mut self.reqs[r];
        if let Some(tiers) = &mut self.tiers {
            if first {
                tiers.hbm_hits(i.index(), &req.blocks[..hit]);
            }
            // Load before demoting the victims of this admission: demotions can push blocks
            // out of the last tier, and these ones were found where they are.
            let load =
                (lower > 0).then(|| tiers.load(i.index(), &req.blocks, hit, lower, now.as_nanos()));
            inst.cache.take_evicted(&mut self.demote);
            for (block, meta) in self.demote.drain(..) {
                tiers.evicted_from_hbm(i.index(), block, meta);
            }
            if let Some(load) = load {
                let ready = SimTime(load.ready_ns);
                if first {
                    req.tier_blocks = load.blocks.map(|b| b as u32);
                    req.load_ready = ready;
                }
                req.phase = Phase::Loading;
                inst.loading += 1;
                engine.schedule_at(ready, Event::LoadFinished(r));
                return false;
            }
        }
        req.phase = Phase::Prefilling;
        inst.prefilling.push(r);
        true
    }

    /// Preempts running request `r` of instance `i` before iteration `next` by recompute: its
    /// cached blocks are released (tail first; they stay cached and evictable), its private
    /// blocks freed, and it goes back to the front of the waiting queue to compute its prompt
    /// and the tokens it generated again (vLLM V1's `RECOMPUTE` preemption).
    fn preempt(&mut self, i: InstanceId, r: SeqId, next: u64, now: SimTime) {
        let inst = &mut self.instances[i.index()];
        let req = &mut self.reqs[r];
        match req.phase {
            Phase::Decoding => inst.stop_decoding(req, next),
            Phase::Prefilling => inst.prefilling.retain(|&p| p != r),
            phase => unreachable!("a {phase:?} request cannot be preempted"),
        }
        // With `generated` current, what it owes before the preemption.
        let owed = req.owed();
        req.lost_kv_tokens = req.kv_tokens();
        inst.unrun(req);
        inst.cache
            .unpin(&req.blocks[..req.pinned_blocks as usize], now.as_nanos())
            .expect("a running request pins its blocks");
        inst.cache.free_private(req.private_blocks as usize);
        req.pinned_blocks = 0;
        req.private_blocks = 0;
        req.generation += 1;
        req.preemptions += 1;
        req.target_tokens = req.input_tokens + req.generated;
        req.prefilled_tokens = 0;
        req.phase = Phase::Waiting;
        inst.reowe(owed, req.owed());
        inst.interval.preemptions += 1;
        inst.waiting.push_front(r);
    }
}
