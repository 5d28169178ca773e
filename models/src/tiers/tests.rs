//! Hand-worked movements and costs of a hierarchy, global against local pools, and the
//! capacity invariant under random traffic.

use proptest::prelude::*;

use super::*;
use crate::cache::{BlockId, BlockMeta, EvictionConfig};

const MB: u64 = 1_000_000;

fn tier(kind: TierKind, capacity: u64) -> TierConfig {
    TierConfig {
        kind,
        capacity_blocks: Some(capacity),
        capacity_gb: None,
        read_gb_per_s: None,
        write_gb_per_s: None,
        latency_us: None,
        eviction: EvictionConfig::Lru,
        write: WritePolicy::Eviction,
        shared: None,
    }
}

fn hierarchy(tiers: &[TierConfig], placement: PlacementConfig, instances: usize) -> TierHierarchy {
    let setup = TierSetup {
        tiers: tiers.iter().map(|t| t.resolve(MB).unwrap()).collect(),
        placement,
        links: LinkConfig::default(),
        overlap: LoadOverlap::None,
        instances,
        tensor_parallel: 1,
        block_bytes: MB,
        layers: 32,
    };
    TierHierarchy::new(&setup, None).unwrap()
}

fn m(depth: u32) -> BlockMeta {
    BlockMeta {
        depth,
        parent: None,
        now_ns: 0,
    }
}

fn ids(v: &[u64]) -> Vec<BlockId> {
    v.iter().copied().map(BlockId).collect()
}

/// DRAM and SSD of 2 blocks each (LRU), 1 MB blocks. HBM evicts 1, 2, 3: DRAM takes 1 and 2,
/// then 3 pushes 1 (its LRU) down to the SSD. A prompt [1, 2, 3, 4] then finds 3 blocks below
/// HBM: 2 and 3 in DRAM, 1 in the SSD. Its load at t = 1 s is two transfers sharing the PCIe
/// host-to-device link:
///   DRAM: 2 MB at min(77, 50.41) GB/s = 39,673 ns, + 0.1 us DRAM + 1 us PCIe latency;
///   SSD:  waits for the PCIe link (39,673 ns), then 1 MB at 6.9 GB/s = 144,928 ns,
///         + 80 us SSD + 1 us PCIe latency.
#[test]
fn hand_worked_cascade_and_load() {
    let mut h = hierarchy(
        &[tier(TierKind::Dram, 2), tier(TierKind::Ssd, 2)],
        PlacementConfig::Cascade,
        1,
    );
    for b in [1, 2, 3] {
        h.evicted_from_hbm(0, BlockId(b), m(0));
    }
    assert_eq!(h.resident_blocks(0, TierKind::Dram), 2);
    assert_eq!(h.resident_blocks(0, TierKind::Ssd), 1);
    let c = h.totals(0);
    assert_eq!((c[HBM].evictions, c[HBM].bytes_read), (3, 3 * MB));
    assert_eq!(
        (c[1].bytes_written, c[1].bytes_read, c[1].evictions),
        (3 * MB, MB, 1)
    );
    assert_eq!(c[2].bytes_written, MB);

    let chain = ids(&[1, 2, 3, 4]);
    assert_eq!(h.continuation(0, &chain, 0), 3);
    let t = 1_000_000_000;
    let load = h.load(0, &chain, 0, 3, t);
    assert_eq!(load.blocks, [0, 2, 1, 0]);
    let pcie = LinkConfig::default().pcie_bytes_per_s().unwrap();
    let dram_hold = (2e6 / pcie * 1e9).ceil() as u64;
    assert_eq!(dram_hold, 39_673);
    let ssd_hold = (1e6_f64 / 6.9e9 * 1e9).ceil() as u64;
    assert_eq!(load.ready_ns, t + dram_hold + ssd_hold + 80_000 + 1_000);
    let c = h.totals(0);
    assert_eq!((c[1].hit_blocks, c[2].hit_blocks), (2, 1));
    assert_eq!(c[HBM].bytes_written, 3 * MB);
    // Loading copies: the blocks stay below, so evicting them from HBM again moves nothing.
    h.evicted_from_hbm(0, BlockId(2), m(1));
    assert_eq!(h.totals(0)[1].bytes_written, 3 * MB);
}

/// Hotness: a block found by 2 lookups is hot. Cold 5 evicted from HBM skips DRAM for the
/// SSD; hot 6 goes to DRAM; cold 5, once loaded twice from the SSD, becomes hot and the
/// second load also copies it into DRAM.
#[test]
fn hotness_placement() {
    let mut h = hierarchy(
        &[tier(TierKind::Dram, 4), tier(TierKind::Ssd, 4)],
        PlacementConfig::Hotness { hot_hits: 2 },
        1,
    );
    h.hbm_hits(0, &ids(&[6, 6]));
    h.evicted_from_hbm(0, BlockId(5), m(0));
    h.evicted_from_hbm(0, BlockId(6), m(0));
    assert_eq!(h.resident_blocks(0, TierKind::Dram), 1); // 6
    assert_eq!(h.resident_blocks(0, TierKind::Ssd), 1); // 5
    let five = ids(&[5]);
    h.load(0, &five, 0, 1, 0);
    assert_eq!(h.resident_blocks(0, TierKind::Dram), 1);
    h.load(0, &five, 0, 1, 0);
    assert_eq!(h.resident_blocks(0, TierKind::Dram), 2); // replicated
    assert_eq!(h.load(0, &five, 0, 1, 0).blocks, [0, 1, 0, 0]); // now read from DRAM
}

/// A shared pool with write-through: what instance 0 computes, instance 1 finds. Per-instance
/// pools (half the capacity each) do not share.
#[test]
fn global_pool_shares_across_instances() {
    let pool = TierConfig {
        write: WritePolicy::Computed,
        ..tier(TierKind::Remote, 8)
    };
    let chain = ids(&[1, 2, 3]);
    let mut global = hierarchy(std::slice::from_ref(&pool), PlacementConfig::Cascade, 2);
    global.computed(0, &chain, 0, 0);
    assert_eq!(global.continuation(1, &chain, 0), 3);
    let load = global.load(1, &chain, 0, 3, 0);
    assert_eq!(load.blocks, [0, 0, 0, 3]);
    assert_eq!(global.totals(0)[3].bytes_written, 3 * MB);
    assert_eq!(global.totals(1)[3].bytes_read, 3 * MB);
    let local = TierConfig {
        shared: Some(false),
        ..pool
    };
    let mut local = hierarchy(&[local], PlacementConfig::Cascade, 2);
    local.computed(0, &chain, 0, 0);
    assert_eq!(local.continuation(1, &chain, 0), 0);
    assert_eq!(local.continuation(0, &chain, 0), 3);
}

#[derive(Clone, Debug)]
enum Op {
    Evict(usize, u64),
    Load(usize, u64, usize),
    Computed(usize, u64, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..30u64).prop_map(|(i, b)| Op::Evict(i, b)),
        (0..2usize, 0..3u64, 1..6usize).prop_map(|(i, base, len)| Op::Load(i, base, len)),
        (0..2usize, 0..3u64, 1..6usize).prop_map(|(i, base, len)| Op::Computed(i, base, len)),
    ]
}

proptest! {
    /// No tier ever exceeds its capacity, whatever the policies, the placement and the traffic.
    #[test]
    fn tiers_never_exceed_capacity(
        caps in (0..6u64, 0..6u64, 0..8u64),
        policy in 0..EvictionConfig::ALL.len() - 1,
        hot in any::<bool>(),
        ops in prop::collection::vec(op(), 0..200),
    ) {
        let eviction = EvictionConfig::ALL[policy];
        let tiers = [
            TierConfig { eviction, ..tier(TierKind::Dram, caps.0 * 2) },
            TierConfig { eviction, ..tier(TierKind::Ssd, caps.1 * 2) },
            TierConfig { eviction, write: WritePolicy::Computed, ..tier(TierKind::Remote, caps.2) },
        ];
        let placement = if hot { PlacementConfig::Hotness { hot_hits: 2 } } else { PlacementConfig::Cascade };
        let mut h = hierarchy(&tiers, placement, 2);
        for (t, op) in ops.into_iter().enumerate() {
            let now = t as u64 * 1000;
            match op {
                Op::Evict(i, b) => h.evicted_from_hbm(i, BlockId(b), BlockMeta { now_ns: now, ..m(0) }),
                Op::Load(i, base, len) => {
                    let chain: Vec<BlockId> = (0..len as u64).map(|d| BlockId(base * 100 + d)).collect();
                    let n = h.continuation(i, &chain, 0);
                    let load = h.load(i, &chain, 0, n, now);
                    prop_assert!(load.ready_ns >= now);
                    prop_assert_eq!(load.blocks.iter().sum::<u64>(), n as u64);
                }
                Op::Computed(i, base, len) => {
                    let chain: Vec<BlockId> = (0..len as u64).map(|d| BlockId(base * 100 + d)).collect();
                    h.computed(i, &chain, 0, now);
                }
            }
            for i in 0..2 {
                prop_assert!(h.resident_blocks(i, TierKind::Dram) as u64 <= caps.0);
                prop_assert!(h.resident_blocks(i, TierKind::Ssd) as u64 <= caps.1);
                prop_assert!(h.resident_blocks(i, TierKind::Remote) as u64 <= caps.2);
            }
        }
    }
}
