"""Entities: the canonical tables metrics read, and their columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

#: Suffix of the flag column a connector may add beside a time column: present but unparseable.
UNPARSED_SUFFIX = "__unparsed"

#: Column kinds. "timestamp" is an instant (UTC unless the source says otherwise); "date" is a
#: calendar day in the business timezone.
COLUMN_KINDS = ("id", "text", "number", "integer", "boolean", "timestamp", "date")


@dataclass(frozen=True)
class Column:
    """One canonical column of an entity."""

    name: str
    kind: str
    description: str = ""
    required: bool = True


@dataclass(frozen=True)
class Entity:
    """A canonical table. A connector maps the business's own table or query to it.

    ``customer_key`` names the column that reaches ``customers`` (for ``--by`` breakdowns).
    ``has_dimensions`` marks an entity whose extra columns are dimensions (``customers``, ``consultants``).
    ``dimensions_from`` names another entity holding this one's dimensions and the key column both share,
    e.g. ``("consultants", "consultant_id")``; without it, dimensions come from ``customers`` through
    ``customer_key``.
    ``derive`` builds a derived relation from other entities instead of a source table: a callable
    ``derive(source) -> (from_clause, {column: expression}, {time_column: storage})`` (used for shared
    per-customer aggregates such as ``customer_orders``; storage kinds as in ``kpicore.dialects.base``).
    ``derive_buckets``, optional, builds the same relation in *bucket space* for a trend's window
    boundaries: ``derive_buckets(source, boundaries) -> (from_clause, {column: expression})`` where each
    time column holds the index of the slice between boundaries its time falls in (i for
    [boundary i-1, boundary i), NULL for no time; ``TimeColumn.bucket``). The engine uses it for counts
    and sums with no filter bounded by a window (``in``, ``before_end``); it can be far cheaper than
    ordering every record, because it only needs aggregates per (key, bucket).
    """

    name: str
    columns: tuple[Column, ...]
    description: str = ""
    customer_key: str | None = "customer_id"
    has_dimensions: bool = False
    dimensions_from: tuple[str, str] | None = None
    derive: Callable | None = field(default=None, compare=False)
    derive_buckets: Callable | None = field(default=None, compare=False)

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def dimension_lookup(self) -> tuple[str, str, str] | None:
        """(entity holding the dimensions, this entity's key column, that entity's key column), or None."""
        if self.dimensions_from is not None:
            owner, key = self.dimensions_from
            return owner, key, key
        if self.customer_key:
            return "customers", self.customer_key, "customer_id"
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def time_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind in ("timestamp", "date"))


def _cols(*specs: str) -> tuple[Column, ...]:
    """Columns from 'name:kind' strings; a trailing '?' marks an optional column."""
    columns = []
    for spec in specs:
        name, kind = spec.split(":")
        required = not kind.endswith("?")
        columns.append(Column(name, kind.rstrip("?"), required=required))
    return tuple(columns)


CUSTOMERS = Entity(
    "customers",
    _cols("customer_id:id", "signup_at:timestamp", "churned_at:timestamp", "channel:text?"),
    "One row per customer; extra columns are dimensions (region, plan, ...).",
    has_dimensions=True,
)
ORDERS = Entity(
    "orders",
    _cols("order_id:id", "customer_id:id", "ordered_at:timestamp", "amount:number"),
    "One row per order; a negative amount is a refund.",
)
MARKETING_SPEND = Entity(
    "marketing_spend",
    _cols("spent_on:date", "channel:text", "amount:number"),
    "Marketing spend per day and channel.",
    customer_key=None,
)
LEADS = Entity(
    "leads",
    _cols("lead_id:id", "created_at:timestamp", "converted_at:timestamp", "channel:text?"),
    "Sales leads; converted_at is NULL until the lead converts.",
    customer_key=None,
)
SURVEY_RESPONSES = Entity(
    "survey_responses",
    _cols("response_id:id", "customer_id:id", "survey:text", "score:number", "responded_at:timestamp"),
    "Survey answers: survey is 'nps' (score 0..10) or 'csat' (score 1..5).",
)
TICKETS = Entity(
    "tickets",
    _cols(
        "ticket_id:id",
        "customer_id:id",
        "opened_at:timestamp",
        "resolved_at:timestamp",
        "contacts:integer",
        "escalated:boolean",
    ),
    "Support tickets; resolved_at is NULL while open.",
)

STOCK_ENTITIES = (CUSTOMERS, ORDERS, MARKETING_SPEND, LEADS, SURVEY_RESPONSES, TICKETS)
