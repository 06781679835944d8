"""Who may call an app server: the holders of the shared RPC secret.

Every call carries three headers: ``X-Aerie-Timestamp`` (unix seconds),
``X-Aerie-Nonce`` (random, so two identical calls in one second differ) and
``X-Aerie-Signature``, the hex HMAC-SHA256 under the secret of
``timestamp + "." + nonce + "." + body``. The server recomputes it and compares
in constant time, refuses a timestamp more than ``WINDOW_SECONDS`` from its own
clock, and refuses a signature it has already accepted inside that window, so a
captured call can neither be altered nor played again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

TIMESTAMP_HEADER = "X-Aerie-Timestamp"
NONCE_HEADER = "X-Aerie-Nonce"
SIGNATURE_HEADER = "X-Aerie-Signature"

WINDOW_SECONDS = 30
# Signatures remembered against replay; far more than the calls of one window.
MAX_REMEMBERED = 100_000


class Unsigned(Exception):
    """The call is not signed by a holder of the secret; the message says what is wrong."""


def signature(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp.nonce.body`` under ``secret``."""
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate ``body``, timestamped ``now`` (default: the clock)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, body),
    }


class Verifier:
    """Checks the signature headers of calls to one server, remembering those it accepted."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("the RPC secret is empty; set AERIE_RPC_SECRET")
        self._secret = secret
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if ``body`` was signed with the secret just now and not seen before;
        raise ``Unsigned`` otherwise."""
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        given = headers.get(SIGNATURE_HEADER, "")
        if not (timestamp and nonce and given):
            raise Unsigned(
                f"unsigned call: {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER} "
                "are required"
            )
        if not timestamp.isdigit():
            raise Unsigned(f"{TIMESTAMP_HEADER} must be unix seconds, not {timestamp[:20]!r}")
        now = self._clock()
        if abs(now - int(timestamp)) > WINDOW_SECONDS:
            raise Unsigned(
                f"stale call: its timestamp is more than {WINDOW_SECONDS} s from this server's "
                "clock (are the hosts' clocks synchronised?)"
            )
        expected = signature(self._secret, timestamp, nonce, body)
        if not hmac.compare_digest(expected, given):
            raise Unsigned("bad signature: is AERIE_RPC_SECRET the same on every host?")
        self._remember(expected, now)

    def _remember(self, accepted: str, now: float) -> None:
        """Refuse a signature seen inside the window; forget those older than it."""
        while self._seen and (
            next(iter(self._seen.values())) < now - 2 * WINDOW_SECONDS
            or len(self._seen) >= MAX_REMEMBERED
        ):
            self._seen.popitem(last=False)
        if accepted in self._seen:
            raise Unsigned("replayed call: this signature was already used")
        self._seen[accepted] = now
