"""kpicore-consulting: consultancy KPIs as a kpicore plugin (entry point ``consulting`` in group ``kpicore``).

Registers the entities ``consultants`` (whose extra columns are dimensions) and ``timesheets`` (which reach
those dimensions through ``consultant_id``), the consultancy metrics (utilization, realization,
revenue per consultant) and sample data for ``kpi demo --pack consulting``.
"""

from __future__ import annotations

from kpicore import Column, Entity, hookimpl

__version__ = "0.1.0"

CONSULTANTS = Entity(
    "consultants",
    (
        Column("consultant_id", "id"),
        Column("capacity_hours_per_week", "number", "Contracted hours in a five-day week."),
        Column("started_on", "date", "First day employed; empty = before any period.", required=False),
        Column("left_on", "date", "Last day employed; empty = still employed.", required=False),
    ),
    "One row per consultant; extra columns (practice, level, ...) are dimensions.",
    customer_key=None,
    has_dimensions=True,
)
TIMESHEETS = Entity(
    "timesheets",
    (
        Column("entry_id", "id"),
        Column("consultant_id", "id"),
        Column("worked_on", "date"),
        Column("hours", "number"),
        Column("billable", "boolean"),
        Column(
            "billed_amount",
            "number",
            "What the client was invoiced for the entry (0 or empty if not billable).",
        ),
        Column("standard_rate", "number", "List price per hour."),
    ),
    "One row per timesheet entry.",
    customer_key=None,
    dimensions_from=("consultants", "consultant_id"),
)


@hookimpl
def register_entities(register):
    register(CONSULTANTS)
    register(TIMESHEETS)


@hookimpl
def register_metrics(register):
    from .metrics import METRICS

    for metric_class in METRICS:
        register(metric_class())


@hookimpl
def register_settings(register):
    register("packs.consulting", [])  # the pack reads no settings: any key under [packs.consulting] is a typo


@hookimpl
def register_demo_data(register):
    from .demo import generate

    register("consulting", generate)


@hookimpl
def register_catalogs(register):
    # The titles, definitions and warnings of the pack's metrics in ml, bn, fa and ig (make i18n builds them).
    from pathlib import Path

    register("kpicore_consulting", Path(__file__).parent / "locale")
