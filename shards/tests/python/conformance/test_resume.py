"""Resume with a spec-following client: docs section 4 (`deliver`, `resume`, `replay`, `gap`) and 8 (Resume
and gaps). The follower keeps per conversation its contiguous position plus the set of sequences above
it, drops duplicates, resumes from the position, and must end up with every message exactly once."""

from conftest import arun
from helpers import KB_QUESTION, Client, bot_answer, connect, open_conversation
from sbclient.client import SequenceTracker


async def pump(client, tracker, conversation, until_seq, timeout=10, received=None):
    """Reads frames into `tracker` until it holds 1..=until_seq of `conversation`."""
    for _ in range(400):
        if tracker.position.get(conversation, 0) >= until_seq:
            return
        frame = await client.recv(timeout)
        if received is not None:
            received.append(frame)
        if frame["kind"] == "deliver":
            tracker.on_deliver(frame)
        elif frame["kind"] == "gap":
            tracker.on_gap(frame)
    raise AssertionError(f"position {tracker.position.get(conversation)} never reached {until_seq}")


def test_resume_from_the_position_gets_every_message_exactly_once(routed, proto, tenant):
    async def body():
        token = routed.token(tenant, 1, "customer")
        writer = await connect(routed, proto, tenant, 1, name="writer")
        writer_track = SequenceTracker()
        conversation, ack = await open_conversation(writer, KB_QUESTION)
        writer_track.on_ack(ack)
        writer_track.on_deliver(await bot_answer(writer, conversation))
        newest = 2

        # The follower (the customer's second device) catches up from 0, then follows live.
        follower = await Client.connect(routed.url, proto, name="follower")
        welcome = await follower.hello(token)
        track = SequenceTracker()
        await follower.send({"kind": "resume", "resume_token": welcome["resume_token"],
                             "positions": [{"conversation_id": conversation, "last_sequence": 0}]})
        received = []
        await pump(follower, track, conversation, newest, received=received)
        replay = next(f for f in received if f["kind"] == "replay")
        assert (replay["from_sequence"], replay["to_sequence"]) == (1, 2)

        async def write(n):
            nonlocal newest
            for _ in range(n):
                mid = await writer.send_text(conversation, KB_QUESTION)
                ack = await writer.ack(mid)
                answer = await writer.take(lambda f: f["kind"] == "deliver" and f["sequence"] == ack["sequence"] + 1)
                assert answer["sender_role"] == "ai"
                newest = answer["sequence"]

        await write(3)  # live: the customer's messages (chat lane) and the bot's answers (ai_answer lane)
        await pump(follower, track, conversation, newest)
        held_before = track.position[conversation]
        assert held_before == newest == 8

        # The follower drops; more is written meanwhile; it reconnects and resumes from its position.
        await follower.close()
        await write(3)
        again = await Client.connect(routed.url, proto, name="follower-again")
        welcome2 = await again.hello(token, resume_token=welcome["resume_token"])
        assert welcome2["kind"] == "welcome"
        await again.send({"kind": "resume", "resume_token": welcome2["resume_token"],
                          "positions": [{"conversation_id": conversation, "last_sequence": held_before}]})
        received = []
        await write(1)  # a live message racing the replay
        await pump(again, track, conversation, newest, received=received)
        replays = [f for f in received if f["kind"] == "replay"]
        assert replays and replays[0]["from_sequence"] == held_before + 1, replays
        assert not [f for f in received if f["kind"] == "error"], received
        # A short quiet read: anything more is a duplicate the tracker drops, never a new message.
        for frame in await again.drain(0.5):
            if frame["kind"] == "deliver":
                assert not track.on_deliver(frame), f"a message beyond the conversation: {frame}"
        assert track.shown(conversation) == list(range(1, newest + 1))
        assert track.above[conversation] == set()
        # Each sequence is the same message as the writer's and the server's history.
        await again.send({"kind": "history_query", "query_id": 1, "conversation_id": conversation, "limit": 100})
        page = await again.take_kind("history_result")
        by_seq = {m["sequence"]: m for m in page["messages"]}
        assert sorted(by_seq) == list(range(1, newest + 1))
        for seq in range(1, newest + 1):
            mine = track.messages[(conversation, seq)]
            assert (mine["message_id"], mine["text"], mine["sender_role"]) == (
                by_seq[seq]["message_id"], by_seq[seq]["text"], by_seq[seq]["sender_role"]), seq
        for c in (writer, again):
            await c.close()

    arun(body(), 90)


def test_resume_in_sequence_order_and_up_to_date_positions(routed, proto, tenant):
    async def body():
        writer = await connect(routed, proto, tenant, 1)
        conversation, _ = await open_conversation(writer, KB_QUESTION)
        await bot_answer(writer, conversation)
        for _ in range(2):
            mid = await writer.send_text(conversation, KB_QUESTION)
            await writer.ack(mid)
            await bot_answer(writer, conversation)
        reader = await connect(routed, proto, tenant, 1)
        await reader.send({"kind": "resume", "positions": [{"conversation_id": conversation, "last_sequence": 0}]})
        frames = await reader.drain(0.6)
        seqs = [f["sequence"] for f in frames if f["kind"] == "deliver"]
        assert frames[0]["kind"] == "replay", frames[:2]
        assert seqs == [1, 2, 3, 4, 5, 6], "a resume's frames arrive in sequence order"
        # Up to date: nothing.
        await reader.send({"kind": "resume", "positions": [{"conversation_id": conversation, "last_sequence": 6}]})
        rest = await reader.drain(0.6)
        assert not [f for f in rest if f["kind"] in ("replay", "deliver", "gap")], rest
        for c in (writer, reader):
            await c.close()

    arun(body())


def test_positions_are_served_after_a_rejected_resume_token(routed, proto, tenant):
    async def body():
        writer = await connect(routed, proto, tenant, 1)
        conversation, _ = await open_conversation(writer, KB_QUESTION)
        await bot_answer(writer, conversation)
        reader = await Client.connect(routed.url, proto)
        await reader.hello(routed.token(tenant, 1, "customer"), resume_token="bogus")
        rejected = await reader.recv()
        assert rejected["kind"] == "error" and rejected["code"] == "resume_rejected"
        await reader.send({"kind": "resume", "resume_token": "bogus",
                           "positions": [{"conversation_id": conversation, "last_sequence": 0}]})
        track = SequenceTracker()
        await pump(reader, track, conversation, 2)
        for c in (writer, reader):
            await c.close()

    arun(body())
