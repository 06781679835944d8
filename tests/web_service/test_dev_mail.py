"""In development, the mail Aerie would send shows on /dev/mail: by default to its own
recipient only, logged in; with ``AERIE_DEV_MAIL_VIEW=all`` account mail to anyone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from aerie import outbox
from aerie.delivery import deliver_due
from aerie.mail import compose
from aerie.settings import Settings
from interactor.account_mail import MAIL_KIND
from tests.servers import RunningServer, serve
from tests.web_service.conftest import Browser
from web_service.app import create_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\1" * 16


def test_a_users_mail_shows_on_the_development_page_with_its_graph_inline(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine, settings: Settings
) -> None:
    message = compose(settings, owner_browser.user.email, "ALERT: cpu is 97", "cpu is 97",
                      '<p>cpu is <b>97</b></p><img src="cid:graph">', {"graph": PNG})
    with engine.begin() as conn:
        mail_id = outbox.enqueue(conn, message, kind="alert", user_id=owner_browser.user.id,
                                 now=int(time.time()))
    deliver_due(engine, settings)

    listed = owner_browser.json("/dev/mail.json").json()
    page = owner_browser.get(f"/dev/mail/{mail_id}")

    assert [(m["id"], m["subject"], m["sent_by"]) for m in listed] == [
        (mail_id, "ALERT: cpu is 97", "dev")]
    assert page.status_code == 200
    assert "cpu is &lt;b&gt;97&lt;/b&gt;" in page.text  # the HTML, escaped into srcdoc
    assert "data:image/png;base64," in page.text  # the graph travels inline
    assert outsider_browser.json("/dev/mail.json").json() == []
    assert outsider_browser.get(f"/dev/mail/{mail_id}").status_code == 404


def queue_reset_mail(engine: Engine, settings: Settings, user: Browser) -> int:
    """A password-reset mail to ``user``, as /password/forgot queues it."""
    message = compose(settings, user.user.email, "[Aerie] Choose a new password",
                      "http://127.0.0.1/password/reset?token=secret")
    with engine.begin() as conn:
        return outbox.enqueue(conn, message, kind=MAIL_KIND, user_id=user.user.id,
                              now=int(time.time()))


def test_a_visitor_naming_localhost_through_a_forwarder_reads_no_ones_mail(
    web: RunningServer, owner_browser: Browser, outsider_browser: Browser, engine: Engine,
    settings: Settings,
) -> None:
    """A raw TCP forwarder on this machine (ssh -R, ngrok tcp) connects from loopback with
    no forwarding header and passes on the Host its client sends: nothing here proves
    the visitor is at the machine, so by default they must log in."""
    mail_id = queue_reset_mail(engine, settings, owner_browser)

    with httpx.Client(base_url=web.url, timeout=30, headers={"host": "localhost"}) as forwarded:
        listed = forwarded.get("/dev/mail.json")
        page = forwarded.get("/dev/mail", headers={"accept": "text/html"})
        opened = forwarded.get(f"/dev/mail/{mail_id}", headers={"accept": "text/html"})
    others = outsider_browser.get("/dev/mail", headers={"host": "localhost"})

    assert listed.status_code == 401 and owner_browser.user.email not in listed.text
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert opened.status_code == 303
    assert others.status_code == 200 and owner_browser.user.email not in others.text
    assert "Choose a new password" not in others.text
    assert outsider_browser.get(f"/dev/mail/{mail_id}").status_code == 404


def test_a_logged_in_user_reads_their_own_password_mail(
    owner_browser: Browser, engine: Engine, settings: Settings
) -> None:
    mail_id = queue_reset_mail(engine, settings, owner_browser)

    page = owner_browser.get("/dev/mail")
    opened = owner_browser.get(f"/dev/mail/{mail_id}")

    assert "[Aerie] Choose a new password" in page.text
    assert opened.status_code == 200 and "/password/reset?token=secret" in opened.text


@pytest.fixture
def web_with_dev_mail(request: pytest.FixtureRequest,
                      app_server_settings: Settings) -> Iterator[RunningServer]:
    view = {"dev_mail_view": request.param}
    with serve(create_app(app_server_settings.model_copy(update=view))) as server:
        yield server


@pytest.mark.parametrize("web_with_dev_mail", ["all"], indirect=True)
def test_dev_mail_view_all_shows_every_addresss_account_mail_to_anyone(
    web_with_dev_mail: RunningServer, owner_browser: Browser, engine: Engine,
    settings: Settings,
) -> None:
    mail_id = queue_reset_mail(engine, settings, owner_browser)

    with httpx.Client(base_url=web_with_dev_mail.url, timeout=30) as anyone:
        listed = anyone.get("/dev/mail.json").json()
        page = anyone.get("/dev/mail", headers={"accept": "text/html"})
        opened = anyone.get(f"/dev/mail/{mail_id}", headers={"accept": "text/html"})

    assert (mail_id, owner_browser.user.email) in [(m["id"], m["to"]) for m in listed]
    assert "AERIE_DEV_MAIL_VIEW=all" in page.text
    assert "/password/reset?token=secret" in opened.text


@pytest.mark.parametrize("web_with_dev_mail", ["off"], indirect=True)
def test_dev_mail_view_off_has_no_page(web_with_dev_mail: RunningServer) -> None:
    with httpx.Client(base_url=web_with_dev_mail.url, timeout=30) as anyone:
        assert anyone.get("/dev/mail.json").status_code == 404
