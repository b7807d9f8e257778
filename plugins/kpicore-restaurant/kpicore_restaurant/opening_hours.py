"""Opening hours: ``[packs.restaurant.opening_hours]`` parsed, and laid over a period.

The schedule is weekly, in the business timezone. ``opening_intervals`` turns it into the few concrete
intervals (aware datetimes) of one period, so a metric can use them as constants in its SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kpicore import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SETTING = "[packs.restaurant.opening_hours]"


@dataclass(frozen=True)
class Opening:
    """One opening of a weekday: from ``opens`` for ``length`` (may run past midnight)."""

    opens: dt.time
    length: dt.timedelta


def parse_opening_hours(raw) -> dict[int, tuple[Opening, ...]]:
    """``{weekday: openings}`` (Monday = 0) from the TOML table; a missing day is closed.

    Each day is a list of ``"HH:MM-HH:MM"``; an end that is not after the start runs past midnight,
    ``24:00`` is the end of the day. Errors name the key, e.g. ``[packs.restaurant.opening_hours] mon[1]``.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f'{SETTING}: expected a table of weekday = ["HH:MM-HH:MM", ...], got {raw!r}')
    schedule: dict[int, tuple[Opening, ...]] = {}
    for day, intervals in raw.items():
        if day not in WEEKDAYS:
            raise ConfigError(f"{SETTING}: unknown day {day!r} (use {', '.join(WEEKDAYS)})")
        if not isinstance(intervals, list):
            raise ConfigError(f'{SETTING} {day}: expected a list like ["11:30-15:00"], got {intervals!r}')
        schedule[WEEKDAYS.index(day)] = tuple(
            _opening(text, f"{SETTING} {day}[{index}]") for index, text in enumerate(intervals)
        )
    return schedule


def _opening(text, where: str) -> Opening:
    if not isinstance(text, str) or text.count("-") != 1:
        raise ConfigError(f'{where}: expected "HH:MM-HH:MM", got {text!r}')
    start_text, end_text = (part.strip() for part in text.split("-"))
    start, end = _minutes(start_text, where), _minutes(end_text, where)
    if start == 24 * 60:
        raise ConfigError(f"{where}: an opening cannot start at 24:00")
    length = end - start if end > start else end + 24 * 60 - start
    return Opening(dt.time(start // 60, start % 60), dt.timedelta(minutes=length))


def _minutes(text: str, where: str) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ConfigError(f"{where}: {text!r} is not a time like 18:30")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ConfigError(f"{where}: {text!r} is not a time of day (00:00 to 24:00)")
    return value


def opening_intervals(
    schedule: dict[int, tuple[Opening, ...]], start: dt.datetime, end: dt.datetime, zone: ZoneInfo
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The opening intervals inside ``[start, end)`` as UTC datetimes, in order, merged where they touch.

    Wall-clock times are read in ``zone``, so an evening across a DST change is an hour longer or shorter.
    """
    intervals = []
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    day = start.astimezone(zone).date() - dt.timedelta(days=1)  # yesterday's late opening may reach in
    last_day = end.astimezone(zone).date()
    while day <= last_day:
        for opening in schedule.get(day.weekday(), ()):
            wall_start = dt.datetime.combine(day, opening.opens)
            opens = _instant(wall_start, zone)
            closes = _instant(wall_start + opening.length, zone)
            opens, closes = max(opens, start), min(closes, end)
            if opens < closes:
                intervals.append((opens, closes))
        day += dt.timedelta(days=1)
    intervals.sort()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for opens, closes in intervals:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def open_minutes(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    """Elapsed minutes inside the intervals."""
    return sum((closes - opens).total_seconds() for opens, closes in intervals) / 60.0


def _instant(wall_clock: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant (in UTC) a wall-clock time names in ``zone``; a time skipped by DST moves forward.

    UTC, because subtracting two datetimes of the same zone ignores a DST change between them.
    """
    return wall_clock.replace(tzinfo=zone).astimezone(dt.UTC)
