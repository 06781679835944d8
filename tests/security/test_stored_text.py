"""Text stored before the rules: mail built from it cannot break, and migration 0006 repairs it."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, insert, select

from aerie import accounts
from aerie.digests import note_new_stat
from aerie.keys import public_stat_id, random_key
from aerie.mail import compose
from aerie.migrate import alembic_config, upgrade
from aerie.schema import (
    access_tokens,
    comments,
    dashboard_cards,
    dashboards,
    stat_minutes,
    stats,
    users,
)
from aerie.settings import Settings
from aerie.stats import stat_by_public_id
from tests.alerts.test_mailings import Make, _quiet_database, scheduler
from tests.conftest import Account
from tests.smtp import Relay

__all__ = ["_quiet_database", "scheduler"]  # the mail tests' fixtures: no other mail or lease

REPAIRING = "0006"


def stored_stat(conn: Connection, user_id: int, name: str, kind: str = "counter") -> int:
    """A stat row written as the code before the rules did: whatever the name."""
    result = conn.execute(insert(stats).values(
        public_id=public_stat_id(), user_id=user_id, name=name, kind=kind,
        classic_key=random_key(), public=False, created_at=int(time.time())))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


# -- mail ------------------------------------------------------------------------------

def test_a_subject_and_recipient_with_line_breaks_become_one_header_each(
    settings: Settings,
) -> None:
    message = compose(settings, "anna@example.com\r\nBcc: eve@example.net",
                      "[Aerie] ALERT: hdr\r\nBcc: eve@example.net\x00 日本 is 5", "body")
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "[Aerie] ALERT: hdr Bcc: eve@example.net 日本 is 5"
    assert parsed["Subject"].isascii() is False  # decoded from RFC 2047 on the wire
    assert b"=?utf-8?" in message.as_bytes().split(b"\n\n")[0]


@pytest.mark.anyio
async def test_a_stat_named_with_a_header_injection_is_mailed_once_without_the_header(
    engine: Engine, app_server_settings: Settings, owner: Account, relay: Relay,
    scheduler: Make,
) -> None:
    """Before the fix, composing this digest raised on every pass, so nobody got mail."""
    with engine.begin() as conn:
        stat_id = stored_stat(conn, owner.user.id, "hdr\r\nBcc: eve@example.net")
        stat = stat_by_public_id(conn, owner.user.id, _public_id(conn, stat_id))
        assert stat is not None
        note_new_stat(conn, stat, int(time.time()))

    later = time.time() + 61
    run = scheduler(app_server_settings, engine, lambda: later)
    await run.tick()

    [(recipients, mail)] = [(to, m) for to, m in relay.received if owner.user.email in to]
    assert recipients == [owner.user.email]
    assert mail["Bcc"] is None
    assert mail["Subject"] == "[Aerie] New stat: hdr Bcc: eve@example.net"


def _public_id(conn: Connection, stat_id: int) -> str:
    return str(conn.execute(select(stats.c.public_id).where(stats.c.id == stat_id)).scalar_one())


# -- migration 0006 ----------------------------------------------------------------------

def _before_repair() -> str:
    """The revision just before the repair, wherever the migrations chain it."""
    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    down = script.get_revision(REPAIRING).down_revision
    assert isinstance(down, str)
    return down


def _user_at_0005(conn: Connection, email: str, now: int) -> int:
    """An account as the schema before the repair holds it (no ezkey claims yet)."""
    result = conn.execute(insert(users).values(
        email=email, ezkey=email, ez_enabled=True, ukey=random_key(), timezone="UTC",
        created_at=now, password_hash=None,
    ))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def test_migration_repairs_stored_names_and_keeps_the_data(fresh_engine: Engine) -> None:
    upgrade(fresh_engine, _before_repair())
    now = int(time.time())
    with fresh_engine.begin() as conn:
        anna = _user_at_0005(conn, "anna@example.com", now)
        bob = _user_at_0005(conn, "bob@example.com", now)
        names = {
            "hdr\r\nBcc: x": "hdr Bcc: x", "a\x00b": "a b", "rtl\u202e": "rtl",
            "plain\t": "plain (2)", "\u200b": "\ufffd", "\ufeff": "\ufffd (2)",
            "fine": "fine", "plain": "plain", "café 日本": "café 日本",
        }
        ids = {name: stored_stat(conn, anna, name) for name in names}
        theirs = stored_stat(conn, bob, "hdr\r\nBcc: x")
        conn.execute(insert(stat_minutes).values(stat_id=ids["hdr\r\nBcc: x"], bucket=now // 60 * 60,
                                                 n=1, sum=5, min=5, max=5))
        board = conn.execute(insert(dashboards).values(
            public_id=public_stat_id(), user_id=anna, name="Board\r\n", created_at=now)
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(insert(dashboard_cards).values(dashboard_id=board, position=0, kind="graph",
                                                    timeframe="1d", title="t\x1bitle"))
        conn.execute(insert(comments).values(stat_id=ids["fine"], user_id=anna, at=now,
                                             text="deploy\u2066 v2", created_at=now))
        accounts.create_token(conn, anna, "ci\n", now)

    upgrade(fresh_engine)

    with fresh_engine.connect() as conn:
        repaired = dict(conn.execute(select(stats.c.id, stats.c.name)).fetchall())
        assert {name: repaired[ids[name]] for name in names} == names
        assert repaired[theirs] == "hdr Bcc: x"  # unique per owner: bob's needs no suffix
        kept = conn.execute(select(stat_minutes.c.sum)
                            .where(stat_minutes.c.stat_id == ids["hdr\r\nBcc: x"])).scalar_one()
        assert kept == 5
        assert conn.execute(select(dashboards.c.name)).scalar_one() == "Board"
        assert conn.execute(select(dashboard_cards.c.title)).scalar_one() == "t itle"
        assert conn.execute(select(comments.c.text)).scalar_one() == "deploy v2"
        assert conn.execute(select(access_tokens.c.label)).scalar_one() == "ci"

