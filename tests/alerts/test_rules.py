"""Every alert kind fires and recovers on real data, without flapping or firing on gaps."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine

from aerie import alerts
from aerie.alert_rules import backtest, evaluate, step
from aerie.alerts import FIRING, OK, Alert
from aerie.errors import BadRequest
from aerie.stats import Stat
from interactor.alert_forms import parse_rule
from tests.conftest import Account, make_stat, put_points

NOW = 1_800_000_000 - 1_800_000_000 % 3600 + 1800  # half past an hour


def new_alert(engine: Engine, account: Account, stat: Stat, **form: str) -> Alert:
    with engine.begin() as conn:
        return alerts.create_alert(conn, account.user.id, stat.id, parse_rule(form), NOW - 86400)


def judge(engine: Engine, alert: Alert, stat: Stat, now: int = NOW) -> Alert:
    """Evaluate at ``now`` and return the alert as the scheduler would leave it."""
    with engine.connect() as conn:
        decided = evaluate(conn, alert, stat, now)
    return replace(alert, state=decided.state, last_value=decided.value,
                   last_notified_at=now if decided.event else alert.last_notified_at)


def test_a_value_alert_on_a_counter_judges_the_window_total(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    alert = new_alert(engine, owner, stat, kind="value", time_window="1h", operator="gt",
                      threshold="500")
    put_points(engine, stat, [(NOW - 3000, 300), (NOW - 10, 150)])  # 450 within the hour
    put_points(engine, stat, [(NOW - 4000, 1000)])  # before the window: not counted
    alert = judge(engine, alert, stat)
    assert (alert.state, alert.last_value) == (OK, 450)

    put_points(engine, stat, [(NOW - 5, 100)])
    alert = judge(engine, alert, stat)
    assert (alert.state, alert.last_value) == (FIRING, 550)


def test_a_value_alert_on_a_value_stat_judges_the_mean_and_ignores_gaps(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "cpu", "value")
    alert = new_alert(engine, owner, stat, kind="value", time_window="5m",
                      operator="greater than", threshold="90")
    put_points(engine, stat, [(NOW - 120, 95), (NOW - 60, 99)])
    alert = judge(engine, alert, stat)
    assert (alert.state, alert.last_value) == (FIRING, 97)

    # Ten minutes later nothing has arrived: a gap is not a recovery.
    alert = judge(engine, alert, stat, NOW + 600)
    assert alert.state == FIRING


def test_hysteresis_keeps_a_value_hovering_at_the_threshold_from_flapping() -> None:
    alert = Alert(1, "A", 1, 1, "value", "5m", "greater than", 100.0, None, None, 0, True, None,
                  OK, 0, None, None, None, None, 0)
    states = []
    for value in (101, 99, 101, 98, 96, 94, 101):
        decided = step(alert, value, NOW)
        alert = replace(alert, state=decided.state)
        states.append((decided.state, decided.event))
    assert states == [
        (FIRING, "firing"), (FIRING, None), (FIRING, None), (FIRING, None), (FIRING, None),
        (OK, "resolved"),  # 94 is past the 5% margin (95)
        (FIRING, "firing"),
    ]


def test_a_firing_alert_repeats_its_notification_at_its_interval() -> None:
    alert = Alert(1, "A", 1, 1, "value", "5m", "less than", 10.0, None, None, 30, True, None,
                  FIRING, 0, None, None, NOW, None, 0)
    assert step(alert, 5, NOW + 29 * 60).event is None
    assert step(alert, 5, NOW + 30 * 60).event == "repeat"
    assert step(replace(alert, repeat_minutes=0), 5, NOW + 999 * 60).event is None


def test_a_delta_alert_compares_with_the_window_a_delta_earlier(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "orders", "counter")
    alert = new_alert(engine, owner, stat, kind="delta", time_window="1h", operator="lt",
                      percentage="25", time_delta="1d")
    put_points(engine, stat, [(NOW - 86400 - 600, 200)])  # the same hour yesterday
    put_points(engine, stat, [(NOW - 600, 160)])  # -20%: not yet
    alert = judge(engine, alert, stat)
    assert (alert.state, alert.last_value) == (OK, pytest.approx(-20.0))

    put_points(engine, stat, [(NOW - 86400 - 300, 100)])  # yesterday now 300: -46.7%
    alert = judge(engine, alert, stat)
    assert alert.state == FIRING and alert.last_value == pytest.approx(-46.67, abs=0.01)

    put_points(engine, stat, [(NOW - 200, 150)])  # 310 against 300: +3.3%
    alert = judge(engine, alert, stat)
    assert alert.state == OK


def test_a_delta_alert_with_nothing_to_compare_with_neither_fires_nor_resolves(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "visits", "counter")
    alert = new_alert(engine, owner, stat, kind="delta", time_window="1h", operator="dt",
                      percentage="50", time_delta="1w")
    put_points(engine, stat, [(NOW - 60, 1000)])
    assert judge(engine, alert, stat).last_value is None
    assert judge(engine, replace(alert, state=FIRING), stat).state == FIRING


def test_a_data_alert_fires_when_nothing_arrives_within_the_window_and_resolves_on_data(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "heartbeat", "counter")
    stat = replace(stat, created_at=NOW - 86400)  # older than the window
    alert = new_alert(engine, owner, stat, kind="data", time_window="5m")
    put_points(engine, stat, [(NOW - 400, 1)])
    alert = judge(engine, alert, stat)
    assert alert.state == FIRING

    put_points(engine, stat, [(NOW - 30, 1)])
    alert = judge(engine, alert, stat)
    assert alert.state == OK


def test_a_data_alert_waits_until_a_new_stat_is_older_than_its_window(
    engine: Engine, owner: Account
) -> None:
    stat = replace(make_stat(engine, owner, "fresh", "counter"), created_at=NOW - 60)
    alert = new_alert(engine, owner, stat, kind="data", time_window="1h")
    assert judge(engine, alert, stat).state == OK


def test_the_backtest_counts_what_the_alert_would_have_done_over_30_days(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "errors", "counter")
    # Three separate bursts of 600 errors in a minute, days apart; quiet otherwise.
    bursts = [NOW - 20 * 86400, NOW - 10 * 86400, NOW - 2 * 86400]
    put_points(engine, stat, [(t, 600) for t in bursts] + [(NOW - 25 * 86400, 5)])
    alert = new_alert(engine, owner, stat, kind="value", time_window="1h", operator="gt",
                      threshold="500")
    with engine.connect() as conn:
        result = backtest(conn, alert, stat, NOW)
    assert len(result.firings) == 3 and len(result.resolutions) == 3
    for burst, fired, resolved in zip(bursts, result.firings, result.resolutions, strict=True):
        assert burst <= fired < burst + 300  # within one 5-minute step of the burst
        assert resolved - burst == pytest.approx(3600, abs=300)  # once it left the window
    with engine.connect() as conn:
        older = backtest(conn, alert, stat, NOW, days=1)
    assert older.firings == []


@pytest.mark.parametrize(("form", "message"), [
    ({"kind": "value", "time_window": "2h", "operator": "gt", "threshold": "1"}, "time_window"),
    ({"kind": "value", "time_window": "1h", "operator": "dt", "threshold": "1"}, "operator"),
    ({"kind": "value", "time_window": "1h", "operator": "gt", "threshold": "lots"}, "threshold"),
    ({"kind": "delta", "time_window": "1h", "operator": "gt", "percentage": "0"}, "percentage"),
    ({"kind": "delta", "time_window": "1h", "operator": "gt", "percentage": "5",
      "time_delta": "2d"}, "time_delta"),
    ({"kind": "sometimes", "time_window": "1h"}, "kind"),
    ({"kind": "data", "time_window": "1h", "webhook_url": "ftp://x"}, "webhook_url"),
    ({"kind": "data", "time_window": "1h", "repeat_minutes": "-5"}, "repeat_minutes"),
])
def test_a_bad_rule_is_refused_naming_the_field_to_fix(form: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_rule(form)
