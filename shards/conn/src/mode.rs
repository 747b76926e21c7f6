//! [`Mode`]: what a connection does with the messages it receives.

use serde::Deserialize;

/// What a connection shard does with the messages it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Echo every text/binary WebSocket message back with the same opcode (benchmarks, conformance).
    Echo,
    /// The customer-service chat: switchboard.v1 conversations, delivery and routing.
    Chat,
}
