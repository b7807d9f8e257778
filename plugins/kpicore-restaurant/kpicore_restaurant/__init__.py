"""kpicore-restaurant: restaurant KPIs as a kpicore plugin (entry point ``restaurant`` in group ``kpicore``).

Registers the entities ``tables`` and ``table_sessions``, the restaurant metrics (table turnover
time, covers, average check, table turn rate, seat occupancy) and sample data for
``kpi demo --pack restaurant``.
"""

from __future__ import annotations

from kpicore import Column, Entity, hookimpl

__version__ = "0.1.0"

TABLES = Entity(
    "tables",
    (Column("table_id", "id"), Column("seats", "integer")),
    "One row per table of the restaurant.",
    customer_key=None,
)
TABLE_SESSIONS = Entity(
    "table_sessions",
    (
        Column("session_id", "id"),
        Column("table_id", "id"),
        Column("seated_at", "timestamp", "When the party sat down."),
        Column("left_at", "timestamp", "When the party left; NULL while still seated."),
        Column("party_size", "integer", "Guests in the party."),
        Column("check_amount", "number", "The bill, once paid."),
    ),
    "One row per party seated at a table.",
    customer_key=None,
)


@hookimpl
def register_entities(register):
    register(TABLES)
    register(TABLE_SESSIONS)


@hookimpl
def register_metrics(register):
    from .metrics import METRICS

    for metric_class in METRICS:
        register(metric_class())


@hookimpl
def register_settings(register):
    from .opening_hours import WEEKDAYS

    register("packs.restaurant", {"opening_hours": "Opening hours per weekday, for seat_occupancy."})
    register(
        "packs.restaurant.opening_hours",
        {
            day: f'Openings on {day}, e.g. ["11:30-15:00", "18:00-23:00"]; missing = closed.'
            for day in WEEKDAYS
        },
    )


@hookimpl
def register_demo_data(register):
    from .demo import DEMO_CONFIG, generate

    register("restaurant", generate, DEMO_CONFIG)


@hookimpl
def register_catalogs(register):
    # The titles, definitions and warnings of the pack's metrics in ml, bn, fa and ig (make i18n builds them).
    from pathlib import Path

    register("kpicore_restaurant", Path(__file__).parent / "locale")
