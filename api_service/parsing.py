"""Turn what StatHat's clients send into points, or say exactly what to fix.

Every request form old clients use is accepted: GET with a query string, POST
with a form body (percent-encoded or not at all), POST with parameters in the
query string, and JSON bodies, single or batched. Query string and body merge,
the body winning.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import orjson

from aerie.errors import BadRequest, TooLarge
from aerie.schema import COUNTER, VALUE
from aerie.stats import check_name
from aerie.text_rules import check_text, decimal_number, is_decimal

_MILLISECONDS = 10**11  # unix seconds pass this in the year 5138
CHECKED_NAMES = 32_768  # stat names whose check is remembered (a few MB at most)
_EXACT_INT = 2**53  # JSON integers up to this convert to float exactly


class Point(NamedTuple):
    """One number for one stat: ``stat`` is a name (EZ, the listeners) or a classic key.
    A named tuple: a batch makes one per item, several times faster than a frozen
    dataclass."""

    stat: str
    kind: str  # COUNTER or VALUE
    x: float
    t: float


# Makes a Point of checked fields as the tuple it is, ``new_point(Point, (stat, kind,
# x, t))``: the named tuple's own constructor is a Python function that cost as much
# as the rest of a batch item's point (and of a Graphite line's).
new_point = tuple.__new__


@dataclass(frozen=True)
class Limits:
    batch_limit: int
    max_future_seconds: int
    max_past_seconds: int


# A JSON key "ezkey" (or "email", its pre-2012 name) and its string value, neither
# escaped: in valid JSON a string cannot hold this text, so only a key matches.
_JSON_EZKEY = re.compile(rb'"(?:ezkey|email)"\s*:\s*"([^"\\]{1,1000})"')


# Ezkeys json_ezkeys returns at most: a body is one client's, naming one ezkey; a body
# naming thousands would cost a key lookup each on the event loop.
_EZKEYS_LOOKED_AT = 2


def json_ezkeys(body: bytes) -> list[str]:
    """The first ezkeys a JSON body names as plain text, at any depth, found without
    parsing it (12 µs for a 1,000-item batch, against 84 µs to parse it). A body may
    name others, or escape its key: good for turning a request away, not for taking one."""
    found = itertools.islice(_JSON_EZKEY.finditer(body), _EZKEYS_LOOKED_AT)
    return [match.group(1).decode(errors="replace") for match in found]


def merged_params(query: bytes, content_type: str, body: bytes) -> dict[str, Any]:
    """Parameters from the query string and the body (form or JSON), the body winning; a
    name given twice in one of them takes its first value, as StatHat's Go server read
    forms (``Request.FormValue``)."""
    params: dict[str, Any] = dict(reversed(_form(query, "query string")))
    stripped = body.strip()
    if not stripped:
        return params
    if "json" in content_type or stripped[:1] in (b"{", b"["):
        try:
            document = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise BadRequest('a JSON body must be an object such as {"ezkey": ..., "data": [...]}')
        params.update(document)
    else:
        params.update(reversed(_form(body, "body")))
    return params


def _form(raw: bytes, where: str) -> list[tuple[str, str]]:
    try:
        text = raw.decode()
        if "%" in text or "+" in text:
            # errors="strict": a percent-escape that is not UTF-8 is refused, not replaced by U+FFFD
            return parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"the {where} is not UTF-8 text") from None
    # Nothing escaped: what parse_qsl makes of it, read in a tenth of its time (a classic
    # post's form was a sixth of its CPU). Empty pieces are skipped; "name" alone is "".
    return [(name, value) for name, _, value in (
        piece.partition("=") for piece in text.split("&") if piece)]


def number(params: dict[str, Any], name: str) -> float:
    """A finite ASCII decimal number; tolerates an unencoded ``1e+21`` that arrived as ``1e 21``."""
    raw = params[name]
    if isinstance(raw, bool) or raw is None:
        raise BadRequest(f"{name} must be a number, not {raw!r}")
    if isinstance(raw, (int, float)):
        x = float(raw)
    else:
        # ASCII spaces only: an unencoded "+12" or "1e+21" arrives as " 12" or "1e 21"
        text = str(raw).strip(" ")
        if not is_decimal(text) and is_decimal(text.replace(" ", "+")):
            text = text.replace(" ", "+")
        x = decimal_number(name, text)
    if not math.isfinite(x):
        raise BadRequest(f"{name} must be a finite number, not {raw!r}")
    return x


def timestamp(params: dict[str, Any], now: float, limits: Limits) -> float:
    """``t`` in unix seconds, or ``now`` when absent; absurd times are refused."""
    if params.get("t") in (None, ""):
        return now
    t = number(params, "t")
    if t > now + limits.max_future_seconds:
        hint = " (it looks like milliseconds; send unix seconds)" if t > _MILLISECONDS else ""
        raise BadRequest(f"t={params['t']} is too far in the future{hint}")
    if t < now - limits.max_past_seconds:
        raise BadRequest(f"t={params['t']} is too far in the past")
    return t


def fan_out(name: str) -> list[str]:
    """``prefix~a,b`` names ``prefix a`` and ``prefix b``; checks every resulting name."""
    if not isinstance(name, str):
        raise BadRequest(f"stat must be a string, not {name!r}")
    return list(_checked_names(name))


@functools.lru_cache(maxsize=CHECKED_NAMES)
def _checked_names(name: str) -> tuple[str, ...]:
    """Remembered: clients send the same names again and again, and checking a name cost
    more than the rest of its point (a refused name raises, and is not remembered)."""
    check_text("stat", name)  # positions as the client sent them, before any fan-out
    if "~" not in name:
        return (check_name(name),)
    prefix, _, rest = name.partition("~")
    parts = [part.strip() for part in rest.split(",") if part.strip()]
    if not parts:
        raise BadRequest(f"stat {name!r} has nothing after '~' to fan out to")
    prefix = prefix.rstrip()
    return tuple(check_name(f"{prefix} {part}" if prefix else part) for part in parts)


def ez_point_values(params: dict[str, Any], now: float, limits: Limits) -> list[Point]:
    """The points of one EZ item (``stat`` with ``count`` or ``value``, optional ``t``)."""
    if params.get("stat") in (None, ""):
        raise BadRequest("no stat specified")
    has_count = params.get("count") not in (None, "")
    has_value = params.get("value") not in (None, "")
    if has_count == has_value:
        raise BadRequest(
            "send count or value, not both" if has_count else "no count or value specified"
        )
    kind = COUNTER if has_count else VALUE
    x = number(params, "count" if has_count else "value")
    t = timestamp(params, now, limits)
    return [new_point(Point, (name, kind, x, t)) for name in fan_out(params["stat"])]


def ez_points(params: dict[str, Any], now: float, limits: Limits) -> list[Point]:
    """The points of an EZ request, single or a JSON batch (``data``).

    Every name a tilde fans out to is a point counted against the batch limit:
    one short request could otherwise name (and create) thousands of stats.
    """
    if "data" not in params:
        return _within_limit(ez_point_values(params, now, limits), limits)
    data = params["data"]
    if not isinstance(data, list):
        raise BadRequest('"data" must be a list of points such as [{"stat": "x", "count": 1}]')
    if not data:
        raise BadRequest('"data" holds no points')
    if len(data) > limits.batch_limit:
        raise TooLarge(
            f"the batch holds {len(data)} points; the limit is {limits.batch_limit} per request"
        )
    points: list[Point] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadRequest(f"data[{i}] must be an object, not {item!r}")
        try:
            point = _plain_point(item, now, limits)
            if point is not None:
                points.append(point)  # one point an item: within the limit checked above
                continue
            points.extend(ez_point_values(item, now, limits))
        except BadRequest as exc:
            raise BadRequest(f"data[{i}]: {exc.message}") from None
        _within_limit(points, limits)
    return _within_limit(points, limits)


def _plain_point(item: dict[str, Any], now: float, limits: Limits) -> Point | None:
    """The point of a batch item in the form nearly every client sends (one stat name, a
    JSON number for count or value, no ``t`` or a JSON number in range), or None: then
    ``ez_point_values`` reads the item, or says what is wrong with it. Reading batch
    items through it was a third of a 1,000-point batch's CPU (bench/ingest.py)."""
    stat, count, value = item.get("stat"), item.get("count"), item.get("value")
    if type(stat) is not str or not stat or (count is None) == (value is None):
        return None
    raw, kind = (value, VALUE) if count is None else (count, COUNTER)
    if type(raw) is int and -_EXACT_INT <= raw <= _EXACT_INT or type(raw) is float and (
        math.isfinite(raw)
    ):
        x = float(raw)
    else:
        return None
    t = item.get("t")
    if t is None:
        t = now
    elif (type(t) is int or type(t) is float) and (
        now - limits.max_past_seconds <= t <= now + limits.max_future_seconds
    ):
        t = float(t)
    else:
        return None
    names = _checked_names(stat)
    if len(names) != 1:
        return None
    return new_point(Point, (names[0], kind, x, t))


def _within_limit(points: list[Point], limits: Limits) -> list[Point]:
    if len(points) > limits.batch_limit:
        raise BadRequest(
            f"the request names {len(points)} or more stats once '~' is fanned out; "
            f"the limit is {limits.batch_limit} points per request, fanned-out names included"
        )
    return points


def classic_point(params: dict[str, Any], kind: str, now: float, limits: Limits) -> Point:
    """The point of a classic ``/c`` (counter) or ``/v`` (value) request."""
    field = "count" if kind == COUNTER else "value"
    if params.get(field) in (None, ""):
        raise BadRequest(f"no {field} specified")
    return Point(params["key"], kind, number(params, field), timestamp(params, now, limits))


def wants_body(params: dict[str, Any]) -> bool:
    return str(params.get("vb", "")) in ("1", "true", "True")
