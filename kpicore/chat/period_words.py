"""Reading a spoken period ("last week", "Q3 2026", "from 2026-11-01 to 2026-11-15") into a Period.

Part of the ``/kpi`` grammar (:mod:`kpicore.chat.grammar`): the word classes that end a period phrase,
the phrase forms it reads, the period after ``vs`` and the same period a year earlier. Pure functions of
the words, the time zone and now; anything unreadable raises :class:`CommandError` with examples.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kpicore.chat.requests import CommandError
from kpicore.errors import PeriodError
from kpicore.periods import Period, parse_period, year_before

#: Examples shown when a period cannot be read.
PERIOD_EXAMPLES = (
    "last week",
    "this month",
    "last month",
    "Q3",
    "Q3 2026",
    "november",
    "2026-W47",
    "yesterday",
    "last 7 days",
    "2026-11-01..2026-11-15",
)
MAX_DAYS = 366

_FILLER = frozenset(
    {
        "for",
        "in",
        "during",
        "of",
        "the",
        "and",
        "show",
        "me",
        "what",
        "was",
        "is",
        "s",
        "please",
        "how",
        "did",
        "do",
        "we",
        "our",
        "my",
        "?",
        "with",
    }
)
_CHART = frozenset({"chart", "graph", "plot"})
_SHARE = frozenset({"share", "post", "public"})
_VS = frozenset({"vs", "vs.", "versus", "against", "compared", "compare"})
_KEYWORDS = _CHART | _SHARE | _VS | {"by"}
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_RELATIVE = {"this-week", "last-week", "this-month", "last-month", "last-7-days", "yesterday", "today"}
_PERIOD_STARTS = (
    frozenset(
        {
            "last",
            "this",
            "past",
            "previous",
            "prior",
            "yesterday",
            "today",
            "week",
            "quarter",
            "year",
            "month",
            "from",
            "since",
        }
    )
    | _RELATIVE
    | set(_MONTHS)
)
_QUARTER = re.compile(r"q([1-4])")
_WEEK_NUMBER = re.compile(r"w(?:eek)?(\d{1,2})")
_YEAR = re.compile(r"\d{4}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIT_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7}


def _starts_period(word: str) -> bool:
    return word in _PERIOD_STARTS or word[:1].isdigit() or bool(re.fullmatch(r"[qw]\d+|week\d+", word))


def _comparison(words, i, zone, now, period):
    """The period after `vs`: a period phrase, `previous` (the default), or `last year` (a year earlier)."""
    rest = words[i : i + 4]
    if not rest:
        raise CommandError("vs what? e.g. `vs last year`, `vs 2026-W40`, `vs previous`", kind="period")
    for phrase, length in (
        (("same", "period", "last", "year"), 4),
        (("a", "year", "ago"), 3),
        (("year", "ago"), 2),
        (("last", "year"), 2),
    ):
        if tuple(rest[:length]) == phrase:
            return (None, "__year_ago__"), i + length
    if rest[0] in ("previous", "prior", "before") and (
        len(rest) == 1 or rest[1] not in ("week", "month", "quarter", "year", "day")
    ):
        return None, i + 1 + (len(rest) > 1 and rest[1] == "period")
    if not _starts_period(rest[0]):
        raise CommandError(
            f"can't read the period after vs: {rest[0]!r}; try {', '.join(PERIOD_EXAMPLES[:5])}",
            kind="period",
        )
    return _period_phrase(words, i, zone, now)


def _period_phrase(words, i, zone, now) -> tuple[tuple[Period, str], int]:
    """The longest run of words from ``i`` that reads as a period, and the index after it."""
    end = i
    while end < len(words) and end - i < 5 and words[end] not in _KEYWORDS and words[end] not in _FILLER:
        end += 1
    first_error: CommandError | None = None
    for stop in range(end, i, -1):
        try:
            return _read_period(words[i:stop], zone, now), stop
        except CommandError as error:
            first_error = first_error or error
            if error.kind == "period-range":
                break  # the words read as a period that cannot be: say so, never a shorter reading of them
    phrase = " ".join(words[i:end]) or words[i]
    known = first_error and first_error.kind == "period-range" and not str(first_error).startswith("unknown")
    detail = f" ({first_error})" if known else ""  # an unknown word's own list of forms would say them twice
    raise CommandError(
        f"can't read the period {phrase!r}{detail}; try {', '.join(PERIOD_EXAMPLES)}", kind="period"
    )


def _parse_form(form: str, zone: ZoneInfo, now: datetime) -> Period:
    try:
        return parse_period(form, zone, now=now)
    except PeriodError as error:
        raise CommandError(str(error), kind="period-range") from None
    except (ValueError, OverflowError) as error:
        raise CommandError(f"period {form!r} is out of range: {error}", kind="period-range") from None


def _read_period(words: list[str], zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    """One period phrase (already lowercase words) -> (Period, the text that reads back to it)."""
    phrase = " ".join(words)
    today = now.date()
    if not words:
        raise CommandError("empty period")
    hyphenated = "-".join(words)
    if hyphenated in _RELATIVE:
        return _parse_form(hyphenated, zone, now), hyphenated
    if len(words) == 2 and words[0] in ("past", "previous", "prior") and words[1] in ("week", "month"):
        form = f"last-{words[1]}"
        return _parse_form(form, zone, now), form
    if len(words) == 3 and words[0] in ("last", "past") and words[1].isdigit() and words[2] in _UNIT_DAYS:
        days = int(words[1]) * _UNIT_DAYS[words[2]]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"{phrase}: ask for 1 to {MAX_DAYS} days", kind="period-range")
        form = f"{(today - timedelta(days=days)).isoformat()}..{(today - timedelta(days=1)).isoformat()}"
        return _parse_form(form, zone, now), form
    if (
        len(words) == 2
        and words[0] in ("this", "last", "previous", "past")
        and words[1] in ("quarter", "year")
    ):
        current = _current_unit(words[1], today, zone, now)
        if words[0] == "this":
            return current, f"this {words[1]}"
        whole = _parse_form(_unit_label(words[1], today), zone, now).previous()
        return whole, whole.label
    if len(words) == 1 and " " not in phrase:
        word = words[0]
        if match := _QUARTER.fullmatch(word):
            return _latest("quarter", int(match[1]), None, zone, now)
        if match := _WEEK_NUMBER.fullmatch(word):
            return _latest("week", int(match[1]), None, zone, now)
        if word in _MONTHS:
            return _latest("month", _MONTHS[word], None, zone, now)
        return _labelled(word, zone, now)
    if len(words) == 2:
        first, second = words
        year_first = _YEAR.fullmatch(first)
        unit, year = (second, first) if year_first else (first, second)
        if _YEAR.fullmatch(year):
            if match := _QUARTER.fullmatch(unit):
                return _labelled(f"{year}-Q{match[1]}", zone, now)
            if match := _WEEK_NUMBER.fullmatch(unit):
                return _labelled(f"{year}-W{int(match[1]):02d}", zone, now)
            if unit in _MONTHS:
                return _labelled(f"{year}-{_MONTHS[unit]:02d}", zone, now)
        if first in ("week", "quarter") and second.isdigit():
            kind = first
            return _latest(kind, int(second), None, zone, now)
    if (
        len(words) == 3
        and words[0] in ("week", "quarter")
        and words[1].isdigit()
        and _YEAR.fullmatch(words[2])
    ):
        label = f"{words[2]}-W{int(words[1]):02d}" if words[0] == "week" else f"{words[2]}-Q{words[1]}"
        return _labelled(label, zone, now)
    if len(words) == 3 and words[1] in ("to", "until", "through"):
        return _range(words[0], words[2], phrase, zone, now)
    if len(words) == 4 and words[0] == "from" and words[2] in ("to", "until", "through"):
        return _range(words[1], words[3], phrase, zone, now)
    raise CommandError(f"can't read the period {phrase!r}", kind="period")


def _range(first: str, last: str, phrase: str, zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    """The days ``first`` to ``last`` (``first..last``); an error speaks of the words asked, ``phrase``,
    never of the range form made of them."""
    if not (_DAY.fullmatch(first) and _DAY.fullmatch(last)):
        raise CommandError(f"can't read the period {phrase!r}", kind="period")  # no days to range over
    form = f"{first}..{last}"
    try:
        return _labelled(form, zone, now)
    except CommandError as error:
        raise CommandError(str(error).replace(form, phrase), kind=error.kind) from None


def _labelled(form: str, zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    period = _parse_form(form, zone, now)
    return period, period.label


def _unit_label(unit: str, today: date) -> str:
    if unit == "quarter":
        return f"{today.year:04d}-Q{(today.month - 1) // 3 + 1}"
    return f"{today.year:04d}"


def _current_unit(unit: str, today: date, zone: ZoneInfo, now: datetime) -> Period:
    """This quarter or year so far, compared with the same elapsed span of the one before."""
    whole = _parse_form(_unit_label(unit, today), zone, now)
    return _so_far(whole, now)


def _so_far(whole: Period, now: datetime) -> Period:
    elapsed = now.replace(tzinfo=None) - whole.start.replace(tzinfo=None)
    return replace(whole, end=now, elapsed=elapsed)


def _latest(kind: str, number: int, year: int | None, zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    """The most recent quarter, ISO week or month ``number`` that has begun; the current one runs to now."""
    today = now.date()
    if kind == "quarter":
        current = (today.month - 1) // 3 + 1
        year = today.year if number <= current else today.year - 1
        label, is_current = f"{year:04d}-Q{number}", number == current
        text = f"q{number}"
    elif kind == "month":
        year = today.year if number <= today.month else today.year - 1
        label, is_current = f"{year:04d}-{number:02d}", number == today.month
        text = label if not is_current else "this-month"
    else:
        iso = today.isocalendar()
        year = iso.year if number <= iso.week else iso.year - 1
        label, is_current = f"{year:04d}-W{number:02d}", number == iso.week
        text = label if not is_current else "this-week"
    whole = _parse_form(label, zone, now)
    if is_current:
        return _so_far(whole, now), text
    return whole, label


def year_ago(period: Period) -> Period:
    """The same period one year earlier (:func:`kpicore.periods.year_before`: the same ISO week number,
    W53 with W52; the same month, quarter, year or dates); CommandError past the supported years."""
    try:
        return year_before(period)
    except (PeriodError, ValueError, OverflowError) as error:
        raise CommandError(f"no year before {period.label}: {error}", kind="period") from None
