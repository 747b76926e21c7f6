//! Calibrated confidence (issue 18): the minimum-evidence rule, the greeting intent, and the one
//! out-of-scope rule: confidently out of scope → declined with the out-of-scope answer, no human;
//! not confident (including too little known text) → handed to a human.

use switchboard_shards::routing::brain::Brain;
use switchboard_shards::routing::dialogue::{Decision, Dialogue, DialogueConfig, HandoffReason};
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig, TrainError};

fn trained(config: &TrainConfig) -> (KnowledgeBase, NgramBrain) {
    let kb = KnowledgeBase::builtin().expect("KB");
    let brain = NgramBrain::train(&kb, config).expect("train");
    (kb, brain)
}

#[test]
fn single_characters_and_unknown_text_get_no_confident_answer() {
    let (kb, brain) = trained(&TrainConfig::default());
    let threshold = DialogueConfig::default().confidence_threshold;
    let uniform = 1.0 / kb.intents.len() as f32;
    for text in ["退", "看", "好", "qwzx plorf", "???"] {
        let c = brain.classify(text);
        assert!(
            (c.confidence - uniform).abs() < 1e-4,
            "{text}: {} (no known word or phrase: uniform)",
            c.confidence
        );
        assert!(c.confidence < threshold);
        let sum: f32 = c.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }
    // Without the rule the same characters are answered with confidence (the "退" → refund).
    let (_, bare) = trained(&TrainConfig {
        evidence_features_min: 0,
        ..TrainConfig::default()
    });
    assert!(bare.classify("退").confidence > brain.classify("退").confidence);
    // Short but real questions keep their answer.
    for (text, intent) in [
        ("退款", "refund"),
        ("我要退款", "refund"),
        ("refund", "refund"),
    ] {
        let c = brain.classify(text);
        assert_eq!(brain.intents()[c.best], intent, "{text}");
    }
}

#[test]
fn evidence_setting_is_validated() {
    let kb = KnowledgeBase::builtin().expect("KB");
    let bad = TrainConfig {
        evidence_features_min: 11,
        ..TrainConfig::default()
    };
    assert_eq!(
        NgramBrain::train(&kb, &bad).err(),
        Some(TrainError::Evidence(11))
    );
}

#[test]
fn greetings_are_answered_as_greetings() {
    let (kb, brain) = trained(&TrainConfig::default());
    let mut d = Dialogue::new(kb, brain, DialogueConfig::default()).expect("dialogue");
    for (i, text) in ["你好", "您好,在吗", "hello", "hi there"]
        .into_iter()
        .enumerate()
    {
        match d.handle_message(i as u64 + 1, text, 0) {
            Decision::Answer { intent, .. } => assert_eq!(intent, "greeting", "{text}"),
            other => panic!("{text}: expected the greeting answer, got {other:?}"),
        }
    }
}

#[test]
fn out_of_scope_is_declined_when_confident_and_handed_off_when_not() {
    let (kb, brain) = trained(&TrainConfig::default());
    let decline = kb
        .intent("out_of_scope")
        .expect("out_of_scope intent")
        .answer_en
        .clone();
    let mut d = Dialogue::new(kb, brain, DialogueConfig::default()).expect("dialogue");
    match d.handle_message(1, "what's the weather like today", 0) {
        Decision::Answer { intent, text, .. } => {
            assert_eq!(intent, "out_of_scope");
            assert_eq!(text, decline);
        }
        other => panic!("expected the out-of-scope answer, got {other:?}"),
    }
    match d.handle_message(2, "退", 0) {
        Decision::Handoff { reason, .. } => assert_eq!(reason, HandoffReason::LowConfidence),
        other => panic!("expected a handoff, got {other:?}"),
    }
}
