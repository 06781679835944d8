"""Webhook receivers for tests: real little HTTP servers on 127.0.0.1, each in a thread."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_LIMIT_SECONDS = 30.0  # a held request is let go after this even if the test forgot


@dataclass
class Receiver:
    """What a receiver was sent, and how it answers."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    location: str | None = None  # a redirect's target
    release: threading.Event | None = None  # set: answer held requests

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextmanager
def receiver(**answer: Any) -> Iterator[Receiver]:
    """A receiver on a free port that records each POSTed JSON body and answers
    ``status`` (with ``location``), after ``release`` is set if one is given."""
    state = Receiver(**answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            state.received.append(json.loads(self.rfile.read(length)))
            if state.release is not None:
                state.release.wait(HOLD_LIMIT_SECONDS)
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if state.release is not None:
            state.release.set()
        server.shutdown()
        server.server_close()


HTTP_ANSWER = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000
SMTP_GREETING = b"220 " + b"a" * 10_000


@contextmanager
def trickling_server(answer: bytes = HTTP_ANSWER, reads_first: bool = True) -> Iterator[int]:
    """A server on the port it yields that reads a request (unless it speaks first, as
    SMTP does) and then answers one byte every 2 seconds, for ever (until the block ends):
    per-read timeouts never fire on it, only a deadline does."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            if reads_first:
                conn.recv(65536)
            for byte in answer:
                if stop.wait(2.0):  # the trickle's pace, and the way to end it
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        listener.close()
