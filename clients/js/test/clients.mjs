// Client construction for the integration tests: memory outbox, fast bounded reconnects, and a record of
// everything the client emitted.
import { MemoryOutboxStorage, SwitchboardClient } from '../dist/index.js';

export function makeClient(url, options = {}) {
  const client = new SwitchboardClient({
    url,
    outbox: new MemoryOutboxStorage(),
    reconnect: { baseMs: 50, capMs: 500, attemptsMax: 200 },
    ...options,
  });
  const seen = { messages: [], acks: [], handoffs: [], errors: [], states: [], gaps: [], duplicates: 0, conversation: [] };
  client.on('message', (m) => seen.messages.push(m));
  client.on('ack', (a) => seen.acks.push(a));
  client.on('handoff', (h) => seen.handoffs.push(h));
  client.on('error', (e) => seen.errors.push(e));
  client.on('state', (s) => seen.states.push(s.state));
  client.on('gap', (g) => seen.gaps.push(g));
  client.on('duplicate', () => seen.duplicates++);
  client.on('conversation', (c) => seen.conversation.push(c));
  return { client, seen };
}
