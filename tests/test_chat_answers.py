"""The pure parts of the answers: [chat] settings, the allow list, the rate limiter."""

from __future__ import annotations

import pytest

from kpicore.chat.allow import Asker
from kpicore.chat.ratelimit import RateLimiter
from kpicore.chat.settings import ChatSettings
from kpicore.config import Config
from kpicore.errors import ConfigError

ALLOW = {"#leadership": ["*"], "C0SALES": ["revenue"], "*": ["nps", "csat"], "U0BOSS": ["revenue"]}


def settings(**chat) -> ChatSettings:
    return ChatSettings.from_config(Config(chat=chat))


def test_defaults():
    default = settings()
    assert (default.allow, default.max_age, default.budget, default.rate_limit, default.period) == (
        None,
        3600.0,
        2.0,
        20,
        "last-week",
    )
    assert default.allowed("revenue", Asker("U1", "C1", "general"))


@pytest.mark.parametrize(
    ("metric", "asker", "allowed"),
    [
        ("revenue", Asker("U1", "C0LEAD", "leadership"), True),
        ("nps", Asker("U1", "C0LEAD", "leadership"), True),
        ("revenue", Asker("U1", "C0SALES", "sales"), True),
        ("nps", Asker("U1", "C0SALES", "sales"), False),  # a channel's own entry replaces "*"
        ("nps", Asker("U1", "C0GEN", "general"), True),
        ("revenue", Asker("U1", "C0GEN", "general"), False),
        ("revenue", Asker("U0BOSS", "C0GEN", "general"), True),  # a user's entry adds
        ("churn_rate", Asker("U0BOSS", "C0GEN", "general"), False),
    ],
)
def test_allow_list(metric, asker, allowed):
    assert settings(allow=ALLOW).allowed(metric, asker) is allowed


@pytest.mark.parametrize(
    ("chat", "says"),
    [
        ({"max_ag": "1h"}, "unknown key 'max_ag' (did you mean 'max_age'?)"),
        ({"max_age": "soon"}, "[chat] max_age: 'soon' is not a duration"),
        ({"budget": 0}, '[chat] budget: 0 has no unit: write "0s"'),
        ({"allow": ["nps"]}, "[chat] allow: expected a table"),
        ({"allow": {"*": "nps"}}, "allow.*: expected a list"),
        ({"rate_limit": 0}, "rate_limit: expected a whole number"),
        ({"follow_schedule": "0 8 * *"}, "[chat] follow_schedule: '0 8 * *' has 4 field(s)"),
        ({"follow_schedule": "0 25 * * 1"}, "[chat] follow_schedule: '0 25 * * 1': hour field"),
        ({"follow_schedule": "soon"}, "[chat] follow_schedule: 'soon' is not an interval"),
        ({"follow_schedule": 8}, "[chat] follow_schedule: expected text"),
        ({"follow_period": ""}, "[chat] follow_period: expected text"),
    ],
)
def test_bad_settings_name_the_key(chat, says):
    with pytest.raises(ConfigError) as caught:
        settings(**chat)
    assert says in str(caught.value)


def test_follow_schedule_defaults_to_monday_8_in_the_business_timezone():
    from kpicore.scheduler import CronSchedule, IntervalSchedule, fire_times

    schedule = ChatSettings.from_config(Config(timezone="Asia/Kolkata")).schedule_for("Asia/Kolkata")
    assert schedule == CronSchedule("0 8 * * 1", "Asia/Kolkata")
    import datetime as dt

    (first,) = fire_times(schedule, dt.datetime(2026, 12, 2, tzinfo=dt.UTC), 1)
    assert first.isoformat() == "2026-12-07T08:00:00+05:30"  # the next Monday, 08:00 in Kolkata
    assert settings(follow_schedule="2s").schedule_for("UTC") == IntervalSchedule(2, "2s")


def test_durations():
    assert [settings(budget=v).budget for v in ("1h", "30m", "2s", "500ms", "1.5h")] == [
        3600,
        1800,
        2,
        0.5,
        5400,
    ]


def test_rate_limiter_slides():
    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.wait("U1") == 0 and limiter.wait("U1") == 0
    assert limiter.wait("U1") == pytest.approx(60.0)
    assert limiter.wait("U2") == 0
    now[0] = 30.0
    assert limiter.wait("U1") == pytest.approx(30.0)
    now[0] = 60.5
    assert limiter.wait("U1") == 0
