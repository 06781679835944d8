"""Mail as people read it: the scheduler's mail rendered from ``templates/mail/``, and the
JSON twins of the development mail pages.

Each mail is three templates, ``NAME.subject.txt``, ``NAME.txt`` and ``NAME.html``,
with the pages' filters and link helpers (``aerie.urls``). Only the HTML part is autoescaped: the text part shows a stat
named ``a & b`` as it is.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from aerie import urls
from aerie.alerts import Alert, AlertEvent
from aerie.digests import Digest
from aerie.mail import compose
from aerie.numbers import compact_number
from aerie.outbox import Mail
from aerie.reports import DayFigure
from aerie.settings import Settings
from aerie.stats import Stat
from interactor.dev_mail import MailPage, OpenedMail
from presenters.filters import FILTERS
from presenters.html import TEMPLATES, URL_GLOBALS

MAX_ALERT_SUBJECT = 250  # an alert's headline can be long; its subject is cut here


def signed_percent(change: float | None) -> str:
    """'+12.5%', '-3.0%', or '—' when there is nothing to compare against."""
    return "—" if change is None else f"{change:+.1f}%"


def make_mail_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES / "mail"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS, signed_percent=signed_percent)
    env.globals.update(URL_GLOBALS)
    return env


class TemplateMail:
    """``aerie.mail.MailComposer`` from templates; templates receive plain data."""

    def __init__(self, settings: Settings, environment: Environment | None = None) -> None:
        self._settings = settings
        self._env = environment or make_mail_environment()

    def alert(self, to: str, alert: Alert, stat: Stat, event: AlertEvent,
              graph_png: bytes | None) -> EmailMessage:
        page = {"message": event.message, "has_graph": graph_png is not None,
                "alert_id": alert.public_id}
        return self._compose("alert", to, page, {"graph": graph_png} if graph_png else None,
                             subject_limit=MAX_ALERT_SUBJECT)

    def digest(self, digest: Digest) -> EmailMessage:
        page = {"stats": [{"name": s.name, "public_id": s.public_id} for s in digest.stats]}
        return self._compose("digest", digest.email, page)

    def report(self, to: str, day: date, figures: list[DayFigure],
               graphs: dict[str, bytes]) -> EmailMessage:
        rows = [{"name": f.stat.name, "public_id": f.stat.public_id,
                 "figure": _figure(f.value, f.stat), "change_day": f.change_day,
                 "change_week": f.change_week, "has_graph": f.stat.public_id in graphs}
                for f in figures]
        page = {"title": f"Your stats for {day:%A %d %B %Y}", "rows": rows}
        images = {f"s{public_id}": png for public_id, png in graphs.items()}
        return self._compose("report", to, page, images)

    def password_reset(self, to: str, token: str) -> EmailMessage:
        return self._compose("password_reset", to, {"token": token, "email": to})

    def verify_email(self, to: str, token: str) -> EmailMessage:
        return self._compose("verify_email", to, {"token": token, "email": to})

    def invitation(self, to: str, token: str, stats: list[str], expires_at: int) -> EmailMessage:
        page = {"token": token, "email": to, "stats": stats, "expires_at": expires_at}
        return self._compose("invitation", to, page)

    def _compose(self, name: str, to: str, page: dict[str, Any],
                 images: dict[str, bytes] | None = None,
                 subject_limit: int | None = None) -> EmailMessage:
        page = {**page, "web_url": self._settings.web_url, "reports_page": urls.REPORTS}
        subject = self._env.get_template(f"{name}.subject.txt").render(page).strip()
        text = self._env.get_template(f"{name}.txt").render(page)
        html = self._env.get_template(f"{name}.html").render(page)
        return compose(self._settings, to, subject[:subject_limit], text, html, images)


def _figure(value: float | None, stat: Stat) -> str:
    if value is None:
        return "no data"
    shown = compact_number(value)
    return f"{shown} {stat.unit}" if stat.unit else shown


def _mail(mail: Mail) -> dict[str, Any]:
    return {"id": mail.id, "to": mail.recipient, "subject": mail.subject, "kind": mail.kind,
            "created_at": mail.created_at, "sent_at": mail.sent_at, "sent_by": mail.sent_by,
            "attempts": mail.attempts, "last_error": mail.last_error}


def mail_page(result: MailPage) -> list[dict[str, Any]]:
    return [_mail(m) for m in result.mail]


def opened_mail(result: OpenedMail) -> dict[str, Any]:
    return {**_mail(result.mail), "text": result.text}
