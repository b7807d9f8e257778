"""The consultancy metrics (utilization, realization and the rest), over ``consultants`` and ``timesheets``."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from kpicore import Measure, Metric, percent, ratio


# -- validity ---------------------------------------------------------------------------------------
def valid_hours(t):
    return t.hours.is_not(None) & (t.hours >= 0)


def is_billable(t):
    return t.truthy(t.billable)


def priced(t):
    """A billable entry with everything realization reads."""
    return (
        is_billable(t)
        & valid_hours(t)
        & t.standard_rate.is_not(None)
        & (t.standard_rate >= 0)
        & t.billed_amount.is_not(None)
    )


INVALID_ENTRIES = Measure.count(
    where=lambda t: ~valid_hours(t) | t.billable.is_(None),
    warn="timesheet entries with hours missing or negative, or billable missing",
)


class Utilization(Metric):
    name = "utilization"
    title = "Utilization"
    description = (
        "100 x billable hours worked in the period / sum(capacity_hours_per_week x weekdays employed in the "
        "period / 5)."
    )
    unit = "percent"
    better = "higher"
    entity = "timesheets"
    time = "worked_on"
    n = "consultants"
    rules = (
        (
            "Capacity counts only the weekdays (Monday to Friday) a consultant is employed in the period: "
            "from started_on to left_on, both included; empty means open-ended."
        ),
        "Non-billable hours count in neither part.",
        (
            "Entries with hours missing or negative, or billable missing, are left out and warned; so are "
            "consultants with no or negative capacity, or who left before they started."
        ),
    )

    def measures(self, config=None):
        return {
            "billable_hours": Measure.sum("hours", where=lambda t: valid_hours(t) & is_billable(t)),
            "invalid_entries": INVALID_ENTRIES,
            "capacity": Measure.sum(
                lambda t, p: t.capacity_hours_per_week * weekdays_employed(t, p) / sa.literal_column("5.0"),
                where=lambda t, p: valid_consultant(t) & employed_in(t, p),
                entity="consultants",
                window="all",
            ),
            "consultants": Measure.count(
                where=lambda t, p: valid_consultant(t) & employed_in(t, p) & (weekdays_employed(t, p) > 0),
                entity="consultants",
                window="all",
            ),
            "invalid_consultants": Measure.count(
                where=lambda t, p: ~valid_consultant(t) & employed_in(t, p),
                entity="consultants",
                window="all",
                warn="consultants with capacity missing or negative, or left_on before started_on",
            ),
        }

    def value(self, m):
        return percent(m.billable_hours, m.capacity)


def _optional(t, name: str):
    """The optional date column ``name``, or None when the source has no such column (it reads as NULL,
    and an untyped NULL cannot be compared in SQL)."""
    column = getattr(t, name)
    return None if isinstance(getattr(column, "sql", column), sa.sql.elements.Null) else column


def valid_consultant(t):
    valid = t.capacity_hours_per_week.is_not(None) & (t.capacity_hours_per_week >= 0)
    started_on, left_on = _optional(t, "started_on"), _optional(t, "left_on")
    if started_on is None or left_on is None:
        return valid
    return valid & (started_on.is_(None) | left_on.is_(None) | (left_on >= started_on))


def employed_in(t, p):
    """Employed on some day of the period (started before its end, not left before its start)."""
    started_on, left_on = _optional(t, "started_on"), _optional(t, "left_on")
    started = sa.true() if started_on is None else (started_on.is_(None) | (started_on < p.end))
    not_left = sa.true() if left_on is None else (left_on.is_(None) | (left_on >= p.start))
    return sa.and_(started, not_left)


def weekdays_employed(t, p):
    """SQL: the weekdays of period ``p`` from started_on to left_on (both included).

    Weekdays on or after started_on, minus weekdays after left_on: two flat CASEs with a branch per
    weekday of the period, comparing the date columns with constant day boundaries. A column the source
    lacks means open-ended.
    """
    days = weekdays_in(p)
    total = len(days)
    started_on, left_on = _optional(t, "started_on"), _optional(t, "left_on")
    on_or_after_start: sa.ColumnElement
    after_left: sa.ColumnElement
    if started_on is None or not days:
        on_or_after_start = sa.literal(total)
    else:
        from_start = [
            (started_on < _midnight(day + dt.timedelta(days=1), p.tz), total - i)
            for i, day in enumerate(days)
        ]
        on_or_after_start = sa.case((started_on.is_(None), total), *from_start, else_=0)
    if left_on is None or not days:
        after_left = sa.literal(0)
    else:
        after_leaving = [(left_on < _midnight(day, p.tz), total - i) for i, day in enumerate(days)]
        after_left = sa.case((left_on.is_(None), 0), *after_leaving, else_=0)
    return on_or_after_start - after_left


def weekdays_in(period) -> list[dt.date]:
    """Monday-to-Friday dates whose day starts inside the period (business calendar)."""
    first = period.start.date()
    last = (period.end - dt.timedelta(microseconds=1)).date()
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [day for day in days if day.weekday() < 5]


def _midnight(day: dt.date, zone) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


class Realization(Metric):
    name = "realization"
    title = "Realization"
    description = (
        "100 x sum(billed_amount) / sum(hours x standard_rate), billable entries worked in the period."
    )
    unit = "percent"
    better = "higher"
    entity = "timesheets"
    time = "worked_on"
    n = "entries"
    rules = (
        "Only billable entries count.",
        (
            "Billable entries with hours, standard_rate or billed_amount missing (or negative hours or rate) "
            "are left out and warned."
        ),
    )
    measures = {
        "billed": Measure.sum("billed_amount", where=priced),
        "standard": Measure.sum(lambda t: t.hours * t.standard_rate, where=priced),
        "entries": Measure.count(where=priced),
        "invalid": Measure.count(
            where=lambda t: (is_billable(t) & ~priced(t)) | t.billable.is_(None),
            warn="billable entries with hours, standard_rate or billed_amount missing or negative",
        ),
    }

    def value(self, m):
        return percent(m.billed, m.standard)


class RevenuePerConsultant(Metric):
    name = "revenue_per_consultant"
    title = "Revenue per consultant"
    description = "sum(billed_amount) of entries worked in the period / consultants with any hours in it."
    unit = "currency"
    better = "higher"
    entity = "timesheets"
    time = "worked_on"
    n = "consultants"
    rules = (
        "Every entry's billed_amount counts (empty = 0); a consultant counts with more than 0 hours.",
        "Billable entries with no billed_amount are warned.",
    )
    measures = {
        "revenue": Measure.sum("billed_amount"),
        "consultants": Measure.count_distinct(
            "consultant_id", where=lambda t: valid_hours(t) & (t.hours > 0)
        ),
        "unbilled": Measure.count(
            where=lambda t: is_billable(t) & t.billed_amount.is_(None),
            warn="billable entries with no billed_amount",
        ),
    }

    def value(self, m):
        return ratio(m.revenue, m.consultants)


METRICS = (Utilization, Realization, RevenuePerConsultant)
