//! Telling clients the shard's degradation mode with `status` frames: right after `welcome` when the shard
//! is not in normal mode, and to every authenticated connection of the shard when its mode changes (so a
//! client backs off before it is refused, and learns when to come back).

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{Lane, Message, OwnedFrame, Status, StatusMode};
use tracing::debug;

use super::{mark, send_encoded, ChatShard, Encoded};
use crate::overload::{Mode, OverloadConfig};
use crate::server::table::Table;

/// The `status` frame for `mode`, with the retry advice the shard gives in it.
pub(super) fn status_frame(mode: Mode, config: &OverloadConfig) -> OwnedFrame {
    let (wire, retry_after_ms, message) = match mode {
        Mode::Normal => (StatusMode::NORMAL, 0, "normal service"),
        Mode::Brownout => (
            StatusMode::BROWNOUT,
            config.brownout_retry_after_ms,
            "brownout: history and typing are refused; retry them later",
        ),
        Mode::Survival => (
            StatusMode::SURVIVAL,
            config.survival_retry_after_ms,
            "survival: only urgent traffic, tickets and handoffs are served",
        ),
    };
    OwnedFrame::new(Message::Status(Status {
        mode: wire,
        retry_after_ms: u32::try_from(retry_after_ms).unwrap_or(u32::MAX),
        message: message.into(),
    }))
}

impl ChatShard {
    /// The `status` frame a newly authenticated connection gets, or `None` in normal mode. It travels on
    /// the `welcome`'s lane (system) so that it arrives after it, as the protocol promises.
    pub(super) fn status_for_new_session(&self) -> Option<OwnedFrame> {
        let mode = self.overload.mode();
        (mode != Mode::Normal).then(|| {
            let mut frame = status_frame(mode, self.overload.config());
            frame.lane = Lane::System;
            frame
        })
    }

    /// After the overload sample: when the mode changed since it was last told, every authenticated
    /// connection of the shard gets the new mode (encoded once per encoding).
    pub(crate) fn tell_mode(&mut self, table: &mut Table, dirty: &mut Vec<ConnId>, now: u64) {
        let mode = self.overload.mode();
        if mode == self.told_mode {
            return;
        }
        self.told_mode = mode;
        let frame = status_frame(mode, self.overload.config());
        let mut encoded = Encoded::new(&frame);
        let mut told = 0u64;
        let ids: Vec<ConnId> = table.ids().collect();
        for id in ids {
            let Some(entry) = table.get_mut(id) else {
                continue;
            };
            let authenticated = entry
                .session
                .as_ref()
                .is_some_and(|session| session.principal().is_some());
            if authenticated {
                send_encoded(&mut self.encoder, entry, &mut encoded, now);
                mark(entry, dirty);
                told += 1;
            }
        }
        debug!(
            shard = self.id,
            mode = mode.label(),
            connections = told,
            "degradation mode told to clients"
        );
    }
}
