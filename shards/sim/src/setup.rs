//! What every simulated node shares: the signing key its tokens are minted with, and the routing shard's
//! trained model (trained once per process: training is the slow part of a routing shard's start).

use std::sync::OnceLock;

use switchboard_auth::{KeyConfig, Keyring, KeyringConfig};
use switchboard_routing::kb::KnowledgeBase;
use switchboard_routing::ngram::{NgramBrain, TrainConfig};

/// The simulation's signing key.
const KEY_ID: &str = "sim";
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The knowledge base and its trained model, once per process (training is the slow part of a
/// routing shard's start).
pub fn trained_brain() -> &'static (KnowledgeBase, NgramBrain) {
    static BRAIN: OnceLock<(KnowledgeBase, NgramBrain)> = OnceLock::new();
    BRAIN.get_or_init(|| {
        let kb = KnowledgeBase::builtin().expect("the built-in knowledge base loads");
        let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("it trains");
        (kb, brain)
    })
}

/// The simulation's keyring (one fixed key: tokens are minted for the virtual clock).
pub fn sim_keyring() -> Keyring {
    Keyring::from_config(&KeyringConfig {
        active_key_id: KEY_ID.into(),
        clock_skew_s: 60,
        keys: vec![KeyConfig {
            id: KEY_ID.into(),
            secret_hex: Some(KEY_HEX.into()),
            secret_base64: None,
        }],
    })
    .expect("the simulation's key is valid")
}
