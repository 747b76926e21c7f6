"""Client-caused protocol errors and the receiver reactions of docs section 10 (and 2, 5, 7)."""

import pytest

from conftest import arun
from helpers import connect, error_code
from sbclient import client as sbc
from sbclient import codec


async def still_works(client):
    await client.send({"kind": "ping", "timestamp_ms": 42})
    pong = await client.take_kind("pong")
    assert pong["ping_timestamp_ms"] == 42


def test_unknown_kind_is_skipped_and_answered(plain, proto, tenant):
    async def body():
        client = await connect(plain, proto, tenant, 1)
        if proto == sbc.BINARY:
            await client.send_raw(codec.raw_frame(0x30, 3, b"\x00\x00\x00\x00"))
        else:
            await client.send_raw('{"kind":"telepathy","lane":"system"}')
        assert error_code(await client.recv()) == "unknown_kind"
        await still_works(client)
        await client.close()

    arun(body())


def test_unknown_kind_in_a_batch_skips_only_that_frame(plain, tenant):
    async def body():
        client = await connect(plain, sbc.BINARY, tenant, 1)
        ping = codec.encode_binary({"kind": "ping", "timestamp_ms": 7})
        await client.send_raw(codec.raw_frame(0x00, 3, b"abc") + ping)
        assert error_code(await client.recv()) == "unknown_kind"
        assert (await client.take_kind("pong"))["ping_timestamp_ms"] == 7
        await client.close()

    arun(body())


def test_reserved_flag_bits_are_skipped_and_answered(plain, tenant):
    async def body():
        client = await connect(plain, sbc.BINARY, tenant, 1)
        await client.send_raw(codec.encode_binary({"kind": "ping", "timestamp_ms": 1}, flags_extra=0x04))
        assert error_code(await client.recv()) == "reserved_flags"
        await still_works(client)
        await client.close()

    arun(body())


def nested(depth):
    """A ping whose unknown field nests arrays so that the whole text is `depth` levels deep."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return '{"kind":"ping","timestamp_ms":5,"x":' + inner + "}"


@pytest.mark.parametrize("text", [
    "not json",
    "[1,2,3]",
    '"kind"',
    '{"lane":"system"}',
    '{"kind":"send","conversation_id":"abc","message_id":"00112233445566778899aabbccddeeff","text":"x"}',
    '{"kind":"send","conversation_id":"1","message_id":"xyz","text":"x"}',
    '{"kind":"typing","conversation_id":"1","active":true,"lane":"sideways"}',
    nested(33),
    "[" * 100_000 + "]" * 100_000,
], ids=["not-json", "array", "string", "no-kind", "bad-id", "bad-message-id", "bad-lane", "depth-33", "depth-100k"])
def test_malformed_json_is_skipped_and_answered(plain, tenant, text):
    async def body():
        client = await connect(plain, sbc.JSON, tenant, 1)
        await client.send_raw(text)
        assert error_code(await client.recv()) == "malformed_frame"
        await still_works(client)
        await client.close()

    arun(body())


def test_json_nesting_of_32_levels_is_accepted(plain, tenant):
    async def body():
        client = await connect(plain, sbc.JSON, tenant, 1)
        await client.send_raw(nested(32))
        frame = await client.recv()
        assert frame["kind"] == "pong" and frame["ping_timestamp_ms"] == 5, frame
        await client.close()

    arun(body())


def test_json_unknown_fields_ids_as_numbers_and_dashed_uuids_are_accepted(plain, tenant):
    async def body():
        client = await connect(plain, sbc.JSON, tenant, 1)
        await client.send_raw('{"kind":"send","conversation_id":0,"text":"hi","future_field":{"a":[1,{"b":null}]},'
                              '"message_id":"01934E5F-6A70-7B12-8C3D-4E5F60718293"}')
        frame = await client.recv()
        assert frame["kind"] == "ack", frame
        assert frame["message_id"] == bytes.fromhex("01934e5f6a707b128c3d4e5f60718293")
        assert isinstance(frame["_json"]["conversation_id"], str), "ids are written as decimal strings"
        assert frame["_json"]["message_id"] == "01934e5f6a707b128c3d4e5f60718293"
        await client.close()

    arun(body())


@pytest.mark.parametrize("raw,close", [
    (codec.raw_frame(0x0E, 3, b"\x01\x02\x03\x04\x05\x06\x07\x08"), 1007),   # body fails verification
    (bytes([0x0E, 0x03, 0x80, 0x00]), 1002),                                 # non-minimal varint
    (bytes([0x0E, 0x03]) + b"\xff" * 10 + b"\x01", 1002),                    # varint longer than 10 bytes
    (bytes([0x0E, 0x03]) + codec.leb128(65537), 1009),                       # body over body_bytes_max
], ids=["invalid-body", "non-minimal-varint", "overlong-varint", "body-too-large"])
def test_binary_framing_violations_close(plain, tenant, raw, close):
    async def body():
        client = await connect(plain, sbc.BINARY, tenant, 1)
        await client.send_raw(raw)
        code, _ = await client.expect_close()
        assert code == close

    arun(body())


def fragment_body(fid, index, count, total, data=b""):
    return codec.leb128(fid) + codec.leb128(index) + codec.leb128(count) + codec.leb128(total) + data


@pytest.mark.parametrize("pieces,close", [
    ([fragment_body(1, 0, 0, 3, b"abc")], 1007),                        # count 0
    ([fragment_body(1, 2, 2, 3, b"abc")], 1007),                        # index >= count
    ([fragment_body(1, 0, 2, 2, b"abc")], 1007),                        # piece longer than total_bytes
    ([b"\x01\x00"], 1007),                                              # truncated prefix
    ([fragment_body(1, 0, 2, 2 << 20, b"a")], 1009),                    # total over message_bytes_max
    ([fragment_body(1, 0, 2000, 4000, b"a")], 1009),                    # count over fragment_count_max
    ([fragment_body(i, 0, 2, 10, b"a") for i in range(1, 6)], 1009),    # a 5th unfinished message
    ([fragment_body(1, 1, 2, 10, b"a")], 1002),                         # first piece not index 0
    ([fragment_body(1, 0, 3, 10, b"a"), fragment_body(1, 0, 3, 10, b"a")], 1002),  # duplicate
    ([fragment_body(1, 0, 3, 10, b"a"), fragment_body(1, 2, 3, 10, b"a")], 1002),  # missing
    ([fragment_body(1, 0, 2, 10, b"a"), fragment_body(1, 1, 2, 11, b"a")], 1002),  # inconsistent total
    ([fragment_body(1, 0, 2, 10, b"a"), fragment_body(1, 1, 2, 10, b"a")], 1002),  # lengths do not add up
], ids=["count-0", "index-ge-count", "piece-too-long", "truncated", "too-large", "too-many-pieces",
        "too-many-partials", "out-of-order", "duplicate", "missing", "inconsistent", "short"])
def test_fragment_violations_close(plain, tenant, pieces, close):
    async def body():
        client = await connect(plain, sbc.BINARY, tenant, 1)
        await client.send_raw(b"".join(codec.raw_frame(0x12, 2, p) for p in pieces))
        code, _ = await client.expect_close()
        assert code == close

    arun(body())


def test_a_reassembled_fragment_must_not_be_a_fragment(plain, tenant):
    async def body():
        client = await connect(plain, sbc.BINARY, tenant, 1)
        inner = codec.raw_frame(0x12, 2, fragment_body(9, 0, 1, 1, b"a"))
        await client.send_raw(codec.raw_frame(0x12, 2, fragment_body(1, 0, 1, len(inner), inner)))
        code, _ = await client.expect_close()
        assert code in (1002, 1007), code

    arun(body())
