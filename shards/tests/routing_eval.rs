//! Evaluation of the built-in classifier on the held-out set, and the held-out set's independence.

use switchboard_shards::routing::eval::evaluate;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::labelled::LabelledSet;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::text::{normalize, Language};

const HELDOUT: &str = include_str!("../kb/heldout.toml");

fn setup() -> (KnowledgeBase, LabelledSet) {
    let kb = KnowledgeBase::builtin().expect("built-in KB parses");
    let set = LabelledSet::parse(HELDOUT).expect("held-out set parses");
    set.check_against(&kb)
        .expect("held-out labels are KB intents");
    (kb, set)
}

#[test]
fn heldout_never_appears_in_the_knowledge_base() {
    let (kb, set) = setup();
    let trained: std::collections::BTreeSet<String> = kb
        .intents
        .iter()
        .flat_map(|i| i.utterances_zh.iter().chain(&i.utterances_en))
        .map(|u| normalize(u.trim()))
        .collect();
    for m in &set.messages {
        assert!(
            !trained.contains(&normalize(m.text.trim())),
            "held-out message in KB: {}",
            m.text
        );
    }
}

#[test]
fn heldout_covers_every_intent_in_both_languages() {
    let (kb, set) = setup();
    for intent in &kb.intents {
        for language in [Language::Chinese, Language::English] {
            let n = set
                .messages
                .iter()
                .filter(|m| m.intent == intent.id && m.language == language)
                .count();
            assert!(n >= 8, "{} has {n} held-out {language} messages", intent.id);
        }
    }
}

#[test]
fn heldout_accuracy_on_answered_messages_is_at_least_90_percent() {
    let (kb, set) = setup();
    let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("training succeeds");
    let report = evaluate(&brain, &set, 0.70);
    println!("{report}");
    assert!(
        report.accuracy_answered() >= 0.90,
        "answered accuracy {:.3}",
        report.accuracy_answered()
    );
    // Deterministic: a second training run gives the identical report.
    let again = evaluate(
        &NgramBrain::train(&kb, &TrainConfig::default()).expect("training"),
        &set,
        0.70,
    );
    assert_eq!(report, again);
}

#[test]
fn cli_eval_passes_the_accuracy_gate_and_classify_runs() {
    use clap::Parser;
    use switchboard_shards::routing::cli::{run, AiArgs};

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }
    #[derive(clap::Subcommand)]
    enum Command {
        Ai(AiArgs),
    }

    let heldout = concat!(env!("CARGO_MANIFEST_DIR"), "/kb/heldout.toml");
    let kb = concat!(env!("CARGO_MANIFEST_DIR"), "/kb/video-platform.toml");
    let argv = [
        "switchboard",
        "ai",
        "eval",
        "--data",
        heldout,
        "--kb",
        kb,
        "--min-accuracy",
        "0.9",
    ];
    let Command::Ai(args) = Cli::try_parse_from(argv).expect("arguments parse").command;
    let code = run(&args).expect("eval runs");
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::SUCCESS)
    );

    let argv = ["switchboard", "ai", "classify", "我要退款"];
    let Command::Ai(args) = Cli::try_parse_from(argv).expect("arguments parse").command;
    assert_eq!(
        format!("{:?}", run(&args).expect("classify runs")),
        format!("{:?}", std::process::ExitCode::SUCCESS)
    );

    let argv = [
        "switchboard",
        "ai",
        "eval",
        "--data",
        "/nonexistent/heldout.toml",
    ];
    let Command::Ai(args) = Cli::try_parse_from(argv).expect("arguments parse").command;
    assert!(run(&args).is_err(), "a missing file is an error");
}
