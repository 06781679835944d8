"""Signing up, logging in and out, and the settings page, over real HTTP on SQLite and MariaDB.

Failed log-ins are counted per e-mail and per client address for 15 minutes in
the shared test database, so every test that fails a log-in on purpose comes
from an address of its own (``X-Forwarded-For``, which the web app trusts from
127.0.0.1, its default AERIE_TRUSTED_PROXIES); the other tests' log-ins from
127.0.0.1 stay clear of any wait.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts
from aerie.settings import Settings
from tests.conftest import hashed
from tests.servers import RunningServer, serve
from tests.web_service.conftest import PASSWORD, Browser, csrf_in, log_in

_SECRET = re.compile(r'<pre class="secret" id="new-token">([A-Za-z0-9]+)</pre>')
HTML = {"accept": "text/html"}


def unique_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


def make_user(engine: Engine, name: str = "owner") -> accounts.User:
    with engine.begin() as conn:
        return accounts.create_user(conn, unique_email(name), hashed(PASSWORD), int(time.time()))


def own_address() -> dict[str, str]:
    """Headers that make the request come from an address no other test uses."""
    return {"x-forwarded-for": "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))}


def session_cookie(answer: httpx.Response) -> str | None:
    """The Set-Cookie header that opens a session, or None."""
    found = [c for c in answer.headers.get_list("set-cookie") if c.startswith("aerie_session=")]
    return found[0] if found else None


@pytest.fixture
def client(web: RunningServer) -> Iterator[httpx.Client]:
    """A browser with no session yet."""
    with httpx.Client(base_url=web.url, follow_redirects=False, timeout=30) as client:
        yield client


def submit(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    """Fill in the log-in or sign-up form at ``path`` and send it, as a browser would."""
    form = client.get(path, headers=HTML)
    return client.post(
        path, data={"csrf": csrf_in(form.text), **fields}, headers={**HTML, **(headers or {})}
    )


def settings_json(browser: Browser) -> dict[str, Any]:
    answer = browser.json("/settings.json")
    assert answer.status_code == 200, answer.text
    shape: dict[str, Any] = answer.json()
    return shape


# Signing up


def test_sign_up_opens_a_lax_http_only_session_and_welcomes(client: httpx.Client) -> None:
    email = unique_email("newcomer")
    answer = submit(client, "/signup", email=email, password=PASSWORD, timezone="Europe/Paris")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/stats?done=welcome"
    cookie = session_cookie(answer)
    assert cookie is not None
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    me = client.get("/settings.json").json()
    assert (me["email"], me["timezone"], me["ezkey"]) == (email, "Europe/Paris", email)


def test_sign_up_form_lists_every_zone_with_utc_chosen(client: httpx.Client) -> None:
    page = client.get("/signup", headers=HTML)
    assert page.status_code == 200
    assert '<option value="UTC" selected>' in page.text
    assert 'value="Asia/Kolkata"' in page.text
    assert "data-browser-timezone" in page.text
    assert csrf_in(page.text) == client.cookies["aerie_form"]


def test_sign_up_with_a_taken_email_comes_back_with_409(
    client: httpx.Client, engine: Engine
) -> None:
    taken = make_user(engine).email
    answer = submit(client, "/signup", email=taken, password=PASSWORD, timezone="Asia/Tokyo")
    assert answer.status_code == 409
    assert "already exists" in answer.text
    assert f'value="{taken}"' in answer.text
    assert '<option value="Asia/Tokyo" selected>' in answer.text
    assert session_cookie(answer) is None


@pytest.mark.parametrize(
    ("email", "password", "timezone", "message"),
    [
        ("newcomer@example.com", "short", "UTC", "at least 8 characters"),
        ("newcomer@example.com", PASSWORD, "Mars/Olympus_Mons", "is not a time zone"),
        ("not-an-address", PASSWORD, "UTC", "does not look like an e-mail address"),
    ],
)
def test_sign_up_mistakes_come_back_with_400_and_the_message(
    client: httpx.Client, email: str, password: str, timezone: str, message: str
) -> None:
    answer = submit(client, "/signup", email=email, password=password, timezone=timezone)
    assert answer.status_code == 400
    assert message in answer.text
    assert 'class="flash error"' in answer.text
    assert f'value="{email}"' in answer.text
    assert password not in answer.text
    assert session_cookie(answer) is None


def test_logged_in_visitor_opening_login_or_signup_goes_to_stats(owner_browser: Browser) -> None:
    for path in ("/login", "/signup"):
        answer = owner_browser.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/stats"


# Logging in and out


@pytest.mark.parametrize(("email", "password", "says"), [
    ("", "", "Enter your e-mail and password to log in"),
    ("", "a password", "Enter your e-mail to log in"),
    ("someone@example.com", "", "Enter your password to log in"),
])
def test_an_empty_log_in_form_asks_for_what_is_missing(
    client: httpx.Client, email: str, password: str, says: str
) -> None:
    answer = submit(client, "/login", own_address(), email=email, password=password)
    assert answer.status_code == 400
    assert says in answer.text and "do not match" not in answer.text
    assert session_cookie(answer) is None


def test_wrong_password_answers_401_without_a_session(client: httpx.Client, engine: Engine) -> None:
    user = make_user(engine)
    answer = submit(client, "/login", own_address(), email=user.email, password="wrong password")
    assert answer.status_code == 401
    assert "do not match an account" in answer.text
    assert f'value="{user.email}"' in answer.text
    assert session_cookie(answer) is None


def failures_until_refused(
    client: httpx.Client, address: dict[str, str], email: Callable[[], str]
) -> list[int]:
    """Wrong log-ins until one is refused (each wait is short, so refused within 20)."""
    statuses: list[int] = []
    while not statuses or statuses[-1] != 429:
        assert len(statuses) < 20, statuses
        answer = submit(client, "/login", address, email=email(), password="wrong password")
        statuses.append(answer.status_code)
    return statuses


def test_log_in_soon_after_repeated_failures_is_refused_even_with_the_right_password(
    client: httpx.Client, engine: Engine
) -> None:
    user, address = make_user(engine), own_address()
    statuses = failures_until_refused(client, address, lambda: user.email)
    assert statuses[:4] == [401] * 4  # the first few cost no wait
    answer = submit(client, "/login", address, email=user.email, password=PASSWORD)
    assert answer.status_code == 429
    assert re.search(r"Too many failed log-ins .*; try again in \d+ s", answer.text)
    assert session_cookie(answer) is None


def test_failures_from_one_address_slow_it_whatever_the_email(
    client: httpx.Client, engine: Engine
) -> None:
    user, address = make_user(engine), own_address()
    statuses = failures_until_refused(client, address, lambda: unique_email("nobody"))
    assert statuses[:11] == [401] * 11  # an address has more free tries than an account
    answer = submit(client, "/login", address, email=user.email, password=PASSWORD)
    assert answer.status_code == 429
    other_address = submit(client, "/login", own_address(), email=user.email, password=PASSWORD)
    assert other_address.status_code == 303


def test_log_in_goes_to_the_local_next_path(client: httpx.Client, engine: Engine) -> None:
    user = make_user(engine)
    form = client.get("/login", params={"next": "/settings?tab=tokens"}, headers=HTML)
    assert 'action="/login?next=/settings%3Ftab%3Dtokens"' in form.text
    answer = client.post(
        "/login?next=/settings%3Ftab%3Dtokens",
        data={"csrf": csrf_in(form.text), "email": user.email, "password": PASSWORD},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings?tab=tokens"


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example", "/\\evil.example", "/\t/evil.example"]
)
def test_log_in_never_goes_to_another_site(
    client: httpx.Client, engine: Engine, target: str
) -> None:
    user = make_user(engine)
    form = client.get("/login", headers=HTML)
    answer = client.post(
        "/login",
        params={"next": target},
        data={"csrf": csrf_in(form.text), "email": user.email, "password": PASSWORD},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/stats"


def test_page_needing_a_session_sends_the_browser_to_log_in_and_back(
    client: httpx.Client,
) -> None:
    answer = client.get("/settings", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/settings"


@pytest.mark.parametrize("tamper", ["flip_token", "flip_mac", "no_mac", "random"])
def test_forged_or_altered_cookie_is_not_a_session(
    owner_browser: Browser, web: RunningServer, tamper: str
) -> None:
    real = owner_browser.client.cookies["aerie_session"]
    token, _, mac = real.partition(".")
    forged = {
        "flip_token": ("A" if token[0] != "A" else "B") + token[1:] + "." + mac,
        "flip_mac": token + "." + ("A" if mac[0] != "A" else "B") + mac[1:],
        "no_mac": token,
        "random": secrets.token_urlsafe(32) + "." + mac,
    }[tamper]
    with httpx.Client(base_url=web.url, cookies={"aerie_session": forged}) as stranger:
        answer = stranger.get("/settings", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_log_out_ends_the_session_for_good(owner_browser: Browser, web: RunningServer) -> None:
    old_cookie = owner_browser.client.cookies["aerie_session"]
    answer = owner_browser.post("/logout")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?done=logged_out"  # the page says so
    assert any(
        c.startswith("aerie_session=") and "max-age=0" in c.lower()
        for c in answer.headers.get_list("set-cookie")
    )
    with httpx.Client(base_url=web.url, cookies={"aerie_session": old_cookie}) as replay:
        answer = replay.get("/settings", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


# Forms without the right CSRF token


FORMS = {
    "/settings/profile": {"email": "thief@example.com", "timezone": "Asia/Kolkata"},
    "/settings/ezkey": {"ezkey": "stolen-key"},
    "/settings/tokens": {"label": "thief"},
    "/logout": {},
}


@pytest.mark.parametrize("path", sorted(FORMS))
@pytest.mark.parametrize("csrf", [None, "forged"])
def test_form_without_the_session_csrf_token_is_refused_and_changes_nothing(
    owner_browser: Browser, path: str, csrf: str | None
) -> None:
    before = settings_json(owner_browser)
    fields = FORMS[path] if csrf is None else {"csrf": csrf, **FORMS[path]}
    # Sent as a browser sends a form, even an empty one (httpx would omit the content type).
    answer = owner_browser.client.post(
        path,
        content=urlencode(fields),
        headers={**HTML, "content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 403
    assert "did not come from Aerie" in answer.text
    assert settings_json(owner_browser) == before  # the session is still open, too


@pytest.mark.parametrize("form_cookie", [True, False])
def test_log_in_without_the_form_token_is_refused(
    client: httpx.Client, engine: Engine, form_cookie: bool
) -> None:
    user = make_user(engine)
    client.get("/login", headers=HTML)
    if not form_cookie:
        client.cookies.clear()
    csrf = "forged" if form_cookie else "anything"
    answer = client.post(
        "/login", data={"csrf": csrf, "email": user.email, "password": PASSWORD}, headers=HTML
    )
    assert answer.status_code == 403
    assert session_cookie(answer) is None


# The settings page


def test_settings_page_shows_the_empty_token_list(owner_browser: Browser) -> None:
    page = owner_browser.get("/settings")
    assert page.status_code == 200
    assert "No access tokens yet" in page.text
    assert owner_browser.user.ukey in page.text
    assert csrf_in(page.text) == owner_browser.csrf
    assert page.headers["cache-control"] == "no-store"


def test_settings_json_twin_has_the_account_and_no_secrets(owner_browser: Browser) -> None:
    secret = create_token(owner_browser, "dashboard")
    user = owner_browser.user
    for answer in (owner_browser.json("/settings.json"), owner_browser.json("/settings")):
        assert answer.status_code == 200
        shape = answer.json()
        assert set(shape) == {
            "email",
            "verified",
            "timezone",
            "ezkey",
            "ez_enabled",
            "ukey",
            "api_url",
            "tokens",
        }
        assert (shape["email"], shape["ezkey"], shape["ukey"]) == (
            user.email,
            user.ezkey,
            user.ukey,
        )
        assert (shape["timezone"], shape["ez_enabled"], shape["verified"]) == ("UTC", True, True)
        [token] = shape["tokens"]
        assert set(token) == {"id", "prefix", "label", "created_at", "revoked_at"}
        assert (token["label"], token["prefix"]) == ("dashboard", secret[:6])
        assert secret not in answer.text
        assert "password" not in answer.text and "$argon2" not in answer.text


def test_profile_change_persists(owner_browser: Browser, engine: Engine) -> None:
    user = owner_browser.user
    # The e-mail is unchanged, so no password is asked for.
    answer = owner_browser.post("/settings/profile", email=user.email, timezone="Asia/Kolkata")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings?done=profile"
    assert "Settings saved." in owner_browser.get(answer.headers["location"]).text
    assert settings_json(owner_browser)["timezone"] == "Asia/Kolkata"
    with engine.connect() as conn:
        stored = accounts.user_by_id(conn, user.id)
    assert stored is not None and stored.timezone == "Asia/Kolkata"


def test_profile_mistakes_come_back_with_what_was_typed(
    owner_browser: Browser, outsider_browser: Browser
) -> None:
    email = owner_browser.user.email
    answer = owner_browser.post("/settings/profile", email=email, timezone="Mars/Olympus_Mons")
    assert answer.status_code == 400
    assert "is not a time zone" in answer.text
    assert '<option value="Mars/Olympus_Mons" selected>' in answer.text
    taken = outsider_browser.user.email
    answer = owner_browser.post(
        "/settings/profile", email=taken, timezone="UTC", current_password=PASSWORD
    )
    assert answer.status_code == 409
    assert f'value="{taken}"' in answer.text
    assert settings_json(owner_browser)["email"] == email


@pytest.fixture
def uncached_api(settings: Settings) -> Iterator[RunningServer]:
    """The ingestion API without its key cache, so a settings change shows at once."""
    from api_service.app import create_app

    with serve(create_app(settings.model_copy(update={"key_cache_seconds": 0}))) as server:
        yield server


def post_ez(api: RunningServer, ezkey: str) -> httpx.Response:
    return httpx.post(f"{api.url}/ez", data={"ezkey": ezkey, "stat": "hello", "count": "1"})


def test_ezkey_change_and_ez_switch_reach_the_ingestion_api(
    owner_browser: Browser, uncached_api: RunningServer
) -> None:
    api = uncached_api
    old, new = owner_browser.user.ezkey, f"key-{secrets.token_hex(6)}"
    assert post_ez(api, old).status_code < 300
    answer = owner_browser.post("/settings/ezkey", ezkey=new, ez_enabled="on")
    assert answer.headers["location"] == "/settings?done=ezkey"
    assert post_ez(api, old).status_code == 403
    assert post_ez(api, new).status_code < 300
    owner_browser.post("/settings/ezkey", ezkey=new)  # the box unticked
    refused = post_ez(api, new)
    assert refused.status_code == 403
    assert "turned off" in refused.json()["msg"]
    assert settings_json(owner_browser)["ez_enabled"] is False


@pytest.mark.parametrize(
    ("ezkey", "status", "message"),
    [
        (" padded", 400, "may not begin or end"),
        ("", 400, "Choose an ezkey"),
        ("x" * 256, 400, "at most 255"),
        ("OUTSIDER", 409, "is taken"),
    ],
)
def test_ezkey_mistakes_change_nothing(
    owner_browser: Browser, outsider_browser: Browser, ezkey: str, status: int, message: str
) -> None:
    if ezkey == "OUTSIDER":  # a key the outsider holds (not an e-mail: that is refused sooner)
        ezkey = f"outsider-{secrets.token_hex(4)}"
        assert outsider_browser.post("/settings/ezkey", ezkey=ezkey).status_code == 303
    answer = owner_browser.post("/settings/ezkey", ezkey=ezkey, ez_enabled="on")
    assert answer.status_code == status
    assert message in answer.text
    assert f'name="ezkey" value="{ezkey}"' in answer.text
    assert settings_json(owner_browser)["ezkey"] == owner_browser.user.ezkey


# Access tokens


def create_token(browser: Browser, label: str) -> str:
    """The new token's secret, from the settings page the form sends the browser to."""
    answer = browser.post("/settings/tokens", label=label)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/settings"
    found = _SECRET.search(browser.get("/settings").text)
    assert found is not None
    return found.group(1)


def token_id(browser: Browser, label: str) -> int:
    [found] = [t["id"] for t in settings_json(browser)["tokens"] if t["label"] == label]
    return int(found)


def test_new_token_is_shown_once_and_opens_the_export_api(
    owner_browser: Browser, web: RunningServer
) -> None:
    secret = create_token(owner_browser, "dashboard")
    assert httpx.get(f"{web.url}/x/{secret}/statlist").status_code == 200
    page = owner_browser.get("/settings")
    assert secret not in page.text
    assert "dashboard" in page.text and f"{secret[:6]}…" in page.text


def test_reloading_after_creating_a_token_creates_no_other_and_hides_the_secret(
    owner_browser: Browser,
) -> None:
    """Post/redirect/get: the form's answer is a redirect, so a reload only reads the page."""
    secret = create_token(owner_browser, "dashboard")
    reloaded = owner_browser.get("/settings")

    assert secret not in reloaded.text and "Copy it now" not in reloaded.text
    assert [t["label"] for t in settings_json(owner_browser)["tokens"]] == ["dashboard"]


def test_a_new_token_is_shown_only_to_the_session_that_created_it(
    owner_browser: Browser, web: RunningServer
) -> None:
    """The secret rides to the page in a sealed cookie: replayed by another session (or
    after logging out and in again) it opens to nothing."""
    posted = owner_browser.post("/settings/tokens", label="dashboard")
    cookie = posted.cookies["aerie_new_token"]
    assert cookie and "dashboard" not in cookie
    with httpx.Client(base_url=web.url) as laptop:
        assert log_in(laptop, owner_browser.user.email, PASSWORD).status_code == 303
        laptop.cookies.set("aerie_new_token", cookie)
        other = laptop.get("/settings", headers={"accept": "text/html"})
    assert other.status_code == 200 and "Your new access token" not in other.text
    assert _SECRET.search(owner_browser.get("/settings").text) is not None


def test_a_tampered_new_token_cookie_shows_nothing(owner_browser: Browser) -> None:
    """The cookie is authenticated: a changed byte opens to nothing (no error, no token)."""
    posted = owner_browser.post("/settings/tokens", label="tampered")
    cookie = posted.cookies["aerie_new_token"]
    changed = cookie[:-8] + ("A" if cookie[-8] != "A" else "B") + cookie[-7:]
    [held] = [c for c in owner_browser.client.cookies.jar if c.name == "aerie_new_token"]
    held.value = changed
    page = owner_browser.get("/settings")
    assert page.status_code == 200 and "Your new access token" not in page.text


def test_a_script_gets_its_new_token_in_the_json_answer(owner_browser: Browser) -> None:
    answer = owner_browser.client.post(
        "/settings/tokens", data={"csrf": owner_browser.csrf, "label": "cron"},
        headers={"accept": "application/json"})
    assert answer.status_code == 201
    assert answer.json()["new_token"]["label"] == "cron"
    assert len(answer.json()["new_token"]["token"]) == 32


def test_revoked_token_no_longer_opens_the_export_api(
    owner_browser: Browser, web: RunningServer
) -> None:
    secret = create_token(owner_browser, "old script")
    answer = owner_browser.post(f"/settings/tokens/{token_id(owner_browser, 'old script')}/revoke")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings?done=revoked"
    assert httpx.get(f"{web.url}/x/{secret}/statlist").status_code == 404
    [token] = settings_json(owner_browser)["tokens"]
    assert token["revoked_at"] is not None
    again = owner_browser.post(f"/settings/tokens/{token['id']}/revoke")
    assert again.status_code == 404


def test_outsider_cannot_revoke_the_owners_token(
    owner_browser: Browser, outsider_browser: Browser, web: RunningServer
) -> None:
    secret = create_token(owner_browser, "shared")
    stolen_id = token_id(owner_browser, "shared")
    answer = outsider_browser.post(f"/settings/tokens/{stolen_id}/revoke")
    missing = outsider_browser.post(f"/settings/tokens/{stolen_id + 100000}/revoke")
    assert answer.status_code == missing.status_code == 404
    assert re.sub(r"id \d+", "id N", answer.text) == re.sub(r"id \d+", "id N", missing.text)
    assert httpx.get(f"{web.url}/x/{secret}/statlist").status_code == 200


def test_token_label_too_long_comes_back_with_it(owner_browser: Browser) -> None:
    label = "x" * 101
    answer = owner_browser.post("/settings/tokens", label=label)
    assert answer.status_code == 400
    assert "at most 100 characters" in answer.text
    assert f'value="{label}"' in answer.text
    assert settings_json(owner_browser)["tokens"] == []


# Passwords


def test_password_change_ends_other_sessions_but_keeps_this_one(
    owner_browser: Browser, web: RunningServer
) -> None:
    email, new = owner_browser.user.email, "a brand new passphrase"
    with httpx.Client(base_url=web.url) as laptop:
        assert log_in(laptop, email, PASSWORD).status_code == 303
        answer = owner_browser.post(
            "/settings/password", current_password=PASSWORD, new_password=new
        )
        assert answer.headers["location"] == "/settings?done=password"
        assert owner_browser.get("/settings").status_code == 200
        assert laptop.get("/settings", headers=HTML).status_code == 303
    with httpx.Client(base_url=web.url) as fresh:
        assert log_in(fresh, email, new).status_code == 303
    with httpx.Client(base_url=web.url) as fresh:
        old = submit(fresh, "/login", own_address(), email=email, password=PASSWORD)
        assert old.status_code == 401


def test_wrong_current_password_changes_nothing(owner_browser: Browser, web: RunningServer) -> None:
    answer = owner_browser.post(
        "/settings/password", current_password="not my password", new_password="whatever123"
    )
    assert answer.status_code == 401
    assert "current password is not right" in answer.text
    assert "not my password" not in answer.text and "whatever123" not in answer.text
    with httpx.Client(base_url=web.url) as other:
        assert log_in(other, owner_browser.user.email, PASSWORD).status_code == 303


def test_guessing_the_current_password_from_a_session_is_rate_limited(
    owner_browser: Browser,
) -> None:
    statuses: list[int] = []
    while not statuses or statuses[-1] != 429:
        assert len(statuses) < 20, statuses
        wrong = owner_browser.post(
            "/settings/password", current_password="a guess", new_password="whatever123"
        )
        statuses.append(wrong.status_code)

    assert statuses[:4] == [401] * 4
    assert "try again in" in wrong.text
