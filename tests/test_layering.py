"""Imports flow one way between the tiers; this test reads every source file's imports.

The tiers, lowest first: the kernel ``aerie`` (settings, schema, store modules, domain
rules) < ``rpc`` < ``app_servers`` and ``interactor`` < ``presenters`` < ``web_service``
and ``api_service``; ``ops`` (the command line, the supervisor, the demo) sits above them
all. Every import counts, wherever it stands (inside a function or under
TYPE_CHECKING too): a lazy import is still a dependency.

Entry modules (``__main__.py``, ``main.py``, ``main_*.py``) are exempt: they wire the
tiers together (the scheduler's picks the presenter that words its mail, ``python -m
aerie`` runs ``ops``), and no module may import them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("aerie", "rpc", "app_servers", "interactor", "presenters", "web_service", "api_service",
         "ops")

# What each tier may not import (its own tier and those not named here are allowed).
FORBIDDEN: dict[str, frozenset[str]] = {
    "aerie": frozenset(TIERS) - {"aerie"},
    "rpc": frozenset(TIERS) - {"aerie", "rpc"},
    "interactor": frozenset({"app_servers", "web_service", "presenters", "api_service", "ops"}),
    "app_servers": frozenset({"interactor", "web_service", "presenters", "api_service", "ops"}),
    "presenters": frozenset({"web_service", "app_servers", "api_service", "ops"}),
    "web_service": frozenset({"api_service", "ops"}),
    "api_service": frozenset(TIERS) - {"aerie", "api_service"},
    "ops": frozenset(),
}

# Modules a tier may not import though their tier is allowed: use cases hand back ids,
# keys and timeframes, and the presenters spell the web addresses (presenters.links).
FORBIDDEN_MODULES: dict[str, frozenset[str]] = {
    "interactor": frozenset({"aerie.urls"}),
}

# Known violations, each with the change that removes it. When that change lands, the
# test fails until its entry is deleted here.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository, with forward slashes
    line: int
    module: str

    @property
    def tier(self) -> str:
        return self.module.split(".")[0]


def _is_entry(path: Path) -> bool:
    return path.name in ("__main__.py", "main.py") or path.name.startswith("main_")


def _imports(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(relative, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from presenters import urls`` imports presenters.urls (a module or a name:
            # the tier is the same either way)
            found += [Import(relative, node.lineno, f"{node.module}.{alias.name}")
                      for alias in node.names]
    return found


def _source_files(tier: str) -> list[Path]:
    return sorted((ROOT / tier).rglob("*.py"))


def _all_imports() -> dict[str, list[Import]]:
    return {tier: [i for path in _source_files(tier) if not _is_entry(path)
                   for i in _imports(path)] for tier in TIERS}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations() -> list[tuple[Import, str]]:
    """Each forbidden import with the rule it breaks."""
    found = []
    for tier, imports in _all_imports().items():
        for imported in imports:
            if imported.tier in FORBIDDEN[tier]:
                found.append((imported, f"{tier} may not import {imported.tier}"))
            for module in sorted(FORBIDDEN_MODULES.get(tier, ())):
                if _within(imported.module, module):
                    found.append((imported, f"{tier} may not import {module}"))
    return found


def _allowed(imported: Import) -> bool:
    return any(imported.path == path and _within(imported.module, module)
               for path, module in ALLOWED)


def test_every_tier_has_its_folder() -> None:
    assert [tier for tier in TIERS if not (ROOT / tier / "__init__.py").is_file()] == []


def test_each_tier_imports_only_the_tiers_below_it() -> None:
    broken = [f"{i.path}:{i.line} imports {i.module} ({rule})"
              for i, rule in sorted(_violations(), key=lambda found: (found[0].path,
                                                                       found[0].line))
              if not _allowed(i)]
    assert broken == [], "\n".join(broken)


def test_every_known_exception_is_still_needed() -> None:
    """An entry whose import is gone must go too, or it would hide a new violation."""
    used = {(i.path, module) for i, _rule in _violations() for path, module in ALLOWED
            if i.path == path and _within(i.module, module)}
    assert sorted(set(ALLOWED) - used) == []


def test_no_module_imports_an_entry_module() -> None:
    """Entry modules may import anything because nothing imports them."""
    entries = {".".join(p.relative_to(ROOT).with_suffix("").parts)
               for tier in TIERS for p in _source_files(tier) if _is_entry(p)}
    importing = sorted(f"{i.path}:{i.line} imports {i.module}"
                       for imports in _all_imports().values() for i in imports
                       if any(i.module == e or i.module.startswith(e + ".") for e in entries))
    assert importing == []

