// Against a real `switchboard serve --mode chat` (routing on): the bot answers a knowledge-base question in
// both subprotocols, a repeated send is stored once, the token callback refreshes a refused token, and a
// handoff reaches an agent whose reply reaches the customer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newMessageId } from '../dist/index.js';
import { makeClient } from './clients.mjs';
import { ChatServer, sleep, waitFor } from './server.mjs';

const server = new ChatServer();
const open = [];
before(async () => {
  await server.start();
});
after(async () => {
  for (const client of open) client.close();
  await server.stop();
});

async function connected(token, options = {}) {
  const made = makeClient(server.url, { token, ...options });
  open.push(made.client);
  await made.client.connect();
  await waitFor('welcome', () => made.client.state === 'open');
  return made;
}

for (const protocol of ['binary', 'json']) {
  test(`a customer asks a knowledge-base question over ${protocol} and gets the bot's answer`, async () => {
    const { client, seen } = await connected(server.token(protocol === 'binary' ? 101 : 102), { protocol });
    const ack = await client.send('0', '三连是什么意思');
    assert.equal(ack.sequence, 1);
    assert.notEqual(ack.conversation_id, '0');
    const answer = await waitFor('the bot answer', () => seen.messages.find((m) => m.sender_role === 'ai'));
    assert.equal(answer.conversation_id, ack.conversation_id);
    assert.equal(answer.lane, 'ai_answer');
    assert.equal(answer.sequence, 2);
    assert.match(answer.text, /三连/);
    assert.equal(client.lastContiguousSeq(ack.conversation_id), 2);
    client.close();
  });
}

test('a send repeated with the same message id is acked with the same sequence and stored once', async () => {
  const { client } = await connected(server.token(103));
  const first = await client.send('0', 'qwzx plorf first');
  const conversation = first.conversation_id;
  const id = newMessageId();
  const a = await client.send(conversation, 'same message', id);
  const b = await client.send(conversation, 'same message', id);
  assert.equal(a.sequence, b.sequence);
  assert.equal(a.conversation_id, b.conversation_id);
  // And an opening send repeated: the same conversation, not a second one.
  const opening = newMessageId();
  const o1 = await client.send('0', 'qwzx plorf opening', opening);
  const o2 = await client.send('0', 'qwzx plorf opening', opening);
  assert.deepEqual([o1.conversation_id, o1.sequence], [o2.conversation_id, o2.sequence]);
  const history = await client.history(conversation, 0, 100);
  const copies = history.messages.filter((m) => m.message_id === id);
  assert.equal(copies.length, 1);
  assert.equal(copies[0].sequence, a.sequence);
  client.close();
});

test('the token callback is asked again after the server refuses an expired token', async () => {
  const expired = server.token(104, 'customer', { ttl: 1 });
  const fresh = server.token(104);
  await sleep(2_100); // expires_at = mint + 1 s; the test server allows no clock skew.
  const reasons = [];
  const { client, seen } = await connected(undefined, {
    getToken: async (reason) => {
      reasons.push(reason);
      return reasons.length === 1 ? expired : fresh;
    },
  });
  assert.deepEqual(reasons, ['connect', 'unauthorized']);
  assert.ok(seen.errors.some((e) => e.code === 'unauthorized'), JSON.stringify(seen.errors));
  assert.deepEqual(seen.states.slice(0, 3), ['connecting', 'reconnecting', 'connecting']);
  const ack = await client.send('0', '三连是什么意思');
  assert.equal(ack.sequence, 1);
  client.close();
});

test('a handoff reaches the agent, whose reply reaches the customer (JSON customer, binary agent)', async () => {
  const agent = await connected(server.token(9001, 'agent'));
  const customer = await connected(server.token(105), { protocol: 'json' });
  const ack = await customer.client.send('0', 'qwzx plorf');
  const handoff = await waitFor('the handoff to the agent', () =>
    agent.seen.handoffs.find((h) => h.conversation_id === ack.conversation_id && h.agent_id === '9001'));
  assert.match(handoff.reason, /qwzx plorf/);
  await waitFor('the customer to see the assignment', () =>
    customer.seen.handoffs.find((h) => h.agent_id === '9001') || customer.seen.conversation.find((c) => c.state === 'assigned'));
  const reply = await agent.client.send(ack.conversation_id, 'Hi, I am a human.');
  const got = await waitFor('the agent reply', () => customer.seen.messages.find((m) => m.sender_role === 'agent'));
  assert.equal(got.text, 'Hi, I am a human.');
  assert.equal(got.sender_id, '9001');
  assert.equal(got.sequence, reply.sequence);
  // The agent resolves; both sides hear the new state.
  assert.ok(agent.client.resolve(ack.conversation_id, 'done'));
  await waitFor('resolved at the customer', () => customer.seen.conversation.find((c) => c.state === 'resolved'));
  agent.client.close();
  customer.client.close();
});
