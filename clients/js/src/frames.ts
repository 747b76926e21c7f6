// The frame model shared by both codecs: every frame of docs/protocol.md section 4 as a plain object whose
// field names are the protocol's (snake_case, exactly as in switchboard.json.v1), so one model serves the
// binary codec, the JSON codec and the events the client emits.
//
// Representation of the protocol's types (docs/protocol.md section 5):
// - conversation, user, agent, ticket and fragment ids (u64) are decimal strings: JavaScript numbers are
//   exact only below 2^53;
// - sequences, timestamps, intervals and counters are numbers (exact below 2^53, i.e. for ~285,000 years of
//   milliseconds or 9e15 messages in one conversation);
// - message ids are 32 lowercase hex digits (the 16 bytes in order);
// - enumerations are the value's name, or its number when this version has no name for it (open enums);
// - yes/no flags are booleans; absent strings are "".

/** Decimal text of a u64 id (conversation, user, agent, ticket). */
export type Id = string;
/** 32 lowercase hex digits: a 16-byte message id (UUID v4/v7 in RFC 9562 byte order). */
export type MessageId = string;

export type Lane = 'urgent' | 'ai_answer' | 'chat' | 'system';
export type SenderRole = 'customer' | 'agent' | 'ai' | 'system' | number;
export type GapReason = 'expired' | 'deleted' | 'unavailable' | 'damaged' | number;
export type TicketStatus = 'opened' | 'assigned' | 'pending' | 'resolved' | 'closed' | number;
export type ConversationState = 'bot' | 'queued' | 'assigned' | 'resolved' | number;
export type StatusMode = 'normal' | 'brownout' | 'survival' | 'read_only' | number;
/** An agent's presence: only `online` agents are assigned new conversations. */
export type PresenceState = 'offline' | 'online' | 'away' | number;
export type ErrorCode =
  | 'unknown_kind'
  | 'reserved_flags'
  | 'malformed_frame'
  | 'unsupported_version'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'rate_limited'
  | 'message_too_large'
  | 'invalid_state'
  | 'overloaded'
  | 'internal'
  | 'resume_rejected'
  | number;

export interface HelloFrame { kind: 'hello'; protocol_version: number; auth_token: string; resume_token: string }
export interface WelcomeFrame {
  kind: 'welcome';
  protocol_version: number;
  heartbeat_interval_ms: number;
  resume_token: string;
  server_time_ms: number;
}
export interface SendFrame { kind: 'send'; message_id: MessageId; conversation_id: Id; text: string }
export interface AckFrame { kind: 'ack'; message_id: MessageId; conversation_id: Id; sequence: number }
/** One message of a conversation (also the element of `history_result.messages`). */
export interface Deliver {
  conversation_id: Id;
  sequence: number;
  message_id: MessageId;
  sender_id: Id;
  sender_role: SenderRole;
  sent_at_ms: number;
  text: string;
}
export interface DeliverFrame extends Deliver { kind: 'deliver' }
export interface ResumePosition { conversation_id: Id; last_sequence: number }
export interface ResumeFrame { kind: 'resume'; resume_token: string; positions: ResumePosition[] }
export interface ReplayFrame { kind: 'replay'; conversation_id: Id; from_sequence: number; to_sequence: number }
export interface GapFrame {
  kind: 'gap';
  conversation_id: Id;
  from_sequence: number;
  to_sequence: number;
  reason: GapReason;
}
export interface TypingFrame { kind: 'typing'; conversation_id: Id; user_id: Id; active: boolean }
export interface ReadReceiptFrame { kind: 'read_receipt'; conversation_id: Id; user_id: Id; sequence: number }
/** A ticket (the `ticket` frame's body, also the element of `inbox.tickets`). */
export interface Ticket {
  /** Unique within the tenant for ever. */
  ticket_id: Id;
  conversation_id: Id;
  status: TicketStatus;
  /** The bot's category, e.g. `refund`. */
  subject: string;
  /** The agent group it is routed to, as decimal text; may be empty. */
  agent_group: string;
  /** The agent holding it; "0" for none. */
  agent_id: Id;
  /** The change's note: an agent's note, or for the customer what happens next. */
  note: string;
}
export interface TicketFrame extends Ticket { kind: 'ticket' }
export interface HandoffFrame {
  kind: 'handoff';
  conversation_id: Id;
  agent_id: Id;
  agent_group: string;
  reason: string;
}
export interface ErrorFrame {
  kind: 'error';
  code: ErrorCode;
  message: string;
  /** Absent: no advice; 0: retry now. */
  retry_after_ms?: number;
}
export interface PingFrame { kind: 'ping'; timestamp_ms: number; heartbeat_interval_ms?: number }
export interface PongFrame { kind: 'pong'; ping_timestamp_ms: number; timestamp_ms: number }
export interface HistoryQueryFrame {
  kind: 'history_query';
  query_id: number;
  conversation_id: Id;
  before_sequence: number;
  limit: number;
}
export interface HistoryResultFrame {
  kind: 'history_result';
  query_id: number;
  conversation_id: Id;
  messages: Deliver[];
  has_more: boolean;
}
export interface FragmentFrame {
  kind: 'fragment';
  fragment_id: Id;
  index: number;
  count: number;
  total_bytes: number;
  data: Uint8Array;
}
export interface ConversationUpdateFrame {
  kind: 'conversation_update';
  conversation_id: Id;
  state: ConversationState;
  agent_id: Id;
  agent_group: string;
  reason: string;
}
export interface StatusFrame { kind: 'status'; mode: StatusMode; retry_after_ms: number; message: string }
export interface PresenceFrame {
  kind: 'presence';
  /** The agent (set by the server; ignored from clients). */
  user_id: Id;
  presence: PresenceState;
  /** `connected`, `chosen`, `no reply within the reply timeout`, `disconnected`, … */
  reason: string;
}
/** One conversation of an agent's inbox. */
export interface InboxEntry {
  conversation_id: Id;
  customer_id: Id;
  state: ConversationState;
  /** The assigned agent; "0" while queued. */
  agent_id: Id;
  agent_group: string;
  /** The newest sequence the routing shard has seen (customer messages and agent replies); 0 if none. */
  last_sequence: number;
  /** Customer messages since the agent's last reply. */
  unread: number;
  /** Time in the queue, or since the assignment. */
  waiting_ms: number;
  /** Place in the group's queue from 1; 0 when assigned. */
  position: number;
}
/** An agent's console snapshot (the request is an `inbox` with default fields). */
export interface InboxFrame {
  kind: 'inbox';
  agent_id: Id;
  presence: PresenceState;
  assigned: InboxEntry[];
  queued: InboxEntry[];
  /** Open (not closed) tickets of the agent's groups. */
  tickets: Ticket[];
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | SendFrame
  | AckFrame
  | DeliverFrame
  | ResumeFrame
  | ReplayFrame
  | GapFrame
  | TypingFrame
  | ReadReceiptFrame
  | TicketFrame
  | HandoffFrame
  | ErrorFrame
  | PingFrame
  | PongFrame
  | HistoryQueryFrame
  | HistoryResultFrame
  | FragmentFrame
  | ConversationUpdateFrame
  | StatusFrame
  | PresenceFrame
  | InboxFrame;

export type FrameKind = Frame['kind'];

/** A decoded frame with the lane it travelled on. */
export type Received = Frame & { lane: Lane };

/** Kind names by wire value (index = kind byte); docs/protocol.md section 4. */
export const KINDS: readonly (FrameKind | '')[] = [
  '', 'hello', 'welcome', 'send', 'ack', 'deliver', 'resume', 'replay', 'gap', 'typing', 'read_receipt',
  'ticket', 'handoff', 'error', 'ping', 'pong', 'history_query', 'history_result', 'fragment',
  'conversation_update', 'status', 'presence', 'inbox',
];

export const LANES: readonly Lane[] = ['urgent', 'ai_answer', 'chat', 'system'];

/** Default lane of each kind (section 4); `fragment` takes its message's lane. */
export function defaultLane(kind: FrameKind): Lane {
  switch (kind) {
    case 'send':
    case 'ack':
    case 'deliver':
    case 'fragment':
      return 'chat';
    case 'ticket':
    case 'handoff':
    case 'error':
    case 'conversation_update':
    case 'status':
    case 'presence':
      return 'urgent';
    default:
      return 'system';
  }
}
