//! Which model the bot runs (`[routing] model`), where it finds the encoder's weights, and the settings
//! cross-validation chose for each model: the shipped constants are re-derived here, so a KB or training
//! change that moves them fails until `switchboard ai tune --cv 5` is re-run and the constants updated.

use std::path::{Path, PathBuf};

use switchboard_shards::routing::cv::{choose_threshold, cross_validate, cross_validate_dense};
use switchboard_shards::routing::embed::{Encoder, MODEL_DIR_ENV};
use switchboard_shards::routing::hybrid::embed_kb;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::model::{
    hybrid_train_config, ngram_train_config, ModelChoice, Resolved, HYBRID_THRESHOLD,
    NGRAM_THRESHOLD,
};
use switchboard_shards::routing::shard::{RoutingShard, RoutingShardConfig, RoutingShardError};

/// The folds and seed `ai tune --cv 5` uses.
const FOLDS: usize = 5;
const SEED: u64 = 18;

/// The directory of the real weights, when fetched (as in `routing_embedding.rs`).
fn real_model_dir() -> Option<PathBuf> {
    let dir = Encoder::configured_dir(None).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/embedding-model")
    });
    dir.join("sp.model").exists().then_some(dir)
}

/// True when no weights can be found without configuration (the tests run in `shards/`, where the
/// relative default `target/embedding-model` does not exist).
fn no_weights_by_default() -> bool {
    std::env::var_os(MODEL_DIR_ENV).is_none()
        && !Path::new("target/embedding-model/sp.model").exists()
        && !Path::new("/var/lib/switchboard/embedding-model/sp.model").exists()
}

#[test]
fn the_choice_resolves_configured_weights_first_and_falls_back_only_when_auto() {
    assert_eq!(
        ModelChoice::Ngram.resolve(Some(Path::new("/nowhere"))),
        Ok(Resolved::Ngram {
            searched: Vec::new()
        })
    );
    // A configured directory is used as given, so a missing one fails loudly when it is loaded.
    for choice in [ModelChoice::Auto, ModelChoice::Hybrid] {
        assert_eq!(
            choice.resolve(Some(Path::new("/nowhere"))),
            Ok(Resolved::Hybrid(PathBuf::from("/nowhere")))
        );
    }
    if !no_weights_by_default() {
        eprintln!("skipped the fallback checks: weights are found without configuration here");
        return;
    }
    match ModelChoice::Auto.resolve(None) {
        Ok(Resolved::Ngram { searched }) => assert_eq!(searched.len(), 2, "{searched:?}"),
        other => panic!("auto without weights: {other:?}"),
    }
    let error = ModelChoice::Hybrid
        .resolve(None)
        .expect_err("hybrid needs weights");
    let message = error.to_string();
    assert!(
        message.contains("fetch-embedding-model.sh") && message.contains(MODEL_DIR_ENV),
        "{message}"
    );
}

#[test]
fn the_config_names_the_model_and_a_bad_one_is_refused() {
    let config = RoutingShardConfig::from_toml("model = \"ngram\"").expect("parses");
    assert_eq!(config.model, ModelChoice::Ngram);
    assert_eq!(
        RoutingShardConfig::from_toml("").expect("parses").model,
        ModelChoice::Auto
    );
    assert!(RoutingShardConfig::from_toml("model = \"gpt\"").is_err());
    // A missing configured directory stops start-up with the file it could not read.
    let config =
        RoutingShardConfig::from_toml("embedding_model = \"/nowhere/model\"").expect("parses");
    match RoutingShard::new(config) {
        Err(RoutingShardError::Embedding(e)) => {
            assert!(e.to_string().contains("/nowhere/model"), "{e}")
        }
        other => panic!("missing weights: {:?}", other.map(|s| s.model_name())),
    }
}

#[test]
fn the_shard_uses_the_models_threshold_unless_one_is_configured() {
    let shard = RoutingShard::new(RoutingShardConfig::from_toml("model = \"ngram\"").unwrap())
        .expect("n-gram shard");
    assert_eq!(shard.model_name(), "ngram");
    assert_eq!(shard.confidence_threshold(), NGRAM_THRESHOLD);
    let config =
        RoutingShardConfig::from_toml("model = \"ngram\"\n[dialogue]\nconfidence_threshold = 0.5")
            .unwrap();
    assert_eq!(
        RoutingShard::new(config).unwrap().confidence_threshold(),
        0.5
    );
}

#[test]
fn the_ngram_threshold_is_the_one_cross_validation_chooses() {
    let kb = KnowledgeBase::builtin().expect("built-in KB");
    let predictions = cross_validate(&kb, &ngram_train_config(), FOLDS, SEED).expect("cv");
    assert_eq!(
        choose_threshold(kb.intents.len(), &predictions),
        NGRAM_THRESHOLD,
        "re-run `switchboard ai tune --cv 5` and update crate::model"
    );
}

#[test]
fn the_hybrid_threshold_is_the_one_cross_validation_chooses_when_fetched() {
    let Some(dir) = real_model_dir() else {
        eprintln!("skipped: no embedding model (scripts/fetch-embedding-model.sh)");
        return;
    };
    let kb = KnowledgeBase::builtin().expect("built-in KB");
    let encoder = Encoder::load(&dir).expect("real model loads");
    let dense = embed_kb(&kb, &encoder);
    let predictions =
        cross_validate_dense(&kb, &hybrid_train_config(), FOLDS, SEED, Some(&dense)).expect("cv");
    assert_eq!(
        choose_threshold(kb.intents.len(), &predictions),
        HYBRID_THRESHOLD,
        "re-run `switchboard ai tune --cv 5 --embedding-model DIR` and update crate::model"
    );
    // And the hybrid shard runs at that threshold.
    let config = RoutingShardConfig {
        embedding_model: Some(dir),
        ..RoutingShardConfig::default()
    };
    let shard = RoutingShard::new(config).expect("hybrid shard");
    assert_eq!(shard.model_name(), "hybrid");
    assert_eq!(shard.confidence_threshold(), HYBRID_THRESHOLD);
}
