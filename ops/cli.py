"""The ``aerie`` command line: run the services, migrate, and manage accounts from a shell.

Every command reads the one ``Settings`` object (``AERIE_*`` variables);
options only override it. Domain errors print ``aerie: <message>`` and exit
1; a setting that makes no sense exits 2 before anything starts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from aerie import accounts
from aerie.db import make_engine
from aerie.errors import AerieError, NotFound
from aerie.migrate import upgrade
from aerie.passwords import Passwords
from aerie.retention import prune_expired
from aerie.schema import COUNTER, VALUE
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from api_service.listener_commands import add_listener_commands
from interactor import operator_accounts, stat_changes
from interactor.base import Services
from ops import backup, demo, import_command
from ops.supervisor import Role, roles_for, supervise
from rpc.clients import AnalysisClient, GraphClient

Command = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the options that were given on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2))


# -- services -----------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings(
        database_url=args.db, web_port=args.web_port, api_port=args.api_port,
        graph_urls=args.graph_urls, analysis_urls=args.analysis_urls,
        scheduler_urls=args.scheduler_urls,
    )
    engine = make_engine(settings)
    try:
        upgrade(engine, system_email=settings.system_email)
        # Before any role starts, nothing writes: no pauses between the batches.
        prune_expired(engine, settings, int(time.time()), pause=False)
    finally:
        engine.dispose()
    return supervise(settings, functools.partial(_announce, settings))


def _announce(settings: Settings, roles: list[Role]) -> None:
    urls = {role.name: role.url for role in roles}
    print("aerie is up:\n" + _role_table(roles))
    print(f'try:  curl -d "ezkey=YOUR_EMAIL&stat=hello&count=1" {urls["api"]}/ez'
          "   (make an account with `aerie user create` or `aerie demo`; Ctrl-C stops)")
    if settings.dev_mail and settings.dev_mail_view != "off":
        print(f"mail: no AERIE_SMTP_HOST, so alerts and reports appear at {urls['web']}/dev/mail",
              flush=True)


def _role_table(roles: list[Role]) -> str:
    width = max(len(role.name) for role in roles)
    return "\n".join(f"  {role.name:<{width}}  {role.url}" for role in roles)


def cmd_api(args: argparse.Namespace) -> int:
    settings = _settings(api_host=args.host, api_port=args.port, api_workers=args.workers)
    _serve("api_service.main:app", settings.api_host, settings.api_port, settings.api_workers,
           access_log=args.access_log, quiet=args.quiet)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    settings = _settings(web_host=args.host, web_port=args.port)
    _serve("web_service.main:app", settings.web_host, settings.web_port, 1,
           access_log=not args.quiet, quiet=args.quiet)
    return 0


QUIET_HELP = "log warnings and errors only, no start-up lines (as `aerie up` runs it)"
APP_SERVERS = {"graph": "app_servers.main_graph:app", "analysis": "app_servers.main_analysis:app",
               "scheduler": "app_servers.main_scheduler:app"}


def cmd_app_server(args: argparse.Namespace) -> int:
    """One copy of an app server; ``aerie up`` runs one per URL, each with its own port."""
    _settings()  # a bad setting exits 2 here, before uvicorn imports the app
    _serve(APP_SERVERS[args.command], args.host, args.port, 1, access_log=args.access_log,
           quiet=args.quiet)
    return 0


def _serve(app: str, host: str, port: int, workers: int, access_log: bool, quiet: bool) -> None:
    """Serve under uvicorn with uvloop and httptools, named explicitly so that a missing
    extra fails loudly instead of falling back to h11 (4x slower, and 44 ms stalls
    with workers). uvicorn's own X-Forwarded-* handling is off: the web app believes
    only ``AERIE_TRUSTED_PROXIES``, and no other service reads client addresses.
    ``quiet`` keeps warnings and errors only (``aerie up`` prints one line per role itself)."""
    uvicorn.run(
        app, host=host, port=port, workers=workers, loop="uvloop", http="httptools",
        access_log=access_log and not quiet, log_level="warning" if quiet else "info",
        proxy_headers=False,
    )


# -- database -----------------------------------------------------------------------------


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings)
    try:
        upgrade(engine, system_email=settings.system_email)
    finally:
        engine.dispose()
    print("database schema is up to date")
    return 0


def cmd_db_prune(_args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings)
    try:
        deleted = prune_expired(engine, settings, int(time.time()))
    finally:
        engine.dispose()
    for table, count in deleted.items():
        print(f"{table}: deleted {count} rows")
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    done = backup.backup(_settings(), Path(args.path))
    print(f"backed up the {done.kind} database to {done.path} ({done.size:,} bytes)")
    return 0


def cmd_db_restore(args: argparse.Namespace) -> int:
    done = backup.restore(_settings(), Path(args.path), replace=args.replace)
    print(f"restored the {done.kind} database from {done.path}; its schema is up to date")
    return 0


# -- accounts and stats -------------------------------------------------------------------


def cmd_user_create(args: argparse.Namespace) -> int:
    """An account with a first token, under the web sign-up's e-mail and password rules."""
    settings = _settings()
    engine = make_engine(settings)
    try:
        created = operator_accounts.create_account(
            engine, Passwords.from_settings(settings), args.email, args.password,
            int(time.time()))
    finally:
        engine.dispose()
    user, token = created.user, created.token
    if args.json:
        _print_json({"email": user.email, "ezkey": user.ezkey, "ukey": user.ukey,
                     "token": token.token})
    else:
        print(f"created account {user.email}")
        print(f"  ezkey  {user.ezkey}")
        print(f"  ukey   {user.ukey}")
        print(f"  token  {token.token}   (shown only now)")
    return 0


def cmd_system_password(_args: argparse.Namespace) -> int:
    """Give the system account a password, so an operator can log in and open its
    "Aerie health" dashboard. Read from the terminal (twice) or, piped, from stdin."""
    settings = _settings()
    password = _read_new_password()
    if password is None:
        return 1
    engine = make_engine(settings)
    try:
        user = operator_accounts.set_system_password(
            engine, settings, Passwords.from_settings(settings), password, int(time.time()))
    finally:
        engine.dispose()
    print(f"the system account {user.email} has a new password; log in at "
          f"{settings.web_url}/login and open Dashboards, then \"Aerie health\"")
    return 0


def _read_new_password() -> str | None:
    if sys.stdin.isatty():
        password = getpass.getpass("new password for the system account: ")
        if getpass.getpass("again: ") != password:
            print("aerie: the two passwords differ; nothing changed", file=sys.stderr)
            return None
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("aerie: an empty password; nothing changed", file=sys.stderr)
        return None
    return password


def _run_use_case(
    user_email: str, use_case: Callable[[Services, accounts.User], Awaitable[T]]
) -> T:
    """Run one of the web app's use cases for the account with this e-mail, as the web does."""
    settings = _settings()

    async def run() -> T:
        engine = make_engine(settings)
        try:
            with engine.connect() as conn:
                user = accounts.user_by_email(conn, user_email)
            if user is None:
                raise NotFound(f"no account with e-mail {user_email!r}")
            secret = load_rpc_secret(settings)
            async with GraphClient(settings.graph_replicas, secret=secret) as graph, \
                    AnalysisClient(settings.analysis_replicas, secret=secret) as analysis:
                services = Services(engine, graph, analysis,
                                    max_stats_per_account=settings.max_stats_per_account)
                return await use_case(services, user)
        finally:
            engine.dispose()

    return asyncio.run(run())


def cmd_stat_create(args: argparse.Namespace) -> int:
    stat = _run_use_case(
        args.user, lambda svc, user: stat_changes.create_stat(svc, user, args.name, args.kind)
    )
    if args.json:
        _print_json({"id": stat.public_id, "name": stat.name, "kind": stat.kind,
                     "classic_key": stat.classic_key})
    else:
        print(f"created {stat.kind} stat {stat.name!r}")
        print(f"  id           {stat.public_id}")
        print(f"  classic key  {stat.classic_key}")
    return 0


def cmd_stat_trash(args: argparse.Namespace) -> int:
    stat = _run_use_case(args.user, lambda svc, user: stat_changes.trash_stat(svc, user, args.id))
    print(f"moved {stat.name!r} to the trash; `aerie stat restore {stat.public_id}` "
          "brings it back within 48 hours")
    return 0


def cmd_stat_restore(args: argparse.Namespace) -> int:
    stat = _run_use_case(args.user, lambda svc, user: stat_changes.restore_stat(svc, user, args.id))
    print(f"restored {stat.name!r}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings)

    def progress(done: int, total: int) -> None:
        print(f"demo: {done}/{total} days written", file=sys.stderr, flush=True)

    try:
        upgrade(engine, system_email=settings.system_email)
        now = int(time.time())
        account = demo.load_demo(engine, Passwords.from_settings(settings), now, progress)
        prune_expired(engine, settings, now, pause=False)  # leave only what retention keeps
    finally:
        engine.dispose()
    if args.json:
        _print_json({
            "email": account.email, "password": account.password, "ezkey": account.ezkey,
            "ukey": account.ukey, "token": account.token, "points": account.points,
            "stats": [{"id": s.public_id, "name": s.name, "kind": s.kind} for s in account.stats],
        })
        return 0
    web = f"http://127.0.0.1:{settings.web_port}"
    print(f"demo account ready ({account.points} points over {demo.DEMO_DAYS} days)")
    print(f"  log in   {account.email} / {account.password}")
    print(f"  ezkey    {account.ezkey}")
    print(f"  ukey     {account.ukey}")
    print(f"  token    {account.token}   (shown only now)")
    for s in account.stats:
        print(f"  stat     {s.public_id}  {s.kind:<7}  {s.name}")
    print("read it (after `aerie up`):")
    print(f"  {web}/x/{account.token}/statlist")
    if account.stats:
        print(f"  {web}/x/{account.token}/data/{account.stats[0].public_id}?t=1w1h")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """``aerie import stathat|whisper``: all of it lives in aerie.imports."""
    return import_command.run_import(args, _settings())


# -- parser -------------------------------------------------------------------------------


def _up_description() -> str:
    """What ``aerie up`` runs, with the default settings: ``model_construct`` reads no
    environment, so ``--help`` works whatever the AERIE_* variables say."""
    return (
        "Migrate the database, then run each of these as its own process until Ctrl-C\n"
        "or SIGTERM (shown with the default settings; the options and AERIE_* variables\n"
        "move them):\n\n"
        + _role_table(roles_for(Settings.model_construct()))
        + "\n\nThe app servers run one copy per URL; a copy that dies is restarted while\n"
        "the others serve. A dead API or web app is restarted too, on the same port."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aerie", description="Aerie: a self-hostable, StatHat-compatible stats tracker."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up", help="migrate, then run the API, the web app and the app servers",
        description=_up_description(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("--web-port", type=int, help="default AERIE_WEB_PORT or 8000")
    up.add_argument("--api-port", type=int, help="default AERIE_API_PORT or 8001")
    up.add_argument("--graph-urls", metavar="URLS",
                    help="graph server copies, comma-separated (default AERIE_GRAPH_URLS)")
    up.add_argument("--analysis-urls", metavar="URLS",
                    help="analysis server copies, comma-separated (default AERIE_ANALYSIS_URLS)")
    up.add_argument("--scheduler-urls", metavar="URLS",
                    help="scheduler copies, comma-separated (default AERIE_SCHEDULER_URLS)")
    up.add_argument("--db", metavar="URL", help="database URL (default AERIE_DATABASE_URL)")
    up.set_defaults(run=cmd_up)

    api = commands.add_parser("api", help="run the ingestion API under uvicorn")
    api.add_argument("--host", help="default AERIE_API_HOST or 127.0.0.1")
    api.add_argument("--port", type=int, help="default AERIE_API_PORT or 8001")
    api.add_argument("--workers", type=int, help="default AERIE_API_WORKERS or 1")
    api.add_argument("--access-log", action="store_true", help="log every request (slower)")
    api.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    api.set_defaults(run=cmd_api)

    web = commands.add_parser("web", help="run the web app under uvicorn")
    web.add_argument("--host", help="default AERIE_WEB_HOST or 127.0.0.1")
    web.add_argument("--port", type=int, help="default AERIE_WEB_PORT or 8000")
    web.add_argument("--quiet", action="store_true", help=QUIET_HELP + " (else every request)")
    web.set_defaults(run=cmd_web)

    for service in APP_SERVERS:
        app_server = commands.add_parser(
            service, help=f"run one copy of the {service} app server under uvicorn"
        )
        app_server.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
        app_server.add_argument("--port", type=int, required=True,
                                help=f"the port of one of AERIE_{service.upper()}_URLS")
        app_server.add_argument("--access-log", action="store_true", help="log every request")
        app_server.add_argument("--quiet", action="store_true", help=QUIET_HELP)
        app_server.set_defaults(run=cmd_app_server)

    db = commands.add_parser("db", help="database schema and retention")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_commands.add_parser("upgrade", help="apply migrations (safe to repeat)").set_defaults(
        run=cmd_db_upgrade
    )
    db_commands.add_parser("prune", help="delete rollups older than their retention").set_defaults(
        run=cmd_db_prune
    )
    db_backup = db_commands.add_parser(
        "backup", help="write the whole database to one file (safe while Aerie runs)")
    db_backup.add_argument("path", help="the file to write (replaced when complete)")
    db_backup.set_defaults(run=cmd_db_backup)
    db_restore = db_commands.add_parser(
        "restore", help="replace the database with a backup (stop Aerie first)")
    db_restore.add_argument("path", help="a file written by `aerie db backup`")
    db_restore.add_argument("--replace", action="store_true",
                            help="overwrite a database that already holds accounts")
    db_restore.set_defaults(run=cmd_db_restore)

    user = commands.add_parser("user", help="accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    create_user = user_commands.add_parser("create", help="create an account and a first token")
    create_user.add_argument("email")
    create_user.add_argument("--password", help="for logging in to the web app (optional; at least 8 characters)")
    create_user.add_argument("--json", action="store_true", help="print a JSON object")
    create_user.set_defaults(run=cmd_user_create)

    stat = commands.add_parser("stat", help="stats")
    stat_commands = stat.add_subparsers(dest="stat_command", required=True, metavar="COMMAND")
    create_stat = stat_commands.add_parser("create", help="create a stat for an account")
    create_stat.add_argument("name")
    create_stat.add_argument("--kind", required=True, choices=(COUNTER, VALUE))
    create_stat.add_argument("--user", required=True, metavar="EMAIL", help="the owner's e-mail")
    create_stat.add_argument("--json", action="store_true", help="print a JSON object")
    create_stat.set_defaults(run=cmd_stat_create)
    for name, run, what in (("trash", cmd_stat_trash, "move a stat to the trash"),
                            ("restore", cmd_stat_restore, "restore a stat from the trash")):
        command = stat_commands.add_parser(name, help=what)
        command.add_argument("id", help="the stat's id")
        command.add_argument("--user", required=True, metavar="EMAIL", help="the owner's e-mail")
        command.set_defaults(run=run)

    system = commands.add_parser("system", help="the system account Aerie's own stats belong to")
    system_commands = system.add_subparsers(dest="system_command", required=True,
                                            metavar="COMMAND")
    system_commands.add_parser(
        "password", help="set its password (read from stdin), to open the Aerie health dashboard"
    ).set_defaults(run=cmd_system_password)

    demo_parser = commands.add_parser("demo", help="create or refresh a demo account with data")
    demo_parser.add_argument("--json", action="store_true", help="print a JSON object")
    demo_parser.set_defaults(run=cmd_demo)

    import_command.add_parsers(commands, cmd_import)
    add_listener_commands(commands)  # aerie statsd, aerie graphite
    return parser


def _setting_problem(error: ValidationError) -> str:
    """One line naming the AERIE_* variable (or option) and what is wrong with it."""
    problems = []
    for item in error.errors():
        name = "AERIE_" + "_".join(str(part) for part in item["loc"]).upper()
        problems.append(f"{name}: {item['msg']}")
    return "aerie: bad setting: " + "; ".join(problems)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (the ``aerie`` script exits with it)."""
    args = build_parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except ValidationError as exc:
        print(_setting_problem(exc), file=sys.stderr)
        return 2
    except AerieError as exc:
        print(f"aerie: {exc.message}", file=sys.stderr)
        return 1
    except DBAPIError as exc:
        print(f"aerie: database error: {exc.orig} (is the database up, and migrated with "
              "`aerie db upgrade`?)", file=sys.stderr)
        return 1
