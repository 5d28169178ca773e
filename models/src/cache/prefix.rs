//! [`PrefixCache`]: the KV blocks resident in one instance's HBM, with pin counts.

use std::hash::BuildHasherDefault;

use super::{BlockId, BlockMap, BlockMeta, EvictionPolicy, InsertReason, LruPolicy, RemoveReason};

/// How a newly inserted block starts out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Admit {
    /// Pinned by the request that computed it (the usual case: a running request's blocks).
    Pinned,
    /// Evictable at once (a block prefetched or written back with no user yet).
    Evictable,
}

/// What [`PrefixCache::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// The block is now resident; `evicted` made room for it.
    Inserted {
        /// The victim evicted, if the cache was full.
        evicted: Option<BlockId>,
    },
    /// The block was already resident (another request computed it meanwhile); it was pinned
    /// or touched as [`Admit`] asked, and nothing was evicted.
    AlreadyResident,
}

/// No room: every block is pinned or privately allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("KV cache full: {needed} block(s) needed, {available} free or evictable")]
pub struct CacheFull {
    /// Blocks asked for.
    pub needed: usize,
    /// Blocks free or evictable at the time.
    pub available: usize,
}

impl CacheFull {
    /// True: a cache too small for one request is the scenario's (the capacity the user gave).
    pub fn is_user_error(&self) -> bool {
        true
    }
}

/// A pin or unpin that breaks the cache's bookkeeping: a bug in the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// Pinning a block that is not resident.
    #[error("block {0:?} is not resident")]
    NotResident(BlockId),
    /// Unpinning a block nobody pinned.
    #[error("block {0:?} is not pinned")]
    NotPinned(BlockId),
    /// Dropping a block that a request is using.
    #[error("block {0:?} is pinned")]
    Pinned(BlockId),
}

impl CacheError {
    /// False: broken bookkeeping is a bug in kvcsim, never the user's input. Exit code 1.
    pub fn is_user_error(&self) -> bool {
        false
    }
}

/// Counters since the cache was created. Block counts, not bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Calls to [`PrefixCache::lookup`].
    pub lookups: u64,
    /// Blocks asked for by those lookups (the whole chains).
    pub lookup_blocks: u64,
    /// Blocks found: the leading resident blocks of each chain.
    pub hit_blocks: u64,
    /// Blocks newly made resident.
    pub inserts: u64,
    /// Blocks evicted to make room.
    pub evictions: u64,
    /// Insertions and private allocations refused with [`CacheFull`].
    pub full_failures: u64,
}

impl CacheStats {
    /// Fraction of looked-up blocks that hit; zero before any lookup.
    pub fn block_hit_rate(&self) -> f64 {
        if self.lookup_blocks == 0 {
            0.0
        } else {
            self.hit_blocks as f64 / self.lookup_blocks as f64
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    pins: u32,
    depth: u32,
    parent: Option<BlockId>,
}

/// The prefix cache of one instance: which KV blocks are resident in HBM, which of those are
/// in use, and which to evict.
///
/// Capacity is shared by two kinds of blocks:
///
/// * **cached** blocks, named by [`BlockId`], reusable by any request with the same prefix;
///   each has a pin count (the requests using it). Unpinned cached blocks are *evictable* and
///   live in the [`EvictionPolicy`]; pinned ones are not in the policy and are never evicted.
/// * **private** blocks, anonymous and uncacheable: a prompt's partial last block and the
///   decode tokens' KV, which belong to one request. They are only counted.
///
/// `resident + private <= capacity` always. Allocation never waits: it evicts a victim when
/// nothing is free, or fails with [`CacheFull`] when every block is pinned or private.
///
/// # Failure handling
///
/// A scheduler should check [`available_blocks`](Self::available_blocks) before admitting a
/// request (vLLM's `can_allocate`), so that the admitted request's insertions cannot fail. A
/// [`CacheFull`] later (decode growth) is the signal to preempt a running request as vLLM does:
/// [`unpin`](Self::unpin) its blocks and [`free_private`](Self::free_private) its private ones,
/// requeue it for recomputation, and retry. The cache itself never evicts a pinned block.
#[derive(Debug)]
pub struct PrefixCache {
    capacity_blocks: usize,
    resident: BlockMap<Entry>,
    pinned_blocks: usize,
    private_blocks: usize,
    policy: Box<dyn EvictionPolicy>,
    stats: CacheStats,
    /// Victims with their metadata, kept for the caller (tiers demote them) when enabled.
    eviction_log: Option<Vec<(BlockId, BlockMeta)>>,
}

impl PrefixCache {
    /// An empty cache of `capacity_blocks` blocks ordered by `policy`, which must be empty.
    pub fn new(capacity_blocks: usize, policy: Box<dyn EvictionPolicy>) -> Self {
        assert!(policy.is_empty(), "a new cache needs an empty policy");
        PrefixCache {
            capacity_blocks,
            resident: BlockMap::with_capacity_and_hasher(
                super::presize(capacity_blocks),
                BuildHasherDefault::default(),
            ),
            pinned_blocks: 0,
            private_blocks: 0,
            policy,
            stats: CacheStats::default(),
            eviction_log: None,
        }
    }

    /// Starts keeping every victim with its metadata (depth, parent, eviction time) until
    /// [`take_evicted`](Self::take_evicted) collects them: what a lower tier needs to store it.
    pub fn log_evictions(&mut self) {
        self.eviction_log.get_or_insert_with(Vec::new);
    }

    /// Moves the victims logged since the last call into `out` (nothing unless
    /// [`log_evictions`](Self::log_evictions) was called).
    pub fn take_evicted(&mut self, out: &mut Vec<(BlockId, BlockMeta)>) {
        if let Some(log) = &mut self.eviction_log {
            out.append(log);
        }
    }

    /// An empty LRU cache of `capacity_blocks` blocks.
    pub fn with_lru(capacity_blocks: usize) -> Self {
        Self::new(
            capacity_blocks,
            Box::new(LruPolicy::with_capacity(capacity_blocks)),
        )
    }

    /// Total blocks the cache can hold.
    pub fn capacity_blocks(&self) -> usize {
        self.capacity_blocks
    }

    /// Cached blocks resident (pinned or evictable).
    pub fn resident_blocks(&self) -> usize {
        self.resident.len()
    }

    /// Cached blocks in use by at least one request.
    pub fn pinned_blocks(&self) -> usize {
        self.pinned_blocks
    }

    /// Cached blocks nobody uses: the eviction candidates.
    pub fn evictable_blocks(&self) -> usize {
        self.resident.len() - self.pinned_blocks
    }

    /// Anonymous blocks allocated with [`allocate_private`](Self::allocate_private).
    pub fn private_blocks(&self) -> usize {
        self.private_blocks
    }

    /// Blocks holding nothing.
    pub fn free_blocks(&self) -> usize {
        self.capacity_blocks - self.resident.len() - self.private_blocks
    }

    /// Blocks an allocation can obtain now: free plus evictable.
    pub fn available_blocks(&self) -> usize {
        self.free_blocks() + self.evictable_blocks()
    }

    /// Fraction of capacity holding KV (cached or private); zero for a zero-capacity cache.
    pub fn occupancy(&self) -> f64 {
        if self.capacity_blocks == 0 {
            0.0
        } else {
            (self.resident.len() + self.private_blocks) as f64 / self.capacity_blocks as f64
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Name of the eviction policy.
    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }

    /// Whether `block` is resident.
    pub fn contains(&self, block: BlockId) -> bool {
        self.resident.contains_key(&block)
    }

    /// How many requests use `block`; `None` if it is not resident.
    pub fn pin_count(&self, block: BlockId) -> Option<u32> {
        self.resident.get(&block).map(|e| e.pins)
    }

    /// Number of leading blocks of `chain` that are resident. Pure: no statistics, no touch,
    /// so routers may probe every instance with it.
    pub fn longest_prefix(&self, chain: &[BlockId]) -> usize {
        chain
            .iter()
            .take_while(|b| self.resident.contains_key(b))
            .count()
    }

    /// A request's lookup: [`longest_prefix`](Self::longest_prefix), counted in the statistics,
    /// with the hit blocks touched in the policy (head first, so the head ends most recent).
    pub fn lookup(&mut self, chain: &[BlockId], now_ns: u64) -> usize {
        let hits = self.longest_prefix(chain);
        for (depth, &block) in chain[..hits].iter().enumerate().rev() {
            let parent = depth.checked_sub(1).map(|p| chain[p]);
            let meta = BlockMeta {
                depth: depth as u32,
                parent,
                now_ns,
            };
            self.policy.touch(block, meta);
        }
        self.stats.lookups += 1;
        self.stats.lookup_blocks += chain.len() as u64;
        self.stats.hit_blocks += hits as u64;
        hits
    }

    /// Adds one user to each block of `blocks` (e.g. the hit prefix of a newly scheduled
    /// request). A block going from 0 to 1 user leaves the policy. All blocks must be resident;
    /// otherwise nothing changes.
    pub fn pin(&mut self, blocks: &[BlockId]) -> Result<(), CacheError> {
        if let Some(&missing) = blocks.iter().find(|b| !self.resident.contains_key(b)) {
            return Err(CacheError::NotResident(missing));
        }
        for &block in blocks {
            self.pin_resident(block);
        }
        Ok(())
    }

    /// Removes one user from each block of `blocks` (a finished or preempted request). A block
    /// going from 1 to 0 users becomes evictable again. Blocks are released in reverse order,
    /// so under LRU the tail of a prompt is evicted before its head (vLLM frees a request's
    /// blocks in reverse for the same reason: a head block is shared by more prompts).
    ///
    /// Every block must be pinned, as many times as it is listed; otherwise nothing changes.
    pub fn unpin(&mut self, blocks: &[BlockId], now_ns: u64) -> Result<(), CacheError> {
        for (done, &block) in blocks.iter().rev().enumerate() {
            let Some(entry) = self.resident.get_mut(&block).filter(|e| e.pins > 0) else {
                // Roll back: re-pin what this call released.
                for &undo in blocks.iter().rev().take(done) {
                    self.pin_resident(undo);
                }
                return Err(CacheError::NotPinned(block));
            };
            entry.pins -= 1;
            if entry.pins == 0 {
                let meta = entry.meta(now_ns);
                self.pinned_blocks -= 1;
                self.policy.insert(block, meta, InsertReason::Unpinned);
            }
        }
        Ok(())
    }

    /// Makes `block` (at position `depth` of its chain, after `parent`) resident, evicting one
    /// victim if no block is free. Fails with [`CacheFull`] when every block is pinned or
    /// private. If the block is already resident it is pinned (or touched) instead, and nothing
    /// is evicted.
    pub fn insert(
        &mut self,
        block: BlockId,
        parent: Option<BlockId>,
        depth: u32,
        now_ns: u64,
        admit: Admit,
    ) -> Result<InsertOutcome, CacheFull> {
        let entry = Entry {
            pins: 0,
            depth,
            parent,
        };
        if let Some(meta) = self.resident.get(&block).map(|e| e.meta(now_ns)) {
            match admit {
                Admit::Pinned => self.pin_resident(block),
                Admit::Evictable => self.policy.touch(block, meta),
            }
            return Ok(InsertOutcome::AlreadyResident);
        }
        let evicted = if self.free_blocks() == 0 {
            match self.evict_one(now_ns) {
                Some(victim) => Some(victim),
                None => {
                    self.stats.full_failures += 1;
                    return Err(CacheFull {
                        needed: 1,
                        available: 0,
                    });
                }
            }
        } else {
            None
        };
        let pins = match admit {
            Admit::Pinned => {
                self.pinned_blocks += 1;
                1
            }
            Admit::Evictable => {
                self.policy
                    .insert(block, entry.meta(now_ns), InsertReason::Admitted);
                0
            }
        };
        self.resident.insert(block, Entry { pins, ..entry });
        self.stats.inserts += 1;
        Ok(InsertOutcome::Inserted { evicted })
    }

    /// Allocates `n` anonymous blocks, evicting victims (appended to `evicted`) as needed.
    /// All or nothing: fails with [`CacheFull`] if fewer than `n` blocks are available.
    pub fn allocate_private(
        &mut self,
        n: usize,
        now_ns: u64,
        evicted: &mut Vec<BlockId>,
    ) -> Result<(), CacheFull> {
        let available = self.available_blocks();
        if n > available {
            self.stats.full_failures += 1;
            return Err(CacheFull {
                needed: n,
                available,
            });
        }
        let shortfall = n.saturating_sub(self.free_blocks());
        for _ in 0..shortfall {
            let victim = self
                .evict_one(now_ns)
                .expect("available_blocks counted this victim");
            evicted.push(victim);
        }
        self.private_blocks += n;
        Ok(())
    }

    /// Returns `n` anonymous blocks. A private block that fills up and gets a hash becomes a
    /// cached one by `free_private(1)` then [`insert`](Self::insert), which cannot then fail.
    ///
    /// # Panics
    ///
    /// If fewer than `n` private blocks are allocated (a caller bug).
    pub fn free_private(&mut self, n: usize) {
        assert!(
            n <= self.private_blocks,
            "freeing {n} private blocks of {}",
            self.private_blocks
        );
        self.private_blocks -= n;
    }

    /// Drops an evictable block from the cache (invalidation, or a move to another tier);
    /// `Ok(false)` if it was not resident. Pinned blocks cannot be dropped.
    pub fn remove(&mut self, block: BlockId) -> Result<bool, CacheError> {
        match self.resident.get(&block) {
            None => Ok(false),
            Some(e) if e.pins > 0 => Err(CacheError::Pinned(block)),
            Some(_) => {
                self.resident.remove(&block);
                self.policy.remove(block, RemoveReason::Dropped);
                Ok(true)
            }
        }
    }

    fn pin_resident(&mut self, block: BlockId) {
        let entry = self
            .resident
            .get_mut(&block)
            .expect("caller checked residency");
        if entry.pins == 0 {
            self.pinned_blocks += 1;
            self.policy.remove(block, RemoveReason::Pinned);
        }
        entry.pins += 1;
    }

    fn evict_one(&mut self, now_ns: u64) -> Option<BlockId> {
        let victim = self.policy.pop_victim(now_ns)?;
        let entry = self.resident.remove(&victim);
        debug_assert!(
            entry.is_some_and(|e| e.pins == 0),
            "policy chose a pinned or absent block {victim:?}"
        );
        if let (Some(log), Some(e)) = (&mut self.eviction_log, entry) {
            log.push((victim, e.meta(now_ns)));
        }
        self.stats.evictions += 1;
        Some(victim)
    }
}

impl Entry {
    fn meta(&self, now_ns: u64) -> BlockMeta {
        BlockMeta {
            depth: self.depth,
            parent: self.parent,
            now_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EvictionConfig, FutureUses};
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn chain(ids: &[u64]) -> Vec<BlockId> {
        ids.iter().copied().map(BlockId).collect()
    }

    fn parent_of(chain: &[BlockId], depth: usize) -> Option<BlockId> {
        depth.checked_sub(1).map(|p| chain[p])
    }

    /// Inserts a whole chain pinned, as a request that computed it would.
    fn insert_pinned(cache: &mut PrefixCache, blocks: &[BlockId]) -> Vec<BlockId> {
        let mut evicted = Vec::new();
        for (depth, &b) in blocks.iter().enumerate() {
            if let InsertOutcome::Inserted { evicted: Some(v) } = cache
                .insert(b, parent_of(blocks, depth), depth as u32, 0, Admit::Pinned)
                .unwrap()
            {
                evicted.push(v);
            }
        }
        evicted
    }

    /// Capacity 4. Request A computes [1,2,3] and finishes; request B shares [1,2] and adds 4,
    /// runs, and finishes; then C needs two new blocks [7,8].
    ///
    /// After A: evictable LRU order (released in reverse) = [3, 2, 1].
    /// B looks up [1,2,4]: hits 2 (1 and 2, touched 2 then 1 -> order [3, 2, 1]), pins 1 and 2
    /// (order [3]), inserts 4 pinned: 4 resident blocks, full. B finishes: releases 4, 2, 1
    /// -> order [3, 4, 2, 1].
    /// C inserts 7: evicts 3 (least recent); inserts 8: evicts 4. The shared head [1,2] stays.
    #[test]
    fn hand_worked_sequence() {
        let mut cache = PrefixCache::with_lru(4);
        let a = chain(&[1, 2, 3]);
        assert_eq!(cache.lookup(&a, 0), 0);
        assert!(insert_pinned(&mut cache, &a).is_empty());
        assert_eq!(cache.pinned_blocks(), 3);
        cache.unpin(&a, 10).unwrap();
        assert_eq!(cache.evictable_blocks(), 3);

        let b = chain(&[1, 2, 4]);
        let hits = cache.lookup(&b, 20);
        assert_eq!(hits, 2);
        cache.pin(&b[..hits]).unwrap();
        assert_eq!(
            cache.insert(b[2], Some(b[1]), 2, 20, Admit::Pinned),
            Ok(InsertOutcome::Inserted { evicted: None })
        );
        assert_eq!(cache.free_blocks(), 0);
        assert_eq!(cache.available_blocks(), 1); // block 3
        cache.unpin(&b, 30).unwrap();

        let c = chain(&[7, 8]);
        assert_eq!(insert_pinned(&mut cache, &c), chain(&[3, 4]));
        assert_eq!(cache.longest_prefix(&chain(&[1, 2, 3])), 2);
        assert_eq!(cache.occupancy(), 1.0);

        let s = cache.stats();
        assert_eq!((s.lookups, s.lookup_blocks, s.hit_blocks), (2, 6, 2));
        assert_eq!((s.inserts, s.evictions, s.full_failures), (6, 2, 0));
        assert!((s.block_hit_rate() - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn logged_victims_carry_their_chain_position() {
        let mut cache = PrefixCache::with_lru(2);
        cache.log_evictions();
        let a = chain(&[1, 2]);
        insert_pinned(&mut cache, &a);
        cache.unpin(&a, 5).unwrap();
        insert_pinned(&mut cache, &chain(&[9]));
        let mut out = Vec::new();
        cache.take_evicted(&mut out);
        let meta = BlockMeta {
            depth: 1,
            parent: Some(BlockId(1)),
            now_ns: 0,
        };
        assert_eq!(out, [(BlockId(2), meta)]);
        cache.take_evicted(&mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn full_of_pinned_blocks_refuses() {
        let mut cache = PrefixCache::with_lru(2);
        insert_pinned(&mut cache, &chain(&[1, 2]));
        let err = cache
            .insert(BlockId(3), None, 0, 0, Admit::Pinned)
            .unwrap_err();
        assert_eq!(
            err,
            CacheFull {
                needed: 1,
                available: 0
            }
        );
        let mut evicted = Vec::new();
        assert!(cache.allocate_private(1, 0, &mut evicted).is_err());
        assert_eq!(cache.stats().full_failures, 2);
        // Preempting the request frees room.
        cache.unpin(&chain(&[1, 2]), 0).unwrap();
        cache.allocate_private(2, 0, &mut evicted).unwrap();
        assert_eq!(evicted, chain(&[2, 1])); // tail first
        assert_eq!(cache.resident_blocks(), 0);
        cache.free_private(2);
        assert_eq!(cache.free_blocks(), 2);
    }

    #[test]
    fn misuse_is_reported_without_side_effects() {
        let mut cache = PrefixCache::with_lru(4);
        insert_pinned(&mut cache, &chain(&[1]));
        assert_eq!(
            cache.pin(&chain(&[1, 9])),
            Err(CacheError::NotResident(BlockId(9)))
        );
        assert_eq!(cache.pin_count(BlockId(1)), Some(1));
        assert_eq!(
            cache.unpin(&chain(&[1, 1]), 0),
            Err(CacheError::NotPinned(BlockId(1)))
        );
        assert_eq!(
            cache.remove(BlockId(1)),
            Err(CacheError::Pinned(BlockId(1)))
        );
        cache.unpin(&chain(&[1]), 0).unwrap();
        assert_eq!(
            cache.unpin(&chain(&[1]), 0),
            Err(CacheError::NotPinned(BlockId(1)))
        );
        assert_eq!(cache.remove(BlockId(1)), Ok(true));
        assert_eq!(cache.remove(BlockId(1)), Ok(false));
        assert_eq!(cache.available_blocks(), 4);
    }

    #[test]
    fn reinserting_a_resident_block_shares_it() {
        let mut cache = PrefixCache::with_lru(4);
        insert_pinned(&mut cache, &chain(&[1]));
        assert_eq!(
            cache.insert(BlockId(1), None, 0, 0, Admit::Pinned),
            Ok(InsertOutcome::AlreadyResident)
        );
        assert_eq!(cache.pin_count(BlockId(1)), Some(2));
        assert_eq!(cache.stats().inserts, 1);
        cache.unpin(&chain(&[1]), 0).unwrap();
        assert_eq!(cache.evictable_blocks(), 0);
        cache.unpin(&chain(&[1]), 0).unwrap();
        assert_eq!(cache.evictable_blocks(), 1);
    }

    /// A request's operations in the random workload.
    #[derive(Clone, Debug)]
    enum Op {
        /// Start a request on prefix `len` of base chain `base`: lookup, pin the hits, insert
        /// the rest pinned (stopping at the first CacheFull, as a scheduler would preempt).
        Start { base: u64, len: usize },
        /// Finish the `i % running`-th running request: unpin its blocks, free its private ones.
        Finish(usize),
        /// Give the `i % running`-th running request `n` private blocks (decode growth).
        Grow(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..4u64, 1..10usize).prop_map(|(base, len)| Op::Start { base, len }),
            2 => any::<usize>().prop_map(Op::Finish),
            1 => (any::<usize>(), 1..4usize).prop_map(|(i, n)| Op::Grow(i, n)),
        ]
    }

    #[derive(Debug, Default)]
    struct Running {
        cached: Vec<BlockId>,
        private: usize,
    }

    proptest! {
        /// Whatever the workload and the policy: occupancy never exceeds capacity, pinned blocks
        /// are never evicted and stay resident, the policy holds exactly the evictable blocks, and the
        /// pin counts equal the number of running requests holding each block.
        #[test]
        fn capacity_and_pins_are_respected(
            capacity in 1..24usize,
            policy in 0..EvictionConfig::ALL.len(),
            ops in prop::collection::vec(op(), 0..200),
        ) {
            // Belady's future: block i of base chain k is used at times k * 10 + i.
            let future = Arc::new(FutureUses::from_uses(
                (0..4u64).flat_map(|k| (0..10u64).map(move |i| (BlockId(k * 1000 + i), k * 10 + i))),
            ));
            let policy = EvictionConfig::ALL[policy].build(capacity, Some(&future)).unwrap();
            let mut cache = PrefixCache::new(capacity, policy);
            let mut running: Vec<Running> = Vec::new();
            let mut now = 0u64;
            for op in ops {
                now += 1;
                // Blocks pinned when the op starts; a request also pins its own as it goes.
                let pinned_before: Vec<BlockId> =
                    running.iter().flat_map(|r| r.cached.iter().copied()).collect();
                let mut evicted = Vec::new();
                match op {
                    Op::Start { base, len } => {
                        // Base chains share nothing; prefixes of one base share their heads.
                        let blocks: Vec<BlockId> =
                            (0..len as u64).map(|i| BlockId(base * 1000 + i)).collect();
                        let hits = cache.lookup(&blocks, now);
                        cache.pin(&blocks[..hits]).unwrap();
                        let mut held = blocks[..hits].to_vec();
                        for (depth, &b) in blocks.iter().enumerate().skip(hits) {
                            match cache.insert(b, parent_of(&blocks, depth), depth as u32, now, Admit::Pinned) {
                                Ok(InsertOutcome::Inserted { evicted: Some(v) }) => {
                                    prop_assert!(!held.contains(&v), "evicted its own pinned {:?}", v);
                                    evicted.push(v);
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                            held.push(b);
                        }
                        running.push(Running { cached: held, private: 0 });
                    }
                    Op::Finish(i) if !running.is_empty() => {
                        let r = running.remove(i % running.len());
                        cache.unpin(&r.cached, now).unwrap();
                        cache.free_private(r.private);
                    }
                    Op::Grow(i, n) if !running.is_empty() => {
                        let at = i % running.len();
                        if cache.allocate_private(n, now, &mut evicted).is_ok() {
                            running[at].private += n;
                        }
                    }
                    _ => {}
                }
                let mut pins: HashMap<BlockId, u32> = HashMap::new();
                for r in &running {
                    for &b in &r.cached {
                        *pins.entry(b).or_default() += 1;
                    }
                }
                for v in &evicted {
                    prop_assert!(!pinned_before.contains(v), "evicted pinned block {:?}", v);
                }
                for (&b, &n) in &pins {
                    prop_assert_eq!(cache.pin_count(b), Some(n));
                }
                prop_assert_eq!(cache.pinned_blocks(), pins.len());
                prop_assert!(cache.resident_blocks() + cache.private_blocks() <= capacity);
                prop_assert_eq!(cache.policy.len(), cache.evictable_blocks());
                prop_assert_eq!(
                    cache.private_blocks(),
                    running.iter().map(|r| r.private).sum::<usize>()
                );
            }
        }
    }
}
