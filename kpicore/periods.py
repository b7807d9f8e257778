"""Reporting periods: half-open ``[start, end)`` intervals of local time in the business timezone.

Weeks are ISO weeks (Monday to Sunday) unless the business's week starts on another day: ``week_start =
"saturday"`` (Iran) or ``"sunday"`` moves ``this-week``, ``last-week`` and the weeks before them; such a
week is labelled by its days (``2026-11-14..2026-11-20``), so that ``2026-W47`` always keeps its ISO
meaning and every label reads back to the same period.

Every boundary is a local midnight computed on the calendar (wall-clock) and only then localized, so a week
that contains a daylight-saving change is 167 or 169 hours long. Where a zone skips midnight itself, the
boundary is the first instant after the gap.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kpicore.errors import ConfigError, PeriodError

_RELATIVE_FORMS = ("this-week", "last-week", "this-month", "last-month", "last-7-days", "yesterday", "today")
ACCEPTED_FORMS: tuple[str, ...] = (
    "2026-W47",
    "2026-11",
    "2026-Q4",
    "2026",
    "2026-11-23",
    "2026-11-01..2026-11-15",
    *_RELATIVE_FORMS,
)

# Years whose periods, and their neighbours, stay inside what datetime can represent in any zone.
_SUPPORTED_YEARS = range(1000, 9999)

_WEEK = re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE)
_QUARTER = re.compile(r"(\d{4})-Q(\d)", re.IGNORECASE)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"(\d{4})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RANGE = re.compile(r"(\S+)\.\.(\S+)")

#: The values ``week_start`` takes (kpi.toml), each with its ``date.weekday()`` number.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_week_start_day: contextvars.ContextVar[str] = contextvars.ContextVar("kpicore_week_start", default="monday")

_MONTHS_PER_UNIT = {"month": 1, "quarter": 3, "year": 12}
_DAYS_PER_UNIT = {"day": 1, "week": 7}


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)`` of the business timezone, with the label a user would type.

    ``kind`` is one of ``week``, ``month``, ``quarter``, ``year``, ``day`` or ``range``. A to-date period
    (``this-week``, ``this-month``, ``today``) ends at the moment it was asked for; ``elapsed`` holds the
    wall-clock time from its start to that moment, and earlier periods of it cover the same elapsed span.
    """

    label: str
    start: datetime
    end: datetime
    kind: str
    elapsed: timedelta | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        for boundary in (self.start, self.end):
            if not isinstance(boundary.tzinfo, ZoneInfo):
                raise TypeError(f"period boundaries must carry a ZoneInfo timezone, got {boundary!r}")

    @property
    def tz(self) -> ZoneInfo:
        """The business timezone the boundaries are expressed in."""
        return self.start.tzinfo  # type: ignore[return-value]  # checked in __post_init__

    def start_iso(self) -> str:
        """The start as ISO 8601 with the business timezone's offset, e.g. ``2026-11-16T00:00:00+01:00``."""
        return self.start.isoformat()

    def end_iso(self) -> str:
        """The exclusive end as ISO 8601 with the business timezone's offset."""
        return self.end.isoformat()

    def previous(self) -> Period:
        """The period just before this one: the same kind, or the same number of days for a range."""
        return self.shifted(1)

    def shifted(self, n: int) -> Period:
        """The period ``n`` units back (``n=1`` is :meth:`previous`; a negative ``n`` moves forward).

        Weeks, months, quarters, years and days move by whole calendar units; a range moves by its own
        number of days. A to-date period keeps its elapsed wall-clock span, cut at the end of its unit.
        """
        if n == 0:
            return self
        first_day = self.start.date()
        range_days = (self.end.date() - first_day).days
        try:
            if self.kind == "range":
                new_first = first_day - timedelta(days=n * range_days)
            else:
                new_first = _add_units(self.kind, first_day, -n)
        except (OverflowError, ValueError):  # beyond what date can hold; reported just below
            new_first = date.min
        _check_year(new_first.year, f"{self.label} shifted back by {n}")
        if self.kind == "range":
            return _range(new_first, new_first + timedelta(days=range_days - 1), self.tz)
        whole = _whole(self.kind, new_first, self.tz)
        if self.elapsed is None:
            return whole
        unit_end = datetime.combine(_add_units(self.kind, new_first, 1), time())
        wall_end = min(datetime.combine(new_first, time()) + self.elapsed, unit_end)
        return replace(whole, end=_localize(wall_end, self.tz), elapsed=self.elapsed)

    def trend(self, n: int) -> list[Period]:
        """The last ``n`` periods ending with this one, oldest first.

        For a to-date period every earlier point covers the same elapsed span, so the points compare.
        """
        if n < 1:
            raise PeriodError(f"a trend needs at least 1 period, got {n}")
        return [self.shifted(back) for back in range(n - 1, -1, -1)]


def year_before(period: Period) -> Period:
    """The same period one year earlier, for year-over-year comparisons (``--compare last-year``).

    - a week: the same ISO week number of the ISO year before; W53 (which that year never has) maps to W52;
      a week labelled by its days (``week_start`` other than Monday) maps to the week 52 weeks before,
      which starts on the same weekday and holds the nearest dates (one day off, two across a 29 February);
    - a month, quarter or year: the same one of the calendar year before;
    - a day: the same date a year before, 29 February mapping to 28 February;
    - a range: each end moved back one calendar year (29 February to 28 February), so a range keeps
      its dates rather than its weekdays: ``2028-02-01..2028-02-29`` maps to ``2027-02-01..2027-02-28``.

    A to-date period (``this-week``, ``this-month``, ``today``) keeps its elapsed wall-clock span,
    cut at the end of the unit, as :meth:`Period.shifted` does. PeriodError when the year before is
    outside the supported years.
    """
    first_day = period.start.date()
    zone = period.tz
    if period.kind == "week" and first_day.weekday() != 0:  # a week labelled by its days
        _check_year(first_day.year - 1, f"the year before {period.label}")
        earlier = _whole("week", first_day - timedelta(weeks=52), zone)
    elif period.kind == "week":
        iso = first_day.isocalendar()
        _check_year(iso.year - 1, f"the year before {period.label}")
        week = min(iso.week, date(iso.year - 1, 12, 28).isocalendar().week)
        earlier = _whole("week", date.fromisocalendar(iso.year - 1, week, 1), zone)
    elif period.kind in ("month", "quarter", "year"):
        _check_year(first_day.year - 1, f"the year before {period.label}")
        earlier = _whole(period.kind, first_day.replace(year=first_day.year - 1), zone)
    elif period.kind == "day":
        _check_year(first_day.year - 1, f"the year before {period.label}")
        earlier = _whole("day", _same_day_year_before(first_day), zone)
    else:
        last_day = period.end.date() - timedelta(days=1)
        _check_year(first_day.year - 1, f"the year before {period.label}")
        return _range(_same_day_year_before(first_day), _same_day_year_before(last_day), zone)
    if period.elapsed is None:
        return earlier
    unit_end = datetime.combine(earlier.end.date(), time())
    wall_end = min(datetime.combine(earlier.start.date(), time()) + period.elapsed, unit_end)
    return replace(earlier, end=_localize(wall_end, zone), elapsed=period.elapsed)


def _same_day_year_before(day: date) -> date:
    """``day`` one calendar year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def check_week_start(value: object, where: str = "week_start") -> str:
    """``value`` as a weekday name (``"saturday"``); a ConfigError naming ``where`` otherwise."""
    if isinstance(value, str) and value.strip().lower() in WEEKDAYS:
        return value.strip().lower()
    from .settings import did_you_mean

    hint = did_you_mean(str(value).lower(), WEEKDAYS)
    raise ConfigError(
        f'{where}: {value!r} is not a weekday name{hint}; use "monday" (ISO, the default), '
        f'"saturday" or "sunday"'
    )


@contextlib.contextmanager
def weeks_starting(day: str | None) -> Iterator[str]:
    """Inside the block, ``this-week`` and ``last-week`` start on ``day`` (None keeps the current one)."""
    token = _week_start_day.set(check_week_start(day) if day else _week_start_day.get())
    try:
        yield _week_start_day.get()
    finally:
        _week_start_day.reset(token)


def week_start_of(day: date, week_start: str = "monday") -> date:
    """The first day of the week holding ``day``, for weeks starting on ``week_start``."""
    return day - timedelta(days=(day.weekday() - WEEKDAYS.index(week_start)) % 7)


def get_timezone(name: str) -> ZoneInfo:
    """The IANA timezone called ``name``; a ConfigError suggesting close names if there is none."""
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    names_by_lower = {known.lower(): known for known in zoneinfo.available_timezones()}
    from .settings import closest

    close = [names_by_lower[lower] for lower in closest(name.lower(), names_by_lower, n=3, cutoff=0.85)]
    if close:
        alternatives = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
        hint = f"(did you mean {alternatives}?)"
    else:
        hint = "(use an IANA name such as UTC, Europe/Berlin or America/New_York)"
    raise ConfigError(f"unknown timezone {name!r} {hint}")


def parse_period(
    text: str, tz: str | ZoneInfo = "UTC", now: datetime | None = None, *, week_start: str | None = None
) -> Period:
    """The period ``text`` names, in the business timezone ``tz``.

    ``text`` is one of :data:`ACCEPTED_FORMS`. Relative forms are computed from ``now`` (default: the
    current time); an aware ``now`` is converted to ``tz``, a naive one is taken to be in ``tz`` already.
    ``this-week`` and ``last-week`` start on ``week_start`` (default: the one :func:`weeks_starting` set,
    else Monday); ``2026-W47`` is always the ISO week. Raises PeriodError with a one-line message for
    anything else.
    """
    zone = tz if isinstance(tz, ZoneInfo) else get_timezone(tz)
    form = text.strip()
    if form.lower() in _RELATIVE_FORMS:
        first_weekday = check_week_start(week_start) if week_start else _week_start_day.get()
        return _relative_period(form.lower(), _business_now(now, zone), zone, first_weekday)
    if match := _WEEK.fullmatch(form):
        return _whole("week", _week_start(int(match[1]), int(match[2])), zone)
    if match := _QUARTER.fullmatch(form):
        return _whole("quarter", _quarter_start(int(match[1]), int(match[2])), zone)
    if match := _MONTH.fullmatch(form):
        return _whole("month", _month_start(int(match[1]), int(match[2]), f"month {form}"), zone)
    if match := _YEAR.fullmatch(form):
        year = int(match[1])
        _check_year(year, f"year {form}")
        return _whole("year", date(year, 1, 1), zone)
    if match := _DAY.fullmatch(form):
        return _whole("day", _day(form), zone)
    if (match := _RANGE.fullmatch(form)) and _DAY.fullmatch(match[1]) and _DAY.fullmatch(match[2]):
        first_day, last_day = _day(match[1]), _day(match[2])
        if last_day < first_day:
            raise PeriodError(f"range {form} ends before it starts: write the earlier day first")
        return _range(first_day, last_day, zone)
    raise PeriodError(f"unknown period {text!r}: use one of {', '.join(ACCEPTED_FORMS)}")


def _relative_period(name: str, now: datetime, zone: ZoneInfo, week_start: str = "monday") -> Period:
    """The relative period ``name`` (``this-week``, ``yesterday``...) as seen at ``now`` in ``zone``."""
    today = now.date()
    monday = week_start_of(today, week_start)  # the week's first day (a Monday unless week_start says)
    first_of_month = today.replace(day=1)
    match name:
        case "today":
            return _to_date("day", today, now, zone)
        case "yesterday":
            return _whole("day", today - timedelta(days=1), zone)
        case "this-week":
            return _to_date("week", monday, now, zone)
        case "last-week":
            return _whole("week", monday - timedelta(days=7), zone)
        case "this-month":
            return _to_date("month", first_of_month, now, zone)
        case "last-month":
            return _whole("month", _add_units("month", first_of_month, -1), zone)
        case "last-7-days":
            return _range(today - timedelta(days=7), today - timedelta(days=1), zone)
    raise AssertionError(f"relative period {name!r} has no rule")


def _business_now(now: datetime | None, zone: ZoneInfo) -> datetime:
    """``now`` (default: the current time) in the business timezone, truncated to whole seconds."""
    if now is None:
        now = datetime.now(zone)
    elif now.tzinfo is None:
        now = _localize(now, zone)
    return now.astimezone(zone).replace(microsecond=0)


def _whole(kind: str, first_day: date, zone: ZoneInfo) -> Period:
    """The whole week, month, quarter, year or day that starts on ``first_day``."""
    after = _add_units(kind, first_day, 1)
    return Period(_label(kind, first_day), _midnight(first_day, zone), _midnight(after, zone), kind)


def _to_date(kind: str, first_day: date, now: datetime, zone: ZoneInfo) -> Period:
    """The unit starting on ``first_day`` cut at ``now``, remembering the wall-clock time elapsed."""
    elapsed = now.replace(tzinfo=None) - datetime.combine(first_day, time())
    return replace(_whole(kind, first_day, zone), end=now, elapsed=elapsed)


def _range(first_day: date, last_day: date, zone: ZoneInfo) -> Period:
    """The days ``first_day`` through ``last_day``, both included."""
    label = f"{first_day.isoformat()}..{last_day.isoformat()}"
    end = _midnight(last_day + timedelta(days=1), zone)
    return Period(label, _midnight(first_day, zone), end, "range")


def _add_units(kind: str, first_day: date, n: int) -> date:
    """The first day of the unit ``n`` units after the one starting on ``first_day``."""
    if kind in _DAYS_PER_UNIT:
        return first_day + timedelta(days=n * _DAYS_PER_UNIT[kind])
    months = first_day.year * 12 + first_day.month - 1 + n * _MONTHS_PER_UNIT[kind]
    return date(months // 12, months % 12 + 1, 1)


def _label(kind: str, first_day: date) -> str:
    """The label of the unit starting on ``first_day``: ``2026-W47``, ``2026-11``, ``2026-Q4``..."""
    if kind == "week":
        if first_day.weekday() != 0:  # not an ISO week: its days, so 2026-W47 keeps its ISO meaning
            return f"{first_day.isoformat()}..{(first_day + timedelta(days=6)).isoformat()}"
        iso = first_day.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    if kind == "month":
        return f"{first_day.year:04d}-{first_day.month:02d}"
    if kind == "quarter":
        return f"{first_day.year:04d}-Q{(first_day.month - 1) // 3 + 1}"
    if kind == "year":
        return f"{first_day.year:04d}"
    return first_day.isoformat()


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant ``day`` begins in ``zone``."""
    return _localize(datetime.combine(day, time()), zone)


def _localize(wall_clock: datetime, zone: ZoneInfo) -> datetime:
    """The naive local ``wall_clock`` as an aware datetime in ``zone``.

    The UTC round trip moves a time that falls in a daylight-saving gap (one the clocks skip) forward by
    the gap, so a skipped midnight becomes the first instant of the day.
    """
    return wall_clock.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _check_year(year: int, what: str) -> None:
    if year not in _SUPPORTED_YEARS:
        raise PeriodError(
            f"{what} is out of range: use a year from {_SUPPORTED_YEARS.start} to {_SUPPORTED_YEARS.stop - 1}"
        )


def _week_start(year: int, week: int) -> date:
    label = f"{year:04d}-W{week:02d}"
    _check_year(year, f"week {label}")
    weeks_in_year = date(year, 12, 28).isocalendar().week
    if not 1 <= week <= weeks_in_year:
        raise PeriodError(f"no week {label}: ISO year {year} has weeks W01 to W{weeks_in_year}")
    return date.fromisocalendar(year, week, 1)


def _quarter_start(year: int, quarter: int) -> date:
    _check_year(year, f"quarter {year:04d}-Q{quarter}")
    if not 1 <= quarter <= 4:
        raise PeriodError(f"no quarter {year:04d}-Q{quarter}: quarters run Q1 to Q4")
    return date(year, 3 * quarter - 2, 1)


def _month_start(year: int, month: int, label: str) -> date:
    _check_year(year, label)
    if not 1 <= month <= 12:
        raise PeriodError(f"no {label}: months run 01 to 12")
    return date(year, month, 1)


def _day(text: str) -> date:
    """The day written ``YYYY-MM-DD``, with a specific message if it does not exist."""
    year, month, day = (int(part) for part in text.split("-"))
    first_of_month = _month_start(year, month, f"day {text}")
    days_in_month = (_add_units("month", first_of_month, 1) - first_of_month).days
    if not 1 <= day <= days_in_month:
        raise PeriodError(f"no day {text}: {text[:7]} has days 01 to {days_in_month}")
    return date(year, month, day)
