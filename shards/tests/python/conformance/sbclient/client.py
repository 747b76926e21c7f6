"""An asyncio switchboard client on the `websockets` package, for both subprotocols.

Every wait is bounded: reads take a timeout, loops a count.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse

import websockets
from websockets.asyncio.client import connect as ws_connect

from . import codec

BINARY = "switchboard.v1"
JSON = "switchboard.json.v1"
READ_TIMEOUT = 10.0


class Closed(Exception):
    """The connection closed while a frame was expected."""

    def __init__(self, code, reason):
        super().__init__(f"connection closed: code={code} reason={reason!r}")
        self.code = code
        self.reason = reason


class NoFrame(AssertionError):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)


class Client:
    def __init__(self, ws, protocol: str, name: str = ""):
        self.ws = ws
        self.protocol = protocol
        self.name = name
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pending: list = []
        self.seen: list = []  # every frame received, for failure messages
        self.close_code = None
        self.close_reason = None
        self.protocol_errors: list = []
        self.reassembler = codec.Reassembler()
        self.auto_pong = True
        self.fragment_id = 1
        self.fragments_received = 0
        self.reader = asyncio.get_running_loop().create_task(self._read())

    # ------------------------------------------------------------------ connecting

    @classmethod
    async def connect(
        cls,
        url: str,
        protocol: str,
        *,
        header_token: str | None = None,
        query_token: str | None = None,
        subprotocols=None,
        name: str = "",
    ) -> "Client":
        headers = {}
        if header_token is not None:
            headers["Authorization"] = f"Bearer {header_token}"
        if query_token is not None:
            url = f"{url}?token={urllib.parse.quote(query_token, safe='')}"
        ws = await ws_connect(
            url,
            subprotocols=subprotocols if subprotocols is not None else [protocol],
            additional_headers=headers,
            open_timeout=READ_TIMEOUT,
            close_timeout=5,
            ping_interval=None,
            max_size=64 << 20,
            compression=None,
        )
        chosen = ws.subprotocol or protocol
        return cls(ws, chosen, name)

    async def hello(self, token: str = "", version: int = 1, resume_token: str = "") -> dict:
        await self.send({"kind": "hello", "protocol_version": version, "auth_token": token,
                         "resume_token": resume_token})
        welcome = await self.recv()
        assert welcome["kind"] == "welcome", f"{self.name}: expected welcome, got {welcome}"
        self.welcome = welcome
        return welcome

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 6)
        except Exception:
            pass
        self.reader.cancel()
        try:
            await self.reader
        except BaseException:
            pass

    # ------------------------------------------------------------------ sending

    def encode(self, frame: dict):
        if self.protocol == JSON:
            return codec.encode_json(frame)
        return codec.encode_binary(frame)

    async def send(self, frame: dict):
        await self.ws.send(self.encode(frame))

    async def send_many(self, frames):
        """Binary: all frames back to back in one WebSocket message; JSON: one message each."""
        if self.protocol == JSON:
            for frame in frames:
                await self.ws.send(codec.encode_json(frame))
        else:
            await self.ws.send(b"".join(codec.encode_binary(f) for f in frames))

    async def send_raw(self, data):
        await self.ws.send(data)

    async def send_fragmented(self, frame: dict, piece_size: int):
        """Sends `frame` as fragment frames of `piece_size` bytes of data (section 7)."""
        lane = frame.get("lane") or codec.KIND_BY_NAME[frame["kind"]][1]
        whole = self.encode(frame)
        if isinstance(whole, str):
            whole = whole.encode("utf-8")
        fid = self.fragment_id
        self.fragment_id += 1
        for piece in codec.fragment(whole, fid, piece_size, lane):
            await self.send(piece)

    async def send_text(self, conversation: int, text: str, mid: bytes | None = None) -> bytes:
        mid = mid or codec.new_message_id()
        await self.send({"kind": "send", "message_id": mid, "conversation_id": conversation, "text": text})
        return mid

    # ------------------------------------------------------------------ receiving

    async def _read(self):
        try:
            async for message in self.ws:
                try:
                    if isinstance(message, str):
                        if self.protocol != JSON:
                            raise codec.ProtocolError("text message under switchboard.v1")
                        frames = [codec.decode_json(message)]
                    else:
                        if self.protocol != BINARY:
                            raise codec.ProtocolError("binary message under switchboard.json.v1")
                        frames = codec.decode_binary_message(message)
                    for frame in frames:
                        await self._deliver(frame)
                except codec.ProtocolError as exc:
                    self.protocol_errors.append(str(exc))
                    await self.queue.put({"kind": "_protocol_error", "error": str(exc)})
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.ws.close_code is not None or self.close_code is None:
                self.close_code = self.ws.close_code
                self.close_reason = self.ws.close_reason
            await self.queue.put({"kind": "_closed", "code": self.close_code, "reason": self.close_reason})

    async def _deliver(self, frame):
        if frame["kind"] == "fragment":
            self.fragments_received += 1
            whole = self.reassembler.push(frame)
            if whole is None:
                return
            if self.protocol == JSON:
                inner = [codec.decode_json(whole.decode("utf-8"))]
            else:
                inner = codec.decode_binary_message(whole)
            for f in inner:
                if f["kind"] == "fragment":
                    raise codec.ProtocolError("a reassembled message is a fragment")
                await self._deliver(f)
            return
        if frame["kind"] == "ping" and self.auto_pong:
            # The receiver of a ping answers at once (section 8, Heartbeats).
            try:
                await self.send({"kind": "pong", "ping_timestamp_ms": frame["timestamp_ms"],
                                 "timestamp_ms": now_ms()})
            except websockets.ConnectionClosed:
                pass
        if isinstance(frame["kind"], int):
            return  # unknown kind: a client skips it silently (section 11)
        await self.queue.put(frame)

    async def _next_raw(self, timeout: float):
        if self.pending:
            return self.pending.pop(0)
        try:
            frame = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        self.seen.append(frame)
        return frame

    async def recv(self, timeout: float = READ_TIMEOUT, skip_pings: bool = True) -> dict:
        """The next frame; raises Closed when the connection ends, NoFrame after `timeout`."""
        deadline = time.monotonic() + timeout
        for _ in range(10_000):
            left = deadline - time.monotonic()
            frame = await self._next_raw(max(left, 0.001))
            if frame is None:
                raise NoFrame(f"{self.name}: no frame within {timeout}s; seen: {self.recent()}")
            if frame["kind"] == "_closed":
                self.pending.insert(0, frame)  # stays closed
                raise Closed(frame["code"], frame["reason"])
            if frame["kind"] == "_protocol_error":
                raise AssertionError(f"{self.name}: the server broke the framing: {frame['error']}")
            if skip_pings and frame["kind"] == "ping":
                continue  # answered by the reader
            return frame
        raise NoFrame("too many frames")

    async def try_recv(self, timeout: float) -> dict | None:
        try:
            return await self.recv(timeout)
        except NoFrame:
            return None

    async def take(self, pred, timeout: float = READ_TIMEOUT, limit: int = 200) -> dict:
        """The first frame for which `pred` holds; every other frame stays, in order, for later reads."""
        skipped = []
        deadline = time.monotonic() + timeout
        try:
            for _ in range(limit):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    frame = await self.recv(left)
                except NoFrame:
                    break
                if pred(frame):
                    return frame
                skipped.append(frame)
            raise NoFrame(f"{self.name}: the wanted frame did not come; got {short(skipped)}")
        finally:
            self.pending[0:0] = skipped

    async def take_kind(self, kind: str, timeout: float = READ_TIMEOUT, **match) -> dict:
        def pred(frame):
            return frame["kind"] == kind and all(frame.get(k) == v for k, v in match.items())

        return await self.take(pred, timeout)

    async def error(self, timeout: float = READ_TIMEOUT) -> dict:
        return await self.take_kind("error", timeout)

    async def ack(self, mid: bytes, timeout: float = READ_TIMEOUT) -> dict:
        return await self.take(lambda f: f["kind"] == "ack" and f["message_id"] == mid, timeout)

    async def drain(self, quiet: float = 0.3, limit: int = 500) -> list:
        frames = []
        for _ in range(limit):
            frame = await self.try_recv(quiet)
            if frame is None:
                break
            frames.append(frame)
        return frames

    async def expect_close(self, timeout: float = READ_TIMEOUT):
        """Reads (and returns with) frames until the close; returns (code, frames before it)."""
        frames = []
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                frames.append(await self.recv(left))
            except Closed as closed:
                return closed.code, frames
            except NoFrame:
                break
        raise NoFrame(f"{self.name}: no close within {timeout}s; frames {short(frames)}")

    def recent(self, n: int = 12):
        return short(self.seen[-n:])


def short(frames):
    out = []
    for f in frames:
        f = {k: v for k, v in f.items() if k != "_json"}
        for k, v in list(f.items()):
            if isinstance(v, (bytes, bytearray)):
                f[k] = v.hex()[:12]
            elif isinstance(v, str) and len(v) > 80:
                f[k] = v[:80] + "…"
        out.append(f)
    return out


class SequenceTracker:
    """Per conversation: the contiguous position plus the set of sequences held above it (docs section 4,
    `deliver`). A deliver at or below the position, or in the set, is a duplicate and is dropped."""

    def __init__(self):
        self.position = {}
        self.above = {}
        self.messages = {}  # (conversation, sequence) -> deliver frame (or ack marker)
        self.duplicates = 0

    def _advance(self, conv):
        pos = self.position.get(conv, 0)
        above = self.above.setdefault(conv, set())
        while pos + 1 in above:
            pos += 1
            above.discard(pos)
        self.position[conv] = pos

    def hold(self, conv: int, seq: int, item=None) -> bool:
        """Counts `seq` as held; returns False when it was a duplicate (and drops it)."""
        pos = self.position.get(conv, 0)
        above = self.above.setdefault(conv, set())
        if seq <= pos or seq in above:
            self.duplicates += 1
            return False
        above.add(seq)
        self.messages[(conv, seq)] = item
        self._advance(conv)
        return True

    def on_deliver(self, frame: dict) -> bool:
        return self.hold(frame["conversation_id"], frame["sequence"], frame)

    def on_ack(self, frame: dict) -> bool:
        return self.hold(frame["conversation_id"], frame["sequence"], frame)

    def on_gap(self, frame: dict):
        for seq in range(frame["from_sequence"], frame["to_sequence"] + 1):
            self.hold(frame["conversation_id"], seq, frame)

    def shown(self, conv: int):
        """The messages held, ordered by sequence."""
        return sorted(seq for (c, seq) in self.messages if c == conv)
