// The sequence tracker, backoff and outbox on their own, and the client's delivery rule driven through a
// fake WebSocket (out-of-order lanes, duplicates around a resume, gaps, acks of own sends).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AgentState,
  Backoff,
  BinaryDecoder,
  encodeBinary,
  MemoryOutboxStorage,
  newMessageId,
  Outbox,
  SequenceTracker,
  SwitchboardClient,
} from '../dist/index.js';

test('the tracker keeps the contiguous mark and never accepts a sequence twice', () => {
  const t = new SequenceTracker();
  assert.equal(t.add('c', 1), true);
  assert.equal(t.add('c', 3), true); // Out of order: 2 is still missing.
  assert.equal(t.lastContiguousSeq('c'), 1);
  assert.equal(t.add('c', 3), false);
  assert.equal(t.add('c', 1), false);
  assert.equal(t.add('c', 2), true);
  assert.equal(t.lastContiguousSeq('c'), 3);
  assert.deepEqual(t.resumePositions(), [{ conversation_id: 'c', last_sequence: 3 }]);
});

test('a high-water mark would lose the overtaken message; the contiguous mark resumes before it', () => {
  const t = new SequenceTracker();
  t.add('c', 1);
  t.add('c', 3); // The bot's answer (ai_answer lane) overtook sequence 2 (chat lane); the socket dies now.
  assert.deepEqual(t.resumePositions(), [{ conversation_id: 'c', last_sequence: 1 }]);
  // The replay from 2 brings 2 and 3 again: 2 is new, 3 a duplicate.
  assert.equal(t.add('c', 2), true);
  assert.equal(t.add('c', 3), false);
  assert.equal(t.lastContiguousSeq('c'), 3);
});

test('gaps advance the mark once everything before them is held', () => {
  const t = new SequenceTracker();
  t.skip('c', 1, 9); // reason expired
  assert.equal(t.lastContiguousSeq('c'), 9);
  assert.equal(t.add('c', 5), false);
  t.skip('c', 12, 20); // damaged, while 10 and 11 are still being replayed
  assert.equal(t.lastContiguousSeq('c'), 9);
  t.add('c', 11);
  t.add('c', 10);
  assert.equal(t.lastContiguousSeq('c'), 20);
  t.add('c', 22);
  t.skip('c', 21, 21);
  assert.equal(t.lastContiguousSeq('c'), 22);
});

test('conversations are independent and follow() sets a starting position', () => {
  const t = new SequenceTracker();
  t.follow('a', 40);
  t.add('b', 1);
  assert.equal(t.add('a', 40), false);
  assert.equal(t.add('a', 41), true);
  assert.deepEqual(t.resumePositions(), [
    { conversation_id: 'a', last_sequence: 41 },
    { conversation_id: 'b', last_sequence: 1 },
  ]);
});

test('full-jitter backoff stays within min(cap, base * 2^n) and honours a floor', () => {
  const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999999 });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => b.next()), [99, 199, 399, 799, 999, 999]);
  assert.equal(b.attempts, 6);
  b.reset();
  const zero = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0 });
  assert.equal(zero.next(), 0);
  assert.equal(zero.next(1500), 1500);
  const real = new Backoff({ baseMs: 100, capMs: 400 });
  for (let i = 0; i < 200; i++) {
    const delay = real.next();
    assert.ok(delay >= 0 && delay < 400);
  }
  assert.throws(() => new Backoff({ baseMs: 0 }));
});

test('the outbox keeps entries in creation order until acked and reloads them from storage', async () => {
  const storage = new MemoryOutboxStorage();
  const outbox = new Outbox(storage);
  await outbox.load();
  const ids = [newMessageId(1000), newMessageId(2000), newMessageId(3000)];
  for (const [i, id] of ids.entries()) await outbox.add({ message_id: id, conversation_id: '1', text: 't' + i, created_at_ms: 1000 * (i + 1) });
  assert.equal(outbox.take(ids[1]).text, 't1');
  assert.equal(outbox.take(ids[1]), undefined);
  await new Promise((r) => setTimeout(r, 0));
  const reloaded = new Outbox(storage);
  await reloaded.load();
  assert.deepEqual(reloaded.pending().map((e) => e.message_id), [ids[0], ids[2]]);
});

test('message ids are UUID v7, unique and time-ordered', () => {
  const ids = new Set();
  for (let i = 0; i < 1000; i++) ids.add(newMessageId());
  assert.equal(ids.size, 1000);
  const id = newMessageId(0x0123456789ab);
  assert.match(id, /^0123456789ab7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
});

/** A WebSocket double: records what the client sends, lets the test push server frames. */
class FakeSocket {
  static last;
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
    setTimeout(() => { this.readyState = 1; this.onopen?.({}); });
  }
  send(data) { this.sent.push(...new BinaryDecoder().decode(data)); }
  close(code = 1000) { this.readyState = 3; setTimeout(() => this.onclose?.({ code, reason: '' })); }
  push(...frames) { for (const f of frames) this.onmessage?.({ data: encodeBinary(f).buffer }); }
}

const tick = () => new Promise((r) => setTimeout(r, 5));
const deliver = (sequence, text = 'm' + sequence) => ({
  kind: 'deliver', conversation_id: '7', sequence, message_id: newMessageId(), sender_id: '2', sender_role: 'agent', sent_at_ms: 1, text,
});

test('client: out-of-order lanes, a resume with overlap, and a gap deliver each message once', async () => {
  const client = new SwitchboardClient({
    url: 'ws://fake/ws', token: 't', WebSocket: FakeSocket, outbox: new MemoryOutboxStorage(),
    reconnect: { baseMs: 1, capMs: 2, random: () => 0 },
  });
  const got = [];
  const gaps = [];
  client.on('message', (m) => got.push(m.sequence));
  client.on('gap', (g) => gaps.push([g.from_sequence, g.to_sequence, g.reason]));
  await client.connect();
  await tick();
  let socket = FakeSocket.last;
  assert.deepEqual(socket.sent[0], { kind: 'hello', lane: 'system', protocol_version: 1, auth_token: 't', resume_token: '' });
  socket.push({ kind: 'welcome', protocol_version: 1, heartbeat_interval_ms: 30000, resume_token: 'r1', server_time_ms: 0 });
  assert.equal(client.state, 'open');
  socket.push(deliver(1), deliver(3)); // 3 overtook 2
  socket.close(1006);
  await tick();
  await tick();
  socket = FakeSocket.last;
  assert.equal(socket.sent[0].resume_token, 'r1');
  socket.push({ kind: 'welcome', protocol_version: 1, heartbeat_interval_ms: 30000, resume_token: 'r2', server_time_ms: 0 });
  const resume = socket.sent.find((f) => f.kind === 'resume');
  assert.deepEqual(resume.positions, [{ conversation_id: '7', last_sequence: 1 }]);
  socket.push(
    { kind: 'replay', conversation_id: '7', from_sequence: 2, to_sequence: 3 },
    deliver(2), deliver(3), deliver(4),
    { kind: 'gap', conversation_id: '7', from_sequence: 5, to_sequence: 6, reason: 'damaged' },
    deliver(7), deliver(4),
  );
  assert.deepEqual(got, [1, 3, 2, 4, 7]);
  assert.deepEqual(gaps, [[5, 6, 'damaged']]);
  assert.equal(client.lastContiguousSeq('7'), 7);
  assert.equal(client.duplicatesDropped, 2);
  client.close();
});

test('client: a send stays in the outbox across a reconnect, is re-sent with its id, and acks once', async () => {
  const client = new SwitchboardClient({
    url: 'ws://fake/ws', token: 't', WebSocket: FakeSocket, outbox: new MemoryOutboxStorage(),
    reconnect: { baseMs: 1, capMs: 2, random: () => 0 },
  });
  const acks = [];
  client.on('ack', (a) => acks.push(a));
  await client.connect();
  await tick();
  FakeSocket.last.push({ kind: 'welcome', protocol_version: 1, heartbeat_interval_ms: 30000, resume_token: 'r', server_time_ms: 0 });
  const acked = client.send('0', 'hello');
  await tick();
  const first = FakeSocket.last.sent.find((f) => f.kind === 'send');
  assert.equal(client.pendingSends().length, 1);
  FakeSocket.last.close(1006);
  await tick();
  await tick();
  FakeSocket.last.push({ kind: 'welcome', protocol_version: 1, heartbeat_interval_ms: 30000, resume_token: 'r', server_time_ms: 0 });
  const again = FakeSocket.last.sent.find((f) => f.kind === 'send');
  assert.equal(again.message_id, first.message_id);
  const ack = { kind: 'ack', message_id: first.message_id, conversation_id: '55', sequence: 1 };
  FakeSocket.last.push(ack, ack);
  assert.equal((await acked).conversation_id, '55');
  assert.equal(acks.length, 1);
  assert.equal(client.pendingSends().length, 0);
  assert.equal(client.lastContiguousSeq('55'), 1);
  client.close();
});

test('client: an unauthorized error makes the next attempt ask for a fresh token', async () => {
  const reasons = [];
  const client = new SwitchboardClient({
    url: 'ws://fake/ws', WebSocket: FakeSocket, outbox: new MemoryOutboxStorage(),
    getToken: async (reason) => (reasons.push(reason), 'tok' + reasons.length),
    reconnect: { baseMs: 1, capMs: 2, random: () => 0 },
  });
  await client.connect();
  await tick();
  FakeSocket.last.push({ kind: 'error', code: 'unauthorized', message: 'expired' });
  FakeSocket.last.close(1008);
  await tick();
  await tick();
  assert.deepEqual(reasons, ['connect', 'unauthorized']);
  assert.equal(FakeSocket.last.sent[0].auth_token, 'tok2');
  client.close();
});

const welcome = { kind: 'welcome', protocol_version: 1, heartbeat_interval_ms: 30000, resume_token: 'r', server_time_ms: 0 };
const fakeClient = () => new SwitchboardClient({
  url: 'ws://fake/ws', token: 't', WebSocket: FakeSocket, outbox: new MemoryOutboxStorage(),
  reconnect: { baseMs: 1, capMs: 2, random: () => 0 },
});

test('client: in read_only the refused sends stay in the outbox and go again once, after the hint, with their ids', async () => {
  const client = fakeClient();
  await client.connect();
  await tick();
  const socket = FakeSocket.last;
  socket.push(welcome, { kind: 'status', mode: 'read_only', retry_after_ms: 60, message: 'log cannot write' });
  assert.equal(client.serverStatus.mode, 'read_only');
  const acked = [client.send('9', 'one'), client.send('9', 'two')];
  await tick();
  const sends = () => socket.sent.filter((f) => f.kind === 'send');
  assert.equal(sends().length, 2);
  // Every refused send brings its own error; the pause is extended, not stacked.
  const refused = { kind: 'error', code: 'overloaded', message: 'read only', retry_after_ms: 60 };
  socket.push(refused, refused);
  await tick();
  client.send('9', 'three'); // Made during the pause: waits for it.
  await tick();
  assert.equal(sends().length, 2);
  assert.equal(client.pendingSends().length, 3);
  await new Promise((r) => setTimeout(r, 90));
  const again = sends().slice(2);
  assert.deepEqual(again.map((f) => f.text), ['one', 'two', 'three'], 'one flush, not one per error');
  assert.deepEqual(again.slice(0, 2).map((f) => f.message_id), sends().slice(0, 2).map((f) => f.message_id));
  socket.push({ kind: 'status', mode: 'normal', retry_after_ms: 0, message: '' });
  again.forEach((f, i) => socket.push({ kind: 'ack', message_id: f.message_id, conversation_id: '9', sequence: 4 + i }));
  assert.deepEqual((await Promise.all(acked)).map((a) => a.sequence), [4, 5]);
  assert.equal(client.pendingSends().length, 0);
  client.close();
});

test('client: message ids must be present (non-zero) and are not reused across conversations while pending', async () => {
  const client = fakeClient();
  await assert.rejects(client.send('9', 'x', '0'.repeat(32)), /invalid message id/);
  await assert.rejects(client.send('9', 'x', 'nothex'), /invalid message id/);
  const id = newMessageId();
  client.send('9', 'x', id);
  await tick();
  await assert.rejects(client.send('10', 'x', id), /another conversation/);
  client.close();
});

test('client: agent requests encode as the protocol says', async () => {
  const client = fakeClient();
  assert.equal(client.setPresence('away'), false, 'not connected');
  await client.connect();
  await tick();
  const socket = FakeSocket.last;
  socket.push(welcome);
  assert.ok(client.setPresence('away'));
  assert.ok(client.requestInbox());
  assert.ok(client.updateTicket({ ticketId: '77', conversationId: '4821', status: 'pending', note: 'asked for the order number' }));
  assert.deepEqual(socket.sent.slice(1), [
    { kind: 'presence', lane: 'urgent', user_id: '0', presence: 'away', reason: '' },
    { kind: 'inbox', lane: 'system', agent_id: '0', presence: 'offline', assigned: [], queued: [], tickets: [] },
    {
      kind: 'ticket', lane: 'urgent', ticket_id: '77', conversation_id: '4821', status: 'pending', subject: '',
      agent_group: '', agent_id: '0', note: 'asked for the order number',
    },
  ]);
  client.close();
});

const entry = (conversation_id, state, agent_id = '0', extra = {}) => ({
  conversation_id, customer_id: '1', state, agent_id, agent_group: '2', last_sequence: 3, unread: 1, waiting_ms: 5, position: state === 'queued' ? 1 : 0, ...extra,
});
const ticketOf = (ticket_id, status) => ({ ticket_id, conversation_id: '40', status, subject: 'refund', agent_group: '2', agent_id: '0', note: '' });

test('AgentState rebuilds from the inbox after every welcome, follows what is assigned and forgets the rest', async () => {
  const client = fakeClient();
  const state = new AgentState(client);
  client.follow('30', 12); // Tracked from before; the inbox below no longer lists it.
  client.follow('40', 7);
  await client.connect();
  await tick();
  let socket = FakeSocket.last;
  socket.push(welcome);
  // The resume after welcome names what was tracked.
  assert.deepEqual(socket.sent.find((f) => f.kind === 'resume').positions.map((p) => p.conversation_id), ['30', '40']);
  socket.push(
    { kind: 'presence', user_id: '5', presence: 'online', reason: 'connected' },
    { kind: 'inbox', agent_id: '5', presence: 'online', assigned: [entry('40', 'assigned', '5'), entry('41', 'assigned', '5')], queued: [entry('50', 'queued')], tickets: [ticketOf('8', 'opened')] },
  );
  assert.equal(state.presence, 'online');
  assert.deepEqual([...state.assigned.keys()], ['40', '41']);
  assert.deepEqual([...state.queued.keys()], ['50']);
  assert.deepEqual([...state.tickets.keys()], ['8']);
  // 41 is new here: followed from 0 with its own resume; 30 is forgotten; 40 keeps its mark.
  assert.deepEqual(socket.sent.filter((f) => f.kind === 'resume').at(-1).positions, [{ conversation_id: '41', last_sequence: 0 }]);
  assert.deepEqual(client.sequences.resumePositions().map((p) => [p.conversation_id, p.last_sequence]), [['40', 7], ['41', 0]]);
  assert.equal(socket.sent.filter((f) => f.kind === 'inbox').length, 0, 'nothing asked: the inbox comes unasked');

  // Live changes: a customer message, a handoff from the queue, a transfer away, a ticket taken and closed.
  socket.push({ kind: 'deliver', conversation_id: '40', sequence: 8, message_id: newMessageId(), sender_id: '1', sender_role: 'customer', sent_at_ms: 1, text: 'hi' });
  assert.deepEqual([state.assigned.get('40').last_sequence, state.assigned.get('40').unread], [8, 2]);
  socket.push({ kind: 'handoff', conversation_id: '50', agent_id: '5', agent_group: '2', reason: 'intent …' });
  assert.deepEqual([...state.assigned.keys()].sort(), ['40', '41', '50']);
  assert.equal(state.queued.size, 0);
  socket.push({ kind: 'conversation_update', conversation_id: '41', state: 'assigned', agent_id: '6', agent_group: '', reason: 'transfer' });
  assert.equal(state.assigned.has('41'), false);
  assert.equal(client.sequences.resumePositions().some((p) => p.conversation_id === '41'), false);
  socket.push({ kind: 'presence', user_id: '5', presence: 'away', reason: 'no reply within the reply timeout' });
  assert.equal(state.presence, 'away');
  socket.push({ kind: 'ticket', ...ticketOf('8', 'assigned'), agent_id: '5', note: 'on it' });
  assert.equal(state.tickets.get('8').note, 'on it');
  assert.equal('kind' in state.tickets.get('8'), false);
  socket.push({ kind: 'ticket', ...ticketOf('8', 'closed') });
  assert.equal(state.tickets.size, 0);

  // A reconnect: the resume names 40 and 50; the new inbox replaces the state.
  socket.close(1006);
  await tick();
  await tick();
  socket = FakeSocket.last;
  socket.push(welcome);
  assert.deepEqual(socket.sent.find((f) => f.kind === 'resume').positions.map((p) => p.conversation_id).sort(), ['40', '50']);
  socket.push({ kind: 'inbox', agent_id: '5', presence: 'online', assigned: [entry('50', 'assigned', '5')], queued: [], tickets: [] });
  assert.equal(state.snapshots, 2);
  assert.deepEqual([...state.assigned.keys()], ['50']);
  assert.deepEqual(client.sequences.resumePositions().map((p) => p.conversation_id), ['50']);
  state.dispose();
  socket.push({ kind: 'inbox', agent_id: '5', presence: 'away', assigned: [], queued: [], tickets: [] });
  assert.equal(state.snapshots, 2, 'disposed: no longer listening');
  client.close();
});
