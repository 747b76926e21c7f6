//! The owner while its durable log is degraded (a full disk, an I/O error): refuse what would need the
//! log, keep what was appended, retry with capped backoff, and say so once per change of state.
//!
//! Entering (the first failed write, sync or roll): one `ERROR` line with the error; the senders of the
//! messages waiting for the failed commit get a retryable `overloaded` (their records stay in the log's
//! memory, so a retry with the same message id is acknowledged with the original sequence once the log
//! recovers, never stored twice). While degraded: new sends and conversation creations are refused with
//! `overloaded` and [`RETRY_AFTER_LOG_DEGRADED_MS`]; reads (resume, history) are still served; nothing
//! else is logged. The shard calls [`Owner::retry_log`] every tick; it retries only when the backoff
//! ([`LOG_RETRY_DELAY_MS_MIN`] doubling up to [`LOG_RETRY_DELAY_MS_MAX`]) has passed. Leaving: one
//! `WARN` line with how long it lasted, how many retries failed and how many sends were refused, and the
//! waiting messages are released (acknowledged and delivered) by the retry's commit.

use switchboard_protocol::app::ErrorCode;
use tracing::{error, warn};

use super::Owner;
use crate::frames::error_frame;
use crate::messages::ConnRef;
use switchboard_log::{LogError, LogStorage};

/// The first retry of a degraded log comes this long after the failure, milliseconds.
pub const LOG_RETRY_DELAY_MS_MIN: u64 = 100;
/// The backoff between retries doubles up to this, milliseconds.
pub const LOG_RETRY_DELAY_MS_MAX: u64 = 5_000;
/// What a client refused because the log is degraded is told to wait, milliseconds.
pub const RETRY_AFTER_LOG_DEGRADED_MS: u32 = 1_000;

// The first delay must not exceed the cap, or the backoff would shrink.
const _: () = assert!(LOG_RETRY_DELAY_MS_MIN <= LOG_RETRY_DELAY_MS_MAX);

/// The degraded state of an owner's log.
#[derive(Debug, Clone)]
pub(super) struct Degraded {
    /// When (the caller's milliseconds) the next retry is due; `None` until the first
    /// [`Owner::retry_log`] call sees the state (entering has no clock).
    next_retry_ms: Option<u64>,
    /// When the state was first seen by [`Owner::retry_log`].
    since_ms: Option<u64>,
    /// The current backoff.
    delay_ms: u64,
    /// Retries that failed in this episode.
    retries: u64,
    /// Sends and creations refused in this episode.
    refused: u64,
}

impl<S: LogStorage> Owner<S> {
    /// Whether the log is degraded: sends are refused until a retry succeeds. Changed by a failing log
    /// write or sync (to true) and [`Owner::retry_log`] (to false).
    pub fn log_degraded(&self) -> bool {
        self.degraded.is_some()
    }

    /// When (in the milliseconds [`Owner::retry_log`] is given) the next retry is due, while degraded; the
    /// shard must wake up by then even without traffic.
    pub fn log_retry_due_ms(&self) -> Option<u64> {
        self.degraded.as_ref().map(|d| d.next_retry_ms.unwrap_or(0))
    }

    /// While degraded and once the backoff has passed at `now_ms`: retries the log (blocking: truncate,
    /// rewrite, sync). On success the state is left, with one `WARN` line, and the waiting messages are
    /// released. Call once per tick; cheap when nothing is due.
    pub fn retry_log(&mut self, now_ms: u64) {
        let Some(degraded) = self.degraded.as_mut() else {
            return;
        };
        let since = *degraded.since_ms.get_or_insert(now_ms);
        let due = *degraded
            .next_retry_ms
            .get_or_insert(now_ms + degraded.delay_ms);
        if now_ms < due {
            return;
        }
        match self.log.retry() {
            Ok(committed) => {
                let degraded = self.degraded.take().expect("checked");
                warn!(
                    shard = self.shard,
                    degraded_ms = now_ms.saturating_sub(since),
                    retries_failed = degraded.retries,
                    sends_refused = degraded.refused,
                    "durable log recovered; sends accepted again"
                );
                self.release(committed);
            }
            Err(_) => {
                self.counters.log_retries += 1;
                let degraded = self.degraded.as_mut().expect("checked");
                degraded.retries += 1;
                degraded.delay_ms = (degraded.delay_ms * 2).min(LOG_RETRY_DELAY_MS_MAX);
                degraded.next_retry_ms = Some(now_ms + degraded.delay_ms);
            }
        }
    }

    /// A log operation failed with `error`. An I/O error degrades the owner (logged once, the waiting
    /// senders told to retry); [`LogError::Failed`] means it already is. Returns whether the log is
    /// degraded now.
    pub(super) fn log_error(&mut self, error: &LogError) -> bool {
        if !self.log.is_degraded() {
            return false;
        }
        if self.degraded.is_none() {
            self.counters.log_errors += 1;
            error!(
                shard = self.shard,
                %error,
                waiting = self.pending.len(),
                "durable log failed; shard degraded: sends refused with overloaded, retrying with backoff"
            );
            self.degraded = Some(Degraded {
                next_retry_ms: None,
                since_ms: None,
                delay_ms: LOG_RETRY_DELAY_MS_MIN,
                retries: 0,
                refused: 0,
            });
            // The records stay in the log's memory and are committed by the retry; the senders are told
            // to retry now (a retry with the same message id gets the original ack once committed).
            let waiting: Vec<ConnRef> = self
                .pending
                .iter_mut()
                .flat_map(|pending| std::mem::take(&mut pending.ack_to))
                .map(|(to, _)| to)
                .collect();
            for to in waiting {
                self.refuse_degraded(to);
            }
        }
        true
    }

    /// Refuses `to`'s request because the log is degraded: `overloaded`, retry later.
    pub(super) fn refuse_degraded(&mut self, to: ConnRef) {
        self.counters.log_refused += 1;
        if let Some(degraded) = self.degraded.as_mut() {
            degraded.refused += 1;
        }
        self.reply(
            to,
            vec![error_frame(
                ErrorCode::OVERLOADED,
                "durable log unavailable",
                Some(RETRY_AFTER_LOG_DEGRADED_MS),
            )],
        );
    }
}
