"""The development mail page: mail Aerie would have sent, read back from the outbox.

Only when no relay is configured (``Settings.dev_mail``), and by default only the
viewer's own mail: the page is for trying Aerie on one machine, not a mail archive.
Someone not logged in (asking for a reset link, or claiming an account an EZ post
made) has no own mail to see; with ``AERIE_DEV_MAIL_VIEW=all`` anyone sees the account
mail of every address instead (``web_service.dev_routes`` says why no request can
prove its visitor sits at the machine).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aerie import outbox
from aerie.accounts import User
from aerie.db import reading
from aerie.errors import NotFound
from aerie.outbox import Mail
from interactor.account_mail import MAIL_KIND
from interactor.base import Services, off_loop


@dataclass(frozen=True)
class MailPage:
    mail: list[Mail]
    now: int
    timezone: str


@dataclass(frozen=True)
class OpenedMail:
    mail: Mail
    text: str
    html: str  # images inlined as data: URLs, for a sandboxed frame
    timezone: str


def _shown(mail: Mail, user: User | None) -> bool:
    """A user's own mail; for a visitor at the machine, every address's account mail."""
    return mail.user_id == user.id if user else mail.kind == MAIL_KIND


async def mail_page(svc: Services, user: User | None) -> MailPage:
    """The viewer's mail, or (``user`` None) the account mail of every address."""

    def load() -> list[Mail]:
        with reading(svc.engine) as conn:
            if user is None:
                return outbox.recent_mail(conn, kind=MAIL_KIND)
            return outbox.recent_mail(conn, user_id=user.id)

    return MailPage(await off_loop(load), svc.now(), user.timezone if user else "UTC")


async def open_mail(svc: Services, user: User | None, mail_id: int) -> OpenedMail:
    def load() -> Mail | None:
        with reading(svc.engine) as conn:
            return outbox.mail_by_id(conn, mail_id)

    mail = await off_loop(load)
    if mail is None or not _shown(mail, user):
        raise NotFound(f"no mail with id {mail_id}")
    message = message_from_bytes(mail.message, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    text = text_part.get_content() if isinstance(text_part, EmailMessage) else ""
    html = html_part.get_content() if isinstance(html_part, EmailMessage) else ""
    for part in message.walk():
        cid = (part["Content-ID"] or "").strip("<>")
        payload = part.get_payload(decode=True)
        if cid and part.get_content_maintype() == "image" and isinstance(payload, bytes):
            data = base64.b64encode(payload).decode()
            html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return OpenedMail(mail, text, html, user.timezone if user else "UTC")
