// A hand-written FlatBuffers reader (with a verifier) and builder for exactly the features
// protocol/schema/switchboard.fbs uses: tables of integer scalars, strings and vectors of tables, no structs,
// unions, enums or file identifiers (docs/protocol.md section 3). It needs no runtime dependency and is a
// few hundred bytes minified.
//
// Reading verifies as it goes, like the FlatBuffers verifier the server runs: every offset in bounds,
// scalars, tables and vtables aligned, strings NUL-terminated and valid UTF-8, nesting and table count
// bounded. A failure is a `FlatBufferError`, which the frame decoder turns into `InvalidBody`.
//
// Building writes front to back: root offset, then per table its vtable, the table (fields sorted by size,
// each aligned to its size) and, after it, its strings and vectors (uoffsets point forward, as they must).
// The layout differs from flatc's builder, which the format allows; the integration tests prove the
// server's verifier accepts it.

import { enumName, enumValue, TABLES, type EnumName, type Field } from './schema';

/** A body that is not a valid FlatBuffer of the expected table (the peer's fault: close 1007). */
export class FlatBufferError extends Error {}

/** Nesting bound: root → history_result → deliver is 2 deep; anything deeper is hostile. */
const DEPTH_MAX = 8;
/** Tables in one buffer (a 64 KiB body holds at most ~8,000). */
const TABLES_MAX = 1 << 16;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

interface ReadContext { view: DataView; bytes: Uint8Array; tables: number }

function fail(why: string): never {
  throw new FlatBufferError(why);
}

function need(context: ReadContext, position: number, size: number, align: number): void {
  if (position < 0 || position + size > context.bytes.length) fail('offset out of bounds');
  if (position % align !== 0) fail('unaligned');
}

function u64(view: DataView, position: number): bigint {
  return view.getBigUint64(position, true);
}

/** Reads and verifies `bytes` as a buffer whose root is table `table`. */
export function readRoot(bytes: Uint8Array, table: string): Record<string, unknown> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const context: ReadContext = { view, bytes, tables: 0 };
  need(context, 0, 4, 4);
  return readTable(context, view.getUint32(0, true), TABLES[table], 0);
}

function readTable(context: ReadContext, table: number, fields: readonly Field[], depth: number) {
  if (depth > DEPTH_MAX || ++context.tables > TABLES_MAX) fail('too deep or too many tables');
  const { view } = context;
  need(context, table, 4, 4);
  const vtable = table - view.getInt32(table, true);
  need(context, vtable, 4, 2);
  const vtableBytes = view.getUint16(vtable, true);
  const tableBytes = view.getUint16(vtable + 2, true);
  if (vtableBytes < 4 || vtableBytes % 2 !== 0) fail('bad vtable');
  need(context, vtable, vtableBytes, 2);
  need(context, table, tableBytes, 1);
  const slots = (vtableBytes - 4) / 2;
  const out: Record<string, unknown> = {};
  let slot = 0;
  const at = (size: number): number => {
    const offset = slot < slots ? view.getUint16(vtable + 4 + 2 * slot, true) : 0;
    slot++;
    if (offset === 0) return -1;
    if (offset + size > tableBytes) fail('field outside its table');
    need(context, table + offset, size, size);
    return table + offset;
  };
  for (const [name, type] of fields) out[name] = readField(context, type, at, depth);
  return out;
}

function readField(context: ReadContext, type: string, at: (size: number) => number, depth: number): unknown {
  const { view } = context;
  const [base, argument] = type.split(':');
  switch (base) {
    case 'u8':
    case 'bool':
    case 'e8': {
      const p = at(1);
      const value = p < 0 ? 0 : view.getUint8(p);
      if (base === 'bool') return value !== 0;
      return base === 'e8' ? enumName(argument as EnumName, value) : value;
    }
    case 'u16':
    case 'e16': {
      const p = at(2);
      const value = p < 0 ? 0 : view.getUint16(p, true);
      return base === 'e16' ? enumName(argument as EnumName, value) : value;
    }
    case 'u32':
    case 'ou32': {
      const p = at(4);
      if (p < 0) return base === 'ou32' ? undefined : 0;
      return view.getUint32(p, true);
    }
    case 'u64':
    case 'id': {
      const p = at(8);
      const value = p < 0 ? 0n : u64(view, p);
      return base === 'id' ? value.toString() : Number(value);
    }
    case 'mid': {
      const hi = at(8);
      const lo = at(8);
      const hex = (p: number) => (p < 0 ? 0n : u64(view, p)).toString(16).padStart(16, '0');
      return hex(hi) + hex(lo);
    }
    case 'str': {
      const p = at(4);
      if (p < 0) return '';
      const start = target(context, p);
      const length = view.getUint32(start, true);
      need(context, start + 4, length + 1, 1);
      if (context.bytes[start + 4 + length] !== 0) fail('string not NUL-terminated');
      try {
        return utf8Decoder.decode(context.bytes.subarray(start + 4, start + 4 + length));
      } catch {
        return fail('string is not UTF-8');
      }
    }
    case 'v': {
      const p = at(4);
      if (p < 0) return [];
      const start = target(context, p);
      const count = view.getUint32(start, true);
      need(context, start + 4, 4 * count, 4);
      const items: unknown[] = [];
      for (let i = 0; i < count; i++) {
        const element = start + 4 + 4 * i;
        items.push(readTable(context, element + view.getUint32(element, true), TABLES[argument], depth + 1));
      }
      return items;
    }
    default:
      return fail('schema type ' + type);
  }
}

/** Follows the uoffset at `position` to a length-prefixed object (string or vector). */
function target(context: ReadContext, position: number): number {
  const start = position + context.view.getUint32(position, true);
  need(context, start, 4, 4);
  return start;
}

/** A growable little-endian byte buffer written front to back. */
class Builder {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(size: number, align: number): number {
    while (this.length % align !== 0) this.length++;
    const position = this.length;
    this.length += size;
    if (this.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.length, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    return position;
  }
}

type Slot = { slot: number; size: number; write: (b: Builder, p: number) => void; child?: (b: Builder) => number };

/** Encodes `value` as a buffer whose root is table `table`. */
export function buildRoot(table: string, value: Record<string, unknown>): Uint8Array {
  const builder = new Builder();
  const root = builder.reserve(4, 4);
  const position = buildTable(builder, TABLES[table], value);
  builder.view.setUint32(root, position, true);
  return builder.bytes.slice(0, builder.length);
}

function buildTable(builder: Builder, fields: readonly Field[], value: Record<string, unknown>): number {
  const present: Slot[] = [];
  let slot = 0;
  for (const [name, type] of fields) slot = collect(present, slot, type, value[name]);
  const slotCount = present.reduce((max, s) => Math.max(max, s.slot + 1), 0);
  const vtable = builder.reserve(4 + 2 * slotCount, 2);
  const table = builder.reserve(4, 4);
  builder.view.setInt32(table, table - vtable, true);
  present.sort((a, b) => b.size - a.size);
  const positions: number[] = [];
  for (const field of present) {
    const position = builder.reserve(field.size, field.size);
    positions.push(position);
    field.write(builder, position);
    builder.view.setUint16(vtable + 4 + 2 * field.slot, position - table, true);
  }
  builder.view.setUint16(vtable, 4 + 2 * slotCount, true);
  builder.view.setUint16(vtable + 2, builder.length - table, true);
  present.forEach((field, i) => {
    if (!field.child) return;
    const child = field.child(builder);
    builder.view.setUint32(positions[i], child - positions[i], true);
  });
  return table;
}

/** Adds the slots `value` of field type `type` needs (none for a default); returns the next slot number. */
function collect(out: Slot[], slot: number, type: string, value: unknown): number {
  const [base, argument] = type.split(':');
  const scalar = (size: number, number: number | bigint) => {
    if (number === 0 || number === 0n) return;
    out.push({
      slot,
      size,
      write: (b, p) => {
        if (size === 1) b.view.setUint8(p, Number(number));
        else if (size === 2) b.view.setUint16(p, Number(number), true);
        else if (size === 4) b.view.setUint32(p, Number(number), true);
        else b.view.setBigUint64(p, BigInt(number), true);
      },
    });
  };
  switch (base) {
    case 'bool':
      scalar(1, value ? 1 : 0);
      break;
    case 'u8':
    case 'u16':
    case 'u32':
      scalar(base === 'u8' ? 1 : base === 'u16' ? 2 : 4, Number(value || 0));
      break;
    case 'e8':
    case 'e16':
      scalar(base === 'e8' ? 1 : 2, enumValue(argument as EnumName, value) || 0);
      break;
    case 'ou32':
      if (value !== undefined && value !== null) {
        out.push({ slot, size: 4, write: (b, p) => b.view.setUint32(p, Number(value), true) });
      }
      break;
    case 'u64':
    case 'id':
      scalar(8, BigInt(value === undefined || value === null || value === '' ? 0 : (value as string | number)));
      break;
    case 'mid': {
      const hex = String(value || '').padStart(32, '0');
      scalar(8, BigInt('0x' + hex.slice(0, 16)));
      slot++;
      scalar(8, BigInt('0x' + hex.slice(16, 32)));
      break;
    }
    case 'str': {
      const text = String(value ?? '');
      if (text === '') break;
      out.push({ slot, size: 4, write: () => {}, child: (b) => buildString(b, text) });
      break;
    }
    case 'v': {
      const items = (value as Record<string, unknown>[] | undefined) ?? [];
      if (items.length === 0) break;
      out.push({ slot, size: 4, write: () => {}, child: (b) => buildVector(b, TABLES[argument], items) });
      break;
    }
    default:
      throw new Error('schema type ' + type);
  }
  return slot + 1;
}

function buildString(builder: Builder, text: string): number {
  const encoded = utf8Encoder.encode(text);
  const start = builder.reserve(4 + encoded.length + 1, 4);
  builder.view.setUint32(start, encoded.length, true);
  builder.bytes.set(encoded, start + 4);
  return start;
}

function buildVector(builder: Builder, fields: readonly Field[], items: Record<string, unknown>[]): number {
  const start = builder.reserve(4 + 4 * items.length, 4);
  builder.view.setUint32(start, items.length, true);
  items.forEach((item, i) => {
    const table = buildTable(builder, fields, item);
    const element = start + 4 + 4 * i;
    builder.view.setUint32(element, table - element, true);
  });
  return start;
}
