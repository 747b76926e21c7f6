//! Simulated-time tests of [`OverloadDetector`]: every transition, hysteresis, recovery, and a property
//! test that random load never panics and only changes the mode as the rules allow.

use proptest::prelude::*;

use super::*;

/// Small round numbers so the tests read easily. Exit thresholds are half of these.
fn config() -> OverloadConfig {
    OverloadConfig {
        enabled: true,
        window_ms: 100,
        brownout_queue_bytes: 10_000,
        survival_queue_bytes: 100_000,
        brownout_ring_percent: 50,
        survival_ring_percent: 90,
        brownout_latency_ms: 10,
        survival_latency_ms: 100,
        exit_percent: 50,
        recover_ms: 1_000,
        brownout_retry_after_ms: 2_000,
        survival_retry_after_ms: 5_000,
    }
}

fn detector() -> OverloadDetector {
    OverloadDetector::new(config()).unwrap()
}

fn queue(queued_bytes: u64) -> LoadSample {
    LoadSample {
        queued_bytes,
        ..LoadSample::default()
    }
}

/// Observes `sample` every `step_ms` from `from_ms` (inclusive) to `to_ms` (exclusive); returns the
/// transitions.
fn run(
    detector: &mut OverloadDetector,
    from_ms: u64,
    to_ms: u64,
    step_ms: u64,
    sample: LoadSample,
) -> Vec<Transition> {
    (from_ms..to_ms)
        .step_by(step_ms as usize)
        .filter_map(|now_ms| detector.observe(now_ms, sample))
        .collect()
}

#[test]
fn idle_and_moderate_load_stay_normal_with_the_defaults() {
    let mut detector = OverloadDetector::new(OverloadConfig::default()).unwrap();
    let moderate = LoadSample {
        queued_bytes: 4 * 1_048_576,
        ring_percent: 20,
        latency_us: Some(5_000),
    };
    assert!(run(&mut detector, 0, 600_000, 10, LoadSample::default()).is_empty());
    assert!(run(&mut detector, 600_000, 1_200_000, 10, moderate).is_empty());
    assert_eq!(detector.mode(), Mode::Normal);
}

#[test]
fn a_standing_queue_enters_brownout_when_the_window_closes() {
    let mut detector = detector();
    assert!(run(&mut detector, 0, 100, 10, queue(20_000)).is_empty());
    let transition = detector.observe(100, queue(20_000)).unwrap();
    assert_eq!(transition.from, Mode::Normal);
    assert_eq!(transition.to, Mode::Brownout);
    assert_eq!(transition.at_ms, 100);
    assert_eq!(
        transition.cause,
        TransitionCause::Pressure(Pressure::QueueBytes)
    );
    assert_eq!(transition.cause.label(), "queue_bytes");
    assert_eq!(transition.window.started_ms, 0);
    assert_eq!(transition.window.samples, 11);
    assert_eq!(transition.window.queue_bytes_min, 20_000);
    assert_eq!(detector.mode(), Mode::Brownout);
}

#[test]
fn a_burst_that_drains_within_the_window_does_not_escalate() {
    let mut detector = detector();
    for now_ms in (0..10_000).step_by(10) {
        let bytes = if now_ms % 20 == 0 { 1_000_000 } else { 0 };
        assert_eq!(detector.observe(now_ms, queue(bytes)), None);
    }
    assert_eq!(detector.mode(), Mode::Normal);
}

#[test]
fn normal_jumps_straight_to_survival() {
    let mut detector = detector();
    let transitions = run(&mut detector, 0, 101, 10, queue(200_000));
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (Mode::Normal, Mode::Survival)
    );
}

#[test]
fn ring_occupancy_escalates() {
    let mut detector = detector();
    let ring = |ring_percent| LoadSample {
        ring_percent,
        ..LoadSample::default()
    };
    let transitions = run(&mut detector, 0, 101, 10, ring(60));
    assert_eq!(transitions[0].to, Mode::Brownout);
    assert_eq!(
        transitions[0].cause,
        TransitionCause::Pressure(Pressure::RingOccupancy)
    );
    // Values above 100 count as a full ring.
    let transitions = run(&mut detector, 101, 202, 10, ring(250));
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (Mode::Brownout, Mode::Survival)
    );
    assert_eq!(transitions[0].window.ring_percent_max, 100);
}

#[test]
fn latency_p99_escalates_but_a_single_outlier_does_not() {
    let mut detector = detector();
    // 200 fast samples and 2 slow ones per window: the p99 (rank 198 of 202) is fast.
    for window in 0..20u64 {
        let start_ms = window * 100;
        for _ in 0..200 {
            detector.record_latency_us(1_000);
        }
        detector.record_latency_us(500_000);
        detector.record_latency_us(500_000);
        assert_eq!(
            run(&mut detector, start_ms, start_ms + 100, 50, queue(0)),
            []
        );
    }
    assert_eq!(detector.mode(), Mode::Normal);
    // Three slow ones in 202 samples: the p99 is slow, and slow enough for survival.
    for _ in 0..199 {
        detector.record_latency_us(1_000);
    }
    for _ in 0..3 {
        detector.record_latency_us(500_000);
    }
    let transition = detector.observe(2_000, queue(0)).unwrap();
    assert_eq!(transition.to, Mode::Survival);
    assert_eq!(
        transition.cause,
        TransitionCause::Pressure(Pressure::Latency)
    );
    assert_eq!(transition.window.latency_samples, 202);
    assert_eq!(transition.window.latency_us_max, 500_000);
}

#[test]
fn latency_in_samples_counts_like_recorded_latency() {
    let mut detector = detector();
    let slow = LoadSample {
        latency_us: Some(20_000),
        ..LoadSample::default()
    };
    let transitions = run(&mut detector, 0, 101, 10, slow);
    assert_eq!(transitions[0].to, Mode::Brownout);
    assert_eq!(
        transitions[0].cause,
        TransitionCause::Pressure(Pressure::Latency)
    );
}

#[test]
fn recovery_steps_down_one_level_at_a_time_after_recover_ms() {
    let mut detector = detector();
    run(&mut detector, 0, 101, 10, queue(200_000));
    assert_eq!(detector.mode(), Mode::Survival);
    // Calm from t = 110 (the first sample of the next window): every signal below half the thresholds.
    let transitions = run(&mut detector, 110, 5_000, 10, queue(0));
    assert_eq!(transitions.len(), 2, "{transitions:?}");
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (Mode::Survival, Mode::Brownout)
    );
    assert_eq!(
        (transitions[1].from, transitions[1].to),
        (Mode::Brownout, Mode::Normal)
    );
    assert!(transitions
        .iter()
        .all(|t| t.cause == TransitionCause::Recovered));
    // Each step waited a full recover_ms of calm, counted in whole windows.
    assert!(transitions[0].at_ms >= 100 + 1_000);
    assert!(transitions[1].at_ms >= transitions[0].at_ms + 1_000);
    assert!(transitions[1].at_ms <= transitions[0].at_ms + 1_000 + 2 * 100);
}

#[test]
fn survival_steps_down_to_brownout_while_load_stays_between_the_levels() {
    let mut detector = detector();
    run(&mut detector, 0, 101, 10, queue(200_000));
    // 20 kB: above brownout's enter threshold, below half of survival's.
    let transitions = run(&mut detector, 110, 10_000, 10, queue(20_000));
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].to, Mode::Brownout);
    assert_eq!(detector.mode(), Mode::Brownout);
}

#[test]
fn load_hovering_at_a_threshold_does_not_flap() {
    let mut detector = detector();
    // Alternate windows just above and just below the enter threshold: one escalation, never a recovery,
    // because the windows below are still above the exit threshold (5 kB). The sample that closes a
    // window belongs to it: windows are [0, 100], (100, 200], ...
    let mut transitions = Vec::new();
    for now_ms in (0..20_000u64).step_by(10) {
        let bytes = if now_ms.saturating_sub(1) / 100 % 2 == 0 {
            10_001
        } else {
            9_999
        };
        transitions.extend(detector.observe(now_ms, queue(bytes)));
    }
    assert_eq!(transitions.len(), 1, "{transitions:?}");
    assert_eq!(detector.mode(), Mode::Brownout);
}

#[test]
fn one_busy_window_restarts_the_recovery_clock() {
    let mut detector = detector();
    run(&mut detector, 0, 101, 10, queue(20_000));
    assert_eq!(detector.mode(), Mode::Brownout);
    // 900 ms calm, then one window with a sample at 6 kB (above the 5 kB exit), then calm again.
    assert!(run(&mut detector, 110, 1_000, 10, queue(0)).is_empty());
    assert!(detector.observe(1_050, queue(6_000)).is_none());
    let transitions = run(&mut detector, 1_060, 4_000, 10, queue(0));
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].to, Mode::Normal);
    // The busy sample closed the window it belongs to (opened at 900) at t = 1050; the calm run restarted
    // with the next window, opened at 1050.
    assert_eq!(transitions[0].at_ms, 1_050 + 1_000, "{transitions:?}");
}

#[test]
fn escalation_interrupts_recovery() {
    let mut detector = detector();
    run(&mut detector, 0, 101, 10, queue(20_000));
    assert!(run(&mut detector, 110, 800, 10, queue(0)).is_empty());
    let transitions = run(&mut detector, 800, 901, 10, queue(500_000));
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (Mode::Brownout, Mode::Survival)
    );
}

#[test]
fn a_disabled_detector_stays_normal() {
    let mut detector = OverloadDetector::new(OverloadConfig {
        enabled: false,
        ..config()
    })
    .unwrap();
    assert!(run(&mut detector, 0, 10_000, 10, queue(u64::MAX)).is_empty());
    assert_eq!(detector.mode(), Mode::Normal);
    assert_eq!(detector.admit(RequestClass::HistoryQuery), Ok(()));
}

#[test]
fn a_clock_going_backwards_counts_as_no_time() {
    let mut detector = detector();
    assert_eq!(detector.observe(1_000, queue(20_000)), None);
    assert_eq!(detector.observe(500, queue(20_000)), None);
    assert_eq!(detector.observe(0, queue(20_000)), None);
    assert_eq!(detector.mode(), Mode::Normal);
    assert!(detector.observe(1_100, queue(20_000)).is_some());
}

#[test]
fn a_long_pause_closes_one_window() {
    let mut detector = detector();
    assert_eq!(detector.observe(0, queue(0)), None);
    // The loop was stuck for an hour; the next sample closes the window it opened.
    assert_eq!(detector.observe(3_600_000, queue(0)), None);
    assert_eq!(detector.observe(3_600_050, queue(0)), None);
}

#[test]
fn new_rejects_an_invalid_config() {
    let error = OverloadDetector::new(OverloadConfig {
        exit_percent: 100,
        ..config()
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("overload.exit_percent"),
        "{error}"
    );
}

#[test]
fn the_detector_admits_by_its_current_mode() {
    let mut detector = detector();
    assert_eq!(detector.admit(RequestClass::Typing), Ok(()));
    run(&mut detector, 0, 101, 10, queue(20_000));
    assert_eq!(
        detector.admit(RequestClass::Typing),
        Err(Refusal {
            mode: Mode::Brownout,
            retry_after_ms: 2_000
        })
    );
    run(&mut detector, 110, 211, 10, queue(200_000));
    assert_eq!(
        detector.admit(RequestClass::ChatSend),
        Err(Refusal {
            mode: Mode::Survival,
            retry_after_ms: 5_000
        })
    );
    assert_eq!(detector.admit(RequestClass::Ticket), Ok(()));
}

#[test]
fn ring_percent_rounds_up_and_caps() {
    assert_eq!(LoadSample::ring_percent_of(0, 1_024), 0);
    assert_eq!(LoadSample::ring_percent_of(1, 1_024), 1);
    assert_eq!(LoadSample::ring_percent_of(512, 1_024), 50);
    assert_eq!(LoadSample::ring_percent_of(1_024, 1_024), 100);
    assert_eq!(LoadSample::ring_percent_of(5_000, 1_024), 100);
    assert_eq!(LoadSample::ring_percent_of(5, 0), 0);
    assert_eq!(LoadSample::ring_percent_of(usize::MAX, usize::MAX), 100);
}

/// One step of a random run: time advance (may go backwards), a sample, extra latency samples. Calm
/// samples are three times as likely as random ones, so that runs recover as well as escalate.
fn step() -> impl Strategy<Value = (i64, LoadSample, Vec<u64>)> {
    let bytes = prop_oneof![
        0u64..6_000,
        4_000u64..12_000,
        40_000u64..120_000,
        Just(u64::MAX)
    ];
    let latency = prop_oneof![0u64..6_000, 4_000u64..12_000, 40_000u64..120_000];
    let sample = |bytes: BoxedStrategy<u64>, ring, latency: BoxedStrategy<u64>| {
        (bytes, ring, proptest::option::of(latency)).prop_map(
            |(queued_bytes, ring_percent, latency_us)| LoadSample {
                queued_bytes,
                ring_percent,
                latency_us,
            },
        )
    };
    let calm = sample((0u64..4_000).boxed(), 0u8..=19, (0u64..4_000).boxed());
    let random = sample(bytes.boxed(), 0u8..=120, latency.clone().boxed());
    let extra = prop_oneof![
        3 => Just(Vec::new()),
        1 => proptest::collection::vec(latency, 0..4),
    ];
    (-30i64..400, prop_oneof![3 => calm, 1 => random], extra)
}

/// Enter and exit values of a degraded mode in [`config`] (exit = half): (queue, ring, latency µs).
fn enter_exit(mode: Mode) -> ((u64, u64, u64), (u64, u64, u64)) {
    match mode {
        Mode::Normal => unreachable!(),
        Mode::Brownout => ((10_000, 50, 10_000), (5_000, 25, 5_000)),
        Mode::Survival => ((100_000, 90, 100_000), (50_000, 45, 50_000)),
    }
}

proptest! {
    #[test]
    fn random_load_changes_the_mode_only_as_the_rules_allow(
        steps in proptest::collection::vec(step(), 1..400),
    ) {
        let mut detector = detector();
        let mut now_ms: u64 = 0;
        let mut last_change_ms: u64 = 0;
        let mut latency_max_since_change: u64 = 0;
        for (advance, sample, extra) in steps {
            now_ms = now_ms.saturating_add_signed(advance);
            for &latency_us in &extra {
                detector.record_latency_us(latency_us);
            }
            let seen = extra.iter().copied().chain(sample.latency_us).max().unwrap_or(0);
            latency_max_since_change = latency_max_since_change.max(seen);
            let before = detector.mode();
            let transition = detector.observe(now_ms, sample);
            let after = detector.mode();
            let Some(t) = transition else {
                prop_assert_eq!(before, after, "the mode changed without a transition");
                continue;
            };
            prop_assert_eq!((t.from, t.to, t.at_ms), (before, after, now_ms));
            let ring = u64::from(sample.ring_percent.min(100));
            if after > before {
                let (enter, _) = enter_exit(after);
                let evidence = match t.cause {
                    TransitionCause::Pressure(Pressure::QueueBytes) => sample.queued_bytes >= enter.0,
                    TransitionCause::Pressure(Pressure::RingOccupancy) => ring >= enter.1,
                    TransitionCause::Pressure(Pressure::Latency) => latency_max_since_change >= enter.2,
                    TransitionCause::Recovered => false,
                };
                prop_assert!(evidence, "escalation without evidence: {:?}", t);
            } else {
                prop_assert_eq!(after, before.step_down(), "recovery skipped a level");
                prop_assert_eq!(t.cause, TransitionCause::Recovered);
                prop_assert!(now_ms - last_change_ms >= 1_000, "recovered too soon: {:?}", t);
                let (_, exit) = enter_exit(before);
                prop_assert!(sample.queued_bytes < exit.0 && ring < exit.1);
            }
            last_change_ms = now_ms;
            latency_max_since_change = 0;
        }
    }
}
