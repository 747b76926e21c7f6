// Client construction for the integration tests: memory outbox, fast bounded reconnects, a record of
// everything the client emitted, and (in `seen.sent`) every frame it sent, decoded, per connection.
import { BinaryDecoder, MemoryOutboxStorage, SwitchboardClient } from '../dist/index.js';

/** globalThis.WebSocket that records what the client sends into `sent` (one array per connection). */
function recordingWebSocket(sent) {
  return class extends globalThis.WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      this.frames = [];
      this.decoder = new BinaryDecoder();
      sent.push(this.frames);
    }

    send(data) {
      if (typeof data === 'string') this.frames.push(JSON.parse(data));
      else this.frames.push(...this.decoder.decode(data));
      super.send(data);
    }
  };
}

export function makeClient(url, options = {}) {
  const sent = [];
  const client = new SwitchboardClient({
    url,
    outbox: new MemoryOutboxStorage(),
    reconnect: { baseMs: 50, capMs: 500, attemptsMax: 200 },
    WebSocket: recordingWebSocket(sent),
    ...options,
  });
  const seen = {
    messages: [], acks: [], handoffs: [], errors: [], states: [], gaps: [], duplicates: 0, conversation: [],
    presences: [], inboxes: [], tickets: [], sent,
    /** Kinds of the welcome, presence and inbox events, in arrival order. */
    order: [],
  };
  for (const kind of ['welcome', 'presence', 'inbox']) client.on(kind, () => seen.order.push(kind));
  client.on('message', (m) => seen.messages.push(m));
  client.on('ack', (a) => seen.acks.push(a));
  client.on('handoff', (h) => seen.handoffs.push(h));
  client.on('error', (e) => seen.errors.push(e));
  client.on('state', (s) => seen.states.push(s.state));
  client.on('gap', (g) => seen.gaps.push(g));
  client.on('duplicate', () => seen.duplicates++);
  client.on('conversation', (c) => seen.conversation.push(c));
  client.on('presence', (p) => seen.presences.push(p));
  client.on('inbox', (i) => seen.inboxes.push(i));
  client.on('ticket', (t) => seen.tickets.push(t));
  return { client, seen };
}
