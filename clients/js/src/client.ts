// The connection: a state machine over one WebSocket at a time that authenticates (`hello` → `welcome`),
// resumes every tracked conversation from its contiguous mark, re-sends the outbox, keeps the heartbeat,
// and on any loss reconnects with full-jitter backoff raised to the server's hints.

import { Backoff, type BackoffOptions } from './backoff';
import { BinaryDecoder, encodeBinary, ProtocolError } from './binary';
import { Emitter } from './emitter';
import type {
  AckFrame,
  ConversationState,
  DeliverFrame,
  ErrorCode,
  ErrorFrame,
  Frame,
  GapFrame,
  HandoffFrame,
  HistoryResultFrame,
  InboxFrame,
  Lane,
  PresenceFrame,
  PresenceState,
  ReadReceiptFrame,
  Received,
  ReplayFrame,
  StatusFrame,
  TicketFrame,
  TicketStatus,
  TypingFrame,
  WelcomeFrame,
  ConversationUpdateFrame,
} from './frames';
import { newMessageId } from './ids';
import { encodeJson, JsonDecoder } from './json';
import { defaultOutboxStorage, Outbox, type OutboxEntry, type OutboxStorage } from './outbox';
import { SequenceTracker } from './sequence';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
/** Why the token callback is called: a first connect, a reconnect, or the server refused the last token. */
export type TokenReason = 'connect' | 'reconnect' | 'unauthorized';
export type Subprotocol = 'binary' | 'json';

/** The part of the WebSocket API the client uses (the browser's, Node ≥ 22's, or a compatible one). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

export interface ClientOptions {
  /** Server endpoint, e.g. `wss://chat.example.com/ws`. */
  url: string;
  /** A fixed token (tests, short sessions); prefer `getToken`. */
  token?: string;
  /** Returns a fresh token; called before every connection attempt, with why. */
  getToken?: (reason: TokenReason) => string | Promise<string>;
  /** `binary` (`switchboard.v1`, default) or `json` (`switchboard.json.v1`). */
  protocol?: Subprotocol;
  /** Where the token goes: `hello` (default; never in URLs or logs) or the `token` query parameter. */
  tokenIn?: 'hello' | 'query';
  /** WebSocket implementation (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Outbox storage (default: IndexedDB in browsers, memory elsewhere). */
  outbox?: OutboxStorage;
  /** Reconnect backoff; `attemptsMax` failed attempts in a row end in state `closed` (default 1,000). */
  reconnect?: BackoffOptions & { attemptsMax?: number };
  /** Conversations to resume on connect, with the contiguous sequence the app already holds. */
  positions?: { conversation_id: string; last_sequence: number }[];
  /** Time from opening the socket to `welcome` before the attempt is abandoned (default 15,000 ms). */
  connectTimeoutMs?: number;
  /** Time a `history` request may take (default 15,000 ms). */
  requestTimeoutMs?: number;
}

/** Client-side failures are reported with code `client`. */
export interface ClientError {
  code: ErrorCode | 'client';
  message: string;
  retry_after_ms?: number;
}

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Reconnect attempt number (state `reconnecting`). */
  attempt?: number;
  /** Delay before that attempt (state `reconnecting`). */
  delayMs?: number;
  /** Close code of the connection that ended. */
  closeCode?: number;
}

type WithLane<T> = T & { lane: Lane };

export interface ClientEvents {
  [name: string]: unknown;
  state: StateChange;
  welcome: WithLane<WelcomeFrame>;
  /** A new message of a conversation, never one already delivered. */
  message: WithLane<DeliverFrame>;
  /** A `deliver` dropped because its sequence was already held. */
  duplicate: WithLane<DeliverFrame>;
  /** One of this client's sends is stored (emitted once per message). */
  ack: AckFrame;
  replay: WithLane<ReplayFrame>;
  /** Messages the server cannot replay; the contiguous mark moves past them. */
  gap: WithLane<GapFrame>;
  typing: WithLane<TypingFrame>;
  read: WithLane<ReadReceiptFrame>;
  /** A ticket was opened or changed (agents of its group, its holder; its customer when opened/resolved/closed). */
  ticket: WithLane<TicketFrame>;
  /** The conversation moved to a human: agents get the bot's summary, customers customer-facing text. */
  handoff: WithLane<HandoffFrame>;
  /** Agents: their effective presence, right after `welcome` and whenever it changes. */
  presence: WithLane<PresenceFrame>;
  /** Agents: the console snapshot, right after `welcome` (after `presence`) and on `requestInbox()`. */
  inbox: WithLane<InboxFrame>;
  conversation: WithLane<ConversationUpdateFrame>;
  status: WithLane<StatusFrame>;
  history: WithLane<HistoryResultFrame>;
  error: ClientError;
}

const SUBPROTOCOLS = { binary: 'switchboard.v1', json: 'switchboard.json.v1' };
/** Close codes that call for a longer pause: 1013 try again later, 1001 going away (drain/restart). */
const CLOSE_FLOOR_MS: Record<number, number> = { 1013: 2_000, 1001: 250 };
const OPEN = 1;

interface Waiter<T> { resolve: (value: T) => void; reject: (error: Error) => void }

export class SwitchboardClient extends Emitter<ClientEvents> {
  /** Per-conversation delivery positions (the `resume` source). */
  readonly sequences = new SequenceTracker();
  private readonly options: ClientOptions;
  private readonly outbox: Outbox;
  private readonly backoff: Backoff;
  private socket: WebSocketLike | undefined;
  /** Ends the current attempt and schedules the next (set while a socket is current). */
  private abandon: ((closeCode: number) => void) | undefined;
  private current: ConnectionState = 'idle';
  private resumeToken = '';
  private tokenReason: TokenReason = 'connect';
  private stopped = false;
  private fatal = false;
  private hintMs = 0;
  private heartbeatMs = 30_000;
  private lastSentMs = 0;
  private lastReceivedMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private sendTimer: ReturnType<typeof setTimeout> | undefined;
  private sendsPausedUntilMs = 0;
  private quietUntilMs = 0;
  private nextQueryId = 1;
  private readonly acks = new Map<string, Waiter<AckFrame>[]>();
  private readonly queries = new Map<number, Waiter<HistoryResultFrame>>();
  private readonly pings = new Map<number, Waiter<number>>();
  /** `deliver` frames dropped as duplicates since the client was made. */
  duplicatesDropped = 0;
  /** The last `status` (degradation mode) the server sent. */
  serverStatus: StatusFrame | undefined;
  /** Agents: the last `presence` the server sent (undefined before the first, and for customers). */
  presence: PresenceFrame | undefined;

  constructor(options: ClientOptions) {
    super();
    this.options = options;
    this.outbox = new Outbox(options.outbox ?? defaultOutboxStorage());
    this.backoff = new Backoff(options.reconnect);
    for (const position of options.positions ?? []) {
      this.sequences.follow(position.conversation_id, position.last_sequence);
    }
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The highest sequence of `conversation` up to which every message was delivered (or declared a gap). */
  lastContiguousSeq(conversation: string): number {
    return this.sequences.lastContiguousSeq(conversation);
  }

  /** Sends waiting for their ack, oldest first. */
  pendingSends(): OutboxEntry[] {
    return this.outbox.pending();
  }

  /** Opens the connection (and keeps it open until `close`). Resolves once the first attempt started. */
  async connect(): Promise<void> {
    if (this.current !== 'idle' && this.current !== 'closed') return;
    this.stopped = false;
    this.fatal = false;
    this.backoff.reset();
    await this.outbox.load();
    await this.open();
  }

  /** Closes the connection for good (the outbox is kept in its storage). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.timer);
    clearTimeout(this.sendTimer);
    this.sendsPausedUntilMs = 0;
    const socket = this.socket;
    this.socket = undefined;
    this.abandon = undefined;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onerror = socket.onopen = null;
      try {
        socket.close(1000);
      } catch {
        // Already closed.
      }
    }
    this.failRequests(new Error('client closed'));
    this.setState({ state: 'closed', previous: this.current });
  }

  /** Drops the current connection as if the network failed; the client reconnects and resumes. */
  dropConnection(): void {
    this.abandon?.(4000);
  }

  /**
   * Sends `text` to `conversation` ("0" opens a new conversation, customers only). The message goes into
   * the outbox first and is re-sent with the same id until acknowledged; resolves with the `ack`.
   */
  async send(conversation: string, text: string, messageId: string = newMessageId()): Promise<AckFrame> {
    messageId = messageId.replace(/-/g, '').toLowerCase();
    // The server refuses a send without an id (all zero) with `malformed_frame`: refuse it here instead.
    if (!/^[0-9a-f]{32}$/.test(messageId) || /^0+$/.test(messageId)) throw new Error('invalid message id');
    // Ids are scoped per conversation on the server, but the outbox matches acks by id alone.
    const pending = this.outbox.get(messageId);
    if (pending && pending.conversation_id !== conversation) throw new Error('message id pending for another conversation');
    const entry: OutboxEntry = { message_id: messageId, conversation_id: conversation, text, created_at_ms: Date.now() };
    const acked = new Promise<AckFrame>((resolve, reject) => {
      const waiters = this.acks.get(messageId) ?? [];
      waiters.push({ resolve, reject });
      this.acks.set(messageId, waiters);
    });
    await this.outbox.load();
    if (!this.outbox.get(messageId)) await this.outbox.add(entry);
    if (Date.now() >= this.sendsPausedUntilMs) this.transmitSend(this.outbox.get(messageId) ?? entry);
    return acked;
  }

  /** Tells the conversation's followers this user started (or stopped) typing; false when not sent. */
  typing(conversation: string, active = true): boolean {
    if (Date.now() < this.quietUntilMs) return false;
    return this.transmit({ kind: 'typing', conversation_id: conversation, user_id: '0', active });
  }

  /** Marks everything up to `sequence` of `conversation` as read. */
  readReceipt(conversation: string, sequence: number): boolean {
    if (Date.now() < this.quietUntilMs) return false;
    return this.transmit({ kind: 'read_receipt', conversation_id: conversation, user_id: '0', sequence });
  }

  /** Loads messages older than `beforeSequence` (0: the latest), at most `limit` (server cap 100). */
  history(conversation: string, beforeSequence = 0, limit = 50): Promise<HistoryResultFrame> {
    const query_id = this.nextQueryId++;
    return new Promise((resolve, reject) => {
      const sent = this.transmit({ kind: 'history_query', query_id, conversation_id: conversation, before_sequence: beforeSequence, limit });
      if (!sent) return reject(new Error('not connected'));
      const timeout = setTimeout(() => {
        this.queries.delete(query_id);
        reject(new Error('history query timed out'));
      }, this.options.requestTimeoutMs ?? 15_000);
      this.queries.set(query_id, {
        resolve: (result) => (clearTimeout(timeout), resolve(result)),
        reject: (error) => (clearTimeout(timeout), reject(error)),
      });
    });
  }

  /**
   * Follows `conversation` from `lastSequence` (messages after it are replayed); it is then resumed on every
   * reconnect.
   */
  follow(conversation: string, lastSequence = 0): boolean {
    this.sequences.follow(conversation, lastSequence);
    const positions = [{ conversation_id: conversation, last_sequence: this.lastContiguousSeq(conversation) }];
    return this.transmit({ kind: 'resume', resume_token: this.resumeToken, positions });
  }

  /** Resolves the conversation (customers: only their own; agents: one they hold). */
  resolve(conversation: string, reason = ''): boolean {
    return this.updateConversation(conversation, 'resolved', '0', '', reason);
  }

  /** Agents: moves the conversation to agent group `group`'s queue. */
  transferToGroup(conversation: string, group: string | number, reason = ''): boolean {
    return this.updateConversation(conversation, 'queued', '0', String(group), reason);
  }

  /** Agents: hands the conversation to agent `agent` (online, same tenant, with capacity). */
  transferToAgent(conversation: string, agent: string, reason = ''): boolean {
    return this.updateConversation(conversation, 'assigned', agent, '', reason);
  }

  private updateConversation(
    conversation_id: string,
    state: ConversationState,
    agent_id: string,
    agent_group: string,
    reason: string,
  ): boolean {
    return this.transmit({ kind: 'conversation_update', conversation_id, state, agent_id, agent_group, reason });
  }

  /**
   * Agents: chooses a presence (`online`: assigned new conversations; `away`: keeps its conversations, takes
   * no new ones; `offline`: signs off without closing the console). The server answers with a `presence`
   * event. False when not connected.
   */
  setPresence(presence: PresenceState): boolean {
    return this.transmit({ kind: 'presence', user_id: '0', presence, reason: '' });
  }

  /**
   * Agents: asks for a fresh `inbox` snapshot (the server already sends one right after every `welcome`,
   * so call this only to refresh). False when not connected.
   */
  requestInbox(): boolean {
    return this.transmit({ kind: 'inbox', agent_id: '0', presence: 0, assigned: [], queued: [], tickets: [] });
  }

  /**
   * Agents of the ticket's group: changes a ticket's status (`assigned`: take it; `pending`: waiting for
   * the customer; `resolved`; `closed`) with an optional note. The answer is a `ticket` event (or an
   * `error`: `forbidden`, `not_found`, `invalid_state`). False when not connected.
   */
  updateTicket(change: { ticketId: string; conversationId: string; status: TicketStatus; note?: string }): boolean {
    return this.transmit({
      kind: 'ticket',
      ticket_id: change.ticketId,
      conversation_id: change.conversationId,
      status: change.status,
      note: change.note ?? '',
      subject: '',
      agent_group: '',
      agent_id: '0',
    });
  }

  /** Stops following `conversation` here: it is no longer resumed after a reconnect. */
  unfollow(conversation: string): void {
    this.sequences.forget(conversation);
  }

  /** Measures the round trip with an application `ping`; resolves with milliseconds. */
  ping(): Promise<number> {
    const timestamp_ms = Date.now();
    return new Promise((resolve, reject) => {
      if (!this.transmit({ kind: 'ping', timestamp_ms })) return reject(new Error('not connected'));
      this.pings.set(timestamp_ms, { resolve, reject });
    });
  }

  private setState(change: StateChange): void {
    if (change.state === this.current && change.state !== 'reconnecting') return;
    this.current = change.state;
    this.emit('state', change);
  }

  private async open(): Promise<void> {
    this.setState({ state: 'connecting', previous: this.current });
    let token: string;
    try {
      token = this.options.getToken ? await this.options.getToken(this.tokenReason) : (this.options.token ?? '');
    } catch (error) {
      this.emit('error', { code: 'client', message: 'getToken failed: ' + String(error) });
      return this.scheduleReconnect(undefined);
    }
    if (this.stopped) return;
    const protocol = this.options.protocol ?? 'binary';
    const Socket = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Socket) throw new Error('no WebSocket implementation: pass options.WebSocket');
    let url = this.options.url;
    if (this.options.tokenIn === 'query') url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
    let socket: WebSocketLike;
    try {
      socket = new Socket(url, [SUBPROTOCOLS[protocol]]);
    } catch (error) {
      this.emit('error', { code: 'client', message: 'WebSocket: ' + String(error) });
      return this.scheduleReconnect(undefined);
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    const binary = new BinaryDecoder();
    const json = new JsonDecoder();
    let opened = false;
    let ended = false;
    // Ends this attempt exactly once, whichever comes first: the close event, a failure to connect (Node
    // 20's WebSocket fires only `error` then, never `close`), the welcome deadline, a heartbeat timeout.
    const end = (closeCode: number) => {
      if (ended) return;
      ended = true;
      clearTimeout(deadline);
      socket.onclose = socket.onmessage = socket.onerror = socket.onopen = null;
      try {
        socket.close(4000, 'abandoned');
      } catch {
        // Not open yet, or already closing.
      }
      if (socket !== this.socket) return;
      this.socket = undefined;
      this.abandon = undefined;
      clearTimeout(this.timer);
      this.failRequests(new Error('connection lost'));
      this.scheduleReconnect(closeCode);
    };
    this.abandon = end;
    const deadline = setTimeout(() => end(4001), this.options.connectTimeoutMs ?? 15_000);
    socket.onopen = () => {
      opened = true;
      const auth_token = this.options.tokenIn === 'query' ? '' : token;
      this.transmit({ kind: 'hello', protocol_version: 1, auth_token, resume_token: this.resumeToken }, true);
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      this.lastReceivedMs = Date.now();
      let frames: Received[];
      try {
        if (typeof event.data === 'string') {
          const frame = protocol === 'json' ? json.decode(event.data) : undefined;
          if (protocol !== 'json') throw new ProtocolError('text message under switchboard.v1', 1003);
          frames = frame ? [frame] : [];
        } else {
          if (protocol === 'json') throw new ProtocolError('binary message under switchboard.json.v1', 1003);
          frames = binary.decode(new Uint8Array(event.data as ArrayBuffer));
        }
      } catch (error) {
        // `end` closes with 4000 (scripts may use only 1000 and 3000-4999); the section 10 code the frame
        // deserves is what the reconnect logic sees.
        const closeCode = error instanceof ProtocolError ? error.closeCode : 1002;
        this.emit('error', { code: 'client', message: 'undecodable frame: ' + String(error) });
        return end(closeCode);
      }
      for (const frame of frames) {
        if (frame.kind === 'welcome') clearTimeout(deadline);
        if (socket !== this.socket) return;
        this.handle(frame);
      }
    };
    socket.onerror = () => {
      // A failed connect: give the close event (if this implementation sends one) a moment, then end.
      if (!opened) setTimeout(() => end(1006), 50);
    };
    socket.onclose = (event) => end(event.code);
  }

  private scheduleReconnect(closeCode: number | undefined): void {
    if (this.stopped) return;
    const attemptsMax = this.options.reconnect?.attemptsMax ?? 1_000;
    if (this.fatal || this.backoff.attempts >= attemptsMax) {
      this.setState({ state: 'closed', previous: this.current, closeCode });
      return;
    }
    const floor = Math.max(this.hintMs, CLOSE_FLOOR_MS[closeCode ?? 0] ?? 0);
    this.hintMs = 0;
    const delayMs = this.backoff.next(floor);
    if (this.tokenReason === 'connect') this.tokenReason = 'reconnect';
    this.setState({ state: 'reconnecting', previous: this.current, attempt: this.backoff.attempts, delayMs, closeCode });
    this.retryTimer = setTimeout(() => void this.open(), delayMs);
  }

  private failRequests(error: Error): void {
    for (const waiter of this.queries.values()) waiter.reject(error);
    this.queries.clear();
    for (const waiter of this.pings.values()) waiter.reject(error);
    this.pings.clear();
  }

  /** Encodes and sends `frame` on the open socket; false when there is none (or before `welcome`). */
  private transmit(frame: Frame, handshake = false): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN || (!handshake && this.current !== 'open')) return false;
    socket.send(this.options.protocol === 'json' ? encodeJson(frame) : encodeBinary(frame));
    this.lastSentMs = Date.now();
    return true;
  }

  private transmitSend(entry: OutboxEntry): void {
    this.transmit({ kind: 'send', message_id: entry.message_id, conversation_id: entry.conversation_id, text: entry.text });
  }

  private flushOutbox(): void {
    if (Date.now() < this.sendsPausedUntilMs) return;
    for (const entry of this.outbox.pending()) this.transmitSend(entry);
  }

  private handle(frame: Received): void {
    switch (frame.kind) {
      case 'welcome':
        return this.welcomed(frame);
      case 'deliver':
        return this.delivered(frame);
      case 'ack':
        return this.acked(frame, frame.conversation_id, frame.sequence);
      case 'gap':
        this.sequences.skip(frame.conversation_id, frame.from_sequence, frame.to_sequence);
        return this.emit('gap', frame);
      case 'replay':
        this.sequences.follow(frame.conversation_id);
        return this.emit('replay', frame);
      case 'ping':
        if (frame.heartbeat_interval_ms) this.heartbeatMs = frame.heartbeat_interval_ms;
        this.transmit({ kind: 'pong', ping_timestamp_ms: frame.timestamp_ms, timestamp_ms: Date.now() });
        return;
      case 'pong': {
        const waiter = this.pings.get(frame.ping_timestamp_ms);
        this.pings.delete(frame.ping_timestamp_ms);
        waiter?.resolve(Date.now() - frame.ping_timestamp_ms);
        return;
      }
      case 'history_result': {
        const waiter = this.queries.get(frame.query_id);
        this.queries.delete(frame.query_id);
        waiter?.resolve(frame);
        return this.emit('history', frame);
      }
      case 'handoff':
        this.sequences.follow(frame.conversation_id);
        return this.emit('handoff', frame);
      case 'typing':
        return this.emit('typing', frame);
      case 'read_receipt':
        return this.emit('read', frame);
      case 'ticket':
        return this.emit('ticket', frame);
      case 'presence':
        this.presence = frame;
        return this.emit('presence', frame);
      case 'inbox':
        return this.emit('inbox', frame);
      case 'conversation_update':
        return this.emit('conversation', frame);
      case 'status':
        return this.statusChanged(frame);
      case 'error':
        return this.refused(frame);
      default:
        return; // Kinds a client never receives (hello, send, …) are ignored.
    }
  }

  private welcomed(frame: WithLane<WelcomeFrame>): void {
    this.resumeToken = frame.resume_token;
    this.heartbeatMs = frame.heartbeat_interval_ms || 30_000;
    this.tokenReason = 'reconnect';
    this.backoff.reset();
    this.lastReceivedMs = Date.now();
    this.setState({ state: 'open', previous: this.current });
    this.emit('welcome', frame);
    const positions = this.sequences.resumePositions().filter((p) => p.conversation_id !== '0');
    if (positions.length > 0) this.transmit({ kind: 'resume', resume_token: this.resumeToken, positions });
    this.flushOutbox();
    this.armHeartbeat();
  }

  private delivered(frame: WithLane<DeliverFrame>): void {
    if (!this.sequences.add(frame.conversation_id, frame.sequence)) {
      this.duplicatesDropped++;
      return this.emit('duplicate', frame);
    }
    // Our own send, replayed before its ack came: it is stored, so it counts as acknowledged.
    if (this.outbox.get(frame.message_id)) this.acked(frame, frame.conversation_id, frame.sequence);
    this.emit('message', frame);
  }

  private acked(frame: { message_id: string }, conversation_id: string, sequence: number): void {
    this.sequences.add(conversation_id, sequence);
    const entry = this.outbox.take(frame.message_id);
    if (!entry) return;
    const ack: AckFrame = { kind: 'ack', message_id: frame.message_id, conversation_id, sequence };
    const waiters = this.acks.get(frame.message_id) ?? [];
    this.acks.delete(frame.message_id);
    for (const waiter of waiters) waiter.resolve(ack);
    this.emit('ack', ack);
  }

  private statusChanged(frame: WithLane<StatusFrame>): void {
    this.serverStatus = frame;
    this.quietUntilMs = frame.mode === 'normal' ? 0 : Date.now() + frame.retry_after_ms;
    this.emit('status', frame);
  }

  private refused(frame: WithLane<ErrorFrame>): void {
    const retry = frame.retry_after_ms;
    switch (frame.code) {
      case 'unauthorized':
        // The server closes next (1008); the reconnect asks the app for a fresh token.
        this.tokenReason = 'unauthorized';
        break;
      case 'unsupported_version':
        this.fatal = true;
        break;
      case 'resume_rejected':
        this.resumeToken = '';
        break;
      case 'rate_limited':
      case 'overloaded': {
        // The error does not say which request it refused: every unacknowledged send goes again, with its
        // id, after the advised pause (section 9); the server acks repeats without storing them twice.
        // One refused send each brings an error (a read_only shard refuses every send): the pause is
        // extended, never stacked, so the outbox goes again once, not once per error.
        const pauseMs = retry ?? 1_000;
        this.hintMs = pauseMs;
        const until = Date.now() + pauseMs;
        if (until > this.sendsPausedUntilMs) {
          this.sendsPausedUntilMs = until;
          clearTimeout(this.sendTimer);
          this.sendTimer = setTimeout(() => {
            this.sendsPausedUntilMs = 0;
            this.flushOutbox();
          }, pauseMs);
        }
        break;
      }
    }
    this.emit('error', { code: frame.code, message: frame.message, retry_after_ms: retry });
  }

  /** Pings after `H` ms of silence from us; drops a connection silent for 2H + 5 s (section 8). */
  private armHeartbeat(): void {
    clearTimeout(this.timer);
    const check = () => {
      const now = Date.now();
      if (now - this.lastReceivedMs > 2 * this.heartbeatMs + 5_000) {
        this.abandon?.(4002);
        return;
      }
      if (now - this.lastSentMs >= this.heartbeatMs) this.transmit({ kind: 'ping', timestamp_ms: now });
      this.timer = setTimeout(check, Math.min(this.heartbeatMs / 2, 5_000));
    };
    this.timer = setTimeout(check, Math.min(this.heartbeatMs / 2, 5_000));
  }
}
