"""The mail outbox: mail is a row first, and leaves only when a relay has taken it.

Whatever causes a mail (an alert firing, a report falling due) writes it here
in its own transaction, so a relay outage delays mail and loses none. The
deliverer claims due rows, sends them, and marks each sent or schedules its
next attempt with a doubling back-off. Claiming moves ``next_attempt_at``
ahead with a conditional update, so two deliverers never send one mail twice
unless one of them stalls longer than ``CLAIM_SECONDS`` mid-send.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from sqlalchemy import Connection, func, insert, select, update

from aerie.schema import outbox

FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
CLAIM_SECONDS = 300
ERROR_LENGTH = 500


@dataclass(frozen=True)
class Mail:
    id: int
    user_id: int | None
    recipient: str
    subject: str
    kind: str
    message: bytes
    created_at: int
    attempts: int
    next_attempt_at: int
    sent_at: int | None
    sent_by: str | None  # "smtp"; "dev" (kept for the dev mail page); "refused" (given up)
    last_error: str | None


_COLUMNS = (
    outbox.c.id, outbox.c.user_id, outbox.c.recipient, outbox.c.subject, outbox.c.kind,
    outbox.c.message, outbox.c.created_at, outbox.c.attempts, outbox.c.next_attempt_at,
    outbox.c.sent_at, outbox.c.sent_by, outbox.c.last_error,
)


def _mail(row: object) -> Mail:
    return Mail(*row)  # type: ignore[misc]


def enqueue(
    conn: Connection, message: EmailMessage, *, kind: str, user_id: int | None, now: int
) -> int:
    """Queue a composed message (its To and Subject headers say where and what)."""
    result = conn.execute(insert(outbox).values(
        user_id=user_id, recipient=str(message["To"]), subject=str(message["Subject"])[:255],
        kind=kind, message=message.as_bytes(policy=SMTP), created_at=now, attempts=0,
        next_attempt_at=now,
    ))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def claim_due(conn: Connection, now: int, limit: int = 20) -> list[Mail]:
    """Unsent mail whose time has come, oldest first, claimed for ``CLAIM_SECONDS``."""
    return [mail for mail in due_mail(conn, now, limit) if claim(conn, mail, now)]


def due_mail(conn: Connection, now: int, limit: int) -> list[Mail]:
    rows = conn.execute(
        select(*_COLUMNS)
        .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    return [_mail(row) for row in rows]


def claim(conn: Connection, mail: Mail, now: int) -> bool:
    """Move the mail's next attempt past ``CLAIM_SECONDS`` if nobody has since it was read;
    False when another deliverer claimed it first."""
    return conn.execute(
        update(outbox)
        .where(outbox.c.id == mail.id, outbox.c.next_attempt_at == mail.next_attempt_at,
               outbox.c.sent_at.is_(None))
        .values(next_attempt_at=now + CLAIM_SECONDS)
    ).rowcount == 1


def mark_sent(conn: Connection, mail_id: int, now: int, by: str) -> None:
    conn.execute(update(outbox).where(outbox.c.id == mail_id).values(
        sent_at=now, sent_by=by, attempts=outbox.c.attempts + 1, last_error=None))


def mark_failed(conn: Connection, mail: Mail, now: int, error: str, *, permanent: bool) -> None:
    """Record a failed attempt: retry after the back-off, or give up if the relay refused
    the recipient outright (a 5xx answer will not change by retrying)."""
    attempts = mail.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "last_error": error[:ERROR_LENGTH],
                                 "next_attempt_at": now + retry_delay(attempts)}
    if permanent:
        values |= {"sent_at": now, "sent_by": "refused"}
    conn.execute(update(outbox).where(outbox.c.id == mail.id).values(**values))


def retry_delay(attempts: int) -> int:
    """30 s after the first failure, doubling, at most an hour: a day-long outage costs
    about 30 attempts per mail and delivers within an hour of the relay's return."""
    return int(min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS))


def pending_count(conn: Connection) -> int:
    """Mail not yet sent: the outbox depth."""
    return int(conn.execute(
        select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar_one())


def recent_mail(conn: Connection, limit: int = 50, user_id: int | None = None,
                kind: str | None = None) -> list[Mail]:
    """The newest mail (to one user, of one kind, if given), sent or not, for the
    development mail page."""
    query = select(*_COLUMNS)
    if user_id is not None:
        query = query.where(outbox.c.user_id == user_id)
    if kind is not None:
        query = query.where(outbox.c.kind == kind)
    rows = conn.execute(query.order_by(outbox.c.id.desc()).limit(limit))
    return [_mail(r) for r in rows]


def mail_by_id(conn: Connection, mail_id: int) -> Mail | None:
    row = conn.execute(select(*_COLUMNS).where(outbox.c.id == mail_id)).first()
    return _mail(row) if row else None
