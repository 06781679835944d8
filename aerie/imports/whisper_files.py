"""Reading a Graphite tree: every ``.wsp`` file under a directory becomes a value stat.

A stat is named by its path under the directory with dots, as Graphite names it
(``servers/web1/cpu.wsp`` is ``servers.web1.cpu``). Each archive's points keep their
own resolution (``points.resolution_for``); a coarser archive only adds points for
intervals that end before the finer archives' first point, so no interval is counted
twice. Archives are read straight from the file (``whisper.info`` gives their layout),
not through ``whisper.fetch``, which reads relative to now and would find nothing in
a tree copied from a server that stopped years ago.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import whisper

from aerie.imports.points import BadImportFile, ImportedStat, Point
from aerie.schema import VALUE


def whisper_paths(root: Path) -> list[Path]:
    """The ``.wsp`` files under ``root``, in name order."""
    if not root.is_dir():
        raise BadImportFile(str(root), "", "not a directory")
    return sorted(root.rglob("*.wsp"))


def stat_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def read_whisper_file(root: Path, path: Path) -> ImportedStat:
    """One file's points, finest archive first; raises BadImportFile if it is not whisper."""
    try:
        info = whisper.info(str(path))
        data = path.read_bytes()
    except (OSError, whisper.WhisperException, struct.error) as exc:
        raise BadImportFile(str(path), "", f"not a readable whisper file ({exc})") from None
    if info is None:
        raise BadImportFile(str(path), "", "not a readable whisper file")
    stat = ImportedStat(stat_name(root, path), VALUE)
    finer_start: int | None = None
    for number, archive in enumerate(sorted(info["archives"], key=lambda a: a["secondsPerPoint"])):
        step = archive["secondsPerPoint"]
        points = _archive_points(path, number, data, archive)
        kept = [(t, v) for t, v in points if finer_start is None or t + step <= finer_start]
        stat.points.extend(Point(t, step, v, None) for t, v in kept)
        if points:
            first = points[0][0]
            finer_start = first if finer_start is None else min(finer_start, first)
    return stat


def _archive_points(
    path: Path, number: int, data: bytes, archive: dict[str, int]
) -> list[tuple[int, float]]:
    """The archive's live points by time: slots never written hold time 0, and a slot
    not rewritten for longer than the retention holds a stale point, dropped here."""
    offset, size = archive["offset"], archive["points"] * whisper.pointSize
    if offset + size > len(data):
        raise BadImportFile(str(path), f"archive {number}",
                            f"the file ends at byte {len(data)}, before the archive does")
    step = archive["secondsPerPoint"]
    found = {}
    for t, v in struct.iter_unpack(whisper.pointFormat, data[offset:offset + size]):
        if t and t % step == 0 and math.isfinite(v):
            found[t] = v
    if not found:
        return []
    newest = max(found)
    return sorted((t, v) for t, v in found.items() if t > newest - archive["retention"])
