//! The `switchboard ai …` subcommand: evaluate the classifier on a labelled set, or classify one message.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::brain::Brain;
use super::dialogue::{Decision, Dialogue, DialogueConfig};
use super::eval::evaluate;
use super::kb::KnowledgeBase;
use super::labelled::LabelledSet;
use super::ngram::{NgramBrain, TrainConfig};
use super::text::detect_language;

/// Arguments of `switchboard ai`.
#[derive(Debug, Clone, clap::Args)]
pub struct AiArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AiCommand,
}

/// The `ai` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AiCommand {
    /// Evaluate the classifier on a labelled set: accuracy, macro-F1, confusions, handoff rate.
    Eval {
        /// The labelled set (TOML, `[[case]] intent = "…" zh = […] en = […]`).
        #[arg(long)]
        data: PathBuf,
        /// Knowledge base to train on (default: the built-in video-platform KB).
        #[arg(long)]
        kb: Option<PathBuf>,
        /// Confidence threshold below which the bot hands off.
        #[arg(long, default_value_t = 0.70)]
        threshold: f32,
        /// Exit with status 1 when accuracy on answered messages is below this.
        #[arg(long)]
        min_accuracy: Option<f64>,
    },
    /// Classify one message and show the bot's decision.
    Classify {
        /// The customer message.
        text: String,
        /// Knowledge base to train on (default: the built-in video-platform KB).
        #[arg(long)]
        kb: Option<PathBuf>,
        /// Confidence threshold below which the bot hands off.
        #[arg(long, default_value_t = 0.70)]
        threshold: f32,
    },
}

fn load_kb(path: Option<&PathBuf>) -> anyhow::Result<KnowledgeBase> {
    match path {
        Some(p) => KnowledgeBase::from_file(p)
            .with_context(|| format!("loading knowledge base {}", p.display())),
        None => KnowledgeBase::builtin().context("loading the built-in knowledge base"),
    }
}

/// Runs `switchboard ai …`.
pub fn run(args: &AiArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        AiCommand::Eval {
            data,
            kb,
            threshold,
            min_accuracy,
        } => {
            let kb = load_kb(kb.as_ref())?;
            let set = LabelledSet::from_file(data)
                .with_context(|| format!("loading {}", data.display()))?;
            set.check_against(&kb)?;
            let brain = NgramBrain::train(&kb, &TrainConfig::default())?;
            let report = evaluate(&brain, &set, *threshold);
            print!("{report}");
            let failed = min_accuracy.is_some_and(|min| report.accuracy_answered() < min);
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        AiCommand::Classify {
            text,
            kb,
            threshold,
        } => {
            let kb = load_kb(kb.as_ref())?;
            let brain = NgramBrain::train(&kb, &TrainConfig::default())?;
            let classification = brain.classify(text);
            let sentiment = brain.sentiment(text);
            println!("language:  {}", detect_language(text));
            println!("sentiment: {:.2} {:?}", sentiment.score, sentiment.cues);
            for (index, p) in classification.top(3) {
                println!("  {:<24} {:.3}", brain.intents()[index], p);
            }
            let config = DialogueConfig {
                confidence_threshold: *threshold,
                ..DialogueConfig::default()
            };
            let mut dialogue = Dialogue::new(kb, brain, config)?;
            print_decision(&dialogue.handle_message(1, text, 0));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_decision(decision: &Decision) {
    match decision {
        Decision::Answer {
            text,
            intent,
            confidence,
        } => println!("answer ({intent}, {confidence:.2}): {text}"),
        Decision::AskSlot { slot, question } => println!("ask for {slot}: {question}"),
        Decision::Ticket { ticket, answer } => {
            println!(
                "ticket #{} [{} / {:?}] fields {:?}",
                ticket.id, ticket.category, ticket.urgency, ticket.fields
            );
            println!("answer: {answer}");
        }
        Decision::Handoff {
            summary,
            reason,
            priority,
        } => {
            println!(
                "handoff ({reason:?}, {priority:?}): best guess {:?}",
                summary.intent
            );
        }
    }
}
