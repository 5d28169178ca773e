//! Hand-computed plans on a mock instance.

use super::*;

/// A mock instance: victims are the running requests listed newest first.
#[derive(Default)]
struct Mock {
    free: u64,
    capacity: u64,
    running: usize,
    decoding: u64,
    needers: Vec<SeqId>,
    prefilling: Vec<PrefillSeq>,
    waiting: Vec<WaitingSeq>,
    victims: Vec<Victim>,
}

impl InstanceView for Mock {
    fn free_blocks(&self) -> u64 {
        self.free
    }
    fn capacity_blocks(&self) -> u64 {
        self.capacity
    }
    fn running(&self) -> usize {
        self.running
    }
    fn decoding(&self) -> u64 {
        self.decoding
    }
    fn decode_block_needers(&self) -> &[SeqId] {
        &self.needers
    }
    fn prefilling(&self) -> &[PrefillSeq] {
        &self.prefilling
    }
    fn waiting_len(&self) -> usize {
        self.waiting.len()
    }
    fn waiting(&self, k: usize) -> WaitingSeq {
        self.waiting[k]
    }
    fn victim(&self, k: usize) -> Option<Victim> {
        self.victims.get(k).copied()
    }
}

const B: Budgets = Budgets {
    max_batch_tokens: 100,
    max_running: 4,
    chunked_prefill: true,
    block_size: 10,
};

fn waiting(id: u32, target: u64, cached: u64) -> WaitingSeq {
    WaitingSeq {
        id: SeqId(id),
        target_tokens: target,
        cached_tokens: cached,
        hit_blocks: cached / 10,
        evictable_hit_blocks: 0,
        load_blocks: 0,
        peak_blocks: (target + 20).div_ceil(10),
    }
}

fn plan(view: &Mock, b: &Budgets, order: WaitingOrder) -> Plan {
    let mut p = Plan::default();
    VllmScheduler::new(order).plan(view, b, &mut p);
    p
}

#[test]
fn admits_fcfs_within_budget_and_blocks_chunking_the_last() {
    // Budget 100 tokens: request 0 needs 30 (3 blocks), request 1 has 50 of 120 cached and
    // gets the remaining 70 tokens: KV 50 + 70 = 120 tokens = 12 blocks, 5 of them hits, so 7
    // new. Request 2 finds no budget.
    let view = Mock {
        free: 100,
        capacity: 100,
        waiting: vec![waiting(0, 30, 0), waiting(1, 200, 50), waiting(2, 10, 0)],
        ..Default::default()
    };
    let p = plan(&view, &B, WaitingOrder::Fcfs);
    assert_eq!(
        p.admit,
        vec![
            Chunk {
                id: SeqId(0),
                tokens: 30,
                new_blocks: 3
            },
            Chunk {
                id: SeqId(1),
                tokens: 70,
                new_blocks: 7
            },
        ]
    );
    assert!(p.preempt.is_empty() && p.reject.is_empty());
}

#[test]
fn head_of_line_blocks_when_its_blocks_are_not_free() {
    // 2 free blocks: request 0 needs 3, so nothing is admitted (request 1 would fit).
    let view = Mock {
        free: 2,
        capacity: 100,
        waiting: vec![waiting(0, 30, 0), waiting(1, 10, 0)],
        ..Default::default()
    };
    assert!(plan(&view, &B, WaitingOrder::Fcfs).admit.is_empty());
}

#[test]
fn lpm_admits_the_longest_cached_prefix_first() {
    let view = Mock {
        free: 2,
        capacity: 100,
        waiting: vec![waiting(0, 30, 0), waiting(1, 30, 20)],
        ..Default::default()
    };
    // Request 1: 20 cached, computes 10 more: 3 blocks, 2 hits, 1 new: fits in 2 free.
    let p = plan(&view, &B, WaitingOrder::Lpm);
    assert_eq!(
        p.admit,
        vec![Chunk {
            id: SeqId(1),
            tokens: 10,
            new_blocks: 1
        }]
    );
}

#[test]
fn a_request_larger_than_the_cache_is_rejected() {
    let view = Mock {
        free: 10,
        capacity: 10,
        waiting: vec![waiting(0, 200, 0), waiting(1, 10, 0)],
        ..Default::default()
    };
    let p = plan(&view, &B, WaitingOrder::Fcfs);
    assert_eq!(p.reject, vec![SeqId(0)]);
    assert_eq!(
        p.admit,
        vec![Chunk {
            id: SeqId(1),
            tokens: 10,
            new_blocks: 1
        }]
    );
}

#[test]
fn decode_without_a_free_block_preempts_the_newest() {
    // Decodes 1 (oldest) and 2 need a block each, none is free. The newest running request is 3
    // (prefilling, holding 4 blocks): preempting it frees 4; both decodes get theirs. Nothing
    // is admitted in a step that preempted.
    let view = Mock {
        free: 0,
        capacity: 100,
        running: 3,
        decoding: 2,
        needers: vec![SeqId(1), SeqId(2)],
        prefilling: vec![PrefillSeq {
            id: SeqId(3),
            kv_tokens: 40,
            remaining_tokens: 60,
            held_blocks: 4,
        }],
        waiting: vec![waiting(9, 10, 0)],
        victims: vec![
            Victim {
                id: SeqId(3),
                releases_blocks: 4,
                decoding: false,
            },
            Victim {
                id: SeqId(2),
                releases_blocks: 5,
                decoding: true,
            },
            Victim {
                id: SeqId(1),
                releases_blocks: 5,
                decoding: true,
            },
        ],
    };
    let p = plan(&view, &B, WaitingOrder::Fcfs);
    assert_eq!(p.preempt, vec![SeqId(3)]);
    assert_eq!(p.decode_blocks, vec![SeqId(1), SeqId(2)]);
    assert!(p.prefill.is_empty() && p.admit.is_empty());
}

#[test]
fn the_newest_needer_preempts_itself() {
    // Only decodes, nothing free, the victims release nothing they alone hold (shared
    // prefixes): decode 1 preempts 2 (0 blocks), then has to preempt itself.
    let view = Mock {
        free: 0,
        capacity: 100,
        running: 2,
        decoding: 2,
        needers: vec![SeqId(1), SeqId(2)],
        victims: vec![
            Victim {
                id: SeqId(2),
                releases_blocks: 0,
                decoding: true,
            },
            Victim {
                id: SeqId(1),
                releases_blocks: 0,
                decoding: true,
            },
        ],
        ..Default::default()
    };
    let p = plan(&view, &B, WaitingOrder::Fcfs);
    assert_eq!(p.preempt, vec![SeqId(2), SeqId(1)]);
    assert!(p.decode_blocks.is_empty());
}

#[test]
fn a_preempted_victim_gives_back_its_planned_chunk() {
    // Prefill 5 (older) gets 50 tokens = 5 new blocks of the 5 free. Prefill 6 (newest) then
    // needs 3 blocks: it is the newest victim itself, so it preempts itself, and 5 keeps its
    // chunk.
    let view = Mock {
        free: 5,
        capacity: 100,
        running: 2,
        prefilling: vec![
            PrefillSeq {
                id: SeqId(5),
                kv_tokens: 0,
                remaining_tokens: 50,
                held_blocks: 0,
            },
            PrefillSeq {
                id: SeqId(6),
                kv_tokens: 0,
                remaining_tokens: 30,
                held_blocks: 0,
            },
        ],
        victims: vec![
            Victim {
                id: SeqId(6),
                releases_blocks: 0,
                decoding: false,
            },
            Victim {
                id: SeqId(5),
                releases_blocks: 0,
                decoding: false,
            },
        ],
        ..Default::default()
    };
    let p = plan(&view, &B, WaitingOrder::Fcfs);
    assert_eq!(
        p.prefill,
        vec![Chunk {
            id: SeqId(5),
            tokens: 50,
            new_blocks: 5
        }]
    );
    assert_eq!(p.preempt, vec![SeqId(6)]);
}

#[test]
fn without_chunking_a_long_prompt_runs_alone() {
    let b = Budgets {
        chunked_prefill: false,
        ..B
    };
    let view = Mock {
        free: 100,
        capacity: 100,
        waiting: vec![waiting(0, 150, 0), waiting(1, 10, 0)],
        ..Default::default()
    };
    let p = plan(&view, &b, WaitingOrder::Fcfs);
    assert_eq!(
        p.admit,
        vec![Chunk {
            id: SeqId(0),
            tokens: 150,
            new_blocks: 15
        }]
    );
}
