//! The built-in [`NgramBrain`]: multinomial logistic regression over hashed character and word n-grams,
//! trained at start-up from the knowledge base by seeded stochastic gradient descent.
//!
//! Why this model: with a few thousand short utterances, a linear model on n-grams is as accurate as
//! anything heavier, trains in milliseconds, classifies in microseconds, and is fully deterministic. Its
//! softmax output is a usable confidence for the "never guess" threshold.
//!
//! Minimum evidence: a softmax is confident about anything, including a single character or words it
//! never saw ("退" → refund 1.00). The model remembers the full hashes of the words and phrases it trained
//! on (CJK 2- and 3-grams, Latin words and word pairs, not single characters or word pieces); a message
//! with fewer than `evidence_features_min` of them gets probabilities pulled towards uniform in proportion
//! to the shortfall, so with none at all the bot hands off instead of guessing.
//!
//! Dense features: a caller may add one dense vector per text (a sentence embedding, see
//! [`crate::hybrid`]). Its entries become extra feature rows after the hash buckets, scaled by
//! `dense_weight`, so the same logistic regression weighs n-grams and meaning together.

use thiserror::Error;

use super::brain::Brain;
use super::kb::KnowledgeBase;
use super::rng::Pcg32;
use super::text::{bucket_of, merge_and_normalize, visit_features};

/// Largest accepted `evidence_features_min`: more would refuse ordinary short questions.
pub const EVIDENCE_FEATURES_MAX: u32 = 10;

/// Training settings. Construct with [`TrainConfig::default`] and adjust; [`NgramBrain::train`] validates.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Hash buckets, a power of two; memory is `buckets × intents × 4` bytes.
    pub buckets: u32,
    /// Passes over the training data.
    pub epochs: u32,
    /// Initial learning rate; it decays as `rate / (1 + epoch × decay)`.
    pub learning_rate: f32,
    /// Learning-rate decay per epoch.
    pub learning_rate_decay: f32,
    /// L2 penalty, applied as multiplicative weight decay once per epoch.
    pub l2: f32,
    /// Seed of the shuffle order.
    pub seed: u64,
    /// Known words or phrases a message needs for a confident answer (see the module documentation); 0
    /// turns the rule off.
    pub evidence_features_min: u32,
    /// Scale of the dense features relative to the unit-length n-gram vector (used only when the caller
    /// gives dense vectors).
    pub dense_weight: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            buckets: 1 << 16,
            epochs: 15,
            learning_rate: 4.0,
            learning_rate_decay: 0.02,
            l2: 1e-4,
            seed: 7,
            evidence_features_min: 1,
            dense_weight: 1.0,
        }
    }
}

/// Why training could not start. Every variant is a local configuration error.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TrainError {
    /// `buckets` is not a power of two within `2^8..=2^22`.
    #[error("buckets must be a power of two in 256..=4194304, got {0}")]
    Buckets(u32),
    /// `epochs` is outside `1..=1000`.
    #[error("epochs must be in 1..=1000, got {0}")]
    Epochs(u32),
    /// The learning rate is not a positive finite number, or decay, L2 or the dense weight are negative.
    #[error(
        "learning_rate must be positive and learning_rate_decay, l2, dense_weight non-negative"
    )]
    Rates,
    /// `evidence_features_min` is above [`EVIDENCE_FEATURES_MAX`].
    #[error("evidence_features_min must be at most {EVIDENCE_FEATURES_MAX}, got {0}")]
    Evidence(u32),
    /// The knowledge base has fewer than two intents, so there is nothing to decide.
    #[error("need at least two intents to train, got {0}")]
    TooFewIntents(usize),
}

impl TrainConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !self.buckets.is_power_of_two() || !(256..=1 << 22).contains(&self.buckets) {
            return Err(TrainError::Buckets(self.buckets));
        }
        if !(1..=1000).contains(&self.epochs) {
            return Err(TrainError::Epochs(self.epochs));
        }
        let rate_ok = self.learning_rate.is_finite() && self.learning_rate > 0.0;
        let non_negative = |x: f32| x.is_finite() && x >= 0.0;
        let dense_ok = non_negative(self.dense_weight);
        if !rate_ok
            || !non_negative(self.learning_rate_decay)
            || !non_negative(self.l2)
            || !dense_ok
        {
            return Err(TrainError::Rates);
        }
        if self.evidence_features_min > EVIDENCE_FEATURES_MAX {
            return Err(TrainError::Evidence(self.evidence_features_min));
        }
        Ok(())
    }
}

/// Multinomial logistic regression on hashed n-grams.
#[derive(Debug, Clone)]
pub struct NgramBrain {
    /// Intent ids in class order.
    intents: Vec<String>,
    /// Weights, bucket-major: `weights[bucket × classes + class]`, so one feature's row is contiguous.
    weights: Vec<f32>,
    /// Per-class bias.
    bias: Vec<f32>,
    /// Hash buckets (power of two).
    buckets: u32,
    /// Width of the dense vectors the model was trained with (0: none); their rows follow the buckets.
    dense_width: usize,
    /// Scale applied to dense vectors.
    dense_weight: f32,
    /// Full hashes of the evidence features seen in training, sorted and unique.
    known: Vec<u64>,
    /// Known features a message needs for undamped probabilities.
    evidence_min: u32,
}

impl NgramBrain {
    /// Trains on every utterance of `kb`. Deterministic for a given KB and config.
    pub fn train(kb: &KnowledgeBase, config: &TrainConfig) -> Result<Self, TrainError> {
        let intents = kb.intents.iter().map(|i| i.id.clone()).collect();
        Self::train_on(intents, &kb.training_examples(), config)
    }

    /// Trains on `examples` (text, class index into `intents`); cross-validation trains on part of a KB.
    ///
    /// # Panics
    ///
    /// If a class index is out of range (a caller bug).
    pub fn train_on(
        intents: Vec<String>,
        examples: &[(&str, usize)],
        config: &TrainConfig,
    ) -> Result<Self, TrainError> {
        Self::train_with_dense(intents, examples, None, config)
    }

    /// Like [`NgramBrain::train_on`], with one dense vector per example (all of one width) appended to
    /// its features; classify with [`NgramBrain::classify_with_dense`] and vectors of the same kind.
    ///
    /// # Panics
    ///
    /// If a class index is out of range, or `dense` does not have one vector of one width per example
    /// (caller bugs).
    pub fn train_with_dense(
        intents: Vec<String>,
        examples: &[(&str, usize)],
        dense: Option<&[&[f32]]>,
        config: &TrainConfig,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let classes = intents.len();
        if classes < 2 {
            return Err(TrainError::TooFewIntents(classes));
        }
        assert!(examples.iter().all(|&(_, label)| label < classes));
        let dense_width = dense.and_then(|d| d.first()).map_or(0, |v| v.len());
        if let Some(d) = dense {
            assert_eq!(d.len(), examples.len(), "one dense vector per example");
            assert!(
                d.iter().all(|v| v.len() == dense_width),
                "dense vectors of one width"
            );
        }
        let mut known = Vec::new();
        let examples: Vec<(Vec<(u32, f32)>, usize)> = examples
            .iter()
            .enumerate()
            .map(|(i, &(text, label))| {
                let mut f = Vec::new();
                visit_features(text, |kind, hash, weight| {
                    f.push((bucket_of(hash, config.buckets), weight));
                    if kind.is_evidence() {
                        known.push(hash);
                    }
                });
                merge_and_normalize(&mut f);
                if let Some(d) = dense {
                    append_dense(&mut f, config.buckets, d[i], config.dense_weight);
                }
                (f, label)
            })
            .collect();
        known.sort_unstable();
        known.dedup();
        let mut brain = NgramBrain {
            intents,
            weights: vec![0.0; (config.buckets as usize + dense_width) * classes],
            bias: vec![0.0; classes],
            buckets: config.buckets,
            dense_width,
            dense_weight: config.dense_weight,
            known,
            evidence_min: config.evidence_features_min,
        };
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = Pcg32::new(config.seed);
        let mut probabilities = vec![0.0f32; classes];
        for epoch in 0..config.epochs {
            rng.shuffle(&mut order);
            let rate = config.learning_rate / (1.0 + epoch as f32 * config.learning_rate_decay);
            for &i in &order {
                let (feats, label) = &examples[i];
                brain.step(feats, *label, rate, &mut probabilities);
            }
            let keep = 1.0 - config.l2 * rate;
            brain.weights.iter_mut().for_each(|w| *w *= keep);
        }
        Ok(brain)
    }

    /// One SGD step on the cross-entropy loss for a single example.
    fn step(&mut self, feats: &[(u32, f32)], label: usize, rate: f32, probabilities: &mut [f32]) {
        self.probabilities(feats, probabilities);
        let classes = self.bias.len();
        for (class, p) in probabilities.iter().enumerate() {
            let gradient = p - if class == label { 1.0 } else { 0.0 };
            self.bias[class] -= rate * gradient;
        }
        for &(bucket, value) in feats {
            let row = &mut self.weights[bucket as usize * classes..(bucket as usize + 1) * classes];
            for (class, w) in row.iter_mut().enumerate() {
                let gradient = probabilities[class] - if class == label { 1.0 } else { 0.0 };
                *w -= rate * gradient * value;
            }
        }
    }

    /// Softmax of the linear scores.
    fn probabilities(&self, feats: &[(u32, f32)], out: &mut [f32]) {
        let classes = self.bias.len();
        out.copy_from_slice(&self.bias);
        for &(bucket, value) in feats {
            let row = &self.weights[bucket as usize * classes..(bucket as usize + 1) * classes];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * value;
            }
        }
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for o in out.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }
}

/// Appends `dense × weight` as features `buckets, buckets + 1, …` (after every hashed bucket, so the
/// feature list stays sorted).
fn append_dense(feats: &mut Vec<(u32, f32)>, buckets: u32, dense: &[f32], weight: f32) {
    feats.extend(
        dense
            .iter()
            .enumerate()
            .map(|(k, &v)| (buckets + k as u32, weight * v)),
    );
}

impl NgramBrain {
    /// Width of the dense vectors the model expects (0: it was trained on n-grams alone).
    pub fn dense_width(&self) -> usize {
        self.dense_width
    }

    /// Classifies `text` with its dense vector (of [`NgramBrain::dense_width`] entries; ignored when the
    /// model was trained without).
    ///
    /// # Panics
    ///
    /// If the model has dense rows and `dense` has another width (a caller bug).
    pub fn classify_with_dense(&self, text: &str, dense: &[f32], probabilities: &mut Vec<f32>) {
        self.classify_features(text, Some(dense), probabilities);
    }

    fn classify_features(&self, text: &str, dense: Option<&[f32]>, probabilities: &mut Vec<f32>) {
        let mut feats = Vec::with_capacity(64);
        let mut evidence = 0u32;
        visit_features(text, |kind, hash, weight| {
            feats.push((bucket_of(hash, self.buckets), weight));
            if kind.is_evidence() && self.known.binary_search(&hash).is_ok() {
                evidence += 1;
            }
        });
        merge_and_normalize(&mut feats);
        if let (Some(d), true) = (dense, self.dense_width > 0) {
            assert_eq!(
                d.len(),
                self.dense_width,
                "dense vector of the trained width"
            );
            append_dense(&mut feats, self.buckets, d, self.dense_weight);
        }
        probabilities.clear();
        probabilities.resize(self.bias.len(), 0.0);
        self.probabilities(&feats, probabilities);
        if evidence < self.evidence_min {
            // Pull towards uniform in proportion to the missing evidence; the sum stays 1.
            let kept = evidence as f32 / self.evidence_min as f32;
            let uniform = (1.0 - kept) / probabilities.len() as f32;
            probabilities
                .iter_mut()
                .for_each(|p| *p = kept * *p + uniform);
        }
    }
}

impl Brain for NgramBrain {
    fn intents(&self) -> &[String] {
        &self.intents
    }

    /// Classifies on n-grams alone (a model trained with dense vectors gets none: use
    /// [`NgramBrain::classify_with_dense`]).
    fn classify_into(&self, text: &str, probabilities: &mut Vec<f32>) {
        self.classify_features(text, None, probabilities);
    }
}
