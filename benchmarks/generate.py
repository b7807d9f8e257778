"""Seeded synthetic data at benchmark scale, written to SQLite, PostgreSQL, Parquet and CSV.

    python benchmarks/generate.py --scale 1000000 --targets sqlite,postgresql,parquet,csv

``--scale N`` gives N customers, 10 N orders, N survey responses, N/2 tickets, 2 N leads and one
marketing_spend row per day and paid channel, with the demo schema (DESIGN section 4; customers carry
the region, plan and channel dimensions). The data spans the two years before ``DATA_END`` (a fixed
Monday), so the benchmark period, ``BENCHMARK_PERIOD``, is the last complete ISO week. The same seed
and scale always give the same rows; everything is generated with numpy, column by column.

``--layout shuffled`` writes the same rows shaped as a new user's database might be, untuned: orders in
random order (order 1 belongs to any customer, at any time), ``amount numeric(12,2)``, indexes on the
time columns only (none on ``orders.customer_id``); SQLite keeps text times 'YYYY-MM-DD HH:MM:SS',
PostgreSQL gets ``timestamp`` (without time zone, UTC) columns. It goes to ``bench_<N>_shuffled.db`` and
schema ``bench_<N>_shuffled`` (SQLite and PostgreSQL only). The default layout is ``tidy``.

Unlike ``kpi demo`` the data is tidy (one timestamp format) apart from a few planted invalid survey
scores and ticket contact counts, so that the three computations of ``run.py`` can be compared exactly.
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kpicore.demo_data import INDEXED_COLUMNS, SQLITE_SCHEMA

if TYPE_CHECKING:
    import pyarrow as pa

#: The first instant after the data (a Monday, 00:00 UTC); the data covers the two years before it.
DATA_END = datetime(2026, 11, 23, tzinfo=UTC)
DATA_START = datetime(2024, 11, 23, tzinfo=UTC)
#: The ISO week the benchmark computes: the last complete week of the data.
BENCHMARK_PERIOD = "2026-W47"
DEFAULT_SEED = 20261123
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: The MySQL/MariaDB server; the data of one scale goes to its database bench_<scale>.
MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/"
TARGETS = ("sqlite", "postgresql", "mysql", "parquet", "csv")
#: Data layouts: the generator's own (time order, typed, every index) and a new user's untuned one.
LAYOUTS = ("tidy", "shuffled")
#: The targets the shuffled layout is written to.
SHUFFLED_TARGETS = ("sqlite", "postgresql")

# numpy and pyarrow are imported inside the functions, so that run.py's workers don't carry them.
CHANNELS = ("organic", "paid_search", "social", "referral", "email")
CHANNEL_WEIGHTS = (0.30, 0.25, 0.20, 0.15, 0.10)
PAID_CHANNELS = {"paid_search": 220.0, "social": 140.0, "email": 35.0}
REGIONS = ("North", "South", "East", "West", None)
REGION_WEIGHTS = (0.30, 0.25, 0.20, 0.245, 0.005)
PLANS = ("basic", "pro", "business")
PLAN_WEIGHTS = (0.55, 0.32, 0.13)
MONTHLY_CHURN_BY_PLAN = (0.032, 0.022, 0.014)
BASKET_BY_PLAN = (38.0, 72.0, 160.0)
CONTACTS = (1, 2, 3, 4, 0, -1)  # -1 stands for NULL
CONTACT_WEIGHTS = (0.72, 0.17, 0.06, 0.03, 0.01, 0.01)
#: The business grows by this factor over the two years (density of every kind of event).
GROWTH = 2.5
SECONDS_PER_DAY = 86_400

POSTGRES_SCHEMA = """
CREATE TABLE {schema}.customers (
    customer_id bigint NOT NULL, signup_at timestamptz NOT NULL, churned_at timestamptz,
    channel text NOT NULL, region text, plan text NOT NULL);
CREATE TABLE {schema}.orders (
    order_id bigint NOT NULL, customer_id bigint, ordered_at timestamptz NOT NULL, amount double precision NOT NULL);
CREATE TABLE {schema}.marketing_spend (spent_on date NOT NULL, channel text NOT NULL, amount double precision NOT NULL);
CREATE TABLE {schema}.leads (
    lead_id bigint NOT NULL, created_at timestamptz NOT NULL, converted_at timestamptz, channel text NOT NULL);
CREATE TABLE {schema}.survey_responses (
    response_id bigint NOT NULL, customer_id bigint, survey text NOT NULL, score double precision,
    responded_at timestamptz NOT NULL);
CREATE TABLE {schema}.tickets (
    ticket_id bigint NOT NULL, customer_id bigint, opened_at timestamptz NOT NULL, resolved_at timestamptz,
    contacts integer, escalated boolean NOT NULL);
"""
PRIMARY_KEYS = {
    "customers": "customer_id",
    "orders": "order_id",
    "leads": "lead_id",
    "survey_responses": "response_id",
    "tickets": "ticket_id",
}
TIME_COLUMNS = {
    "customers": ("signup_at", "churned_at"),
    "orders": ("ordered_at",),
    "leads": ("created_at", "converted_at"),
    "survey_responses": ("responded_at",),
    "tickets": ("opened_at", "resolved_at"),
}


@dataclass
class Dataset:
    """Every entity as a pyarrow table (timestamps as ``timestamp[s, UTC]``, spent_on as ``date32``)."""

    scale: int
    seed: int
    tables: dict[str, pa.Table]
    layout: str = "tidy"

    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


def _suffix(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: use {', '.join(LAYOUTS)}")
    return "" if layout == "tidy" else f"_{layout}"


#: The first part of every generated schema, database and file name (``KPI_BENCH_PREFIX``; default
#: ``bench``): engineers sharing one database server each keep their own copy.
PREFIX = os.environ.get("KPI_BENCH_PREFIX", "bench")


def postgres_schema(scale: int, layout: str = "tidy") -> str:
    """The PostgreSQL schema (MySQL database) holding the data of one scale and layout."""
    return f"{PREFIX}_{scale}{_suffix(layout)}"


def sqlite_path(out: Path, scale: int, layout: str = "tidy") -> Path:
    return out / f"{PREFIX}_{scale}{_suffix(layout)}.db"


def folder_path(out: Path, scale: int, kind: str) -> Path:
    return out / f"{PREFIX}_{scale}_{kind}"


# -- generation ---------------------------------------------------------------------------------------
def generate(scale: int, seed: int = DEFAULT_SEED, layout: str = "tidy") -> Dataset:
    """All the tables for ``scale`` customers, deterministically from ``seed``; ``layout="shuffled"``
    stores the same orders in a random order (the same seed gives the same rows in both layouts)."""
    import numpy as np
    import pyarrow as pa

    if scale < 10:
        raise ValueError(f"scale must be at least 10, got {scale}")
    channels, regions = np.array(CHANNELS, dtype=object), np.array(REGIONS, dtype=object)
    plans, contact_values = np.array(PLANS, dtype=object), np.array(CONTACTS)
    rng = np.random.default_rng(seed)
    start = int(DATA_START.timestamp())
    span = int(DATA_END.timestamp()) - start

    def instants(count: int) -> np.ndarray:
        """Seconds since the epoch, denser as the business grows (linear density, x GROWTH overall)."""
        slope = GROWTH - 1
        uniform = rng.random(count)
        fraction = (np.sqrt(1 + slope * (slope + 2) * uniform) - 1) / slope
        return start + (fraction * span).astype(np.int64)

    end = start + span
    tables = {}

    # customers: signup order = id order; churn after an exponential lifetime by plan.
    signup = np.sort(instants(scale))
    plan_index = rng.choice(len(plans), size=scale, p=PLAN_WEIGHTS)
    daily_hazard = -np.log(1 - np.array(MONTHLY_CHURN_BY_PLAN)[plan_index]) / 30.4375
    churned = signup + 3600 + (rng.exponential(1 / daily_hazard) * SECONDS_PER_DAY).astype(np.int64)
    churn_mask = churned >= end  # still active: NULL
    tables["customers"] = pa.table(
        {
            "customer_id": np.arange(1, scale + 1, dtype=np.int64),
            "signup_at": _timestamps(signup),
            "churned_at": _timestamps(churned, churn_mask),
            "channel": pa.array(rng.choice(channels, size=scale, p=CHANNEL_WEIGHTS), pa.string()),
            "region": pa.array(rng.choice(regions, size=scale, p=REGION_WEIGHTS), pa.string()),
            "plan": pa.array(plans[plan_index], pa.string()),
        }
    )
    active_until = np.where(churn_mask, end, churned)

    # orders: 10 per customer on average, while the customer is active; 1 % guests, 3 % refunds.
    order_count = 10 * scale
    propensity = rng.lognormal(-0.245, 0.7, size=scale)
    weights = propensity * (active_until - signup)
    owner = np.searchsorted(np.cumsum(weights), rng.random(order_count) * weights.sum(), side="right")
    owner = np.minimum(owner, scale - 1)
    ordered = signup[owner] + (rng.random(order_count) * (active_until[owner] - signup[owner])).astype(
        np.int64
    )
    amount = np.maximum(
        1.0, np.round(np.array(BASKET_BY_PLAN)[plan_index[owner]] * rng.lognormal(-0.1, 0.45, order_count), 2)
    )
    refund = rng.random(order_count) < 0.032
    amount = np.where(
        refund, -np.round(amount * np.where(rng.random(order_count) < 0.7, 1.0, 0.5), 2), amount
    )
    guest = rng.random(order_count) < 0.01
    ordered = np.where(guest, instants(order_count), ordered)
    customer_id = owner + 1
    order = np.argsort(ordered, kind="stable")
    if _suffix(layout):  # the same rows, in an order unrelated to customer or time (its own generator)
        order = order[np.random.default_rng(seed + 1).permutation(order_count)]
    tables["orders"] = pa.table(
        {
            "order_id": np.arange(1, order_count + 1, dtype=np.int64),
            "customer_id": pa.array(customer_id[order], pa.int64(), mask=guest[order]),
            "ordered_at": _timestamps(ordered[order]),
            "amount": amount[order],
        }
    )
    del owner, ordered, amount, refund, guest, customer_id, order

    # survey responses: 60 % nps (scores 0..10), 40 % csat (1..5), 3 % anonymous, a few invalid.
    response_count = scale
    responded = np.sort(instants(response_count))
    is_nps = rng.random(response_count) < 0.6
    nps_score = np.clip(np.round(rng.normal(8.0, 2.0, response_count)), 0, 10)
    csat_score = np.clip(np.round(rng.normal(4.1, 0.9, response_count)), 1, 5)
    score = np.where(is_nps, nps_score, csat_score)
    invalid = rng.random(response_count) < 0.0005
    planted = np.where(
        is_nps,
        rng.choice([11.0, -1.0, 7.5, np.nan], response_count),
        rng.choice([0.0, 6.0, 4.5, np.nan], response_count),
    )
    score = np.where(invalid, planted, score)
    tables["survey_responses"] = pa.table(
        {
            "response_id": np.arange(1, response_count + 1, dtype=np.int64),
            "customer_id": pa.array(
                rng.integers(1, scale + 1, response_count), pa.int64(), mask=rng.random(response_count) < 0.03
            ),
            "survey": pa.array(np.where(is_nps, "nps", "csat"), pa.string()),
            "score": pa.array(score, pa.float64(), mask=np.isnan(score)),
            "responded_at": _timestamps(responded),
        }
    )

    # tickets: resolved within hours or days (escalated ones later), open when past the end.
    ticket_count = max(1, scale // 2)
    opened = np.sort(instants(ticket_count))
    contacts = rng.choice(contact_values, size=ticket_count, p=CONTACT_WEIGHTS)
    escalated = rng.random(ticket_count) < 0.05 + 0.06 * np.maximum(0, contacts - 1)
    hours = rng.lognormal(np.log(18), 1.0, ticket_count) * np.where(escalated, 3, 1)
    resolved = opened + 600 + (hours * 3600).astype(np.int64)
    tables["tickets"] = pa.table(
        {
            "ticket_id": np.arange(1, ticket_count + 1, dtype=np.int64),
            "customer_id": pa.array(
                rng.integers(1, scale + 1, ticket_count), pa.int64(), mask=rng.random(ticket_count) < 0.02
            ),
            "opened_at": _timestamps(opened),
            "resolved_at": _timestamps(resolved, resolved >= end),
            "contacts": pa.array(contacts, pa.int32(), mask=contacts < 0),
            "escalated": pa.array(escalated, pa.bool_()),
        }
    )

    # leads: a quarter convert days later; conversions not yet due stay NULL.
    lead_count = 2 * scale
    created = np.sort(instants(lead_count))
    converted = created + 3600 + (rng.exponential(6, lead_count) * SECONDS_PER_DAY).astype(np.int64)
    not_converted = (rng.random(lead_count) >= 0.25) | (converted >= end)
    tables["leads"] = pa.table(
        {
            "lead_id": np.arange(1, lead_count + 1, dtype=np.int64),
            "created_at": _timestamps(created),
            "converted_at": _timestamps(converted, not_converted),
            "channel": pa.array(rng.choice(channels, size=lead_count, p=CHANNEL_WEIGHTS), pa.string()),
        }
    )

    # marketing spend: one row per day and paid channel, growing with the business.
    days = span // SECONDS_PER_DAY
    day_index = np.repeat(np.arange(days), len(PAID_CHANNELS))
    base = np.tile(np.array(list(PAID_CHANNELS.values())), days)
    growth = GROWTH ** (day_index / days) * scale / 2400
    spend = np.round(base * growth * np.maximum(0.3, rng.normal(1, 0.12, len(base))), 2)
    first_day = start // SECONDS_PER_DAY
    tables["marketing_spend"] = pa.table(
        {
            "spent_on": pa.array((first_day + day_index).astype(np.int32), pa.date32()),
            "channel": pa.array(np.tile(np.array(list(PAID_CHANNELS), dtype=object), days), pa.string()),
            "amount": spend,
        }
    )
    return Dataset(scale, seed, tables, layout)


def _timestamps(seconds, null=None) -> pa.Array:
    """Seconds since the epoch as ``timestamp[s, UTC]``, NULL where ``null`` is true."""
    import pyarrow as pa

    return pa.array(seconds, pa.int64(), mask=null).cast(pa.timestamp("s", tz="UTC"))


def as_text_columns(table: pa.Table) -> pa.Table:
    """Timestamps as 'YYYY-MM-DD HH:MM:SS' text, dates as 'YYYY-MM-DD', booleans as 0/1 (SQLite, CSV)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field, column in zip(table.schema, table.columns, strict=False):
        if pa.types.is_timestamp(field.type):
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
        elif pa.types.is_date(field.type):
            column = pc.strftime(column, format="%Y-%m-%d")
        elif pa.types.is_boolean(field.type):
            column = column.cast(pa.int8())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# -- targets ------------------------------------------------------------------------------------------
def write_sqlite(dataset: Dataset, path: Path, batch_rows: int = 200_000) -> None:
    """One transaction of batched executemany, journal and fsync off, indexes after the load (the
    shuffled layout: ``amount numeric(12,2)``, time indexes only)."""
    shuffled = dataset.layout == "shuffled"
    partial = path.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(partial, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -200000")
        connection.execute("BEGIN")
        schema = SQLITE_SCHEMA.replace("amount REAL", "amount numeric(12,2)") if shuffled else SQLITE_SCHEMA
        for statement in schema.split(";"):
            if statement.strip():
                connection.execute(statement)
        for name, table in dataset.tables.items():
            text = as_text_columns(table)
            placeholders = ", ".join("?" * text.num_columns)
            statement = f"INSERT INTO {name} VALUES ({placeholders})"
            for batch in text.to_batches(max_chunksize=batch_rows):
                connection.executemany(
                    statement, zip(*(column.to_pylist() for column in batch.columns), strict=False)
                )
        for table, column in indexed_columns(dataset.layout):
            connection.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    os.replace(partial, path)


def indexed_columns(layout: str) -> tuple[tuple[str, str], ...]:
    """The (table, column) indexes of a layout: every time column, plus orders.customer_id when tidy."""
    if layout == "shuffled":
        return tuple(pair for pair in INDEXED_COLUMNS if pair in TIME_INDEXES)
    return INDEXED_COLUMNS


TIME_INDEXES = {(table, column) for table, columns in TIME_COLUMNS.items() for column in columns} | {
    ("marketing_spend", "spent_on")
}


def write_postgresql(dataset: Dataset, url: str, schema: str) -> None:
    """COPY (CSV) into a fresh schema, then primary keys, indexes and ANALYZE (the shuffled layout:
    ``timestamp`` columns holding UTC, ``amount numeric(12,2)``, time indexes only)."""
    shuffled = dataset.layout == "shuffled"
    tables_sql = POSTGRES_SCHEMA.format(schema=schema)
    if shuffled:
        tables_sql = tables_sql.replace("timestamptz", "timestamp").replace(
            "ordered_at timestamp NOT NULL, amount double precision",
            "ordered_at timestamp NOT NULL, amount numeric(12,2)",
        )
    import psycopg
    import pyarrow.csv as pacsv

    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET maintenance_work_mem = '256MB'")
        for statement in tables_sql.split(";"):
            if statement.strip():
                connection.execute(statement)
        for name, table in dataset.tables.items():
            columns = ", ".join(table.column_names)
            statement = f"COPY {schema}.{name} ({columns}) FROM STDIN (FORMAT csv)"
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for batch in table.to_batches(max_chunksize=500_000):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getvalue())
        for name, key in PRIMARY_KEYS.items():
            connection.execute(f"ALTER TABLE {schema}.{name} ADD PRIMARY KEY ({key})")
        for table, column in indexed_columns(dataset.layout):
            connection.execute(f"CREATE INDEX ix_{table}_{column} ON {schema}.{table} ({column})")
        for name in dataset.tables:
            connection.execute(f"ANALYZE {schema}.{name}")


MYSQL_SCHEMA = """
CREATE TABLE customers (
    customer_id BIGINT NOT NULL, signup_at TIMESTAMP(6) NOT NULL, churned_at TIMESTAMP(6) NULL,
    channel VARCHAR(32) NOT NULL, region VARCHAR(32), plan VARCHAR(32) NOT NULL);
CREATE TABLE orders (
    order_id BIGINT NOT NULL, customer_id BIGINT, ordered_at TIMESTAMP(6) NOT NULL, amount DOUBLE NOT NULL);
CREATE TABLE marketing_spend (spent_on DATE NOT NULL, channel VARCHAR(32) NOT NULL, amount DOUBLE NOT NULL);
CREATE TABLE leads (
    lead_id BIGINT NOT NULL, created_at TIMESTAMP(6) NOT NULL, converted_at TIMESTAMP(6) NULL,
    channel VARCHAR(32) NOT NULL);
CREATE TABLE survey_responses (
    response_id BIGINT NOT NULL, customer_id BIGINT, survey VARCHAR(8) NOT NULL, score DOUBLE,
    responded_at TIMESTAMP(6) NOT NULL);
CREATE TABLE tickets (
    ticket_id BIGINT NOT NULL, customer_id BIGINT, opened_at TIMESTAMP(6) NOT NULL, resolved_at TIMESTAMP(6) NULL,
    contacts INT, escalated BOOLEAN NOT NULL)
"""


def write_mysql(dataset: Dataset, url: str, database: str) -> None:
    """``LOAD DATA LOCAL INFILE`` of one CSV file per table into a fresh database (TIMESTAMP columns, UTC
    session; an empty cell is NULL), then primary keys, indexes and ANALYZE TABLE. Batched INSERTs took
    over 25 minutes for 10 M orders here."""
    import tempfile

    import pyarrow.csv as pacsv
    import pymysql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = pymysql.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        password=parsed.password or "",
        autocommit=False,
        local_infile=True,
        init_command="SET time_zone = '+00:00'",
    )
    try:
        with connection.cursor() as cursor, tempfile.TemporaryDirectory() as folder:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
            cursor.execute(f"CREATE DATABASE {database}")
            cursor.execute(f"USE {database}")
            for statement in MYSQL_SCHEMA.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            for name, table in dataset.tables.items():
                text = as_text_columns(table)
                path = Path(folder) / f"{name}.csv"
                pacsv.write_csv(text, path, pacsv.WriteOptions(include_header=False))
                names = text.column_names
                variables = ", ".join(f"@v{i}" for i in range(len(names)))
                nulls = ", ".join(f"{column} = NULLIF(@v{i}, '')" for i, column in enumerate(names))
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {name} FIELDS TERMINATED BY ',' "
                    f"OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' ({variables}) SET {nulls}"
                )
                connection.commit()
            for name, key in PRIMARY_KEYS.items():
                cursor.execute(f"ALTER TABLE {name} ADD PRIMARY KEY ({key})")
            for table, column in INDEXED_COLUMNS:
                cursor.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
            for name in dataset.tables:
                cursor.execute(f"ANALYZE TABLE {name}")
                cursor.fetchall()
        connection.commit()
    finally:
        connection.close()


def write_parquet(dataset: Dataset, folder: Path) -> None:
    """One <entity>.parquet per entity, with typed timestamps."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for name, table in dataset.tables.items():
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=1_000_000)


def write_csv(dataset: Dataset, folder: Path) -> None:
    """One <entity>.csv per entity, timestamps as 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    for name, table in dataset.tables.items():
        pacsv.write_csv(as_text_columns(table), folder / f"{name}.csv")


def write_targets(
    dataset: Dataset, targets: list[str], out: Path, pg_url: str = PG_URL, mysql_url: str = MYSQL_URL
) -> dict[str, float]:
    """Write ``dataset`` to each target; return the seconds each took."""
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for target in targets:
        began = time.perf_counter()
        if dataset.layout != "tidy" and target not in SHUFFLED_TARGETS:
            raise ValueError(
                f"the {dataset.layout} layout is written to {', '.join(SHUFFLED_TARGETS)} only, not {target}"
            )
        if target == "sqlite":
            write_sqlite(dataset, sqlite_path(out, dataset.scale, dataset.layout))
        elif target == "postgresql":
            write_postgresql(dataset, pg_url, postgres_schema(dataset.scale, dataset.layout))
        elif target == "mysql":
            write_mysql(dataset, mysql_url, postgres_schema(dataset.scale))
        elif target == "parquet":
            write_parquet(dataset, folder_path(out, dataset.scale, "parquet"))
        elif target == "csv":
            write_csv(dataset, folder_path(out, dataset.scale, "csv"))
        else:
            raise ValueError(f"unknown target {target!r}: use {', '.join(TARGETS)}")
        seconds[target] = time.perf_counter() - began
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, required=True, help="number of customers (orders = 10 x)")
    parser.add_argument(
        "--targets", default="sqlite,postgresql,parquet,csv", help=f"comma list of {', '.join(TARGETS)}"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for SQLite, Parquet and CSV")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL URL (data goes to schema bench_<scale>)")
    parser.add_argument(
        "--mysql-url", default=MYSQL_URL, help="MySQL/MariaDB server (data goes to database bench_<scale>)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="tidy",
        help="tidy (time order, typed, every index) or shuffled (random order, numeric "
        "amounts, time indexes only; sqlite and postgresql)",
    )
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.layout != "tidy" and set(targets) - set(SHUFFLED_TARGETS):
        parser.error(f"--layout {args.layout} is written to {', '.join(SHUFFLED_TARGETS)} only")
    began = time.perf_counter()
    dataset = generate(args.scale, args.seed, args.layout)
    print(
        f"generate: {time.perf_counter() - began:.1f} s "
        + ", ".join(f"{n:,} {name}" for name, n in dataset.row_counts().items()),
        flush=True,
    )
    for target in targets:
        seconds = write_targets(dataset, [target], args.out, args.pg_url, args.mysql_url)[target]
        print(f"{target}: {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
