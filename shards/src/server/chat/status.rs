//! Telling clients the shard's degradation mode with `status` frames: right after `welcome` when the shard
//! is not in normal mode, and to every authenticated connection of the shard when its mode changes (so a
//! client backs off before it is refused, and learns when to come back). While the shard's durable log is
//! degraded the mode told is `read_only`, whatever the overload mode.

use switchboard_core::engine::ConnId;
use switchboard_protocol::app::{Lane, Message, OwnedFrame, Status, StatusMode};
use tracing::debug;

use super::{ChatShard, ShardHost};
use crate::chat::owner::RETRY_AFTER_LOG_DEGRADED_MS;
use crate::chat::shard::Encoded;
use crate::overload::{Mode, OverloadConfig};

/// What the shard tells its clients: its overload mode, and whether its durable log is degraded.
pub(super) type Told = (Mode, bool);
use crate::server::table::Table;

/// The `status` frame for `(mode, log_degraded)`, with the retry advice the shard gives in it.
pub(super) fn status_frame((mode, log_degraded): Told, config: &OverloadConfig) -> OwnedFrame {
    let (wire, retry_after_ms, message) = match mode {
        _ if log_degraded => (
            StatusMode::READ_ONLY,
            u64::from(RETRY_AFTER_LOG_DEGRADED_MS),
            "read_only: the durable log cannot write; sends are refused, resume and history are served",
        ),
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
    /// What the clients should be told now.
    fn told_now(&self) -> Told {
        (self.overload.mode(), self.core.owner().log_degraded())
    }

    /// The `status` frame a newly authenticated connection gets, or `None` in normal mode. It travels on
    /// the `welcome`'s lane (system) so that it arrives after it, as the protocol promises.
    pub(super) fn status_for_new_session(&self) -> Option<OwnedFrame> {
        let told = self.told_now();
        (told != (Mode::Normal, false)).then(|| {
            let mut frame = status_frame(told, self.overload.config());
            frame.lane = Lane::System;
            frame
        })
    }

    /// After the overload sample: when the mode changed since it was last told, every authenticated
    /// connection of the shard gets the new mode (encoded once per encoding).
    pub(crate) fn tell_mode(&mut self, table: &mut Table, dirty: &mut Vec<ConnId>, now: u64) {
        let now_told = self.told_now();
        if now_told == self.told_mode {
            return;
        }
        self.told_mode = now_told;
        let frame = status_frame(now_told, self.overload.config());
        let mut encoded = Encoded::new(&frame);
        let mut told = 0u64;
        let ids: Vec<ConnId> = table.ids().collect();
        let mut host = ShardHost {
            table,
            dirty,
            overload: &self.overload,
            now,
        };
        for id in ids {
            let authenticated = host
                .table
                .get(id)
                .and_then(|entry| entry.session.as_ref())
                .is_some_and(|session| session.principal().is_some());
            if authenticated {
                self.core.send_encoded(&mut host, id, &mut encoded, None);
                told += 1;
            }
        }
        debug!(
            shard = self.id,
            mode = now_told.0.label(),
            log_degraded = now_told.1,
            connections = told,
            "degradation mode told to clients"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degraded_log_is_told_as_read_only_whatever_the_overload_mode() {
        let config = OverloadConfig::default();
        for mode in [Mode::Normal, Mode::Brownout, Mode::Survival] {
            let Message::Status(status) = status_frame((mode, true), &config).message else {
                panic!("a status frame");
            };
            assert_eq!(status.mode, StatusMode::READ_ONLY);
            assert_eq!(status.retry_after_ms, RETRY_AFTER_LOG_DEGRADED_MS);
        }
        let Message::Status(status) = status_frame((Mode::Normal, false), &config).message else {
            panic!("a status frame");
        };
        assert_eq!(status.mode, StatusMode::NORMAL);
    }
}
