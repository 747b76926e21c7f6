// The codecs against the golden vectors of docs/protocol.md (bytes and JSON the Rust encoder produced),
// round trips of every kind in both encodings, fragment reassembly, and the verifier on damaged input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BinaryDecoder,
  encodeBinary,
  encodeJson,
  JsonDecoder,
  ProtocolError,
  readVarint,
  writeVarint,
} from '../dist/index.js';
import { goldenExamples } from './golden.mjs';

const examples = goldenExamples();

test('docs/protocol.md has an example of every kind', () => {
  assert.equal(examples.length, 22);
  assert.deepEqual(examples.map((e) => e.name).slice(-2), ['presence', 'inbox']);
});

for (const { name, binary, json } of examples) {
  if (name === 'fragment') continue; // The example is the first of two pieces; reassembly is tested below.
  test(`golden ${name}: binary and JSON decode to the same frame and re-encode to it`, () => {
    const [fromBinary, ...rest] = new BinaryDecoder().decode(binary);
    assert.equal(rest.length, 0);
    const fromJson = new JsonDecoder().decode(json);
    assert.deepEqual(fromBinary, fromJson);
    assert.equal(fromBinary.kind, name);
    // Our JSON is the server's JSON, field for field.
    assert.deepEqual(JSON.parse(encodeJson(fromBinary, fromBinary.lane)), JSON.parse(json));
    // Our binary layout differs from flatc's (allowed), but decodes to the same frame.
    const [again] = new BinaryDecoder().decode(encodeBinary(fromBinary, fromBinary.lane));
    assert.deepEqual(again, fromBinary);
  });
}

test('golden typing example reads field by field as the byte walk-through says', () => {
  const typing = examples.find((e) => e.name === 'typing');
  const [frame] = new BinaryDecoder().decode(typing.binary);
  assert.deepEqual(frame, { kind: 'typing', lane: 'system', conversation_id: '4821', user_id: '1001', active: true });
});

test('varints are minimal LEB128 and malformed ones are refused', () => {
  for (const [value, bytes] of [[0, [0]], [127, [0x7f]], [128, [0x80, 1]], [300, [0xac, 2]]]) {
    const out = [];
    writeVarint(out, value);
    assert.deepEqual(out, bytes);
    assert.deepEqual(readVarint(Uint8Array.from(bytes), 0), [value, bytes.length]);
  }
  assert.equal(readVarint(Uint8Array.from([0x80]), 0), undefined);
  assert.throws(() => readVarint(Uint8Array.from([0x80, 0]), 0), ProtocolError);
  assert.throws(() => readVarint(new Uint8Array(11).fill(0x80), 0), ProtocolError);
});

const u64 = (n) => String(BigInt(n) * 1_000_003n + 18_446_744_073_709_000_000n % (BigInt(n) + 7n));
const hex32 = (n) => (n * 2654435761).toString(16).padStart(32, 'f').slice(-32);

const ticket = (n, i) => ({
  kind: 'ticket', ticket_id: u64(n + i), conversation_id: u64(n + 1), status: ['opened', 'assigned', 'pending', 'resolved', 'closed', 200][(n + i) % 6],
  subject: n % 2 ? 'refund' : '', agent_group: n % 3 ? String(n % 11) : '', agent_id: n % 2 ? u64(n + 4) : '0', note: n % 4 ? '已退款 ✓ ' + n : '',
});
const entry = (n, i, state) => ({
  conversation_id: u64(n * 7 + i), customer_id: u64(n + i + 1), state, agent_id: state === 'assigned' ? u64(n) : '0',
  agent_group: String(1 + (i % 11)), last_sequence: n * 10 + i, unread: i % 4, waiting_ms: 1_000 * n + i, position: state === 'queued' ? i + 1 : 0,
});

/** One frame of every kind with non-default fields (ids near 2^64, unicode text, unknown enum values). */
function sampleFrames(n) {
  const deliver = (i) => ({
    conversation_id: u64(n + i), sequence: n + i + 1, message_id: hex32(n + i), sender_id: u64(n * 3 + i),
    sender_role: ['customer', 'agent', 'ai', 'system', 9][(n + i) % 5], sent_at_ms: 1_763_790_000_000 + n,
    text: 'msg ' + n + ' 你好 ✓'.repeat(i % 3),
  });
  return [
    { kind: 'hello', protocol_version: 1, auth_token: 't'.repeat(n % 300), resume_token: n % 2 ? 'r' : '' },
    { kind: 'welcome', protocol_version: 1, heartbeat_interval_ms: 25_000 + n, resume_token: 'r' + n, server_time_ms: 1_763_790_000_000 },
    { kind: 'send', message_id: hex32(n), conversation_id: u64(n), text: 'x'.repeat(n) },
    { kind: 'ack', message_id: hex32(n + 1), conversation_id: u64(n), sequence: n },
    { kind: 'deliver', ...deliver(0) },
    { kind: 'resume', resume_token: 'r', positions: Array.from({ length: n % 5 }, (_, i) => ({ conversation_id: u64(i), last_sequence: i })) },
    { kind: 'replay', conversation_id: u64(n), from_sequence: 1, to_sequence: n + 1 },
    { kind: 'gap', conversation_id: u64(n), from_sequence: 1, to_sequence: n + 1, reason: ['expired', 'deleted', 'unavailable', 'damaged', 17][n % 5] },
    { kind: 'typing', conversation_id: u64(n), user_id: u64(n + 5), active: n % 2 === 0 },
    { kind: 'read_receipt', conversation_id: u64(n), user_id: '0', sequence: n },
    ticket(n, 0),
    { kind: 'handoff', conversation_id: u64(n), agent_id: u64(n + 2), agent_group: '3', reason: 'low confidence' },
    { kind: 'error', code: ['rate_limited', 'internal', 999][n % 3], message: 'm', ...(n % 2 ? { retry_after_ms: n % 4 } : {}) },
    { kind: 'ping', timestamp_ms: n, ...(n % 2 ? { heartbeat_interval_ms: 0 } : {}) },
    { kind: 'pong', ping_timestamp_ms: n, timestamp_ms: n + 40 },
    { kind: 'history_query', query_id: n, conversation_id: u64(n), before_sequence: n, limit: 100 },
    { kind: 'history_result', query_id: n, conversation_id: u64(n), messages: Array.from({ length: n % 4 }, (_, i) => deliver(i)), has_more: n % 2 === 1 },
    { kind: 'conversation_update', conversation_id: u64(n), state: ['bot', 'queued', 'assigned', 'resolved', 4][n % 5], agent_id: u64(n), agent_group: '17', reason: '' },
    { kind: 'status', mode: ['normal', 'brownout', 'survival', 'read_only', 8][n % 5], retry_after_ms: n, message: 'shard' },
    { kind: 'presence', user_id: u64(n), presence: ['offline', 'online', 'away', 7][n % 4], reason: n % 2 ? 'chosen' : '' },
    {
      kind: 'inbox', agent_id: u64(n + 9), presence: ['offline', 'online', 'away', 250][n % 4],
      assigned: Array.from({ length: n % 3 }, (_, i) => entry(n, i, 'assigned')),
      queued: Array.from({ length: (n + 1) % 4 }, (_, i) => entry(n, i, ['queued', 'bot', 'resolved', 9][i % 4])),
      tickets: Array.from({ length: n % 3 }, (_, i) => { const { kind, ...body } = ticket(n, i); return body; }),
    },
  ];
}

/** The model with optional absent fields dropped, as decoders return it. */
const normal = (frame) => JSON.parse(JSON.stringify(frame));

test('every kind round-trips through both encodings', () => {
  for (let n = 0; n < 40; n++) {
    for (const frame of sampleFrames(n)) {
      const [binary] = new BinaryDecoder().decode(encodeBinary(frame, 'chat'));
      assert.deepEqual(normal(binary), { ...normal(frame), lane: 'chat' }, frame.kind);
      const json = new JsonDecoder().decode(encodeJson(frame, 'urgent'));
      assert.deepEqual(normal(json), { ...normal(frame), lane: 'urgent' }, frame.kind);
    }
  }
});

test('several frames in one binary message decode in order; unknown kinds and reserved flags are skipped', () => {
  const frames = sampleFrames(3);
  const parts = frames.map((f) => encodeBinary(f));
  const unknown = Uint8Array.from([0x40, 0x02, 0x01, 0xaa]);
  const reserved = encodeBinary(frames[0]);
  reserved[1] |= 0x04;
  const all = [unknown, ...parts, reserved];
  const message = new Uint8Array(all.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const part of all) { message.set(part, at); at += part.length; }
  const decoded = new BinaryDecoder().decode(message);
  assert.deepEqual(decoded.map((f) => f.kind), frames.map((f) => f.kind));
});

test('the JSON reader accepts numbers for ids, dashed upper-case message ids and enum numbers', () => {
  const frame = new JsonDecoder().decode(
    '{"kind":"deliver","conversation_id":4821,"sequence":3,"message_id":"01934E5F-6A70-7B12-8C3D-4E5F60718293","sender_id":"1","sender_role":2,"sent_at_ms":5,"text":null}',
  );
  assert.deepEqual(frame, {
    kind: 'deliver', lane: 'chat', conversation_id: '4821', sequence: 3, message_id: '01934e5f6a707b128c3d4e5f60718293',
    sender_id: '1', sender_role: 'ai', sent_at_ms: 5, text: '',
  });
  assert.equal(new JsonDecoder().decode('{"kind":"brand_new_kind"}'), undefined);
  assert.throws(() => new JsonDecoder().decode('[1]'), ProtocolError);
});

/** Cuts the encoding of `frame` into `fragment` frames of `piece` data bytes (section 7). */
function fragmentBinary(encoded, piece, id) {
  const count = Math.max(1, Math.ceil(encoded.length / piece));
  const out = [];
  for (let i = 0; i < count; i++) {
    const data = encoded.subarray(i * piece, (i + 1) * piece);
    const prefix = [];
    for (const v of [id, i, count, encoded.length]) writeVarint(prefix, v);
    const header = [0x12, 0x02];
    writeVarint(header, prefix.length + data.length);
    out.push(Uint8Array.from([...header, ...prefix, ...data]));
  }
  return out;
}

test('binary fragments are reassembled, interleaved with other frames and other fragmented messages', () => {
  const big = sampleFrames(30).find((f) => f.kind === 'history_result');
  const bigger = { ...big, query_id: 99 };
  const a = fragmentBinary(encodeBinary(big), 16, 7);
  const b = fragmentBinary(encodeBinary(bigger), 23, 8);
  const decoder = new BinaryDecoder();
  const seen = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]) seen.push(...decoder.decode(a[i]));
    seen.push(...decoder.decode(encodeBinary({ kind: 'ping', timestamp_ms: i })));
    if (b[i]) seen.push(...decoder.decode(b[i]));
  }
  const results = seen.filter((f) => f.kind === 'history_result');
  assert.deepEqual(results.map((r) => r.query_id).sort(), [big.query_id, 99].sort());
  assert.deepEqual(normal(results.find((r) => r.query_id === big.query_id)), { ...normal(big), lane: 'system' });
  // A piece out of order is a protocol error (1002).
  const late = fragmentBinary(encodeBinary(big), 16, 9);
  assert.throws(() => new BinaryDecoder().decode(late[1]), (e) => e instanceof ProtocolError && e.closeCode === 1002);
});

test('golden fragment example: the first piece alone is held, not a frame', () => {
  const fragment = examples.find((e) => e.name === 'fragment');
  assert.deepEqual(new BinaryDecoder().decode(fragment.binary), []);
  assert.equal(new JsonDecoder().decode(fragment.json), undefined);
});

test('JSON fragments carry base64 pieces of the inner JSON text', () => {
  const inner = encodeJson(sampleFrames(5).find((f) => f.kind === 'deliver'));
  const bytes = new TextEncoder().encode(inner);
  const decoder = new JsonDecoder();
  const pieces = [bytes.subarray(0, 10), bytes.subarray(10)];
  const out = pieces.map((piece, index) => decoder.decode(JSON.stringify({
    kind: 'fragment', fragment_id: '4', index, count: 2, total_bytes: bytes.length, data: Buffer.from(piece).toString('base64'),
  })));
  assert.equal(out[0], undefined);
  assert.deepEqual(out[1], new JsonDecoder().decode(inner));
});

test('the verifier refuses damaged bodies with a ProtocolError, never another exception', () => {
  const samples = [...examples.filter((e) => e.name !== 'fragment').map((e) => e.binary), ...sampleFrames(7).map((f) => encodeBinary(f))];
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let refused = 0;
  for (let round = 0; round < 3000; round++) {
    const bytes = samples[round % samples.length].slice();
    const headerBytes = bytes[2] & 0x80 ? 4 : 3;
    for (let k = 0; k < 1 + (round % 4); k++) {
      const at = headerBytes + Math.floor(random() * (bytes.length - headerBytes));
      bytes[at] = Math.floor(random() * 256);
    }
    try {
      new BinaryDecoder().decode(bytes);
    } catch (error) {
      assert.ok(error instanceof ProtocolError, String(error));
      refused++;
    }
  }
  assert.ok(refused > 100, `most damage is detected (${refused})`);
  // A truncated body and a string without its NUL.
  const send = encodeBinary({ kind: 'send', message_id: hex32(1), conversation_id: '1', text: 'hi' });
  const short = send.slice(0, 3 + 8);
  short[2] = 8;
  assert.throws(() => new BinaryDecoder().decode(short), (e) => e.closeCode === 1007);
  const noNul = send.slice();
  noNul[noNul.length - 1] = 0x41; // The last byte is the string's NUL (our builder writes strings last).
  assert.throws(() => new BinaryDecoder().decode(noNul), (e) => e.closeCode === 1007);
});

test('golden presence, inbox and ticket read as docs/protocol.md says', () => {
  const frame = (name) => new BinaryDecoder().decode(examples.find((e) => e.name === name).binary)[0];
  assert.deepEqual(frame('presence'), { kind: 'presence', lane: 'urgent', user_id: '2002', presence: 'away', reason: 'chosen' });
  assert.deepEqual(frame('ticket'), {
    kind: 'ticket', lane: 'urgent', ticket_id: '77', conversation_id: '4821', status: 'assigned', subject: 'refund',
    agent_group: '3', agent_id: '2002', note: '',
  });
  const inbox = frame('inbox');
  assert.equal(inbox.lane, 'system');
  assert.equal(inbox.presence, 'online');
  assert.deepEqual(inbox.assigned, [{
    conversation_id: '4821', customer_id: '1001', state: 'assigned', agent_id: '2002', agent_group: '3', last_sequence: 17,
    unread: 2, waiting_ms: 45000, position: 0,
  }]);
  assert.deepEqual(inbox.queued.map((e) => [e.conversation_id, e.state, e.agent_id, e.position]), [['4822', 'queued', '0', 1]]);
  assert.deepEqual(inbox.tickets, []);
});

test('the client requests of an agent console encode as the server reads them', () => {
  // An empty inbox (the request) has an empty table: no fields at all.
  const request = encodeBinary({ kind: 'inbox', agent_id: '0', presence: 0, assigned: [], queued: [], tickets: [] });
  assert.deepEqual([request[0], request[1]], [0x16, 0x03]);
  assert.deepEqual(JSON.parse(encodeJson({ kind: 'inbox', agent_id: '0', presence: 0, assigned: [], queued: [], tickets: [] })), {
    kind: 'inbox', lane: 'system', agent_id: '0', presence: 'offline', assigned: [], queued: [], tickets: [],
  });
  const [back] = new BinaryDecoder().decode(request);
  assert.deepEqual(back, { kind: 'inbox', lane: 'system', agent_id: '0', presence: 'offline', assigned: [], queued: [], tickets: [] });
  const presence = encodeJson({ kind: 'presence', user_id: '0', presence: 'online', reason: '' });
  assert.deepEqual(JSON.parse(presence), { kind: 'presence', lane: 'urgent', user_id: '0', presence: 'online' });
  const change = { kind: 'ticket', ticket_id: '18446744073709551615', conversation_id: '9', status: 'resolved', subject: '', agent_group: '', agent_id: '0', note: 'refunded' };
  assert.deepEqual(new BinaryDecoder().decode(encodeBinary(change))[0], { ...change, lane: 'urgent' });
  assert.deepEqual(new JsonDecoder().decode(encodeJson(change)), { ...change, lane: 'urgent' });
  // Unknown presence names are refused by the JSON reader; unknown numbers are kept (open enumeration).
  assert.throws(() => new JsonDecoder().decode('{"kind":"presence","presence":"busy"}'), ProtocolError);
  assert.equal(new JsonDecoder().decode('{"kind":"presence","presence":5}').presence, 5);
});
