//! Evaluation on labelled messages: what a customer would get (a correct answer, a wrong answer or a human),
//! overall and per language, plus macro-F1 and the top confusions.
//!
//! The evaluation works on [`Prediction`]s, so the same arithmetic serves a held-out file ([`evaluate`]) and
//! cross-validation on the knowledge base (`cv.rs`), where each prediction comes from a model that never saw
//! the message.
//!
//! Definitions (every rate is over all labelled messages of the group, so the three add up to 1):
//! - **correct**: confidence at or above the threshold and the intent is the label;
//! - **wrong**: confidence at or above the threshold and the intent is another one (the worst outcome:
//!   the customer is confidently told something irrelevant);
//! - **handoff**: confidence below the threshold (a human takes over);
//! - **macro-F1**: of the top-1 prediction, ignoring the threshold, averaged over the intents that have
//!   labels or predictions, so it measures the classifier separately from the threshold.

use std::fmt;

use super::brain::{Brain, Classification};
use super::labelled::LabelledSet;
use super::text::Language;

/// Confusions listed in a report.
pub const TOP_CONFUSIONS_MAX: usize = 10;

/// One classified labelled message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Class index of the label, `None` when the label is not an intent of the model (always wrong).
    pub expected: Option<usize>,
    /// Class index of the most probable intent.
    pub best: usize,
    /// Its probability.
    pub confidence: f32,
    /// The language the labelled set files the message under.
    pub language: Language,
}

/// Outcome counts and rates of one group of messages (all, or one language).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Messages in the group.
    pub total: usize,
    /// Answered with the labelled intent.
    pub correct: usize,
    /// Answered with another intent.
    pub wrong: usize,
    /// Handed to a human for low confidence.
    pub handoff: usize,
    /// Top-1 correct, ignoring the threshold.
    pub top1_correct: usize,
    /// Macro-averaged F1 of the top-1 prediction (see the module documentation).
    pub macro_f1: f64,
}

impl Scores {
    /// Share of messages answered correctly.
    pub fn correct_rate(&self) -> f64 {
        ratio(self.correct, self.total, 0.0)
    }

    /// Share of messages answered with the wrong intent.
    pub fn wrong_rate(&self) -> f64 {
        ratio(self.wrong, self.total, 0.0)
    }

    /// Share of messages handed to a human.
    pub fn handoff_rate(&self) -> f64 {
        ratio(self.handoff, self.total, 0.0)
    }

    /// Accuracy on answered messages (1.0 when nothing was answered).
    pub fn accuracy_answered(&self) -> f64 {
        ratio(self.correct, self.correct + self.wrong, 1.0)
    }

    /// Top-1 accuracy ignoring the threshold.
    pub fn accuracy_top1(&self) -> f64 {
        ratio(self.top1_correct, self.total, 0.0)
    }
}

/// Per-intent scores (top-1, ignoring the threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct IntentScore {
    /// The intent id.
    pub intent: String,
    /// Messages labelled with it.
    pub support: usize,
    /// Precision of the top-1 prediction.
    pub precision: f64,
    /// Recall of the top-1 prediction.
    pub recall: f64,
    /// Harmonic mean of the two.
    pub f1: f64,
}

/// One off-diagonal cell of the confusion matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    /// The label.
    pub expected: String,
    /// What the classifier said.
    pub predicted: String,
    /// How often.
    pub count: usize,
}

/// The result of [`evaluate`] or [`report`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// The confidence threshold used.
    pub threshold: f32,
    /// All messages.
    pub overall: Scores,
    /// Per language, Chinese then English, for the languages present.
    pub by_language: Vec<(Language, Scores)>,
    /// Per-intent scores over all messages, in class order, for intents with support or predictions.
    pub per_intent: Vec<IntentScore>,
    /// The most frequent confusions (top-1), largest first.
    pub top_confusions: Vec<Confusion>,
}

impl EvalReport {
    /// Accuracy on answered messages, all languages.
    pub fn accuracy_answered(&self) -> f64 {
        self.overall.accuracy_answered()
    }

    /// Share of all messages handed to a human.
    pub fn handoff_rate(&self) -> f64 {
        self.overall.handoff_rate()
    }

    /// Share of all messages answered with the wrong intent.
    pub fn wrong_rate(&self) -> f64 {
        self.overall.wrong_rate()
    }

    /// The scores of `language`, if the set has messages in it.
    pub fn language(&self, language: Language) -> Option<&Scores> {
        self.by_language
            .iter()
            .find(|(l, _)| *l == language)
            .map(|(_, s)| s)
    }
}

fn ratio(numerator: usize, denominator: usize, empty: f64) -> f64 {
    if denominator == 0 {
        empty
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Classifies every message of `set` with `brain`.
pub fn predict<B: Brain + ?Sized>(brain: &B, set: &LabelledSet) -> Vec<Prediction> {
    let intents = brain.intents();
    let mut probabilities = Vec::new();
    let mut out = Vec::with_capacity(set.messages.len());
    for message in &set.messages {
        brain.classify_into(&message.text, &mut probabilities);
        let classification = Classification::from_probabilities(std::mem::take(&mut probabilities));
        out.push(Prediction {
            expected: intents.iter().position(|i| *i == message.intent),
            best: classification.best,
            confidence: classification.confidence,
            language: message.language,
        });
        probabilities = classification.probabilities;
    }
    out
}

/// Evaluates `brain` on `set` at `threshold`. Labels unknown to the brain count as always wrong.
pub fn evaluate<B: Brain + ?Sized>(brain: &B, set: &LabelledSet, threshold: f32) -> EvalReport {
    report(brain.intents(), &predict(brain, set), threshold)
}

/// The report of `predictions` made by a model over `intents`, at `threshold`.
pub fn report(intents: &[String], predictions: &[Prediction], threshold: f32) -> EvalReport {
    let matrix = confusion_matrix(intents.len(), predictions.iter());
    let mut by_language = Vec::new();
    for language in [Language::Chinese, Language::English] {
        let subset = predictions.iter().filter(|p| p.language == language);
        if subset.clone().next().is_some() {
            by_language.push((language, scores(intents.len(), subset, threshold)));
        }
    }
    EvalReport {
        threshold,
        overall: scores(intents.len(), predictions.iter(), threshold),
        by_language,
        per_intent: per_intent_scores(intents, &matrix),
        top_confusions: top_confusions(intents, &matrix),
    }
}

/// The share of `predictions` answered wrongly when the least confident `handoff_rate` of them are handed
/// off (rounded to whole messages): compares two models at the same handoff rate whatever their
/// thresholds.
pub fn wrong_at_handoff(predictions: &[Prediction], handoff_rate: f64) -> f64 {
    if predictions.is_empty() {
        return 0.0;
    }
    let mut ranked: Vec<&Prediction> = predictions.iter().collect();
    ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let handed_off = (handoff_rate.clamp(0.0, 1.0) * predictions.len() as f64).round() as usize;
    let answered = &ranked[..predictions.len() - handed_off];
    let wrong = answered
        .iter()
        .filter(|p| p.expected != Some(p.best))
        .count();
    wrong as f64 / predictions.len() as f64
}

/// Outcome counts of `predictions` at `threshold`.
pub fn scores<'a>(
    classes: usize,
    predictions: impl Iterator<Item = &'a Prediction> + Clone,
    threshold: f32,
) -> Scores {
    let mut s = Scores {
        total: 0,
        correct: 0,
        wrong: 0,
        handoff: 0,
        top1_correct: 0,
        macro_f1: 0.0,
    };
    for p in predictions.clone() {
        let right = p.expected == Some(p.best);
        s.total += 1;
        s.top1_correct += usize::from(right);
        if p.confidence < threshold {
            s.handoff += 1;
        } else if right {
            s.correct += 1;
        } else {
            s.wrong += 1;
        }
    }
    let matrix = confusion_matrix(classes, predictions);
    let f1: Vec<f64> = (0..classes)
        .filter_map(|c| class_f1(&matrix, c).map(|(_, _, _, f1)| f1))
        .collect();
    s.macro_f1 = if f1.is_empty() {
        0.0
    } else {
        f1.iter().sum::<f64>() / f1.len() as f64
    };
    s
}

/// `matrix[expected][predicted]` of the top-1 predictions; an unknown label gets the extra last row.
fn confusion_matrix<'a>(
    classes: usize,
    predictions: impl Iterator<Item = &'a Prediction>,
) -> Vec<Vec<usize>> {
    let mut matrix = vec![vec![0usize; classes]; classes + 1];
    for p in predictions {
        matrix[p.expected.unwrap_or(classes)][p.best] += 1;
    }
    matrix
}

/// `(support, precision, recall, f1)` of class `c`, or `None` when it has neither labels nor predictions.
fn class_f1(matrix: &[Vec<usize>], c: usize) -> Option<(usize, f64, f64, f64)> {
    let true_positive = matrix[c][c];
    let support: usize = matrix[c].iter().sum();
    let predicted: usize = matrix.iter().map(|row| row[c]).sum();
    if support == 0 && predicted == 0 {
        return None;
    }
    let precision = ratio(true_positive, predicted, 0.0);
    let recall = ratio(true_positive, support, 0.0);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Some((support, precision, recall, f1))
}

fn per_intent_scores(intents: &[String], matrix: &[Vec<usize>]) -> Vec<IntentScore> {
    let mut out = Vec::new();
    for (c, intent) in intents.iter().enumerate() {
        if let Some((support, precision, recall, f1)) = class_f1(matrix, c) {
            out.push(IntentScore {
                intent: intent.clone(),
                support,
                precision,
                recall,
                f1,
            });
        }
    }
    out
}

fn top_confusions(intents: &[String], matrix: &[Vec<usize>]) -> Vec<Confusion> {
    let mut cells = Vec::new();
    for (e, row) in matrix.iter().enumerate() {
        for (p, &count) in row.iter().enumerate() {
            if e != p && count > 0 {
                let expected = intents
                    .get(e)
                    .cloned()
                    .unwrap_or_else(|| "<unknown label>".to_string());
                cells.push(Confusion {
                    expected,
                    predicted: intents[p].clone(),
                    count,
                });
            }
        }
    }
    cells.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.expected.cmp(&b.expected))
            .then_with(|| a.predicted.cmp(&b.predicted))
    });
    cells.truncate(TOP_CONFUSIONS_MAX);
    cells
}

impl EvalReport {
    /// The outcome table alone: one row per language and one for all, as printed by `ai eval`.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<8} {:>5} {:>8} {:>7} {:>8} {:>8} {:>6}\n",
            "group", "n", "correct", "wrong", "handoff", "macroF1", "top1"
        );
        let rows = self
            .by_language
            .iter()
            .map(|(l, s)| (l.code(), s))
            .chain(std::iter::once(("all", &self.overall)));
        for (name, s) in rows {
            out.push_str(&format!(
                "{:<8} {:>5} {:>7.1}% {:>6.1}% {:>7.1}% {:>8.3} {:>5.1}%\n",
                name,
                s.total,
                100.0 * s.correct_rate(),
                100.0 * s.wrong_rate(),
                100.0 * s.handoff_rate(),
                s.macro_f1,
                100.0 * s.accuracy_top1(),
            ));
        }
        out
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "threshold:           {:.2}", self.threshold)?;
        write!(f, "{}", self.table())?;
        writeln!(
            f,
            "accuracy (answered): {:.1}%",
            100.0 * self.accuracy_answered()
        )?;
        writeln!(f, "per intent (support, precision, recall, F1; top-1):")?;
        for s in &self.per_intent {
            writeln!(
                f,
                "  {:<24} {:>4} {:>6.3} {:>6.3} {:>6.3}",
                s.intent, s.support, s.precision, s.recall, s.f1
            )?;
        }
        writeln!(f, "top confusions (expected -> predicted: count):")?;
        for c in &self.top_confusions {
            writeln!(f, "  {} -> {}: {}", c.expected, c.predicted, c.count)?;
        }
        Ok(())
    }
}
