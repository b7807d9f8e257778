"""The dialect layer: every time-storage kind of every built-in database at the period's boundaries, the
``register_dialects`` hook, and how a source is chosen and refused.

The boundary period is 2026-W44 in America/New_York, which holds the end of daylight saving time
(Sunday 2026-11-01): the week starts at 04:00 UTC and ends at 05:00 UTC, so a dialect that read naive
values at one fixed offset would misplace one of the bounds. Four records: one second before the start
(amount 1), exactly at the start (2), one second before the end (4) and exactly at the end (8); the week
must hold 2 + 4, the week before 1.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from kpicore import hookimpl
from kpicore.compute import compute, plain_queries, select_metrics
from kpicore.config import SourceConfig
from kpicore.connectors import open_source
from kpicore.dialects.base import AWARE, DATE, DATE_TEXT, NAIVE, TEXT
from kpicore.dialects.sqlite import SQLiteDialect
from kpicore.errors import ConfigError, PluginError, SourceError
from kpicore.periods import parse_period
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry
from kpicore.testing import (
    POSTGRES_URL,
    create_mysql_database,
    drop_mysql_database,
    mysql_url,
    mysql_writer,
    write_csv_folder,
)

TZ = "America/New_York"
PERIOD = parse_period("2026-W44", TZ)
START, END = PERIOD.start, PERIOD.end
MOMENTS = [(START - dt.timedelta(seconds=1), 1), (START, 2), (END - dt.timedelta(seconds=1), 4), (END, 8)]
DAYS = [
    (dt.date(2026, 10, 25), 1),
    (dt.date(2026, 10, 26), 2),
    (dt.date(2026, 11, 1), 4),
    (dt.date(2026, 11, 2), 8),
]
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))


def _local(moment):
    return moment.astimezone(ZoneInfo(TZ)).replace(tzinfo=None)


#: How each kind writes a boundary instant: (column type per database, value).
FORMS = {
    "text_naive": lambda m: _local(m).strftime("%Y-%m-%d %H:%M:%S"),
    "text_fraction": lambda m: _local(m).strftime("%Y-%m-%d %H:%M:%S") + ".000",
    "text_z": lambda m: m.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "text_offset": lambda m: m.astimezone(PLUS_ONE).isoformat(),
    "aware": lambda m: m.astimezone(dt.UTC),
    "utc_naive": lambda m: m.astimezone(dt.UTC).replace(tzinfo=None),
    "naive": _local,
}
TEXT_KINDS = ("text_naive", "text_fraction", "text_z", "text_offset")
#: (database, kind) -> (SQL type of the time column, form of the values, storage kind kpicore must see).
TIME_KINDS = {
    **{("sqlite", kind): (sa.Text(), kind, TEXT) for kind in TEXT_KINDS},
    ("postgresql", "timestamptz"): (sa.DateTime(timezone=True), "aware", AWARE),
    ("postgresql", "timestamp"): (sa.DateTime(), "naive", NAIVE),
    **{("postgresql", kind): (sa.Text(), kind, TEXT) for kind in TEXT_KINDS},
    ("mysql", "timestamp"): (mysql.TIMESTAMP(fsp=6), "utc_naive", AWARE),
    ("mysql", "datetime"): (mysql.DATETIME(fsp=6), "naive", NAIVE),
    **{("mysql", kind): (sa.String(40), kind, TEXT) for kind in TEXT_KINDS},
    **{("duckdb", kind): (None, kind, AWARE) for kind in ("text_naive", "text_z", "text_offset")},
}
DATE_KINDS = {
    ("sqlite", "date_text"): (sa.Text(), DATE_TEXT),
    ("postgresql", "date"): (sa.Date(), DATE),
    ("postgresql", "date_text"): (sa.Text(), DATE_TEXT),
    ("mysql", "date"): (sa.Date(), DATE),
    ("mysql", "date_text"): (sa.String(10), DATE_TEXT),
    ("duckdb", "date"): (None, DATE),
}


class Database:
    """A throw-away database of one kind, its tables written with explicit column types."""

    def __init__(self, kind: str, tmp_path):
        self.kind, self.tmp_path = kind, tmp_path
        self.schema = self.database = None
        self.config = SourceConfig(base_dir=tmp_path, timezone=TZ)
        if kind == "sqlite":
            self.url = str(tmp_path / f"{uuid.uuid4().hex[:8]}.db")
            self.engine = sa.create_engine(f"sqlite:///{self.url}")
        elif kind == "postgresql":
            self.schema = f"kpi_dialect_{uuid.uuid4().hex[:10]}"
            self.engine = sa.create_engine(POSTGRES_URL)
            with self.engine.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            self.config.schema = self.schema
            self.url = POSTGRES_URL
        elif kind == "mysql":
            self.database = create_mysql_database("kpi_dialect")
            self.url = mysql_url(self.database)
            self.engine = mysql_writer(self.url)
        else:
            self.url = str(tmp_path / f"files-{uuid.uuid4().hex[:8]}")
            self.engine = None

    def write(self, name: str, columns: dict, rows: list[dict]) -> None:
        if self.engine is None:
            write_csv_folder(self.tmp_path / self.url, {name: rows}, {})
            return
        table = sa.Table(
            name, sa.MetaData(schema=self.schema), *[sa.Column(c, t) for c, t in columns.items()]
        )
        table.create(self.engine)
        with self.engine.begin() as connection:
            connection.execute(table.insert(), rows)

    def open(self, registry=None):
        registry = registry or build_registry(new_plugin_manager(load_entry_points=False), strict=True)
        self.registry = registry
        return open_source(self.url, self.config, registry)

    def close(self) -> None:
        if self.schema:
            with self.engine.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        if self.database:
            drop_mysql_database(self.database)
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture
def database(request, tmp_path):
    opened = []

    def make(kind):
        db = Database(kind, tmp_path)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()


def _sums(source, statement):
    return {key: value for key, value in source.execute(statement)}


@pytest.mark.parametrize(("backend", "kind"), list(TIME_KINDS), ids=lambda v: str(v))
def test_time_kinds_at_the_bounds_start_is_in_end_is_out(database, backend, kind):
    column_type, form, storage = TIME_KINDS[(backend, kind)]
    db = database(backend)
    rows = [
        {"order_id": i, "customer_id": 1, "ordered_at": FORMS[form](moment), "amount": float(amount)}
        for i, (moment, amount) in enumerate(MOMENTS)
    ]
    db.write(
        "orders",
        {
            "order_id": sa.Integer(),
            "customer_id": sa.Integer(),
            "ordered_at": column_type,
            "amount": sa.Float(),
        },
        rows,
    )
    source = db.open()
    try:
        relation = source.relation("orders")
        assert relation.storage["ordered_at"] == storage
        t = source.row("orders")
        amount = relation.columns["amount"]
        # The exact comparison (conditional aggregation) ...
        statement = sa.select(
            sa.literal(0), sa.func.sum(sa.case((t.ordered_at.in_window(START, END), amount)))
        )
        assert _sums(source, statement.select_from(relation.from_)) == {0: 6}
        # ... the one bucket definition ...
        bucket = t.ordered_at.bucket([START, END]).label("bucket")
        per_bucket = sa.select(bucket, sa.func.sum(amount)).select_from(relation.from_).group_by(bucket)
        assert _sums(source, per_bucket) == {0: 1, 1: 6, 2: 8}
        # ... and the engine (bucketed trend) agree.
        (result,) = compute(select_metrics(["revenue"], db.registry), PERIOD, source, trend=2)
        assert (result.value, result.previous) == (6, 1)
        assert [point.value for point in result.trend] == [1, 6]
    finally:
        source.close()


@pytest.mark.parametrize(("backend", "kind"), list(DATE_KINDS), ids=lambda v: str(v))
def test_date_kinds_at_the_bounds(database, backend, kind):
    column_type, storage = DATE_KINDS[(backend, kind)]
    db = database(backend)
    rows = [
        {
            "spent_on": day if isinstance(column_type, sa.Date) else day.isoformat(),
            "channel": "ads",
            "amount": float(amount),
        }
        for day, amount in DAYS
    ]
    db.write(
        "marketing_spend", {"spent_on": column_type, "channel": sa.String(10), "amount": sa.Float()}, rows
    )
    source = db.open()
    try:
        relation = source.relation("marketing_spend")
        assert relation.storage["spent_on"] == storage
        t = source.row("marketing_spend")
        amount = relation.columns["amount"]
        statement = sa.select(sa.literal(0), sa.func.sum(sa.case((t.spent_on.in_window(START, END), amount))))
        assert _sums(source, statement.select_from(relation.from_)) == {0: 6}
        bucket = t.spent_on.bucket([START, END]).label("bucket")
        per_bucket = sa.select(bucket, sa.func.sum(amount)).select_from(relation.from_).group_by(bucket)
        assert _sums(source, per_bucket) == {0: 1, 1: 6, 2: 8}
    finally:
        source.close()


def test_mysql_zero_dates_and_text_that_is_not_a_time_fall_in_no_period(database):
    """Zero dates in DATETIME and DATE columns (non-strict MySQL keeps them), '2026-02-30' and 'soon' in
    text: in no period, not "missing" either, and counted by `kpi check --data`."""
    from kpicore.data_check import check_times

    db = database("mysql")
    with db.engine.begin() as connection:
        connection.execute(sa.text("SET SESSION sql_mode = ''"))
        connection.execute(
            sa.text(
                "CREATE TABLE orders (order_id INT, customer_id INT, ordered_at DATETIME NOT NULL, amount DOUBLE)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO orders VALUES (1, 1, '2026-10-27 10:00:00', 2), (2, 1, '0000-00-00 00:00:00', 100),"
                " (3, 1, '2026-00-10 00:00:00', 1000)"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TABLE leads (lead_id INT, created_at VARCHAR(40), converted_at"
                " VARCHAR(40), channel VARCHAR(10))"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO leads VALUES (1, '2026-10-27 10:00:00', NULL, 'ads'), (2, 'soon', NULL, 'ads'),"
                " (3, '2026-02-30 10:00:00', NULL, 'ads'), (4, '0000-00-00 00:00:00', NULL, 'ads'), (5, NULL, NULL, 'ads')"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TABLE marketing_spend (spent_on DATE NOT NULL, channel VARCHAR(10), amount DOUBLE)"
            )
        )
        connection.execute(
            sa.text("INSERT INTO marketing_spend VALUES ('2026-10-27', 'ads', 5), ('0000-00-00', 'ads', 50)")
        )
    source = db.open()
    try:
        results = {
            r.metric: r
            for r in compute(
                select_metrics(["revenue", "clv", "conversion_rate"], db.registry), PERIOD, source, trend=2
            )
        }
        assert results["revenue"].value == 2 and results["revenue"].trend[-1].value == 2
        assert results["clv"].value == 2  # lifetime (before the end): the zero date is not "before"
        assert results["revenue"].warnings == []  # not an empty time either
        assert results["conversion_rate"].n == 1  # one lead created in the week; 'soon' and the rest in none
        leads_warnings = {w.message: w.count for w in results["conversion_rate"].warnings}
        assert leads_warnings.get("leads with no created_at", 1) == 1  # only the NULL is missing
        found = {
            (c.entity, c.column): c.unreadable
            for c in check_times(source, ["orders", "leads", "marketing_spend"])
        }
        assert found[("orders", "ordered_at")] == 2
        assert found[("leads", "created_at")] == 3
        assert found[("marketing_spend", "spent_on")] == 1
    finally:
        source.close()


#: (customer, time, amount) around 2026-W44 and the week before (START - 7 days): "a"'s second purchase
#: is exactly at the start, "b"'s in the week before, "7" and "007" are two customers with one purchase
#: each (text ids: a numeric grouping key would merge them), "c" only refunds and a zero amount, "d"'s
#: second order is exactly at the end.
REPEATS = [
    ("a", START - dt.timedelta(days=10), 5.0),
    ("a", START - dt.timedelta(days=8), -5.0),
    ("a", START, 3.0),
    ("b", START - dt.timedelta(days=2), 4.0),
    ("b", START - dt.timedelta(seconds=1), 6.0),
    ("7", START - dt.timedelta(days=10), 1.0),
    ("007", START + dt.timedelta(days=1), 2.0),
    ("c", START - dt.timedelta(days=3), -3.0),
    ("c", START + dt.timedelta(hours=1), 0.0),
    ("d", END - dt.timedelta(seconds=1), 7.0),
    ("d", END, 9.0),
]


@pytest.mark.parametrize(
    ("kind", "column_type", "form"),
    [
        ("timestamp", mysql.TIMESTAMP(fsp=6), FORMS["utc_naive"]),
        ("datetime", mysql.DATETIME(fsp=6), FORMS["naive"]),
        ("date", sa.Date(), lambda m: _local(m).date()),
    ],
    ids=["timestamp", "datetime", "date"],
)
def test_mysql_lifetime_buckets_of_each_time_type_with_text_customer_ids(database, kind, column_type, form):
    """The per-customer pass of a period and the one before (grouped once on the raw times, bucketed
    after) against the hand count, and against the trend's pass (buckets per order, grouped twice)."""
    db = database("mysql")
    rows = [
        {"order_id": i, "customer_id": customer, "ordered_at": form(moment), "amount": amount}
        for i, (customer, moment, amount) in enumerate(REPEATS)
    ]
    db.write(
        "orders",
        {
            "order_id": sa.Integer(),
            "customer_id": sa.String(10),
            "ordered_at": column_type,
            "amount": sa.Float(),
        },
        rows,
    )
    source = db.open()
    try:
        metrics = select_metrics(["repeat_purchase_rate"], db.registry)
        (plain,) = compute(metrics, PERIOD, source)
        # Purchasers before the end: a, b, 7, 007, d; repeaters: a, b. Before the start: a, b, 7; b.
        assert plain.value == pytest.approx(40) and plain.previous == pytest.approx(100 / 3)  # percent
        (trend,) = compute(metrics, PERIOD, source, trend=13)
        assert (trend.value, trend.previous) == (plain.value, plain.previous)
    finally:
        source.close()


#: (customer, time, amount) around 2026-W44 and the week before: on and beside the three boundaries,
#: in the history long before them, and a NULL time.
PREVIOUS_START = START - dt.timedelta(days=7)
HISTORY = [
    (1, START - dt.timedelta(days=40), 16.0),
    (1, PREVIOUS_START - dt.timedelta(seconds=1), 32.0),
    (2, PREVIOUS_START, 64.0),
    (2, START - dt.timedelta(seconds=1), 1.0),
    (3, START, 2.0),
    (1, END - dt.timedelta(seconds=1), 4.0),
    (3, END, 8.0),
    (2, None, 128.0),
    (4, PREVIOUS_START - dt.timedelta(minutes=30), -256.0),
]


@pytest.mark.parametrize(
    "kind", ["timestamp", "datetime", "text_naive", "text_offset", "text_z"], ids=lambda kind: kind
)
def test_mysql_orders_history_apart_equals_one_query_per_window(database, kind):
    """A period and the one before on MySQL: the orders before the first window aggregated on their
    own, the two weeks grouped by bucket (``history_apart_boundaries``), give what one conditional
    aggregate per measure and window gives, for each time type (text with an offset: its range is a
    little wider than exact, the rows just before the first boundary are history)."""
    column_type, form, _ = TIME_KINDS[("mysql", kind)]
    db = database("mysql")
    rows = [
        {
            "order_id": i,
            "customer_id": customer,
            "ordered_at": None if moment is None else FORMS[form](moment),
            "amount": amount,
        }
        for i, (customer, moment, amount) in enumerate(HISTORY)
    ]
    columns = {"order_id": sa.Integer(), "customer_id": sa.Integer(), "ordered_at": column_type}
    db.write("orders", {**columns, "amount": sa.Float()}, rows)
    source = db.open()
    metrics = select_metrics(["revenue", "aov", "clv", "repeat_purchase_rate"], db.registry)
    executed: list[str] = []
    sa.event.listen(source.engine, "before_cursor_execute", lambda *args: executed.append(args[2]))

    def numbers():
        return {
            (r.metric, what): value
            for r in compute(metrics, PERIOD, source)
            for what, value in [("value", r.value), ("previous", r.previous), ("n", r.n)]
            + [(w.message, w.count) for w in r.warnings]
        }

    try:
        apart = numbers()
        assert any("history_rows" in sql for sql in executed), "the history was not aggregated apart"
        with plain_queries():
            per_window = numbers()
        assert apart == per_window
        assert apart[("revenue", "value")] == 6 and apart[("revenue", "previous")] == 65
        assert apart[("clv", "value")] is not None
    finally:
        source.close()


# -- the hook ---------------------------------------------------------------------------------------
class _MadeUpSQLAlchemyDialect(SQLiteDialect_pysqlite):
    """A SQLAlchemy dialect for a database kpicore has never heard of (SQLite underneath)."""

    name = "madeupdb"
    supports_statement_cache = True


sa.dialects.registry.impls["madeupdb"] = lambda: _MadeUpSQLAlchemyDialect


class MadeUpDialect(SQLiteDialect):
    name = "madeupdb"
    stops = 0


class MadeUpDatabasePlugin:
    plugin_name = "madeup-plugin"

    @hookimpl
    def register_dialects(self, register):
        register(MadeUpDialect)


def _registry(*plugins, strict=True):
    loaded = new_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        loaded.manager.register(plugin, name=getattr(plugin, "plugin_name", None))
    return build_registry(loaded, strict=strict)


def _made_up_source(tmp_path):
    path = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE orders (order_id INT, customer_id INT, ordered_at TEXT, amount REAL)")
        )
        connection.execute(sa.text("INSERT INTO orders VALUES (1, 1, '2026-10-27 10:00:00', 7.5)"))
    engine.dispose()
    return f"madeupdb:///{path}"


def test_a_plugin_registers_a_dialect_for_a_made_up_database(tmp_path):
    url = _made_up_source(tmp_path)
    registry = _registry(MadeUpDatabasePlugin())
    assert registry.dialects["madeupdb"].plugin == "madeup-plugin"
    source = open_source(url, SourceConfig(base_dir=tmp_path, timezone=TZ), registry)
    try:
        assert type(source.dialect) is MadeUpDialect
        (result,) = compute(select_metrics(["revenue"], registry), PERIOD, source, trend=2)
        assert result.value == 7.5
    finally:
        source.close()


def test_a_database_without_a_dialect_is_refused_naming_it_and_the_hook(tmp_path):
    url = _made_up_source(tmp_path)
    with pytest.raises(ConfigError) as error:
        open_source(url, SourceConfig(base_dir=tmp_path), _registry())
    message = str(error.value)
    assert "'madeupdb'" in message and "register_dialects" in message and "\n" not in message


def test_a_dialect_registered_twice_is_an_error_naming_both_plugins():
    class Again:
        plugin_name = "again-plugin"

        @hookimpl
        def register_dialects(self, register):
            register(type("Other", (SQLiteDialect,), {"name": "sqlite"}))

    with pytest.raises(
        PluginError, match=r"'sqlite' is registered twice: by again-plugin and by kpicore\.dialects"
    ):
        _registry(Again())
    problems = _registry(Again(), strict=False).problems
    assert any("again-plugin" in p and "kpicore.dialects" in p for p in problems)


def test_a_registered_dialect_must_be_a_dialect_class():
    class Broken:
        plugin_name = "broken-plugin"

        @hookimpl
        def register_dialects(self, register):
            register("mysql")

    with pytest.raises(PluginError, match="broken-plugin: invalid dialect"):
        _registry(Broken())


def test_postgres_urls_are_postgresql(tmp_path):
    """Heroku, Render and Supabase hand out postgres:// URLs, which SQLAlchemy does not load."""
    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgres://")
    source = open_source(url, SourceConfig(base_dir=tmp_path), _registry())
    try:
        assert source.dialect.name == "postgresql"
        assert source.execute(sa.text("SELECT 1")) == [(1,)]
        assert source.display.startswith("postgresql+psycopg://")
    finally:
        source.close()


def test_mysql_sessions_are_read_only_utc_and_time_limited(database):
    db = database("mysql")
    db.write("orders", {"order_id": sa.Integer()}, [{"order_id": 1}])
    db.config.timeout = 1.5
    source = db.open()
    try:
        ((zone, limit),) = source.execute(sa.text("SELECT @@session.time_zone, @@session.max_statement_time"))
        assert (zone, float(limit)) == ("+00:00", 1.5)
        with pytest.raises(Exception, match="READ ONLY"):
            source.execute(sa.text("INSERT INTO orders VALUES (2)"))
        with pytest.raises(SourceError, match=r"ran past the statement timeout of 1.5 s"):
            source.execute(sa.text("SELECT SLEEP(5) FROM orders"))
    finally:
        source.close()
