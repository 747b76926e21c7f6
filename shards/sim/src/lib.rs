//! A deterministic simulator of one Switchboard node in chat mode: the connection shards' chat cores
//! ([`switchboard_chat::ChatCore`], the server's own code) and the routing shard, wired in one thread over
//! in-memory logs, with seeded ring delays and interleavings, log I/O latencies, reconnects, duplicate
//! sends, agents coming and going, and whole-node crashes that cut unsynced log bytes; clients that follow
//! docs/protocol.md check the contract as they go and at the end. A failing seed replays exactly:
//! `cargo run -p switchboard-sim -- --seed N`.
//!
//! What is checked, for every seed:
//! - every acknowledged message reaches every participant (the customer's devices, the assigned agent)
//!   after resume, and nothing acknowledged is announced as a gap (durability across crashes);
//! - one message per sequence and one sequence per message (no loss of identity, no double store);
//! - a replay's frames arrive in sequence order, live frames of a conversation in order per lane;
//! - no conversation is assigned to an agent that is offline or chose away, and none still waits in a
//!   queue at the end while agents are free (a restart must not forget who waits);
//! - every ticket a customer is told about reaches an agent;
//! - the node settles: nothing left unacknowledged, no ring item stuck.
//!
//! ## Layout
//!
//! - [`config`]: [`SimConfig`], the node's size and the fault rates.
//! - [`rng`]: [`rng::Rng`], the only randomness.
//! - [`net`]: [`net::Net`], the rings (bounded, FIFO per ring, seeded delays).
//! - [`host`]: [`host::SimHost`], one shard's connections as its core's host (lanes read in seeded order).
//! - [`node`]: [`node::Node`], one shard: core, connections, log I/O in flight.
//! - [`track`]: [`track::Track`], the client's position rule.
//! - [`client`]: [`client::Client`], the spec-following customer and agent models and their checks.
//! - [`ledger`]: [`ledger::Ledger`], what clients were told, across the run.
//! - [`setup`]: the signing key and the routing shard's model every node shares.
//! - [`wire`]: the server's messages decoded the client's way; the trace hash.
//! - [`world`]: [`world::World`], the step loop, faults, crashes, the quiet phase.
//! - [`check`]: the end-state checks.
//! - [`script`]: [`script::Script`], a node a test drives step by step (ordered scenarios without
//!   sleeps).

#![forbid(unsafe_code)]

pub mod check;
pub mod client;
pub mod config;
pub mod host;
pub mod ledger;
pub mod net;
pub mod node;
pub mod rng;
pub mod script;
pub mod setup;
pub mod track;
pub mod wire;
pub mod world;

pub use config::SimConfig;
pub use script::{Peer, Script};
pub use world::{Report, World};

/// A broken promise of the contract, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

impl Violation {
    /// A violation described by `what`.
    pub fn new(what: impl Into<String>) -> Self {
        Violation(what.into())
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The contract was broken (a server bug, or a simulator bug: replay the seed to see).
    #[error("seed {seed}, step {step}: {violation} (replay: cargo run -p switchboard-sim -- --seed {seed}{flags})")]
    Violation {
        /// The seed that fails.
        seed: u64,
        /// The command-line flags of the configuration that fails (beyond the seed).
        flags: String,
        /// The step it failed at.
        step: u64,
        /// What broke.
        violation: Violation,
    },
    /// The simulation could not be set up.
    #[error("simulation setup: {0}")]
    Setup(String),
}

/// Runs one seed.
///
/// # Errors
///
/// The first [`Violation`] of the contract, or a setup error.
pub fn run(config: &SimConfig, seed: u64) -> Result<Report, SimError> {
    World::new(config.clone(), seed)?.run()
}
