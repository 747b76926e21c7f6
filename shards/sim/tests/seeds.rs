//! The simulator in CI: a few hundred seeds of the default node (2 shards, crashes, reconnects), a
//! one-shard and a three-shard node, and determinism (a seed replays to the same trace).

use switchboard_sim::{run, SimConfig};

/// Seeds of the default configuration run in CI (the soak command runs thousands:
/// `cargo run --release -p switchboard-sim -- --seeds 10000`).
const CI_SEEDS: u64 = 200;

#[test]
fn every_seed_keeps_the_contract() {
    let config = SimConfig::default();
    let mut acked = 0;
    let mut crashes = 0;
    for seed in 0..CI_SEEDS {
        let report = run(&config, seed).unwrap_or_else(|e| panic!("{e}"));
        acked += report.acked;
        crashes += report.crashes;
    }
    assert!(acked > 1_000, "the runs carried traffic ({acked} acks)");
    assert!(
        crashes > 10,
        "the runs crashed the node ({crashes} crashes)"
    );
}

#[test]
fn one_and_three_shards_keep_the_contract() {
    for shards in [1, 3] {
        let config = SimConfig {
            shards,
            ..SimConfig::default()
        };
        for seed in 1_000..1_060 {
            run(&config, seed).unwrap_or_else(|e| panic!("{shards} shards: {e}"));
        }
    }
}

#[test]
fn a_seed_replays_exactly() {
    let config = SimConfig::default();
    let first = run(&config, 42).unwrap();
    let second = run(&config, 42).unwrap();
    assert_eq!(first, second);
    assert_ne!(first.trace, run(&config, 43).unwrap().trace);
}
