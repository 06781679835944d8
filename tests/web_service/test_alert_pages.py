"""Alerts from the pages and the export API: preview (backtest), save, edit, silence, delete."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select

from aerie.schema import alerts as alerts_table
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer
from tests.web_service.conftest import Browser

RULE = {"kind": "value", "time_window": "1h", "operator": "greater than", "threshold": "500",
        "repeat_minutes": "60", "email": "1", "webhook_url": ""}


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def alert_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts_table)).scalar_one())


def bursty_stat(engine: Engine, browser: Browser) -> str:
    """A counter with two bursts over 500 in the last 30 days."""
    stat = make_stat(engine, account(browser), "errors", "counter")
    now = int(time.time())
    put_points(engine, stat, [(now - 20 * 86400, 900), (now - 5 * 86400, 700), (now - 3600 * 3, 3)])
    return stat.public_id


def save(browser: Browser, public_id: str, **rule: str) -> str:
    answer = browser.post(f"/stats/{public_id}/alerts", **{**RULE, **rule})
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/alerts/(\w+)\?done=alert_created", answer.headers["location"])
    assert match
    return match.group(1)


def test_the_preview_shows_what_the_alert_would_have_done_before_saving(
    owner_browser: Browser, engine: Engine
) -> None:
    public_id = bursty_stat(engine, owner_browser)
    assert "New alert" in owner_browser.get(f"/stats/{public_id}").text

    page = owner_browser.get(f"/stats/{public_id}/alerts/new", params=RULE)
    twin = owner_browser.json(f"/stats/{public_id}/alerts/new.json", params=RULE).json()

    assert page.status_code == 200
    assert "would have fired 2 times" in page.text
    assert page.text.count('class="fired"') == 2  # marked on the graph
    assert len(twin["backtest"]["firings"]) == 2
    assert alert_count_for(engine, owner_browser) == 0  # a preview saves nothing


def alert_count_for(engine: Engine, browser: Browser) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts_table).where(
            alerts_table.c.user_id == browser.user.id)).scalar_one())


def test_a_saved_alert_is_listed_and_has_its_page_with_history_and_backtest(
    owner_browser: Browser, engine: Engine
) -> None:
    public_id = bursty_stat(engine, owner_browser)
    alert_id = save(owner_browser, public_id)

    listed = owner_browser.json("/alerts.json").json()
    page = owner_browser.get(f"/alerts/{alert_id}")

    assert [(a["id"], a["stat_name"], a["threshold"], a["state"]) for a in listed] == [
        (alert_id, "errors", 500.0, "ok")]
    assert "Alert saved" in owner_browser.get(f"/alerts/{alert_id}?done=alert_created").text
    assert "Nothing sent yet" in page.text and "would have fired 2 times" in page.text
    assert alert_id in owner_browser.get(f"/stats/{public_id}").text


def test_edit_silence_and_delete(owner_browser: Browser, engine: Engine) -> None:
    public_id = bursty_stat(engine, owner_browser)
    alert_id = save(owner_browser, public_id)

    edited = owner_browser.post(f"/alerts/{alert_id}", **{**RULE, "threshold": "800"})
    assert edited.status_code == 303
    assert owner_browser.json(f"/alerts/{alert_id}.json").json()["threshold"] == 800

    assert owner_browser.post(f"/alerts/{alert_id}/silence", minutes="60").status_code == 303
    silenced = owner_browser.json(f"/alerts/{alert_id}.json").json()["silenced_until"]
    assert silenced == pytest.approx(time.time() + 3600, abs=30)
    assert "Lift the silence" in owner_browser.get(f"/alerts/{alert_id}").text
    owner_browser.post(f"/alerts/{alert_id}/silence", minutes="0")
    assert owner_browser.json(f"/alerts/{alert_id}.json").json()["silenced_until"] is None

    assert owner_browser.post(f"/alerts/{alert_id}/delete").status_code == 303
    assert owner_browser.json(f"/alerts/{alert_id}.json").status_code == 404


def test_the_new_alert_address_alone_shows_the_blank_form(
    owner_browser: Browser, engine: Engine
) -> None:
    """A bookmark or a reload of the page opened without a rule: the form, not a 400."""
    public_id = bursty_stat(engine, owner_browser)

    page = owner_browser.get(f"/stats/{public_id}/alerts/new")

    assert page.status_code == 200
    assert 'class="flash' not in page.text and "must be one of" not in page.text
    assert re.search(r'<input type="text" name="threshold" value=""[^>]* required>', page.text)
    assert "Preview again" in page.text and "Save this alert" not in page.text


def test_a_rule_that_never_fires_asks_no_too_many(owner_browser: Browser, engine: Engine) -> None:
    public_id = bursty_stat(engine, owner_browser)

    page = owner_browser.get(f"/stats/{public_id}/alerts/new", params={**RULE, "threshold": "1e9"})
    busy = owner_browser.get(f"/stats/{public_id}/alerts/new", params=RULE)

    assert "would never have fired" in page.text and "Too many?" not in page.text
    assert "would have fired 2 times" in busy.text and "Too many?" in busy.text


@pytest.mark.parametrize(("field", "value", "message"), [
    ("threshold", "lots", "Threshold must be a number"),
    ("threshold", "", "Enter a threshold, such as 500"),
    ("time_window", "2h", "time_window must be one of"),
    ("webhook_url", "javascript:alert(1)", "webhook_url must be an http"),
])
def test_a_bad_rule_shows_the_form_again_saying_what_to_fix_and_saves_nothing(
    owner_browser: Browser, engine: Engine, field: str, value: str, message: str
) -> None:
    public_id = bursty_stat(engine, owner_browser)
    rule = {**RULE, field: value}

    preview = owner_browser.get(f"/stats/{public_id}/alerts/new", params=rule)
    saved = owner_browser.post(f"/stats/{public_id}/alerts", **rule)

    for answer in (preview, saved):
        assert answer.status_code == 400
        assert message in answer.text
        assert 'name="threshold"' in answer.text  # the form, to fix it
    assert alert_count_for(engine, owner_browser) == 0


def test_an_outsider_reaches_no_alert_and_cannot_set_one_on_anothers_stat(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    public_id = bursty_stat(engine, owner_browser)
    alert_id = save(owner_browser, public_id)
    before = alert_count(engine)

    for answer in (
        outsider_browser.get(f"/alerts/{alert_id}"),
        outsider_browser.json(f"/alerts/{alert_id}.json"),
        outsider_browser.get(f"/stats/{public_id}/alerts/new", params=RULE),
        outsider_browser.post(f"/stats/{public_id}/alerts", **RULE),
        outsider_browser.post(f"/alerts/{alert_id}", **RULE),
        outsider_browser.post(f"/alerts/{alert_id}/silence", minutes="60"),
        outsider_browser.post(f"/alerts/{alert_id}/delete"),
    ):
        assert answer.status_code == 404, answer.request.url
    assert outsider_browser.json("/alerts.json").json() == []
    assert alert_count(engine) == before
    assert owner_browser.json(f"/alerts/{alert_id}.json").json()["silenced_until"] is None


@pytest.fixture
def client(web: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        yield client


def test_the_export_api_creates_lists_reads_and_deletes_alerts_as_stathat_did(
    client: httpx.Client, engine: Engine, owner: Account, outsider: Account
) -> None:
    stat = make_stat(engine, owner, "latency", "value")
    made = client.post(f"/x/{owner.token}/alerts", data={
        "stat_id": stat.public_id, "kind": "delta", "time_window": "1h", "operator": "dt",
        "percentage": "25", "time_delta": "1d"})
    assert made.status_code == 200, made.text
    alert = made.json()
    assert {k: alert[k] for k in ("stat_id", "stat_name", "kind", "time_window", "operator",
                                  "percentage", "time_delta")} == {
        "stat_id": stat.public_id, "stat_name": "latency", "kind": "delta", "time_window": "1h",
        "operator": "different than", "percentage": 25.0, "time_delta": "1d"}

    assert [a["id"] for a in client.get(f"/x/{owner.token}/alerts").json()] == [alert["id"]]
    assert client.get(f"/x/{owner.token}/alerts/{alert['id']}").json() == alert
    assert client.get(f"/x/{outsider.token}/alerts/{alert['id']}").status_code == 404
    assert client.delete(f"/x/{outsider.token}/alerts/{alert['id']}").status_code == 404
    assert client.post(f"/x/{outsider.token}/alerts", data={
        "stat_id": stat.public_id, "kind": "data", "time_window": "1h"}).status_code == 404
    assert client.get(f"/x/{outsider.token}/alerts").json() == []

    assert client.delete(f"/x/{owner.token}/alerts/{alert['id']}").json() == {
        "msg": "alert deleted."}
    assert client.get(f"/x/{owner.token}/alerts").json() == []


def test_the_export_api_refuses_a_bad_alert_saying_what_to_fix(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "queue", "value")
    base = {"stat_id": stat.public_id, "kind": "value", "time_window": "1h", "operator": "gt"}
    answer = client.post(f"/x/{owner.token}/alerts", data=base)
    assert answer.status_code == 400 and "enter a threshold, such as 500" in answer.text
    missing = client.post(f"/x/{owner.token}/alerts", data={**base, "stat_id": "", "threshold": "1"})
    assert missing.status_code == 400 and "stat_id" in missing.text


def test_the_a1_api_lists_and_creates_alerts_with_basic_auth(
    client: httpx.Client, engine: Engine, owner: Account, outsider: Account
) -> None:
    stat = make_stat(engine, owner, "jobs", "counter")
    made = client.post("/a1/alerts", auth=(owner.token, ""), data={
        "stat_id": stat.public_id, "kind": "data", "time_window": "1h"})
    assert made.status_code == 200, made.text
    assert made.json()["kind"] == "data" and made.json()["stat_name"] == "jobs"
    assert [a["id"] for a in client.get("/a1/alerts", auth=(owner.token, "")).json()] == [
        made.json()["id"]]
    assert client.get("/a1/alerts", auth=(outsider.token, "")).json() == []
    assert client.get("/a1/alerts").status_code == 401
    refused = client.post("/a1/alerts", auth=(outsider.token, ""), data={
        "stat_id": stat.public_id, "kind": "data", "time_window": "1h"})
    assert refused.status_code == 404
