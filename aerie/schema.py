"""The schema, in SQLAlchemy Core: one definition for SQLite and MySQL/MariaDB.

Rollup tables hold ``(stat_id, bucket) -> n, sum, min, max`` at three
resolutions; buckets are unix seconds at the start of the minute, hour or
(UTC) day.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def exact_string(length: int) -> String:
    """A string compared byte for byte: keys, ids and names are case-sensitive."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", exact_string(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=True),
    Column("ezkey", exact_string(255), nullable=False, unique=True),
    Column("ez_enabled", Boolean, nullable=False, default=True),
    Column("ukey", exact_string(64), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("created_at", BigInteger, nullable=False),
    # The daily report: the local hour it arrives (None: no report) and the local
    # date of the last one sent, so a day is reported once whatever the restarts.
    Column("report_hour", Integer, nullable=True),
    Column("report_sent_for", String(10), nullable=True),
    # When the last new-stat digest went out: at most one per few minutes.
    Column("digest_sent_at", BigInteger, nullable=True),
    # When the owner proved the e-mail is theirs (None: not yet; no alert mail until then).
    Column("email_verified_at", BigInteger, nullable=True),
    # An account an EZ post made for an unknown e-mail (AERIE_EZ_SIGNUP): when it and its
    # data are deleted unless claimed. None for every ordinary account.
    Column("pending_until", BigInteger, nullable=True),
    Index(None, "pending_until"),
    # a deleted account's id never comes back (migration 0014): the API caches keys by id
    sqlite_autoincrement=True,
)

# One-use links mailed to an account: reset (a new password), verify (this e-mail is
# mine) and claim (an EZ-made account's first password). Only the token's SHA-256 is
# kept; ``email`` is the address the link went to, which must still be the account's.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", exact_string(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(8), nullable=False),
    Column("email", exact_string(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    Index(None, "user_id"),
)

# Requests that are limited per subject and time (a reset mail per e-mail and per client
# address, an EZ sign-up per address and in all): kept in the database, so every web and
# API copy counts the same.
limited_requests = Table(
    "limited_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index(None, "action", "subject", "at"),
)

# Every ezkey an account has held, its live one included: a key given up stays
# reserved to its account, so nobody else can take it and receive its clients' posts.
ezkey_claims = Table(
    "ezkey_claims",
    metadata,
    Column("ezkey", exact_string(255), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
    Index(None, "user_id"),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", exact_string(64), nullable=False, unique=True),
    Column("prefix", String(8), nullable=False),
    Column("label", String(255), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Index(None, "user_id"),
)

# A browser session: the cookie carries the token, only its hash is stored, and
# deleting the row ends the session however long the cookie would have lived.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", exact_string(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", exact_string(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "user_id"),
)

# Failed log-ins, kept in the database so every web copy enforces the same limit.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(255), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index(None, "email", "at"),
    Index(None, "address", "at"),
)

COUNTER = "counter"
VALUE = "value"

stats = Table(
    "stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", exact_string(16), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", exact_string(255), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("classic_key", exact_string(64), nullable=False, unique=True),
    Column("unit", String(32), nullable=True),
    # What the stat measures, in the owner's words (shown under its name); "" for none.
    Column("description", String(1000), nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("data_received_at", BigInteger, nullable=True),
    # Set when the owner deletes the stat: it waits in the trash, restorable, until purged.
    Column("deleted_at", BigInteger, nullable=True),
    UniqueConstraint("user_id", "name", name="uq_stats_user_id_name"),
    sqlite_autoincrement=True,  # as users': a deleted stat's id never comes back
)


def _rollup(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("stat_id", Integer, primary_key=True, autoincrement=False),
        Column("bucket", BigInteger, primary_key=True, autoincrement=False),
        Column("n", BigInteger, nullable=False),
        Column("sum", Double, nullable=False),
        Column("min", Double, nullable=False),
        Column("max", Double, nullable=False),
    )


# A dashboard: cards in order, each a graph, number or table of 1 to 3 stats.
dashboards = Table(
    "dashboards",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", exact_string(16), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "user_id"),
)

dashboard_cards = Table(
    "dashboard_cards",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dashboard_id", Integer, ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),  # graph, number or table
    Column("timeframe", String(16), nullable=False),
    Column("title", String(255), nullable=False, default=""),
    Index(None, "dashboard_id", "position"),
)

# A card's stats in order; purging a stat takes it off every card.
card_stats = Table(
    "card_stats",
    metadata,
    Column("card_id", Integer, ForeignKey("dashboard_cards.id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), nullable=False),
    Index(None, "stat_id"),
)

# An embed key: shares one stat or one dashboard, read-only, with whoever holds it.
# Revoking keeps the row, so the key answers "no longer shared" rather than "unknown".
shares = Table(
    "shares",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", exact_string(32), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), nullable=True),
    Column("dashboard_id", Integer, ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Index(None, "user_id"),
    Index(None, "stat_id"),
    Index(None, "dashboard_id"),
)

# A comment on a stat at a moment (StatHat's comments, Graphite's events): a graph marker.
# Tags group stats in the list (several per stat); stored as the owner typed them.
stat_tags = Table(
    "stat_tags",
    metadata,
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", exact_string(64), primary_key=True),
    Index(None, "tag"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("text", String(1000), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "stat_id", "at"),
)

# Mail waiting to go out: written in the same transaction as whatever caused it, so a
# relay outage delays mail and loses none. ``message`` is the whole RFC 5322 message.
webhook_deliveries = Table(
    # the webhook outbox: written with its event, claimed and posted by the scheduler
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(1000), nullable=False),
    Column("body", Text, nullable=False),  # the JSON posted, composed when the event happened
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("done_at", BigInteger, nullable=True),  # delivered, or given up
    Index(None, "done_at", "next_attempt_at"),
    Index(None, "event_id"),
)


outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("recipient", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # alert, report, digest...
    Column("message", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
           nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger, nullable=True),
    Column("sent_by", String(16), nullable=True),  # "smtp", or "dev" when kept for the dev page
    Column("last_error", String(500), nullable=True),
    Index(None, "sent_at", "next_attempt_at"),
    Index(None, "user_id"),
)

# An alert on one stat (STATHAT_API.md, "Alerts"); ``state`` is ok or firing.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("public_id", exact_string(16), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # value, delta or data
    Column("time_window", String(4), nullable=False),
    Column("operator", String(16), nullable=True),
    Column("threshold", Double, nullable=True),
    Column("percentage", Double, nullable=True),
    Column("time_delta", String(4), nullable=True),
    Column("repeat_minutes", Integer, nullable=False, default=0),  # 0: notify once per firing
    Column("email", Boolean, nullable=False, default=True),
    Column("webhook_url", String(1000), nullable=True),
    Column("state", String(8), nullable=False, default="ok"),
    Column("state_since", BigInteger, nullable=False),
    Column("last_value", Double, nullable=True),
    Column("last_evaluated_at", BigInteger, nullable=True),
    Column("last_notified_at", BigInteger, nullable=True),
    Column("silenced_until", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "user_id"),
    Index(None, "stat_id"),
)

# Every notification an alert sent (or held back while silenced): its history.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("event", String(10), nullable=False),  # firing, repeat or resolved
    Column("value", Double, nullable=True),
    Column("message", String(500), nullable=False),
    Column("email_status", String(32), nullable=True),
    Column("webhook_status", String(200), nullable=True),
    # The outbox row of its mail: delivery writes the mail's fate into email_status.
    Column("mail_id", Integer, nullable=True),
    Index(None, "alert_id", "at"),
    Index(None, "mail_id"),
)

# The stats in a user's daily report.
report_stats = Table(
    "report_stats",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
)

# Stats the EZ API created that their owner has not yet been told about.
new_stat_notices = Table(
    "new_stat_notices",
    metadata,
    Column("stat_id", Integer, ForeignKey("stats.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "user_id"),
)

# Who may act alone (the scheduler): a holder and when its claim lapses if not renewed.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Double, nullable=False),
)

# The group commits of the last while, by id, written in the commit itself: after a
# connection lost during COMMIT, the writer looks its batch up to learn the outcome.
commit_batches = Table(
    "commit_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("committed_at", BigInteger, nullable=False),
    Index(None, "committed_at"),
)

stat_minutes = _rollup("stat_minutes")
stat_hours = _rollup("stat_hours")
stat_days = _rollup("stat_days")

MINUTE, HOUR, DAY = 60, 3600, 86400

# Resolution in seconds -> table, finest first; the writer upserts in this order.
ROLLUPS: tuple[tuple[int, Table], ...] = ((MINUTE, stat_minutes), (HOUR, stat_hours), (DAY, stat_days))
