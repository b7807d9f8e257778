"""Copying the demo database into another database (``kpi demo --into URL``), typed as that database types it."""

from __future__ import annotations

import os
from datetime import date, datetime

from .demo_data import DEMO_MARKER_TABLE


def copy_into(demo_path: str | os.PathLike[str], url: str, timezone: str = "UTC") -> dict[str, int]:
    """Copy the tables of a demo SQLite file into the empty database at ``url`` (PostgreSQL,
    MySQL/MariaDB, SQLite, or any database with a kpicore dialect), typed as that database types them:
    ``*_at`` columns as timestamps with zone (``TIMESTAMP`` on MySQL), ``*_on`` as dates. Text times are
    read as written (naive ones in ``timezone``). Raises ConfigError when the database already holds one
    of the tables; returns row counts per table."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from .connectors import redact
    from .dialects import with_driver
    from .errors import ConfigError, SourceError
    from .periods import get_timezone

    zone = get_timezone(timezone)
    parsed = make_url(url)
    parsed, dialect = with_driver(parsed)
    display = redact(parsed)
    if dialect is None:
        backend = parsed.drivername.partition("+")[0]
        raise ConfigError(f"kpi demo --into {display}: kpicore has no dialect for {backend!r}")
    source = sa.create_engine(f"sqlite:///{os.fspath(demo_path)}")
    target = sa.create_engine(parsed, **dialect.writer_options())
    counts: dict[str, int] = {}
    try:
        try:
            existing = set(sa.inspect(target).get_table_names())
        except sa.exc.DBAPIError as error:
            raise SourceError(
                f"kpi demo --into {display}: {dialect(zone).describe_error(error.orig or error)}"
            ) from None
        tables = [name for name in sa.inspect(source).get_table_names() if name != DEMO_MARKER_TABLE]
        clash = sorted(existing & set(tables))
        if clash:
            raise ConfigError(
                f"kpi demo --into {display}: the database already has table(s) {', '.join(clash)}; "
                "give it an empty database"
            )
        metadata = sa.MetaData()
        with source.connect() as reading:
            for name in tables:
                counts[name] = _copy_table(name, source, reading, target, metadata, dialect, zone)
    finally:
        source.dispose()
        target.dispose()
    return counts


def _copy_table(name, source, reading, target, metadata, dialect, zone) -> int:
    """Create table ``name`` in ``target`` with the dialect's types, copy its rows and index it."""
    import sqlalchemy as sa

    described = sa.inspect(source).get_columns(name)
    columns, kinds = [], {}
    for column in described:
        kind = (
            "time"
            if column["name"].endswith("_at")
            else "day"
            if column["name"].endswith("_on")
            else type(column["type"]).__name__.upper()
        )
        kinds[column["name"]] = kind
        columns.append(sa.Column(column["name"], dialect.demo_type(kind)))
    table = sa.Table(name, metadata, *columns)
    table.create(target)
    rows = [dict(row._mapping) for row in reading.execute(sa.text(f'SELECT * FROM "{name}"'))]
    for row in rows:
        for column, kind in kinds.items():
            value = row[column]
            if kind == "time" and value is not None:
                moment = datetime.fromisoformat(value)
                moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
                row[column] = dialect.demo_instant(moment)
            elif kind == "day" and value is not None:
                row[column] = date.fromisoformat(value)
    with target.begin() as writing:
        for start in range(0, len(rows), 5000):
            writing.execute(table.insert(), rows[start : start + 5000])
        for column, kind in kinds.items():
            if kind in ("time", "day") or column == "customer_id":
                writing.execute(sa.schema.CreateIndex(sa.Index(f"ix_{name}_{column}", table.c[column])))
    return len(rows)
