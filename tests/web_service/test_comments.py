"""Comments on the stat page over real HTTP: add, list, delete, time zones, who may."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from aerie import accounts
from aerie.comments import MAX_TEXT, Comment, comments_between
from aerie.stats import Stat
from aerie.timeframes import LATEST_START
from interactor.comments import local_moment
from tests.conftest import Account, make_stat
from tests.web_service.conftest import Browser

NEW_YORK = "America/New_York"


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def local(when: int, timezone: str = "UTC") -> str:
    """``when`` as a datetime-local field holds it."""
    return datetime.fromtimestamp(when, ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def stored(engine: Engine, stat: Stat) -> list[Comment]:
    with engine.connect() as conn:
        return comments_between(conn, [stat.id], 0, LATEST_START + 1)


def move_to(engine: Engine, browser: Browser, timezone: str) -> None:
    with engine.begin() as conn:
        accounts.update_profile(conn, browser.user, email=browser.user.email, timezone=timezone)


def test_a_comment_is_added_listed_escaped_and_deleted(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    sid = stat.public_id
    at = int(time.time()) // 60 * 60 - 3600

    added = owner_browser.post(f"/stats/{sid}/comments", text="deployed <b>v2</b>",
                               time=local(at), tf="1d")
    page = owner_browser.get(f"/stats/{sid}?tf=1d&done=comment_added")
    twin = owner_browser.json(f"/stats/{sid}.json?tf=1d").json()

    assert added.status_code == 303
    assert added.headers["location"] == f"/stats/{sid}?tf=1d&done=comment_added"
    [comment] = twin["comments"]
    assert comment == {"id": comment["id"], "time": at, "text": "deployed <b>v2</b>"}
    assert "Comment added." in page.text
    assert "deployed &lt;b&gt;v2&lt;/b&gt;" in page.text
    assert datetime.fromtimestamp(at, ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC") in page.text

    deleted = owner_browser.post(f"/stats/{sid}/comments/{comment['id']}/delete", tf="1d")

    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/stats/{sid}?tf=1d&done=comment_deleted"
    assert owner_browser.json(f"/stats/{sid}.json?tf=1d").json()["comments"] == []
    assert stored(engine, stat) == []
    again = owner_browser.post(f"/stats/{sid}/comments/{comment['id']}/delete")
    assert again.status_code == 404


def test_a_blank_time_is_now_and_the_form_defaults_to_now_in_the_users_zone(
    owner_browser: Browser, engine: Engine
) -> None:
    move_to(engine, owner_browser, NEW_YORK)
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    before = int(time.time())

    page = owner_browser.get(f"/stats/{stat.public_id}")
    owner_browser.post(f"/stats/{stat.public_id}/comments", text="now", time="")

    after = int(time.time())
    defaults = {local(t, NEW_YORK) for t in (before, after)}
    assert any(f'name="time" value="{d}"' in page.text for d in defaults)
    assert f"At ({NEW_YORK})" in page.text
    [comment] = stored(engine, stat)
    assert before <= comment.at <= after


def test_a_comment_shows_only_in_frames_that_hold_its_moment(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    sid = stat.public_id
    two_days_ago = int(time.time()) // 60 * 60 - 2 * 86400

    owner_browser.post(f"/stats/{sid}/comments", text="launch", time=local(two_days_ago))

    assert owner_browser.json(f"/stats/{sid}.json?tf=1d").json()["comments"] == []
    assert [c["text"] for c in owner_browser.json(f"/stats/{sid}.json?tf=1w").json()["comments"]] \
        == ["launch"]
    assert "launch" not in owner_browser.get(f"/stats/{sid}?tf=1d").text
    assert "launch" in owner_browser.get(f"/stats/{sid}?tf=1w").text


def test_a_local_time_is_read_in_the_users_zone(owner_browser: Browser, engine: Engine) -> None:
    move_to(engine, owner_browser, NEW_YORK)
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    owner_browser.post(f"/stats/{stat.public_id}/comments", text="lunch", time="2026-07-01T12:00")

    [comment] = stored(engine, stat)
    assert comment.at == 1_782_921_600  # 2026-07-01 16:00 UTC, noon EDT


def test_a_skipped_local_time_lands_as_far_past_the_spring_forward_change(
    owner_browser: Browser, engine: Engine
) -> None:
    """2026-03-08 02:30 never happens in New York (02:00 EST jumps to 03:00 EDT): it is read
    with the offset before the change, so it is 07:30 UTC, shown as 03:30 EDT."""
    move_to(engine, owner_browser, NEW_YORK)
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    answer = owner_browser.post(f"/stats/{stat.public_id}/comments", text="deploy",
                                time="2026-03-08T02:30")

    assert answer.status_code == 303
    [comment] = stored(engine, stat)
    assert comment.at == 1_772_955_000  # 2026-03-08 07:30 UTC
    shown = datetime.fromtimestamp(comment.at, ZoneInfo(NEW_YORK))
    assert (shown.strftime("%H:%M"), shown.tzname()) == ("03:30", "EDT")


def test_a_repeated_local_time_is_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01: first at EDT (05:30 UTC), then at EST.
    assert local_moment("2026-11-01T01:30", NEW_YORK) == 1_793_511_000
    assert local_moment("2026-11-01T01:30:15", NEW_YORK) == 1_793_511_015


def test_bad_comments_show_the_page_again_with_a_400_and_write_nothing(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    sid = stat.public_id

    cases = [
        ("   ", "2026-01-01T10:00", "The comment is empty"),
        ("x" * (MAX_TEXT + 1), "2026-01-01T10:00", "the limit is 1000"),
        ("ok", "yesterday", "is not understood"),
        ("ok", "2026-02-30T10:00", "not a real date"),
        ("ok", "1960-01-01T10:00", "out of range"),
    ]
    for text, when, message in cases:
        answer = owner_browser.post(f"/stats/{sid}/comments", text=text, time=when, tf="1d")
        assert answer.status_code == 400, (text[:10], when)
        assert message in answer.text, (text[:10], when)
        assert 'class="panel comments"' in answer.text  # the stat page, not an error page
    as_json = owner_browser.client.post(
        f"/stats/{sid}/comments", data={"csrf": owner_browser.csrf, "text": ""},
        headers={"accept": "application/json"},
    )
    assert as_json.status_code == 400
    assert as_json.json()["stat"]["id"] == sid
    assert stored(engine, stat) == []


def test_a_comment_form_without_the_csrf_token_writes_nothing(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    forged = owner_browser.client.post(f"/stats/{stat.public_id}/comments",
                                       data={"text": "pwned"}, headers={"accept": "text/html"})

    assert forged.status_code == 403
    assert stored(engine, stat) == []


def test_an_outsider_cannot_comment_on_or_delete_the_owners_comments(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "secret revenue", "counter")
    sid = stat.public_id
    owner_browser.post(f"/stats/{sid}/comments", text="owner's note", time="")
    [comment] = stored(engine, stat)
    theirs = make_stat(engine, account(outsider_browser), "theirs", "counter")

    added = outsider_browser.post(f"/stats/{sid}/comments", text="graffiti", time="")
    deleted = outsider_browser.post(f"/stats/{sid}/comments/{comment.id}/delete")
    # Their own stat's path does not open the owner's comment either.
    crossed = outsider_browser.post(f"/stats/{theirs.public_id}/comments/{comment.id}/delete")
    nonsense = owner_browser.post(f"/stats/{sid}/comments/not-a-number/delete")

    assert added.status_code == deleted.status_code == crossed.status_code == 404
    assert nonsense.status_code == 404
    assert [c.text for c in stored(engine, stat)] == ["owner's note"]
