"""What user text may hold before it is stored: one rule for names, titles, comments and numbers.

Stored text travels into mail headers, CSV and log lines, terminals and HTML.
A line break in a stat name injected mail headers (and made the mail library
raise on every scheduler pass); a right-to-left override makes a name read
differently from what it is. So text from users is refused, with the character
and its position named, when it holds control characters (C0, DEL, C1), line or
paragraph separators, bidi overrides and isolates, a byte-order mark, lone
surrogates, or nothing visible at all. Ordinary letters of any script, emoji,
and the bidi marks (U+200E, U+200F) that right-to-left text needs are fine.

Numbers are ASCII decimal only: Python's float() also reads ``１２``, ``nan``,
``infinity`` and ``1_000``, which no StatHat client sends and which must not
become 12 or a non-finite number.
"""

from __future__ import annotations

import math
import re
import unicodedata

from aerie.errors import BadRequest

_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

# Controls (C0, DEL, C1: Unicode category Cc), bidi embeddings and overrides (U+202A-202E)
# and isolates (U+2066-2069), line and paragraph separators, the byte-order mark, and lone
# surrogates (category Cs). One regular expression: it runs on every ingested stat name.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff"
                      "\ud800-\udfff]")
_PLAIN_NAMES = {
    "\x00": "null", "\t": "tab", "\n": "line feed", "\x0b": "vertical tab", "\x0c": "form feed",
    "\r": "carriage return", "\x1b": "escape", "\x7f": "delete", "\x85": "next line",
    "\ufeff": "byte order mark",
}


def check_text(what: str, text: str) -> str:
    """Return ``text`` unchanged if it may be stored; raise BadRequest naming the first
    refused character and its position (1 is the first), or saying nothing in it is visible.

    Whitespace-only text passes, so each caller keeps its own "is empty" message.
    """
    found = _REFUSED.search(text)
    if found:
        raise BadRequest(f"{what}: character {describe(found.group())} at position "
                         f"{found.start() + 1} is not allowed; use printable characters only")
    if not _has_visible(text):
        raise BadRequest(f"{what} has no visible character; write some letters or digits")
    return text


def is_storable(text: str) -> bool:
    """True if ``check_text`` would take ``text``: for rows stored before these rules."""
    return _REFUSED.search(text) is None and _has_visible(text)


def replace_refused(text: str, by: str = " ") -> str:
    """``text`` with each character ``check_text`` refuses replaced ``by``."""
    return _REFUSED.sub(by, text)


def describe(char: str) -> str:
    """``U+000D (carriage return)``: the code point and a name a person can search for."""
    name = _PLAIN_NAMES.get(char) or unicodedata.name(char, "").lower()
    if not name:
        name = "control character" if unicodedata.category(char) == "Cc" else "unnamed character"
    return f"U+{ord(char):04X} ({name})"


def _has_visible(text: str) -> bool:
    """True for whitespace-only text (the caller's "empty"), and for text holding a character
    that is not a separator or an invisible format character (zero-width space, joiner...)."""
    if text.isascii() or not text.strip():
        return True  # ASCII without controls: every character but a space is visible
    return any(unicodedata.category(char)[0] not in "ZC"
               or unicodedata.category(char) in ("Co", "Cn") for char in text)


def is_decimal(text: str) -> bool:
    """``37``, ``-0.372``, ``.5``, ``1e+21``: ASCII digits, sign, point and exponent only."""
    return _DECIMAL.fullmatch(text) is not None


def is_whole_number(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``２`` and ``²``, which int() refuses)."""
    return bool(text) and text.isascii() and text.isdigit()


def decimal_number(what: str, text: str) -> float:
    """The finite number ``text`` spells in ASCII decimal or exponent form; BadRequest naming
    a character that is not printable ASCII (``１`` looks like a digit), or the form expected."""
    if not is_decimal(text):
        for position, char in enumerate(text, start=1):
            if not (char.isascii() and char.isprintable()):
                raise BadRequest(f"{what}: character {describe(char)} at position {position} "
                                 "is not allowed; send a decimal number such as 37 or 0.372")
        raise BadRequest(f"{what} must be a number, such as 37, 0.372 or 1e+21 "
                         f"(an ASCII decimal number), not {text!r}")
    number = float(text)
    if not math.isfinite(number):
        raise BadRequest(f"{what} must be a finite number, not {text!r}")
    return number
