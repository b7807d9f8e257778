"""Schedules: the typed value of a digest's ``schedule`` / ``every``, and its APScheduler trigger.

Pure functions over plain values (the cron translation, the DST rule, the most recent fire
before a moment); :mod:`kpicore.serve` runs them.

Cron follows standard crontab meaning, not APScheduler's:

- day-of-week numbers count from Sunday (0 or 7 = Sunday, 1 = Monday); APScheduler 3 counts
  Monday = 0, so the field is expanded to day names before APScheduler sees it;
- when both day-of-month and day-of-week are restricted, either one matching fires (crontab's
  OR; APScheduler would require both);
- a local time that a DST change skips fires once, at the first instant after the gap (02:30
  on a spring-forward night in Berlin fires at 03:00); a local time that repeats fires once,
  at its first occurrence (02:30+02:00 on the fall-back night). APScheduler 3.11's CronTrigger
  does neither (it fires at 03:30, and twice in the fall, and asked again after the second
  02:30 it returns the same instant): :class:`LocalCronTrigger` computes fire times on the wall
  clock and applies the rule itself.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

# About 40 ms: this module is imported only by code that reads schedules, never by `kpi --help`.
from apscheduler.triggers.base import BaseTrigger

from kpicore.errors import ConfigError

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MIN_INTERVAL = 1  # seconds


@dataclass(frozen=True)
class CronSchedule:
    """A 5-field crontab expression, interpreted in an IANA timezone."""

    expression: str
    timezone: str

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True)
class IntervalSchedule:
    """Every ``seconds`` seconds, on a grid from the Unix epoch (so every process fires at the same instants)."""

    seconds: int
    text: str = ""

    def __str__(self) -> str:
        return f"every {self.text or str(self.seconds) + 's'}"


Schedule = CronSchedule | IntervalSchedule


def _expand(text: str, low: int, high: int, names: tuple[str, ...], offset: int) -> set[int] | None:
    """The values a crontab field allows (None for ``*``); names map to ``index + offset``."""
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            if not step_text:
                return None
            start, end = low, high
        else:
            bounds = [int(b) if b.isdigit() else names.index(b.lower()) + offset for b in base.split("-")]
            start, end = bounds[0], bounds[-1]
            if step_text and len(bounds) == 1:
                end = high
        values.update(range(start, end + 1, step))
    return values


def crontab_fields(expression: str) -> dict[str, str]:
    """APScheduler CronTrigger fields for a standard 5-field crontab (already checked for shape).

    ``"0 9 * * 1"`` -> ``{"minute": "0", "hour": "9", "day": "*", "month": "*", "day_of_week": "mon"}``.
    """
    minute, hour, day, month, day_of_week = expression.split()
    days = _expand(day_of_week, 0, 7, _DAY_NAMES, 0)
    if days is None:
        weekday = "*"
    else:
        weekday = ",".join(
            _DAY_NAMES[d % 7] for d in sorted({d % 7 for d in days}, key=lambda d: (d - 1) % 7)
        )
    return {"minute": minute, "hour": hour, "day": day, "month": month.lower(), "day_of_week": weekday}


def check_can_fire(expression: str, where: str) -> None:
    """ConfigError for a cron whose day and month never meet (``0 9 30 2 *``)."""
    _, _, day, month, day_of_week = expression.split()
    if day == "*" or day_of_week != "*":
        return  # with a weekday restriction, crontab fires on those weekdays regardless of the day
    days = _expand(day, 1, 31, (), 0) or set(range(1, 32))
    months = _expand(month, 1, 12, _MONTHS, 1) or set(range(1, 13))
    if not any(min(days) <= calendar.monthrange(2028, m)[1] for m in months):  # 2028: a leap year
        raise ConfigError(
            f"{where}: {expression!r} can never fire: day {day} does not occur in month {month}"
        )


def build_trigger(schedule: Schedule) -> BaseTrigger:
    """The APScheduler trigger of a schedule (LocalCronTrigger for cron, IntervalTrigger for every)."""
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(schedule, IntervalSchedule):
        return IntervalTrigger(
            seconds=schedule.seconds, start_date=dt.datetime(1970, 1, 1, tzinfo=dt.UTC), timezone=dt.UTC
        )
    return LocalCronTrigger(schedule.expression, schedule.timezone)


def _wall_triggers(expression: str):
    """CronTriggers over the naive wall clock (computed in UTC, which has no DST), OR-ed as crontab does."""
    from apscheduler.triggers.cron import CronTrigger

    fields = crontab_fields(expression)
    if fields["day"] != "*" and fields["day_of_week"] != "*":
        return [
            CronTrigger(**{**fields, "day_of_week": "*"}, timezone=dt.UTC),
            CronTrigger(**{**fields, "day": "*"}, timezone=dt.UTC),
        ]
    return [CronTrigger(**fields, timezone=dt.UTC)]


def _instant(wall: dt.datetime, zone) -> dt.datetime:
    """The instant of local wall time ``wall``: the first occurrence of a repeated time, the end of
    the gap for a skipped one."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first.astimezone(zone)
    # Skipped by a DST change: find the transition (the first instant after the gap) between the
    # two readings of the wall time, by bisection on whole seconds.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    high = first.astimezone(dt.UTC)
    low, high = min(low, high), max(low, high)
    after = high.astimezone(zone).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.astimezone(zone)


class LocalCronTrigger(BaseTrigger):
    """An APScheduler trigger for a standard crontab in a timezone, with kpicore's DST rule."""

    def __init__(self, expression: str, timezone: str) -> None:
        from kpicore.periods import get_timezone

        self.expression = expression
        self.timezone = get_timezone(timezone)
        self._walls = _wall_triggers(expression)

    def _next_wall(self, after: dt.datetime) -> dt.datetime | None:
        """The first wall-clock fire time strictly after the naive wall time ``after``."""
        start = (after + dt.timedelta(seconds=1)).replace(microsecond=0).replace(tzinfo=dt.UTC)
        candidates = [t for t in (w.get_next_fire_time(None, start) for w in self._walls) if t is not None]
        return min(candidates).replace(tzinfo=None) if candidates else None

    def next_after(self, moment: dt.datetime, *, inclusive: bool = False) -> dt.datetime | None:
        """The first fire instant after ``moment`` (or at it, with ``inclusive``)."""
        local = moment.astimezone(self.timezone).replace(tzinfo=None)
        offsets = {(moment + dt.timedelta(hours=h)).astimezone(self.timezone).utcoffset() for h in (-3, 3)}
        # Near a DST change a wall time before ``moment``'s can be an instant after it: start earlier.
        back = dt.timedelta(hours=3) if len(offsets) > 1 else dt.timedelta(0)
        wall = self._next_wall(local - back - dt.timedelta(seconds=1))
        for _ in range(100_000):
            if wall is None:
                return None
            instant = _instant(wall, self.timezone)
            if instant > moment or (inclusive and instant == moment):
                return instant
            wall = self._next_wall(wall)
        return None

    def get_next_fire_time(self, previous_fire_time, now):
        """APScheduler's hook: the next fire at or after ``now``, strictly after the previous one."""
        if previous_fire_time is not None:
            candidate = self.next_after(max(previous_fire_time, now - dt.timedelta(microseconds=1)))
        else:
            candidate = self.next_after(now, inclusive=True)
        return candidate

    def __str__(self) -> str:
        return f"cron[{self.expression!r}, {self.timezone}]"

    def __repr__(self) -> str:
        return f"<LocalCronTrigger {self.expression!r} {self.timezone}>"


def fire_times(schedule: Schedule, after: dt.datetime, count: int) -> list[dt.datetime]:
    """The next ``count`` fire instants strictly after ``after`` (aware datetimes)."""
    trigger = build_trigger(schedule)
    times: list[dt.datetime] = []
    moment = after
    while len(times) < count:
        if isinstance(schedule, IntervalSchedule):
            seconds = int(moment.timestamp()) // schedule.seconds * schedule.seconds + schedule.seconds
            nxt = dt.datetime.fromtimestamp(seconds, dt.UTC)
        else:
            nxt = trigger.next_after(moment)
        if nxt is None:
            break
        times.append(nxt)
        moment = nxt
    return times


def most_recent_fire(schedule: Schedule, now: dt.datetime, within: dt.timedelta) -> dt.datetime | None:
    """The last scheduled fire at or before ``now`` and no older than ``within``; None if there is none.

    What a fire resolves its period from (the scheduled time, not the moment the job ran), and
    what the service catches up after downtime.
    """
    if isinstance(schedule, IntervalSchedule):
        seconds = int(now.timestamp()) // schedule.seconds * schedule.seconds
        start = dt.datetime.fromtimestamp(seconds, dt.UTC)
        return start if now - start <= within else None
    trigger = build_trigger(schedule)
    # Look back over growing windows, so a frequent cron does not walk a whole day of fire times.
    spans = [
        dt.timedelta(minutes=2),
        dt.timedelta(hours=2),
        dt.timedelta(days=2),
        dt.timedelta(days=40),
        dt.timedelta(days=800),
        within,
    ]
    for span in sorted({min(span, within) for span in spans}):
        moment = trigger.next_after(now - span, inclusive=True)
        last: dt.datetime | None = None
        while moment is not None and moment <= now:
            last = moment
            moment = trigger.next_after(moment)
        if last is not None:
            return last
    return None
