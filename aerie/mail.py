"""Composing mail and handing it to the SMTP relay (``AERIE_SMTP_*``).

Messages carry a plain-text part and an HTML part whose images travel inline
(``cid:`` references in a multipart/related), so graphs show in mail clients
that block remote images and nothing in a mail points back at a private URL.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
from collections.abc import Mapping
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import TYPE_CHECKING, Any, Protocol

from aerie.settings import Settings
from aerie.text_rules import replace_refused

if TYPE_CHECKING:  # the mail's subjects; they import nothing of this module's at run time
    from aerie.alerts import Alert, AlertEvent
    from aerie.digests import Digest
    from aerie.reports import DayFigure
    from aerie.stats import Stat

IMPLICIT_TLS_PORT = 465


class DeliveryFailed(Exception):
    """The relay did not take a message; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class AccountMail(Protocol):
    """The mail about an account itself, each carrying a one-use link's token (the
    wording and the link's address are the presenter's: ``presenters.mail``)."""

    def password_reset(self, to: str, token: str) -> EmailMessage:
        """A link to choose a new password, for someone who asked and may have forgotten."""
        ...

    def verify_email(self, to: str, token: str) -> EmailMessage:
        """A link that proves ``to`` belongs to the account's owner."""
        ...

    def invitation(self, to: str, token: str, stats: list[str], expires_at: int) -> EmailMessage:
        """An account an EZ post made for ``to``: claim it (choose a password) before
        ``expires_at``, or it and its ``stats`` are deleted."""
        ...


class MailComposer(AccountMail, Protocol):
    """What the scheduler's mail says. The kernel decides when to mail and what about;
    the wording lives in templates (``presenters.mail.TemplateMail`` renders
    ``templates/mail/``), wired in by the scheduler's entry module."""

    def alert(self, to: str, alert: Alert, stat: Stat, event: AlertEvent,
              graph_png: bytes | None) -> EmailMessage:
        """One alert event, with the stat's graph inline when it was drawn."""
        ...

    def digest(self, digest: Digest) -> EmailMessage:
        """The new-stat digest: each new stat with a link to delete it if it was a typo."""
        ...

    def report(self, to: str, day: date, figures: list[DayFigure],
               graphs: dict[str, bytes]) -> EmailMessage:
        """A daily report; ``graphs`` maps a stat's public id to its last week drawn."""
        ...


def compose(
    settings: Settings, to: str, subject: str, text: str, html: str | None = None,
    images: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """A message from ``AERIE_SMTP_FROM``; ``html`` refers to each PNG in ``images`` by
    its name as ``cid:NAME``, which is rewritten to the image's unique content id."""
    message = EmailMessage()
    message["From"] = header_text(settings.smtp_from)
    message["To"] = header_text(to)
    message["Subject"] = header_text(subject)
    message["Message-ID"] = make_msgid(domain="aerie.local")
    message.set_content(text)
    if html is None:
        return message
    ids = {name: make_msgid(domain="aerie.local") for name in images or {}}
    for name, cid in ids.items():
        html = html.replace(f"cid:{name}", f"cid:{cid[1:-1]}")
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for name, cid in ids.items():
        html_part.add_related((images or {})[name], "image", "png", cid=cid,
                              filename=f"{name}.png", disposition="inline")
    return message


def header_text(value: str) -> str:
    """``value`` on one line, safe in a header: each character no header may hold (CR, LF
    and other controls, bidi overrides, the byte-order mark) becomes a space, and runs of
    spaces one. Names stored before those characters were refused (a stat named
    ``x\r\nBcc: y``) could otherwise add a header, or make the mail library raise
    on every scheduler pass; non-ASCII is left to the policy's RFC 2047 encoding."""
    return " ".join(replace_refused(value).split())


def send(settings: Settings, recipient: str, message: bytes) -> None:
    """Hand one message to the relay; DeliveryFailed says whether to try again."""
    try:
        with _connect(settings) as relay:
            relay.ehlo()
            if settings.smtp_starttls and not isinstance(relay, smtplib.SMTP_SSL):
                if not relay.has_extn("starttls"):  # never send a password or mail in clear
                    raise DeliveryFailed(
                        "the relay offers no STARTTLS; fix the relay, or set "
                        "AERIE_SMTP_STARTTLS=false to send unencrypted", permanent=False)
                relay.starttls(context=ssl.create_default_context())
                relay.ehlo()
            if settings.smtp_username:
                relay.login(settings.smtp_username, settings.smtp_password)
            relay.sendmail(_address(settings.smtp_from), [recipient], message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        raise DeliveryFailed(f"relay refused {recipient}: {exc.recipients}",
                             permanent=all(code >= 500 for code in codes)) from exc
    except smtplib.SMTPResponseException as exc:
        # Anything else the relay refuses (our sender, our log-in) is ours to fix: keep trying.
        raise DeliveryFailed(f"relay answered {exc.smtp_code} {exc.smtp_error!r}",
                             permanent=False) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"relay unreachable: {exc}", permanent=False) from exc


class _Relay(smtplib.SMTP):
    """A relay connection cut at an overall deadline: smtplib's timeout bounds each read,
    so a relay that trickles its answers a byte at a time would hold a send (and the
    scheduler) for ever. The watchdog starts before the connection, so it covers the
    greeting, and shuts whatever socket is current (STARTTLS replaces it)."""

    def __init__(self, host: str, port: int, *, deadline: float, **kwargs: Any) -> None:
        self._watchdog = threading.Timer(deadline, self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()
        try:
            super().__init__(host, port, **kwargs)
        except BaseException:
            self._watchdog.cancel()
            raise

    def _cut(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read: it fails
            except OSError:
                pass

    def close(self) -> None:
        self._watchdog.cancel()
        super().close()


class _TlsRelay(_Relay, smtplib.SMTP_SSL):
    """The same, speaking TLS from the first byte."""


def _connect(settings: Settings) -> smtplib.SMTP:
    """Port 465 speaks TLS from the first byte; any other port starts plain (then STARTTLS)."""
    if settings.smtp_port == IMPLICIT_TLS_PORT:
        return _TlsRelay(settings.smtp_host, settings.smtp_port,
                         deadline=settings.smtp_deadline_seconds,
                         timeout=settings.smtp_timeout_seconds,
                         context=ssl.create_default_context())
    return _Relay(settings.smtp_host, settings.smtp_port, deadline=settings.smtp_deadline_seconds,
                  timeout=settings.smtp_timeout_seconds)


def _address(header: str) -> str:
    """``Aerie <aerie@example.com>`` -> ``aerie@example.com`` for the envelope."""
    return parseaddr(header)[1] or header
