//! Test harness shared by the policies: replays through the real replay engine, slow reference
//! caches, random access sequences and the trait-contract check.

use std::collections::HashSet;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{
    BlockId, BlockMeta, EvictionPolicy, InsertReason, RemoveReason, ReplayTrace, replay_each,
};

pub(crate) const META: BlockMeta = BlockMeta {
    depth: 0,
    parent: None,
    now_ns: 0,
};

pub(crate) fn b(id: u64) -> BlockId {
    BlockId(id)
}

/// A cache algorithm written the obvious way: one access, hit or miss, the cache evicting and
/// inserting as it sees fit while holding at most `capacity` blocks.
pub(crate) trait Reference {
    fn access(&mut self, block: u64, capacity: usize) -> bool;
}

/// Hits of a replay in which every access is a one-block request (so lookups and accesses
/// coincide), block ids as given (the replay renumbers them densely, which no policy sees).
pub(crate) fn replay_hits(
    policy: &mut dyn EvictionPolicy,
    capacity: usize,
    accesses: &[u64],
) -> Vec<bool> {
    let trace = ReplayTrace::from_chains(accesses.iter().map(|&a| [a]));
    let mut hits = Vec::new();
    replay_each(&trace, policy, capacity, |_, h, _, _| hits.push(h == 1));
    hits
}

/// Random access sequences over a small universe, so blocks recur often.
pub(crate) fn accesses() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(0..20u64, 0..300)
}

/// Random prefix-chained requests: a prefix of one of four base chains (ids `base * 100 + i`,
/// so each id always has the same parent), as in the traces.
pub(crate) fn chains() -> impl Strategy<Value = Vec<Vec<u64>>> {
    prop::collection::vec(
        (0..4u64, 1..7u64).prop_map(|(base, len)| (0..len).map(|i| base * 100 + i).collect()),
        0..80,
    )
}

/// Replays `accesses` through the policy and the reference and checks they hit alike.
pub(crate) fn check_against_reference(
    policy: &mut dyn EvictionPolicy,
    reference: &mut dyn Reference,
    capacity: usize,
    accesses: &[u64],
) -> Result<(), TestCaseError> {
    let fast = replay_hits(policy, capacity, accesses);
    let slow: Vec<bool> = accesses
        .iter()
        .map(|&a| reference.access(a, capacity))
        .collect();
    prop_assert_eq!(fast, slow);
    Ok(())
}

/// One call of the trait.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Insert(u64),
    Touch(u64),
    Pin(u64),
    Drop(u64),
    Pop,
}

pub(crate) fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..24u64).prop_map(Op::Insert),
        2 => (0..24u64).prop_map(Op::Touch),
        1 => (0..24u64).prop_map(Op::Pin),
        1 => (0..24u64).prop_map(Op::Drop),
        2 => Just(Op::Pop),
    ];
    prop::collection::vec(op, 0..300)
}

/// Checks the trait contract under arbitrary calls: the policy holds exactly the blocks
/// inserted and not since removed or popped, victims are held blocks, `remove` says whether
/// the block was held, and a pinned (removed with `Pinned`) block is never a victim.
pub(crate) fn check_contract(
    policy: &mut dyn EvictionPolicy,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut held: HashSet<u64> = HashSet::new();
    let mut pinned: HashSet<u64> = HashSet::new();
    for (t, op) in ops.iter().enumerate() {
        let meta = BlockMeta {
            depth: 0,
            parent: None,
            now_ns: t as u64,
        };
        match *op {
            Op::Insert(id) => {
                // An owner inserts evictable blocks, and unpinned ones with `Unpinned`.
                let reason = if pinned.remove(&id) {
                    InsertReason::Unpinned
                } else {
                    InsertReason::Admitted
                };
                policy.insert(b(id), meta, reason);
                held.insert(id);
            }
            Op::Touch(id) => policy.touch(b(id), meta),
            Op::Pin(id) => {
                let was = held.remove(&id);
                prop_assert_eq!(policy.remove(b(id), RemoveReason::Pinned), was);
                if was {
                    pinned.insert(id);
                }
            }
            Op::Drop(id) if !pinned.contains(&id) => {
                prop_assert_eq!(
                    policy.remove(b(id), RemoveReason::Dropped),
                    held.remove(&id)
                );
            }
            Op::Drop(_) => {}
            Op::Pop => match policy.pop_victim(meta.now_ns) {
                Some(v) => {
                    prop_assert!(held.remove(&v.0), "victim {} not held", v.0);
                    prop_assert!(!pinned.contains(&v.0), "victim {} pinned", v.0);
                }
                None => prop_assert!(held.is_empty()),
            },
        }
        prop_assert_eq!(policy.len(), held.len());
        for id in 0..24 {
            prop_assert_eq!(policy.contains(b(id)), held.contains(&id), "block {}", id);
        }
    }
    Ok(())
}
