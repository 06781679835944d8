"""Keeps access tokens out of the access log.

The export API takes its token in the path (``/x/TOKEN/...``, StatHat's contract),
so uvicorn's access log line would hold a working credential; this filter writes
``/x/[token]/...`` instead, in every line the ``uvicorn.access`` logger emits.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"^/x/[^/?]+")
REDACTED = "/x/[token]"


def redact_path(path: str) -> str:
    """The path with an export token replaced by ``[token]``."""
    return _TOKEN_IN_PATH.sub(REDACTED, path)


class RedactTokens(logging.Filter):
    """Rewrites the path of uvicorn's access records: ``(client, method, path, version,
    status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


# One instance, so building the app again does not stack filters on the logger.
REDACT_TOKENS = RedactTokens()


def redact_access_log() -> None:
    logging.getLogger("uvicorn.access").addFilter(REDACT_TOKENS)
