"""The account pages: sign up, log in and out, forgotten passwords, e-mail verification,
and the settings page's forms (deleting the account among them).

Forms follow post/redirect/get: a form that worked sends the browser on with a
303; one with a mistake comes back as the same page, with the message, the
mistake's status and what was typed (never a password). A script that asks for
JSON gets the mistake as ``{"status", "msg"}`` from the error handler instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse, Response

from aerie import urls
from aerie.errors import AerieError
from aerie.sessions import Session
from interactor import account_links, account_settings
from interactor.account_settings import TIME_ZONES
from interactor.base import Services
from interactor.sessions import log_in, log_out, sign_up
from presenters import accounts as present
from presenters.html import Flash
from web_service.answers import JSONAnswer
from web_service.auth import AnonymousForm, Auth, CurrentSession, MaybeSession, SessionForm
from web_service.params import RowId
from web_service.responder import (
    DONE_MESSAGES,
    Responder,
    json_requested,
    page_route,
    see_other,
)

HOME = urls.STATS
TOKEN_SHOWN_ONCE = (
    "Token created. Copy it now: Aerie keeps only a fingerprint and cannot show it again."
)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, or ``HOME``; never another site.

    Browsers read "//host" and "/\\host" as other sites, and drop tabs and line
    breaks from URLs ("/\\t/host" becomes "//host"), so those are refused too.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return HOME
    return target


@dataclass(frozen=True)
class AccountForm:
    """What the log-in and sign-up forms show: what was typed, never the password.

    ``guess_timezone`` lets the browser's script pick its own zone on a fresh
    sign-up form; a form coming back with a mistake keeps the zone chosen.
    """

    email: str = ""
    timezone: str = "UTC"
    next: str = HOME
    guess_timezone: bool = True
    time_zones: tuple[str, ...] = field(default=TIME_ZONES, repr=False)


@dataclass(frozen=True)
class Notice:
    """A page that only says something: a reset mail asked for, an e-mail verified."""

    title: str
    text: str


RESET_ASKED = Notice(
    "Check your mail",
    "If an account uses that address, a link to choose a new password is on its way. "
    "It works once, within the hour. No mail? Check the spam folder, or ask again.",
)


class AccountPages:
    """The account routes' handlers, bound to the app's services (no module-level state)."""

    def __init__(self, services: Services, auth: Auth, responder: Responder) -> None:
        self._services = services
        self._auth = auth
        self._responder = responder

    def _anonymous_page(
        self,
        request: Request,
        template: str,
        form: Any,
        *,
        status: int = 200,
        flash: Flash | None = None,
    ) -> Response:
        """A log-in or sign-up page, whose form token is also set as the form cookie."""
        token = self._auth.form_token(request)
        done = DONE_MESSAGES.get(request.query_params.get("done", ""))
        flash = flash or (Flash(done) if done else None)
        body = self._responder.html.render(template, form, csrf=token, flash=flash)
        response = HTMLResponse(body, status_code=status)
        self._auth.remember_form_token(request, response, token)
        return response

    def _anonymous_again(
        self, request: Request, template: str, form: Any, mistake: AerieError
    ) -> Response:
        if json_requested(request):
            raise mistake
        flash = Flash.error(mistake.message)
        return self._anonymous_page(request, template, form, status=mistake.status, flash=flash)

    async def signup_form(self, request: Request, session: MaybeSession) -> Response:
        if session:
            return see_other(HOME)
        return self._anonymous_page(request, "signup.html", AccountForm())

    async def signup(self, request: Request, fields: AnonymousForm) -> Response:
        email, timezone = fields.get("email", ""), fields.get("timezone", "UTC")
        # the peer's address, or the one a trusted proxy forwarded (see app.py)
        address = request.client.host if request.client else "unknown"
        try:
            session = await sign_up(self._services, email, fields.get("password", ""), timezone,
                                    address)
        except AerieError as mistake:
            form = AccountForm(email, timezone, guess_timezone=False)
            return self._anonymous_again(request, "signup.html", form, mistake)
        response = see_other(HOME, done="welcome")
        self._auth.open(request, response, session)
        return response

    async def login_form(self, request: Request, session: MaybeSession) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if session:
            return see_other(next_path)
        done = DONE_MESSAGES.get(request.query_params.get("done", ""))
        return self._anonymous_page(request, "login.html", AccountForm(next=next_path),
                                    flash=Flash(done) if done else None)

    async def login(self, request: Request, fields: AnonymousForm) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        email, password = fields.get("email", ""), fields.get("password", "")
        # The peer's address, or the one a trusted proxy forwarded (see app.py).
        address = request.client.host if request.client else "unknown"
        try:
            session = await log_in(self._services, email, password, address)
        except AerieError as mistake:
            form = AccountForm(email, next=next_path)
            return self._anonymous_again(request, "login.html", form, mistake)
        response = see_other(next_path)
        self._auth.open(request, response, session)
        return response

    async def logout(self, form: SessionForm) -> Response:
        await log_out(self._services, form.session.token)
        response = see_other(urls.LOGIN, done="logged_out")
        self._auth.close(response)
        return response

    async def forgot_form(self, request: Request) -> Response:
        return self._anonymous_page(request, "forgot_password.html", AccountForm())

    async def forgot(self, request: Request, fields: AnonymousForm) -> Response:
        """The same answer whether or not the e-mail has an account: the link is looked
        for and mailed after the answer has gone (a background task)."""
        email = fields.get("email", "")
        address = request.client.host if request.client else "unknown"
        try:
            email = await account_links.note_reset_request(self._services, email, address)
        except AerieError as mistake:
            return self._anonymous_again(
                request, "forgot_password.html", AccountForm(email), mistake)
        response = self._notice(request, RESET_ASKED)
        response.background = BackgroundTask(
            account_links.mail_reset_link, self._services, email)
        return response

    def _notice(self, request: Request, notice: Notice) -> Response:
        if json_requested(request):
            return JSONAnswer({"title": notice.title, "msg": notice.text})
        return HTMLResponse(self._responder.html.render("notice.html", notice))

    async def reset_form(self, request: Request) -> Response:
        """The choose-a-password form a reset or claim link opens (the link is not used yet,
        so a mail scanner that opens it spends nothing)."""
        form = await account_links.reset_form(
            self._services, request.query_params.get("token", ""))
        response = self._anonymous_page(request, "reset_password.html", form)
        response.headers["cache-control"] = "no-store"
        return response

    async def reset(self, request: Request, fields: AnonymousForm) -> Response:
        token = fields.get("token", "")
        try:
            session = await account_links.reset_password(
                self._services, token, fields.get("password", ""))
        except account_links.DeadLink:
            raise  # nothing to try again on: the error page says to ask for a new link
        except AerieError as mistake:
            form = await account_links.reset_form(self._services, token)
            return self._anonymous_again(request, "reset_password.html", form, mistake)
        response = see_other(HOME, done="password_set")
        self._auth.open(request, response, session)
        return response

    async def verify(self, request: Request, session: MaybeSession) -> Response:
        """A verification link: following it is the proof, whoever is logged in."""
        verified = await account_links.verify_email(
            self._services, request.query_params.get("token", ""))
        if session is not None:
            return see_other(HOME, done="already_verified" if verified.already else "verified")
        if verified.already:
            return self._notice(request, Notice(
                "E-mail already confirmed",
                f"{verified.email} is already confirmed: there is nothing more to do."))
        return self._notice(request, Notice(
            "E-mail confirmed",
            f"Thank you: {verified.email} is confirmed. Aerie's alerts, digests and daily "
            "reports can reach it."))

    async def resend_verification(self, form: SessionForm) -> Response:
        await account_links.resend_verification(self._services, form.session)
        return see_other(HOME, done="verify_sent")

    async def delete_account(self, request: Request, form: SessionForm) -> Response:
        session = form.session
        try:
            await account_settings.delete_account(
                self._services, session, form.fields.get("current_password", ""))
        except AerieError as mistake:
            return await self._settings_again(request, session, mistake)
        response = see_other(urls.LOGIN, done="account_deleted")
        self._auth.close(response)
        return response

    async def _settings(
        self,
        request: Request,
        session: Session,
        *,
        status: int = 200,
        flash: Flash | None = None,
        handed_over: tuple[int, str] | None = None,
        **changes: Any,
    ) -> Response:
        """The settings page (or its JSON twin); ``changes`` override what was loaded, and
        ``handed_over`` is a just-created token (id, secret) to show."""
        page = await account_settings.settings_page(self._services, session.user.id)
        page = replace(page, now=self._services.now(), api_url=request.app.state.api_url, **changes)
        if handed_over is not None:
            page = page.showing_new_token(*handed_over)
            flash = Flash(TOKEN_SHOWN_ONCE) if page.new_token else flash
        response = self._responder.page(
            request, session, "settings.html", page, present.settings, status=status, flash=flash
        )
        # The page holds keys (and once, a new token): keep it out of every cache.
        response.headers["cache-control"] = "no-store"
        return response

    async def _settings_again(
        self, request: Request, session: Session, mistake: AerieError, **typed: Any
    ) -> Response:
        """The settings page again after a form's mistake, showing what was typed."""
        if json_requested(request):
            raise mistake
        flash = Flash.error(mistake.message)
        return await self._settings(request, session, status=mistake.status, flash=flash, **typed)

    async def settings(self, request: Request, session: CurrentSession) -> Response:
        """The settings page; the one right after "Create token" shows that token, once."""
        if json_requested(request):
            return await self._settings(request, session)
        handed_over = self._auth.handed_over_token(request, session)
        response = await self._settings(request, session, handed_over=handed_over)
        self._auth.forget_handed_over(request, response)
        return response

    async def save_profile(self, request: Request, form: SessionForm) -> Response:
        session, fields = form.session, form.fields
        email, timezone = fields.get("email", ""), fields.get("timezone", "")
        try:
            await account_settings.save_profile(
                self._services, session, email, timezone, fields.get("current_password", "")
            )
        except AerieError as mistake:
            return await self._settings_again(
                request, session, mistake, email=email, timezone=timezone
            )
        return see_other(urls.SETTINGS, done="profile")

    async def save_ezkey(self, request: Request, form: SessionForm) -> Response:
        session, fields = form.session, form.fields
        ezkey, enabled = fields.get("ezkey", ""), "ez_enabled" in fields
        try:
            await account_settings.save_ezkey(self._services, session, ezkey, enabled)
        except AerieError as mistake:
            return await self._settings_again(
                request, session, mistake, ezkey=ezkey, ez_enabled=enabled
            )
        return see_other(urls.SETTINGS, done="ezkey")

    async def change_password(self, request: Request, form: SessionForm) -> Response:
        session, fields = form.session, form.fields
        current, new = fields.get("current_password", ""), fields.get("new_password", "")
        try:
            await account_settings.change_password(self._services, session, current, new)
        except AerieError as mistake:
            return await self._settings_again(request, session, mistake)
        return see_other(urls.SETTINGS, done="password")

    async def create_token(self, request: Request, form: SessionForm) -> Response:
        """On to the settings page, which shows the new token's secret the only time it is
        shown (post/redirect/get: reloading it creates no other token); a script asking
        for JSON gets the secret in this answer (201) instead."""
        session, label = form.session, form.fields.get("label", "")
        try:
            token = await account_settings.create_token(self._services, session, label)
        except AerieError as mistake:
            return await self._settings_again(request, session, mistake, label=label)
        if json_requested(request):
            return await self._settings(request, session, status=201, new_token=token)
        response = see_other(urls.SETTINGS)
        self._auth.hand_over_token(request, response, session, token.id, token.token)
        return response

    async def revoke_token(self, form: SessionForm, token_id: RowId) -> Response:
        await account_settings.revoke_token(self._services, form.session, token_id)
        return see_other(urls.SETTINGS, done="revoked")


def account_router(services: Services, auth: Auth, responder: Responder) -> APIRouter:
    """Sign-up, log-in, log-out and settings routes; kept out of the API docs (they are pages)."""
    pages = AccountPages(services, auth, responder)
    router = APIRouter(include_in_schema=False)
    routes: list[tuple[str, str, Callable[..., Awaitable[Response]]]] = [
        ("GET", "/signup", pages.signup_form),
        ("POST", "/signup", pages.signup),
        ("GET", "/login", pages.login_form),
        ("POST", "/login", pages.login),
        ("POST", "/logout", pages.logout),
        ("POST", "/settings/profile", pages.save_profile),
        ("POST", "/settings/ezkey", pages.save_ezkey),
        ("POST", "/settings/password", pages.change_password),
        ("POST", "/settings/tokens", pages.create_token),
        ("POST", "/settings/tokens/{token_id:int}/revoke", pages.revoke_token),
        ("GET", urls.FORGOT_PASSWORD, pages.forgot_form),
        ("POST", urls.FORGOT_PASSWORD, pages.forgot),
        ("GET", urls.RESET_PASSWORD, pages.reset_form),
        ("POST", urls.RESET_PASSWORD, pages.reset),
        ("GET", urls.VERIFY_EMAIL, pages.verify),
        ("POST", urls.RESEND_VERIFICATION, pages.resend_verification),
        ("POST", urls.DELETE_ACCOUNT, pages.delete_account),
    ]
    for method, path, handler in routes:
        router.add_api_route(path, handler, methods=[method])
    page_route(router, urls.SETTINGS)(pages.settings)
    return router
