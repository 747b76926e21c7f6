//! The [`HybridBrain`]: the n-gram model with each text's sentence embedding as extra features.
//!
//! Why a hybrid and not the embedding alone: the encoder knows what a sentence means in either language
//! but not this platform's words (BV ids, 弹幕, 三连), and the n-grams know those words but not their
//! paraphrases; one logistic regression over both learns how far to trust each. The minimum-evidence rule
//! of [`crate::ngram`] still applies, so a message with no known word or phrase is still handed off.
//!
//! The KB utterances are embedded once at training (about 1.5 ms each on one core in a release build),
//! and every classified message once more.

use super::brain::Brain;
use super::cv::kb_examples;
use super::embed::Encoder;
use super::kb::KnowledgeBase;
use super::model::{tuned_threshold, tuned_train_config};
use super::ngram::{NgramBrain, TrainConfig, TrainError};

/// The n-gram model plus sentence embeddings.
#[derive(Debug, Clone)]
pub struct HybridBrain {
    /// The logistic regression over n-grams and the embedding.
    model: NgramBrain,
    /// The sentence encoder.
    encoder: Encoder,
}

impl HybridBrain {
    /// Trains on every utterance of `kb`, embedding each with `encoder`.
    pub fn train(
        kb: &KnowledgeBase,
        config: &TrainConfig,
        encoder: Encoder,
    ) -> Result<Self, TrainError> {
        let intents = kb.intents.iter().map(|i| i.id.clone()).collect();
        let examples = kb.training_examples();
        let vectors: Vec<Vec<f32>> = examples.iter().map(|(t, _)| encoder.embed(t)).collect();
        let dense: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let model = NgramBrain::train_with_dense(intents, &examples, Some(&dense), config)?;
        Ok(HybridBrain { model, encoder })
    }

    /// The encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }
}

impl Brain for HybridBrain {
    fn intents(&self) -> &[String] {
        self.model.intents()
    }

    fn classify_into(&self, text: &str, probabilities: &mut Vec<f32>) {
        let vector = self.encoder.embed(text);
        self.model.classify_with_dense(text, &vector, probabilities);
    }
}

/// The embedding of every KB utterance, in [`crate::cv::kb_examples`] order (for cross-validation).
pub fn embed_kb(kb: &KnowledgeBase, encoder: &Encoder) -> Vec<Vec<f32>> {
    kb_examples(kb)
        .iter()
        .map(|e| encoder.embed(e.text))
        .collect()
}

/// The model the routing shard runs: the hybrid when an encoder was loaded, else the n-gram model.
#[derive(Debug, Clone)]
pub enum AnyBrain {
    /// N-grams alone (no embedding model configured).
    Ngram(NgramBrain),
    /// N-grams and sentence embeddings.
    Hybrid(Box<HybridBrain>),
}

impl AnyBrain {
    /// Trains the hybrid model with `encoder`, or the n-gram model without one.
    pub fn train(
        kb: &KnowledgeBase,
        config: &TrainConfig,
        encoder: Option<Encoder>,
    ) -> Result<Self, TrainError> {
        Ok(match encoder {
            Some(encoder) => AnyBrain::Hybrid(Box::new(HybridBrain::train(kb, config, encoder)?)),
            None => AnyBrain::Ngram(NgramBrain::train(kb, config)?),
        })
    }

    /// Trains with each model's cross-validated settings ([`crate::model`]).
    pub fn train_tuned(kb: &KnowledgeBase, encoder: Option<Encoder>) -> Result<Self, TrainError> {
        let config = tuned_train_config(encoder.is_some());
        Self::train(kb, &config, encoder)
    }

    /// The confidence threshold cross-validation chose for this model.
    pub fn tuned_threshold(&self) -> f32 {
        tuned_threshold(matches!(self, AnyBrain::Hybrid(_)))
    }

    /// `"hybrid"` or `"ngram"`, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            AnyBrain::Ngram(_) => "ngram",
            AnyBrain::Hybrid(_) => "hybrid",
        }
    }
}

impl Brain for AnyBrain {
    fn intents(&self) -> &[String] {
        match self {
            AnyBrain::Ngram(b) => b.intents(),
            AnyBrain::Hybrid(b) => b.intents(),
        }
    }

    fn classify_into(&self, text: &str, probabilities: &mut Vec<f32>) {
        match self {
            AnyBrain::Ngram(b) => b.classify_into(text, probabilities),
            AnyBrain::Hybrid(b) => b.classify_into(text, probabilities),
        }
    }
}
