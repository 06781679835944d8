"""Every route's signature says who may call it.

A page or form that forgot its session check would serve one account's data to
anyone; these tests read the web app's routes and fail for any route outside the
public ones that does not declare the session dependency (pages) or the CSRF
checked form dependency (forms) in its signature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from aerie.settings import Settings
from web_service.a1_routes import basic_token
from web_service.app import create_app
from web_service.auth import require_anonymous_form, require_form, require_session

# Open to anyone: the key or token in the path (or Basic credentials) is the credential,
# or the page is for visitors who are not logged in yet (a mailed link's token is the
# credential of /password/reset and /verify). /dev/mail checks its reader in its handler:
# with AERIE_DEV_MAIL_VIEW=all a visitor may read account mail (tests/web_service/test_dev_mail.py).
PUBLIC_PREFIXES = ("/login", "/signup", "/password/", "/embed/", "/d/", "/x/", "/a1/")
PUBLIC_PATHS = {"/", "/healthz", "/readyz", "/javascripts/embed.js", "/verify",
                "/dev/mail", "/dev/mail.json", "/dev/mail/{mail_id}", "/dev/mail/{mail_id}.json"}
ANONYMOUS_FORMS = ("/login", "/signup", "/password/forgot", "/password/reset")


@dataclass(frozen=True)
class Route:
    path: str
    methods: set[str]
    dependant: Dependant


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependency_calls(sub)


def api_routes(app: FastAPI) -> list[Route]:
    """Every API route of the app, with the path it answers at (routers included)."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append(Route(context.path or route.path, set(route.methods or ()), route.dependant))
    return found


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    # Without a mail relay the app also mounts /dev/mail, which must be guarded too.
    assert settings.dev_mail
    return create_app(settings)


def guarded_routes(app: FastAPI) -> list[Route]:
    return [
        route for route in api_routes(app)
        if route.path not in PUBLIC_PATHS
        and not route.path.startswith(PUBLIC_PREFIXES)
    ]


def test_every_private_page_declares_the_session(app: FastAPI) -> None:
    pages = [r for r in guarded_routes(app) if "GET" in r.methods]
    assert len(pages) > 20  # the stat, alert, dashboard, report, sharing and settings pages
    unguarded = [r.path for r in pages if require_session not in dependency_calls(r.dependant)]
    assert unguarded == []


def test_every_private_form_declares_the_csrf_checked_form(app: FastAPI) -> None:
    forms = [r for r in guarded_routes(app) if r.methods & {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(forms) > 20
    unchecked = [r.path for r in forms if require_form not in dependency_calls(r.dependant)]
    assert unchecked == []


def test_log_in_and_sign_up_forms_declare_their_form_token(app: FastAPI) -> None:
    posts = [r for r in api_routes(app) if "POST" in r.methods and r.path in ANONYMOUS_FORMS]
    assert len(posts) == len(ANONYMOUS_FORMS)
    assert all(require_anonymous_form in dependency_calls(r.dependant) for r in posts)


def test_every_a1_route_declares_its_basic_token(app: FastAPI) -> None:
    a1 = [r for r in api_routes(app) if r.path.startswith("/a1/")]
    assert len(a1) >= 8
    assert [r.path for r in a1 if basic_token not in dependency_calls(r.dependant)] == []


def test_every_export_route_takes_its_token_from_the_path(app: FastAPI) -> None:
    export = [r for r in api_routes(app) if r.path.startswith("/x/")]
    assert len(export) >= 8
    assert all(r.path.startswith("/x/{token}/") for r in export)
