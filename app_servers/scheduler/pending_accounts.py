"""Accounts EZ sign-up made (``aerie.ez_signup``): each one's invitation, and the end of
those left unclaimed.

An invitation is a claim link, issued and queued in one transaction, so each account
gets exactly one whatever the handovers; it expires when the account does. An account
whose time has passed is deleted with all its data (``aerie.account_removal``). Each
account is its own error boundary."""

from __future__ import annotations

import logging
from functools import partial

from sqlalchemy import Connection

from aerie import account_tokens, ez_signup, outbox
from aerie.account_removal import remove_account
from aerie.account_tokens import ACCOUNT_MAIL, CLAIM
from aerie.accounts import User
from aerie.db import reading
from aerie.stats import stats_of_user
from aerie.transactions import write
from app_servers.scheduler.jobs import Job

log = logging.getLogger("aerie.scheduler")


def tend_pending_accounts(job: Job, now: int) -> tuple[int, int]:
    """Invite new pending accounts and delete expired ones; (invited, deleted).
    Blocking: runs in a worker thread."""
    with reading(job.engine) as conn:
        new, old = ez_signup.uninvited(conn, now), ez_signup.expired(conn, now)
    invited = sum(_invite(job, user, now) for user in new)
    deleted = 0
    for user_id in old:
        job.keep_lease()
        deleted += write(job.engine, partial(remove_account, user_id=user_id))
    if deleted:
        log.info("deleted %d unclaimed EZ sign-up accounts and their data", deleted)
    return invited, deleted


def _invite(job: Job, user: User, now: int) -> bool:
    job.keep_lease()
    assert user.pending_until is not None  # ez_signup.uninvited finds pending accounts only
    pending_until = user.pending_until

    def invite(conn: Connection) -> bool:
        if account_tokens.has_token(conn, user.id, CLAIM):
            return False  # a twin invited it first
        names = [stat.name for stat in stats_of_user(conn, user.id, limit=20)]
        token = account_tokens.issue(conn, user.id, user.email, CLAIM, now,
                                     expires_at=pending_until)
        message = job.mail.invitation(user.email, token, names, pending_until)
        outbox.enqueue(conn, message, kind=ACCOUNT_MAIL, user_id=user.id, now=now)
        return True

    try:
        return write(job.engine, invite)
    except Exception:  # tried again next pass; the others go on
        log.exception("the invitation of pending account %d could not be queued", user.id)
        return False
