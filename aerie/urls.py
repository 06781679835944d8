"""Every web address Aerie links to, spelled once.

Routes' redirects, use cases, presenters, templates (as Jinja2 globals) and
mail build their links here, so a page that moves changes in one place. Paths
are site-relative; :func:`absolute` puts the public address in front for links
that leave the site (mail, embed codes). Ids and keys are Aerie's own, made of
URL-safe characters, so they go in as they are.
"""

from __future__ import annotations

from urllib.parse import quote

STATS = "/stats"
ALERTS = "/alerts"
DASHBOARDS = "/dashboards"
SETTINGS = "/settings"
REPORTS = "/reports"
SHARING = "/sharing"
LOGIN = "/login"
COMPARE_GRAPH = "/compare/graph"
EMBED_JS = "/javascripts/embed.js"


def absolute(base: str, path: str) -> str:
    """``path`` under the public address ``base`` (with or without a trailing slash)."""
    return base.rstrip("/") + path


def login(next_path: str) -> str:
    """The log-in page, which sends the browser on to ``next_path`` afterwards."""
    return f"{LOGIN}?next=" + quote(next_path, safe="/")


def stat_page(public_id: str) -> str:
    return f"{STATS}/{public_id}"


def stat_graph(public_id: str) -> str:
    """A stat's graph, without its ``.png``/``.svg`` suffix."""
    return f"{STATS}/{public_id}/graph"


def alert_page(public_id: str) -> str:
    return f"{ALERTS}/{public_id}"


def dashboard_page(public_id: str) -> str:
    return f"{DASHBOARDS}/{public_id}"


def dashboard_cards(public_id: str) -> str:
    """Where the owner's dashboard cards' graphs live (``/ID/graph.png`` follows)."""
    return f"{DASHBOARDS}/{public_id}/cards"


def shared_dashboard(key: str) -> str:
    """A dashboard shared by key, for anyone holding the link."""
    return f"/d/{key}"


def shared_dashboard_cards(key: str) -> str:
    return f"/d/{key}/cards"


def embedded_dashboard(key: str) -> str:
    """A shared dashboard as a page to put in an iframe."""
    return f"/embed/dashboard/{key}"


def embed_image(kind: str, keys: str, fmt: str) -> str:
    """An embed's image (``fmt`` is png or svg); ``keys`` are joined by ``/``."""
    return f"/embed/{kind}/{keys}.{fmt}"
