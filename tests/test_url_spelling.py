"""Templates link through :mod:`aerie.urls` (Jinja2 globals), never a literal site path,
so a page that moves changes in one place."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# A link, form or resource starting with one slash (``//host`` leaves the site: allowed).
LITERAL_PATH = re.compile(r'\b(?:href|action|src)="/(?!/)')


def test_templates_spell_no_site_path() -> None:
    found = [f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
             for path in sorted(TEMPLATES.rglob("*.html"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if LITERAL_PATH.search(line)]
    assert found == [], "\n".join(found)
