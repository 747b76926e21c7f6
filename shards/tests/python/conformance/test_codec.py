"""The codec against the examples of docs/protocol.md section 4 (no server): each example's binary frame
and its JSON form decode to the same frame, and our encoding of it decodes back to it."""

import re

import pytest

from conftest import ROOT
from sbclient import codec

DOC = (ROOT / "docs/protocol.md").read_text()
EXAMPLES = re.findall(
    r"<!-- example: (\w+) -->.*?```text\n(.*?)```.*?```json\n(.*?)\n```.*?<!-- /example -->", DOC, re.S
)


def strip(frame):
    return {k: v for k, v in frame.items() if k != "_json"}


def test_every_kind_has_an_example():
    names = {name for name, _, _ in EXAMPLES}
    assert names == set(codec.KIND_BY_NAME), names


@pytest.mark.parametrize("name,hexdump,json_text", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_doc_example(name, hexdump, json_text):
    data = bytes.fromhex("".join(hexdump.split()))
    if name == "fragment":
        frames = codec.decode_binary_message(data)
        assert len(frames) == 1
        from_json = codec.decode_json(json_text)
        assert strip(from_json) == frames[0]
        return
    (from_binary,) = codec.decode_binary_message(data)
    from_json = strip(codec.decode_json(json_text))
    assert from_binary == from_json
    # Our binary encoding (any layout) reads back the same; our JSON encoding too.
    (again,) = codec.decode_binary_message(codec.encode_binary(from_binary))
    assert again == from_binary
    assert strip(codec.decode_json(codec.encode_json(from_binary))) == from_binary
    # Bodies under 128 bytes have a 3-byte header.
    if len(data) - 3 < 128:
        assert data[2] == len(data) - 3


def test_leb128_examples():
    assert codec.leb128(0) == b"\x00"
    assert codec.leb128(127) == b"\x7f"
    assert codec.leb128(128) == b"\x80\x01"
    assert codec.leb128(300) == b"\xac\x02"
    for bad in (b"\x80\x00", b"\x80" * 10 + b"\x01", b"\x80"):
        with pytest.raises(codec.ProtocolError):
            codec.read_leb128(bad, 0)
