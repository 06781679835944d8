"""The ingestion side of EZ sign-up (``AERIE_EZ_SIGNUP``, ``aerie.ez_signup``): the hook
the EZ endpoint calls when no account has the posted ezkey, and the stat limit of the
pending accounts it makes. Only those rare requests reach this module, so the hot
path of known keys costs nothing more."""

from __future__ import annotations

import ipaddress

from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from aerie.accounts import User, looks_like_email
from aerie.ez_signup import SignupRules, make_pending_account
from aerie.settings import Settings
from aerie.transactions import write

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EzSignup:
    """Makes pending accounts for unknown e-mails, within the settings' limits."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._engine = engine
        self._rules = SignupRules.from_settings(settings)
        self._proxies = [ipaddress.ip_network(p, strict=False)
                         for p in settings.trusted_proxy_list]

    async def account_for(self, ezkey: str, scope: Scope, now: int) -> User | None:
        """A new pending account for ``ezkey`` (an e-mail no account has), or None if
        it cannot have one: not an e-mail, taken, or a limit reached. The request's
        ``scope`` names the client: the peer, or the X-Forwarded-For client of a
        trusted proxy."""
        if not looks_like_email(ezkey):
            return None  # before any transaction: a flood of junk keys takes no write lock
        peer = scope.get("client")
        # every X-Forwarded-For line, in order: a proxy may add its own line after the
        # client's, and the first alone would be whatever the client wrote
        forwarded = ", ".join(value.decode("latin-1") for name, value in scope["headers"]
                              if name == b"x-forwarded-for")
        client = client_address(peer[0] if peer else "unknown", forwarded, self._proxies)

        def work(conn: Connection) -> User | None:
            return make_pending_account(conn, ezkey, client, now, self._rules)

        return await run_in_threadpool(write, self._engine, work)

    @property
    def max_stats(self) -> int:
        """How many stats a pending account may hold until it is claimed."""
        return self._rules.max_stats


def client_address(peer: str, forwarded: str, proxies: list[Network]) -> str:
    """The client's address: from a trusted proxy, the nearest untrusted address its
    X-Forwarded-For names; otherwise the peer itself."""
    hops = [peer, *reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()])]
    for hop in hops:
        if not _trusted(hop, proxies):
            return hop
    return hops[-1]


def _trusted(address: str, proxies: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)
