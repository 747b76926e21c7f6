"""Fixtures of the switchboard protocol conformance suite.

Environment (set by scripts/conformance-test.sh):
  SB_BINARY   the `switchboard` binary (default: target/debug/switchboard)
  SB_FBS_PY   directory holding the `flatc --python` bindings (default: generated here into a temp dir)
  SB_WORK     a scratch directory: server data dirs, logs, and `server.pids` (the script kills what it lists)

Servers are started once per configuration, on first use, on a free loopback port, and stopped (by PID)
when the session ends; each runs with PR_SET_PDEATHSIG so it cannot outlive a killed pytest either.
Tests isolate themselves by tenant: every test gets its own tenant id.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
sys.path.insert(0, str(HERE))

_work = Path(os.environ.get("SB_WORK") or tempfile.mkdtemp(prefix="sb-conformance-"))
_work.mkdir(parents=True, exist_ok=True)

if not os.environ.get("SB_FBS_PY"):
    generated = _work / "fbs-python"
    if not (generated / "switchboard" / "v1").is_dir():
        subprocess.run(
            ["flatc", "--python", "-o", str(generated), str(ROOT / "protocol/schema/switchboard.fbs")],
            check=True,
        )
    os.environ["SB_FBS_PY"] = str(generated)
sys.path.insert(0, os.environ["SB_FBS_PY"])

from sbclient import client as sbc  # noqa: E402
from sbclient import tokens  # noqa: E402

BINARY = os.environ.get("SB_BINARY") or str(ROOT / "target/debug/switchboard")
KEY_ID = "k1"
KEY_HEX = secrets.token_hex(32)
PROTOCOLS = [sbc.BINARY, sbc.JSON]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the server gets SIGKILL if pytest dies.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


class Server:
    """One `switchboard serve --mode chat` process."""

    def __init__(self, name: str, chat: dict, shards: int):
        self.name = name
        self.dir = _work / f"server-{name}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.port = _free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        chat_lines = "\n".join(f"{k} = {v}" for k, v in chat.items())
        (self.dir / "serve.toml").write_text(
            f'''mode = "chat"
admin_listen = "off"
data_dir = "{self.dir}/data"

[chat]
{chat_lines}

# A shared, busy test machine makes slow ticks; degradation has no test here.
[overload]
enabled = false

[auth]
active_key_id = "{KEY_ID}"
keys = [{{ id = "{KEY_ID}", secret_hex = "{KEY_HEX}" }}]
'''
        )
        self.log = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--config", str(self.dir / "serve.toml"), "--listen",
             f"127.0.0.1:{self.port}", "--shards", str(shards), "--log-level", "warn"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        with open(_work / "server.pids", "a") as pids:
            pids.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {name} exited: {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server {name} did not listen in 20 s: {self.tail()}")

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join((self.dir / "server.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def token(self, tenant, user, role, groups=(), **kw) -> str:
        return tokens.mint(KEY_HEX, KEY_ID, tenant, user, role, groups, **kw)


ROUTED_CHAT = {"routing_enabled": "true"}
PLAIN_CHAT = {"routing_enabled": "false"}

_servers: dict = {}


def _server(name: str, chat: dict, shards: int) -> Server:
    if name not in _servers:
        _servers[name] = Server(name, chat, shards)
    return _servers[name]


@pytest.fixture(scope="session")
def routed():
    """Routing on (the bot, tickets, handoffs), 2 connection shards."""
    return _server("routed", ROUTED_CHAT, 2)


@pytest.fixture(scope="session")
def plain():
    """Routing off (plain messaging: no bot answers take sequences), 1 shard (per-shard quotas are exact)."""
    return _server("plain", PLAIN_CHAT, 1)


def pytest_sessionfinish(session, exitstatus):
    for server in _servers.values():
        server.stop()
        if exitstatus != 0:
            sys.stderr.write(f"\n--- server {server.name} log tail ---\n{server.tail()}\n")


@pytest.fixture(params=PROTOCOLS, ids=["binary", "json"])
def proto(request):
    return request.param


_tenants = itertools.count(1000 + (os.getpid() % 1000) * 1000)


@pytest.fixture
def tenant():
    return next(_tenants)


def arun(coro, timeout: float = 60):
    """Runs one test body on a fresh event loop, bounded in time."""

    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())
