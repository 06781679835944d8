"""``aerie statsd`` and ``aerie graphite``: the listeners as commands of their own.

``aerie up`` runs them as children (``python -m aerie statsd``) when their
``AERIE_*_USER`` is set; the options here only override the settings.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from aerie.errors import BadRequest
from aerie.settings import Settings
from api_service.graphite import serve_graphite
from api_service.listener_sink import run_until_signalled
from api_service.statsd import StatsdOptions, serve_statsd


def add_listener_commands(commands: Any) -> None:
    """Add ``statsd`` and ``graphite`` to the ``aerie`` subcommands (an argparse subparsers)."""
    for name, port, what in (("statsd", 8125, "StatsD metrics over UDP (and TCP with --tcp)"),
                             ("graphite", 2003, "Graphite plaintext lines over TCP and UDP")):
        command = commands.add_parser(name, help=f"listen for {what}, into one account's stats")
        upper = name.upper()
        command.add_argument("--host", help=f"default AERIE_{upper}_HOST or 127.0.0.1")
        command.add_argument("--port", type=int, help=f"default AERIE_{upper}_PORT or {port}")
        command.add_argument("--user", metavar="EMAIL",
                             help=f"the account the stats belong to (default AERIE_{upper}_USER)")
        if name == "statsd":
            command.add_argument("--tcp", action="store_true", help="listen on TCP too")
        command.set_defaults(run=functools.partial(run_listener, name))


def run_listener(name: str, args: argparse.Namespace) -> int:
    """Run one listener until SIGINT or SIGTERM, then flush; 0 after a clean stop."""
    given = {f"{name}_host": args.host, f"{name}_port": args.port, f"{name}_user": args.user}
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    if name == "statsd":
        email = _account(settings.statsd_user, "STATSD")
        options = StatsdOptions.from_settings(settings, tcp=args.tcp)
        run_until_signalled(functools.partial(serve_statsd, settings, email, options))
    else:
        email = _account(settings.graphite_user, "GRAPHITE")
        run_until_signalled(functools.partial(
            serve_graphite, settings, email, settings.graphite_host, settings.graphite_port))
    return 0


def _account(email: str, upper: str) -> str:
    if not email:
        raise BadRequest(f"say whose stats these are: --user EMAIL or AERIE_{upper}_USER")
    return email
