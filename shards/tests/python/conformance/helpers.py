"""Shared steps of the conformance tests."""

from __future__ import annotations

from sbclient.client import Client, NoFrame  # noqa: F401
from sbclient import codec

# Agent groups of the built-in knowledge base (`switchboard describe`).
GROUP_BILLING = 2
GROUP_GENERAL = 11
ALL_GROUPS = list(range(1, 12))

KB_QUESTION = "三连是什么意思"
HUMAN_PLEASE = "转人工"
REFUND = "我要退款,昨天买错了课程"
ORDER_ID = "202403150001234567"
PHONE_QUESTION = "怎么换绑手机号"
PHONE = "13812345678"


async def connect(server, proto, tenant, user, role="customer", groups=(), name=None, hello=True):
    client = await Client.connect(server.url, proto, name=name or f"{role}{user}")
    if hello:
        await client.hello(server.token(tenant, user, role, groups))
    return client


async def agent(server, proto, tenant, user, groups=ALL_GROUPS, name=None):
    """An agent console, after its `presence` and `inbox`."""
    console = await connect(server, proto, tenant, user, "agent", groups, name or f"agent{user}")
    presence = await console.take_kind("presence")
    inbox = await console.take_kind("inbox")
    console.first_presence, console.first_inbox = presence, inbox
    return console


async def open_conversation(customer, text):
    """Opens a conversation with `text`; returns (conversation id, ack)."""
    mid = await customer.send_text(0, text)
    ack = await customer.ack(mid)
    return ack["conversation_id"], ack


async def send_acked(client, conversation, text):
    mid = await client.send_text(conversation, text)
    return await client.ack(mid)


async def bot_answer(client, conversation=None, timeout=10):
    return await client.take(
        lambda f: f["kind"] == "deliver" and f["sender_role"] == "ai"
        and (conversation is None or f["conversation_id"] == conversation),
        timeout,
    )


async def history(client, conversation, before=0, limit=100, query_id=1):
    await client.send({"kind": "history_query", "query_id": query_id, "conversation_id": conversation,
                       "before_sequence": before, "limit": limit})
    return await client.take(lambda f: f["kind"] in ("history_result", "error"))


async def handed_to_agent(server, proto, tenant, customer_user=1, agent_user=5001, groups=ALL_GROUPS):
    """An online agent, and a customer who asked for a human and got that agent. Returns
    (agent console, customer, conversation, customer's handoff, agent's handoff)."""
    console = await agent(server, proto, tenant, agent_user, groups)
    customer = await connect(server, proto, tenant, customer_user)
    conversation, _ = await open_conversation(customer, HUMAN_PLEASE)
    to_customer = await customer.take(lambda f: f["kind"] == "handoff" and f["agent_id"] != 0)
    to_agent = await console.take(
        lambda f: f["kind"] == "handoff" and f["conversation_id"] == conversation and f["agent_id"] != 0)
    return console, customer, conversation, to_customer, to_agent


def error_code(frame):
    assert frame["kind"] == "error", frame
    return frame["code"]
