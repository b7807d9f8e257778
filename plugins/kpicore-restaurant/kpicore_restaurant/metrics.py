"""The restaurant metrics (table turnover and the rest), over ``tables`` and ``table_sessions``.

Validity is judged per metric on the columns it reads: a session still open (``left_at`` NULL) counts
for covers and the turn rate, but not for turnover time, average check or occupancy, where it is
left out and warned.
"""

from __future__ import annotations

import sqlalchemy as sa

from kpicore import Measure, Metric, percent, ratio

from .opening_hours import open_minutes, opening_intervals, parse_opening_hours

PACK = "restaurant"


# -- validity ---------------------------------------------------------------------------------------
def finished(t):
    """A session with a seating time and a leaving time no earlier than it."""
    return t.seated_at.valid() & t.left_at.is_not(None) & (t.left_at >= t.seated_at)


def valid_party(t):
    """party_size is a whole number of at least 1."""
    return t.party_size.is_not(None) & t.is_integer(t.party_size) & (t.party_size >= 1)


def not_backwards(t):
    """The session did not leave before it was seated (it may still be open)."""
    return t.left_at.is_(None) | (t.left_at >= t.seated_at)


def valid_seats(t):
    return t.seats.is_not(None) & t.is_integer(t.seats) & (t.seats >= 1)


INVALID_PARTY = Measure.count(
    where=lambda t: ~valid_party(t),
    time="seated_at",
    warn="sessions with party_size missing, not a whole number or below 1",
)
STILL_OPEN = Measure.count(
    where=lambda t: t.left_at.is_(None), time="seated_at", warn="sessions still open (no left_at yet)"
)
BACKWARDS = Measure.count(
    where=lambda t: t.left_at.is_not(None) & (t.left_at < t.seated_at),
    time="seated_at",
    warn="sessions whose left_at is before seated_at",
)
TABLES = Measure.count(entity="tables", window="all")


class TableTurnoverTime(Metric):
    name = "table_turnover_time"
    title = "Table turnover time"
    description = "Mean minutes from seated_at to left_at over table sessions with left_at in the period."
    unit = "minutes"
    better = "lower"
    entity = "table_sessions"
    time = "left_at"
    n = "sessions"
    rules = (
        "Sessions still open (no left_at) are not in any period yet; those seated in the period are warned.",
        "A session whose left_at is before seated_at (or with no seated_at) is left out and warned.",
    )
    measures = {
        "minutes": Measure.sum(lambda t: t.minutes_between(t.seated_at, t.left_at), where=finished),
        "sessions": Measure.count(where=finished),
        "invalid": Measure.count(
            where=lambda t: ~finished(t),
            warn="sessions whose left_at is before seated_at or with no seated_at",
        ),
        "still_open": STILL_OPEN,
    }

    def value(self, m):
        return ratio(m.minutes, m.sessions)


class Covers(Metric):
    name = "covers"
    title = "Covers"
    description = "Guests seated: sum of party_size over sessions with seated_at in the period."
    unit = "count"
    better = "higher"
    entity = "table_sessions"
    time = "seated_at"
    n = "sessions"
    rules = (
        "Sessions still open count: their guests are seated.",
        "A party_size that is missing, not a whole number or below 1 is left out and warned.",
    )
    measures = {
        "guests": Measure.sum("party_size", where=valid_party),
        "sessions": Measure.count(where=valid_party),
        "invalid": INVALID_PARTY,
    }

    def value(self, m):
        return m.guests


class AverageCheck(Metric):
    name = "average_check"
    title = "Average check per guest"
    description = "sum(check_amount) / sum(party_size) over finished sessions with seated_at in the period."
    unit = "currency"
    better = "higher"
    entity = "table_sessions"
    time = "seated_at"
    n = "sessions"
    rules = (
        "Sessions still open are left out (their check is not final) and warned.",
        "Invalid party_size, left_at before seated_at, or no check_amount: left out and warned.",
    )

    measures = {
        "checks": Measure.sum("check_amount", where=lambda t: _priced(t)),
        "guests": Measure.sum("party_size", where=lambda t: _priced(t)),
        "sessions": Measure.count(where=lambda t: _priced(t)),
        "invalid_party": INVALID_PARTY,
        "still_open": STILL_OPEN,
        "backwards": BACKWARDS,
        "no_check": Measure.count(
            where=lambda t: finished(t) & valid_party(t) & t.check_amount.is_(None),
            warn="finished sessions with no check_amount",
        ),
    }

    def value(self, m):
        return ratio(m.checks, m.guests)


def _priced(t):
    return finished(t) & valid_party(t) & t.check_amount.is_not(None)


class TableTurnRate(Metric):
    name = "table_turn_rate"
    title = "Table turn rate"
    description = "Sessions seated in the period / tables / days in the period (turns per table per day)."
    unit = "ratio"
    better = "higher"
    entity = "table_sessions"
    time = "seated_at"
    n = "sessions"
    rules = (
        "Every seating is a turn, including sessions still open.",
        "A session whose left_at is before seated_at is left out and warned.",
        "Tables are all rows of `tables`, whatever the period; days are the period's calendar days.",
    )
    measures = {
        "sessions": Measure.count(where=not_backwards),
        "backwards": BACKWARDS,
        "tables": TABLES,
    }

    def value(self, m):
        return ratio(ratio(m.sessions, m.tables), period_days(m.period))


def period_days(period) -> float | None:
    """The period's length in days of the business calendar (a DST week is 7 days)."""
    if period is None:
        return None
    wall_clock = period.end.replace(tzinfo=None) - period.start.replace(tzinfo=None)
    return wall_clock.total_seconds() / 86_400


class SeatOccupancy(Metric):
    name = "seat_occupancy"
    title = "Seat occupancy"
    description = (
        "100 x sum(party_size x minutes of each session inside opening hours) / (sum(seats) x open minutes), "
        "in the period."
    )
    unit = "percent"
    better = "higher"
    entity = "table_sessions"
    n = "sessions"
    rules = (
        (
            "Opening hours come from [packs.restaurant.opening_hours] in kpi.toml, per weekday, in the business "
            "timezone; a day not listed is closed. Without opening hours the value is empty and warned."
        ),
        (
            "Only the minutes of a session inside opening hours and inside the period count: sessions crossing "
            "the period's start or end, or a closing time, are cut there."
        ),
        (
            "Sessions still open, leaving before they are seated, or with an invalid party_size are left out "
            "and warned; tables with seats missing or below 1 likewise."
        ),
    )

    def measures(self, config=None):
        settings = config.pack(PACK) if config is not None else {}
        schedule = parse_opening_hours(settings.get("opening_hours"))

        def overlaps(t, p):
            return t.seated_at.valid() & (t.seated_at < p.end) & (t.left_at > p.start)

        def seat_minutes(t, p):
            intervals = opening_intervals(schedule, p.start, p.end, p.tz)
            inside = _open_seconds_before(t, t.left_at, intervals) - _open_seconds_before(
                t, t.seated_at, intervals
            )
            return t.party_size * inside / sa.literal_column("60.0")

        measures = {
            "seat_minutes": Measure.sum(
                seat_minutes, where=lambda t, p: overlaps(t, p) & finished(t) & valid_party(t)
            ),
            "sessions": Measure.count(where=lambda t, p: overlaps(t, p) & finished(t) & valid_party(t)),
            "invalid": Measure.count(
                where=lambda t, p: overlaps(t, p) & ~(finished(t) & valid_party(t)),
                warn="sessions whose left_at is before seated_at or with an invalid party_size",
            ),
            "still_open": STILL_OPEN,
            "seats": Measure.sum("seats", entity="tables", window="all", where=valid_seats),
            "invalid_tables": Measure.count(
                entity="tables",
                window="all",
                where=lambda t: ~valid_seats(t),
                warn="tables with seats missing, not a whole number or below 1",
            ),
        }
        if not schedule:
            measures["no_opening_hours"] = Measure.count(
                time="seated_at",
                warn="no opening hours in [packs.restaurant.opening_hours] of kpi.toml: occupancy not computed",
            )
        return measures

    def value(self, m):
        settings = m.config.pack(PACK) if m.config is not None else {}
        schedule = parse_opening_hours(settings.get("opening_hours"))
        if m.period is None or not schedule:
            return None
        minutes = open_minutes(opening_intervals(schedule, m.period.start, m.period.end, m.period.tz))
        return percent(m.seat_minutes, m.seats * minutes if m.seats is not None else None)


def _open_seconds_before(t, column, intervals):
    """SQL: seconds of opening hours in ``intervals`` before the column's instant (0 .. all of them).

    A flat CASE with two branches per interval (so SQLite's expression-depth limit is never reached);
    the constants are inlined numbers rather than bound parameters, so long periods do not hit a
    parameter limit.
    """
    if not intervals:
        return sa.literal_column("0.0")
    branches = []
    open_before = 0.0
    for opens, closes in intervals:
        instant = t.epoch_seconds(column, opens)
        start, end = opens.timestamp(), closes.timestamp()
        branches.append((instant < _number(start), _number(open_before)))
        branches.append((instant < _number(end), instant - _number(start - open_before)))
        open_before += end - start
    return sa.case(*branches, else_=_number(open_before))


def _number(value: float):
    return sa.literal_column(repr(float(value)))


METRICS = (TableTurnoverTime, Covers, AverageCheck, TableTurnRate, SeatOccupancy)
