"""Mail goes out through a real SMTP relay, from a durable outbox that survives outages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from aerie import alerts, outbox
from aerie.delivery import RETRYING, SENT, deliver_due
from aerie.mail import compose
from aerie.settings import Settings
from interactor.alert_forms import parse_rule
from tests.conftest import Account, make_stat
from tests.servers import free_port
from tests.smtp import Relay

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
NOW = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def unreachable(settings: Settings) -> Settings:
    """Settings naming a relay where nothing listens."""
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port(),
                                       "smtp_starttls": False})


def queue(engine: Engine, settings: Settings, to: str = "ann@example.com") -> int:
    message = compose(settings, to, "CPU is high", "CPU went over 90.",
                      '<p>CPU went over 90.</p><img src="cid:graph">', {"graph": PNG})
    with engine.begin() as conn:
        return outbox.enqueue(conn, message, kind="alert", user_id=None, now=NOW)


def test_a_queued_mail_reaches_the_relay_with_its_graph_inline(
    engine: Engine, settings: Settings, relay: Relay
) -> None:
    settings = relay.settings_for(settings)
    mail_id = queue(engine, settings)

    assert deliver_due(engine, settings, Clock()).sent == 1

    [(recipients, message)] = relay.received
    assert recipients == ["ann@example.com"]
    assert message["Subject"] == "CPU is high"
    assert message.get_body(("plain",)).get_content().strip() == "CPU went over 90."  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    [image] = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert image.get_payload(decode=True) == PNG
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    with engine.connect() as conn:
        sent = outbox.mail_by_id(conn, mail_id)
        assert sent is not None and sent.sent_by == "smtp" and sent.sent_at == NOW
        assert outbox.pending_count(conn) == 0
    assert deliver_due(engine, settings, Clock()).sent == 0  # never twice


def test_a_relay_outage_delays_mail_with_back_off_and_loses_none(
    engine: Engine, settings: Settings, relay: Relay
) -> None:
    down = unreachable(settings)
    mail_id = queue(engine, down)
    clock = Clock()

    assert deliver_due(engine, down, clock).failed == 1
    clock.now += outbox.FIRST_RETRY_SECONDS - 1
    assert deliver_due(engine, down, clock) == deliver_due(engine, down, clock)  # not yet due
    clock.now += 1
    assert deliver_due(engine, down, clock).failed == 1  # second attempt
    with engine.connect() as conn:
        waiting = outbox.mail_by_id(conn, mail_id)
        assert waiting is not None and waiting.attempts == 2 and waiting.sent_at is None
        assert "unreachable" in (waiting.last_error or "")
        assert waiting.next_attempt_at == int(clock.now) + 2 * outbox.FIRST_RETRY_SECONDS
        assert outbox.pending_count(conn) == 1

    clock.now += 2 * outbox.FIRST_RETRY_SECONDS
    assert deliver_due(engine, relay.settings_for(settings), clock).sent == 1
    assert len(relay.received) == 1


def test_a_relay_without_starttls_gets_no_mail_in_clear_unless_told(
    engine: Engine, settings: Settings, relay: Relay
) -> None:
    wants_tls = relay.settings_for(settings).model_copy(update={"smtp_starttls": True})
    mail_id = queue(engine, wants_tls)

    assert deliver_due(engine, wants_tls, Clock()).failed == 1

    assert relay.received == []
    with engine.connect() as conn:
        waiting = outbox.mail_by_id(conn, mail_id)
    assert waiting is not None and waiting.sent_at is None  # kept, to retry
    assert "offers no STARTTLS" in (waiting.last_error or "")


def test_retry_delays_double_up_to_an_hour() -> None:
    assert [outbox.retry_delay(n) for n in (1, 2, 3, 8, 30)] == [30, 60, 120, 3600, 3600]


def test_a_refused_recipient_is_given_up_and_the_rest_still_go(
    engine: Engine, settings: Settings, relay: Relay
) -> None:
    settings = relay.settings_for(settings)
    relay.refuse.add("gone@example.com")
    refused = queue(engine, settings, "gone@example.com")
    queue(engine, settings, "ann@example.com")

    result = deliver_due(engine, settings, Clock())

    assert (result.sent, result.failed) == (1, 1)
    with engine.connect() as conn:
        mail = outbox.mail_by_id(conn, refused)
        assert mail is not None and mail.sent_by == "refused" and "550" in (mail.last_error or "")
    assert [r for r, _m in relay.received] == [["ann@example.com"]]


def test_without_a_relay_mail_is_kept_for_the_development_page(
    engine: Engine, settings: Settings
) -> None:
    assert settings.dev_mail
    mail_id = queue(engine, settings)
    assert deliver_due(engine, settings, Clock()).sent == 1
    with engine.connect() as conn:
        [newest, *_] = outbox.recent_mail(conn)
    assert newest.id == mail_id and newest.sent_by == "dev"
    assert b"CPU went over 90." in newest.message


def test_a_mail_read_by_two_deliverers_is_claimed_by_one(
    engine: Engine, settings: Settings
) -> None:
    queue(engine, settings)
    with engine.connect() as conn:
        [seen_by_a] = outbox.due_mail(conn, NOW, 10)
        [seen_by_b] = outbox.due_mail(conn, NOW, 10)  # both read it before either claimed

    with engine.begin() as conn:
        assert outbox.claim(conn, seen_by_a, NOW)
    with engine.begin() as conn:
        assert not outbox.claim(conn, seen_by_b, NOW)  # its read is stale: A has it


def test_two_deliverers_at_once_send_each_mail_exactly_once(
    engine: Engine, settings: Settings, relay: Relay
) -> None:
    settings = relay.settings_for(settings)
    for n in range(12):
        queue(engine, settings, f"user{n}@example.com")
    clock = Clock()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: deliver_due(engine, settings, clock), range(2)))

    assert sum(r.sent for r in results) == 12
    assert sorted(r[0] for r, _m in relay.received) == sorted(f"user{n}@example.com" for n in range(12))


@pytest.fixture(autouse=True)
def _empty_outbox(engine: Engine) -> None:
    """The outbox is global: start each test with none of another test's mail."""
    from aerie.schema import outbox as table

    with engine.begin() as conn:
        conn.execute(table.delete())


def test_an_alert_events_mail_status_follows_its_delivery(
    engine: Engine, settings: Settings, relay: Relay, owner: Account
) -> None:
    """The alert history says what became of the mail: retrying while the relay is down,
    then sent; never "queued" once the deliverer has tried it."""
    stat = make_stat(engine, owner, "cpu", "value")
    with engine.begin() as conn:
        alert = alerts.create_alert(conn, owner.user.id, stat.id, parse_rule(
            {"kind": "value", "time_window": "5m", "operator": "gt", "threshold": "90"}), NOW)
        event_id = alerts.add_event(conn, alert, NOW, "firing", 97.0, "cpu is 97")
        alerts.set_event_delivery(conn, event_id, email_status="queued")
    mail_id = queue(engine, settings, owner.user.email)
    with engine.begin() as conn:
        alerts.link_mail(conn, event_id, mail_id)
    clock = Clock()

    def status() -> str | None:
        with engine.connect() as conn:
            return alerts.event_by_id(conn, event_id).email_status

    assert status() == "queued"
    deliver_due(engine, unreachable(settings), clock)
    assert status() == RETRYING
    clock.now += outbox.FIRST_RETRY_SECONDS
    deliver_due(engine, relay.settings_for(settings), clock)
    assert status() == SENT
