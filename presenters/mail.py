"""JSON twins of the development mail pages."""

from __future__ import annotations

from typing import Any

from aerie.outbox import Mail
from interactor.dev_mail import MailPage, OpenedMail


def _mail(mail: Mail) -> dict[str, Any]:
    return {"id": mail.id, "to": mail.recipient, "subject": mail.subject, "kind": mail.kind,
            "created_at": mail.created_at, "sent_at": mail.sent_at, "sent_by": mail.sent_by,
            "attempts": mail.attempts, "last_error": mail.last_error}


def mail_page(result: MailPage) -> list[dict[str, Any]]:
    return [_mail(m) for m in result.mail]


def opened_mail(result: OpenedMail) -> dict[str, Any]:
    return {**_mail(result.mail), "text": result.text}
