//! Which classifier the bot runs, where its weights are found, and the settings cross-validation chose
//! for each model.
//!
//! Two models share one rule ([`crate::cv`]): within the handoff budget
//! ([`crate::cv::HANDOFF_RATE_BUDGET`], 25% of KB questions by 5-fold cross-validation), the fewest wrong
//! answers. `switchboard ai tune --cv 5` (with `--embedding-model DIR` for the hybrid) reproduces the
//! choices below; `bench/results/routing-quality-after.txt` has its output. A test re-derives the n-gram
//! model's threshold, and, where the weights were fetched, the hybrid's.
//!
//! The hybrid is the default: [`ModelChoice::Auto`] uses it whenever the encoder's weights are found (a
//! configured directory, `$SWITCHBOARD_EMBEDDING_MODEL`, or one of [`DEFAULT_MODEL_DIRS`]) and falls back
//! to the n-gram model, with a warning, when they are not. Weights are never downloaded at run time.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::embed::{Encoder, MODEL_DIR_ENV};
use super::ngram::TrainConfig;

/// Where [`ModelChoice::Auto`] looks for the encoder's weights when none is configured, in order:
/// `scripts/fetch-embedding-model.sh`'s default destination (relative to the working directory, for a
/// source checkout), then the packaged location `docs/operations.md` names.
pub const DEFAULT_MODEL_DIRS: [&str; 2] = [
    "target/embedding-model",
    "/var/lib/switchboard/embedding-model",
];

/// The n-gram model's confidence threshold, chosen by cross-validation (`ai tune --cv 5`).
pub const NGRAM_THRESHOLD: f32 = 0.60;
/// The hybrid model's confidence threshold, chosen by cross-validation (`ai tune --cv 5
/// --embedding-model DIR`).
pub const HYBRID_THRESHOLD: f32 = 0.85;

/// The n-gram model's training settings, chosen by cross-validation with [`NGRAM_THRESHOLD`]: the
/// defaults of [`TrainConfig`] (learning rate 4, 15 epochs).
pub fn ngram_train_config() -> TrainConfig {
    TrainConfig::default()
}

/// The hybrid model's training settings, chosen by cross-validation with [`HYBRID_THRESHOLD`].
pub fn hybrid_train_config() -> TrainConfig {
    TrainConfig {
        learning_rate: 2.0,
        epochs: 60,
        dense_weight: 1.0,
        ..TrainConfig::default()
    }
}

/// The cross-validated training settings of the hybrid (`hybrid`) or the n-gram model.
pub fn tuned_train_config(hybrid: bool) -> TrainConfig {
    if hybrid {
        hybrid_train_config()
    } else {
        ngram_train_config()
    }
}

/// The cross-validated confidence threshold of the hybrid (`hybrid`) or the n-gram model.
pub fn tuned_threshold(hybrid: bool) -> f32 {
    if hybrid {
        HYBRID_THRESHOLD
    } else {
        NGRAM_THRESHOLD
    }
}

/// `[routing] model`: which classifier the bot runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelChoice {
    /// The hybrid when its weights are found, else the n-gram model (with a warning).
    #[default]
    Auto,
    /// The hybrid; start-up fails when the weights are not found.
    Hybrid,
    /// The n-gram model, even when weights are present.
    Ngram,
}

/// Which model a [`ModelChoice`] resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The n-gram model.
    Ngram {
        /// The directories searched in vain (empty when the n-gram model was chosen explicitly).
        searched: Vec<PathBuf>,
    },
    /// The hybrid, with the encoder's weights in this directory.
    Hybrid(PathBuf),
}

/// Why the configured model cannot run (local configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "model = \"hybrid\" needs the sentence encoder's weights, not found in {searched}: run \
     scripts/fetch-embedding-model.sh DIR and set [routing] embedding_model = \"DIR\""
)]
pub struct WeightsNotFound {
    /// The directories searched, joined for the message.
    pub searched: String,
}

impl ModelChoice {
    /// Resolves the choice: `configured` (`[routing] embedding_model` or `--embedding-model`) wins, then
    /// `$SWITCHBOARD_EMBEDDING_MODEL`, then the first of [`DEFAULT_MODEL_DIRS`] that holds the
    /// tokenizer. A configured directory is used as given, even when missing, so that loading it reports
    /// the missing file rather than silently falling back.
    pub fn resolve(self, configured: Option<&Path>) -> Result<Resolved, WeightsNotFound> {
        if self == ModelChoice::Ngram {
            return Ok(Resolved::Ngram {
                searched: Vec::new(),
            });
        }
        if let Some(dir) = Encoder::configured_dir(configured) {
            return Ok(Resolved::Hybrid(dir));
        }
        let candidates: Vec<PathBuf> = DEFAULT_MODEL_DIRS.iter().map(PathBuf::from).collect();
        if let Some(dir) = candidates.iter().find(|d| d.join("sp.model").is_file()) {
            return Ok(Resolved::Hybrid(dir.clone()));
        }
        match self {
            ModelChoice::Hybrid => Err(WeightsNotFound {
                searched: format!(
                    "${MODEL_DIR_ENV} (unset), {}",
                    candidates
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            _ => Ok(Resolved::Ngram {
                searched: candidates,
            }),
        }
    }
}
