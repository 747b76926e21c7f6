// Resume against a real chat server: a client whose socket is cut (through a TCP proxy; the server keeps
// running) reconnects and gets every message of the conversation exactly once; after the server is
// SIGKILLed and restarted on the same data directory, clients reconnect, resume from their contiguous
// marks, the outbox's send made while the server was down is stored once, and nothing is lost or repeated.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeClient } from './clients.mjs';
import { ChatServer, CuttableProxy, sleep, waitFor, within } from './server.mjs';

const server = new ChatServer();
const open = [];
before(async () => {
  await server.start();
});
after(async () => {
  for (const client of open) client.close();
  await server.stop();
});

async function connected(url, token, options = {}) {
  const made = makeClient(url, { token, ...options });
  open.push(made.client);
  await made.client.connect();
  await waitFor('welcome', () => made.client.state === 'open');
  return made;
}

/** The conversation's newest sequence, read with a history query. */
async function latestSequence(client, conversation) {
  const page = await client.history(conversation, 0, 1);
  return page.messages.at(-1)?.sequence ?? 0;
}

/** Asserts `sequences` holds 1..=last, each once. */
function assertExactlyOnce(sequences, last) {
  const sorted = [...sequences].sort((a, b) => a - b);
  assert.deepEqual(sorted, Array.from({ length: last }, (_, i) => i + 1));
}

/** Waits until `reader` holds every sequence up to the conversation's newest (stable for 300 ms). */
async function settle(reader, writer, conversation) {
  let last = 0;
  await waitFor('the reader to catch up', async () => {
    last = await latestSequence(writer, conversation);
    if (reader.lastContiguousSeq(conversation) !== last) return false;
    await sleep(300);
    return (await latestSequence(writer, conversation)) === last && reader.lastContiguousSeq(conversation) === last;
  }, 30_000);
  return last;
}

for (const protocol of ['binary', 'json']) {
  test(`${protocol}: a cut socket reconnects and resumes; every message arrives exactly once`, async (t) => {
    const proxy = await new CuttableProxy(server.port).start();
    const user = protocol === 'binary' ? 201 : 202;
    const writer = await connected(server.url, server.token(user));
    const reader = await connected(proxy.url, server.token(user), { protocol });
    const first = await writer.client.send('0', '三连是什么意思');
    const conversation = first.conversation_id;
    assert.ok(reader.client.follow(conversation, 0));
    for (let i = 0; i < 30; i++) {
      if (i === 10 || i === 20) proxy.cut();
      // Knowledge-base questions: the bot's answers (ai_answer lane) interleave with chat-lane messages.
      await writer.client.send(conversation, i % 3 === 0 ? '怎么投币' : `message ${i}`);
      if (i === 15) await waitFor('the reader back', () => reader.client.state === 'open');
    }
    const last = await settle(reader.client, writer.client, conversation);
    assert.ok(last >= 31, `at least the 31 sends are stored (${last})`);
    const arrival = reader.seen.messages.map((m) => m.sequence);
    assertExactlyOnce(arrival, last);
    const overtaken = arrival.filter((s, i) => i > 0 && s < arrival[i - 1]).length;
    t.diagnostic(`${last} messages, ${overtaken} arrived after a higher sequence, ${reader.seen.duplicates} duplicates dropped`);
    assert.equal(proxy.cuts, 2);
    assert.ok(reader.seen.states.filter((s) => s === 'reconnecting').length >= 2, reader.seen.states.join());
    reader.client.close();
    writer.client.close();
    await proxy.stop();
  });
}

test('server SIGKILL and restart on the same data dir: reconnect, resume, outbox re-sent once', async () => {
  const user = 203;
  const writer = await connected(server.url, server.token(user));
  const reader = await connected(server.url, server.token(user), { protocol: 'json' });
  const first = await writer.client.send('0', '三连是什么意思');
  const conversation = first.conversation_id;
  reader.client.follow(conversation, 0);
  for (let i = 0; i < 5; i++) await writer.client.send(conversation, `before ${i}`);
  await settle(reader.client, writer.client, conversation);

  await server.kill();
  await waitFor('both clients to notice', () => reader.client.state !== 'open' && writer.client.state !== 'open');
  // Sent while the server is down: it waits in the outbox.
  const whileDown = reader.client.send(conversation, 'sent while the server was down');
  await sleep(200);
  assert.equal(reader.client.pendingSends().length, 1);
  await server.start();

  const ownAck = await within('the ack of the send made while down', whileDown).catch((error) => {
    throw new Error(error.message + ' reader states ' + reader.seen.states.join() + ' errors ' + JSON.stringify(reader.seen.errors) + ' log ' + server.log);
  });
  await waitFor('the writer back', () => writer.client.state === 'open');
  for (let i = 0; i < 5; i++) await writer.client.send(conversation, `after ${i}`);
  const last = await settle(reader.client, writer.client, conversation);
  await waitFor('the writer to hold everything', () => writer.client.lastContiguousSeq(conversation) === last);
  assertExactlyOnce([...reader.seen.messages.map((m) => m.sequence), ownAck.sequence], last);
  // The writer (the same customer's other device) got the reader's outbox message exactly once.
  const copies = writer.seen.messages.filter((m) => m.message_id === ownAck.message_id);
  assert.equal(copies.length, 1);
  assert.equal(reader.client.pendingSends().length, 0);
  reader.client.close();
  writer.client.close();
});
