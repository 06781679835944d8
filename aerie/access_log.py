"""Keeps credentials out of the access log.

StatHat's contract puts credentials in URLs: the export API's token in the path
(``/x/TOKEN/...``), and the ingestion keys in the query string of GET posts and
``<img>`` beacons (``/ez?ezkey=...``, ``/c?ukey=...&key=...``, and ``email``, the
ezkey's pre-2012 name); the web app's mailed links carry one-use tokens
(``/password/reset?token=...``). uvicorn's access log line would hold each of them; this
filter writes ``/x/[token]/...`` and ``ezkey=[redacted]`` instead, in every line the
``uvicorn.access`` logger emits, for the web app and the API alike.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"^/x/[^/?]+")
REDACTED_TOKEN = "/x/[token]"
_KEY_IN_QUERY = re.compile(r"([?&](?:ezkey|email|ukey|key|token)=)[^&#]*", re.IGNORECASE)
REDACTED_KEY = "[redacted]"


def redact_path(path: str) -> str:
    """The path (with its query) with every credential replaced by a placeholder."""
    return _KEY_IN_QUERY.sub(rf"\1{REDACTED_KEY}", _TOKEN_IN_PATH.sub(REDACTED_TOKEN, path))


class RedactCredentials(logging.Filter):
    """Rewrites the path of uvicorn's access records: ``(client, method, path, version,
    status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


# One instance, so building an app again does not stack filters on the logger.
REDACT_CREDENTIALS = RedactCredentials()


def redact_access_log() -> None:
    logging.getLogger("uvicorn.access").addFilter(REDACT_CREDENTIALS)
