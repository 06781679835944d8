"""Password hashing: argon2id at the cost the settings give.

Production keeps argon2-cffi's defaults (3 passes over 64 MiB); the test suite sets
``AERIE_PASSWORD_HASH_TIME_COST`` and ``_MEMORY_KIB`` low, because a strong hash is
meant to be slow and the suite makes hundreds of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aerie.settings import Settings


@dataclass(frozen=True)
class PasswordHash:
    """An encoded argon2 hash, typed apart from a plain password so neither is stored
    in the other's place."""

    encoded: str


class Passwords:
    """Hashes new passwords and checks given ones."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(settings.password_hash_time_cost, settings.password_hash_memory_kib)

    def hash(self, password: str) -> PasswordHash:
        return PasswordHash(self._hasher.hash(password))

    def matches(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` is the one ``stored`` was made from. With nothing stored
        (no such account, or no password) a dummy hash is checked all the same, so a
        wrong e-mail costs as long as a wrong password and timing tells nothing."""
        try:
            self._hasher.verify(stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored is not None

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash("no such account")
