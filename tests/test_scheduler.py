"""Schedules: crontab day numbers, crontab's day OR, the DST rule, and the period from the scheduled fire time.

Fire times come from kpicore's trigger built on APScheduler 3.11's real CronTrigger; where the raw
CronTrigger disagrees with crontab or with the DST rule, the disagreement is asserted too, so the
work-around is known to be needed."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from kpicore.digest.render import DigestSpec
from kpicore.digest.run import resolve_period
from kpicore.errors import ConfigError
from kpicore.scheduler import (
    CronSchedule,
    IntervalSchedule,
    build_trigger,
    check_can_fire,
    crontab_fields,
    fire_times,
    most_recent_fire,
)

UTC = dt.UTC


def local(times, zone):
    return [t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %a %H:%M%z") for t in times]


@pytest.mark.parametrize(
    "field, expected",
    [
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "fri,sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
        ("MON-WED", "mon,tue,wed"),
        ("sat,SUN", "sat,sun"),
        ("*", "*"),
    ],
)
def test_crontab_day_numbers_become_names(field, expected):
    assert crontab_fields(f"0 9 * * {field}")["day_of_week"] == expected


def test_monday_is_monday_where_apscheduler_from_crontab_says_tuesday():
    after = dt.datetime(2026, 11, 25, tzinfo=UTC)  # a Wednesday
    raw = CronTrigger.from_crontab("0 9 * * 1", timezone=ZoneInfo("Europe/Berlin")).get_next_fire_time(
        None, after
    )
    assert raw.strftime("%a") == "Tue"  # the trap
    assert local(fire_times(CronSchedule("0 9 * * 1", "Europe/Berlin"), after, 2), "Europe/Berlin") == [
        "2026-11-30 Mon 09:00+0100",
        "2026-12-07 Mon 09:00+0100",
    ]


def test_day_of_month_or_day_of_week_as_crontab_means():
    after = dt.datetime(2026, 11, 25, tzinfo=UTC)
    times = local(fire_times(CronSchedule("0 9 1 * 1", "UTC"), after, 3), "UTC")
    assert times == ["2026-11-30 Mon 09:00+0000", "2026-12-01 Tue 09:00+0000", "2026-12-07 Mon 09:00+0000"]


# The transitions of 2026: Berlin 29 March and 25 October, New York 8 March and 1 November (all Sundays).
DST_DAYS = {
    "Europe/Berlin": (dt.date(2026, 3, 29), dt.date(2026, 10, 25)),
    "America/New_York": (dt.date(2026, 3, 8), dt.date(2026, 11, 1)),
}


@pytest.mark.parametrize("zone", sorted(DST_DAYS))
@pytest.mark.parametrize("expression", ["0 9 * * *", "30 2 * * *", "0 9 * * 0", "30 2 * * 0", "0 * * * *"])
def test_each_intended_local_time_fires_once_across_both_changes(zone, expression):
    tz = ZoneInfo(zone)
    for day in DST_DAYS[zone]:
        start = dt.datetime.combine(day - dt.timedelta(days=8), dt.time(), tz)
        times = fire_times(CronSchedule(expression, zone), start, 400)
        times = [t for t in times if t < dt.datetime.combine(day + dt.timedelta(days=8), dt.time(), tz)]
        assert times == sorted(set(times))  # strictly increasing: nothing fires twice
        walls = Counter(t.astimezone(tz).replace(tzinfo=None, fold=0) for t in times)
        assert max(walls.values()) == 1, f"{expression} in {zone}: a local time fired twice"
        minute, hour, *_ = expression.split()
        for t in times:
            shown = t.astimezone(tz)
            if shown.date() == day and hour == "2":
                assert shown.strftime("%H:%M") in ("02:30", "03:00")  # the gap's end or the first 02:30
            elif hour != "*":
                assert (shown.hour, shown.minute) == (int(hour), int(minute))
        expected_days = 16 if expression.endswith("* * *") else 3  # 3 Sundays in the window
        if hour != "*":
            assert len(times) == expected_days


def test_skipped_and_repeated_0230_in_berlin():
    zone = "Europe/Berlin"
    spring = fire_times(CronSchedule("30 2 * * *", zone), dt.datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    assert local(spring, zone) == ["2026-03-29 Sun 03:00+0200", "2026-03-30 Mon 02:30+0200"]
    fall = fire_times(CronSchedule("30 2 * * *", zone), dt.datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert local(fall, zone) == ["2026-10-25 Sun 02:30+0200", "2026-10-26 Mon 02:30+0100"]


def test_apscheduler_alone_gets_both_dst_nights_wrong():
    """Why LocalCronTrigger exists: the raw CronTrigger fires at 03:30, and twice (then never moves on)."""
    tz = ZoneInfo("Europe/Berlin")
    raw = CronTrigger.from_crontab("30 2 * * *", timezone=tz)
    spring = raw.get_next_fire_time(None, dt.datetime(2026, 3, 28, 12, tzinfo=tz))
    assert spring.strftime("%H:%M%z") == "02:30+0100"  # a local time that does not exist
    assert spring.astimezone(UTC).astimezone(tz).strftime("%H:%M") == "03:30"
    first = raw.get_next_fire_time(None, dt.datetime(2026, 10, 24, 12, tzinfo=tz))
    second = raw.get_next_fire_time(first, first + dt.timedelta(seconds=1))
    again = raw.get_next_fire_time(second, second + dt.timedelta(seconds=1))
    assert first.utcoffset() != second.utcoffset() and again == second


def test_the_trigger_as_apscheduler_calls_it_moves_past_the_repeated_hour():
    trigger = build_trigger(CronSchedule("30 2 * * *", "Europe/Berlin"))
    now = dt.datetime(2026, 10, 24, 12, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1))
    third = trigger.get_next_fire_time(second, second + dt.timedelta(seconds=1))
    assert local([first, second, third], "Europe/Berlin") == [
        "2026-10-25 Sun 02:30+0200",
        "2026-10-26 Mon 02:30+0100",
        "2026-10-27 Tue 02:30+0100",
    ]


def test_a_cron_that_can_never_fire_is_refused():
    with pytest.raises(ConfigError, match="can never fire"):
        check_can_fire("0 9 30 2 *", "kpi.toml: [digests.weekly].schedule")
    check_can_fire("0 9 29 2 *", "here")  # leap years
    check_can_fire("0 9 30 2 1", "here")  # crontab: every Monday, or the 30th


def test_interval_fires_on_a_grid_shared_by_every_process():
    after = dt.datetime(2026, 11, 25, 9, 0, 1, 500000, tzinfo=UTC)
    assert [t.strftime("%H:%M:%S") for t in fire_times(IntervalSchedule(2), after, 3)] == [
        "09:00:02",
        "09:00:04",
        "09:00:06",
    ]
    assert most_recent_fire(IntervalSchedule(2), after, dt.timedelta(seconds=5)).second == 0


def spec(schedule, period="last-week", zone="Asia/Kolkata"):
    return DigestSpec(
        name="weekly", title="Weekly", metrics=["revenue"], period=period, timezone=zone, schedule=schedule
    )


def test_monday_in_kolkata_reports_the_kolkata_week_before():
    weekly = spec(CronSchedule("0 2 * * 1", "Asia/Kolkata"))  # Sunday 20:30 UTC
    now = dt.datetime(2026, 11, 29, 20, 31, tzinfo=UTC)
    scheduled = most_recent_fire(weekly.schedule, now, dt.timedelta(hours=24))
    assert scheduled == dt.datetime(2026, 11, 29, 20, 30, tzinfo=UTC)
    assert resolve_period(weekly, now=scheduled).label == "2026-W48"  # in UTC it would still be W47
    nine = spec(CronSchedule("0 9 * * 1", "Asia/Kolkata"))
    assert (
        resolve_period(
            nine, now=most_recent_fire(nine.schedule, now + dt.timedelta(hours=7), dt.timedelta(days=1))
        ).label
        == "2026-W48"
    )


def test_a_fire_that_runs_late_keeps_the_period_of_its_scheduled_time():
    daily = spec(CronSchedule("0 0 * * *", "Asia/Kolkata"), period="yesterday")
    late = dt.datetime(2026, 11, 30, 18, 40, tzinfo=UTC)  # 00:10 on 1 December in Kolkata: 24 h 10 min late
    scheduled = most_recent_fire(
        daily.schedule, late - dt.timedelta(hours=24, minutes=10), dt.timedelta(hours=1)
    )
    assert resolve_period(daily, now=scheduled).label == "2026-11-29"
    assert resolve_period(daily, now=late).label == "2026-11-30"  # what the run time would have said


def test_most_recent_fire_within_the_grace_only():
    weekly = CronSchedule("0 9 * * 1", "Europe/Berlin")
    wednesday = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert most_recent_fire(weekly, wednesday, dt.timedelta(days=3)) == dt.datetime(
        2026, 11, 23, 8, tzinfo=UTC
    )
    assert most_recent_fire(weekly, wednesday, dt.timedelta(hours=24)) is None


# -- week_start ---------------------------------------------------------------------------------------
def test_a_saturday_week_digest_fired_each_saturday_reports_the_week_before():
    """week_start = "saturday" (Iran): a digest fired Saturday 09:00 in Tehran covers Saturday to Friday
    before it, fire after fire, and a late run (caught up) keeps its scheduled week."""
    weekly = replace(
        spec(CronSchedule("0 9 * * 6", "Asia/Tehran"), zone="Asia/Tehran"), week_start="saturday"
    )
    fires = fire_times(weekly.schedule, dt.datetime(2026, 11, 10, tzinfo=UTC), 3)
    periods = [resolve_period(weekly, now=fire) for fire in fires]
    assert [p.label for p in periods] == [
        "2026-11-07..2026-11-13",
        "2026-11-14..2026-11-20",
        "2026-11-21..2026-11-27",
    ]
    assert [p.start.isoformat() for p in periods][1] == "2026-11-14T00:00:00+03:30"
    assert all(a.end == b.start for a, b in itertools.pairwise(periods))  # no gap, no overlap
    late = fires[1] + dt.timedelta(days=2)  # the service was down until Monday: it catches the fire up
    caught_up = most_recent_fire(weekly.schedule, late, dt.timedelta(days=3))
    assert caught_up == fires[1] and resolve_period(weekly, now=caught_up) == periods[1]


@pytest.mark.parametrize(
    "zone, week_start, expression, fire_day, first_day, hours",
    [
        # New York leaves daylight time on Sunday 2026-11-01: the Sunday week holding it has 169 hours.
        ("America/New_York", "sunday", "0 9 * * 0", dt.date(2026, 11, 8), "2026-11-01T00:00:00-04:00", 169),
        ("America/New_York", "sunday", "0 9 * * 0", dt.date(2026, 11, 1), "2026-10-25T00:00:00-04:00", 168),
        # Berlin leaves summer time on Sunday 2026-10-25, inside the Saturday week 10-24..10-30.
        ("Europe/Berlin", "saturday", "30 8 * * 6", dt.date(2026, 10, 31), "2026-10-24T00:00:00+02:00", 169),
        # ... and enters it on Sunday 2026-03-29, inside the Saturday week 03-28..04-03.
        ("Europe/Berlin", "saturday", "30 8 * * 6", dt.date(2026, 4, 4), "2026-03-28T00:00:00+01:00", 167),
    ],
)
def test_week_start_schedules_across_a_dst_change(zone, week_start, expression, fire_day, first_day, hours):
    weekly = replace(spec(CronSchedule(expression, zone), zone=zone), week_start=week_start)
    [fire] = fire_times(weekly.schedule, dt.datetime.combine(fire_day, dt.time(), ZoneInfo(zone)), 1)
    assert fire.astimezone(ZoneInfo(zone)).date() == fire_day
    period = resolve_period(weekly, now=fire)
    assert period.start.isoformat() == first_day
    assert period.end.astimezone(UTC) - period.start.astimezone(UTC) == dt.timedelta(
        hours=hours
    )  # its real length
    assert period.end.astimezone(ZoneInfo(zone)) == dt.datetime.combine(fire_day, dt.time(), ZoneInfo(zone))
