"""A second, independent WebSocket client (Python's `websockets`) against `switchboard serve --mode echo`.

Usage: echo_client.py ws://127.0.0.1:PORT/ws

Checks subprotocol negotiation, binary and text echo, a fragmented message, a large message the server
fragments, ping/pong, the close code echoed back, and concurrent clients. Every wait has a timeout. Prints
one line per check and a closing "N passed, N failed" line; exits non-zero on any failure.
"""

import asyncio
import sys

from websockets.asyncio.client import connect

TIMEOUT_S = 15
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT_S)


async def echo(ws, message):
    await ws.send(message)
    return await recv(ws) == message


async def close_with(ws, code):
    """Closes with `code`; returns the code of the server's Close reply."""
    await asyncio.wait_for(ws.close(code=code, reason="bye"), TIMEOUT_S)
    received = ws.protocol.close_rcvd
    return None if received is None else received.code


async def negotiation(uri):
    cases = [
        (["switchboard.v1"], "switchboard.v1"),
        (["switchboard.json.v1"], "switchboard.json.v1"),
        (["switchboard.json.v1", "switchboard.v1"], "switchboard.v1"),
        (None, None),
    ]
    for offer, expected in cases:
        async with connect(uri, subprotocols=offer, open_timeout=TIMEOUT_S) as ws:
            check(f"subprotocol offered {offer} -> {expected}", ws.subprotocol == expected, repr(ws.subprotocol))
            check(f"binary echo ({expected})", await echo(ws, bytes([0, 1, 2, 255])))
            check(f"text echo ({expected})", await echo(ws, "héllo, switchboard ✓"))
            code = await close_with(ws, 1000)
            check(f"close 1000 echoed ({expected})", code == 1000, repr(code))


async def messages(uri):
    async with connect(uri, subprotocols=["switchboard.v1"], open_timeout=TIMEOUT_S, max_size=None) as ws:
        await ws.send(["frag", "mented ", "téxt"])
        reply = await recv(ws)
        check("fragmented text comes back whole", reply == "fragmented téxt", repr(reply))
        await ws.send([b"\x01" * 5000, b"\x02" * 5000, b"\x03" * 5000])
        reply = await recv(ws)
        check("fragmented binary comes back whole", reply == b"\x01" * 5000 + b"\x02" * 5000 + b"\x03" * 5000)
        big = bytes(i * 31 % 256 for i in range(300 * 1024))
        check("300 KiB message (fragmented by the server) echoed", await echo(ws, big))
        pong = await ws.ping(b"py-ping")
        latency = await asyncio.wait_for(pong, TIMEOUT_S)
        check("ping answered by a pong", latency >= 0)
        code = await close_with(ws, 4000)
        check("close 4000 echoed", code == 4000, repr(code))


async def one_client(uri, client_id, count):
    async with connect(uri, subprotocols=["switchboard.v1"], open_timeout=TIMEOUT_S) as ws:
        for seq in range(count):
            message = f"client {client_id} message {seq}" if seq % 2 else bytes([client_id, seq % 256]) * 50
            if not await echo(ws, message):
                return False
        return await close_with(ws, 1000) == 1000


async def concurrent(uri):
    clients = 20
    results = await asyncio.gather(*(one_client(uri, i, 50) for i in range(clients)), return_exceptions=True)
    good = sum(1 for r in results if r is True)
    check(f"{clients} concurrent clients x 50 messages", good == clients, repr(results))


async def main(uri):
    for step in (negotiation, messages, concurrent):
        try:
            await asyncio.wait_for(step(uri), 120)
        except Exception as error:  # noqa: BLE001 - any failure of a step is reported, not raised
            check(step.__name__, False, f"{type(error).__name__}: {error}")
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed", flush=True)
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: echo_client.py ws://127.0.0.1:PORT/ws")
    sys.exit(asyncio.run(main(sys.argv[1])))
