//! The [`Brain`] trait: what the dialogue layer needs from a model, so another one can be plugged in.

use super::sentiment::{self, Sentiment};

/// A text classifier over a fixed list of intents, plus a sentiment scorer.
///
/// Implementations must be deterministic: the same text always gives the same answer.
pub trait Brain {
    /// The intent ids, in class order; [`Brain::classify_into`] fills one probability per entry.
    fn intents(&self) -> &[String];

    /// Writes the probability of each intent for `text` into `probabilities` (resized to the number of
    /// intents). The probabilities sum to 1.
    fn classify_into(&self, text: &str, probabilities: &mut Vec<f32>);

    /// The sentiment of `text`; the default is the bilingual lexicon scorer.
    fn sentiment(&self, text: &str) -> Sentiment {
        sentiment::score(text)
    }

    /// Classifies `text`, returning the best intent and all probabilities.
    fn classify(&self, text: &str) -> Classification {
        let mut probabilities = Vec::new();
        self.classify_into(text, &mut probabilities);
        Classification::from_probabilities(probabilities)
    }
}

/// The outcome of classifying one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// Index of the most probable intent (ties go to the lower index).
    pub best: usize,
    /// Its probability, the bot's confidence.
    pub confidence: f32,
    /// One probability per intent, in [`Brain::intents`] order.
    pub probabilities: Vec<f32>,
}

impl Classification {
    /// Picks the best class from a probability vector; an empty vector yields index 0 with confidence 0.
    pub fn from_probabilities(probabilities: Vec<f32>) -> Self {
        let mut best = 0;
        for (i, &p) in probabilities.iter().enumerate() {
            if p > probabilities[best] {
                best = i;
            }
        }
        let confidence = probabilities.get(best).copied().unwrap_or(0.0);
        Classification {
            best,
            confidence,
            probabilities,
        }
    }

    /// The `n` most probable intent indices with their probabilities, best first.
    pub fn top(&self, n: usize) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> =
            self.probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(n);
        ranked
    }
}

impl<B: Brain + ?Sized> Brain for Box<B> {
    fn intents(&self) -> &[String] {
        (**self).intents()
    }

    fn classify_into(&self, text: &str, probabilities: &mut Vec<f32>) {
        (**self).classify_into(text, probabilities);
    }

    fn sentiment(&self, text: &str) -> Sentiment {
        (**self).sentiment(text)
    }
}
