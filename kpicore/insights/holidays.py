"""Holidays that move through the Western calendar, for the unusual-change band's time of year.

A holiday that stays on its week (Christmas, Nowruz most years) is a season like any other once a year of
history has seen it. One that moves (Easter by up to five weeks, Eid al-Fitr about eleven days earlier each
year, Diwali within October and November) would make two weeks look odd every year: the week it lands on
this year (nothing there a year before) and the week it left (a peak a year before, none now). So the band
reads this calendar: a week that holds one of these holidays is compared with the week that held it a year
before, and a week that held one a year before but holds none now is compared with no holiday effect.

Dates: Easter (Western) is computed; Eid al-Fitr (the first day, as most of the Gulf and South Asia keep it;
a country's own sighting may differ by a day), Diwali (Lakshmi Puja) and Nowruz (the day of the March
equinox in Tehran) are tabled for 2018 to 2035. A year outside the table has no such holiday.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, timedelta

_EID_AL_FITR = {
    2018: (6, 15), 2019: (6, 4), 2020: (5, 24), 2021: (5, 13), 2022: (5, 2), 2023: (4, 21),
    2024: (4, 10), 2025: (3, 30), 2026: (3, 20), 2027: (3, 10), 2028: (2, 27), 2029: (2, 15),
    2030: (2, 5), 2031: (1, 25), 2032: (1, 14), 2033: (1, 2), 2034: (12, 12), 2035: (12, 1),
}  # fmt: skip
_DIWALI = {
    2018: (11, 7), 2019: (10, 27), 2020: (11, 14), 2021: (11, 4), 2022: (10, 24), 2023: (11, 12),
    2024: (11, 1), 2025: (10, 20), 2026: (11, 8), 2027: (10, 29), 2028: (10, 17), 2029: (11, 5),
    2030: (10, 26), 2031: (11, 14), 2032: (11, 2), 2033: (10, 22), 2034: (11, 10), 2035: (10, 30),
}  # fmt: skip
#: Nowruz falls on 21 March in these years, else on 20 March.
_NOWRUZ_21 = {2018, 2019, 2022, 2023, 2026, 2027, 2030, 2031, 2035}

#: The holidays the band knows, by name.
HOLIDAYS = ("easter", "eid_al_fitr", "diwali", "nowruz")


def easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def holiday_dates(year: int) -> dict[str, date]:
    """The known moving holidays of a calendar year, by name."""
    found = {"easter": easter(year)}
    if year in _EID_AL_FITR:
        found["eid_al_fitr"] = date(year, *_EID_AL_FITR[year])
    if year in _DIWALI:
        found["diwali"] = date(year, *_DIWALI[year])
    if 2018 <= year <= 2035:
        found["nowruz"] = date(year, 3, 21 if year in _NOWRUZ_21 else 20)
    return found


@functools.lru_cache(maxsize=4096)
def week_first_day(label: str) -> date | None:
    """The first day of the week ``label`` names: an ISO week (``2026-W14``, a Monday) or a week
    labelled by its seven days (``2026-11-14..2026-11-20``, where ``week_start`` is Saturday or
    Sunday); None for any other label."""
    year, sep, week = label.partition("-W")
    if sep and year.isdigit() and week.isdigit():
        try:
            return date.fromisocalendar(int(year), int(week), 1)
        except ValueError:
            return None
    first, sep, last = label.partition("..")
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return None
    return start if sep and (end - start).days == 6 else None


@functools.lru_cache(maxsize=4096)
def week_holidays(label: str) -> frozenset[str]:
    """The moving holidays inside the week ``label`` (``2026-W14``, or ``2026-03-28..2026-04-03``:
    :func:`week_first_day`); empty for other labels."""
    first = week_first_day(label)
    if first is None:
        return frozenset()
    last = first + timedelta(days=6)
    found = set()
    for calendar_year in {first.year, last.year}:
        for name, day in holiday_dates(calendar_year).items():
            if first <= day <= last:
                found.add(name)
    return frozenset(found)


def holidays_of(labels: Sequence[str]) -> list[frozenset[str]]:
    """Per weekly label, the moving holidays it holds (see :func:`week_holidays`)."""
    return [week_holidays(label) for label in labels]
