//! Admission: which [`RequestClass`] each [`Mode`] serves, and the [`Refusal`] sent when it does not.
//!
//! | class | normal | brownout | survival |
//! |---|---|---|---|
//! | `Hello` | served | served | served |
//! | `Heartbeat` | served | served | served |
//! | `Ticket` | served | served | served |
//! | `Handoff` | served | served | served |
//! | `Urgent` | served | served | served |
//! | `ChatSend` | served | served | refused |
//! | `ReadReceipt` | served | served | refused |
//! | `Resume` | served | served | refused |
//! | `Typing` | served | refused | refused |
//! | `HistoryQuery` | served | refused | refused |
//!
//! Why hello and heartbeats survive survival: a client that cannot connect cannot submit the ticket or
//! receive the handoff survival exists to protect, and refusing either turns every client into a
//! reconnect loop (heartbeat timeouts, new TCP and TLS handshakes, new auth), which is more load than the
//! small frames themselves. Resume is refused in survival because replaying a backlog reads the log and
//! fans out to every reconnecting client at once — the load a reconnect storm brings; the client keeps its
//! session, receives live urgent traffic, and resumes after `retry_after_ms` with nothing lost (the log
//! keeps the messages and resume is idempotent).

use switchboard_protocol::app::{ErrorCode, ErrorReport, Kind};

use super::config::OverloadConfig;
use super::mode::Mode;

/// What a client asks of a shard, as far as load shedding cares. The shard classifies each request
/// before doing its work; [`RequestClass::for_client_kind`] gives the default for a frame kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// `hello`: authenticate and open a session.
    Hello,
    /// `ping` / `pong`: application heartbeats that keep the session alive.
    Heartbeat,
    /// `resume`: replay what the client missed while disconnected.
    Resume,
    /// `send`: an ordinary chat message.
    ChatSend,
    /// `read_receipt`.
    ReadReceipt,
    /// `typing`: a typing indicator and its fan-out.
    Typing,
    /// `history_query`: older messages, read from the log.
    HistoryQuery,
    /// A message that submits or updates a ticket (classified by the conversation layer).
    Ticket,
    /// A message that moves a conversation to a human agent (classified by the conversation layer).
    Handoff,
    /// Other traffic the server itself considers urgent. Being on the urgent lane is not enough: a client
    /// chooses its lane, so only a sender whose role may send urgent traffic should be classified here.
    Urgent,
}

impl RequestClass {
    /// Every class, in the order of the module's table.
    pub const ALL: [RequestClass; 10] = [
        RequestClass::Hello,
        RequestClass::Heartbeat,
        RequestClass::Ticket,
        RequestClass::Handoff,
        RequestClass::Urgent,
        RequestClass::ChatSend,
        RequestClass::ReadReceipt,
        RequestClass::Resume,
        RequestClass::Typing,
        RequestClass::HistoryQuery,
    ];

    /// The default class of a frame a client sends, or `None` for a kind that is never refused for load
    /// (`error`) or is not a request (`fragment`: classify the reassembled frame; server → client kinds).
    /// A `send` is a [`RequestClass::ChatSend`] until the conversation layer knows it is a ticket or a
    /// handoff.
    pub fn for_client_kind(kind: Kind) -> Option<RequestClass> {
        match kind {
            Kind::Hello => Some(RequestClass::Hello),
            Kind::Ping | Kind::Pong => Some(RequestClass::Heartbeat),
            Kind::Resume => Some(RequestClass::Resume),
            Kind::Send => Some(RequestClass::ChatSend),
            Kind::ReadReceipt => Some(RequestClass::ReadReceipt),
            Kind::Typing => Some(RequestClass::Typing),
            Kind::HistoryQuery => Some(RequestClass::HistoryQuery),
            // Resolving and transferring move conversations to and between humans: handoff traffic.
            Kind::ConversationUpdate => Some(RequestClass::Handoff),
            // An agent coming back online (or going away) changes who takes conversations: handoff
            // traffic; an inbox is a read, like a resume.
            Kind::Presence => Some(RequestClass::Handoff),
            Kind::Inbox => Some(RequestClass::Resume),
            Kind::Error
            | Kind::Status
            | Kind::Fragment
            | Kind::Welcome
            | Kind::Ack
            | Kind::Deliver
            | Kind::Replay
            | Kind::Gap
            | Kind::Ticket
            | Kind::Handoff
            | Kind::HistoryResult => None,
        }
    }

    /// Whether a shard in `mode` serves this class (the module's table).
    pub fn is_served_in(self, mode: Mode) -> bool {
        match self {
            RequestClass::Hello
            | RequestClass::Heartbeat
            | RequestClass::Ticket
            | RequestClass::Handoff
            | RequestClass::Urgent => true,
            RequestClass::ChatSend | RequestClass::ReadReceipt | RequestClass::Resume => {
                mode < Mode::Survival
            }
            RequestClass::Typing | RequestClass::HistoryQuery => mode == Mode::Normal,
        }
    }
}

/// A request refused for load: answered with an `error` frame, code `overloaded`, and `retry_after_ms`.
/// The client's request was valid; the server is at fault (it is shedding load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("server overloaded ({mode}); retry after {retry_after_ms} ms")]
pub struct Refusal {
    /// The mode that refused.
    pub mode: Mode,
    /// Time the client should wait before retrying (it should add jitter so that refused clients do not
    /// return together), ms.
    pub retry_after_ms: u32,
}

impl Refusal {
    /// The protocol error code: always [`ErrorCode::OVERLOADED`].
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::OVERLOADED
    }

    /// The `error` frame to send. Its message names the mode (for logs; clients must not parse it).
    pub fn error_report(&self) -> ErrorReport {
        ErrorReport {
            code: ErrorCode::OVERLOADED,
            message: format!("overloaded: {}", self.mode),
            retry_after_ms: Some(self.retry_after_ms),
        }
    }
}

/// Serves or refuses a request of `class` on a shard in `mode`, per the module's table.
///
/// # Errors
///
/// A [`Refusal`] carrying `mode` and the configured retry-after of that mode.
pub fn admit(config: &OverloadConfig, mode: Mode, class: RequestClass) -> Result<(), Refusal> {
    if class.is_served_in(mode) {
        return Ok(());
    }
    let retry_after_ms = match mode {
        Mode::Normal => unreachable!("normal mode serves every class"),
        Mode::Brownout => config.brownout_retry_after_ms,
        Mode::Survival => config.survival_retry_after_ms,
    };
    Err(Refusal {
        mode,
        // Validation caps retry-after at an hour, far inside the wire's u32.
        retry_after_ms: u32::try_from(retry_after_ms).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of the module documentation, written out: (class, normal, brownout, survival).
    const TABLE: [(RequestClass, bool, bool, bool); 10] = [
        (RequestClass::Hello, true, true, true),
        (RequestClass::Heartbeat, true, true, true),
        (RequestClass::Ticket, true, true, true),
        (RequestClass::Handoff, true, true, true),
        (RequestClass::Urgent, true, true, true),
        (RequestClass::ChatSend, true, true, false),
        (RequestClass::ReadReceipt, true, true, false),
        (RequestClass::Resume, true, true, false),
        (RequestClass::Typing, true, false, false),
        (RequestClass::HistoryQuery, true, false, false),
    ];

    #[test]
    fn admission_table_is_exhaustive_and_exact() {
        let config = OverloadConfig {
            brownout_retry_after_ms: 1_234,
            survival_retry_after_ms: 5_678,
            ..OverloadConfig::default()
        };
        assert_eq!(TABLE.map(|row| row.0), RequestClass::ALL);
        for (class, normal, brownout, survival) in TABLE {
            for (mode, served, retry_after_ms) in [
                (Mode::Normal, normal, 0),
                (Mode::Brownout, brownout, 1_234),
                (Mode::Survival, survival, 5_678),
            ] {
                let expected = if served {
                    Ok(())
                } else {
                    Err(Refusal {
                        mode,
                        retry_after_ms,
                    })
                };
                assert_eq!(admit(&config, mode, class), expected, "{class:?} in {mode}");
            }
        }
    }

    #[test]
    fn a_more_severe_mode_never_serves_more() {
        for class in RequestClass::ALL {
            for pair in Mode::ALL.windows(2) {
                assert!(class.is_served_in(pair[0]) || !class.is_served_in(pair[1]));
            }
        }
    }

    #[test]
    fn refusal_maps_to_the_overloaded_error() {
        let refusal = Refusal {
            mode: Mode::Brownout,
            retry_after_ms: 10_000,
        };
        assert_eq!(refusal.error_code().name(), Some("overloaded"));
        let report = refusal.error_report();
        assert_eq!(report.code, ErrorCode::OVERLOADED);
        assert_eq!(report.retry_after_ms, Some(10_000));
        assert_eq!(report.message, "overloaded: brownout");
        assert_eq!(
            refusal.to_string(),
            "server overloaded (brownout); retry after 10000 ms"
        );
    }

    #[test]
    fn client_kinds_map_to_their_classes() {
        assert_eq!(
            RequestClass::for_client_kind(Kind::Hello),
            Some(RequestClass::Hello)
        );
        assert_eq!(
            RequestClass::for_client_kind(Kind::Pong),
            Some(RequestClass::Heartbeat)
        );
        assert_eq!(
            RequestClass::for_client_kind(Kind::HistoryQuery),
            Some(RequestClass::HistoryQuery)
        );
        assert_eq!(
            RequestClass::for_client_kind(Kind::Send),
            Some(RequestClass::ChatSend)
        );
        assert_eq!(RequestClass::for_client_kind(Kind::Error), None);
        assert_eq!(RequestClass::for_client_kind(Kind::Fragment), None);
    }
}
