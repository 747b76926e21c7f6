//! Evaluation on a labelled set: accuracy on answered messages and overall, macro-F1, top confusions and
//! the handoff rate at a confidence threshold.

use std::fmt;

use super::brain::Brain;
use super::labelled::LabelledSet;

/// Per-intent scores (on all messages, ignoring the threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct IntentScore {
    /// The intent id.
    pub intent: String,
    /// Messages labelled with it.
    pub support: usize,
    /// Precision of the argmax prediction.
    pub precision: f64,
    /// Recall of the argmax prediction.
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

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// The confidence threshold used.
    pub threshold: f32,
    /// Messages evaluated.
    pub total: usize,
    /// Messages with confidence at or above the threshold (the bot would answer them).
    pub answered: usize,
    /// Of those, correctly classified.
    pub answered_correct: usize,
    /// Messages correctly classified by argmax, answered or not.
    pub overall_correct: usize,
    /// Macro-averaged F1 over intents present in the labels or the predictions (argmax, all messages).
    pub macro_f1: f64,
    /// Per-intent scores, in knowledge-base order, for intents with support or predictions.
    pub per_intent: Vec<IntentScore>,
    /// The most frequent confusions, largest first (at most ten).
    pub top_confusions: Vec<Confusion>,
}

impl EvalReport {
    /// Accuracy on answered messages (1.0 when nothing was answered).
    pub fn accuracy_answered(&self) -> f64 {
        ratio(self.answered_correct, self.answered, 1.0)
    }

    /// Accuracy on all messages, by argmax.
    pub fn accuracy_overall(&self) -> f64 {
        ratio(self.overall_correct, self.total, 0.0)
    }

    /// Share of messages handed to a human for low confidence.
    pub fn handoff_rate(&self) -> f64 {
        ratio(self.total - self.answered, self.total, 0.0)
    }
}

fn ratio(numerator: usize, denominator: usize, empty: f64) -> f64 {
    if denominator == 0 {
        empty
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Evaluates `brain` on `set` at `threshold`. Labels unknown to the brain count as always wrong.
pub fn evaluate<B: Brain + ?Sized>(brain: &B, set: &LabelledSet, threshold: f32) -> EvalReport {
    let intents = brain.intents();
    let classes = intents.len();
    // matrix[expected][predicted]; an unknown label gets the extra last row.
    let mut matrix = vec![vec![0usize; classes]; classes + 1];
    let (mut answered, mut answered_correct, mut overall_correct) = (0, 0, 0);
    let mut probabilities = Vec::new();
    for message in &set.messages {
        brain.classify_into(&message.text, &mut probabilities);
        let classification =
            super::brain::Classification::from_probabilities(std::mem::take(&mut probabilities));
        let expected = intents
            .iter()
            .position(|i| *i == message.intent)
            .unwrap_or(classes);
        let correct = expected == classification.best;
        matrix[expected][classification.best] += 1;
        overall_correct += usize::from(correct);
        if classification.confidence >= threshold {
            answered += 1;
            answered_correct += usize::from(correct);
        }
        probabilities = classification.probabilities;
    }
    let per_intent = per_intent_scores(intents, &matrix);
    let macro_f1 = if per_intent.is_empty() {
        0.0
    } else {
        per_intent.iter().map(|s| s.f1).sum::<f64>() / per_intent.len() as f64
    };
    EvalReport {
        threshold,
        total: set.messages.len(),
        answered,
        answered_correct,
        overall_correct,
        macro_f1,
        per_intent,
        top_confusions: top_confusions(intents, &matrix),
    }
}

fn per_intent_scores(intents: &[String], matrix: &[Vec<usize>]) -> Vec<IntentScore> {
    let mut out = Vec::new();
    for (c, intent) in intents.iter().enumerate() {
        let true_positive = matrix[c][c];
        let support: usize = matrix[c].iter().sum();
        let predicted: usize = matrix.iter().map(|row| row[c]).sum();
        if support == 0 && predicted == 0 {
            continue;
        }
        let precision = ratio(true_positive, predicted, 0.0);
        let recall = ratio(true_positive, support, 0.0);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        out.push(IntentScore {
            intent: intent.clone(),
            support,
            precision,
            recall,
            f1,
        });
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
    });
    cells.truncate(10);
    cells
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages:            {}", self.total)?;
        writeln!(f, "threshold:           {:.2}", self.threshold)?;
        writeln!(
            f,
            "answered:            {} ({:.1}%)",
            self.answered,
            100.0 - 100.0 * self.handoff_rate()
        )?;
        writeln!(
            f,
            "handoff rate:        {:.1}%",
            100.0 * self.handoff_rate()
        )?;
        writeln!(
            f,
            "accuracy (answered): {:.1}%",
            100.0 * self.accuracy_answered()
        )?;
        writeln!(
            f,
            "accuracy (overall):  {:.1}%",
            100.0 * self.accuracy_overall()
        )?;
        writeln!(f, "macro-F1 (overall):  {:.3}", self.macro_f1)?;
        writeln!(f, "per intent (support, precision, recall, F1):")?;
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
