//! `switchboard describe`: the protocol's self-description, generated from the protocol crate's own
//! constants so it cannot drift from what the server speaks.

use std::fmt::Write;

use switchboard_protocol::app::{
    Kind, Lane, PROTOCOL_VERSION, SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON,
};

use crate::config::ServeConfig;

/// The self-description printed by `switchboard describe`.
pub fn text() -> String {
    let mut out = String::new();
    let limits = ServeConfig::default().limits;
    let _ = writeln!(out, "Switchboard protocol version {PROTOCOL_VERSION}");
    let _ = writeln!(
        out,
        "transport: WebSocket (RFC 6455), permessage-deflate declined"
    );
    let _ = writeln!(
        out,
        "subprotocols: {SUBPROTOCOL_BINARY} (binary frames), {SUBPROTOCOL_JSON} (JSON text frames)"
    );
    let _ = writeln!(out, "lanes (highest priority first):");
    for lane in Lane::ALL {
        let _ = writeln!(out, "  {} = {}", lane as u8, lane.name());
    }
    let _ = writeln!(out, "frame kinds:");
    for kind in Kind::ALL {
        let _ = writeln!(
            out,
            "  0x{:02x} {:<15} default lane {}",
            kind as u8,
            kind.name(),
            kind.default_lane().name()
        );
    }
    let _ = writeln!(out, "default limits:");
    let _ = writeln!(out, "  message_bytes_max = {}", limits.message_bytes_max);
    let _ = writeln!(
        out,
        "  frame_payload_bytes_max = {}",
        limits.frame_payload_bytes_max
    );
    let _ = writeln!(
        out,
        "  handshake_bytes_max = {}",
        limits.handshake_bytes_max
    );
    let _ = writeln!(
        out,
        "  heartbeat_interval_ms = {}..={}",
        limits.heartbeat_interval_ms_min, limits.heartbeat_interval_ms_max
    );
    groups(&mut out);
    let _ = writeln!(out, "specification: docs/protocol.md");
    out
}

/// The agent groups of the built-in knowledge base: the ids agents' tokens name (`--groups`).
fn groups(out: &mut String) {
    let Ok(kb) = crate::routing::kb::KnowledgeBase::builtin() else {
        return;
    };
    let groups = crate::routing::shard::default_groups(&kb);
    let _ = writeln!(
        out,
        "agent groups (built-in knowledge base; [routing] groups in the server config replace them):"
    );
    for group in &groups {
        let intents: Vec<&str> = kb
            .intents
            .iter()
            .filter(|intent| group.skills.contains(&intent.skill))
            .map(|intent| intent.id.as_str())
            .collect();
        let general = if group.skills.iter().any(|s| s == "general") {
            " (default: low-confidence and generic handoffs)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} {}{general}: {}",
            group.id,
            group.name,
            intents.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_both_subprotocols_and_every_kind() {
        let text = super::text();
        assert!(text.contains("switchboard.v1") && text.contains("switchboard.json.v1"));
        for kind in switchboard_protocol::app::Kind::ALL {
            assert!(text.contains(kind.name()), "{} missing", kind.name());
        }
    }
}
