"""Where a webhook may go: the outside world only, checked at save and again at send.

A webhook URL is a user's request that *our* servers make an HTTP call. Left
unchecked it reaches what only our servers can reach: the ingestion API on
loopback (Anna's alert writing into Bob's account through ``/ez``), the
database, a cloud's metadata service. So the host is resolved and every
address it resolves to is classified; any internal one refuses the whole
target, whatever its spelling (``localhost``, ``2130706433``, ``0x7f000001``,
``127.1``, ``[::1]``, ``[::ffff:127.0.0.1]``). The send connects to the very
address that was checked, so a DNS answer that changes between check and
connect (rebinding) cannot switch it, and redirects are never followed.
``AERIE_WEBHOOK_ALLOW`` lists the internal networks and host names an operator
wants reachable anyway.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx

from aerie.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 1000

# Internal ranges that ``is_global`` alone lets through on some Python versions, and the
# cloud metadata services by name (they sit inside link-local and ULA, listed for clarity).
_INTERNAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "169.254.169.254/32", "224.0.0.0/4",
    "fc00::/7", "fe80::/10", "ff00::/8", "fd00:ec2::254/128",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(BadRequest):
    """The URL is malformed, or its host is internal, or it cannot be resolved."""


class InternalTarget(TargetRefused):
    """The host resolves to an address only our own network should reach."""


@dataclass(frozen=True)
class AllowList:
    """Internal networks and host names an operator lets webhooks reach (AERIE_WEBHOOK_ALLOW)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """``10.0.0.0/8,hooks.internal,::1``; ValueError names an entry that is neither."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or not all(p.replace("-", "").isalnum()
                                           for p in entry.rstrip(".").split(".")):
                    raise ValueError(
                        f"{entry!r} is neither a CIDR (10.0.0.0/8) nor a host name"
                    ) from None
                hosts.add(entry.rstrip(".").lower())
        return cls(tuple(networks), frozenset(hosts))

    def admits(self, host: str, address: IPAddress) -> bool:
        return host in self.hosts or any(address in n for n in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked webhook: its URL, and the address the send must connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def is_internal(address: IPAddress) -> bool:
    """Whether the address is anything but the public internet (an IPv6 address that
    embeds an IPv4 one is judged by the IPv4 one)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_internal(embedded)
    return (not address.is_global or address.is_multicast or address.is_unspecified
            or address.is_reserved or any(address in n for n in _INTERNAL_NETWORKS
                                          if n.version == address.version))


def parse_url(url: str) -> tuple[str, str, int]:
    """The scheme, host (lower case, without brackets) and port of an http(s) URL with no
    user name or password; TargetRefused says what to fix."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise TargetRefused("webhook_url must be an http:// or https:// URL (up to 1000 "
                            "characters, no spaces)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("webhook_url has a malformed host or port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("webhook_url must be an http:// or https:// URL with a host name")
    if "@" in parts.netloc:
        raise TargetRefused("webhook_url must not carry a user name or password")
    return parts.scheme, parts.hostname.rstrip("."), port or (443 if parts.scheme == "https" else 80)


def check(url: str, allow: AllowList) -> Target:
    """Resolve the URL's host and refuse it if any address it resolves to is internal
    (unless allowed). Blocking (DNS): call it from a worker thread."""
    scheme, host, port = parse_url(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(f"webhook_url's host {host!r} could not be found") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses or any(is_internal(a) and not allow.admits(host, a) for a in addresses):
        raise InternalTarget(
            "webhook_url must reach the public internet, and its host resolves to an internal "
            "address (loopback, private, link-local or the like); an operator may allow it "
            "with AERIE_WEBHOOK_ALLOW")
    return Target(url, scheme, host, port, str(addresses[0]))


@dataclass(frozen=True)
class Answer:
    """What became of one POST, in the words the alert history shows."""

    outcome: str  # "delivered (HTTP 2xx)", "failed (HTTP 5xx)", "failed (timed out)", ...
    retry: bool  # worth another attempt later


async def post_json(url: str, body: dict[str, Any], allow: AllowList,
                    deadline_seconds: float) -> Answer:
    """Check the target, then POST ``body`` to the checked address, all within
    ``deadline_seconds`` (a server that trickles its answer cannot hold us longer)."""
    try:
        with anyio.fail_after(deadline_seconds):
            target = await anyio.to_thread.run_sync(check, url, allow, abandon_on_cancel=True)
            return _answer(await _post(target, body, deadline_seconds))
    except InternalTarget:
        return Answer("refused: internal address", retry=False)
    except TargetRefused:
        return Answer("failed (host not found)", retry=True)
    except TimeoutError:
        return Answer("failed (timed out)", retry=True)
    except httpx.HTTPError:
        return Answer("failed (could not connect)", retry=True)


async def _post(target: Target, body: dict[str, Any], timeout: float) -> httpx.Response:
    """POST to the checked address, with the URL's host in the Host header and, for
    https, in SNI and the certificate check."""
    url = httpx.URL(target.url)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header += f":{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    async with httpx.AsyncClient(timeout=timeout, trust_env=False,
                                 follow_redirects=False) as http:
        return await http.post(url.copy_with(host=target.address), json=body,
                               headers={"Host": host_header}, extensions=extensions)


def _answer(response: httpx.Response) -> Answer:
    status = response.status_code
    word = "delivered" if 200 <= status < 300 else "failed"
    return Answer(f"{word} (HTTP {status // 100}xx)", retry=status >= 500 or status == 429)
