//! K-fold cross-validation on the knowledge base, and the choice of the threshold and the training
//! hyper-parameters from it.
//!
//! Why: a held-out file is small and, once looked at, no longer held out. Every utterance of the KB is
//! predicted by a model trained without it, which gives an estimate on a few thousand messages instead of
//! a few hundred, and lets the threshold and the learning settings be chosen without touching the
//! held-out file at all.
//!
//! Folds keep **translation pairs** together: `utterances_zh[i]` and `utterances_en[i]` of an intent say
//! the same thing, so one of them in training and the other in the test fold would leak the answer across
//! languages. A pair is the unit that is assigned to a fold; pairs are shuffled per intent with a seeded
//! generator and dealt round-robin, so folds are stratified by intent and the result is deterministic.
//!
//! The threshold rule (documented in `docs/operations.md`): a customer-service team decides how much of
//! the traffic humans take (the handoff budget, [`HANDOFF_RATE_BUDGET`]); within that budget the bot
//! should give as few wrong answers as it can. So the threshold is the largest of [`THRESHOLD_GRID`] at
//! which the cross-validated handoff rate stays within the budget (a higher threshold never answers
//! more, so it is the one with the fewest wrong answers the budget allows), and the hyper-parameters are
//! the grid point with the fewest cross-validated wrong answers at its own threshold. Both are chosen
//! from cross-validation on the KB only; the held-out files are never consulted.

use thiserror::Error;

use super::brain::{Brain, Classification};
use super::eval::{scores, Prediction, Scores};
use super::kb::KnowledgeBase;
use super::ngram::{NgramBrain, TrainConfig, TrainError};
use super::rng::Pcg32;
use super::text::Language;

/// Fewest folds accepted.
pub const FOLDS_MIN: usize = 2;
/// Most folds accepted (each fold is one training run).
pub const FOLDS_MAX: usize = 20;
/// The share of messages the bot may hand to humans by cross-validation (the bound, and the
/// budget the threshold rule spends on avoiding wrong answers).
pub const HANDOFF_RATE_BUDGET: f64 = 0.25;
/// Seed of the fold assignment used by `ai eval --cv` and `ai tune` unless told otherwise.
pub const FOLD_SEED_DEFAULT: u64 = 18;
/// Candidate thresholds, in hundredths: 0.30, 0.35, …, 0.95, then 0.97, 0.98, 0.99 for sharply confident
/// models (the hybrid's softmax is sharper than the n-gram model's).
pub const THRESHOLD_GRID: [u8; 17] = [
    30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 97, 98, 99,
];

/// Why cross-validation could not run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CvError {
    /// The caller asked for a number of folds outside `FOLDS_MIN..=FOLDS_MAX`.
    #[error("folds must be in {FOLDS_MIN}..={FOLDS_MAX}, got {0}")]
    Folds(usize),
    /// Training one fold failed (a configuration error).
    #[error("training a fold: {0}")]
    Train(#[from] TrainError),
}

/// One utterance of the KB with its class, language and translation-pair unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KbExample<'a> {
    /// The utterance.
    pub text: &'a str,
    /// Its intent's class index.
    pub intent: usize,
    /// The list it comes from.
    pub language: Language,
    /// Index of its position in the intent's lists: the zh and en utterance at the same index share it.
    pub pair: usize,
}

/// Every utterance of `kb`, Chinese then English per intent.
pub fn kb_examples(kb: &KnowledgeBase) -> Vec<KbExample<'_>> {
    let mut out = Vec::new();
    for (intent, spec) in kb.intents.iter().enumerate() {
        for (language, list) in [
            (Language::Chinese, &spec.utterances_zh),
            (Language::English, &spec.utterances_en),
        ] {
            for (pair, text) in list.iter().enumerate() {
                out.push(KbExample {
                    text,
                    intent,
                    language,
                    pair,
                });
            }
        }
    }
    out
}

/// The fold of each of `examples` (same order): pairs of one intent are shuffled with `seed` and dealt
/// round-robin, continuing where the previous intent stopped so fold sizes stay within one pair.
pub fn assign_folds(examples: &[KbExample<'_>], folds: usize, seed: u64) -> Vec<usize> {
    let classes = examples.iter().map(|e| e.intent + 1).max().unwrap_or(0);
    let mut rng = Pcg32::new(seed);
    // fold_of_pair[intent][pair]
    let mut fold_of_pair: Vec<Vec<usize>> = Vec::with_capacity(classes);
    let mut next = 0usize;
    for intent in 0..classes {
        let pairs = examples
            .iter()
            .filter(|e| e.intent == intent)
            .map(|e| e.pair + 1)
            .max()
            .unwrap_or(0);
        let mut order: Vec<usize> = (0..pairs).collect();
        rng.shuffle(&mut order);
        let mut fold = vec![0; pairs];
        for pair in order {
            fold[pair] = next % folds;
            next += 1;
        }
        fold_of_pair.push(fold);
    }
    examples
        .iter()
        .map(|e| fold_of_pair[e.intent][e.pair])
        .collect()
}

/// Predicts every utterance of `kb` with a model trained on the other folds.
pub fn cross_validate(
    kb: &KnowledgeBase,
    config: &TrainConfig,
    folds: usize,
    seed: u64,
) -> Result<Vec<Prediction>, CvError> {
    cross_validate_dense(kb, config, folds, seed, None)
}

/// Like [`cross_validate`], with one dense vector per utterance in [`kb_examples`] order (the sentence
/// embeddings of the hybrid model, computed once for all folds).
///
/// # Panics
///
/// If `dense` does not have one vector per utterance (a caller bug).
pub fn cross_validate_dense(
    kb: &KnowledgeBase,
    config: &TrainConfig,
    folds: usize,
    seed: u64,
    dense: Option<&[Vec<f32>]>,
) -> Result<Vec<Prediction>, CvError> {
    if !(FOLDS_MIN..=FOLDS_MAX).contains(&folds) {
        return Err(CvError::Folds(folds));
    }
    let intents: Vec<String> = kb.intents.iter().map(|i| i.id.clone()).collect();
    let examples = kb_examples(kb);
    let fold_of = assign_folds(&examples, folds, seed);
    if let Some(d) = dense {
        assert_eq!(d.len(), examples.len(), "one dense vector per utterance");
    }
    let mut out = vec![None; examples.len()];
    let mut probabilities = Vec::new();
    for fold in 0..folds {
        let in_training = |index: &usize| fold_of[*index] != fold;
        let train: Vec<(&str, usize)> = (0..examples.len())
            .filter(in_training)
            .map(|i| (examples[i].text, examples[i].intent))
            .collect();
        let train_dense: Option<Vec<&[f32]>> = dense.map(|d| {
            (0..examples.len())
                .filter(in_training)
                .map(|i| d[i].as_slice())
                .collect()
        });
        let brain =
            NgramBrain::train_with_dense(intents.clone(), &train, train_dense.as_deref(), config)?;
        for (index, e) in examples.iter().enumerate() {
            if fold_of[index] != fold {
                continue;
            }
            match dense {
                Some(d) => brain.classify_with_dense(e.text, &d[index], &mut probabilities),
                None => brain.classify_into(e.text, &mut probabilities),
            }
            let c = Classification::from_probabilities(std::mem::take(&mut probabilities));
            out[index] = Some(Prediction {
                expected: Some(e.intent),
                best: c.best,
                confidence: c.confidence,
                language: e.language,
            });
            probabilities = c.probabilities;
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// The threshold rule: the largest threshold of [`THRESHOLD_GRID`] whose handoff rate on `predictions`
/// is at most [`HANDOFF_RATE_BUDGET`], or the smallest of the grid when none is.
pub fn choose_threshold(classes: usize, predictions: &[Prediction]) -> f32 {
    let grid = THRESHOLD_GRID.map(|h| f32::from(h) / 100.0);
    grid.into_iter()
        .rev()
        .find(|&t| scores(classes, predictions.iter(), t).handoff_rate() <= HANDOFF_RATE_BUDGET)
        .unwrap_or(grid[0])
}

/// One grid point of [`tune`].
#[derive(Debug, Clone, PartialEq)]
pub struct TuneRow {
    /// The training settings.
    pub config: TrainConfig,
    /// Its threshold by [`choose_threshold`].
    pub threshold: f32,
    /// Cross-validated scores at that threshold.
    pub scores: Scores,
}

/// Cross-validates every configuration of `grid`; returns all rows and the index of the chosen one: the
/// fewest wrong answers at its threshold among the rows within [`HANDOFF_RATE_BUDGET`] there (a row over
/// the budget even at the bottom of the grid is only chosen when every row is, then the lowest handoff
/// wins); ties go to the lower handoff rate, then to the earlier row.
pub fn tune(
    kb: &KnowledgeBase,
    grid: &[TrainConfig],
    folds: usize,
    seed: u64,
) -> Result<(Vec<TuneRow>, usize), CvError> {
    tune_dense(kb, grid, folds, seed, None)
}

/// Like [`tune`], with dense vectors as in [`cross_validate_dense`].
pub fn tune_dense(
    kb: &KnowledgeBase,
    grid: &[TrainConfig],
    folds: usize,
    seed: u64,
    dense: Option<&[Vec<f32>]>,
) -> Result<(Vec<TuneRow>, usize), CvError> {
    let classes = kb.intents.len();
    let mut rows = Vec::with_capacity(grid.len());
    for config in grid {
        let predictions = cross_validate_dense(kb, config, folds, seed, dense)?;
        let threshold = choose_threshold(classes, &predictions);
        rows.push(TuneRow {
            config: config.clone(),
            threshold,
            scores: scores(classes, predictions.iter(), threshold),
        });
    }
    let best = choose_row(&rows);
    Ok((rows, best))
}

/// The row [`tune`] chooses (see there); 0 when `rows` is empty.
pub fn choose_row(rows: &[TuneRow]) -> usize {
    let meets = |row: &TuneRow| row.scores.handoff_rate() <= HANDOFF_RATE_BUDGET;
    let key = |row: &TuneRow| {
        if meets(row) {
            (0, row.scores.wrong, row.scores.handoff)
        } else {
            (1, row.scores.handoff, row.scores.wrong)
        }
    };
    let mut best = 0;
    for (i, row) in rows.iter().enumerate() {
        if key(row) < key(&rows[best]) {
            best = i;
        }
    }
    best
}

/// The grid `ai tune` searches: learning rate × epochs around the defaults.
pub fn default_grid() -> Vec<TrainConfig> {
    let mut grid = Vec::new();
    for learning_rate in [0.5, 1.0, 2.0, 4.0] {
        for epochs in [15, 30, 60] {
            grid.push(TrainConfig {
                learning_rate,
                epochs,
                ..TrainConfig::default()
            });
        }
    }
    grid
}

/// The grid `ai tune --embedding-model` searches: learning rate × epochs × weight of the embedding.
pub fn hybrid_grid() -> Vec<TrainConfig> {
    let mut grid = Vec::new();
    for learning_rate in [1.0, 2.0, 4.0] {
        for epochs in [30, 60] {
            for dense_weight in [1.0, 2.0] {
                grid.push(TrainConfig {
                    learning_rate,
                    epochs,
                    dense_weight,
                    ..TrainConfig::default()
                });
            }
        }
    }
    grid
}
