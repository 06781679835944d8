"""Alerts: their rules as STATHAT_API.md gives them, and the SQL that keeps them.

Kinds: ``value`` (the window's total for a counter, its mean for a value stat,
``greater than`` / ``less than`` a threshold), ``delta`` (the window against the
same window ``time_delta`` earlier, by more than ``percentage``: ``different
than``, ``greater than``, ``less than``) and ``data`` (no data within the
window). The rules themselves live in ``aerie.alert_rules``; reading a rule from a
form is the interactor's (``interactor.alert_forms``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from aerie import webhook_targets
from aerie.contracts import Rule
from aerie.errors import Conflict, NotFound
from aerie.keys import public_stat_id
from aerie.schema import alert_events, alerts, stats, users
from aerie.stats import STAT_COLUMNS, Stat
from aerie.webhook_targets import AllowList

KINDS = ("value", "delta", "data")
WINDOWS = {"5m": 300, "1h": 3600, "3h": 3 * 3600, "1d": 86400, "1w": 7 * 86400,
           "1M": 30 * 86400, "1y": 365 * 86400}
OPERATORS = {"greater than": "greater than", "gt": "greater than",
             "less than": "less than", "lt": "less than",
             "different than": "different than", "dt": "different than"}
MAX_REPEAT_MINUTES = 7 * 24 * 60
OK, FIRING = "ok", "firing"
PENDING = "pending"  # an event's mail or webhook, not yet queued or posted


@dataclass(frozen=True)
class Alert:
    id: int
    public_id: str
    user_id: int
    stat_id: int
    kind: str
    time_window: str
    operator: str | None
    threshold: float | None
    percentage: float | None
    time_delta: str | None
    repeat_minutes: int
    email: bool
    webhook_url: str | None
    state: str
    state_since: int
    last_value: float | None
    last_evaluated_at: int | None
    last_notified_at: int | None
    silenced_until: int | None
    created_at: int

    @property
    def window_seconds(self) -> int:
        return WINDOWS[self.time_window]

    @property
    def delta_seconds(self) -> int:
        return WINDOWS[self.time_delta or self.time_window]

    def silenced(self, now: int) -> bool:
        return self.silenced_until is not None and now < self.silenced_until


@dataclass(frozen=True)
class AlertEvent:
    id: int
    alert_id: int
    at: int
    event: str  # firing, repeat or resolved
    value: float | None
    message: str
    email_status: str | None
    webhook_status: str | None


_COLUMNS = tuple(alerts.c[f.name] for f in fields(Alert))
_EVENT_COLUMNS = tuple(alert_events.c[f.name] for f in fields(AlertEvent))


def check_webhook(rule: Rule, allow: AllowList) -> None:
    """Refuse a webhook whose host is internal or unknown (BadRequest says so). Blocking
    (DNS): call it from a worker thread."""
    if rule.webhook_url:
        webhook_targets.check(rule.webhook_url, allow)


def draft(rule: Rule, user_id: int, stat_id: int, now: int) -> Alert:
    """An unsaved alert with this rule, ok, for a backtest before saving."""
    return Alert(id=0, public_id="", user_id=user_id, stat_id=stat_id, **vars(rule), state=OK,
                 state_since=now, last_value=None, last_evaluated_at=None, last_notified_at=None,
                 silenced_until=None, created_at=now)


def rule_of(alert: Alert) -> Rule:
    return Rule(**{f.name: getattr(alert, f.name) for f in fields(Rule)})


def create_alert(conn: Connection, user_id: int, stat_id: int, rule: Rule, now: int) -> Alert:
    """A new alert, ok until its first evaluation says otherwise."""
    values = {**vars(rule), "user_id": user_id, "stat_id": stat_id, "state": OK,
              "state_since": now, "created_at": now}
    for _attempt in range(5):
        public_id = public_stat_id()
        try:
            with conn.begin_nested():
                conn.execute(insert(alerts).values(public_id=public_id, **values))
        except IntegrityError:
            continue  # a random id collided; draw again
        return owned_alert(conn, user_id, public_id)
    raise Conflict("could not draw a unique alert id; try again")


def update_rule(conn: Connection, alert: Alert, rule: Rule) -> Alert:
    """New parameters; the state starts afresh, so the next evaluation judges anew."""
    conn.execute(update(alerts).where(alerts.c.id == alert.id).values(
        **vars(rule), state=OK, last_value=None))
    return owned_alert(conn, alert.user_id, alert.public_id)


def owned_alert(conn: Connection, user_id: int, public_id: str) -> Alert:
    """The user's alert, or NotFound: another user's alert looks exactly like a missing one."""
    row = conn.execute(select(*_COLUMNS).where(
        alerts.c.user_id == user_id, alerts.c.public_id == public_id)).first()
    if row is None:
        raise NotFound(f"no alert with id {public_id!r}")
    return Alert(*row)


def alert_by_id(conn: Connection, alert_id: int) -> Alert:
    """An alert by row id, for the scheduler's own work."""
    return Alert(*conn.execute(select(*_COLUMNS).where(alerts.c.id == alert_id)).one())


def event_by_id(conn: Connection, event_id: int) -> AlertEvent:
    return AlertEvent(*conn.execute(
        select(*_EVENT_COLUMNS).where(alert_events.c.id == event_id)).one())


def alerts_of_user(conn: Connection, user_id: int, stat_id: int | None = None) -> list[Alert]:
    """The user's alerts on live stats (or on one stat), firing first."""
    query = (select(*_COLUMNS).join(stats, stats.c.id == alerts.c.stat_id)
             .where(alerts.c.user_id == user_id, stats.c.deleted_at.is_(None)))
    if stat_id is not None:
        query = query.where(alerts.c.stat_id == stat_id)
    rows = conn.execute(query.order_by(alerts.c.state.desc(), alerts.c.id))
    return [Alert(*r) for r in rows]


def live_alerts(conn: Connection) -> list[Alert]:
    """Every alert on a live stat: what the scheduler evaluates each minute."""
    rows = conn.execute(select(*_COLUMNS).join(stats, stats.c.id == alerts.c.stat_id)
                        .where(stats.c.deleted_at.is_(None)).order_by(alerts.c.id))
    return [Alert(*r) for r in rows]


def delete_alert(conn: Connection, alert: Alert) -> None:
    conn.execute(delete(alerts).where(alerts.c.id == alert.id))


def silence(conn: Connection, alert: Alert, until: int | None) -> Alert:
    """Hold notifications back until ``until`` (None lifts the silence); states still change."""
    conn.execute(update(alerts).where(alerts.c.id == alert.id).values(silenced_until=until))
    return replace(alert, silenced_until=until)


def claim_evaluation(conn: Connection, alert: Alert, minute: int, now: int) -> bool:
    """Mark the alert judged at ``now`` unless someone judged it since ``minute`` began;
    False when another scheduler got there first (its transaction decides the event)."""
    return conn.execute(update(alerts).where(
        alerts.c.id == alert.id,
        (alerts.c.last_evaluated_at.is_(None)) | (alerts.c.last_evaluated_at < minute),
    ).values(last_evaluated_at=now)).rowcount == 1


def settle_pending_mail(conn: Connection, event_id: int, status: str) -> bool:
    """Move the event's mail from pending to ``status``; False when another scheduler
    settled it first (so it queues no second mail)."""
    return conn.execute(update(alert_events).where(
        alert_events.c.id == event_id, alert_events.c.email_status == PENDING,
    ).values(email_status=status)).rowcount == 1


def link_mail(conn: Connection, event_id: int, mail_id: int) -> None:
    """Name the outbox row holding the event's mail, so its delivery updates the event."""
    conn.execute(update(alert_events).where(alert_events.c.id == event_id)
                 .values(mail_id=mail_id))


def record_mail_outcome(conn: Connection, mail_id: int, status: str) -> None:
    """Show what became of a mail (sent, refused, retrying) on the event that queued it;
    mail of no alert event changes nothing."""
    conn.execute(update(alert_events).where(alert_events.c.mail_id == mail_id)
                 .values(email_status=status[:32]))


@dataclass(frozen=True)
class PendingMail:
    """An event whose mail is still to be queued, with what the mail needs."""

    alert: Alert
    stat: Stat
    event: AlertEvent
    timezone: str  # the owner's, for the graph; UTC when the owner is gone
    verified: bool  # the owner's address is confirmed (False when the owner is gone)


def pending_mail(conn: Connection) -> list[PendingMail]:
    """Every event whose mail is pending, oldest first, in one query."""
    rows = conn.execute(
        select(*_COLUMNS, *_EVENT_COLUMNS, *STAT_COLUMNS, users.c.timezone,
               users.c.email_verified_at.is_not(None))
        .select_from(alert_events)
        .join(alerts, alerts.c.id == alert_events.c.alert_id)
        .join(stats, stats.c.id == alerts.c.stat_id)
        .outerjoin(users, users.c.id == alerts.c.user_id)
        .where(alert_events.c.email_status == PENDING).order_by(alert_events.c.id))
    alert_end = len(_COLUMNS)
    event_end = alert_end + len(_EVENT_COLUMNS)
    found = []
    for row in rows:
        stat = list(row[event_end:event_end + len(STAT_COLUMNS)])
        stat[7] = bool(stat[7])  # ``public``: MySQL answers 0 or 1
        found.append(PendingMail(Alert(*row[:alert_end]), Stat(*stat),
                                 AlertEvent(*row[alert_end:event_end]), row[-2] or "UTC",
                                 bool(row[-1])))
    return found


def record_evaluation(conn: Connection, alert: Alert, **changes: object) -> None:
    """Store what an evaluation changed: state, last value, times."""
    conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**changes))


def add_event(conn: Connection, alert: Alert, at: int, event: str, value: float | None,
              message: str) -> int:
    result = conn.execute(insert(alert_events).values(
        alert_id=alert.id, at=at, event=event, value=value, message=message[:500]))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_event_delivery(conn: Connection, event_id: int, *, email_status: str | None = None,
                       webhook_status: str | None = None) -> None:
    values = {k: v for k, v in (("email_status", email_status),
                                ("webhook_status", webhook_status)) if v is not None}
    if values:
        conn.execute(update(alert_events).where(alert_events.c.id == event_id).values(**values))


def events_of_alert(conn: Connection, alert: Alert, limit: int = 100) -> list[AlertEvent]:
    rows = conn.execute(select(*_EVENT_COLUMNS).where(alert_events.c.alert_id == alert.id)
                        .order_by(alert_events.c.at.desc(), alert_events.c.id.desc()).limit(limit))
    return [AlertEvent(*r) for r in rows]
