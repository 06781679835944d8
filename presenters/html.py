"""HTML renderings: one Jinja2 environment over the top-level ``templates/`` folder.

Every page gets the same frame: ``page`` (the use case's result as plain data),
``viewer`` (who is logged in, or None), ``csrf`` (the token forms embed) and
``flash`` (a one-line message after an action, or None). Templates build links
with the :mod:`aerie.urls` names and :mod:`presenters.links`, registered as globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from aerie import urls
from aerie.contracts import FULL_GRAPH_MARGINS, MAX_STATS_ON_GRAPH
from interactor.stat_pages import SORTS
from presenters import links
from presenters.filters import FILTERS, sentence

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# What templates may call to spell a link (``{{ stat_page(stat.public_id) }}``), and the
# site's fixed paths (``{{ urls.STATS }}``).
URL_GLOBALS = {
    "urls": urls,
    "stat_page": urls.stat_page,
    "reset_password": urls.reset_password,
    "verify_email": urls.verify_email,
    "alert_page": urls.alert_page,
    "dashboard_page": urls.dashboard_page,
    "dashboard_editor": urls.dashboard_editor,
    "dashboard_cards": urls.dashboard_cards,
    "shared_dashboard": urls.shared_dashboard,
    "shared_dashboard_cards": urls.shared_dashboard_cards,
    "card_graph": urls.card_graph,
    "embedded_dashboard": urls.embedded_dashboard,
    "absolute": urls.absolute,
    "graph_image": links.graph_image,
    "share_codes": links.share_codes,
}


@dataclass(frozen=True)
class Flash:
    text: str
    kind: str = "ok"  # "ok" or "error"

    @classmethod
    def error(cls, message: str) -> Flash:
        """A domain error's message, as a sentence."""
        return cls(sentence(message), "error")


@dataclass(frozen=True)
class Viewer:
    """What the layout shows of the logged-in person."""

    email: str
    timezone: str
    verified: bool = True  # False: the layout's banner asks to confirm the e-mail


def make_environment(folder: Path = TEMPLATES) -> Environment:
    """Autoescaped (visitors' stat names end up in pages); templates reload when edited.

    StrictUndefined makes a misspelt variable fail loudly instead of rendering blank.
    """
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        auto_reload=True,
        undefined=StrictUndefined,
    )
    env.filters.update(FILTERS)
    env.globals.update(URL_GLOBALS)
    env.globals["MAX_STATS_ON_GRAPH"] = MAX_STATS_ON_GRAPH
    env.globals["FULL_GRAPH_MARGINS"] = FULL_GRAPH_MARGINS  # for hovering over cards
    env.globals["STAT_SORTS"] = SORTS  # the stat list's orders and their words
    return env


class HtmlPresenter:
    """Renders results into pages; templates receive plain data, never database objects."""

    def __init__(self, environment: Environment) -> None:
        self._env = environment

    def render(
        self,
        template: str,
        page: Any,
        *,
        viewer: Viewer | None = None,
        csrf: str = "",
        flash: Flash | None = None,
    ) -> str:
        return self._env.get_template(template).render(
            page=page, viewer=viewer, csrf=csrf, flash=flash
        )
