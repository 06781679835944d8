"""HTML renderings: one Jinja2 environment over the top-level ``templates/`` folder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from interactor.welcome import Welcome

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_environment(folder: Path = TEMPLATES) -> Environment:
    """Autoescaped (visitors' stat names end up in pages); templates reload when edited.

    StrictUndefined makes a misspelt variable fail loudly instead of rendering blank.
    """
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        auto_reload=True,
        undefined=StrictUndefined,
    )


class HtmlPresenter:
    """Renders results into pages; templates receive plain dicts, never database objects."""

    def __init__(self, environment: Environment) -> None:
        self._env = environment

    def welcome(self, result: Welcome) -> str:
        return self._env.get_template("index.html").render(page=asdict(result))
