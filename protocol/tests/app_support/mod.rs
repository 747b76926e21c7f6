//! Shared test data for the `app_*` integration tests: proptest strategies for every frame kind and one
//! fixed example frame per kind.
#![allow(dead_code)] // Each test binary uses a different part.

use proptest::collection::vec;
use proptest::prelude::*;
use switchboard_protocol::app::*;

/// Any text, including control characters, quotes, backslashes and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    "(?s).{0,24}"
}

fn message_id() -> impl Strategy<Value = MessageId> {
    any::<[u8; 16]>().prop_map(MessageId)
}

fn lane() -> impl Strategy<Value = Lane> {
    prop_oneof![
        Just(Lane::Urgent),
        Just(Lane::AiAnswer),
        Just(Lane::Chat),
        Just(Lane::System)
    ]
}

fn deliver() -> impl Strategy<Value = Deliver> {
    (
        any::<u64>(),
        any::<u64>(),
        message_id(),
        any::<u64>(),
        any::<u8>(),
        any::<u64>(),
        text(),
    )
        .prop_map(
            |(conversation_id, sequence, message_id, sender_id, role, sent_at_ms, text)| Deliver {
                conversation_id,
                sequence,
                message_id,
                sender_id,
                sender_role: SenderRole(role),
                sent_at_ms,
                text,
            },
        )
}

fn ticket() -> impl Strategy<Value = Ticket> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u8>(),
        text(),
        text(),
        any::<u64>(),
        text(),
    )
        .prop_map(
            |(ticket_id, conversation_id, s, subject, agent_group, agent_id, note)| Ticket {
                ticket_id,
                conversation_id,
                status: TicketStatus(s),
                subject,
                agent_group,
                agent_id,
                note,
            },
        )
}

fn inbox_entry() -> impl Strategy<Value = InboxEntry> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u8>(),
        any::<u64>(),
        text(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(
            |(
                conversation_id,
                customer_id,
                state,
                agent_id,
                agent_group,
                last,
                unread,
                waiting,
                position,
            )| {
                InboxEntry {
                    conversation_id,
                    customer_id,
                    state: ConversationState(state),
                    agent_id,
                    agent_group,
                    last_sequence: last,
                    unread,
                    waiting_ms: waiting,
                    position,
                }
            },
        )
}

fn fragment() -> impl Strategy<Value = Fragment> {
    (
        any::<u64>(),
        1u32..2000,
        vec(any::<u8>(), 0..64),
        0u32..1000,
    )
        .prop_flat_map(|(fragment_id, count, data, extra)| {
            (0..count).prop_map(move |index| Fragment {
                fragment_id,
                index,
                count,
                total_bytes: data.len() as u32 + extra,
                data: data.clone(),
            })
        })
}

/// Any message of any kind.
pub fn message() -> BoxedStrategy<Message> {
    prop_oneof![
        (any::<u16>(), text(), text()).prop_map(|(protocol_version, auth_token, resume_token)| {
            Message::Hello(Hello {
                protocol_version,
                auth_token,
                resume_token,
            })
        }),
        (any::<u16>(), any::<u32>(), text(), any::<u64>()).prop_map(|(v, h, r, t)| {
            Message::Welcome(Welcome {
                protocol_version: v,
                heartbeat_interval_ms: h,
                resume_token: r,
                server_time_ms: t,
            })
        }),
        (message_id(), any::<u64>(), text()).prop_map(|(message_id, conversation_id, text)| {
            Message::Send(SendMessage {
                message_id,
                conversation_id,
                text,
            })
        }),
        (message_id(), any::<u64>(), any::<u64>()).prop_map(
            |(message_id, conversation_id, sequence)| {
                Message::Ack(Ack {
                    message_id,
                    conversation_id,
                    sequence,
                })
            }
        ),
        deliver().prop_map(Message::Deliver),
        (text(), vec((any::<u64>(), any::<u64>()), 0..5)).prop_map(|(resume_token, positions)| {
            let positions = positions
                .into_iter()
                .map(|(conversation_id, last_sequence)| ResumePosition {
                    conversation_id,
                    last_sequence,
                })
                .collect();
            Message::Resume(Resume {
                resume_token,
                positions,
            })
        }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(c, f, t)| {
            Message::Replay(Replay {
                conversation_id: c,
                from_sequence: f,
                to_sequence: t,
            })
        }),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u8>()).prop_map(|(c, f, t, r)| {
            Message::Gap(Gap {
                conversation_id: c,
                from_sequence: f,
                to_sequence: t,
                reason: GapReason(r),
            })
        }),
        (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(
            |(conversation_id, user_id, active)| {
                Message::Typing(Typing {
                    conversation_id,
                    user_id,
                    active,
                })
            }
        ),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(conversation_id, user_id, sequence)| {
                Message::ReadReceipt(ReadReceipt {
                    conversation_id,
                    user_id,
                    sequence,
                })
            }
        ),
        ticket().prop_map(Message::Ticket),
        (any::<u64>(), any::<u64>(), text(), text()).prop_map(
            |(conversation_id, agent_id, agent_group, reason)| {
                Message::Handoff(Handoff {
                    conversation_id,
                    agent_id,
                    agent_group,
                    reason,
                })
            }
        ),
        (any::<u16>(), text(), any::<Option<u32>>()).prop_map(|(code, message, retry_after_ms)| {
            Message::Error(ErrorReport {
                code: ErrorCode(code),
                message,
                retry_after_ms,
            })
        }),
        (any::<u64>(), any::<Option<u32>>()).prop_map(|(timestamp_ms, heartbeat_interval_ms)| {
            Message::Ping(Ping {
                timestamp_ms,
                heartbeat_interval_ms,
            })
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(ping_timestamp_ms, timestamp_ms)| {
            Message::Pong(Pong {
                ping_timestamp_ms,
                timestamp_ms,
            })
        }),
        (any::<u32>(), any::<u64>(), any::<u64>(), any::<u16>()).prop_map(|(q, c, b, l)| {
            Message::HistoryQuery(HistoryQuery {
                query_id: q,
                conversation_id: c,
                before_sequence: b,
                limit: l,
            })
        }),
        (
            any::<u32>(),
            any::<u64>(),
            vec(deliver(), 0..4),
            any::<bool>()
        )
            .prop_map(|(q, c, messages, has_more)| {
                Message::HistoryResult(HistoryResult {
                    query_id: q,
                    conversation_id: c,
                    messages,
                    has_more,
                })
            }),
        fragment().prop_map(Message::Fragment),
        (any::<u64>(), any::<u8>(), any::<u64>(), text(), text()).prop_map(
            |(conversation_id, state, agent_id, agent_group, reason)| {
                Message::ConversationUpdate(ConversationUpdate {
                    conversation_id,
                    state: ConversationState(state),
                    agent_id,
                    agent_group,
                    reason,
                })
            }
        ),
        (any::<u8>(), any::<u32>(), text()).prop_map(|(mode, retry_after_ms, message)| {
            Message::Status(Status {
                mode: StatusMode(mode),
                retry_after_ms,
                message,
            })
        }),
        (any::<u64>(), any::<u8>(), text()).prop_map(|(user_id, presence, reason)| {
            Message::Presence(Presence {
                user_id,
                presence: PresenceState(presence),
                reason,
            })
        }),
        (
            any::<u64>(),
            any::<u8>(),
            vec(inbox_entry(), 0..3),
            vec(inbox_entry(), 0..3),
            vec(ticket(), 0..3)
        )
            .prop_map(|(agent_id, presence, assigned, queued, tickets)| {
                Message::Inbox(Inbox {
                    agent_id,
                    presence: PresenceState(presence),
                    assigned,
                    queued,
                    tickets,
                })
            }),
    ]
    .boxed()
}

/// Any frame: any message on any lane.
pub fn frame() -> impl Strategy<Value = OwnedFrame> {
    (lane(), message()).prop_map(|(lane, message)| OwnedFrame { lane, message })
}

/// The example message id used in docs/protocol.md (a UUID v7).
pub const EXAMPLE_MESSAGE_ID: MessageId = MessageId([
    0x01, 0x93, 0x4e, 0x5f, 0x6a, 0x70, 0x7b, 0x12, 0x8c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93,
]);

/// One realistic frame per kind, in `Kind::ALL` order: the examples of docs/protocol.md and fuzz seeds.
pub fn examples() -> Vec<OwnedFrame> {
    let deliver = Deliver {
        conversation_id: 4821,
        sequence: 17,
        message_id: EXAMPLE_MESSAGE_ID,
        sender_id: 1001,
        sender_role: SenderRole::CUSTOMER,
        sent_at_ms: 1_763_790_000_000,
        text: "你好".to_owned(),
    };
    let messages = vec![
        Message::Hello(Hello {
            protocol_version: 1,
            auth_token: "tok".into(),
            resume_token: String::new(),
        }),
        Message::Welcome(Welcome {
            protocol_version: 1,
            heartbeat_interval_ms: 25_000,
            resume_token: "r1".into(),
            server_time_ms: 1_763_790_000_000,
        }),
        Message::Send(SendMessage {
            message_id: EXAMPLE_MESSAGE_ID,
            conversation_id: 4821,
            text: "hi".into(),
        }),
        Message::Ack(Ack {
            message_id: EXAMPLE_MESSAGE_ID,
            conversation_id: 4821,
            sequence: 17,
        }),
        Message::Deliver(deliver.clone()),
        Message::Resume(Resume {
            resume_token: "r1".into(),
            positions: vec![ResumePosition {
                conversation_id: 4821,
                last_sequence: 15,
            }],
        }),
        Message::Replay(Replay {
            conversation_id: 4821,
            from_sequence: 16,
            to_sequence: 17,
        }),
        Message::Gap(Gap {
            conversation_id: 4821,
            from_sequence: 1,
            to_sequence: 9,
            reason: GapReason::EXPIRED,
        }),
        Message::Typing(Typing {
            conversation_id: 4821,
            user_id: 1001,
            active: true,
        }),
        Message::ReadReceipt(ReadReceipt {
            conversation_id: 4821,
            user_id: 2002,
            sequence: 17,
        }),
        Message::Ticket(Ticket {
            ticket_id: 77,
            conversation_id: 4821,
            status: TicketStatus::ASSIGNED,
            subject: "refund".into(),
            agent_group: "3".into(),
            agent_id: 2002,
            note: String::new(),
        }),
        Message::Handoff(Handoff {
            conversation_id: 4821,
            agent_id: 2002,
            agent_group: "billing".into(),
            reason: "low confidence".into(),
        }),
        Message::Error(ErrorReport {
            code: ErrorCode::RATE_LIMITED,
            message: "slow down".into(),
            retry_after_ms: Some(1500),
        }),
        Message::Ping(Ping {
            timestamp_ms: 1_763_790_000_000,
            heartbeat_interval_ms: None,
        }),
        Message::Pong(Pong {
            ping_timestamp_ms: 1_763_790_000_000,
            timestamp_ms: 1_763_790_000_040,
        }),
        Message::HistoryQuery(HistoryQuery {
            query_id: 3,
            conversation_id: 4821,
            before_sequence: 17,
            limit: 1,
        }),
        Message::HistoryResult(HistoryResult {
            query_id: 3,
            conversation_id: 4821,
            messages: vec![deliver],
            has_more: true,
        }),
        Message::Fragment(Fragment {
            fragment_id: 9,
            index: 0,
            count: 2,
            total_bytes: 6,
            data: b"abc".to_vec(),
        }),
        Message::ConversationUpdate(ConversationUpdate {
            conversation_id: 4821,
            state: ConversationState::ASSIGNED,
            agent_id: 2002,
            agent_group: "17".into(),
            reason: "transfer".into(),
        }),
        Message::Status(Status {
            mode: StatusMode::BROWNOUT,
            retry_after_ms: 2000,
            message: "shard 3 under memory pressure".into(),
        }),
        Message::Presence(Presence {
            user_id: 2002,
            presence: PresenceState::AWAY,
            reason: "chosen".into(),
        }),
        Message::Inbox(Inbox {
            agent_id: 2002,
            presence: PresenceState::ONLINE,
            assigned: vec![InboxEntry {
                conversation_id: 4821,
                customer_id: 1001,
                state: ConversationState::ASSIGNED,
                agent_id: 2002,
                agent_group: "3".into(),
                last_sequence: 17,
                unread: 2,
                waiting_ms: 45_000,
                position: 0,
            }],
            queued: vec![InboxEntry {
                conversation_id: 4822,
                customer_id: 1002,
                state: ConversationState::QUEUED,
                agent_id: 0,
                agent_group: "3".into(),
                last_sequence: 3,
                unread: 1,
                waiting_ms: 12_000,
                position: 1,
            }],
            tickets: Vec::new(),
        }),
    ];
    messages.into_iter().map(OwnedFrame::new).collect()
}

/// Encodes `frame` in binary.
pub fn to_binary(frame: &OwnedFrame) -> Vec<u8> {
    let mut out = Vec::new();
    Encoder::new().encode(frame, &mut out);
    out
}

/// Encodes `frame` as JSON text.
pub fn to_json(frame: &OwnedFrame) -> Vec<u8> {
    let mut out = Vec::new();
    json::encode_json(frame, &mut out);
    out
}

/// Decodes exactly one binary frame into the owned model.
pub fn from_binary(bytes: &[u8]) -> OwnedFrame {
    let (frame, consumed) = parse_frame(bytes, &FrameLimits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(consumed, bytes.len());
    frame.to_owned_frame()
}

/// Decodes JSON text into the owned model.
pub fn from_json(text: &[u8]) -> OwnedFrame {
    json::parse_json(&mut text.to_vec()).expect("valid JSON frame")
}
