"""Handshake and session start: docs sections 1, 4 (`hello`, `welcome`), 8 (Handshake), 12."""

import time

import pytest
import websockets

from conftest import KEY_HEX, KEY_ID, arun
from helpers import Client, connect, error_code
from sbclient import client as sbc
from sbclient import codec, tokens


def test_hello_gets_welcome(plain, proto, tenant):
    async def body():
        client = await Client.connect(plain.url, proto)
        assert client.protocol == proto, "the server echoes the offered subprotocol"
        before = int(time.time() * 1000)
        welcome = await client.hello(plain.token(tenant, 1, "customer"))
        assert welcome["lane"] == "system"
        assert welcome["protocol_version"] == 1
        assert welcome["heartbeat_interval_ms"] > 0
        assert welcome["resume_token"], "a resume token for a later reconnect"
        assert abs(welcome["server_time_ms"] - before) < 60_000
        if proto == sbc.JSON:
            # Ids and enums on the wire as section 5 says: nothing to check in welcome but its kind/lane.
            assert welcome["_json"]["kind"] == "welcome" and welcome["_json"]["lane"] == "system"
        await client.close()

    arun(body())


@pytest.mark.parametrize("where", ["header", "query"])
def test_token_in_the_handshake(plain, proto, tenant, where):
    async def body():
        token = plain.token(tenant, 2, "customer")
        kw = {"header_token": token} if where == "header" else {"query_token": token}
        client = await Client.connect(plain.url, proto, **kw)
        await client.hello("")  # no token in hello: the handshake's is used
        mid = await client.send_text(0, "hi")
        assert (await client.ack(mid))["sequence"] == 1
        await client.close()

    arun(body())


def test_both_subprotocols_offered_binary_is_preferred(plain):
    async def body():
        client = await Client.connect(plain.url, sbc.JSON, subprotocols=[sbc.JSON, sbc.BINARY])
        assert client.protocol == sbc.BINARY
        await client.close()

    arun(body())


@pytest.mark.parametrize("offered", [None, ["chat.v9"]], ids=["none", "unknown"])
def test_no_known_subprotocol_is_http_400(plain, offered):
    async def body():
        with pytest.raises(websockets.InvalidStatus) as raised:
            await Client.connect(plain.url, sbc.BINARY, subprotocols=offered or [])
        assert raised.value.response.status_code == 400

    arun(body())


def _bad_tokens(server, tenant):
    good = server.token(tenant, 3, "customer")
    payload, mac = good.split(".")
    flipped = ("B" if mac[0] == "A" else "A") + mac[1:]
    now = int(time.time())
    return {
        "malformed": ("not-a-token", "malformed"),
        "bad_signature": (f"{payload}.{flipped}", "signature"),
        "unknown_key": (tokens.mint(KEY_HEX, "k9", tenant, 3, "customer"), "key"),
        "expired": (tokens.mint(KEY_HEX, KEY_ID, tenant, 3, "customer", issued_at=now - 7200, ttl_s=600),
                    "expired"),
        "not_yet_valid": (tokens.mint(KEY_HEX, KEY_ID, tenant, 3, "customer", issued_at=now + 3600),
                          ("not yet valid", "not valid before")),
    }


def says(text, why):
    whys = why if isinstance(why, tuple) else (why,)
    return any(w in text.lower() for w in whys)


BAD = ["malformed", "bad_signature", "unknown_key", "expired", "not_yet_valid"]


@pytest.mark.parametrize("bad", BAD)
def test_hello_with_a_bad_token_is_unauthorized_then_close_1008(plain, proto, tenant, bad):
    """Section 1: "a hello whose token does not verify gets an error (unauthorized, the message saying
    why) and close 1008"."""

    async def body():
        token, why = _bad_tokens(plain, tenant)[bad]
        client = await Client.connect(plain.url, proto)
        await client.send({"kind": "hello", "protocol_version": 1, "auth_token": token})
        error = await client.recv()
        assert error_code(error) == "unauthorized"
        code, _ = await client.expect_close()
        assert code == 1008
        assert says(error["message"], why), f"the message says why ({why}): {error['message']!r}"

    arun(body())


@pytest.mark.parametrize("bad", BAD)
def test_a_bad_handshake_token_is_http_401_with_the_reason(plain, proto, tenant, bad):
    async def body():
        token, why = _bad_tokens(plain, tenant)[bad]
        with pytest.raises(websockets.InvalidStatus) as raised:
            await Client.connect(plain.url, proto, header_token=token)
        response = raised.value.response
        assert response.status_code == 401
        assert says(response.body.decode("utf-8", "replace"), why), response.body

    arun(body())


def test_hello_without_any_token_is_unauthorized(plain, proto):
    async def body():
        client = await Client.connect(plain.url, proto)
        await client.send({"kind": "hello", "protocol_version": 1})
        assert error_code(await client.recv()) == "unauthorized"
        code, _ = await client.expect_close()
        assert code == 1008

    arun(body())


@pytest.mark.parametrize("version", [0, 2, 65535])
def test_unsupported_version(plain, proto, tenant, version):
    """`unsupported_version` carrying the highest version spoken ("max 1"), then a close."""

    async def body():
        client = await Client.connect(plain.url, proto)
        await client.send({"kind": "hello", "protocol_version": version,
                           "auth_token": plain.token(tenant, 4, "customer")})
        error = await client.recv()
        assert error_code(error) == "unsupported_version", error
        assert "1" in error["message"], error["message"]
        code, _ = await client.expect_close()
        assert code is not None

    arun(body())


def test_frames_before_welcome_are_invalid_state(plain, proto, tenant):
    async def body():
        client = await Client.connect(plain.url, proto)
        await client.send({"kind": "send", "message_id": codec.new_message_id(), "conversation_id": 0,
                           "text": "too early"})
        assert error_code(await client.recv()) == "invalid_state"
        # The hello still works afterwards.
        await client.hello(plain.token(tenant, 5, "customer"))
        await client.close()

    arun(body())


def test_bogus_resume_token_in_hello_is_rejected_after_welcome(plain, proto, tenant):
    async def body():
        token = plain.token(tenant, 6, "customer")
        first = await connect(plain, proto, tenant, 6)
        real = first.welcome["resume_token"]
        other_user = await connect(plain, proto, tenant, 7)
        cases = [("not-a-token", True), (other_user.welcome["resume_token"], True), (real, False)]
        for offered, rejected in cases:
            client = await Client.connect(plain.url, proto)
            welcome = await client.hello(token, resume_token=offered)
            assert welcome["kind"] == "welcome"
            nxt = await client.try_recv(0.5)
            got = nxt is not None and nxt["kind"] == "error" and nxt["code"] == "resume_rejected"
            assert got == rejected, (offered, nxt)
            if got:
                assert nxt["lane"] == "system", "resume_rejected comes on the system lane"
            # The session works either way.
            mid = await client.send_text(0, "still here")
            await client.ack(mid)
            await client.close()

    arun(body())


def test_ping_gets_pong(plain, proto, tenant):
    async def body():
        client = await connect(plain, proto, tenant, 8)
        await client.send({"kind": "ping", "timestamp_ms": 1763790000000})
        pong = await client.take_kind("pong")
        assert pong["ping_timestamp_ms"] == 1763790000000
        assert pong["timestamp_ms"] > 0
        await client.close()

    arun(body())


def test_a_message_of_the_wrong_websocket_type_closes_1003(plain, proto, tenant):
    async def body():
        client = await connect(plain, proto, tenant, 9)
        if proto == sbc.BINARY:
            await client.send_raw('{"kind":"ping"}')
        else:
            await client.send_raw(b'{"kind":"ping"}')
        code, _ = await client.expect_close()
        assert code == 1003

    arun(body())
