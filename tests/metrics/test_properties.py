"""Property tests: random rows through SQLite and PostgreSQL agree with the plain-Python reference.

One test per metric (parametrized). Each example writes small random tables (timestamps within a few
weeks of the period, in SQLite's text forms, on the boundaries more often than chance would; invalid
scores, refunds, NULLs) to a fresh SQLite file and a fresh PostgreSQL schema, computes the metric for
2026-W47 and compares value, previous, n and warnings with ``reference.expected``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpicore.compute import compute, select_metrics
from kpicore.config import Config
from kpicore.periods import parse_period
from kpicore.testing import POSTGRES_URL, KpiHarness, write_tables

from .reference import READS, REFERENCE, close, expected

PERIOD = parse_period("2026-W47", "UTC")
PREVIOUS = PERIOD.previous()
EARLIEST = PREVIOUS.start - dt.timedelta(days=7)
LATEST = PERIOD.end + dt.timedelta(days=7)
BOUNDARIES = [
    moment + dt.timedelta(seconds=delta)
    for moment in (PREVIOUS.start, PERIOD.start, PERIOD.end)
    for delta in (-1, 0, 1)
]
GROSS_MARGIN = 0.6

moments = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(0, int((LATEST - EARLIEST).total_seconds())).map(lambda s: EARLIEST + dt.timedelta(seconds=s)),
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
    if "customers" in entities:
        rows["customers"] = _table(draw, lambda d, i: {
            "customer_id": i, "signup_at": d(timestamps()),
            "churned_at": d(st.one_of(st.none(), timestamps(nullable=False))),
            "channel": d(st.sampled_from(["ads", "seo", None])),
        })
    if "orders" in entities:
        rows["orders"] = _table(draw, lambda d, i: {
            "order_id": i, "customer_id": d(customer_ids), "ordered_at": d(timestamps()), "amount": d(amounts),
        }, max_size=9)
    if "survey_responses" in entities:
        rows["survey_responses"] = _table(draw, lambda d, i: {
            "response_id": i, "customer_id": d(customer_ids), "survey": d(st.sampled_from(["nps", "csat"])),
            "score": d(st.sampled_from([None, -1, 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 7.5, 4.5])),
            "responded_at": d(timestamps()),
        })
    if "marketing_spend" in entities:
        rows["marketing_spend"] = _table(draw, lambda d, i: {
            "spent_on": d(st.one_of(st.none(), days)) if d(st.integers(0, 9)) == 0 else d(days),
            "channel": d(st.sampled_from(["ads", "seo"])), "amount": d(amounts),
        })
    if "leads" in entities:
        rows["leads"] = _table(draw, lambda d, i: {
            "lead_id": i, "created_at": d(timestamps()),
            "converted_at": d(st.one_of(st.none(), timestamps(nullable=False))),
            "channel": d(st.sampled_from(["ads", "seo", None])),
        })
    if "tickets" in entities:
        rows["tickets"] = _table(draw, lambda d, i: {
            "ticket_id": i, "customer_id": d(customer_ids), "opened_at": d(timestamps()),
            "resolved_at": d(st.one_of(st.none(), timestamps(nullable=False))),
            "contacts": d(st.sampled_from([None, -1, 0, 1, 1, 2, 3, 1.5])),
            "escalated": d(st.sampled_from([None, True, False, False])),
        })
    return rows


def _assert_matches(result, rows, backend):
    want = expected(result.metric, rows, PERIOD, GROSS_MARGIN)
    before = expected(result.metric, rows, PREVIOUS, GROSS_MARGIN)
    context = f"{backend}: {rows}"
    assert result.status == "ok", context
    assert close(result.value, want.value), context
    assert close(result.previous, before.value), context
    assert result.n == want.n, context
    assert sorted(w.count for w in result.warnings) == want.warnings, context


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
        empty = {entity: [] for entities in READS.values() for entity in entities}
        if name == "sqlite":
            path = tmp_path / "property.db"
            self.engine = sa.create_engine(f"sqlite:///{path}")
            self.schema = None
            url = str(path)
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
        write_tables(self.engine, {name: records for name, records in rows.items() if records}, self.entities,
                     schema=self.schema)

    def close(self) -> None:
        import sqlalchemy as sa

        self.source.close()
        if self.schema:
            with self.engine.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.engine.dispose()


@pytest.fixture
def backends(tmp_path):
    """SQLite and PostgreSQL sources, created once per test."""
    registry = KpiHarness(tmp_path).registry()
    opened = [Backend("sqlite", tmp_path, registry), Backend("postgresql", tmp_path, registry)]
    yield registry, opened
    for backend in opened:
        backend.close()


@pytest.mark.parametrize("metric", sorted(REFERENCE))
def test_metric_agrees_with_reference(metric, backends):
    registry, opened = backends
    metrics = select_metrics([metric], registry)
    config = Config(gross_margin=GROSS_MARGIN)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=datasets(READS[metric]))
    def check(rows):
        for backend in opened:
            backend.fill(rows)
            (result,) = compute(metrics, PERIOD, backend.source, config=config)
            _assert_matches(result, rows, backend.name)

    check()
