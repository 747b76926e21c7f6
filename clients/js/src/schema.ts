// protocol/schema/switchboard.fbs as data: for every body table, its fields in vtable-slot order with the
// model field each one maps to. The hand-written FlatBuffers codec (flatbuffers.ts) walks these lists, so a
// field appended to the schema is one line here.

/** Open enumerations: names by wire value (docs/protocol.md section 4 and codes.rs). */
export const ENUMS = {
  role: ['customer', 'agent', 'ai', 'system'],
  gap: ['expired', 'deleted', 'unavailable', 'damaged'],
  ticket: ['opened', 'assigned', 'pending', 'resolved', 'closed'],
  state: ['bot', 'queued', 'assigned', 'resolved'],
  mode: ['normal', 'brownout', 'survival', 'read_only'],
  presence: ['offline', 'online', 'away'],
  code: [
    '', 'unknown_kind', 'reserved_flags', 'malformed_frame', 'unsupported_version', 'unauthorized', 'forbidden',
    'not_found', 'rate_limited', 'message_too_large', 'invalid_state', 'overloaded', 'internal',
    'resume_rejected',
  ],
} as const;
export type EnumName = keyof typeof ENUMS;

/**
 * Field types:
 * - `u8` `u16` `u32` `u64`: numbers (u64 read exactly below 2^53);
 * - `id`: u64 as decimal text; `mid`: a message id spanning two ulong slots (`_hi`, `_lo`);
 * - `bool`: ubyte flag; `str`: string; `ou32`: optional uint (absent is distinguished from 0);
 * - `e8:<enum>` / `e16:<enum>`: ubyte/ushort open enumeration;
 * - `v:<table>`: vector of tables.
 */
export type FieldType = string;
export type Field = readonly [name: string, type: FieldType];

const deliver: readonly Field[] = [
  ['conversation_id', 'id'],
  ['sequence', 'u64'],
  ['message_id', 'mid'],
  ['sender_id', 'id'],
  ['sender_role', 'e8:role'],
  ['sent_at_ms', 'u64'],
  ['text', 'str'],
];

const ticket: readonly Field[] = [
  ['ticket_id', 'id'],
  ['conversation_id', 'id'],
  ['status', 'e8:ticket'],
  ['subject', 'str'],
  ['agent_group', 'str'],
  ['agent_id', 'id'],
  ['note', 'str'],
];

/** Body tables by name (frame kinds use their own name; `resume_position`, `deliver`, `inbox_entry` and `ticket` are
 * nested in lists). */
export const TABLES: Record<string, readonly Field[]> = {
  hello: [['protocol_version', 'u16'], ['auth_token', 'str'], ['resume_token', 'str']],
  welcome: [
    ['protocol_version', 'u16'],
    ['heartbeat_interval_ms', 'u32'],
    ['resume_token', 'str'],
    ['server_time_ms', 'u64'],
  ],
  send: [['message_id', 'mid'], ['conversation_id', 'id'], ['text', 'str']],
  ack: [['message_id', 'mid'], ['conversation_id', 'id'], ['sequence', 'u64']],
  deliver,
  resume_position: [['conversation_id', 'id'], ['last_sequence', 'u64']],
  resume: [['resume_token', 'str'], ['positions', 'v:resume_position']],
  replay: [['conversation_id', 'id'], ['from_sequence', 'u64'], ['to_sequence', 'u64']],
  gap: [['conversation_id', 'id'], ['from_sequence', 'u64'], ['to_sequence', 'u64'], ['reason', 'e8:gap']],
  typing: [['conversation_id', 'id'], ['user_id', 'id'], ['active', 'bool']],
  read_receipt: [['conversation_id', 'id'], ['user_id', 'id'], ['sequence', 'u64']],
  ticket,
  handoff: [['conversation_id', 'id'], ['agent_id', 'id'], ['agent_group', 'str'], ['reason', 'str']],
  error: [['code', 'e16:code'], ['message', 'str'], ['retry_after_ms', 'ou32']],
  ping: [['timestamp_ms', 'u64'], ['heartbeat_interval_ms', 'ou32']],
  pong: [['ping_timestamp_ms', 'u64'], ['timestamp_ms', 'u64']],
  history_query: [['query_id', 'u32'], ['conversation_id', 'id'], ['before_sequence', 'u64'], ['limit', 'u16']],
  history_result: [['query_id', 'u32'], ['conversation_id', 'id'], ['messages', 'v:deliver'], ['has_more', 'bool']],
  conversation_update: [
    ['conversation_id', 'id'],
    ['state', 'e8:state'],
    ['agent_id', 'id'],
    ['agent_group', 'str'],
    ['reason', 'str'],
  ],
  status: [['mode', 'e8:mode'], ['retry_after_ms', 'u32'], ['message', 'str']],
  presence: [['user_id', 'id'], ['presence', 'e8:presence'], ['reason', 'str']],
  inbox_entry: [
    ['conversation_id', 'id'],
    ['customer_id', 'id'],
    ['state', 'e8:state'],
    ['agent_id', 'id'],
    ['agent_group', 'str'],
    ['last_sequence', 'u64'],
    ['unread', 'u32'],
    ['waiting_ms', 'u64'],
    ['position', 'u32'],
  ],
  inbox: [
    ['agent_id', 'id'],
    ['presence', 'e8:presence'],
    ['assigned', 'v:inbox_entry'],
    ['queued', 'v:inbox_entry'],
    ['tickets', 'v:ticket'],
  ],
};

/** The name of enumeration value `value`, or the number itself when this version has none. */
export function enumName(which: EnumName, value: number): string | number {
  const names: readonly string[] = ENUMS[which];
  return names[value] || value;
}

/** The wire value of `value` (a name or a number); `undefined` for an unknown name. */
export function enumValue(which: EnumName, value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const names: readonly string[] = ENUMS[which];
  const index = value === '' ? -1 : names.indexOf(String(value));
  return index < 0 ? undefined : index;
}
