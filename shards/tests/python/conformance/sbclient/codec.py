"""switchboard.v1 / switchboard.json.v1 frame codec, written from docs/protocol.md (sections 2-5, 7).

A frame is a plain dict: ``{"kind": "send", "lane": "chat", <fields>}``. Field values in the model:

- ids (conversation, user, agent, ticket, fragment): ``int``
- message ids: ``bytes`` of length 16
- enumerations: their name (``str``), or an ``int`` for a value this version does not name
- yes/no flags: ``bool``
- optional numbers (``retry_after_ms`` of ``error``, ``heartbeat_interval_ms`` of ``ping``): ``int`` or ``None``
- vectors: lists of dicts (no ``kind``/``lane``)

The binary bodies are read and written with the Python bindings ``flatc --python`` generates from
protocol/schema/switchboard.fbs (package ``switchboard.v1``, put on ``sys.path`` by the caller) and the
official ``flatbuffers`` runtime.
"""

from __future__ import annotations

import base64
import importlib
import json
import uuid

import flatbuffers

LANES = ["urgent", "ai_answer", "chat", "system"]

# kind byte -> (name, default lane, body table)
KINDS = {
    0x01: ("hello", "system", "HelloBody"),
    0x02: ("welcome", "system", "WelcomeBody"),
    0x03: ("send", "chat", "SendBody"),
    0x04: ("ack", "chat", "AckBody"),
    0x05: ("deliver", "chat", "DeliverBody"),
    0x06: ("resume", "system", "ResumeBody"),
    0x07: ("replay", "system", "ReplayBody"),
    0x08: ("gap", "system", "GapBody"),
    0x09: ("typing", "system", "TypingBody"),
    0x0A: ("read_receipt", "system", "ReadReceiptBody"),
    0x0B: ("ticket", "urgent", "TicketBody"),
    0x0C: ("handoff", "urgent", "HandoffBody"),
    0x0D: ("error", "urgent", "ErrorBody"),
    0x0E: ("ping", "system", "PingBody"),
    0x0F: ("pong", "system", "PongBody"),
    0x10: ("history_query", "system", "HistoryQueryBody"),
    0x11: ("history_result", "system", "HistoryResultBody"),
    0x12: ("fragment", "chat", None),
    0x13: ("conversation_update", "urgent", "ConversationUpdateBody"),
    0x14: ("status", "urgent", "StatusBody"),
    0x15: ("presence", "urgent", "PresenceBody"),
    0x16: ("inbox", "system", "InboxBody"),
}
KIND_BY_NAME = {name: (byte, lane, table) for byte, (name, lane, table) in KINDS.items()}

SENDER_ROLE = ["customer", "agent", "ai", "system"]
GAP_REASON = ["expired", "deleted", "unavailable", "damaged"]
TICKET_STATUS = ["opened", "assigned", "pending", "resolved", "closed"]
CONV_STATE = ["bot", "queued", "assigned", "resolved"]
STATUS_MODE = ["normal", "brownout", "survival", "read_only"]
PRESENCE = ["offline", "online", "away"]
ERROR_CODE = {
    1: "unknown_kind",
    2: "reserved_flags",
    3: "malformed_frame",
    4: "unsupported_version",
    5: "unauthorized",
    6: "forbidden",
    7: "not_found",
    8: "rate_limited",
    9: "message_too_large",
    10: "invalid_state",
    11: "overloaded",
    12: "internal",
    13: "resume_rejected",
}


def _enum(names, width=8):
    if isinstance(names, dict):
        table = dict(names)
    else:
        table = dict(enumerate(names))
    return ("enum", width, table)


# Field types: "u16", "u32", "u64" (JSON numbers), "id" (u64, JSON decimal string), "str", "flag" (ubyte <->
# bool), "opt_u32" (optional uint), "mid" (message id: two ulong slots *_hi, *_lo), ("enum", width, names),
# ("vec", table).
TABLES = {
    "HelloBody": [("protocol_version", "u16"), ("auth_token", "str"), ("resume_token", "str")],
    "WelcomeBody": [
        ("protocol_version", "u16"),
        ("heartbeat_interval_ms", "u32"),
        ("resume_token", "str"),
        ("server_time_ms", "u64"),
    ],
    "SendBody": [("message_id", "mid"), ("conversation_id", "id"), ("text", "str")],
    "AckBody": [("message_id", "mid"), ("conversation_id", "id"), ("sequence", "u64")],
    "DeliverBody": [
        ("conversation_id", "id"),
        ("sequence", "u64"),
        ("message_id", "mid"),
        ("sender_id", "id"),
        ("sender_role", _enum(SENDER_ROLE)),
        ("sent_at_ms", "u64"),
        ("text", "str"),
    ],
    "ResumePosition": [("conversation_id", "id"), ("last_sequence", "u64")],
    "ResumeBody": [("resume_token", "str"), ("positions", ("vec", "ResumePosition"))],
    "ReplayBody": [("conversation_id", "id"), ("from_sequence", "u64"), ("to_sequence", "u64")],
    "GapBody": [
        ("conversation_id", "id"),
        ("from_sequence", "u64"),
        ("to_sequence", "u64"),
        ("reason", _enum(GAP_REASON)),
    ],
    "TypingBody": [("conversation_id", "id"), ("user_id", "id"), ("active", "flag")],
    "ReadReceiptBody": [("conversation_id", "id"), ("user_id", "id"), ("sequence", "u64")],
    "TicketBody": [
        ("ticket_id", "id"),
        ("conversation_id", "id"),
        ("status", _enum(TICKET_STATUS)),
        ("subject", "str"),
        ("agent_group", "str"),
        ("agent_id", "id"),
        ("note", "str"),
    ],
    "HandoffBody": [
        ("conversation_id", "id"),
        ("agent_id", "id"),
        ("agent_group", "str"),
        ("reason", "str"),
    ],
    "ErrorBody": [("code", _enum(ERROR_CODE, 16)), ("message", "str"), ("retry_after_ms", "opt_u32")],
    "PingBody": [("timestamp_ms", "u64"), ("heartbeat_interval_ms", "opt_u32")],
    "PongBody": [("ping_timestamp_ms", "u64"), ("timestamp_ms", "u64")],
    "HistoryQueryBody": [
        ("query_id", "u32"),
        ("conversation_id", "id"),
        ("before_sequence", "u64"),
        ("limit", "u16"),
    ],
    "HistoryResultBody": [
        ("query_id", "u32"),
        ("conversation_id", "id"),
        ("messages", ("vec", "DeliverBody")),
        ("has_more", "flag"),
    ],
    "ConversationUpdateBody": [
        ("conversation_id", "id"),
        ("state", _enum(CONV_STATE)),
        ("agent_id", "id"),
        ("agent_group", "str"),
        ("reason", "str"),
    ],
    "StatusBody": [("mode", _enum(STATUS_MODE)), ("retry_after_ms", "u32"), ("message", "str")],
    "PresenceBody": [("user_id", "id"), ("presence", _enum(PRESENCE)), ("reason", "str")],
    "InboxEntry": [
        ("conversation_id", "id"),
        ("customer_id", "id"),
        ("state", _enum(CONV_STATE)),
        ("agent_id", "id"),
        ("agent_group", "str"),
        ("last_sequence", "u64"),
        ("unread", "u32"),
        ("waiting_ms", "u64"),
        ("position", "u32"),
    ],
    "InboxBody": [
        ("agent_id", "id"),
        ("presence", _enum(PRESENCE)),
        ("assigned", ("vec", "InboxEntry")),
        ("queued", ("vec", "InboxEntry")),
        ("tickets", ("vec", "TicketBody")),
    ],
}


class ProtocolError(Exception):
    """The peer broke the framing (what a real client would close the connection for)."""


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _module(table: str):
    return importlib.import_module(f"switchboard.v1.{table}")


def default_value(ftype):
    if ftype == "str":
        return ""
    if ftype == "flag":
        return False
    if ftype == "opt_u32":
        return None
    if ftype == "mid":
        return bytes(16)
    if isinstance(ftype, tuple) and ftype[0] == "vec":
        return []
    if isinstance(ftype, tuple) and ftype[0] == "enum":
        return ftype[2].get(0, 0)
    return 0


def enum_number(ftype, value) -> int:
    if isinstance(value, int):
        return value
    for number, name in ftype[2].items():
        if name == value:
            return number
    raise ValueError(f"unknown enum name {value!r}")


def enum_name(ftype, number: int):
    return ftype[2].get(number, number)


def message_id_parse(text: str) -> bytes:
    text = text.strip()
    if len(text) == 36:
        return uuid.UUID(text).bytes
    if len(text) != 32:
        raise ValueError("message_id is 32 hex digits")
    return bytes.fromhex(text)


def new_message_id() -> bytes:
    """A UUID v4 in RFC 9562 byte order."""
    return uuid.uuid4().bytes


# ---------------------------------------------------------------- LEB128 --------------------------------

def leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_leb128(data: bytes, pos: int):
    """Returns (value, new position); raises ProtocolError on truncation, overlong or non-minimal input."""
    value = 0
    for i in range(10):
        if pos + i >= len(data):
            raise ProtocolError("truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i > 0 and byte == 0:
                raise ProtocolError("non-minimal varint")
            if value >= 1 << 64:
                raise ProtocolError("varint above u64::MAX")
            return value, pos + i + 1
    raise ProtocolError("varint longer than 10 bytes")


# ---------------------------------------------------------------- FlatBuffers bodies --------------------

def _build_table(builder: flatbuffers.Builder, table: str, values: dict) -> int:
    module = _module(table)
    fields = TABLES[table]
    # Strings and vectors are created before the table starts.
    offsets = {}
    for name, ftype in fields:
        value = values.get(name, default_value(ftype))
        if ftype == "str":
            if value:  # senders MUST omit empty strings
                offsets[name] = builder.CreateString(value)
        elif isinstance(ftype, tuple) and ftype[0] == "vec":
            if value:
                children = [_build_table(builder, ftype[1], child) for child in value]
                getattr(module, f"Start{camel(name)}Vector")(builder, len(children))
                for child in reversed(children):
                    builder.PrependUOffsetTRelative(child)
                offsets[name] = builder.EndVector()
    module.Start(builder)
    for name, ftype in fields:
        value = values.get(name, default_value(ftype))
        add = getattr(module, f"Add{camel(name)}", None)
        if name in offsets:
            add(builder, offsets[name])
        elif ftype == "mid":
            mid = value if value is not None else bytes(16)
            module_add_hi = getattr(module, f"Add{camel(name)}Hi")
            module_add_lo = getattr(module, f"Add{camel(name)}Lo")
            module_add_hi(builder, int.from_bytes(mid[:8], "big"))
            module_add_lo(builder, int.from_bytes(mid[8:], "big"))
        elif ftype == "flag":
            add(builder, 1 if value else 0)
        elif ftype == "opt_u32":
            if value is not None:
                # The generated adder has default None, so a present 0 is written (distinguished from absent).
                add(builder, value)
        elif isinstance(ftype, tuple) and ftype[0] == "enum":
            add(builder, enum_number(ftype, value))
        elif ftype in ("u16", "u32", "u64", "id"):
            add(builder, int(value))
    return module.End(builder)


def encode_body(table: str, values: dict) -> bytes:
    builder = flatbuffers.Builder(256)
    root = _build_table(builder, table, values)
    builder.Finish(root)
    return bytes(builder.Output())


def _read_table(obj, table: str) -> dict:
    out = {}
    for name, ftype in TABLES[table]:
        if ftype == "mid":
            hi = getattr(obj, f"{camel(name)}Hi")()
            lo = getattr(obj, f"{camel(name)}Lo")()
            out[name] = hi.to_bytes(8, "big") + lo.to_bytes(8, "big")
        elif isinstance(ftype, tuple) and ftype[0] == "vec":
            length = getattr(obj, f"{camel(name)}Length")()
            getter = getattr(obj, camel(name))
            out[name] = [_read_table(getter(j), ftype[1]) for j in range(length)]
        else:
            value = getattr(obj, camel(name))()
            if ftype == "str":
                out[name] = value.decode("utf-8") if value is not None else ""
            elif ftype == "flag":
                out[name] = bool(value)
            elif isinstance(ftype, tuple) and ftype[0] == "enum":
                out[name] = enum_name(ftype, value)
            else:
                out[name] = value
    return out


def decode_body(table: str, body: bytes) -> dict:
    cls = getattr(_module(table), table)
    try:
        return _read_table(cls.GetRootAs(bytearray(body), 0), table)
    except Exception as exc:  # the Python runtime has no verifier: any read failure is an invalid body
        raise ProtocolError(f"invalid {table} body: {exc!r}") from exc


# ---------------------------------------------------------------- binary frames -------------------------

def encode_binary(frame: dict, flags_extra: int = 0) -> bytes:
    """One switchboard.v1 frame (header + body)."""
    kind = frame["kind"]
    byte, default_lane, table = KIND_BY_NAME[kind]
    lane = frame.get("lane") or default_lane
    if kind == "fragment":
        body = (
            leb128(frame["fragment_id"])
            + leb128(frame["index"])
            + leb128(frame["count"])
            + leb128(frame["total_bytes"])
            + frame["data"]
        )
    else:
        body = encode_body(table, frame)
    return raw_frame(byte, LANES.index(lane) | flags_extra, body)


def raw_frame(kind_byte: int, flags: int, body: bytes) -> bytes:
    return bytes([kind_byte, flags]) + leb128(len(body)) + body


def decode_binary_message(data: bytes):
    """Splits one WebSocket binary message into frames. Yields dicts; unknown kinds come back as
    ``{"kind": <int>, "lane": ..., "body": bytes}`` (a client skips them)."""
    pos = 0
    frames = []
    while pos < len(data):
        if len(data) - pos < 2:
            raise ProtocolError("truncated header")
        kind_byte, flags = data[pos], data[pos + 1]
        length, pos = read_leb128(data, pos + 2)
        if pos + length > len(data):
            raise ProtocolError("body runs past the message")
        body = bytes(data[pos:pos + length])
        pos += length
        if flags & 0xFC:
            raise ProtocolError(f"reserved flag bits set: {flags:#x}")
        lane = LANES[flags & 3]
        if kind_byte not in KINDS:
            frames.append({"kind": kind_byte, "lane": lane, "body": body})
            continue
        name, _, table = KINDS[kind_byte]
        if name == "fragment":
            fragment_id, p = read_leb128(body, 0)
            index, p = read_leb128(body, p)
            count, p = read_leb128(body, p)
            total, p = read_leb128(body, p)
            frame = {"fragment_id": fragment_id, "index": index, "count": count, "total_bytes": total,
                     "data": body[p:]}
        else:
            frame = decode_body(table, body)
        frame["kind"] = name
        frame["lane"] = lane
        frames.append(frame)
    return frames


# ---------------------------------------------------------------- JSON frames ---------------------------

def _to_json_value(ftype, value):
    if ftype == "mid":
        return value.hex()
    if ftype == "id":
        return str(value)
    if ftype == "flag":
        return bool(value)
    if isinstance(ftype, tuple) and ftype[0] == "enum":
        if isinstance(value, int):
            return ftype[2].get(value, value)
        return value
    if isinstance(ftype, tuple) and ftype[0] == "vec":
        return [_table_to_json(ftype[1], child) for child in value]
    return value


def _table_to_json(table: str, values: dict) -> dict:
    out = {}
    for name, ftype in TABLES[table]:
        if name not in values:
            continue
        value = values[name]
        if value is None:
            continue
        if ftype == "str" and value == "":
            continue  # writers omit empty strings
        out[name] = _to_json_value(ftype, value)
    return out


def encode_json(frame: dict) -> str:
    kind = frame["kind"]
    _, default_lane, table = KIND_BY_NAME[kind]
    out = {"kind": kind, "lane": frame.get("lane") or default_lane}
    if kind == "fragment":
        out.update(
            fragment_id=str(frame["fragment_id"]),
            index=frame["index"],
            count=frame["count"],
            total_bytes=frame["total_bytes"],
            data=base64.b64encode(frame["data"]).decode("ascii"),
        )
    else:
        out.update(_table_to_json(table, frame))
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _from_json_value(ftype, value):
    if value is None:
        return default_value(ftype)
    if ftype == "mid":
        return message_id_parse(value)
    if ftype == "id":
        return int(value)
    if ftype == "flag":
        return bool(value)
    if isinstance(ftype, tuple) and ftype[0] == "enum":
        if isinstance(value, int):
            return ftype[2].get(value, value)
        if value not in ftype[2].values():
            raise ProtocolError(f"unknown enum name {value!r}")
        return value
    if isinstance(ftype, tuple) and ftype[0] == "vec":
        return [_table_from_json(ftype[1], child) for child in value]
    return value


def _table_from_json(table: str, obj: dict) -> dict:
    out = {}
    for name, ftype in TABLES[table]:
        out[name] = _from_json_value(ftype, obj.get(name))
    return out


def decode_json(text: str) -> dict:
    obj = json.loads(text)
    if not isinstance(obj, dict) or "kind" not in obj:
        raise ProtocolError(f"not a frame: {text[:200]}")
    kind = obj["kind"]
    lane = obj.get("lane")
    if kind not in KIND_BY_NAME:
        return {"kind": kind, "lane": lane, "raw": obj}
    _, default_lane, table = KIND_BY_NAME[kind]
    if kind == "fragment":
        frame = {
            "fragment_id": int(obj["fragment_id"]),
            "index": obj["index"],
            "count": obj["count"],
            "total_bytes": obj["total_bytes"],
            "data": base64.b64decode(obj.get("data") or ""),
        }
    else:
        frame = _table_from_json(table, obj)
        frame["_json"] = obj  # the frame as sent, for tests of the JSON encoding itself
    frame["kind"] = kind
    frame["lane"] = lane or default_lane
    return frame


# ---------------------------------------------------------------- fragments -----------------------------

class Reassembler:
    """Reassembles the peer's ``fragment`` frames (section 7)."""

    def __init__(self, message_bytes_max: int = 64 << 20):
        self.partial = {}
        self.message_bytes_max = message_bytes_max

    def push(self, frame: dict):
        """Returns the whole message (bytes) when the last piece arrived, else None."""
        fid, index, count, total = frame["fragment_id"], frame["index"], frame["count"], frame["total_bytes"]
        if count == 0 or index >= count or len(frame["data"]) > total:
            raise ProtocolError("malformed fragment")
        if total > self.message_bytes_max:
            raise ProtocolError("fragmented message too large")
        entry = self.partial.get(fid)
        if entry is None:
            if index != 0:
                raise ProtocolError("fragment out of order")
            entry = self.partial[fid] = {"count": count, "total": total, "next": 0, "data": bytearray()}
        if (entry["count"], entry["total"]) != (count, total):
            raise ProtocolError("inconsistent fragment total")
        if index != entry["next"]:
            raise ProtocolError("fragment duplicate or missing")
        entry["data"] += frame["data"]
        entry["next"] += 1
        if index == count - 1:
            del self.partial[fid]
            if len(entry["data"]) != total:
                raise ProtocolError("fragment lengths do not add up")
            return bytes(entry["data"])
        return None


def fragment(message: bytes, fragment_id: int, piece_size: int, lane: str):
    """Cuts an encoded message into fragment frames (section 7)."""
    count = max(1, -(-len(message) // piece_size))
    return [
        {
            "kind": "fragment",
            "lane": lane,
            "fragment_id": fragment_id,
            "index": i,
            "count": count,
            "total_bytes": len(message),
            "data": message[i * piece_size:(i + 1) * piece_size],
        }
        for i in range(count)
    ]
