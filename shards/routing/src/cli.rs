//! The `switchboard ai …` subcommand: evaluate the classifier (on labelled files or by cross-validation),
//! choose its settings by cross-validation, or classify messages (one, or one per stdin line as JSON).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::brain::Brain;
use super::cv::{
    choose_threshold, cross_validate, cross_validate_dense, default_grid, hybrid_grid, tune_dense,
    TuneRow, FOLD_SEED_DEFAULT,
};
use super::dialogue::{Decision, Dialogue, DialogueConfig};
use super::embed::Encoder;
use super::eval::{evaluate, report, wrong_at_handoff};
use super::hybrid::{embed_kb, AnyBrain};
use super::kb::{KnowledgeBase, TEXT_CHARS_MAX};
use super::labelled::LabelledSet;
use super::model::{ngram_train_config, tuned_threshold, tuned_train_config};
use super::text::detect_language;

/// Most lines `ai classify --bulk` reads before refusing the rest.
pub const BULK_LINES_MAX: usize = 1_000_000;

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
    /// Evaluate the classifier: correct, wrong and handoff rates and macro-F1, overall and per language,
    /// on labelled files (`--data`, repeatable) and/or by cross-validation on the KB (`--cv K`).
    Eval {
        /// A labelled set (TOML, `[[case]] intent = "…" zh = […] en = […]`); repeat to combine files.
        #[arg(long)]
        data: Vec<PathBuf>,
        /// Knowledge base to train on (default: the built-in video-platform KB).
        #[arg(long)]
        kb: Option<PathBuf>,
        /// Confidence threshold below which the bot hands off (default: the one cross-validation
        /// chose for the model: hybrid 0.85, n-grams 0.60).
        #[arg(long)]
        threshold: Option<f32>,
        /// Cross-validate on the KB with this many folds (translation pairs stay in one fold).
        #[arg(long)]
        cv: Option<usize>,
        /// Seed of the fold assignment.
        #[arg(long, default_value_t = FOLD_SEED_DEFAULT)]
        seed: u64,
        /// Exit with status 1 when accuracy on answered messages (of `--data`) is below this.
        #[arg(long)]
        min_accuracy: Option<f64>,
        /// Directory of the sentence encoder's weights (`scripts/fetch-embedding-model.sh`); default
        /// `$SWITCHBOARD_EMBEDDING_MODEL`. With it the hybrid model (n-grams + embedding) is used.
        #[arg(long)]
        embedding_model: Option<PathBuf>,
    },
    /// Choose the threshold and learning settings by cross-validation on the KB only.
    Tune {
        /// Knowledge base (default: the built-in video-platform KB).
        #[arg(long)]
        kb: Option<PathBuf>,
        /// Number of folds.
        #[arg(long, default_value_t = 5)]
        cv: usize,
        /// Seed of the fold assignment.
        #[arg(long, default_value_t = FOLD_SEED_DEFAULT)]
        seed: u64,
        /// Directory of the sentence encoder's weights (`scripts/fetch-embedding-model.sh`); default
        /// `$SWITCHBOARD_EMBEDDING_MODEL`. With it the hybrid model (n-grams + embedding) is used.
        #[arg(long)]
        embedding_model: Option<PathBuf>,
    },
    /// Classify one message and show the bot's decision; `--bulk` reads one message per stdin line and
    /// writes one JSON object per line, training once.
    Classify {
        /// The customer message (omit with `--bulk`).
        #[arg(required_unless_present = "bulk")]
        text: Option<String>,
        /// Knowledge base to train on (default: the built-in video-platform KB).
        #[arg(long)]
        kb: Option<PathBuf>,
        /// Confidence threshold below which the bot hands off (default: the one cross-validation
        /// chose for the model: hybrid 0.85, n-grams 0.60).
        #[arg(long)]
        threshold: Option<f32>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
        /// Read messages from stdin, one per line; print one JSON object per line.
        #[arg(long, conflicts_with = "text")]
        bulk: bool,
        /// Directory of the sentence encoder's weights (`scripts/fetch-embedding-model.sh`); default
        /// `$SWITCHBOARD_EMBEDDING_MODEL`. With it the hybrid model (n-grams + embedding) is used.
        #[arg(long)]
        embedding_model: Option<PathBuf>,
    },
}

fn load_kb(path: Option<&PathBuf>) -> anyhow::Result<KnowledgeBase> {
    match path {
        Some(p) => KnowledgeBase::from_file(p)
            .with_context(|| format!("loading knowledge base {}", p.display())),
        None => KnowledgeBase::builtin().context("loading the built-in knowledge base"),
    }
}

/// `--threshold`, or the one cross-validation chose for the model ([`crate::model`]).
fn threshold_or_default(threshold: Option<f32>, hybrid: bool) -> f32 {
    threshold.unwrap_or(tuned_threshold(hybrid))
}

/// The model the CLI evaluates: the n-gram model, or the hybrid when an encoder is configured.
fn load_encoder(flag: Option<&PathBuf>) -> anyhow::Result<Option<Encoder>> {
    match Encoder::configured_dir(flag.map(PathBuf::as_path)) {
        Some(dir) => {
            let encoder = Encoder::load(&dir)
                .with_context(|| format!("loading the embedding model from {}", dir.display()))?;
            Ok(Some(encoder))
        }
        None => Ok(None),
    }
}

fn train_brain(kb: &KnowledgeBase, encoder: Option<Encoder>) -> anyhow::Result<AnyBrain> {
    Ok(AnyBrain::train_tuned(kb, encoder)?)
}

/// Runs `switchboard ai …`.
pub fn run(args: &AiArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        AiCommand::Eval {
            data,
            kb,
            threshold,
            cv,
            seed,
            min_accuracy,
            embedding_model,
        } => {
            let kb = load_kb(kb.as_ref())?;
            anyhow::ensure!(
                !data.is_empty() || cv.is_some(),
                "give --data FILE and/or --cv K"
            );
            let encoder = load_encoder(embedding_model.as_ref())?;
            let threshold = threshold_or_default(*threshold, encoder.is_some());
            println!(
                "model: {}",
                if encoder.is_some() {
                    "hybrid (n-grams + sentence embedding)"
                } else {
                    "n-grams"
                }
            );
            if let Some(folds) = *cv {
                eval_cv(&kb, encoder.as_ref(), folds, *seed, threshold)?;
            }
            if data.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            let mut set = LabelledSet::default();
            for path in data {
                let part = LabelledSet::from_file(path)
                    .with_context(|| format!("loading {}", path.display()))?;
                part.check_against(&kb)?;
                set.messages.extend(part.messages);
            }
            let brain = train_brain(&kb, encoder)?;
            let report = evaluate(&brain, &set, threshold);
            println!("== labelled set ({} files) ==", data.len());
            print!("{report}");
            let failed = min_accuracy.is_some_and(|min| report.accuracy_answered() < min);
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        AiCommand::Tune {
            kb,
            cv,
            seed,
            embedding_model,
        } => {
            let kb = load_kb(kb.as_ref())?;
            let encoder = load_encoder(embedding_model.as_ref())?;
            let dense = encoder.as_ref().map(|e| embed_kb(&kb, e));
            let grid = if dense.is_some() {
                hybrid_grid()
            } else {
                default_grid()
            };
            let (rows, best) = tune_dense(&kb, &grid, *cv, *seed, dense.as_deref())?;
            print!("{}", tune_table(&rows, best));
            Ok(ExitCode::SUCCESS)
        }
        AiCommand::Classify {
            text,
            kb,
            threshold,
            json,
            bulk,
            embedding_model,
        } => {
            let kb = load_kb(kb.as_ref())?;
            let brain = train_brain(&kb, load_encoder(embedding_model.as_ref())?)?;
            let config = DialogueConfig {
                confidence_threshold: threshold.unwrap_or(brain.tuned_threshold()),
                ..DialogueConfig::default()
            };
            let mut dialogue = Dialogue::new(kb, brain, config)?;
            if *bulk {
                let output = std::io::BufWriter::new(std::io::stdout().lock());
                classify_stream(&mut dialogue, std::io::stdin().lock(), output)?;
            } else if let Some(text) = text {
                if *json {
                    println!("{}", classify_json(&mut dialogue, 1, text));
                } else {
                    classify_verbose(&mut dialogue, text);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `ai eval --cv`: the cross-validated report; with an encoder, also the n-gram model's, and both
/// models' wrong answers at equal handoff rates (the comparison issue 18 asks for).
fn eval_cv(
    kb: &KnowledgeBase,
    encoder: Option<&Encoder>,
    folds: usize,
    seed: u64,
    threshold: f32,
) -> anyhow::Result<()> {
    let intents: Vec<String> = kb.intents.iter().map(|i| i.id.clone()).collect();
    let dense = encoder.map(|e| embed_kb(kb, e));
    let config = tuned_train_config(dense.is_some());
    let predictions = cross_validate_dense(kb, &config, folds, seed, dense.as_deref())?;
    println!("== {folds}-fold cross-validation on the KB (seed {seed}) ==");
    print!("{}", report(&intents, &predictions, threshold));
    println!(
        "threshold the CV rule would choose: {:.2}",
        choose_threshold(intents.len(), &predictions)
    );
    if dense.is_some() {
        let baseline = cross_validate(kb, &ngram_train_config(), folds, seed)?;
        println!("== wrong answers at equal handoff (CV): n-grams vs hybrid ==");
        println!("handoff  n-grams   hybrid  fewer");
        for handoff_percent in [10u32, 20, 25, 30, 40, 50, 60] {
            let h = f64::from(handoff_percent) / 100.0;
            let (a, b) = (
                wrong_at_handoff(&baseline, h),
                wrong_at_handoff(&predictions, h),
            );
            let fewer = if a > 0.0 { 100.0 * (a - b) / a } else { 0.0 };
            println!(
                "{:>6}% {:>7.1}% {:>7.1}% {:>5.0}%",
                handoff_percent,
                100.0 * a,
                100.0 * b,
                fewer
            );
        }
    }
    Ok(())
}

fn tune_table(rows: &[TuneRow], best: usize) -> String {
    let mut out = String::from("rate epochs dense threshold correct  wrong handoff macroF1\n");
    for (i, row) in rows.iter().enumerate() {
        let s = &row.scores;
        out.push_str(&format!(
            "{:>4} {:>6} {:>5} {:>9.2} {:>6.1}% {:>5.1}% {:>6.1}% {:>7.3}{}\n",
            row.config.learning_rate,
            row.config.epochs,
            row.config.dense_weight,
            row.threshold,
            100.0 * s.correct_rate(),
            100.0 * s.wrong_rate(),
            100.0 * s.handoff_rate(),
            s.macro_f1,
            if i == best { "  <- chosen" } else { "" }
        ));
    }
    out
}

/// Classifies one message per line of `input`, writing one JSON object per line to `output` (each line
/// in a fresh conversation, with the model trained once).
pub fn classify_stream<B: Brain>(
    dialogue: &mut Dialogue<B>,
    input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<()> {
    for (index, line) in input.lines().enumerate() {
        anyhow::ensure!(
            index < BULK_LINES_MAX,
            "more than {BULK_LINES_MAX} input lines"
        );
        let line = line.context("reading input")?;
        let text: String = line.chars().take(TEXT_CHARS_MAX).collect();
        writeln!(
            output,
            "{}",
            classify_json(dialogue, index as u64 + 1, &text)
        )?;
    }
    output.flush()?;
    Ok(())
}

fn classify_verbose<B: Brain>(dialogue: &mut Dialogue<B>, text: &str) {
    let brain = dialogue.brain();
    let classification = brain.classify(text);
    let sentiment = brain.sentiment(text);
    println!("language:  {}", detect_language(text));
    println!("sentiment: {:.2} {:?}", sentiment.score, sentiment.cues);
    for (index, p) in classification.top(3) {
        println!("  {:<24} {:.3}", brain.intents()[index], p);
    }
    print_decision(&dialogue.handle_message(1, text, 0));
}

/// One message's classification and the bot's decision as a JSON object, in a fresh conversation.
fn classify_json<B: Brain>(dialogue: &mut Dialogue<B>, conversation: u64, text: &str) -> String {
    let brain = dialogue.brain();
    let classification = brain.classify(text);
    let sentiment = brain.sentiment(text);
    let top: Vec<String> = classification
        .top(3)
        .into_iter()
        .map(|(i, p)| format!("[{},{:.4}]", json_string(&brain.intents()[i]), p))
        .collect();
    let cues: Vec<String> = sentiment.cues.iter().map(|c| json_string(c)).collect();
    let mut out = format!(
        "{{\"text\":{},\"language\":\"{}\",\"intent\":{},\"confidence\":{:.4},\"top\":[{}],\
         \"sentiment\":{:.3},\"cues\":[{}],",
        json_string(text),
        detect_language(text).code(),
        json_string(&brain.intents()[classification.best]),
        classification.confidence,
        top.join(","),
        sentiment.score,
        cues.join(","),
    );
    let decision = dialogue.handle_message(conversation, text, 0);
    dialogue.end_conversation(conversation);
    match decision {
        Decision::Answer { intent, .. } => {
            out.push_str(&format!(
                "\"decision\":\"answer\",\"answered\":{}}}",
                json_string(&intent)
            ));
        }
        Decision::AskSlot { slot, .. } => {
            out.push_str(&format!(
                "\"decision\":\"ask_slot\",\"slot\":{}}}",
                json_string(&slot)
            ));
        }
        Decision::Ticket { ticket, .. } => {
            out.push_str(&format!(
                "\"decision\":\"ticket\",\"answered\":{}}}",
                json_string(&ticket.category)
            ));
        }
        Decision::Handoff { reason, .. } => {
            out.push_str(&format!(
                "\"decision\":\"handoff\",\"reason\":\"{reason:?}\"}}"
            ));
        }
    }
    out
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(json_string("退款\u{1}"), "\"退款\\u0001\"");
    }
}
