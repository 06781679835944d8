"""Sign-ups on the open internet: one address cannot make accounts without end, an
e-mail is one account whatever its case, and an address a mail header would read as
something else is refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest
from sqlalchemy import Engine

from aerie.errors import BadRequest, Conflict, TooManyRequests
from aerie.passwords import Passwords
from aerie.settings import Settings
from interactor.base import Services
from interactor.sessions import log_in, sign_up
from presenters.mail import TemplateMail

PASSWORD = "long enough password"


def _services(engine: Engine, signups_per_hour: int = 0) -> Services:
    return Services(engine, cast(Any, None), cast(Any, None),
                    passwords=Passwords(time_cost=1, memory_kib=1024),
                    signups_per_hour=signups_per_hour,
                    account_mail=TemplateMail(Settings(secret_key="tests-only-key")))


def _unique(name: str) -> str:
    return f"{name}-{time.time_ns()}@example.com"


def test_one_address_may_sign_up_so_many_accounts_an_hour(engine: Engine) -> None:
    svc = _services(engine, signups_per_hour=2)
    client = f"198.51.100.{time.time_ns() % 250}"

    async def run() -> None:
        for _ in range(2):
            await sign_up(svc, _unique("allowed"), PASSWORD, "UTC", client)
        with pytest.raises(TooManyRequests, match="at most 2"):
            await sign_up(svc, _unique("third"), PASSWORD, "UTC", client)
        await sign_up(svc, _unique("elsewhere"), PASSWORD, "UTC", "203.0.113.77")

    asyncio.run(run())


def test_an_email_is_one_account_whatever_its_case(engine: Engine) -> None:
    svc = _services(engine)
    email = _unique("Mixed.Case")

    async def run() -> None:
        first = await sign_up(svc, email, PASSWORD, "UTC", "203.0.113.5")
        for variant in (email.lower(), email.upper()):
            with pytest.raises(Conflict):
                await sign_up(svc, variant, PASSWORD, "UTC", "203.0.113.5")
        session = await log_in(svc, email.upper(), PASSWORD, "203.0.113.5")
        assert session.user.id == first.user.id

    asyncio.run(run())


@pytest.mark.parametrize("email", [
    "x+<script>@example.com", "x<postmaster>@example.com", "(c)v@example.com",
    "a,b@example.com", '"quoted"@example.com', "a;b@example.com", "v@[127.0.0.1]",
])
def test_an_address_a_mail_header_would_read_otherwise_is_refused(
    engine: Engine, email: str
) -> None:
    with pytest.raises(BadRequest, match="does not look like an e-mail address"):
        asyncio.run(sign_up(_services(engine), email, PASSWORD, "UTC", "203.0.113.6"))
