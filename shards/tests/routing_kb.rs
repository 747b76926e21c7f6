//! Knowledge-base parsing, validation errors and the shipped KB's coverage.

use switchboard_shards::routing::kb::{render, KbError, KnowledgeBase};
use switchboard_shards::routing::text::Language;

const MINIMAL: &str = r#"
[meta]
name = "t"
version = 1

[[slot]]
id = "order_id"
extractor = "order_id"
question_zh = "订单号?"
question_en = "Order number?"

[[intent]]
id = "refund"
name = "Refund"
skill = "billing"
urgency = "normal"
needs_ticket = true
required_slots = ["order_id"]
answer_zh = "订单 {order_id} 已退款"
answer_en = "Order {order_id} refunded"
utterances_zh = ["我要退款"]
utterances_en = ["refund please"]

[[intent]]
id = "human"
name = "Human"
skill = "general"
urgency = "low"
action = "handoff"
answer_zh = "转人工"
answer_en = "Connecting you"
utterances_zh = ["转人工"]
utterances_en = ["human please"]
"#;

#[test]
fn minimal_kb_parses() {
    let kb = KnowledgeBase::parse(MINIMAL).expect("valid");
    assert_eq!(kb.intents.len(), 2);
    assert_eq!(kb.intent_index("human"), Some(1));
    assert_eq!(
        kb.slot("order_id").map(|s| s.question(Language::English)),
        Some("Order number?")
    );
}

#[test]
fn shipped_kb_is_large_and_bilingual() {
    let kb = KnowledgeBase::builtin().expect("built-in KB is valid");
    assert!(kb.intents.len() >= 20, "only {} intents", kb.intents.len());
    for intent in &kb.intents {
        assert!(
            intent.utterances_zh.len() >= 30,
            "{}: {} zh",
            intent.id,
            intent.utterances_zh.len()
        );
        assert!(
            intent.utterances_en.len() >= 30,
            "{}: {} en",
            intent.id,
            intent.utterances_en.len()
        );
    }
    for id in [
        "refund",
        "double_charge",
        "human_agent",
        "out_of_scope",
        "culture_triple",
        "region_lock",
    ] {
        assert!(kb.intent(id).is_some(), "missing intent {id}");
    }
}

#[test]
fn syntax_error_names_the_line() {
    let broken = MINIMAL.replace("urgency = \"low\"", "urgency = low");
    let line = broken
        .lines()
        .position(|l| l.contains("urgency = low"))
        .expect("present")
        + 1;
    match KnowledgeBase::parse(&broken) {
        Err(KbError::Syntax { line: l, .. }) => assert_eq!(l, line),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn unknown_field_and_bad_enum_are_syntax_errors() {
    let unknown = MINIMAL.replace(
        "needs_ticket = true",
        "needs_ticket = true\ncolour = \"red\"",
    );
    assert!(matches!(
        KnowledgeBase::parse(&unknown),
        Err(KbError::Syntax { .. })
    ));
    let bad_urgency = MINIMAL.replace("urgency = \"normal\"", "urgency = \"whenever\"");
    assert!(matches!(
        KnowledgeBase::parse(&bad_urgency),
        Err(KbError::Syntax { .. })
    ));
}

#[test]
fn duplicate_intent_names_the_second_definition() {
    let dup = MINIMAL.replace("id = \"human\"", "id = \"refund\"");
    let second = dup
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "id = \"refund\"")
        .nth(1)
        .expect("two")
        .0
        + 1;
    assert_eq!(
        KnowledgeBase::parse(&dup),
        Err(KbError::DuplicateIntent {
            intent: "refund".into(),
            line: second
        })
    );
}

#[test]
fn unknown_slot_and_placeholder_are_rejected() {
    let line = MINIMAL
        .lines()
        .position(|l| l.trim() == "id = \"refund\"")
        .expect("present")
        + 1;
    let unknown_slot = MINIMAL.replace(
        "required_slots = [\"order_id\"]",
        "required_slots = [\"order_id\", \"sku\"]",
    );
    assert_eq!(
        KnowledgeBase::parse(&unknown_slot),
        Err(KbError::UnknownSlot {
            intent: "refund".into(),
            slot: "sku".into(),
            line
        })
    );
    let placeholder = MINIMAL.replace(
        "Order {order_id} refunded",
        "Order {order_id} refunded to {email}",
    );
    assert_eq!(
        KnowledgeBase::parse(&placeholder),
        Err(KbError::UnknownPlaceholder {
            intent: "refund".into(),
            placeholder: "email".into(),
            line
        })
    );
}

#[test]
fn empty_language_and_duplicate_utterances_are_rejected() {
    let no_zh = MINIMAL.replace("utterances_zh = [\"转人工\"]", "utterances_zh = []");
    assert!(matches!(
        KnowledgeBase::parse(&no_zh),
        Err(KbError::NoUtterances { ref intent, language: Language::Chinese, .. }) if intent == "human"
    ));
    let dup = MINIMAL.replace(
        "utterances_en = [\"human please\"]",
        "utterances_en = [\"Refund please\"]",
    );
    assert!(matches!(
        KnowledgeBase::parse(&dup),
        Err(KbError::DuplicateUtterance { .. })
    ));
}

#[test]
fn no_intents_and_bad_slot_ranges() {
    let none = "[meta]\nname = \"x\"\nversion = 1\n";
    assert_eq!(KnowledgeBase::parse(none), Err(KbError::NoIntents));
    let bad = MINIMAL.replace(
        "extractor = \"order_id\"",
        "extractor = \"order_id\"\ndigits_min = 30\ndigits_max = 10",
    );
    assert!(matches!(
        KnowledgeBase::parse(&bad),
        Err(KbError::InvalidSlot { .. })
    ));
}

#[test]
fn render_fills_placeholders() {
    let values = vec![("order_id".to_string(), "123".to_string())];
    assert_eq!(render("订单 {order_id} 已退款", &values), "订单 123 已退款");
    assert_eq!(render("no slots", &values), "no slots");
}
