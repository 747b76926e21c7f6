//! Timer wheel: unit behaviour and a property test against a naive reference.

use std::collections::BTreeMap;

use proptest::prelude::*;
use switchboard_core::timer::{TimerConfig, TimerError, TimerWheel};

fn wheel(tick_ms: u64, timers_max: usize, now_ms: u64) -> TimerWheel<u64> {
    TimerWheel::new(
        TimerConfig {
            tick_ms,
            timers_max,
        },
        now_ms,
    )
    .unwrap()
}

fn advance(wheel: &mut TimerWheel<u64>, now_ms: u64) -> Vec<u64> {
    let mut fired = Vec::new();
    wheel.advance(now_ms, |token| fired.push(token));
    wheel.invariants();
    fired.sort_unstable();
    fired
}

#[test]
fn fires_at_deadline_not_before() {
    let mut wheel = wheel(1, 16, 0);
    wheel.insert(10, 1).unwrap();
    wheel.insert(100, 2).unwrap();
    assert_eq!(wheel.next_deadline(), Some(10));
    assert_eq!(advance(&mut wheel, 9), Vec::<u64>::new());
    assert_eq!(advance(&mut wheel, 10), vec![1]);
    assert_eq!(advance(&mut wheel, 10), Vec::<u64>::new());
    assert_eq!(advance(&mut wheel, 1_000), vec![2]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn cascades_from_every_level_and_overflow() {
    let mut wheel = wheel(1, 64, 5);
    let deadlines = [70, 4_100, 300_000, 20_000_000, 40_000_000_000];
    for (token, deadline) in deadlines.iter().enumerate() {
        wheel.insert(*deadline, token as u64).unwrap();
    }
    for (token, deadline) in deadlines.iter().enumerate() {
        // Walk up to the deadline by following next_deadline, as an event loop would.
        while let Some(next) = wheel.next_deadline() {
            if next >= *deadline {
                break;
            }
            assert_eq!(advance(&mut wheel, next), Vec::<u64>::new());
        }
        assert_eq!(advance(&mut wheel, deadline - 1), Vec::<u64>::new());
        assert_eq!(advance(&mut wheel, *deadline), vec![token as u64]);
    }
}

#[test]
fn armed_by_is_at_or_before_the_deadline_s_tick() {
    let mut wheel = wheel(10, 16, 0);
    let handle = wheel.insert(95, 1).unwrap();
    assert!(wheel.is_armed_by(handle, 95));
    assert!(wheel.is_armed_by(handle, 91), "the same 10 ms tick");
    assert!(wheel.is_armed_by(handle, 500));
    assert!(!wheel.is_armed_by(handle, 85));
    wheel.cancel(handle);
    assert!(!wheel.is_armed_by(handle, 500), "stale");
}

#[test]
fn cancel_and_stale_handles() {
    let mut wheel = wheel(1, 2, 0);
    let first = wheel.insert(50, 1).unwrap();
    assert_eq!(wheel.cancel(first), Some(1));
    assert_eq!(wheel.cancel(first), None);
    let second = wheel.insert(50, 2).unwrap();
    assert!(
        !wheel.reset(first, 10),
        "a stale handle must not move the slot's new timer"
    );
    assert!(wheel.reset(second, 20));
    assert_eq!(advance(&mut wheel, 20), vec![2]);
    assert_eq!(wheel.cancel(second), None);
}

#[test]
fn full_wheel_is_an_error_and_past_deadlines_fire_next_advance() {
    let mut wheel = wheel(1, 1, 1_000);
    wheel.insert(10, 7).unwrap();
    assert_eq!(wheel.insert(20, 8), Err(TimerError::Full { capacity: 1 }));
    assert_eq!(wheel.next_deadline(), Some(1_000));
    assert_eq!(advance(&mut wheel, 1_000), vec![7]);
}

#[test]
fn coarse_ticks_round_the_deadline_up() {
    let mut wheel = wheel(10, 4, 0);
    wheel.insert(11, 1).unwrap();
    assert_eq!(advance(&mut wheel, 19), Vec::<u64>::new());
    assert_eq!(advance(&mut wheel, 20), vec![1]);
}

#[test]
fn config_is_validated() {
    let error = TimerWheel::<u64>::new(
        TimerConfig {
            tick_ms: 0,
            timers_max: 4,
        },
        0,
    )
    .unwrap_err();
    assert_eq!(error.field, "timer_tick_ms");
}

#[derive(Debug, Clone)]
enum Op {
    Insert { delay_ms: u64 },
    Cancel { pick: usize },
    Reset { pick: usize, delay_ms: u64 },
    Advance { step_ms: u64 },
}

fn delay() -> impl Strategy<Value = u64> {
    prop_oneof![0..100u64, 0..10_000u64, 0..5_000_000u64, 0..40_000_000u64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => delay().prop_map(|delay_ms| Op::Insert { delay_ms }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => (any::<usize>(), delay()).prop_map(|(pick, delay_ms)| Op::Reset { pick, delay_ms }),
        3 => prop_oneof![0..10u64, 0..1_000u64, 0..300_000u64, 0..30_000_000u64]
            .prop_map(|step_ms| Op::Advance { step_ms }),
    ]
}

/// Runs `ops` against the wheel and a map of pending deadlines; a timer must fire exactly when
/// `ceil(deadline / tick) <= floor(now / tick)`, which also means never before its deadline.
fn check_against_reference(tick_ms: u64, start_ms: u64, ops: Vec<Op>) {
    let mut wheel = wheel(tick_ms, 64, start_ms);
    let mut reference: BTreeMap<u64, u64> = BTreeMap::new();
    let mut handles = Vec::new();
    let mut now_ms = start_ms;
    for (token, op) in ops.into_iter().enumerate() {
        let token = token as u64;
        match op {
            Op::Insert { delay_ms } => {
                let deadline = now_ms.saturating_sub(50) + delay_ms;
                match wheel.insert(deadline, token) {
                    Ok(handle) => {
                        reference.insert(token, deadline);
                        handles.push((handle, token));
                    }
                    Err(TimerError::Full { .. }) => assert_eq!(reference.len(), 64),
                }
            }
            Op::Cancel { pick } if !handles.is_empty() => {
                let (handle, token) = handles[pick % handles.len()];
                assert_eq!(
                    wheel.cancel(handle),
                    reference.remove(&token).map(|_| token)
                );
            }
            Op::Reset { pick, delay_ms } if !handles.is_empty() => {
                let (handle, token) = handles[pick % handles.len()];
                let pending = reference.contains_key(&token);
                assert_eq!(wheel.reset(handle, now_ms + delay_ms), pending);
                if pending {
                    reference.insert(token, now_ms + delay_ms);
                }
            }
            Op::Advance { step_ms } => {
                now_ms += step_ms;
                let fired = advance(&mut wheel, now_ms);
                let now_tick = now_ms / tick_ms;
                let expected: Vec<u64> = reference
                    .iter()
                    .filter(|(_, deadline)| deadline.div_ceil(tick_ms) <= now_tick)
                    .map(|(token, _)| *token)
                    .collect();
                for token in &expected {
                    assert!(reference.remove(token).unwrap() <= now_ms, "fired early");
                }
                assert_eq!(fired, expected);
            }
            Op::Cancel { .. } | Op::Reset { .. } => {}
        }
        assert_eq!(wheel.len(), reference.len());
        if let (Some(next), Some(earliest)) = (wheel.next_deadline(), reference.values().min()) {
            // An already-due timer is reported as due now (the last tick reached), not earlier.
            let due_ms = (earliest.div_ceil(tick_ms) * tick_ms).max(now_ms / tick_ms * tick_ms);
            assert!(next <= due_ms, "next_deadline too late");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_reference_with_1ms_ticks(start_ms in 0..100_000_000u64, ops in prop::collection::vec(op(), 1..200)) {
        check_against_reference(1, start_ms, ops);
    }

    #[test]
    fn matches_reference_with_coarse_ticks(
        tick_ms in 2..50u64,
        start_ms in 0..100_000_000u64,
        ops in prop::collection::vec(op(), 1..200),
    ) {
        check_against_reference(tick_ms, start_ms, ops);
    }
}
