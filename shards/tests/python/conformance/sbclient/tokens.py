"""Bearer tokens, version 2, as docs/protocol.md "Authentication tokens" specifies them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

ROLES = {"customer": 0, "agent": 1, "bot": 2, "admin": 3}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(
    key_hex: str,
    key_id: str,
    tenant: int,
    user: int,
    role: str,
    groups=(),
    issued_at: int | None = None,
    ttl_s: int = 3600,
    value: int = 255,
) -> str:
    now = int(time.time())
    issued = now - 5 if issued_at is None else issued_at
    if role != "agent":
        groups = ()
    if role != "customer":
        value = 255
    payload = bytes([2, len(key_id)]) + key_id.encode("ascii") + bytes([ROLES[role]])
    payload += struct.pack(">QQQQ", tenant, user, issued, issued + ttl_s)
    payload += bytes([len(groups)]) + b"".join(struct.pack(">I", g) for g in groups)
    payload += bytes([value])
    mac = hmac.new(bytes.fromhex(key_hex), payload, hashlib.sha256).digest()
    return f"{_b64url(payload)}.{_b64url(mac)}"
