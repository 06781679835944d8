"""Domain errors: one base class; each service maps them to an answer in one handler."""

from __future__ import annotations


class AerieError(Exception):
    """Base of every error a use case raises on purpose; ``status`` is its HTTP twin."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(AerieError):
    status = 400


class NotAuthenticated(AerieError):
    """No session, or a wrong e-mail or password."""

    status = 401


class NotAllowed(AerieError):
    status = 403


class NotFound(AerieError):
    status = 404


class Gone(AerieError):
    """A share its owner revoked: the key was real, and is no longer."""

    status = 410


class Conflict(AerieError):
    status = 409


class TooLarge(AerieError):
    status = 413


class TooManyRequests(AerieError):
    status = 429


class Unavailable(AerieError):
    """The database or a peer cannot be reached; the caller may retry."""

    status = 503
    default_message = "the database is unavailable; nothing was recorded, retry shortly"
