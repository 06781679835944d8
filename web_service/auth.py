"""Sessions in cookies, and CSRF checks on every form.

The session cookie carries a random token plus an HMAC of it under the secret
key: a forged or altered cookie is rejected before any database lookup, and
the token itself only opens a session while its row exists (logout deletes it).
Cookies are HttpOnly and SameSite=Lax, and Secure when the request came over
HTTPS. Every form carries a CSRF token: the session's own once logged in, or,
on the log-in and sign-up forms, one that must match a SameSite=Strict cookie.

Routes never call these checks by hand: they declare who may call them in their
signature, with :data:`CurrentSession` (a page for a logged-in user),
:data:`SessionForm` (that user's form, CSRF checked), :data:`MaybeSession` or
:data:`AnonymousForm`. The dependencies find the app's :class:`Auth` on
``app.state.auth``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, Request
from starlette.responses import Response

from aerie import urls
from aerie.errors import BadRequest, NotAllowed, NotAuthenticated, TooLarge
from aerie.keys import random_key, same_secret
from aerie.sessions import Session
from interactor.base import Services
from interactor.sessions import SESSION_SECONDS, session_for

SESSION_COOKIE = "aerie_session"
FORM_COOKIE = "aerie_form"
NEW_TOKEN_COOKIE = "aerie_new_token"
NEW_TOKEN_SECONDS = 300  # from creating an access token to the page that shows it
MAX_FORM_BYTES = 64 * 1024
CSRF_FIELD = "csrf"
FORGED_FORM = (
    "this form is out of date or did not come from Aerie; reload the page and send it again"
)


class LoginRequired(NotAuthenticated):
    """Raised for a page that needs a session; HTML callers are sent to the log-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in to see this page")
        self.next_path = next_path


class Auth:
    """Reads and writes session cookies and checks forms; one per app."""

    def __init__(self, services: Services, secret: bytes) -> None:
        self._services = services
        self._secret = secret

    def _sign(self, token: str) -> str:
        mac = hmac.new(self._secret, token.encode(), hashlib.sha256).digest()
        return token + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _unsign(self, value: str) -> str | None:
        token, _, _mac = value.partition(".")
        return token if token and same_secret(self._sign(token), value) else None

    async def session(self, request: Request) -> Session | None:
        """The live session the request's cookie names, or None (looked up once per request)."""
        if not hasattr(request.state, "session"):
            cookie = request.cookies.get(SESSION_COOKIE, "")
            token = self._unsign(cookie) if cookie else None
            found = await session_for(self._services, token) if token else None
            request.state.session = found
        session: Session | None = request.state.session
        return session

    async def require(self, request: Request) -> Session:
        session = await self.session(request)
        if session is None:
            # After logging in the browser GETs ``next``: only a page can be returned to,
            # not a form's target.
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(path if request.method == "GET" else urls.STATS)
        return session

    async def form(self, request: Request) -> PostedForm:
        """A logged-in user's form, after checking its CSRF token against the session."""
        session = await self.require(request)
        fields = await read_form(request)
        if not same_secret(fields.get(CSRF_FIELD, ""), session.csrf_token):
            raise NotAllowed(FORGED_FORM)
        return PostedForm(session, fields)

    async def anonymous_form(self, request: Request) -> dict[str, str]:
        """A log-in or sign-up form, whose token must match the form cookie."""
        fields = await read_form(request)
        expected = request.cookies.get(FORM_COOKIE, "")
        if not expected or not same_secret(fields.get(CSRF_FIELD, ""), expected):
            raise NotAllowed(FORGED_FORM)
        return fields

    def form_token(self, request: Request) -> str:
        """The token a log-in or sign-up form embeds (reusing the browser's cookie)."""
        return request.cookies.get(FORM_COOKIE) or random_key(32)

    def remember_form_token(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            FORM_COOKIE, token, httponly=True, samesite="strict", secure=_https(request),
            max_age=86400,
        )

    def open(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE, self._sign(session.token), max_age=SESSION_SECONDS, httponly=True,
            samesite="lax", secure=_https(request),
        )

    def close(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")

    def hand_over_token(self, request: Request, response: Response, session: Session,
                        token_id: int, secret: str) -> None:
        """Carry a new access token's secret across post/redirect/get to the settings page,
        which shows it once (:meth:`handed_over_token`).

        Web copies share no memory and Aerie stores only a token's fingerprint, so the
        secret rides in a short-lived cookie, encrypted and authenticated (Fernet) under
        a key drawn from the secret key and this session's token. The cookie alone, or
        after logging out, reveals nothing; it goes only to ``/settings`` and never into
        a URL.
        """
        value = self._token_box(session).encrypt(f"{token_id}.{secret}".encode()).decode()
        response.set_cookie(
            NEW_TOKEN_COOKIE, value, max_age=NEW_TOKEN_SECONDS, path=urls.SETTINGS,
            httponly=True, samesite="strict", secure=_https(request),
        )

    def handed_over_token(self, request: Request, session: Session) -> tuple[int, str] | None:
        """The (token id, secret) :meth:`hand_over_token` sealed for this session, or None.
        The caller shows it and calls :meth:`forget_handed_over` so a reload does not."""
        sealed = request.cookies.get(NEW_TOKEN_COOKIE, "")
        try:
            opened = self._token_box(session).decrypt(sealed.encode(), ttl=NEW_TOKEN_SECONDS)
            token_id, _, secret = opened.decode().partition(".")
            return int(token_id), secret
        except (InvalidToken, ValueError):  # none, mangled, expired, or another session's
            return None

    def forget_handed_over(self, request: Request, response: Response) -> None:
        """Drop the cookie :meth:`hand_over_token` set, if the browser sent one."""
        if NEW_TOKEN_COOKIE in request.cookies:
            response.delete_cookie(NEW_TOKEN_COOKIE, path=urls.SETTINGS, httponly=True,
                                   samesite="strict")

    def _token_box(self, session: Session) -> Fernet:
        """Fernet (AES-128-CBC with HMAC-SHA256, and a timestamp) under a key only this
        session's requests can draw."""
        key = hmac.new(self._secret, f"new access token\0{session.token}".encode(),
                       hashlib.sha256).digest()
        return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True)
class PostedForm:
    """A logged-in user's form whose CSRF token matched their session."""

    session: Session
    fields: dict[str, str]


def auth_of(request: Request) -> Auth:
    """The app's Auth, set by the app factory (no module-level state)."""
    auth: Auth = request.app.state.auth
    return auth


async def require_session(request: Request) -> Session:
    """The visitor's session; LoginRequired (a redirect to log in, or 401) without one."""
    return await auth_of(request).require(request)


async def optional_session(request: Request) -> Session | None:
    return await auth_of(request).session(request)


async def require_form(request: Request) -> PostedForm:
    """A logged-in user's form; 403 when its CSRF token is not their session's."""
    return await auth_of(request).form(request)


async def require_anonymous_form(request: Request) -> dict[str, str]:
    """A log-in or sign-up form's fields; 403 when its token does not match the form cookie."""
    return await auth_of(request).anonymous_form(request)


CurrentSession = Annotated[Session, Depends(require_session)]
MaybeSession = Annotated[Session | None, Depends(optional_session)]
SessionForm = Annotated[PostedForm, Depends(require_form)]
AnonymousForm = Annotated[dict[str, str], Depends(require_anonymous_form)]


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the last value wins); 413 past ``MAX_FORM_BYTES``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise TooLarge(f"the form is larger than {MAX_FORM_BYTES // 1024} KB")
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise BadRequest("the form is not valid UTF-8") from None

