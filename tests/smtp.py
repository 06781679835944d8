"""A real SMTP relay for mail tests: aiosmtpd on a free port, keeping what it is given.

A pytest plugin (named in tests/conftest.py), so every test folder has the ``relay`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from aerie.settings import Settings
from tests.servers import free_port


@dataclass
class Relay:
    """What the relay received, and recipients it refuses with a 550."""

    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` sending through this relay (plain SMTP: it offers no STARTTLS)."""
        return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": self.port,
                                           "smtp_starttls": False,
                                           "smtp_from": "Aerie <alerts@aerie.test>"})

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def relay() -> Iterator[Relay]:
    handler = Relay(free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()
