"""The bot, tickets, handoffs, agents (routing on): docs section 4 (`deliver`, `ticket`, `handoff`,
`conversation_update`, `presence`, `inbox`) and section 8 (Conversations, Personal data)."""

import pytest

from conftest import arun
from helpers import (
    ALL_GROUPS, GROUP_BILLING, GROUP_GENERAL, HUMAN_PLEASE, KB_QUESTION, ORDER_ID, PHONE, PHONE_QUESTION,
    REFUND, agent, bot_answer, connect, error_code, handed_to_agent, history, open_conversation,
)


def test_kb_question_gets_the_bot_answer(routed, proto, tenant):
    async def body():
        customer = await connect(routed, proto, tenant, 1)
        conversation, ack = await open_conversation(customer, KB_QUESTION)
        assert ack["sequence"] == 1 and conversation != 0
        answer = await bot_answer(customer, conversation)
        assert answer["lane"] == "ai_answer"
        assert answer["sender_role"] == "ai"
        assert answer["sequence"] == 2
        assert "三连" in answer["text"]
        assert answer["sent_at_ms"] > 0
        await customer.close()

    arun(body())


def test_follow_up_slot_question_then_the_answer_and_history_is_masked(routed, proto, tenant):
    async def body():
        customer = await connect(routed, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, PHONE_QUESTION)
        question = (await bot_answer(customer, conversation))["text"]
        mid = await customer.send_text(conversation, PHONE)
        await customer.ack(mid)
        answer = (await bot_answer(customer, conversation))["text"]
        assert answer != question, "the bot asked for the number again"
        assert PHONE not in answer
        page = await history(customer, conversation)
        assert page["kind"] == "history_result", page
        texts = [m["text"] for m in page["messages"]]
        assert len(texts) == 4, texts
        assert all(PHONE not in t for t in texts), texts
        assert any("****" in t for t in texts), f"the number is stored masked (138****5678): {texts}"
        await customer.close()

    arun(body())


async def refund_ticket(routed, proto, tenant, customer_user=1):
    customer = await connect(routed, proto, tenant, customer_user)
    conversation, _ = await open_conversation(customer, REFUND)
    await bot_answer(customer, conversation)
    mid = await customer.send_text(conversation, ORDER_ID)
    await customer.ack(mid)
    ticket = await customer.take_kind("ticket")
    return customer, conversation, ticket


def test_refund_opens_a_ticket_for_the_customer(routed, proto, tenant):
    async def body():
        billing = await agent(routed, proto, tenant, 5001, [GROUP_BILLING])
        customer, conversation, told = await refund_ticket(routed, proto, tenant)
        assert told["lane"] == "urgent"
        assert told["status"] == "opened"
        assert told["conversation_id"] == conversation
        assert told["subject"] == "refund"
        assert told["ticket_id"] != 0
        assert told["note"], "the customer is told what happens next"
        opened = await billing.take_kind("ticket", ticket_id=told["ticket_id"])
        assert opened["status"] == "opened" and opened["lane"] == "urgent"
        assert opened["agent_group"] == str(GROUP_BILLING)
        await customer.close()
        await billing.close()

    arun(body())


def test_ticket_updates_by_a_billing_agent(routed, proto, tenant):
    async def body():
        billing = await agent(routed, proto, tenant, 5001, [GROUP_BILLING])
        outsider = await agent(routed, proto, tenant, 5002, [GROUP_GENERAL])
        customer, conversation, told = await refund_ticket(routed, proto, tenant)
        tid = told["ticket_id"]
        await billing.take_kind("ticket", ticket_id=tid, status="opened")

        def change(status, note="", ticket_id=tid):
            return {"kind": "ticket", "ticket_id": ticket_id, "conversation_id": conversation,
                    "status": status, "note": note}

        await billing.send(change("assigned", "on it"))
        taken = await billing.take_kind("ticket", ticket_id=tid, status="assigned")
        assert taken["agent_id"] == 5001
        await billing.send(change("resolved", "refunded"))
        resolved = await billing.take_kind("ticket", ticket_id=tid, status="resolved")
        assert resolved["note"] == "refunded"
        to_customer = await customer.take_kind("ticket", ticket_id=tid)
        assert to_customer["status"] == "resolved", "the customer hears of the resolution (not the assignment)"

        # Refusals.
        await customer.send(change("closed"))
        assert error_code(await customer.error()) == "forbidden"
        await outsider.send(change("closed"))
        assert error_code(await outsider.error()) == "forbidden"
        await billing.send(change("closed", ticket_id=tid + 1000))
        assert error_code(await billing.error()) == "not_found"
        await billing.send(change("opened"))
        assert error_code(await billing.error()) == "invalid_state"
        await billing.send(change(9))
        assert error_code(await billing.error()) == "invalid_state"
        await billing.send(change("closed"))
        await billing.take_kind("ticket", ticket_id=tid, status="closed")
        await billing.send(change("pending"))
        assert error_code(await billing.error()) == "invalid_state", "a closed ticket does not change"
        for c in (customer, billing, outsider):
            await c.close()

    arun(body())


def test_handoff_to_an_online_agent_and_the_reply(routed, proto, tenant):
    async def body():
        console, customer, conversation, to_customer, to_agent = await handed_to_agent(routed, proto, tenant)
        assert console.first_presence["presence"] == "online"
        assert to_customer["lane"] == "urgent" and to_agent["lane"] == "urgent"
        assert to_customer["agent_id"] == 5001 and to_agent["agent_id"] == 5001
        assert "intent" not in to_customer["reason"] and "sentiment" not in to_customer["reason"], \
            to_customer["reason"]
        assert to_customer["reason"], "the customer is told what happens next"
        assert "intent" in to_agent["reason"], f"agents get the summary: {to_agent['reason']}"
        # With the assignment the agent gets the newest messages: a replay, then the delivers.
        replay = await console.take_kind("replay", conversation_id=conversation)
        got = []
        for _ in range(replay["to_sequence"] - replay["from_sequence"] + 1):
            got.append(await console.take_kind("deliver", conversation_id=conversation))
        assert [d["sequence"] for d in got] == list(range(replay["from_sequence"], replay["to_sequence"] + 1))
        assert any(d["text"] == HUMAN_PLEASE for d in got)

        mid = await console.send_text(conversation, "Hi, I am a human. How can I help?")
        ack = await console.ack(mid)
        reply = await customer.take(lambda f: f["kind"] == "deliver" and f["sender_role"] == "agent")
        assert reply["sender_id"] == 5001 and reply["sequence"] == ack["sequence"]
        assert reply["message_id"] == mid
        assert reply["text"] == "Hi, I am a human. How can I help?"
        await customer.close()
        await console.close()

    arun(body())


def test_transfer_to_a_group_then_resolve(routed, proto, tenant):
    async def body():
        console, customer, conversation, _, _ = await handed_to_agent(routed, proto, tenant,
                                                                       groups=[GROUP_GENERAL])
        await console.drain(0.3)  # the assignment's replay, delivers and conversation_update
        await customer.drain(0.3)
        # The customer may not transfer.
        await customer.send({"kind": "conversation_update", "conversation_id": conversation,
                             "state": "queued", "agent_group": str(GROUP_BILLING)})
        assert error_code(await customer.error()) == "forbidden"
        # The agent moves it to the billing queue (no billing agent online: it waits there).
        await console.send({"kind": "conversation_update", "conversation_id": conversation,
                            "state": "queued", "agent_group": str(GROUP_BILLING), "reason": "billing question"})
        answer = await console.take(lambda f: f["kind"] in ("conversation_update", "error"))
        assert answer["kind"] == "conversation_update", answer
        assert answer["state"] == "queued" and answer["agent_group"] == str(GROUP_BILLING)
        notice = await customer.take_kind("conversation_update", state="queued")
        assert notice["agent_group"] == str(GROUP_BILLING) and notice["agent_id"] == 0
        assert notice["lane"] == "urgent"
        # A billing agent comes online and gets it; it resolves it.
        billing = await agent(routed, proto, tenant, 5003, [GROUP_BILLING])
        await billing.take(lambda f: f["kind"] == "handoff" and f["conversation_id"] == conversation
                           and f["agent_id"] == 5003)
        await billing.send({"kind": "conversation_update", "conversation_id": conversation, "state": "resolved"})
        done = await billing.take(lambda f: f["kind"] in ("conversation_update", "error")
                                  and f.get("state") != "assigned")
        assert done["kind"] == "conversation_update" and done["state"] == "resolved", done
        told = await customer.take_kind("conversation_update", state="resolved")
        assert told["conversation_id"] == conversation
        # The customer writes again: re-opened with the bot.
        await customer.drain(0.3)
        mid = await customer.send_text(conversation, KB_QUESTION)
        await customer.ack(mid)
        reopened = await customer.take(lambda f: f["kind"] == "conversation_update" and f["state"] != "resolved")
        assert reopened["state"] == "bot"
        assert "三连" in (await bot_answer(customer, conversation))["text"]
        for c in (customer, console, billing):
            await c.close()

    arun(body())


def test_conversation_update_refusals(routed, proto, tenant):
    async def body():
        console, customer, conversation, _, _ = await handed_to_agent(routed, proto, tenant)
        bot_customer = await connect(routed, proto, tenant, 2)
        bot_conversation, _ = await open_conversation(bot_customer, KB_QUESTION)
        await bot_answer(bot_customer, bot_conversation)
        await console.drain(0.3)  # the assignment's replay, delivers and conversation_update

        def update(conv, state, **kw):
            return {"kind": "conversation_update", "conversation_id": conv, "state": state, **kw}

        cases = [
            (update(conversation, "bot"), "invalid_state"),
            (update(conversation, "assigned", agent_id=0), "invalid_state"),
            (update(conversation, "queued"), "invalid_state"),
            (update(conversation, "queued", agent_group="billing"), "invalid_state"),
            (update(conversation, 7), "invalid_state"),
            (update(conversation, "assigned", agent_id=999999), "invalid_state"),
            (update(conversation, "queued", agent_group="999"), "invalid_state"),
            # An agent may not touch a conversation neither held by it nor queued to its groups.
            (update(bot_conversation, "queued", agent_group=str(GROUP_BILLING)), "forbidden"),
            (update(conversation ^ 0x5A5A5A5A, "resolved"), "not_found"),
            (update(conversation, "resolved", reason="x" * 513), "message_too_large"),
        ]
        for request, expected in cases:
            await console.send(request)
            got = await console.take(lambda f: f["kind"] in ("error", "conversation_update")
                                     and (f["kind"] == "error" or f["conversation_id"] == request["conversation_id"]))
            assert got["kind"] == "error" and got["code"] == expected, (request, got)
        # A transfer of a conversation still with the bot (by an admin, who may act on it).
        admin = await connect(routed, proto, tenant, 9, "admin")
        await admin.send(update(bot_conversation, "queued", agent_group=str(GROUP_BILLING)))
        assert error_code(await admin.error()) == "invalid_state"
        await admin.close()
        # A customer may resolve their own conversation, not another's.
        await bot_customer.send(update(conversation, "resolved"))
        assert error_code(await bot_customer.error()) == "forbidden"
        await bot_customer.send(update(bot_conversation, "resolved"))
        done = await bot_customer.take(lambda f: f["kind"] in ("conversation_update", "error"))
        assert done["kind"] == "conversation_update" and done["state"] == "resolved", done
        for c in (customer, console, bot_customer):
            await c.close()

    arun(body())


def test_presence_after_welcome_then_inbox_and_chosen_presence(routed, proto, tenant):
    async def body():
        console = await connect(routed, proto, tenant, 5001, "agent", ALL_GROUPS)
        first = await console.recv()
        assert first["kind"] == "presence", f"presence right after welcome, got {first}"
        assert (first["user_id"], first["presence"], first["reason"]) == (5001, "online", "connected")
        assert first["lane"] == "urgent"
        inbox = await console.recv()
        assert inbox["kind"] == "inbox", f"then the inbox, got {inbox}"
        assert inbox["agent_id"] == 5001 and inbox["presence"] == "online"
        assert inbox["assigned"] == [] and inbox["queued"] == []

        await console.send({"kind": "presence", "presence": "away"})
        told = await console.take_kind("presence")
        assert (told["presence"], told["reason"]) == ("away", "chosen")
        customer = await connect(routed, proto, tenant, 1)
        conversation, _ = await open_conversation(customer, HUMAN_PLEASE)
        queued = await customer.take_kind("handoff")
        assert queued["agent_id"] == 0, "away agents take nothing new"
        await console.send({"kind": "inbox"})
        inbox = await console.take_kind("inbox")
        assert inbox["presence"] == "away"
        assert [e["conversation_id"] for e in inbox["queued"]] == [conversation]
        entry = inbox["queued"][0]
        assert entry["customer_id"] == 1 and entry["state"] == "queued" and entry["position"] == 1
        assert entry["last_sequence"] >= 1 and entry["unread"] >= 1

        await console.send({"kind": "presence", "presence": "online"})
        back = await console.take_kind("presence")
        assert back["presence"] == "online"
        handoff = await console.take(lambda f: f["kind"] == "handoff" and f["agent_id"] == 5001)
        assert handoff["conversation_id"] == conversation
        assert (await customer.take(lambda f: f["kind"] == "handoff" and f["agent_id"] != 0))["agent_id"] == 5001
        await console.send({"kind": "inbox"})
        inbox = await console.take_kind("inbox")
        assert [e["conversation_id"] for e in inbox["assigned"]] == [conversation]
        assert inbox["assigned"][0]["state"] == "assigned" and inbox["assigned"][0]["position"] == 0
        await customer.close()
        await console.close()

    arun(body())


def test_presence_and_inbox_are_for_agents_only(routed, proto, tenant):
    async def body():
        customer = await connect(routed, proto, tenant, 1)
        admin = await connect(routed, proto, tenant, 9, "admin")
        for client in (customer, admin):
            for frame in ({"kind": "presence", "presence": "online"}, {"kind": "inbox"}):
                await client.send(frame)
                assert error_code(await client.error()) == "forbidden", (client.name, frame)
            await client.close()

    arun(body())


def test_an_agent_of_unknown_groups_is_told(routed, proto, tenant):
    async def body():
        console = await connect(routed, proto, tenant, 5009, "agent", [999])
        error = await console.error()
        assert error_code(error) == "invalid_state"
        await console.close()

    arun(body())


def test_typing_and_read_receipts_reach_the_other_side(routed, proto, tenant):
    async def body():
        console, customer, conversation, _, _ = await handed_to_agent(routed, proto, tenant)
        # The agent replies first, so both sides surely follow (the racy first-typing case is its own test).
        reply = await send_and_ack(console, conversation, "hello, how can I help?")
        await customer.take_kind("deliver", sequence=reply["sequence"])
        await customer.send({"kind": "typing", "conversation_id": conversation, "active": True})
        typing = await console.take_kind("typing", conversation_id=conversation)
        assert typing["user_id"] == 1 and typing["active"] is True
        await customer.send({"kind": "typing", "conversation_id": conversation, "active": False})
        stopped = await console.take_kind("typing", conversation_id=conversation)
        assert stopped["active"] is False
        ack = await send_and_ack(customer, conversation, "are you there?")
        await console.send({"kind": "read_receipt", "conversation_id": conversation, "sequence": ack["sequence"]})
        receipt = await customer.take_kind("read_receipt", conversation_id=conversation)
        assert receipt["user_id"] == 5001 and receipt["sequence"] == ack["sequence"]
        # A receipt for a lower sequence than one already sent is ignored.
        await console.send({"kind": "read_receipt", "conversation_id": conversation, "sequence": 1})
        late = await customer.try_recv(0.5)
        assert late is None or late["kind"] != "read_receipt", late
        # The agent types; the customer sees it.
        await console.send({"kind": "typing", "conversation_id": conversation, "active": True})
        typing = await customer.take_kind("typing", conversation_id=conversation)
        assert typing["user_id"] == 5001
        await customer.close()
        await console.close()

    arun(body())


def test_the_first_typing_right_after_the_handoff_reaches_the_agent(routed, proto, tenant):
    async def body():
        console, customer, conversation, _, _ = await handed_to_agent(routed, proto, tenant)
        await customer.send({"kind": "typing", "conversation_id": conversation, "active": True})
        typing = await console.take_kind("typing", conversation_id=conversation, timeout=5)
        assert typing["user_id"] == 1 and typing["active"] is True
        await customer.close()
        await console.close()

    arun(body())


async def send_and_ack(client, conversation, text):
    mid = await client.send_text(conversation, text)
    return await client.ack(mid)
