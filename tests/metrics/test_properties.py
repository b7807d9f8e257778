"""Property tests: random rows through SQLite, PostgreSQL and MariaDB agree with the plain-Python reference.

One test per metric (parametrized). Each example writes small random tables (timestamps within a few
weeks of the period, in SQLite's text forms, on the boundaries more often than chance would; invalid
scores, refunds, NULLs) to a SQLite file, a PostgreSQL schema and a MariaDB database (created once per test and
refilled per example), computes the metric for 2026-W47 in a random business timezone, broken down by
a dimension, and compares value, previous, n, warnings and every segment with ``reference``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpicore.compute import compute, select_metrics
from kpicore.config import Config
from kpicore.periods import parse_period
from kpicore.testing import (
    POSTGRES_URL,
    KpiHarness,
    create_mysql_database,
    drop_mysql_database,
    mysql_url,
    mysql_writer,
    write_tables,
)

from .reference import READS, REFERENCE, close, expected, segment_rows

TIMEZONES = ("UTC", "Asia/Tokyo", "America/New_York")
PERIODS = {tz: parse_period("2026-W47", tz) for tz in TIMEZONES}
PERIOD = PERIODS["UTC"]
EARLIEST = PERIOD.previous().start - dt.timedelta(days=7)
LATEST = PERIOD.end + dt.timedelta(days=7)
BOUNDARIES = [
    (moment + dt.timedelta(seconds=delta)).astimezone(dt.UTC)
    for period in PERIODS.values()
    for moment in (period.previous().start, period.start, period.end)
    for delta in (-1, 0, 1)
]
#: The dimension each metric is broken down by (spend and leads reach no customer: their own channel).
DIMENSION = {"cac": "channel", "conversion_rate": "channel"}
GROSS_MARGIN = 0.6

moments = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(0, int((LATEST - EARLIEST).total_seconds())).map(
        lambda s: EARLIEST + dt.timedelta(seconds=s)
    ),
)


@st.composite
def timestamps(draw, nullable: bool = True):
    """A timestamp as SQLite text in one of its forms, or None."""
    if nullable and draw(st.integers(0, 9)) == 0:
        return None
    moment = draw(moments)
    form = draw(st.sampled_from(["space", "iso_z", "fraction", "offset"]))
    if form == "space":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if form == "iso_z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == "fraction":
        return moment.strftime("%Y-%m-%d %H:%M:%S") + ".250"
    return moment.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()


amounts = st.sampled_from([None, -40.0, -12.5, 0.0, 7.25, 19.99, 50.0, 120.0])
customer_ids = st.sampled_from([None, 1, 2, 3, 4])
days = st.integers(-14, 20).map(lambda d: (PERIOD.start.date() + dt.timedelta(days=d)).isoformat())


def _table(draw, make, max_size=7):
    return [make(draw, i) for i in range(1, draw(st.integers(0, max_size)) + 1)]


@st.composite
def datasets(draw, entities):
    rows = {}
    # Customers always: every metric is also broken down by a dimension.
    rows["customers"] = _table(
        draw,
        lambda d, i: {
            "customer_id": i,
            "signup_at": d(timestamps()),
            "churned_at": d(st.one_of(st.none(), timestamps(nullable=False))),
            "channel": d(st.sampled_from(["ads", "seo", None])),
            "region": d(st.sampled_from(["North", "South", None])),
        },
        max_size=4 if "customers" not in entities else 7,
    )
    if "orders" in entities:
        rows["orders"] = _table(
            draw,
            lambda d, i: {
                "order_id": i,
                "customer_id": d(customer_ids),
                "ordered_at": d(timestamps()),
                "amount": d(amounts),
            },
            max_size=9,
        )
    if "survey_responses" in entities:
        rows["survey_responses"] = _table(
            draw,
            lambda d, i: {
                "response_id": i,
                "customer_id": d(customer_ids),
                "survey": d(st.sampled_from(["nps", "csat"])),
                "score": d(st.sampled_from([None, -1, 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 7.5, 4.5])),
                "responded_at": d(timestamps()),
            },
        )
    if "marketing_spend" in entities:
        rows["marketing_spend"] = _table(
            draw,
            lambda d, i: {
                "spent_on": d(st.one_of(st.none(), days)) if d(st.integers(0, 9)) == 0 else d(days),
                "channel": d(st.sampled_from(["ads", "seo"])),
                "amount": d(amounts),
            },
        )
    if "leads" in entities:
        rows["leads"] = _table(
            draw,
            lambda d, i: {
                "lead_id": i,
                "created_at": d(timestamps()),
                "converted_at": d(st.one_of(st.none(), timestamps(nullable=False))),
                "channel": d(st.sampled_from(["ads", "seo", None])),
            },
        )
    if "tickets" in entities:
        rows["tickets"] = _table(
            draw,
            lambda d, i: {
                "ticket_id": i,
                "customer_id": d(customer_ids),
                "opened_at": d(timestamps()),
                "resolved_at": d(st.one_of(st.none(), timestamps(nullable=False))),
                "contacts": d(st.sampled_from([None, -1, 0, 1, 1, 2, 3, 1.5])),
                "escalated": d(st.sampled_from([None, True, False, False])),
            },
        )
    return rows


def _assert_matches(result, rows, period, backend):
    want = expected(result.metric, rows, period, GROSS_MARGIN)
    before = expected(result.metric, rows, period.previous(), GROSS_MARGIN)
    context = f"{backend} {period.tz}: {rows}"
    assert result.status == "ok", context
    assert close(result.value, want.value), context
    assert close(result.previous, before.value), context
    assert result.n == want.n, context
    assert sorted(w.count for w in result.warnings if w.count) == want.warnings, context
    split = segment_rows(rows, result.dimension)
    for segment in result.segments:
        part = expected(result.metric, split.get(segment.segment, {}), period, GROSS_MARGIN)
        assert close(segment.value, part.value), (segment, context)
        assert segment.n == part.n, (segment, context)
    shown = {segment.segment for segment in result.segments}
    for name, part in split.items():
        assert name in shown or not expected(result.metric, part, period, GROSS_MARGIN).n, (name, context)


class Backend:
    """One source whose tables are created once and refilled for every example (fast enough for PG)."""

    def __init__(self, name: str, tmp_path, registry):
        import uuid

        import sqlalchemy as sa

        from kpicore.config import SourceConfig
        from kpicore.connectors import open_source

        self.name = name
        self.entities = {n: r.item for n, r in registry.entities.items()}
        config = SourceConfig(base_dir=tmp_path)
        empty = {
            entity: [{"region": "North"}] if entity == "customers" else []
            for entities in READS.values()
            for entity in entities
        }
        self.database = None
        if name == "sqlite":
            path = tmp_path / "property.db"
            self.engine = sa.create_engine(f"sqlite:///{path}")
            self.schema = None
            url = str(path)
        elif name == "mysql":
            self.database = create_mysql_database("kpi_prop")
            url = mysql_url(self.database)
            self.engine = mysql_writer(url)
            self.schema = None
        else:
            self.engine = sa.create_engine(POSTGRES_URL)
            self.schema = f"kpi_prop_{uuid.uuid4().hex[:10]}"
            with self.engine.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            config.schema = self.schema
            url = POSTGRES_URL
        write_tables(self.engine, empty, self.entities, schema=self.schema)
        self.tables = sa.MetaData(schema=self.schema)
        self.tables.reflect(self.engine)
        self.source = open_source(url, config, registry)

    def fill(self, rows: dict[str, list[dict]]) -> None:
        """Replace every table's rows with ``rows``."""
        with self.engine.begin() as connection:
            for table in self.tables.sorted_tables:
                connection.execute(table.delete())
        write_tables(
            self.engine,
            {name: records for name, records in rows.items() if records},
            self.entities,
            schema=self.schema,
        )

    def close(self) -> None:
        import sqlalchemy as sa

        self.source.close()
        if self.schema:
            with self.engine.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.engine.dispose()
        if self.database:
            drop_mysql_database(self.database)


@pytest.fixture
def backends(tmp_path):
    """SQLite, PostgreSQL and MariaDB sources, created once per test."""
    registry = KpiHarness(tmp_path).registry()
    opened = [Backend(name, tmp_path, registry) for name in ("sqlite", "postgresql", "mysql")]
    yield registry, opened
    for backend in opened:
        backend.close()


@pytest.mark.parametrize("metric", sorted(REFERENCE))
def test_metric_agrees_with_reference(metric, backends):
    registry, opened = backends
    metrics = select_metrics([metric], registry)
    config = Config(gross_margin=GROSS_MARGIN)

    dimension = DIMENSION.get(metric, "region")

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=datasets(READS[metric]), timezone=st.sampled_from(TIMEZONES))
    def check(rows, timezone):
        period = PERIODS[timezone]
        for backend in opened:
            backend.fill(rows)
            (result,) = compute(metrics, period, backend.source, config=config, by=dimension)
            _assert_matches(result, rows, period, backend.name)

    check()
