"""Queueing the mail about an account itself, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import Connection

from aerie import account_tokens, outbox
from aerie.account_tokens import VERIFY
from aerie.errors import Unavailable
from aerie.mail import AccountMail
from interactor.base import Services

MAIL_KIND = account_tokens.ACCOUNT_MAIL


def account_mail(svc: Services) -> AccountMail:
    """The wording of account mail; Unavailable in a process given none."""
    if svc.account_mail is None:
        raise Unavailable("this process sends no account mail")
    return svc.account_mail


def queue_verification(svc: Services, conn: Connection, user_id: int, email: str, now: int) -> None:
    """Mail a verification link to ``email``."""
    token = account_tokens.issue(conn, user_id, email, VERIFY, now)
    outbox.enqueue(conn, account_mail(svc).verify_email(email, token), kind=MAIL_KIND,
                   user_id=user_id, now=now)
