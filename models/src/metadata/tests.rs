//! Concurrency of backends driven by hand: who wins a lock is decided by the order in which
//! the CASes reach the server (`on_remote`), and the loser pays a retry.

use super::chime::{Chime, ChimeConfig};
use super::sherman::{Sherman, ShermanConfig};
use super::*;
use crate::net::Verb;

fn client(node: u32, thread: u32) -> Client {
    Client {
        node,
        host: HostId(node),
        thread,
    }
}

fn verbs(step: &Step) -> Vec<Verb> {
    match step {
        Step::Verbs(w) | Step::Parallel(w) => w.iter().map(|o| o.verb).collect(),
        _ => Vec::new(),
    }
}

/// Delivers every WR of `step` at the server, then completes the step.
fn finish(b: &mut dyn MetadataBackend, id: OpId, step: &Step) -> Step {
    for i in 0..verbs(step).len() {
        b.on_remote(id, i, 0.0);
    }
    b.on_step_done(id, 0.0)
}

/// Runs `id` from `step` to the end, alone.
fn run_to_end(b: &mut dyn MetadataBackend, id: OpId, mut step: Step) -> (usize, Outcome) {
    let mut n = 0;
    loop {
        if let Step::Done(o) = step {
            return (n, o);
        }
        n += 1;
        step = finish(b, id, &step);
    }
}

#[test]
fn two_inserts_into_one_leaf_from_two_nodes_make_the_later_cas_retry() {
    // Sherman, HOCL on, but the writers are on different compute nodes: both CAS the same
    // on-chip lock; A's CAS arrives first, so B's fails and B retries once A has unlocked.
    let mut s = Sherman::new(ShermanConfig::default(), HostId(9), KeyOrder::BlockId);
    s.preload(&(0..20).map(|k| k * 2).collect::<Vec<_>>(), 2);
    let a = s.start(1, &MetaOp::new(OpKind::Insert, vec![11]), client(0, 0), 0.0);
    let b = s.start(2, &MetaOp::new(OpKind::Insert, vec![13]), client(1, 0), 0.0);
    assert_eq!(verbs(&a), vec![Verb::CompareSwap]);
    assert_eq!(verbs(&b), vec![Verb::CompareSwap]);
    s.on_remote(1, 0, 0.0);
    s.on_remote(2, 0, 0.0);
    let a2 = s.on_step_done(1, 0.0);
    let b2 = s.on_step_done(2, 0.0);
    assert_eq!(verbs(&a2), vec![Verb::Read]);
    assert_eq!(
        verbs(&b2),
        vec![Verb::CompareSwap],
        "B lost and retries the CAS"
    );
    let (_, oa) = run_to_end(&mut s, 1, a2);
    assert_eq!(oa.retries, 0);
    let (steps, ob) = run_to_end(&mut s, 2, b2);
    assert_eq!(steps, 3, "retried CAS, READ, WRITE+unlock");
    assert_eq!(ob.retries, 1);
    assert!(s.tree().contains(11) && s.tree().contains(13));
}

#[test]
fn hocl_hands_the_lock_to_a_local_waiter_without_a_cas() {
    let mut s = Sherman::new(ShermanConfig::default(), HostId(9), KeyOrder::BlockId);
    s.preload(&(0..20).map(|k| k * 2).collect::<Vec<_>>(), 1);
    let a = s.start(1, &MetaOp::new(OpKind::Insert, vec![11]), client(0, 0), 0.0);
    let b = s.start(2, &MetaOp::new(OpKind::Insert, vec![13]), client(0, 1), 0.0);
    assert_eq!(b, Step::Park, "B waits on the local lock");
    let a2 = finish(&mut s, 1, &a); // CAS won
    let a3 = finish(&mut s, 1, &a2); // READ
    // A's last write carries no unlock: the lock is handed to B.
    assert_eq!(verbs(&a3), vec![Verb::Write]);
    assert_eq!(
        finish(&mut s, 1, &a3),
        Step::Done(Outcome {
            found: 1,
            retries: 0
        })
    );
    let mut woken = Vec::new();
    s.take_wakeups(&mut woken);
    assert_eq!(woken, vec![2]);
    let b2 = s.on_step_done(2, 0.0);
    assert_eq!(verbs(&b2), vec![Verb::Read], "no CAS after a hand-over");
    let b3 = finish(&mut s, 2, &b2);
    assert_eq!(verbs(&b3), vec![Verb::Write, Verb::Write], "entry + unlock");
    assert!(matches!(finish(&mut s, 2, &b3), Step::Done(_)));
}

#[test]
fn chime_threads_of_one_node_compete_for_the_leaf_lock() {
    let mut c = Chime::new(ChimeConfig::default(), HostId(9), KeyOrder::BlockId);
    c.preload(&(0..20).map(|k| k * 2).collect::<Vec<_>>(), 1);
    let a = c.start(1, &MetaOp::new(OpKind::Insert, vec![11]), client(0, 0), 0.0);
    let b = c.start(2, &MetaOp::new(OpKind::Insert, vec![13]), client(0, 1), 0.0);
    c.on_remote(1, 0, 0.0);
    c.on_remote(2, 0, 0.0);
    let a2 = c.on_step_done(1, 0.0);
    let b2 = c.on_step_done(2, 0.0);
    assert!(verbs(&a2).iter().all(|&v| v == Verb::Read));
    assert_eq!(verbs(&b2), vec![Verb::CompareSwap]);
    let _ = (a, b);
    run_to_end(&mut c, 1, a2);
    let (_, ob) = run_to_end(&mut c, 2, b2);
    assert_eq!(ob.retries, 1);
}

#[test]
fn concurrent_gets_of_one_key_share_a_read_in_chime() {
    let mut c = Chime::new(ChimeConfig::default(), HostId(9), KeyOrder::BlockId);
    c.preload(&(0..100).collect::<Vec<_>>(), 1);
    let a = c.start(1, &MetaOp::new(OpKind::Get, vec![42]), client(0, 0), 0.0);
    let b = c.start(2, &MetaOp::new(OpKind::Get, vec![42]), client(0, 1), 0.0);
    assert_eq!(b, Step::Park);
    assert!(matches!(finish(&mut c, 1, &a), Step::Done(_)));
    let mut woken = Vec::new();
    c.take_wakeups(&mut woken);
    assert_eq!(woken, vec![2]);
    assert_eq!(
        c.on_step_done(2, 0.0),
        Step::Done(Outcome {
            found: 1,
            retries: 0
        })
    );
}

#[test]
fn runs_follow_the_paper_definition() {
    assert_eq!(
        consecutive_runs(&[0, 14, 15, 16, 3, 9, 10]),
        vec![(0, 1), (1, 3), (4, 1), (5, 2)]
    );
    assert!(consecutive_runs(&[]).is_empty());
    let ops = plan_gets_and_ranges(&[0, 14, 15, 16, 3], &[(0, 1), (1, 3), (4, 1)]);
    let kinds: Vec<OpKind> = ops.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, vec![OpKind::Get, OpKind::Range, OpKind::Get]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the insert order, every inserted key is found and leaves stay within
        /// capacity; the structure never loses a key through splits.
        #[test]
        fn trees_keep_every_key(keys in proptest::collection::vec(0u64..5000, 1..600)) {
            let mut s = Sherman::new(ShermanConfig::default(), HostId(1), KeyOrder::BlockId);
            let mut c = Chime::new(ChimeConfig::default(), HostId(1), KeyOrder::BlockId);
            s.preload(&keys, 0);
            c.preload(&keys, 0);
            let mut uniq = keys.clone();
            uniq.sort_unstable();
            uniq.dedup();
            prop_assert_eq!(s.keys_stored(), uniq.len() as u64);
            prop_assert_eq!(c.keys_stored(), uniq.len() as u64);
            for &k in &uniq {
                prop_assert!(s.tree().contains(k));
                prop_assert!(c.tree().contains(k));
            }
            for l in 0..s.tree().leaf_count() as u32 {
                prop_assert!(s.tree().leaf(l).keys.len() <= sherman::LEAF_CAPACITY);
            }
        }
    }
}
