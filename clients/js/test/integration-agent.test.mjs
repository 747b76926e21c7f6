// Agent consoles against a real `switchboard serve --mode chat` with routing on: presence (told on connect,
// chosen with setPresence), the inbox (sent after welcome, asked with requestInbox), customer-facing
// handoff text while the agent is away, the console rebuilt by AgentState after a reconnect and after a
// reload, and a refund ticket worked by an agent of the billing group. Each test has its own tenant, so
// agents of one test are never given another test's conversations.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AgentState } from '../dist/index.js';
import { makeClient } from './clients.mjs';
import { ChatServer, groupForSkill, waitFor } from './server.mjs';

const server = new ChatServer();
const open = [];
before(async () => {
  await server.start();
});
after(async () => {
  for (const client of open) client.close();
  await server.stop();
});

/** A connected client; with `console: true` an AgentState made before connecting (as it must be). */
async function connected(token, options = {}) {
  const { console: withConsole, ...rest } = options;
  const made = makeClient(server.url, { token, ...rest });
  if (withConsole) made.console = new AgentState(made.client);
  open.push(made.client);
  await made.client.connect();
  await waitFor('welcome', () => made.client.state === 'open');
  return made;
}

/** Waits for the `n`-th (1-based) element of `list` that matches `pick`. */
const nth = (what, list, n, pick = () => true) => waitFor(what, () => list.filter(pick)[n - 1]);

for (const protocol of ['binary', 'json']) {
  test(`${protocol}: an agent is told its presence and inbox on connecting, and chooses away and online`, async () => {
    const tenant = protocol === 'binary' ? 31 : 32;
    const { client, seen } = await connected(server.token(7001, 'agent', { tenant }), { protocol });
    const told = await nth('the presence after welcome', seen.presences, 1);
    assert.deepEqual([told.user_id, told.presence, told.reason, told.lane], ['7001', 'online', 'connected', 'urgent']);
    const inbox = await nth('the inbox after welcome', seen.inboxes, 1);
    assert.deepEqual([inbox.agent_id, inbox.presence, inbox.assigned, inbox.queued, inbox.tickets], ['7001', 'online', [], [], []]);
    assert.equal(client.presence.presence, 'online');
    assert.deepEqual(seen.order, ['welcome', 'presence', 'inbox']);
    // Nothing was asked for: the client sent hello and nothing else that concerns the console.
    assert.deepEqual(seen.sent[0].map((f) => f.kind).filter((k) => k !== 'ping' && k !== 'pong'), ['hello']);

    assert.ok(client.setPresence('away'));
    const away = await nth('away', seen.presences, 2);
    assert.deepEqual([away.presence, away.reason], ['away', 'chosen']);
    assert.ok(client.setPresence('online'));
    const back = await nth('online again', seen.presences, 3);
    assert.deepEqual([back.presence, back.reason], ['online', 'chosen']);
    assert.ok(client.requestInbox());
    assert.equal((await nth('the requested inbox', seen.inboxes, 2)).presence, 'online');
    assert.deepEqual(seen.errors, []);
    client.close();
  });
}

test('a customer asks for a human while the agent is away: customer-facing handoff, then assigned on online', async () => {
  const tenant = 33;
  const agentToken = server.token(7101, 'agent', { tenant });
  const agent = await connected(agentToken, { console: true });
  const console1 = agent.console;
  await nth('the first inbox', agent.seen.inboxes, 1);
  agent.client.setPresence('away');
  await nth('away', agent.seen.presences, 1, (p) => p.presence === 'away');

  const customer = await connected(server.token(7102, 'customer', { tenant }), { protocol: 'json' });
  const ack = await customer.client.send('0', '转人工');
  const conversation = ack.conversation_id;
  const queued = await nth('the customer handoff', customer.seen.handoffs, 1);
  assert.equal(queued.conversation_id, conversation);
  assert.equal(queued.agent_id, '0', 'away agents take nothing new');
  assert.doesNotMatch(queued.reason, /intent|sentiment/, 'customers get customer-facing text');
  assert.match(queued.reason, /人工/);

  agent.client.setPresence('online');
  const assigned = await nth('the handoff to the agent', agent.seen.handoffs, 1, (h) => h.conversation_id === conversation && h.agent_id === '7101');
  assert.match(assigned.reason, /intent/, 'agents get the bot summary');
  await nth('the customer told of the agent', customer.seen.handoffs, 1, (h) => h.agent_id === '7101');
  assert.ok(agent.client.requestInbox());
  const inbox = await nth('the requested inbox', agent.seen.inboxes, 1, (i) => i.assigned.length > 0);
  assert.deepEqual(
    inbox.assigned.map((e) => [e.conversation_id, e.customer_id, e.state, e.agent_id, e.position]),
    [[conversation, '7102', 'assigned', '7101', 0]],
  );
  assert.ok(inbox.assigned[0].last_sequence >= 1 && inbox.assigned[0].unread >= 1, JSON.stringify(inbox.assigned[0]));
  assert.deepEqual(inbox.queued, []);
  assert.deepEqual([...console1.assigned.keys()], [conversation]);
  assert.equal(console1.presence, 'online');

  // A reconnect: the server sends presence and inbox again unasked; the client resumes the conversation
  // from its mark and asks for nothing else.
  const inboxesBefore = agent.seen.inboxes.length;
  const snapshotsBefore = console1.snapshots;
  agent.client.dropConnection();
  await waitFor('the agent back', () => agent.client.state === 'open' && agent.seen.inboxes.length > inboxesBefore);
  assert.equal(console1.snapshots, snapshotsBefore + 1);
  assert.deepEqual(agent.seen.order.slice(-3), ['welcome', 'presence', 'inbox']);
  assert.deepEqual([...console1.assigned.keys()], [conversation]);
  const again = agent.seen.sent.at(-1).map((f) => f.kind).filter((k) => k !== 'ping' && k !== 'pong');
  assert.deepEqual(again, ['hello', 'resume']);
  assert.deepEqual(agent.seen.sent.at(-1)[1].positions.map((p) => p.conversation_id), [conversation]);

  // A reload (a new client, nothing tracked): AgentState follows the assigned conversation from 0 and
  // the server replays its messages, the customer's request included.
  const reloaded = await connected(agentToken, { console: true });
  const console2 = reloaded.console;
  await waitFor('the reloaded console rebuilt', () => console2.snapshots > 0 && console2.assigned.has(conversation));
  const replayed = await nth('the replayed request', reloaded.seen.messages, 1, (m) => m.conversation_id === conversation && m.sequence === 1);
  assert.equal(replayed.text, '转人工');
  assert.equal(reloaded.client.lastContiguousSeq(conversation) >= 1, true);

  // The agent answers from the reloaded console; the customer hears it; unread drops to 0.
  const reply = await reloaded.client.send(conversation, '您好,我是人工客服');
  const got = await nth('the reply at the customer', customer.seen.messages, 1, (m) => m.sender_role === 'agent');
  assert.equal(got.sequence, reply.sequence);
  assert.equal(console2.assigned.get(conversation).unread, 0);
  const relevant = agent.seen.errors.concat(reloaded.seen.errors, customer.seen.errors);
  assert.deepEqual(relevant, []);
  for (const c of [agent.client, reloaded.client, customer.client]) c.close();
});

test('a refund ticket reaches the billing group, is taken and resolved, and the customer is told', async () => {
  const tenant = 34;
  const billing = groupForSkill('billing');
  const agent = await connected(server.token(7201, 'agent', { tenant, groups: String(billing) }), { console: true });
  const console1 = agent.console;
  await nth('the first inbox', agent.seen.inboxes, 1);
  const customer = await connected(server.token(7202, 'customer', { tenant }), { protocol: 'json' });
  const first = await customer.client.send('0', '我要退款,昨天买错了课程');
  const conversation = first.conversation_id;
  await customer.client.send(conversation, '202403150001234567');

  const opened = await nth('the opened ticket at the agent', agent.seen.tickets, 1);
  assert.deepEqual(
    [opened.lane, opened.status, opened.subject, opened.agent_group, opened.conversation_id, opened.agent_id],
    ['urgent', 'opened', 'refund', String(billing), conversation, '0'],
  );
  const toldOpened = await nth('the opened ticket at the customer', customer.seen.tickets, 1);
  assert.equal(toldOpened.ticket_id, opened.ticket_id);
  assert.match(toldOpened.note, /工单/);
  assert.equal(console1.tickets.get(opened.ticket_id).status, 'opened');

  const change = { ticketId: opened.ticket_id, conversationId: conversation };
  assert.ok(agent.client.updateTicket({ ...change, status: 'assigned', note: 'on it' }));
  const taken = await nth('the taken ticket', agent.seen.tickets, 1, (t) => t.status === 'assigned');
  assert.deepEqual([taken.ticket_id, taken.agent_id, taken.note], [opened.ticket_id, '7201', 'on it']);
  assert.ok(agent.client.updateTicket({ ...change, status: 'resolved', note: 'refunded to the original card' }));
  const resolved = await nth('the resolved ticket', agent.seen.tickets, 1, (t) => t.status === 'resolved');
  assert.equal(resolved.note, 'refunded to the original card');
  const toldResolved = await nth('the resolved ticket at the customer', customer.seen.tickets, 1, (t) => t.status === 'resolved');
  assert.equal(toldResolved.ticket_id, opened.ticket_id);
  assert.notEqual(toldResolved.note, '', 'the customer is told what happens next');
  // The customer heard about opened and resolved only, not the assignment.
  assert.deepEqual(customer.seen.tickets.map((t) => t.status), ['opened', 'resolved']);
  assert.equal(console1.tickets.get(opened.ticket_id).status, 'resolved');

  // The inbox lists it (open = not closed); closing it removes it.
  agent.client.requestInbox();
  const inbox = await nth('the inbox with the ticket', agent.seen.inboxes, 2);
  assert.deepEqual(inbox.tickets.map((t) => [t.ticket_id, t.status, t.agent_id]), [[opened.ticket_id, 'resolved', '7201']]);
  agent.client.updateTicket({ ...change, status: 'closed' });
  await nth('the closed ticket', agent.seen.tickets, 1, (t) => t.status === 'closed');
  assert.equal(console1.tickets.has(opened.ticket_id), false);
  // A customer may not change tickets.
  customer.client.updateTicket({ ...change, status: 'pending' });
  await nth('the customer refused', customer.seen.errors, 1, (e) => e.code === 'forbidden');
  assert.deepEqual(agent.seen.errors, []);
  agent.client.close();
  customer.client.close();
});
