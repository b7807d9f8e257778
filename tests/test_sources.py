"""Connectors and sources: time storage kinds, mappings, read-only sessions, timeouts, bad URLs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kpicore.compute import compute, select_metrics
from kpicore.config import EntityMapping, SourceConfig
from kpicore.connectors import open_source, redact
from kpicore.errors import ConfigError, SourceError
from kpicore.periods import parse_period
from kpicore.source import ColumnUnavailable
from kpicore.testing import POSTGRES_URL, write_tables


def nps_rows(times):
    return [
        {"response_id": i, "customer_id": 1, "survey": "nps", "score": 10, "responded_at": at}
        for i, at in enumerate(times)
    ]


@pytest.fixture
def registry():
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    return build_registry(new_plugin_manager(load_entry_points=False), strict=True)


@pytest.fixture
def pg_schema():
    import uuid

    schema = f"kpi_src_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield engine, schema
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def count_nps(source, period="2026-W47", tz="UTC", registry=None):
    (result,) = compute(select_metrics(["nps"], registry), parse_period(period, tz), source)
    return result.n


def test_sqlite_text_forms_in_a_non_utc_source_timezone(tmp_path, registry):
    # The source stores naive local Berlin time (UTC+1 in November), some rows with explicit offsets.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    write_tables(
        engine,
        {
            "survey_responses": nps_rows(
                [
                    "2026-11-16 00:30:00",  # 2026-11-15 23:30 UTC: before the UTC week
                    "2026-11-16 01:00:00",  # 00:00 UTC: exactly at start, in
                    "2026-11-16T00:00:00Z",  # offset form, 00:00 UTC: in
                    "2026-11-23T00:59:59.900",  # 23:59:59.9 UTC Sunday: in
                    "2026-11-23 01:00:00",  # 00:00 UTC Monday: out
                    "2026-11-22T23:00:00-01:00",  # 00:00 UTC Monday: out
                ]
            )
        },
        registry_entities(registry),
    )
    engine.dispose()
    source = open_source(str(tmp_path / "shop.db"), SourceConfig(timezone="Europe/Berlin"), registry)
    assert count_nps(source, registry=registry) == 3


def registry_entities(registry):
    return {name: r.item for name, r in registry.entities.items()}


@pytest.mark.parametrize("timestamps", ["timestamp", "timestamptz"])
def test_postgres_timestamp_and_timestamptz(pg_schema, registry, timestamps):
    import datetime as dt
    from zoneinfo import ZoneInfo

    engine, schema = pg_schema
    berlin = ZoneInfo("Europe/Berlin")
    # Local Berlin times (UTC+1): which week they fall in depends on the business timezone.
    rows = [
        (dt.datetime(2026, 11, 16, 0, 30), 0),  # Berlin week only (2026-11-15 23:30 UTC)
        (dt.datetime(2026, 11, 16, 1, 0), 10),  # both
        (dt.datetime(2026, 11, 23, 0, 59, 59), 10),  # UTC week only (2026-11-22 23:59:59 UTC)
        (dt.datetime(2026, 11, 23, 1, 0), 0),  # neither
    ]
    records = [
        {
            "response_id": i,
            "customer_id": 1,
            "survey": "nps",
            "score": score,
            "responded_at": at.replace(tzinfo=berlin) if timestamps == "timestamptz" else at,
        }
        for i, (at, score) in enumerate(rows)
    ]
    write_tables(
        engine,
        {"survey_responses": records},
        registry_entities(registry),
        schema=schema,
        timestamps=timestamps,
    )
    source = open_source(POSTGRES_URL, SourceConfig(timezone="Europe/Berlin", schema=schema), registry)
    relation = source.relation("survey_responses")
    assert relation.storage["responded_at"] == ("naive" if timestamps == "timestamp" else "aware")
    utc_week = compute(select_metrics(["nps"], registry), parse_period("2026-W47"), source)[0]
    berlin_week = compute(
        select_metrics(["nps"], registry), parse_period("2026-W47", "Europe/Berlin"), source
    )[0]
    assert (utc_week.value, utc_week.n) == (100.0, 2)
    assert (berlin_week.value, berlin_week.n) == (0.0, 2)


def test_query_mapping_with_renames_and_scale(tmp_path, registry):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE shop_orders (id INTEGER, buyer INTEGER, paid_at TEXT, "
                "total_cents INTEGER, status TEXT)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO shop_orders VALUES (1, 7, '2026-11-16 09:00:00', 1250, 'paid'), "
                "(2, 7, '2026-11-17 09:00:00', 99999, 'void'), (3, 8, '2026-11-18 09:00:00', -250, 'paid')"
            )
        )
    engine.dispose()
    config = SourceConfig(
        entities={
            "orders": EntityMapping(
                query="SELECT id, buyer, paid_at, total_cents FROM shop_orders WHERE status <> 'void'",
                columns={
                    "order_id": "id",
                    "customer_id": "buyer",
                    "ordered_at": "paid_at",
                    "amount": "total_cents",
                },
                scale={"amount": 0.01},
            )
        }
    )
    source = open_source(str(tmp_path / "shop.db"), config, registry)
    (revenue,) = compute(select_metrics(["revenue"], registry), parse_period("2026-W47"), source)
    assert revenue.value == pytest.approx(10.0)
    assert revenue.n == 2


def test_table_mapping_on_postgres(pg_schema, registry):
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f'CREATE TABLE "{schema}".crm (id int, created timestamptz, cancelled timestamptz, '
                "utm text, region text)"
            )
        )
        connection.execute(
            sa.text(
                f"INSERT INTO \"{schema}\".crm VALUES (1, '2026-11-16 10:00+00', NULL, 'ads', 'North'), "
                f"(2, '2026-11-23 00:00+00', NULL, 'ads', 'South')"
            )
        )
    config = SourceConfig(
        schema=schema,
        entities={
            "customers": EntityMapping(
                table="crm",
                columns={
                    "customer_id": "id",
                    "signup_at": "created",
                    "churned_at": "cancelled",
                    "channel": "utm",
                },
            )
        },
    )
    source = open_source(POSTGRES_URL, config, registry)
    assert source.relation("customers").dimensions == ("channel", "region")
    (new,) = compute(
        select_metrics(["new_customers"], registry), parse_period("2026-W47"), source, by="region"
    )
    assert new.value == 1
    assert [(s.segment, s.value) for s in new.segments] == [("North", 1)]


def test_missing_column_names_entity_column_and_source(pg_schema, registry):
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.execute(
            sa.text(f'CREATE TABLE "{schema}".orders (order_id int, customer_id int, ordered_at timestamptz)')
        )
    source = open_source(
        "postgresql://postgres:s3cret@127.0.0.1:5432/test", SourceConfig(schema=schema), registry
    )
    # A missing column stops only what reads it (files as exported, rule "a column a metric does not need").
    relation = source.relation("orders")
    with pytest.raises(ColumnUnavailable) as error:
        _ = source.row("orders").amount
    message = str(error.value)
    assert "column orders.amount not found in table 'orders'" in message
    assert relation.missing == {"amount": message}
    assert "s3cret" not in message and "***" in message


def test_sqlite_source_is_read_only(tmp_path, registry):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    write_tables(engine, {"survey_responses": nps_rows(["2026-11-16 10:00:00"])}, registry_entities(registry))
    engine.dispose()
    source = open_source(str(tmp_path / "shop.db"), SourceConfig(), registry)
    with (
        pytest.raises(sa.exc.OperationalError, match=r"readonly|read-only|query_only"),
        source.engine.connect() as c,
    ):
        c.execute(sa.text("DELETE FROM survey_responses"))


def test_postgres_source_is_read_only(pg_schema, registry):
    engine, schema = pg_schema
    write_tables(
        engine,
        {"survey_responses": nps_rows(["2026-11-16 10:00:00"])},
        registry_entities(registry),
        schema=schema,
    )
    source = open_source(POSTGRES_URL, SourceConfig(schema=schema), registry)
    with pytest.raises(sa.exc.InternalError, match="read-only"), source.engine.connect() as connection:
        connection.execute(sa.text(f'DELETE FROM "{schema}".survey_responses'))


def test_sqlite_statement_timeout(tmp_path, registry):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    write_tables(engine, {"survey_responses": nps_rows(["2026-11-16 10:00:00"])}, registry_entities(registry))
    engine.dispose()
    slow = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000) "
        "SELECT x AS response_id, 1 AS customer_id, 'nps' AS survey, 10 AS score, "
        "'2026-11-16 10:00:00' AS responded_at FROM n"
    )
    config = SourceConfig(timeout=0.2, entities={"survey_responses": EntityMapping(query=slow)})
    source = open_source(str(tmp_path / "shop.db"), config, registry)
    with pytest.raises(SourceError, match=r"ran past the statement timeout of 0\.2 s"):
        count_nps(source, registry=registry)


def test_postgres_statement_timeout(pg_schema, registry):
    _, schema = pg_schema
    slow = (
        "SELECT g AS response_id, 1 AS customer_id, 'nps' AS survey, 10 AS score, "
        "timestamptz '2026-11-16 10:00+00' + g * interval '0 second' AS responded_at "
        "FROM generate_series(1, 100000000) AS g"
    )
    config = SourceConfig(
        timeout=0.2, schema=schema, entities={"survey_responses": EntityMapping(query=slow)}
    )
    source = open_source(POSTGRES_URL, config, registry)
    with pytest.raises(SourceError, match="statement timeout"):
        count_nps(source, registry=registry)


def test_bad_urls(registry, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not found"):
        open_source(str(tmp_path / "missing.db"), SourceConfig(), registry)
    with pytest.raises(ConfigError, match="folder or file not found"):
        open_source(str(tmp_path / "notes.txt"), SourceConfig(), registry)
    (tmp_path / "notes.txt").write_text("not a database\n")
    with pytest.raises(ConfigError, match="no connector handles source"):
        open_source(str(tmp_path / "notes.txt"), SourceConfig(), registry)
    with pytest.raises(ConfigError, match=r"\$\{SHOP_DB_PASSWORD\}"):
        open_source("postgresql://kpi:${SHOP_DB_PASSWORD}@db/shop", SourceConfig(), registry)
    # Set, the variable reaches the driver's URL (percent-encoded) and never the text people see.
    monkeypatch.setenv("SHOP_DB_PASSWORD", "p@ss:w/rd")
    source = open_source("postgresql://kpi:${SHOP_DB_PASSWORD}@127.0.0.1:9/shop", SourceConfig(), registry)
    try:
        assert source.engine.url.password == "p@ss:w/rd" and source.engine.url.host == "127.0.0.1"
        assert "p@ss" not in source.display and "***" in source.display
    finally:
        source.close()
    assert redact("postgresql://kpi:pw@db/shop") == "postgresql://kpi:***@db/shop"


def test_postgres_text_timestamps_read_in_source_timezone(pg_schema, registry):
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f'CREATE TABLE "{schema}".survey_responses (response_id int, customer_id int, survey text, '
                "score float, responded_at text)"
            )
        )
        connection.execute(
            sa.text(
                f'INSERT INTO "{schema}".survey_responses VALUES '
                "(1, 1, 'nps', 10, '2026-11-16 00:30:00'), "  # Berlin: 2026-11-15 23:30 UTC, out
                "(2, 1, 'nps', 10, '2026-11-16T01:00:00'), "  # 00:00 UTC, in
                "(3, 1, 'nps', 0, '2026-11-22T23:30:00Z')"  # offset given: 23:30 UTC, in
            )
        )
    source = open_source(POSTGRES_URL, SourceConfig(timezone="Europe/Berlin", schema=schema), registry)
    assert source.relation("survey_responses").storage["responded_at"] == "text"
    (nps,) = compute(select_metrics(["nps"], registry), parse_period("2026-W47"), source)
    assert (nps.n, nps.value) == (2, 0.0)


@pytest.mark.parametrize("metric", ["churn_rate", "clv", "nps", "cac"])
def test_details_sql_is_what_compute_runs(metric, tmp_path, registry):
    import datetime as dt

    from kpicore.compute import preview_sql
    from kpicore.demo_data import generate_demo_database

    generate_demo_database(tmp_path / "demo.db", today=dt.date(2026, 11, 25), customers=200)
    source = open_source(str(tmp_path / "demo.db"), SourceConfig(), registry)
    chosen = select_metrics([metric], registry)
    period = parse_period("2026-W47")
    for entity in chosen[0].entities():
        source.relation(entity)
    executed = []

    def record(conn, statement, multiparams, params, execution_options):
        if isinstance(statement, sa.sql.Select | sa.sql.CompoundSelect):  # SQLite's history: a UNION ALL
            executed.append(source.compile(statement))  # as `kpi metrics --details` shows it

    sa.event.listen(source.engine, "before_execute", record)
    compute(chosen, period, source)
    sa.event.remove(source.engine, "before_execute", record)
    shown = preview_sql(chosen[0], source, period)
    source.close()
    # The queries run side by side, so they are compared in any order; text for text.
    assert executed and sorted(shown) == sorted(executed)


def test_sqlite_lifetime_reads_scan_and_bounded_reads_use_the_time_index(tmp_path, registry):
    """A range with no start (everything before the end: lifetime metrics) is most of the table: read
    through the time index it costs one random table lookup per row when orders are not stored in time
    order, so SQLite scans; a range with a start still uses the index."""
    import datetime as dt

    from kpicore.metrics.orders import derive_customer_orders_in_buckets

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    orders = [
        {
            "order_id": i,
            "customer_id": i % 7,
            "ordered_at": f"2026-11-{1 + i % 20:02d} 10:00:00",
            "amount": 10.0,
        }
        for i in range(50)
    ]
    write_tables(engine, {"orders": orders}, registry_entities(registry))
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE INDEX ix_orders_ordered_at ON orders (ordered_at)"))
        connection.execute(sa.text("ANALYZE"))
    engine.dispose()
    source = open_source(str(tmp_path / "shop.db"), SourceConfig(), registry)
    try:
        utc = dt.UTC
        boundaries = [dt.datetime(2026, 11, day, tzinfo=utc) for day in (9, 16, 23)]
        per_customer, _ = derive_customer_orders_in_buckets(source, boundaries)

        def plan(statement):
            sql = source.compile(statement)
            return " / ".join(
                row[-1] for row in source.execute(sa.text("EXPLAIN QUERY PLAN " + sql.replace(":", "\\:")))
            )

        lifetime = plan(sa.select(per_customer))
        assert "SCAN orders" in lifetime and "ix_orders_ordered_at" not in lifetime, lifetime
        t = source.row("orders")
        table = source.relation("orders").from_
        bounded = plan(
            sa.select(sa.func.count())
            .select_from(table)
            .where(t.ordered_at.range(boundaries[0], boundaries[-1]))
        )
        assert "INDEX ix_orders_ordered_at" in bounded, bounded
    finally:
        source.close()
