"""Sample data for ``kpi demo --pack restaurant``: two years of a 16-table restaurant, ending yesterday."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path
from typing import Any

#: The kpi.toml fragment the sample data assumes (the demo's timezone is UTC).
DEMO_CONFIG = """\
[packs.restaurant.opening_hours]   # added by `kpi demo --pack restaurant`; times in the business timezone
tue = ["11:30-15:00", "18:00-23:00"]
wed = ["11:30-15:00", "18:00-23:00"]
thu = ["11:30-15:00", "18:00-23:00"]
fri = ["11:30-15:00", "18:00-24:00"]
sat = ["11:00-24:00"]
sun = ["11:00-16:00"]
"""

_SEATS = (2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 8, 8)
#: (weekday, first seating hour, last seating hour, seatings per table): Monday is closed.
_SERVICES = {
    1: ((11.5, 14.0, 1), (18.0, 21.5, 1.4)),
    2: ((11.5, 14.0, 1), (18.0, 21.5, 1.4)),
    3: ((11.5, 14.0, 1.1), (18.0, 21.5, 1.5)),
    4: ((11.5, 14.0, 1.2), (18.0, 22.5, 1.9)),
    5: ((11.0, 15.0, 1.5), (18.0, 22.5, 2.0)),
    6: ((11.0, 14.5, 1.6),),
}
_DAYS = 730
_SPEND_PER_GUEST = 34.0


def generate(path: Path, today: dt.date, *, seed: int = 11) -> dict[str, int]:
    """Add ``tables`` and ``table_sessions`` to the SQLite file at ``path``; return row counts.

    Timestamps are UTC text. A few sessions are deliberately invalid (left before seated, party of 0)
    and the last evening's latest parties are still seated, so the metrics have something to warn about.
    """
    rng = random.Random(seed)
    tables = [(table_id, seats) for table_id, seats in enumerate(_SEATS, start=1)]
    sessions: list[list[Any]] = []
    first_day = today - dt.timedelta(days=_DAYS)
    for offset in range(_DAYS):
        day = first_day + dt.timedelta(days=offset)
        for first_hour, last_hour, turns in _SERVICES.get(day.weekday(), ()):
            for table_id, seats in tables:
                for _ in range(_poisson(rng, turns)):
                    seated = dt.datetime.combine(day, dt.time()) + dt.timedelta(
                        hours=rng.uniform(first_hour, last_hour)
                    )
                    minutes = max(25, rng.gauss(55 + 12 * seats, 20))
                    party = rng.randint(max(1, seats - 2), seats)
                    check = round(party * rng.gauss(_SPEND_PER_GUEST, 6), 2)
                    left = seated + dt.timedelta(minutes=minutes)
                    sessions.append([len(sessions) + 1, table_id, _text(seated), _text(left), party, check])
    _plant_untidy_rows(rng, sessions, today)
    _write(path, tables, sessions)
    return {"tables": len(tables), "table_sessions": len(sessions)}


def _plant_untidy_rows(rng: random.Random, sessions: list[list], today: dt.date) -> None:
    recent = [
        s for s in sessions if s[2] >= _text(dt.datetime.combine(today - dt.timedelta(days=7), dt.time()))
    ]
    for session in rng.sample(recent, min(2, len(recent))):
        session[3] = session[2][:11] + "00:00:01"  # left before seated: a clock error
    for session in rng.sample(recent, min(2, len(recent))):
        session[4] = 0
    for session in sorted(recent, key=lambda s: s[2])[-3:]:
        session[3] = None  # still seated when the data was exported
        session[5] = None


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _write(path: Path, tables: list[tuple], sessions: list[list]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.execute("DROP TABLE IF EXISTS table_sessions")
        connection.execute("DROP TABLE IF EXISTS tables")
        connection.execute("CREATE TABLE tables (table_id INTEGER PRIMARY KEY, seats INTEGER NOT NULL)")
        connection.execute(
            "CREATE TABLE table_sessions (session_id INTEGER PRIMARY KEY, table_id INTEGER NOT NULL, "
            "seated_at TEXT NOT NULL, left_at TEXT, party_size INTEGER, check_amount REAL)"
        )
        connection.executemany("INSERT INTO tables VALUES (?, ?)", tables)
        connection.executemany("INSERT INTO table_sessions VALUES (?, ?, ?, ?, ?, ?)", sessions)
        connection.execute("CREATE INDEX ix_table_sessions_seated_at ON table_sessions (seated_at)")
        connection.execute("CREATE INDEX ix_table_sessions_left_at ON table_sessions (left_at)")
        connection.execute("COMMIT")
    finally:
        connection.close()
