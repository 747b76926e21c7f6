//! The classifier and the multi-turn dialogue: answers, slot questions, tickets and handoffs.

use switchboard_shards::routing::brain::Brain;
use switchboard_shards::routing::dialogue::{Decision, Dialogue, DialogueConfig, HandoffReason};
use switchboard_shards::routing::kb::{KnowledgeBase, Urgency};
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig, TrainError};
use switchboard_shards::routing::ticket::Priority;

/// Trains once per test binary; each test gets a clone.
fn brain() -> (KnowledgeBase, NgramBrain) {
    static TRAINED: std::sync::OnceLock<(KnowledgeBase, NgramBrain)> = std::sync::OnceLock::new();
    TRAINED
        .get_or_init(|| {
            let kb = KnowledgeBase::builtin().expect("KB");
            let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
            (kb, brain)
        })
        .clone()
}

fn dialogue(config: DialogueConfig) -> Dialogue<NgramBrain> {
    let (kb, brain) = brain();
    Dialogue::new(kb, brain, config).expect("config is valid")
}

fn intent_of(brain: &NgramBrain, text: &str) -> String {
    brain.intents()[brain.classify(text).best].clone()
}

#[test]
fn classifier_recognises_clear_messages_in_both_languages() {
    let (_, brain) = brain();
    for (text, want) in [
        ("我想退款,买错了", "refund"),
        ("how do i reset my password", "password_reset"),
        ("视频一直卡,缓冲好慢", "playback_issue"),
        ("what does 一键三连 mean", "culture_triple"),
        ("转人工!", "human_agent"),
        ("番剧提示地区限制", "region_lock"),
    ] {
        assert_eq!(intent_of(&brain, text), want, "{text}");
    }
}

#[test]
fn classifier_is_deterministic_and_normalised() {
    let (kb, a) = brain();
    let b = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
    for text in ["我要退款", "ＲＥＦＵＮＤ please", "", "🙂"] {
        let (ca, cb) = (a.classify(text), b.classify(text));
        assert_eq!(ca, cb);
        let sum: f32 = ca.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "{text}: {sum}");
    }
    // Full-width text classifies like its ASCII form.
    assert_eq!(
        a.classify("ＲＥＦＵＮＤ please"),
        a.classify("refund please")
    );
    // A message with no features carries no evidence: low confidence.
    assert!(a.classify("!!!").confidence < 0.5);
}

#[test]
fn another_brain_can_be_plugged_in() {
    let (kb, brain) = brain();
    let boxed: Box<dyn Brain> = Box::new(brain);
    let mut d = Dialogue::new(kb, boxed, DialogueConfig::default()).expect("valid");
    assert!(matches!(
        d.handle_message(1, "转人工", 0),
        Decision::Handoff { .. }
    ));
}

#[test]
fn train_config_is_validated() {
    let kb = KnowledgeBase::builtin().expect("KB");
    let bad = TrainConfig {
        buckets: 1000,
        ..TrainConfig::default()
    };
    assert_eq!(
        NgramBrain::train(&kb, &bad).err(),
        Some(TrainError::Buckets(1000))
    );
    let bad = TrainConfig {
        epochs: 0,
        ..TrainConfig::default()
    };
    assert_eq!(
        NgramBrain::train(&kb, &bad).err(),
        Some(TrainError::Epochs(0))
    );
}

#[test]
fn refund_asks_for_the_order_number_then_opens_a_ticket() {
    let mut d = dialogue(DialogueConfig::default());
    match d.handle_message(7, "我要退款,昨天买错了课程", 1_000) {
        Decision::AskSlot { slot, question } => {
            assert_eq!(slot, "order_id");
            assert!(question.contains("订单号"), "asked in Chinese: {question}");
        }
        other => panic!("expected AskSlot, got {other:?}"),
    }
    match d.handle_message(7, "202403150001234567", 2_000) {
        Decision::Ticket { ticket, answer } => {
            assert_eq!(ticket.category, "refund");
            assert_eq!(ticket.skill, "billing");
            assert_eq!(
                ticket.fields,
                vec![("order_id".to_string(), "202403150001234567".to_string())]
            );
            assert_eq!(ticket.summary.intent.as_deref(), Some("refund"));
            assert_eq!(ticket.summary.last_messages.len(), 2);
            assert_eq!(ticket.created_at_ms, 2_000);
            assert!(answer.contains("202403150001234567"), "{answer}");
            // A message of digits only keeps the conversation's language.
            assert!(
                answer
                    .chars()
                    .any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)),
                "answered in Chinese: {answer}"
            );
        }
        other => panic!("expected Ticket, got {other:?}"),
    }
}

#[test]
fn slots_are_filled_from_the_raw_text_when_masking_changed_it() {
    use switchboard_shards::routing::dialogue::Said;
    let mut d = dialogue(DialogueConfig::default());
    assert!(matches!(
        d.handle_message(8, "怎么换绑手机号", 1_000),
        Decision::AskSlot { .. }
    ));
    let said = Said {
        stored: "138****5678",
        raw: "13812345678",
    };
    match d.handle_said(8, said, 2_000) {
        Decision::Answer { text, .. } => assert!(text.contains("13812345678"), "{text}"),
        other => panic!("expected the answer, got {other:?}"),
    }
}

#[test]
fn slot_given_up_front_goes_straight_to_the_ticket_in_english() {
    let mut d = dialogue(DialogueConfig::default());
    match d.handle_message(1, "I was charged twice for order 202401010000123456", 0) {
        Decision::Ticket { ticket, answer } => {
            assert_eq!(ticket.category, "double_charge");
            assert_eq!(ticket.urgency, Urgency::Urgent);
            assert!(answer.starts_with("Sorry"), "{answer}");
            assert_eq!(ticket.id, 1);
        }
        other => panic!("expected Ticket, got {other:?}"),
    }
}

#[test]
fn phone_binding_answers_with_the_number() {
    let mut d = dialogue(DialogueConfig::default());
    let first = d.handle_message(3, "how do I change my bound phone number", 0);
    assert!(
        matches!(first, Decision::AskSlot { ref slot, .. } if slot == "phone"),
        "{first:?}"
    );
    match d.handle_message(3, "+86 139 1234 5678", 10) {
        Decision::Answer { text, intent, .. } => {
            assert_eq!(intent, "phone_binding");
            assert!(text.contains("13912345678"), "{text}");
        }
        other => panic!("expected Answer, got {other:?}"),
    }
}

#[test]
fn plain_answer_for_a_confident_intent() {
    let mut d = dialogue(DialogueConfig::default());
    match d.handle_message(1, "三连是什么意思", 0) {
        Decision::Answer {
            intent,
            confidence,
            text,
        } => {
            assert_eq!(intent, "culture_triple");
            assert!(confidence >= 0.70);
            assert!(text.contains("三连"));
        }
        other => panic!("expected Answer, got {other:?}"),
    }
}

#[test]
fn angry_customer_goes_to_a_human_urgently() {
    let mut d = dialogue(DialogueConfig::default());
    match d.handle_message(1, "你们这帮骗子,马上退钱!!!", 0) {
        Decision::Handoff {
            reason,
            priority,
            summary,
        } => {
            assert_eq!(reason, HandoffReason::NegativeSentiment);
            assert_eq!(priority, Priority::Urgent);
            assert!(summary.sentiment <= -0.6);
        }
        other => panic!("expected Handoff, got {other:?}"),
    }
}

#[test]
fn low_confidence_hands_off_instead_of_guessing() {
    let mut d = dialogue(DialogueConfig::default());
    match d.handle_message(1, "qwzx plorf", 0) {
        Decision::Handoff {
            reason, priority, ..
        } => {
            assert_eq!(reason, HandoffReason::LowConfidence);
            assert_eq!(priority, Priority::Normal);
        }
        other => panic!("expected Handoff, got {other:?}"),
    }
}

#[test]
fn asking_for_a_human_hands_off() {
    let mut d = dialogue(DialogueConfig::default());
    assert!(matches!(
        d.handle_message(1, "talk to a human please", 0),
        Decision::Handoff {
            reason: HandoffReason::CustomerAsked,
            ..
        }
    ));
}

#[test]
fn missing_slot_is_asked_at_most_slot_asks_max_times() {
    let mut d = dialogue(DialogueConfig {
        slot_asks_max: 2,
        ..DialogueConfig::default()
    });
    assert!(matches!(
        d.handle_message(1, "I want a refund", 0),
        Decision::AskSlot { .. }
    ));
    assert!(matches!(
        d.handle_message(1, "hmm I don't know", 1),
        Decision::AskSlot { .. }
    ));
    match d.handle_message(1, "no idea where it is", 2) {
        Decision::Handoff {
            reason, summary, ..
        } => {
            assert_eq!(reason, HandoffReason::SlotNotProvided);
            assert_eq!(summary.intent.as_deref(), Some("refund"));
            assert_eq!(summary.last_messages.len(), 3);
        }
        other => panic!("expected Handoff, got {other:?}"),
    }
}

#[test]
fn changing_the_subject_drops_the_pending_intent() {
    let mut d = dialogue(DialogueConfig::default());
    assert!(matches!(
        d.handle_message(1, "我要退款", 0),
        Decision::AskSlot { .. }
    ));
    match d.handle_message(1, "算了,三连是什么意思", 1) {
        Decision::Answer { intent, .. } => assert_eq!(intent, "culture_triple"),
        other => panic!("expected Answer, got {other:?}"),
    }
}

#[test]
fn state_is_bounded_and_expires() {
    let mut d = dialogue(DialogueConfig {
        conversations_max: 3,
        idle_expiry_ms: 100,
        ..DialogueConfig::default()
    });
    for c in 0..5u64 {
        d.handle_message(c, "我要退款", c * 10);
        d.invariants();
    }
    assert_eq!(d.conversations_tracked(), 3);
    assert!(
        d.slots(0).is_none(),
        "the least recently active was evicted"
    );
    assert_eq!(d.expire(125), 1); // Conversation 2 was last active at 20.
    assert_eq!(d.expire(1_000), 2);
    assert_eq!(d.conversations_tracked(), 0);
    d.invariants();
}

#[test]
fn collected_slots_carry_into_the_handoff_summary() {
    let mut d = dialogue(DialogueConfig::default());
    d.handle_message(9, "my email is fan@example.com and I paid ¥30", 0);
    match d.handle_message(9, "let me speak to someone", 1) {
        Decision::Handoff { summary, .. } => {
            assert!(summary
                .slots
                .contains(&("email".to_string(), "fan@example.com".to_string())));
            assert!(summary
                .slots
                .contains(&("amount".to_string(), "30.00 CNY".to_string())));
        }
        other => panic!("expected Handoff, got {other:?}"),
    }
}

#[test]
fn dialogue_config_is_validated() {
    let (kb, brain) = brain();
    let bad = DialogueConfig {
        confidence_threshold: 1.5,
        ..DialogueConfig::default()
    };
    assert_eq!(
        Dialogue::new(kb, brain, bad).err().map(|e| e.field),
        Some("confidence_threshold")
    );
}
