"""Every web address Aerie links to, spelled once.

Routes' redirects, use cases, presenters, templates (as Jinja2 globals) and
mail build their links here, so a page that moves changes in one place. Paths
are site-relative; :func:`absolute` puts the public address in front for links
that leave the site (mail, embed codes). Ids and keys are Aerie's own, made of
URL-safe characters, so they go in as they are.
"""

from __future__ import annotations

from urllib.parse import quote

INDEX = "/"  # the front page
STATS = "/stats"
COMPARE = "/compare"
ALERTS = "/alerts"
DASHBOARDS = "/dashboards"
TRASH = "/trash"
SETTINGS = "/settings"
PROFILE = "/settings/profile"
EZKEY = "/settings/ezkey"
PASSWORD = "/settings/password"
TOKENS = "/settings/tokens"
REPORTS = "/reports"
SHARING = "/sharing"
LOGIN = "/login"
LOGOUT = "/logout"
SIGNUP = "/signup"
FORGOT_PASSWORD = "/password/forgot"
RESET_PASSWORD = "/password/reset"  # ?token=: a reset or claim link's form
VERIFY_EMAIL = "/verify"  # ?token=: a verification link
RESEND_VERIFICATION = "/verify/resend"
DELETE_ACCOUNT = "/settings/delete"
DEV_MAIL = "/dev/mail"
COMPARE_GRAPH = "/compare/graph"
EMBED_JS = "/javascripts/embed.js"
EMBED = "/embed"  # embeds' images and pages, shown on other sites
SHARED_DASHBOARDS = "/d"  # dashboards opened by their embed key
STYLESHEET = "/static/aerie.css"
SCRIPT = "/static/aerie.js"
FAVICON = "/static/favicon.svg"


def absolute(base: str, path: str) -> str:
    """``path`` under the public address ``base`` (with or without a trailing slash)."""
    return base.rstrip("/") + path


def reset_password(token: str) -> str:
    """The form a reset (or claim) link opens; the token is base62, URL-safe as it is."""
    return f"{RESET_PASSWORD}?token={token}"


def verify_email(token: str) -> str:
    return f"{VERIFY_EMAIL}?token={token}"


def login(next_path: str) -> str:
    """The log-in page, which sends the browser on to ``next_path`` afterwards."""
    return f"{LOGIN}?next=" + quote(next_path, safe="/")


def stat_page(public_id: str) -> str:
    return f"{STATS}/{public_id}"


def stat_graph(public_id: str) -> str:
    """A stat's graph, without its ``.png``/``.svg`` suffix."""
    return f"{STATS}/{public_id}/graph"


def stat_graph_image(
    public_id: str, fmt: str, timeframe: str, previous: bool = True,
    threshold: float | None = None,
) -> str:
    """A stat's graph image over ``timeframe``, against the period before unless told not,
    with an alert's ``threshold`` drawn across it if given."""
    return (f"{stat_graph(public_id)}.{fmt}?tf={timeframe}" + ("" if previous else "&prev=0")
            + ("" if threshold is None else f"&threshold={threshold:g}"))


def compare_graph_image(
    public_ids: list[str], timeframe: str, fmt: str, normalised: bool = False
) -> str:
    """The compare page's graph of the stats ``public_ids``, in order, each line as a
    percentage of its largest value when ``normalised``."""
    return (f"{COMPARE_GRAPH}.{fmt}?" + "".join(f"ids={i}&" for i in public_ids)
            + f"tf={timeframe}" + ("&norm=1" if normalised else ""))


def compare(public_id: str) -> str:
    """The compare page with one stat already chosen."""
    return f"{COMPARE}?ids={public_id}"


def trashed_stat(public_id: str) -> str:
    """A stat in the trash (``/restore`` follows)."""
    return f"{TRASH}/{public_id}"


def token(token_id: int) -> str:
    """One of the user's API tokens (``/revoke`` follows)."""
    return f"{TOKENS}/{token_id}"


def share_key(key: str) -> str:
    """One of the user's embed keys on the sharing page (``/revoke`` follows)."""
    return f"{SHARING}/{key}"


def dev_mail(mail_id: int) -> str:
    """One mail caught by the development mailbox."""
    return f"{DEV_MAIL}/{mail_id}"


def alert_page(public_id: str) -> str:
    return f"{ALERTS}/{public_id}"


def dashboard_page(public_id: str) -> str:
    return f"{DASHBOARDS}/{public_id}"


def dashboard_editor(public_id: str) -> str:
    """The dashboard in edit mode: rename, add, move and remove cards, share."""
    return f"{dashboard_page(public_id)}?edit=1"


def dashboard_cards(public_id: str) -> str:
    """Where the owner's dashboard cards' graphs live (``/ID/graph.png`` follows)."""
    return f"{DASHBOARDS}/{public_id}/cards"


def card_graph(cards: str, card_id: int, fmt: str) -> str:
    """A dashboard card's graph image, under ``cards`` (:func:`dashboard_cards` or
    :func:`shared_dashboard_cards`)."""
    return f"{cards}/{card_id}/graph.{fmt}"


def shared_dashboard(key: str) -> str:
    """A dashboard shared by key, for anyone holding the link."""
    return f"{SHARED_DASHBOARDS}/{key}"


def shared_dashboard_cards(key: str) -> str:
    return f"{SHARED_DASHBOARDS}/{key}/cards"


def embedded_dashboard(key: str) -> str:
    """A shared dashboard as a page to put in an iframe."""
    return f"{EMBED}/dashboard/{key}"


def embed_image(kind: str, keys: str, fmt: str) -> str:
    """An embed's image (``fmt`` is png or svg); ``keys`` are joined by ``/``."""
    return f"{EMBED}/{kind}/{keys}.{fmt}"
