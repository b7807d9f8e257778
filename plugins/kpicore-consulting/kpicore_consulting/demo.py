"""Sample data for ``kpi demo --pack consulting``: two years of a 30-person consultancy, ending yesterday."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path
from typing import Any

_PRACTICES = ("Strategy", "Technology", "Operations")
#: level -> (standard rate per hour, share of hours billable)
_LEVELS = {
    "analyst": (110.0, 0.78),
    "consultant": (160.0, 0.74),
    "manager": (220.0, 0.62),
    "partner": (340.0, 0.38),
}
_LEVEL_WEIGHTS = (35, 35, 20, 10)
_CONSULTANTS = 30
_DAYS = 730


def generate(path: Path, today: dt.date, *, seed: int = 13) -> dict[str, int]:
    """Add ``consultants`` and ``timesheets`` to the SQLite file at ``path``; return row counts.

    Some consultants join or leave during the two years; a few part-timers have 20 or 32 hours a week.
    Two recent entries are deliberately invalid (negative hours, billable with no billed amount).
    """
    rng = random.Random(seed)
    first_day = today - dt.timedelta(days=_DAYS)
    consultants = []
    for consultant_id in range(1, _CONSULTANTS + 1):
        level = rng.choices(list(_LEVELS), weights=_LEVEL_WEIGHTS)[0]
        started = first_day - dt.timedelta(days=rng.randrange(30, 2000))
        if rng.random() < 0.3:
            started = first_day + dt.timedelta(days=rng.randrange(0, _DAYS - 30))
        left = started + dt.timedelta(days=rng.randrange(200, 900)) if rng.random() < 0.2 else None
        if left is not None and left >= today:
            left = None
        capacity = rng.choices((40, 32, 20), weights=(85, 10, 5))[0]
        consultants.append(
            (
                consultant_id,
                capacity,
                started.isoformat(),
                left.isoformat() if left else None,
                rng.choice(_PRACTICES),
                level,
            )
        )
    entries: list[list[Any]] = []
    for offset in range(_DAYS):
        day = first_day + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for consultant_id, capacity, started_on, left_on, _practice, level in consultants:
            if day.isoformat() < started_on or (left_on and day.isoformat() > left_on) or rng.random() < 0.06:
                continue  # not employed, or on leave
            rate, billable_share = _LEVELS[level]
            hours_today = capacity / 5 * rng.uniform(0.85, 1.1)
            billable_hours = round(hours_today * min(1.0, rng.gauss(billable_share, 0.12)) * 4) / 4
            other_hours = round((hours_today - billable_hours) * 4) / 4
            if billable_hours > 0:
                billed = round(billable_hours * rate * rng.uniform(0.82, 1.0), 2)
                entries.append(
                    [len(entries) + 1, consultant_id, day.isoformat(), billable_hours, 1, billed, rate]
                )
            if other_hours > 0:
                entries.append([len(entries) + 1, consultant_id, day.isoformat(), other_hours, 0, 0.0, rate])
    recent = [e for e in entries if e[2] >= (today - dt.timedelta(days=7)).isoformat() and e[4] == 1]
    if len(recent) >= 2:
        recent[0][3] = -recent[0][3]
        recent[1][5] = None
    _write(path, consultants, entries)
    return {"consultants": len(consultants), "timesheets": len(entries)}


def _write(path: Path, consultants: list[tuple], entries: list[list]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.execute("DROP TABLE IF EXISTS timesheets")
        connection.execute("DROP TABLE IF EXISTS consultants")
        connection.execute(
            "CREATE TABLE consultants (consultant_id INTEGER PRIMARY KEY, capacity_hours_per_week REAL NOT NULL, "
            "started_on TEXT, left_on TEXT, practice TEXT NOT NULL, level TEXT NOT NULL)"
        )
        connection.execute(
            "CREATE TABLE timesheets (entry_id INTEGER PRIMARY KEY, consultant_id INTEGER NOT NULL, "
            "worked_on TEXT NOT NULL, hours REAL, billable INTEGER NOT NULL, billed_amount REAL, "
            "standard_rate REAL NOT NULL)"
        )
        connection.executemany("INSERT INTO consultants VALUES (?, ?, ?, ?, ?, ?)", consultants)
        connection.executemany("INSERT INTO timesheets VALUES (?, ?, ?, ?, ?, ?, ?)", entries)
        connection.execute("CREATE INDEX ix_timesheets_worked_on ON timesheets (worked_on)")
        connection.execute("COMMIT")
    finally:
        connection.close()
