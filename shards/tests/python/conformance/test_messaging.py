"""Send, ack, deliver, de-duplication, access, history (routing off, so only our messages take sequences):
docs section 4 (`send`, `ack`, `deliver`, `history_query`), 8 (Conversations, Send/ack/deliver), 9, 10."""

import pytest

from conftest import arun
from helpers import connect, error_code, history, open_conversation
from sbclient import client as sbc
from sbclient import codec


def test_open_send_ack_and_deliver_to_the_other_device(plain, proto, tenant):
    async def body():
        phone = await connect(plain, proto, tenant, 1, name="phone")
        conversation, ack = await open_conversation(phone, "hello")
        assert ack["sequence"] == 1 and ack["lane"] == "chat"
        laptop = await connect(plain, proto, tenant, 1, name="laptop")
        await laptop.send({"kind": "resume", "positions": [{"conversation_id": conversation, "last_sequence": 1}]})
        await laptop.drain(0.3)
        mid = await phone.send_text(conversation, "second")
        ack = await phone.ack(mid)
        assert ack["sequence"] == 2 and ack["conversation_id"] == conversation
        deliver = await laptop.take_kind("deliver")
        assert (deliver["sequence"], deliver["message_id"], deliver["text"]) == (2, mid, "second")
        assert deliver["sender_id"] == 1 and deliver["sender_role"] == "customer"
        # The sender does not get its own message delivered back.
        echoed = await phone.try_recv(0.5)
        assert echoed is None or echoed["kind"] != "deliver", echoed
        for c in (phone, laptop):
            await c.close()

    arun(body())


def test_duplicate_message_ids_are_acked_alike_and_stored_once(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        opening = codec.new_message_id()
        first = await customer.send_text(0, "open", opening)
        ack1 = await customer.ack(first)
        await customer.send_text(0, "open", opening)  # a retry of the opening send
        ack2 = await customer.ack(first)
        assert (ack2["conversation_id"], ack2["sequence"]) == (ack1["conversation_id"], 1)
        conversation = ack1["conversation_id"]
        mid = codec.new_message_id()
        for _ in range(3):
            await customer.send_text(conversation, "again", mid)
        acks = [await customer.ack(mid) for _ in range(3)]
        assert {a["sequence"] for a in acks} == {2}
        # A retry from a new connection (after a reconnect) too.
        again = await connect(plain, proto, tenant, 1)
        await again.send_text(conversation, "again", mid)
        assert (await again.ack(mid))["sequence"] == 2
        page = await history(again, conversation)
        assert [m["sequence"] for m in page["messages"]] == [1, 2]
        assert [m["message_id"] for m in page["messages"]] == [opening, mid]
        for c in (customer, again):
            await c.close()

    arun(body())


def test_a_send_without_message_id_is_malformed(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        if proto == sbc.JSON:
            await customer.send_raw('{"kind":"send","lane":"chat","conversation_id":"0","text":"no id"}')
        else:
            await customer.send({"kind": "send", "message_id": bytes(16), "conversation_id": 0, "text": "no id"})
        assert error_code(await customer.recv()) == "malformed_frame"
        # Nothing was stored: a proper opening send starts at sequence 1.
        conversation, ack = await open_conversation(customer, "with an id")
        assert ack["sequence"] == 1
        if proto == sbc.JSON:
            await customer.send_raw(f'{{"kind":"send","conversation_id":"{conversation}","text":"no id"}}')
        else:
            await customer.send({"kind": "send", "message_id": bytes(16), "conversation_id": conversation,
                                 "text": "no id"})
        assert error_code(await customer.recv()) == "malformed_frame"
        page = await history(customer, conversation)
        assert [m["sequence"] for m in page["messages"]] == [1]
        await customer.close()

    arun(body())


def test_a_message_id_reused_in_another_conversation_is_a_new_message(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        first, _ = await open_conversation(customer, "first")
        second, _ = await open_conversation(customer, "second")
        assert first != second
        mid = codec.new_message_id()
        await customer.send_text(first, "in the first", mid)
        a = await customer.ack(mid)
        await customer.send_text(second, "in the second", mid)
        b = await customer.take(lambda f: f["kind"] == "ack" and f["message_id"] == mid
                                and f["conversation_id"] == second)
        assert (a["conversation_id"], a["sequence"]) == (first, 2)
        assert (b["conversation_id"], b["sequence"]) == (second, 2)
        page = await history(customer, second)
        assert [m["text"] for m in page["messages"]] == ["second", "in the second"]
        await customer.close()

    arun(body())


def test_access_errors(plain, proto, tenant):
    async def body():
        owner = await connect(plain, proto, tenant, 1)
        conversation, _ = await open_conversation(owner, "mine")
        other = await connect(plain, proto, tenant, 2)
        other_conv, _ = await open_conversation(other, "theirs")
        unknown = conversation ^ 0x1234_5678
        # Another customer's conversation: forbidden.
        await other.send_text(conversation, "let me in")
        assert error_code(await other.error()) == "forbidden"
        page = await history(other, conversation)
        assert error_code(page) == "forbidden"
        await other.send({"kind": "typing", "conversation_id": conversation, "active": True})
        assert error_code(await other.error()) == "forbidden"
        await other.send({"kind": "read_receipt", "conversation_id": conversation, "sequence": 1})
        assert error_code(await other.error()) == "forbidden"
        # Unknown conversation: not_found.
        await other.send_text(unknown, "anyone?")
        assert error_code(await other.error()) == "not_found"
        page = await history(other, unknown)
        assert error_code(page) == "not_found"
        # A resume naming a forbidden conversation: forbidden, and its other positions are still served.
        await other.drain(0.2)
        await other.send({"kind": "resume", "positions": [
            {"conversation_id": conversation, "last_sequence": 0},
            {"conversation_id": other_conv, "last_sequence": 0},
        ]})
        got = await other.drain(0.6)
        kinds = [(f["kind"], f.get("code"), f.get("conversation_id")) for f in got]
        assert ("error", "forbidden", None) in [(k, c, None) for k, c, _ in kinds], kinds
        replays = [f for f in got if f["kind"] == "replay"]
        assert [(r["conversation_id"], r["from_sequence"], r["to_sequence"]) for r in replays] == [(other_conv, 1, 1)]
        assert not any(f["kind"] == "deliver" and f["conversation_id"] == conversation for f in got)
        # Another tenant never reaches it, whatever the role.
        admin = await connect(plain, proto, tenant + 100_000, 9, "admin")
        page = await history(admin, conversation)
        assert error_code(page) in ("forbidden", "not_found")
        for c in (owner, other, admin):
            await c.close()

    arun(body())


def test_history_paging(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, "m1")
        for n in range(2, 6):
            mid = await customer.send_text(conversation, f"m{n}")
            await customer.ack(mid)
        page = await history(customer, conversation, before=0, limit=2, query_id=7)
        assert page["kind"] == "history_result" and page["query_id"] == 7
        assert page["conversation_id"] == conversation
        assert [m["sequence"] for m in page["messages"]] == [4, 5] and page["has_more"] is True
        page = await history(customer, conversation, before=4, limit=2, query_id=8)
        assert [m["text"] for m in page["messages"]] == ["m2", "m3"] and page["has_more"] is True
        page = await history(customer, conversation, before=2, limit=2, query_id=9)
        assert [m["sequence"] for m in page["messages"]] == [1] and page["has_more"] is False
        m = page["messages"][0]
        assert m["sender_id"] == 1 and m["sender_role"] == "customer" and m["sent_at_ms"] > 0
        page = await history(customer, conversation, before=0, limit=100, query_id=10)
        assert [m["sequence"] for m in page["messages"]] == [1, 2, 3, 4, 5] and page["has_more"] is False
        await customer.close()

    arun(body())


def test_history_limit_is_capped_at_100(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, "m1")
        mids = [codec.new_message_id() for _ in range(101)]
        frames = [{"kind": "send", "message_id": m, "conversation_id": conversation, "text": f"n{i}"}
                  for i, m in enumerate(mids)]
        await customer.send_many(frames[:100])
        for m in mids[:100]:
            await customer.ack(m)
        await customer.send_many(frames[100:])
        await customer.ack(mids[100])
        page = await history(customer, conversation, limit=500)
        assert len(page["messages"]) == 100 and page["has_more"] is True
        assert page["messages"][-1]["sequence"] == 102
        await customer.close()

    arun(body(), 90)


def test_text_over_the_limit_is_message_too_large(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, "short")
        await customer.send_text(conversation, "x" * 16385)
        assert error_code(await customer.error()) == "message_too_large"
        mid = await customer.send_text(conversation, "y" * 16384)
        assert (await customer.ack(mid))["sequence"] == 2
        await customer.close()

    arun(body())


def test_a_fragmented_send_is_reassembled(plain, proto, tenant):
    """Section 7: fragments are part of switchboard.v1; a JSON client's fragment gets invalid_state."""

    async def body():
        customer = await connect(plain, proto, tenant, 1)
        mid = codec.new_message_id()
        await customer.send_fragmented({"kind": "send", "message_id": mid, "conversation_id": 0,
                                        "text": "fragmented " * 30}, piece_size=64)
        if proto == sbc.JSON:
            assert error_code(await customer.error()) == "invalid_state"
            await customer.close()
            return
        ack = await customer.ack(mid, timeout=4)
        assert ack["sequence"] == 1
        page = await history(customer, ack["conversation_id"])
        assert page["messages"][0]["text"] == "fragmented " * 30
        await customer.close()

    arun(body())


def test_too_many_open_conversations_is_rate_limited(plain, proto, tenant):
    """`chat.customer_open_conversations_max` (32) per owner shard; the plain server has one shard."""

    async def body():
        customer = await connect(plain, proto, tenant, 1)
        for n in range(32):
            await open_conversation(customer, f"c{n}")
        await customer.send_text(0, "one too many")
        error = await customer.error()
        assert error_code(error) == "rate_limited"
        assert error["retry_after_ms"] == 60_000
        await customer.close()

    arun(body(), 90)


def test_too_many_requests_per_second_is_rate_limited(plain, proto, tenant):
    async def body():
        customer = await connect(plain, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, "typing a lot")
        frames = [{"kind": "read_receipt", "conversation_id": conversation, "sequence": 1}] * 400
        await customer.send_many(frames)
        error = await customer.error()
        assert error_code(error) == "rate_limited"
        assert error["retry_after_ms"] is not None
        await customer.close()

    arun(body())


def test_a_large_history_page_comes_fragmented(plain, proto, tenant):
    """Section 7: in switchboard.v1 a frame longer than the sender's fragment size (16 KiB) is sent as
    fragments; in switchboard.json.v1 every frame travels whole."""

    async def body():
        customer = await connect(plain, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, "big")
        for n in range(3):
            mid = await customer.send_text(conversation, chr(ord("a") + n) * 16000)
            await customer.ack(mid)
        before = customer.fragments_received
        page = await history(customer, conversation)
        assert [len(m["text"]) for m in page["messages"]] == [3, 16000, 16000, 16000]
        if proto == sbc.JSON:
            assert customer.fragments_received == before, "JSON frames travel whole"
        else:
            assert customer.fragments_received - before >= 3, "48 KB of text in fragments of at most 16 KiB"
        await customer.close()

    arun(body())
