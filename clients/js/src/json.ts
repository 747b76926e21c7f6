// The `switchboard.json.v1` codec (docs/protocol.md section 5). Writing is the frame model as JSON with
// empty strings and absent optional numbers left out; reading normalises what section 5 lets writers vary
// (ids as strings or numbers, message ids in any case or dashed, enumerations by name or number, absent
// or null fields) into the same model the binary decoder produces. The server's `fragment` frames carry
// base64 pieces of a JSON text, reassembled here.

import { ProtocolError, Reassembler } from './binary';
import { defaultLane, KINDS, LANES, type Frame, type FrameKind, type Lane, type Received } from './frames';
import { enumName, enumValue, TABLES, type EnumName, type Field } from './schema';

/** Encodes one frame as a JSON text on `lane` (default: the kind's lane). */
export function encodeJson(frame: Frame, lane: Lane = defaultLane(frame.kind)): string {
  const out: Record<string, unknown> = { kind: frame.kind, lane };
  for (const [name, type] of TABLES[frame.kind]) {
    const value = writeField(type, (frame as unknown as Record<string, unknown>)[name]);
    if (value !== undefined) out[name] = value;
  }
  return JSON.stringify(out);
}

function writeField(type: string, value: unknown): unknown {
  const [base, argument] = type.split(':');
  if (value === undefined || value === null) return base === 'v' ? [] : undefined;
  switch (base) {
    case 'str':
      return value === '' ? undefined : value;
    case 'id':
      return String(value);
    case 'e8':
    case 'e16':
      return enumName(argument as EnumName, enumValue(argument as EnumName, value) ?? 0);
    case 'v':
      return (value as Record<string, unknown>[]).map((item) => {
        const inner: Record<string, unknown> = {};
        for (const [name, t] of TABLES[argument]) {
          const v = writeField(t, item[name]);
          if (v !== undefined) inner[name] = v;
        }
        return inner;
      });
    default:
      return value;
  }
}

function malformed(why: string): never {
  throw new ProtocolError(why, 1007);
}

function readFields(fields: readonly Field[], source: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, type] of fields) out[name] = readField(type, source[name], name);
  return out;
}

function readField(type: string, value: unknown, name: string): unknown {
  const [base, argument] = type.split(':');
  const absent = value === undefined || value === null;
  switch (base) {
    case 'str':
      if (absent) return '';
      return typeof value === 'string' ? value : malformed(name + ' is not a string');
    case 'bool':
      return value === true || (typeof value === 'number' && value !== 0);
    case 'id':
      if (absent) return '0';
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
      if (typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) return BigInt(value).toString();
      return malformed(name + ' is not an id');
    case 'mid': {
      if (absent) return '0'.repeat(32);
      const hex = typeof value === 'string' ? value.replace(/-/g, '').toLowerCase() : '';
      return /^[0-9a-f]{32}$/.test(hex) ? hex : malformed(name + ' is not a message id');
    }
    case 'e8':
    case 'e16': {
      if (absent) return enumName(argument as EnumName, 0);
      const number = enumValue(argument as EnumName, value);
      return number === undefined ? malformed(name + ' has an unknown name') : enumName(argument as EnumName, number);
    }
    case 'v':
      if (absent) return [];
      if (!Array.isArray(value)) return malformed(name + ' is not an array');
      return value.map((item) => readFields(TABLES[argument], (item ?? {}) as Record<string, unknown>));
    case 'ou32':
      if (absent) return undefined;
      return typeof value === 'number' ? value : malformed(name + ' is not a number');
    default:
      if (absent) return 0;
      return typeof value === 'number' && value >= 0 ? value : malformed(name + ' is not a number');
  }
}

function base64Decode(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Decodes JSON text messages; `undefined` for a frame of unknown kind or an unfinished fragment. */
export class JsonDecoder {
  private reassembler = new Reassembler();

  decode(text: string, nested = false): Received | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return malformed('not JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return malformed('not an object');
    const source = parsed as Record<string, unknown>;
    const kind = source.kind as FrameKind;
    if (typeof kind !== 'string' || kind === ('' as FrameKind) || !KINDS.includes(kind)) return undefined;
    const lane = LANES.includes(source.lane as Lane) ? (source.lane as Lane) : defaultLane(kind);
    if (kind !== 'fragment') return { kind, lane, ...readFields(TABLES[kind], source) } as Received;
    if (nested) return malformed('nested fragment');
    const number = (key: string) => Number(readField('u64', source[key], key));
    let data: Uint8Array;
    try {
      data = base64Decode(String(source.data ?? ''));
    } catch {
      return malformed('fragment data is not base64');
    }
    const whole = this.reassembler.add(
      String(readField('id', source.fragment_id, 'fragment_id')),
      number('index'),
      number('count'),
      number('total_bytes'),
      data,
    );
    return whole ? this.decode(new TextDecoder().decode(whole), true) : undefined;
  }
}
