"""``aerie import stathat FILE...`` and ``aerie import whisper DIR``: the command line's side.

Files are imported in the order given, each all or nothing: read and checked whole,
then written in one transaction. The first bad file stops the run with exit status
1, naming the file and the line or item; the files before it stay imported, and the
message says so. Progress goes to stderr (one line redrawn on a terminal, a line per
file otherwise); the summary to stdout.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aerie import accounts
from aerie.db import make_engine
from aerie.errors import AerieError, NotFound
from aerie.imports.points import ImportedStat
from aerie.imports.stathat_files import read_stathat_file, read_statlist
from aerie.imports.store import KindRules, write_imported
from aerie.imports.whisper_files import read_whisper_file, whisper_paths
from aerie.schema import COUNTER, VALUE
from aerie.settings import Settings
from aerie.transactions import write

Reader = Callable[[], list[ImportedStat]]


def add_parsers(commands: Any, run: Callable[[argparse.Namespace], int]) -> None:
    """Register ``import stathat`` and ``import whisper`` on the ``aerie`` subcommands."""
    parser = commands.add_parser("import", help="bring history in: StatHat exports, whisper trees")
    sources = parser.add_subparsers(dest="import_source", required=True, metavar="SOURCE")
    stathat = sources.add_parser(
        "stathat", help="import /x/ data JSON, /a1/ dataset JSON or CSV files from StatHat")
    stathat.add_argument("files", nargs="+", metavar="FILE")
    stathat.add_argument("--statlist", metavar="FILE",
                         help="a saved /x/TOKEN/statlist answer: says which stats are counters")
    stathat.add_argument("--kind", choices=(COUNTER, VALUE),
                         help="the kind of new stats that neither the file nor --statlist name")
    stathat.add_argument("--name", help="the stat a CSV file holds (default: from its file name)")
    whisper = sources.add_parser(
        "whisper", help="import a Graphite tree of .wsp files as value stats named by path")
    whisper.add_argument("dir", metavar="DIR")
    for source in (stathat, whisper):
        source.add_argument("--user", required=True, metavar="EMAIL", help="the owner's e-mail")
        source.set_defaults(run=run)


@dataclass
class Tally:
    files: int = 0
    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    points: int = 0


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``aerie import``; returns the exit status."""
    kinds = KindRules()
    if args.import_source == "stathat":
        if args.statlist:
            kinds = KindRules(read_statlist(Path(args.statlist)), args.kind)
        else:
            kinds = KindRules(default=args.kind)
        units = [(str(p), _stathat_reader(Path(p), args.name)) for p in args.files]
    else:
        root = Path(args.dir)
        units = [(str(p), _whisper_reader(root, p)) for p in whisper_paths(root)]
    return _import_units(settings, args.user, units, kinds)


def _stathat_reader(path: Path, name: str | None) -> Reader:
    return lambda: read_stathat_file(path, name)


def _whisper_reader(root: Path, path: Path) -> Reader:
    return lambda: [read_whisper_file(root, path)]


def _import_units(
    settings: Settings, email: str, units: list[tuple[str, Reader]], kinds: KindRules
) -> int:
    started = time.monotonic()
    tally = Tally()
    progress = Progress(sys.stderr, len(units))
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            user = accounts.user_by_email(conn, email)
        if user is None:
            raise NotFound(f"no account with e-mail {email!r}")
        for label, read in units:
            try:
                found = read()
                # on a conflict the file is written again from its start (its progress too)
                written = write(engine, functools.partial(
                    write_imported, user_id=user.id, found=found, kinds=kinds,
                    limit=settings.max_stats_per_account, now=int(time.time()),
                    on_stat=functools.partial(progress.within, label)))
            except AerieError as exc:
                progress.close()
                before = (f"the {tally.files} file(s) before it were imported"
                          if tally.files else "nothing was imported")
                problem = exc.message if exc.message.startswith(label) else f"{label}: {exc.message}"
                print(f"aerie: {problem}; nothing from this file was written; {before}",
                      file=sys.stderr)
                return 1
            tally.files += 1
            tally.created.update(written.created)
            tally.updated.update(set(written.updated) - tally.created)
            tally.points += written.points
            progress.step(label, written.points)
    finally:
        engine.dispose()
    progress.close()
    print(f"imported {tally.files} file(s): {len(tally.created)} stat(s) created, "
          f"{len(tally.updated)} updated, {tally.points:,} points in "
          f"{time.monotonic() - started:.1f} s")
    return 0


class Progress:
    """A bar redrawn with ``\\r`` on a terminal; a plain line per file otherwise."""

    WIDTH = 30

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream, self.total, self.done, self.points = stream, total, 0, 0
        self.tty = stream.isatty()

    def within(self, label: str, stats_done: int, stats_total: int) -> None:
        """Inside a long file: how many of its stats are written (on a terminal only)."""
        if self.tty:
            self._draw(f"{label}: {stats_done}/{stats_total} stats")

    def step(self, label: str, points: int) -> None:
        self.done += 1
        self.points += points
        if self.tty:
            self._draw(f"{self.points:,} points")
        else:
            self.stream.write(f"imported {label}: {points:,} points "
                              f"({self.done}/{self.total})\n")
        self.stream.flush()

    def _draw(self, detail: str) -> None:
        filled = self.WIDTH * self.done // max(self.total, 1)
        # \x1b[K clears what a longer line before left behind
        self.stream.write(f"\rimporting [{'#' * filled}{' ' * (self.WIDTH - filled)}] "
                          f"{self.done}/{self.total} files, {detail}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
