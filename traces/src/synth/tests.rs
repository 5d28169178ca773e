//! Generator tests: hand-computed small sessions, invariants, determinism, stream independence.

use std::collections::HashMap;

use proptest::prelude::*;
use rand_pcg::Pcg64;

use super::*;
use crate::Request;

fn streams(seed: u64) -> impl Fn(&str) -> Pcg64 {
    move |name: &str| {
        Pcg64::new(
            u128::from(seed),
            name.bytes().fold(7u128, |h, b| h * 131 + u128::from(b)),
        )
    }
}

fn run(spec: &SynthSpec, seed: u64) -> Vec<Request> {
    generate(spec, &streams(seed)).unwrap().collect()
}

fn constant(value: f64) -> Dist {
    Dist::Constant { value }
}

/// Block size 4, one 6-token prompt (1 full block), sessions so rare that only the first
/// matters within 100 s, no warm-up, constant lengths.
fn tiny_spec() -> SynthSpec {
    SynthSpec {
        block_size: 4,
        limit: Limit {
            requests: Some(10),
            duration_s: Some(100.0),
        },
        arrivals: Arrivals::Poisson { rate_per_s: 1e-9 },
        warmup_s: 0.0,
        system_prompts: SystemPrompts {
            count: 1,
            tokens: constant(6.0),
            zipf_exponent: 1.0,
        },
        sessions: Sessions {
            turns: CountDist::Constant { value: 2 },
            first_user_tokens: constant(3.0),
            user_tokens: constant(2.0),
            output_tokens: constant(1.0),
            think_time_s: constant(10.0),
            max_context_tokens: 1000,
        },
        tool_loops: ToolLoops {
            probability: 0.0,
            calls: CountDist::Constant { value: 2 },
            call_output_tokens: constant(1.0),
            result_tokens: constant(5.0),
            latency_s: constant(1.0),
        },
    }
}

fn summary(requests: &[Request]) -> Vec<(u64, u32, u32, Vec<u64>)> {
    requests
        .iter()
        .map(|r| {
            (
                r.arrival_ns,
                r.input_tokens,
                r.output_tokens,
                r.block_ids.clone(),
            )
        })
        .collect()
}

#[test]
fn two_turn_session_by_hand() {
    // Turn 1 at 0: input 6 + 3 = 9 -> 3 blocks: prompt block 0, fresh 1, 2; output 1, context 10.
    // Turn 2 at 10 s: input 10 + 2 = 12 -> 3 blocks: the 2 full blocks of turn 1 (9/4 = 2), fresh 3.
    let got = summary(&run(&tiny_spec(), 1));
    assert_eq!(
        got,
        vec![
            (0, 9, 1, vec![0, 1, 2]),
            (10_000_000_000, 12, 1, vec![0, 1, 3])
        ]
    );
}

#[test]
fn tool_loop_by_hand() {
    let mut spec = tiny_spec();
    spec.sessions.turns = CountDist::Constant { value: 1 };
    spec.sessions.output_tokens = constant(7.0);
    spec.tool_loops.probability = 1.0;
    // Turn at 0: input 9, [0,1,2], outputs a call (1) -> context 10.
    // Call 1 at 1 s: input 10 + 5 = 15 -> 4 blocks: reuse 2, fresh 3, 4; outputs a call -> 16.
    // Call 2 at 2 s: input 16 + 5 = 21 -> 6 blocks: reuse 15/4 = 3 (0,1,3), fresh 5,6,7; the answer (7).
    let got = summary(&run(&spec, 1));
    assert_eq!(
        got,
        vec![
            (0, 9, 1, vec![0, 1, 2]),
            (1_000_000_000, 15, 1, vec![0, 1, 3, 4]),
            (2_000_000_000, 21, 7, vec![0, 1, 3, 5, 6, 7]),
        ]
    );
    // With a 20-token context limit the session ends instead of sending the 21-token call.
    spec.sessions.max_context_tokens = 20;
    assert_eq!(run(&spec, 1).len(), 2);
}

#[test]
fn first_requests_are_truncated_to_the_context_window() {
    // Prompt (6) + first message (3) = 9 > 7: truncated to 7 tokens, 2 blocks (prompt block 0,
    // fresh 1); the second turn (7 + 1 + 2 = 10 > 7) ends the session.
    let mut spec = tiny_spec();
    spec.sessions.max_context_tokens = 7;
    assert_eq!(summary(&run(&spec, 1)), vec![(0, 7, 1, vec![0, 1])]);
    // Even a prompt longer than the window cannot stall generation.
    spec.sessions.max_context_tokens = 3;
    spec.arrivals = Arrivals::Poisson { rate_per_s: 5.0 };
    spec.limit = Limit {
        requests: Some(5),
        duration_s: None,
    };
    let requests = run(&spec, 1);
    assert_eq!(requests.len(), 5);
    // A 3-token block is not the prompt's full first block: each request gets a fresh id.
    let ids: Vec<Vec<u64>> = requests.iter().map(|r| r.block_ids.clone()).collect();
    assert_eq!(ids, [[0], [1], [2], [3], [4]]);
    assert!(requests.iter().all(|r| r.input_tokens == 3));
}

#[test]
fn sessions_share_the_system_prompt_blocks() {
    let mut spec = tiny_spec();
    spec.arrivals = Arrivals::Poisson { rate_per_s: 5.0 };
    spec.sessions.turns = CountDist::Constant { value: 1 };
    spec.limit = Limit {
        requests: Some(20),
        duration_s: None,
    };
    let requests = run(&spec, 3);
    assert_eq!(requests.len(), 20);
    // Every request is a first turn: prompt block 0, then two fresh ids.
    for (i, r) in requests.iter().enumerate() {
        let fresh = 1 + 2 * i as u64;
        assert_eq!(r.block_ids, [0, fresh, fresh + 1]);
        assert_eq!(r.index, i as u64);
    }
}

#[test]
fn limits_stop_generation() {
    let mut spec = SynthSpec {
        limit: Limit {
            requests: Some(123),
            duration_s: None,
        },
        ..SynthSpec::default()
    };
    assert_eq!(run(&spec, 5).len(), 123);
    spec.limit = Limit {
        requests: None,
        duration_s: Some(60.0),
    };
    let requests = run(&spec, 5);
    assert!(requests.iter().all(|r| r.arrival_ns < 60_000_000_000));
    // About 2 req/s for 60 s (Poisson sessions of about 2 requests): a wide tolerance.
    assert!((60..=200).contains(&requests.len()), "{}", requests.len());
    spec.limit = Limit {
        requests: Some(10),
        duration_s: Some(3600.0),
    };
    assert_eq!(run(&spec, 5).len(), 10);
}

#[test]
fn invalid_spec_is_refused() {
    let spec = SynthSpec {
        block_size: 0,
        ..SynthSpec::default()
    };
    assert_eq!(
        generate(&spec, &streams(1)).err().unwrap().to_string(),
        "`block_size` = 0: must be >= 1"
    );
}

#[test]
fn sessions_keep_their_draws_when_the_rate_changes() {
    // One request per session: request i is session i, whose lengths must not depend on timing.
    let mut spec = SynthSpec {
        warmup_s: 0.0,
        ..SynthSpec::default()
    };
    spec.sessions.turns = CountDist::Constant { value: 1 };
    spec.tool_loops.probability = 0.0;
    spec.limit = Limit {
        requests: Some(200),
        duration_s: None,
    };
    let lengths = |requests: Vec<Request>| -> Vec<(u32, u32)> {
        requests
            .iter()
            .map(|r| (r.input_tokens, r.output_tokens))
            .collect()
    };
    let slow = lengths(run(&spec, 9));
    spec.arrivals = Arrivals::Gamma {
        rate_per_s: 10.0,
        cv: 3.0,
    };
    assert_eq!(lengths(run(&spec, 9)), slow);
}

#[test]
fn lengths_do_not_move_arrivals() {
    let spec = SynthSpec::default();
    let mut longer = spec.clone();
    longer.sessions.output_tokens = Dist::Exponential { mean: 900.0 };
    longer.sessions.user_tokens = constant(17.0);
    let times =
        |requests: Vec<Request>| -> Vec<u64> { requests.iter().map(|r| r.arrival_ns).collect() };
    assert_eq!(times(run(&longer, 4)), times(run(&spec, 4)));
}

#[test]
fn defaults_give_a_mooncake_like_reuse() {
    // The acceptance band of the brief: ideal hit ratio 0.3-0.6 for a default workload.
    let requests = run(&SynthSpec::default(), 1);
    assert_eq!(requests.len(), 1500);
    let stats = crate::stats::compute(requests.into_iter().map(Ok), &Default::default()).unwrap();
    let ideal = stats.ideal_hit_ratio.unwrap();
    assert!((0.3..=0.6).contains(&ideal), "{ideal}");
    let rate = stats.arrival_rate_per_s.unwrap();
    assert!((1.7..=2.3).contains(&rate), "{rate}");
}

/// Invariants every generated trace must hold.
fn check_trace(requests: &[Request], block_size: u32) -> Result<(), TestCaseError> {
    let mut predecessor: HashMap<u64, Option<u64>> = HashMap::new();
    let mut tokens_of: HashMap<u64, u32> = HashMap::new();
    let mut distinct = 0u64;
    for (i, r) in requests.iter().enumerate() {
        prop_assert_eq!(r.index, i as u64);
        if i > 0 {
            prop_assert!(requests[i - 1].arrival_ns <= r.arrival_ns);
        }
        prop_assert_eq!(
            r.block_ids.len() as u64,
            u64::from(r.input_tokens.div_ceil(block_size))
        );
        for (j, &id) in r.block_ids.iter().enumerate() {
            let parent = j.checked_sub(1).map(|p| r.block_ids[p]);
            // Equal ids hold equal content, so at least the same number of tokens.
            let tokens = (r.input_tokens - j as u32 * block_size).min(block_size);
            prop_assert_eq!(
                *tokens_of.entry(id).or_insert(tokens),
                tokens,
                "id {} in request {}",
                id,
                i
            );
            match predecessor.get(&id) {
                // Prefix chaining: an id always follows the same predecessor.
                Some(&known) => prop_assert_eq!(known, parent, "id {} in request {}", id, i),
                // First-seen order: a new id is the next integer.
                None => {
                    prop_assert_eq!(id, distinct);
                    distinct += 1;
                    predecessor.insert(id, parent);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn generated_traces_are_deterministic_and_well_formed(
        seed in any::<u64>(),
        block_size in prop::sample::select(vec![16u32, 64, 512]),
        probability in 0.0f64..=1.0,
        turns in 1.0f64..4.0,
        cv in 0.2f64..4.0,
        max_context in prop::sample::select(vec![300u32, 5_000, 40_000]),
    ) {
        let mut spec = SynthSpec { block_size, limit: Limit { requests: Some(300), duration_s: None }, ..SynthSpec::default() };
        spec.arrivals = Arrivals::Gamma { rate_per_s: 3.0, cv };
        spec.tool_loops.probability = probability;
        spec.sessions.turns = CountDist::Geometric { mean: turns };
        spec.sessions.max_context_tokens = max_context;
        let first = run(&spec, seed);
        prop_assert_eq!(&first, &run(&spec, seed));
        prop_assert!(first.iter().all(|r| r.input_tokens <= max_context));
        check_trace(&first, block_size)?;
    }
}
