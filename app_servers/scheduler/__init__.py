"""The scheduler role: alerts each minute, mail from the outbox, under one database lease.

``loop`` holds the lease and runs each tick's steps: ``alerts`` (judging),
``notify`` (alert mail queued, then the webhook and mail outboxes delivered) and
``reports`` (new-stat digests, daily reports); ``jobs`` is what they share.
"""

from app_servers.scheduler.jobs import LeaseLost
from app_servers.scheduler.loop import (
    LEASE,
    LEASE_SECONDS,
    RENEW_SECONDS,
    TICK_SECONDS,
    Pass,
    Scheduler,
    SchedulerStatus,
    create_app,
)

__all__ = ["LEASE", "LEASE_SECONDS", "RENEW_SECONDS", "TICK_SECONDS", "LeaseLost", "Pass",
           "Scheduler", "SchedulerStatus", "create_app"]
