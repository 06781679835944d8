"""In development, the mail Aerie would send shows on /dev/mail, to its own recipient only."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from aerie import outbox
from aerie.delivery import deliver_due
from aerie.mail import compose
from aerie.settings import Settings
from tests.web_service.conftest import Browser

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
