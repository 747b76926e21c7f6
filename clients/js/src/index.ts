// @switchboard/client: the TypeScript client SDK of Switchboard, a customer-service chat server.
//
// Layout:
// - client.ts: `SwitchboardClient`, the connection state machine (hello/welcome, resume, outbox re-send,
//   heartbeats, reconnect with backoff, token refresh) and its typed events and requests;
// - frames.ts: the frame model shared by both codecs (field names as in docs/protocol.md);
// - schema.ts: protocol/schema/switchboard.fbs as data; flatbuffers.ts: the hand-written FlatBuffers reader
//   (verifying) and builder; binary.ts: `switchboard.v1` frames, varints, fragment reassembly;
//   json.ts: `switchboard.json.v1`;
// - sequence.ts: per-conversation contiguous mark + held set (exactly-once delivery, resume positions);
// - outbox.ts: unacknowledged sends and their pluggable storage (IndexedDB, memory);
// - agent.ts: `AgentState`, an agent console rebuilt from `presence` + `inbox` after every welcome;
// - backoff.ts: full-jitter exponential backoff; ids.ts: UUID v7 message ids; emitter.ts: typed events.
//
// No runtime dependencies: the FlatBuffers codec is ~300 lines for the subset the schema uses.

export { SwitchboardClient } from './client';
export type {
  ClientEvents,
  ClientError,
  ClientOptions,
  ConnectionState,
  StateChange,
  Subprotocol,
  TokenReason,
  WebSocketConstructor,
  WebSocketLike,
} from './client';
export * from './frames';
export { encodeBinary, BinaryDecoder, ProtocolError, readVarint, writeVarint } from './binary';
export { encodeJson, JsonDecoder } from './json';
export { SequenceTracker } from './sequence';
export { Backoff, type BackoffOptions } from './backoff';
export {
  defaultOutboxStorage,
  IndexedDbOutboxStorage,
  MemoryOutboxStorage,
  Outbox,
  type OutboxEntry,
  type OutboxStorage,
} from './outbox';
export { newMessageId } from './ids';
export { AgentState, type AgentStateOptions } from './agent';
