// The `switchboard.v1` binary codec (docs/protocol.md sections 2, 3 and 7): frame headers with LEB128 body
// lengths, FlatBuffers bodies, and reassembly of the server's `fragment` frames. Sans-IO: bytes in,
// frames out; the client feeds it whole WebSocket messages.

import { buildRoot, FlatBufferError, readRoot } from './flatbuffers';
import { defaultLane, KINDS, LANES, type Frame, type FrameKind, type Lane, type Received } from './frames';

/** Largest body this client accepts (the server's own `body_bytes_max` range tops out at 16 MiB). */
export const BODY_BYTES_MAX = 16 << 20;
/** Largest reassembled fragmented message (section 9 `message_bytes_max` is 1 MiB by default). */
export const MESSAGE_BYTES_MAX = 64 << 20;
/** Unfinished fragmented messages held at once (the server sends at most `partial_messages_max` = 4). */
export const PARTIAL_MESSAGES_MAX = 16;

/** A malformed frame; `closeCode` is the WebSocket close code section 10 assigns to it. */
export class ProtocolError extends Error {
  constructor(message: string, readonly closeCode: number) {
    super(message);
  }
}

/** Appends the minimal unsigned LEB128 encoding of `value` (a non-negative safe integer). */
export function writeVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/**
 * Reads a LEB128 varint at `position`: `[value, next position]`, or `undefined` when the bytes end first.
 * Rejects encodings longer than 10 bytes, non-minimal ones and values that are not safe integers.
 */
export function readVarint(bytes: Uint8Array, position: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (position + i >= bytes.length) return undefined;
    const byte = bytes[position + i];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new ProtocolError('non-minimal varint', 1002);
      if (!Number.isSafeInteger(value)) throw new ProtocolError('varint too large', 1002);
      return [value, position + i + 1];
    }
    scale *= 0x80;
  }
  throw new ProtocolError('varint longer than 10 bytes', 1002);
}

/** Encodes one frame (header and FlatBuffers body) on `lane` (default: the kind's lane). */
export function encodeBinary(frame: Frame, lane: Lane = defaultLane(frame.kind)): Uint8Array {
  const kind = KINDS.indexOf(frame.kind);
  if (kind <= 0 || frame.kind === 'fragment') throw new Error('cannot encode kind ' + frame.kind);
  const body = buildRoot(frame.kind, frame as unknown as Record<string, unknown>);
  const header: number[] = [kind, LANES.indexOf(lane)];
  writeVarint(header, body.length);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** Decodes the body of a frame of kind `kind`. */
export function decodeBody(kind: FrameKind, body: Uint8Array): Frame {
  try {
    return { kind, ...readRoot(body, kind) } as Frame;
  } catch (error) {
    if (error instanceof FlatBufferError) throw new ProtocolError(kind + ': ' + error.message, 1007);
    throw error;
  }
}

interface Partial { parts: Uint8Array[]; bytes: number; next: number; count: number; total: number }

/** Reassembles fragmented messages per `fragment_id` with the receiver checks of section 7. */
export class Reassembler {
  private partials = new Map<string, Partial>();

  /** Adds one piece; returns the whole message when this was its last piece. */
  add(id: string, index: number, count: number, total: number, data: Uint8Array): Uint8Array | undefined {
    if (count === 0 || index >= count || data.length > total) throw new ProtocolError('malformed fragment', 1007);
    if (total > MESSAGE_BYTES_MAX) throw new ProtocolError('fragmented message too large', 1009);
    let partial = this.partials.get(id);
    if (!partial) {
      if (index !== 0) throw new ProtocolError('fragment out of order', 1002);
      if (this.partials.size >= PARTIAL_MESSAGES_MAX) throw new ProtocolError('too many partials', 1009);
      partial = { parts: [], bytes: 0, next: 0, count, total };
      this.partials.set(id, partial);
    }
    if (index !== partial.next) throw new ProtocolError('fragment missing or duplicated', 1002);
    if (count !== partial.count || total !== partial.total || partial.bytes + data.length > total) {
      throw new ProtocolError('inconsistent fragment', 1002);
    }
    partial.parts.push(data.slice());
    partial.bytes += data.length;
    partial.next++;
    if (partial.next < count) return undefined;
    this.partials.delete(id);
    if (partial.bytes !== total) throw new ProtocolError('inconsistent fragment', 1002);
    const whole = new Uint8Array(total);
    let offset = 0;
    for (const part of partial.parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    return whole;
  }
}

/**
 * Splits WebSocket binary messages into frames, reassembling `fragment` frames. Frames of unknown kind and
 * frames with reserved flag bits are skipped (section 11).
 */
export class BinaryDecoder {
  private reassembler = new Reassembler();

  /** Every complete frame in `message`, in order. Throws `ProtocolError` on malformed input. */
  decode(message: Uint8Array, nested = false): Received[] {
    const out: Received[] = [];
    let position = 0;
    while (position < message.length) {
      if (message.length - position < 3) throw new ProtocolError('truncated header', 1002);
      const kindByte = message[position];
      const flags = message[position + 1];
      const length = readVarint(message, position + 2);
      if (!length) throw new ProtocolError('truncated header', 1002);
      const [bodyBytes, bodyStart] = length;
      if (bodyBytes > BODY_BYTES_MAX) throw new ProtocolError('body too large', 1009);
      if (bodyStart + bodyBytes > message.length) throw new ProtocolError('frame spans messages', 1002);
      const body = message.subarray(bodyStart, bodyStart + bodyBytes);
      position = bodyStart + bodyBytes;
      const kind = KINDS[kindByte];
      if (!kind || (flags & 0xfc) !== 0) continue;
      const lane = LANES[flags & 3];
      if (kind !== 'fragment') {
        out.push({ ...decodeBody(kind, body), lane });
        continue;
      }
      if (nested) throw new ProtocolError('nested fragment', 1002);
      const fields: number[] = [];
      let at = 0;
      for (let i = 0; i < 4; i++) {
        const read = readVarint(body, at);
        if (!read) throw new ProtocolError('truncated fragment prefix', 1007);
        fields.push(read[0]);
        at = read[1];
      }
      const whole = this.reassembler.add(String(fields[0]), fields[1], fields[2], fields[3], body.subarray(at));
      if (whole) for (const frame of this.decode(whole, true)) out.push(frame);
    }
    return out;
  }
}
