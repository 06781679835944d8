"""Links mailed to an account, through the web app and a real SMTP relay: forgotten
passwords and e-mail verification (who reads them on /dev/mail: test_dev_mail.py)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import Engine, select, update

from aerie import accounts
from aerie.delivery import deliver_due
from aerie.schema import account_tokens, outbox, sessions, users
from aerie.settings import Settings
from tests.servers import RunningServer
from tests.smtp import Relay
from tests.web_service.conftest import PASSWORD, Browser, csrf_in, log_in

NEW_PASSWORD = "a brand new passphrase"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
LINK = re.compile(r"http://\S+/(?:password/reset|verify)\?token=[A-Za-z0-9]+")


def new_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


@pytest.fixture
def visitor(web: RunningServer) -> Iterator[httpx.Client]:
    """A browser nobody has logged in with, from an address of its own (the web app trusts
    the loopback proxy's X-Forwarded-For), so per-address limits are this test's alone."""
    address = f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    headers = {"accept": "text/html", "x-forwarded-for": address}
    with httpx.Client(base_url=web.url, headers=headers, timeout=30) as client:
        yield client


def submit(client: httpx.Client, page: str, **fields: str) -> httpx.Response:
    """Fill in and send the first form on ``page`` as a browser would: its hidden fields
    (the CSRF token, a link's token) with ``fields``."""
    form = client.get(page)
    assert form.status_code == 200, form.text
    action = re.search(r'<form method="post" action="([^"]+)"', form.text)
    assert action, "the page has no form"
    hidden = dict(HIDDEN.findall(form.text[action.end():].split("</form>")[0]))
    return client.post(action.group(1).replace("&amp;", "&"), data={**hidden, **fields})


def wait_for_mail(engine: Engine, to: str) -> None:
    """A reset mail is queued after the answer has gone: wait (a little) until it is."""
    for _ in range(100):
        with engine.connect() as conn:
            if conn.execute(select(outbox.c.id).where(outbox.c.recipient == to)).first():
                return
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} was queued")


def mailed_links(engine: Engine, settings: Settings, relay: Relay, to: str) -> list[str]:
    """Send what is queued through the relay; the links in the text of the mail to ``to``."""
    deliver_due(engine, relay.settings_for(settings))
    found = []
    for recipients, message in relay.received:
        if recipients == [to]:
            body = message.get_body(("plain",))
            assert isinstance(body, EmailMessage)
            found += LINK.findall(body.get_content())
    return found


def ask_for_reset(client: httpx.Client, engine: Engine, settings: Settings, relay: Relay,
                  email: str) -> str:
    """Ask for a reset link for ``email`` on the form; the link the relay received."""
    submit(client, "/password/forgot", email=email)
    wait_for_mail(engine, email)
    [link] = mailed_links(engine, settings, relay, email)
    return link


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def sign_up(client: httpx.Client, email: str) -> httpx.Response:
    return submit(client, "/signup", email=email, password=PASSWORD, timezone="UTC")


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrf" value="[^"]+"', "", html)


def test_forgot_password_answers_alike_for_any_address_and_mails_only_an_account(
    visitor: httpx.Client, browser: Callable[[str], Browser], engine: Engine, settings: Settings,
    relay: Relay,
) -> None:
    owner = browser("owner")
    login_page = visitor.get("/login")
    assert 'href="/password/forgot"' in login_page.text

    stranger = new_email("nobody")
    unknown = submit(visitor, "/password/forgot", email=stranger)
    known = submit(visitor, "/password/forgot", email=owner.user.email)
    wait_for_mail(engine, owner.user.email)

    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known.text) == without_csrf(unknown.text)
    assert "If an account uses that address" in known.text
    assert mailed_links(engine, settings, relay, stranger) == []
    [link] = mailed_links(engine, settings, relay, owner.user.email)
    assert "/password/reset?token=" in link

    chosen = submit(visitor, path_of(link), password=NEW_PASSWORD)
    assert chosen.status_code == 303 and chosen.headers["location"].startswith("/stats")
    assert visitor.get("/settings").status_code == 200  # logged in by the link
    # The owner's old browser is logged out, the old password opens nothing, the new one does.
    assert owner.get("/settings").status_code == 303
    with httpx.Client(base_url=str(visitor.base_url), headers=visitor.headers) as fresh:
        assert log_in(fresh, owner.user.email, PASSWORD).status_code == 401
        assert log_in(fresh, owner.user.email, NEW_PASSWORD).status_code == 303
    # The link works once.
    again = visitor.get(path_of(link))
    assert again.status_code == 400 and "expired or was already used" in again.text


def test_a_reset_link_expires_and_a_short_password_keeps_it_usable(
    visitor: httpx.Client, browser: Callable[[str], Browser], engine: Engine, settings: Settings,
    relay: Relay,
) -> None:
    owner = browser("owner")
    link = ask_for_reset(visitor, engine, settings, relay, owner.user.email)

    short = submit(visitor, path_of(link), password="short")
    assert short.status_code == 400 and "at least 8 characters" in short.text
    with engine.begin() as conn:
        conn.execute(update(account_tokens).where(account_tokens.c.user_id == owner.user.id)
                     .values(expires_at=int(time.time()) - 1))
    assert visitor.get(path_of(link)).status_code == 400
    assert submit(visitor, "/password/forgot", email=owner.user.email).status_code == 200


def test_reset_requests_are_limited_per_address_and_per_client(
    visitor: httpx.Client, web: RunningServer,
) -> None:
    email = new_email("target")
    answers = [submit(visitor, "/password/forgot", email=email).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]

    # Another client asking for ten other addresses reaches its own limit on the eleventh.
    other = {"x-forwarded-for": f"203.0.113.{secrets.randbelow(250) + 1}", "accept": "text/html"}
    with httpx.Client(base_url=web.url, headers=other, timeout=30) as client:
        codes = [submit(client, "/password/forgot", email=new_email(f"n{n}")).status_code
                 for n in range(11)]
        refused = submit(client, "/password/forgot", email=new_email("x"))
    assert codes == [200] * 10 + [429]
    assert "Too many password reset requests" in refused.text  # a sentence, as log-in errors


def test_sign_up_mails_a_verification_link_and_the_banner_stays_until_it_is_followed(
    visitor: httpx.Client, engine: Engine, settings: Settings, relay: Relay,
) -> None:
    email = new_email("newcomer")
    assert sign_up(visitor, email).status_code == 303

    stats = visitor.get("/stats")
    assert "Confirm your e-mail" in stats.text
    # What is held back, as the README says: alerts, digests and daily reports alike.
    assert "no alerts, no new-stat digests and no daily reports" in stats.text
    with engine.connect() as conn:
        user = accounts.user_by_email(conn, email)
    assert user is not None and not user.verified

    [link] = mailed_links(engine, settings, relay, email)
    followed = visitor.get(path_of(link))
    assert followed.status_code == 303 and "done=verified" in followed.headers["location"]
    assert "Confirm your e-mail" not in visitor.get("/stats").text
    with engine.connect() as conn:
        user = accounts.user_by_email(conn, email)
    assert user is not None and user.verified
    again = visitor.get(path_of(link))  # used already: nothing left to do, and it says so
    assert again.status_code == 303 and "done=already_verified" in again.headers["location"]
    assert "already confirmed" in visitor.get(again.headers["location"]).text


def test_a_new_email_needs_the_password_and_is_unverified_until_its_link_is_followed(
    browser: Callable[[str], Browser], engine: Engine, settings: Settings, relay: Relay,
) -> None:
    owner = browser("owner")
    new = new_email("moved")
    refused = owner.post("/settings/profile", email=new, timezone="UTC", current_password="")
    assert refused.status_code == 401
    changed = owner.post("/settings/profile", email=new, timezone="UTC",
                         current_password=PASSWORD)
    assert changed.status_code == 303

    assert "Confirm your e-mail" in owner.get("/settings").text
    [link] = mailed_links(engine, settings, relay, new)
    assert owner.get(path_of(link)).status_code == 303
    assert "Confirm your e-mail" not in owner.get("/settings").text


def test_a_verification_link_to_an_address_given_up_since_is_dead(
    visitor: httpx.Client, engine: Engine, settings: Settings, relay: Relay,
) -> None:
    first, second = new_email("first"), new_email("second")
    sign_up(visitor, first)
    csrf = csrf_in(visitor.get("/settings").text)
    visitor.post("/settings/profile", data={"csrf": csrf, "email": second, "timezone": "UTC",
                                            "current_password": PASSWORD})
    [old_link] = mailed_links(engine, settings, relay, first)

    assert visitor.get(path_of(old_link)).status_code == 400
    assert "Confirm your e-mail" in visitor.get("/stats").text


def test_the_banner_can_send_the_link_again_a_few_times_an_hour(
    visitor: httpx.Client, engine: Engine, settings: Settings, relay: Relay,
) -> None:
    email = new_email("again")
    sign_up(visitor, email)
    csrf = csrf_in(visitor.get("/stats").text)
    codes = [visitor.post("/verify/resend", data={"csrf": csrf}).status_code for _ in range(4)]
    assert codes == [303, 303, 303, 429]
    assert len(mailed_links(engine, settings, relay, email)) == 4  # sign-up's and three more


def test_a_reset_ends_every_session_of_the_account(
    visitor: httpx.Client, browser: Callable[[str], Browser], engine: Engine, settings: Settings,
    relay: Relay,
) -> None:
    owner = browser("owner")
    link = ask_for_reset(visitor, engine, settings, relay, owner.user.email)
    submit(visitor, path_of(link), password=NEW_PASSWORD)

    with engine.connect() as conn:
        left = conn.execute(select(sessions.c.id).where(sessions.c.user_id == owner.user.id))
        verified = conn.execute(select(users.c.email_verified_at)
                                .where(users.c.id == owner.user.id)).scalar_one()
    assert len(list(left)) == 1  # the one the link opened
    assert verified is not None


def test_a_verification_link_works_in_a_browser_that_is_not_logged_in_and_again(
    visitor: httpx.Client, web: RunningServer, engine: Engine, settings: Settings, relay: Relay,
) -> None:
    """Clicking the mail's link twice (or from the dev mail page, then again) is no error:
    the second click says the address is already confirmed."""
    email = new_email("elsewhere")
    sign_up(visitor, email)
    [link] = mailed_links(engine, settings, relay, email)

    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}, timeout=30) as phone:
        opened, again = phone.get(path_of(link)), phone.get(path_of(link))
    assert opened.status_code == 200 and f"{email} is confirmed" in opened.text
    assert "Confirm your e-mail" not in visitor.get("/stats").text
    assert again.status_code == 200
    assert f"{email} is already confirmed" in again.text and "expired" not in again.text
