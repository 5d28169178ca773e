//! [`TierHierarchy`]: the tiers below HBM of a whole cluster, the movement rule between them,
//! and the cost of every move on the path resources.

use std::hash::BuildHasherDefault;
use std::sync::Arc;

use super::config::{LinkConfig, LoadOverlap, PlacementConfig, TierKind, TierSpec, WritePolicy};
use super::resource::{FifoServer, ResourceId, Resources};
use super::store::BlockStore;
use crate::cache::{BlockId, BlockMap, BlockMeta, FutureUses, PolicyError};
use crate::hardware::InvalidField;

/// Counters of one tier (HBM or a lower one) as seen from one instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierCounters {
    /// Prompt blocks found in this tier by the instance's lookups (for HBM: its prefix hits;
    /// for a lower tier: blocks it served, loaded into HBM).
    pub hit_blocks: u64,
    /// Bytes read out of this tier (loads up, moves down).
    pub bytes_read: u64,
    /// Bytes written into this tier (loads into HBM; demotions and write-through below).
    pub bytes_written: u64,
    /// Blocks evicted from this tier.
    pub evictions: u64,
}

impl TierCounters {
    fn add(&mut self, other: &TierCounters) {
        self.hit_blocks += other.hit_blocks;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.evictions += other.evictions;
    }
}

/// Tier index of HBM in counter arrays; lower tiers follow by [`TierKind`].
pub const HBM: usize = 0;

/// Counter index of a lower tier kind: 1 DRAM, 2 SSD, 3 remote.
pub fn tier_index(kind: TierKind) -> usize {
    match kind {
        TierKind::Dram => 1,
        TierKind::Ssd => 2,
        TierKind::Remote => 3,
    }
}

/// Names of the counter indices: `hbm`, `dram`, `ssd`, `remote`.
pub const TIER_NAMES: [&str; 4] = ["hbm", "dram", "ssd", "remote"];

/// What a load of a request's lower-tier blocks costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// Blocks loaded from each tier, by counter index (HBM's entry is 0).
    pub blocks: [u64; 4],
    /// When the prefill may start: every block arrived (or, layer by layer, the first
    /// layer's share).
    pub ready_ns: u64,
}

/// Everything needed to build a hierarchy.
#[derive(Clone, Debug)]
pub struct TierSetup {
    /// Tiers below HBM, fastest first: the order blocks move down in. At most one of each kind.
    pub tiers: Vec<TierSpec>,
    /// Where evicted and loaded blocks go.
    pub placement: PlacementConfig,
    /// The links of each instance.
    pub links: LinkConfig,
    /// How loads overlap prefills.
    pub overlap: LoadOverlap,
    /// Instances of the cluster.
    pub instances: usize,
    /// GPUs per instance (each has its own PCIe link).
    pub tensor_parallel: u64,
    /// Bytes of one KV block over the whole instance.
    pub block_bytes: u64,
    /// Layers of the model (for layer-by-layer overlap).
    pub layers: u64,
}

#[derive(Debug)]
struct Level {
    spec: TierSpec,
    /// One store per instance, or one for the cluster when shared.
    stores: Vec<BlockStore>,
    read: Vec<ResourceId>,
    write: Vec<ResourceId>,
}

impl Level {
    fn store_of(&self, instance: usize) -> usize {
        if self.spec.shared { 0 } else { instance }
    }
}

/// The tiers below HBM of a cluster and the movement rule:
///
/// ```text
///            evict (write-back)            evict               evict
///   HBM ───────────────────────▶ DRAM ─────────────▶ SSD ─────────────▶ remote ──▶ (dropped)
///    ▲  ◀── load at admission ── any lower tier holding the next blocks of the prompt
///    │      (copy: the lower copy stays, so evicting it again later moves no bytes)
///    └── computed blocks also written to tiers with `write: computed` (write-through)
/// ```
///
/// * **Lookup** ([`continuation`](Self::continuation)): after the prompt's HBM prefix, the
///   longest run of following blocks each held by some lower tier of the instance (or the
///   shared pool, whose metadata lookup is modelled as taking no time). A block found in
///   several tiers is read from the first (fastest) one.
/// * **Load** ([`load`](Self::load)): one transfer per tier, `blocks x block_bytes` through
///   the tier's read port and the links to the GPU, reserved at admission; the prefill waits
///   until the last arrives.
/// * **Demotion** ([`evicted_from_hbm`](Self::evicted_from_hbm)): a block evicted from HBM is
///   written to the next tier (if not already there, in which case it is only touched); that
///   tier's own victim moves one tier further down, and so on; the last tier's victims are
///   dropped.
/// * **Placement** ([`PlacementConfig`]): `cascade` as above; `hotness` keeps the first lower
///   tier for hot blocks (found by at least `hot_hits` lookups): a cold block evicted from HBM
///   goes straight to the second lower tier, and a hot block loaded from the second or a later
///   tier is also copied into the first.
///
/// Transfers and their paths (per instance unless shared), each a [`FifoServer`]:
///
/// ```text
///   DRAM  <-> HBM : dram read/write port + PCIe (host-to-device / device-to-host)
///   SSD   <-> HBM : SSD read/write port  + PCIe
///   pool  <-> HBM : pool read/write port (memory nodes' NICs) + instance NIC (rx/tx) + PCIe
///   tier  <-> tier: the source's read port (+ NIC) and the target's write port (+ NIC)
/// ```
///
/// Writes are asynchronous (a block is in its new tier at once); they hold their path, so a
/// later load on a common resource queues behind them.
#[derive(Debug)]
pub struct TierHierarchy {
    levels: Vec<Level>,
    resources: Resources,
    pcie_h2d: Vec<ResourceId>,
    pcie_d2h: Vec<ResourceId>,
    nic_tx: Vec<ResourceId>,
    nic_rx: Vec<ResourceId>,
    placement: PlacementConfig,
    overlap: LoadOverlap,
    layers: u64,
    block_bytes: u64,
    /// Lookups that found each block (hotness placement only).
    hits: BlockMap<u32>,
    /// Per instance, per counter index: since the start, and since the last `take_interval`.
    totals: Vec<[TierCounters; 4]>,
    interval: Vec<[TierCounters; 4]>,
    path: Vec<ResourceId>,
}

/// Why a hierarchy cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TierError {
    /// A value out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// A tier's policy cannot be built.
    #[error("tier {tier}: {source}")]
    Policy {
        /// Tier kind.
        tier: &'static str,
        /// Why.
        source: PolicyError,
    },
}

impl TierError {
    /// True: a tier's values or policy are the scenario's.
    pub fn is_user_error(&self) -> bool {
        match self {
            TierError::Invalid(e) => e.is_user_error(),
            TierError::Policy { source, .. } => source.is_user_error(),
        }
    }
}

impl TierHierarchy {
    /// Builds the tiers; `future` is given to Belady tiers.
    pub fn new(setup: &TierSetup, future: Option<&Arc<FutureUses>>) -> Result<Self, TierError> {
        setup.links.validate()?;
        let n = setup.instances;
        let mut resources = Resources::default();
        let tp = setup.tensor_parallel.max(1) as f64;
        let pcie_bw = setup.links.pcie_bytes_per_s()? * tp;
        let pcie_latency = (setup.links.pcie_latency_us * 1e3).round() as u64;
        let nic_bw = setup.links.nic_bytes_per_s() * tp;
        let mut add = |name: String, bw: f64, latency: u64| {
            resources.add(Box::new(FifoServer::new(name, bw, latency)))
        };
        let pcie_h2d = (0..n)
            .map(|i| add(format!("pcie-h2d[{i}]"), pcie_bw, pcie_latency))
            .collect();
        let pcie_d2h = (0..n)
            .map(|i| add(format!("pcie-d2h[{i}]"), pcie_bw, pcie_latency))
            .collect();
        let nic_tx = (0..n)
            .map(|i| add(format!("nic-tx[{i}]"), nic_bw, 0))
            .collect();
        let nic_rx = (0..n)
            .map(|i| add(format!("nic-rx[{i}]"), nic_bw, 0))
            .collect();
        let mut levels: Vec<Level> = Vec::new();
        for spec in &setup.tiers {
            if levels.iter().any(|l| l.spec.kind == spec.kind) {
                return Err(InvalidField::new(
                    "kind",
                    spec.kind.name(),
                    "each tier kind at most once",
                )
                .into());
            }
            let stores = if spec.shared { 1 } else { n };
            let capacity = if spec.shared {
                spec.capacity_blocks
            } else {
                spec.capacity_blocks / n as u64
            } as usize;
            let name = spec.kind.name();
            let stores_v = (0..stores)
                .map(|_| {
                    let policy = spec
                        .eviction
                        .build(capacity, future)
                        .map_err(|source| TierError::Policy { tier: name, source })?;
                    Ok(BlockStore::new(capacity, policy))
                })
                .collect::<Result<Vec<_>, TierError>>()?;
            let read = (0..stores)
                .map(|s| {
                    add(
                        format!("{name}-read[{s}]"),
                        spec.read_bytes_per_s,
                        spec.latency_ns,
                    )
                })
                .collect();
            let write = (0..stores)
                .map(|s| {
                    add(
                        format!("{name}-write[{s}]"),
                        spec.write_bytes_per_s,
                        spec.latency_ns,
                    )
                })
                .collect();
            levels.push(Level {
                spec: spec.clone(),
                stores: stores_v,
                read,
                write,
            });
        }
        Ok(TierHierarchy {
            levels,
            resources,
            pcie_h2d,
            pcie_d2h,
            nic_tx,
            nic_rx,
            placement: setup.placement,
            overlap: setup.overlap,
            layers: setup.layers.max(1),
            block_bytes: setup.block_bytes,
            hits: BlockMap::with_hasher(BuildHasherDefault::default()),
            totals: vec![[TierCounters::default(); 4]; n],
            interval: vec![[TierCounters::default(); 4]; n],
            path: Vec::with_capacity(6),
        })
    }

    /// The tiers, fastest first.
    pub fn kinds(&self) -> impl Iterator<Item = TierKind> + '_ {
        self.levels.iter().map(|l| l.spec.kind)
    }

    /// Blocks held by tier `kind` in the store instance `instance` uses.
    pub fn resident_blocks(&self, instance: usize, kind: TierKind) -> usize {
        self.levels
            .iter()
            .find(|l| l.spec.kind == kind)
            .map_or(0, |l| l.stores[l.store_of(instance)].len())
    }

    /// Counters of `instance` since the start, by counter index ([`TIER_NAMES`]).
    pub fn totals(&self, instance: usize) -> &[TierCounters; 4] {
        &self.totals[instance]
    }

    /// Counters of `instance` since the previous call, by counter index; resets them.
    pub fn take_interval(&mut self, instance: usize) -> [TierCounters; 4] {
        std::mem::take(&mut self.interval[instance])
    }

    /// Counters summed over instances.
    pub fn cluster_totals(&self) -> [TierCounters; 4] {
        let mut sum = [TierCounters::default(); 4];
        for t in &self.totals {
            for (s, c) in sum.iter_mut().zip(t) {
                s.add(c);
            }
        }
        sum
    }

    fn count(&mut self, instance: usize, tier: usize, f: impl Fn(&mut TierCounters)) {
        f(&mut self.totals[instance][tier]);
        f(&mut self.interval[instance][tier]);
    }

    fn is_hot(&self, block: BlockId) -> bool {
        match self.placement {
            PlacementConfig::Cascade => false,
            PlacementConfig::Hotness { hot_hits } => {
                self.hits.get(&block).is_some_and(|&h| h >= hot_hits)
            }
        }
    }

    fn note_hit(&mut self, block: BlockId) {
        if matches!(self.placement, PlacementConfig::Hotness { .. }) {
            *self.hits.entry(block).or_insert(0) += 1;
        }
    }

    /// Records the HBM prefix hits of an admitted request (counters and hotness).
    pub fn hbm_hits(&mut self, instance: usize, hits: &[BlockId]) {
        self.count(instance, HBM, |c| c.hit_blocks += hits.len() as u64);
        for &b in hits {
            self.note_hit(b);
        }
    }

    /// The level holding `block` for `instance`, fastest first.
    fn level_of(&self, instance: usize, block: BlockId) -> Option<usize> {
        self.levels
            .iter()
            .position(|l| l.stores[l.store_of(instance)].contains(block))
    }

    /// How many blocks of `chain[from..]` (the blocks after the HBM prefix) the lower tiers
    /// hold in a row for `instance`. Pure.
    pub fn continuation(&self, instance: usize, chain: &[BlockId], from: usize) -> usize {
        chain[from..]
            .iter()
            .take_while(|&&b| self.level_of(instance, b).is_some())
            .count()
    }

    /// Path out of level `l` (or HBM for `None`) for `instance`.
    fn push_out(&mut self, instance: usize, level: Option<usize>) {
        match level {
            None => self.path.push(self.pcie_d2h[instance]),
            Some(l) => {
                let lv = &self.levels[l];
                self.path.push(lv.read[lv.store_of(instance)]);
                if lv.spec.kind == TierKind::Remote {
                    self.path.push(self.nic_rx[instance]);
                }
            }
        }
    }

    /// Path into level `l` (or HBM for `None`) for `instance`.
    fn push_in(&mut self, instance: usize, level: Option<usize>) {
        match level {
            None => self.path.push(self.pcie_h2d[instance]),
            Some(l) => {
                let lv = &self.levels[l];
                if lv.spec.kind == TierKind::Remote {
                    self.path.push(self.nic_tx[instance]);
                }
                self.path.push(lv.write[lv.store_of(instance)]);
            }
        }
    }

    /// Reserves a move of `blocks` blocks from `from` to `to` (`None` = HBM); counts bytes.
    fn transfer(
        &mut self,
        instance: usize,
        from: Option<usize>,
        to: Option<usize>,
        blocks: u64,
        now_ns: u64,
    ) -> u64 {
        self.path.clear();
        self.push_out(instance, from);
        self.push_in(instance, to);
        let bytes = blocks * self.block_bytes;
        let path = std::mem::take(&mut self.path);
        let end = self.resources.transfer(&path, now_ns, bytes).end_ns;
        self.path = path;
        let index = |l: Option<usize>| l.map_or(HBM, |l| tier_index(self.levels[l].spec.kind));
        let (src, dst) = (index(from), index(to));
        self.count(instance, src, |c| c.bytes_read += bytes);
        self.count(instance, dst, |c| c.bytes_written += bytes);
        end
    }

    /// Loads `chain[from..from + n]` (which [`continuation`](Self::continuation) found) into
    /// HBM for `instance`: touches the blocks where they are, reserves one transfer per tier,
    /// and replicates hot blocks into the first lower tier under hotness placement.
    pub fn load(
        &mut self,
        instance: usize,
        chain: &[BlockId],
        from: usize,
        n: usize,
        now_ns: u64,
    ) -> Load {
        let mut per_level = [0u64; 4];
        let mut replicate: Vec<(BlockId, BlockMeta)> = Vec::new();
        for depth in from..from + n {
            let block = chain[depth];
            let l = self
                .level_of(instance, block)
                .expect("continuation found it");
            self.note_hit(block);
            let lv = &mut self.levels[l];
            let s = lv.store_of(instance);
            lv.stores[s].touch(block, now_ns);
            per_level[l] += 1;
            if l >= 1 && self.is_hot(block) {
                let parent = depth.checked_sub(1).map(|p| chain[p]);
                replicate.push((block, meta(depth, parent, now_ns)));
            }
        }
        let mut load = Load {
            blocks: [0; 4],
            ready_ns: now_ns,
        };
        for (l, &count) in per_level.iter().enumerate().take(self.levels.len()) {
            if count == 0 {
                continue;
            }
            let tier = tier_index(self.levels[l].spec.kind);
            load.blocks[tier] = count;
            self.count(instance, tier, |c| c.hit_blocks += count);
            let end = self.transfer(instance, Some(l), None, count, now_ns);
            load.ready_ns = load.ready_ns.max(end);
        }
        if self.overlap == LoadOverlap::Layerwise {
            load.ready_ns = now_ns + (load.ready_ns - now_ns).div_ceil(self.layers);
        }
        for (block, m) in replicate {
            self.place(instance, None, 0, block, m);
        }
        load
    }

    /// A block evicted from `instance`'s HBM: moved down by the placement rule.
    pub fn evicted_from_hbm(&mut self, instance: usize, block: BlockId, meta: BlockMeta) {
        self.count(instance, HBM, |c| c.evictions += 1);
        let target = match self.placement {
            PlacementConfig::Hotness { .. } if !self.is_hot(block) => 1,
            _ => 0,
        };
        if target < self.levels.len() {
            self.place(instance, None, target, block, meta);
        }
    }

    /// Blocks a prefill computed (`chain[from..]`): written through to every tier with
    /// `write: computed` that does not hold them yet.
    pub fn computed(&mut self, instance: usize, chain: &[BlockId], from: usize, now_ns: u64) {
        for l in 0..self.levels.len() {
            if self.levels[l].spec.write != WritePolicy::Computed {
                continue;
            }
            for depth in from..chain.len() {
                let parent = depth.checked_sub(1).map(|p| chain[p]);
                self.place(instance, None, l, chain[depth], meta(depth, parent, now_ns));
            }
        }
    }

    /// Writes `block` from `from` (`None` = HBM) into level `to`, unless it is there already
    /// (then it is touched); the victim it displaces moves on to the next level.
    fn place(
        &mut self,
        instance: usize,
        from: Option<usize>,
        to: usize,
        block: BlockId,
        meta: BlockMeta,
    ) {
        let (mut from, mut to, mut block, mut meta) = (from, to, block, meta);
        loop {
            let lv = &mut self.levels[to];
            let s = lv.store_of(instance);
            if lv.stores[s].contains(block) {
                lv.stores[s].touch(block, meta.now_ns);
                return;
            }
            let Ok(victim) = lv.stores[s].insert(block, meta) else {
                return; // a tier of capacity 0 keeps nothing
            };
            self.transfer(instance, from, Some(to), 1, meta.now_ns);
            let Some((v, vmeta)) = victim else { return };
            let tier = tier_index(self.levels[to].spec.kind);
            self.count(instance, tier, |c| c.evictions += 1);
            if to + 1 >= self.levels.len() {
                return;
            }
            (from, to, block) = (Some(to), to + 1, v);
            meta = BlockMeta {
                now_ns: meta.now_ns,
                ..vmeta
            };
        }
    }
}

fn meta(depth: usize, parent: Option<BlockId>, now_ns: u64) -> BlockMeta {
    BlockMeta {
        depth: depth as u32,
        parent,
        now_ns,
    }
}
