"""Unguessable keys and short public ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_key(length: int = 22) -> str:
    """A base62 secret; 22 characters carry about 131 bits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public_stat_id() -> str:
    """A short, case-sensitive id like StatHat's (``VP6Z``); not a secret."""
    return random_key(6)


def hash_token(token: str) -> str:
    """Access tokens are stored only as their SHA-256, so a database leak reveals none."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
