"""kpicore's own state database: stored metric values and the digest delivery ledger.

Separate from the business's source. SQLite by default (``kpi-state.db`` beside kpi.toml),
PostgreSQL when several processes share it. The schema is versioned with Alembic migrations,
applied on first use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .errors import ConfigError, SourceError

if TYPE_CHECKING:
    from .dialects.base import Dialect

metadata = sa.MetaData()
metric_values = sa.Table(
    "metric_values",
    metadata,
    sa.Column("metric", sa.String(100), nullable=False),
    sa.Column("start_utc", sa.String(32), nullable=False),
    sa.Column("end_utc", sa.String(32), nullable=False),
    sa.Column("segment", sa.String(200), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("period", sa.String(40), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("n", sa.Integer),
    sa.Column("computed_at", sa.String(32), nullable=False),
)
#: The unique key of a stored value (uq_metric_values).
VALUE_KEY = ("metric", "start_utc", "end_utc", "segment", "source")


def migrate(engine: sa.Engine) -> None:
    """Bring the state database's schema up to date (one process at a time, as its dialect locks)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))

    def upgrade(connection: sa.Connection) -> None:
        alembic_config.attributes["connection"] = connection
        command.upgrade(alembic_config, "head")

    state_dialect(engine).run_migrations(engine, upgrade)


def state_dialect(engine: sa.Engine) -> type[Dialect]:
    """The dialect of the state database: how it upserts, ignores duplicates and locks its migrations."""
    from .dialects import dialect_class

    found = dialect_class(engine.dialect.name)
    if found is None:
        raise ConfigError(
            f"state_url: kpicore cannot keep its state in a {engine.dialect.name} database; "
            "use SQLite, PostgreSQL or MySQL/MariaDB"
        )
    return found


def state_url(config) -> str:
    """The state database URL of ``config``, read as every database URL of kpi.toml is: a bare path is a
    SQLite file, a relative one resolves against the config's folder; ``postgres://`` is PostgreSQL."""
    from .dialects.urls import database_url

    return database_url(config.state_url or "kpi-state.db", config.base_dir)


@lru_cache(maxsize=8)
def open_state(url: str) -> sa.Engine:
    """The state database engine, migrated; created on first use. ``url`` is read as every database URL
    of kpi.toml is (a bare path is a SQLite file; ``postgres://`` is PostgreSQL)."""
    from .connectors import redact
    from .dialects import dialect_class
    from .dialects.urls import database_url

    url = database_url(url)
    known = None
    try:
        parsed = sa.engine.make_url(url)
        known = dialect_class(parsed.get_backend_name())
        engine = sa.create_engine(parsed, **(known.state_options(parsed) if known else {}))
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError(f"state_url {redact(url)!r} is not a valid SQLAlchemy URL") from None
    except ImportError as error:
        hint = known.driver_hint if known and known.driver_hint else "install its Python driver"
        raise ConfigError(f"state_url: database driver {error.name!r} is not installed: {hint}") from None
    try:
        migrate(engine)
    except sa.exc.OperationalError as error:
        reason = " ".join(str(error.orig).split())  # the driver's message spans lines
        raise SourceError(
            f"state database {engine.url.render_as_string(hide_password=True)}: {reason}; check state_url in kpi.toml"
        ) from None
    return engine


def _utc(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone(dt.UTC).isoformat()


def store_results(config, results, source: str, dimension: str | None = None) -> int:
    """Upsert computed values (totals and segments); returns the number of rows written."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows = []
    for result in results:
        if not result.ok:
            continue
        base = {
            "metric": result.metric,
            "start_utc": _utc(result.start),
            "end_utc": _utc(result.end),
            "source": source,
            "period": result.period,
            "computed_at": now,
        }
        rows.append({**base, "segment": "", "value": result.value, "n": result.n})
        before = _period_before(result)
        for segment in result.segments or []:
            rows.append(
                {**base, "segment": f"{dimension}={segment.segment}", "value": segment.value, "n": segment.n}
            )
            if before is not None and segment.previous_n is not None:
                # The segment in the period before, so a stored answer orders segments by how they moved.
                rows.append(
                    {
                        **base,
                        **before,
                        "segment": f"{dimension}={segment.segment}",
                        "value": segment.previous,
                        "n": segment.previous_n,
                    }
                )
    return _upsert_values(
        config, rows, lambda new: {k: new[k] for k in ("value", "n", "computed_at", "period")}
    )


def _period_before(result) -> dict[str, str] | None:
    """The span and label of the period ``result``'s segments were compared with: its trend's last but
    one point (None without a trend that ends on the period)."""
    trend = result.trend or []
    if len(trend) < 2 or trend[-1].period != result.period or not trend[-2].start:
        return None
    point = trend[-2]
    return {"start_utc": _utc(point.start), "end_utc": _utc(point.end), "period": point.period}


def store_trend(config, results, source: str) -> int:
    """Upsert the trend points of computed results (value only: a point's n, if stored, is kept).

    A trend's points are the values of earlier periods computed with the same definition, so an
    answer about one of those periods (or its comparison with the period before) can be read back.
    """
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows = [
        {
            "metric": result.metric,
            "start_utc": _utc(point.start),
            "end_utc": _utc(point.end),
            "segment": "",
            "source": source,
            "period": point.period,
            "value": point.value,
            "n": None,
            "computed_at": now,
        }
        for result in results
        if result.ok
        for point in result.trend or []
    ]
    return _upsert_values(
        config,
        rows,
        lambda new: {
            "value": new.value,
            "computed_at": new.computed_at,
            "period": new.period,
            "n": sa.func.coalesce(new.n, metric_values.c.n),
        },
    )


def _upsert_values(config, rows: list[dict], updates) -> int:
    """Insert ``rows`` into metric_values, or update a stored row of the same key with ``updates(new)``."""
    if not rows:
        return 0
    engine = open_state(state_url(config))
    upsert = state_dialect(engine).upsert(metric_values, rows, VALUE_KEY, updates)
    with engine.begin() as connection:
        connection.execute(upsert)
    return len(rows)


@dataclass(frozen=True)
class StoredValue:
    """A value read back from the state database."""

    value: float | None
    n: int | None
    computed_at: dt.datetime


def read_values(
    config,
    source: str,
    metrics: list[str],
    spans: list[tuple[str, str]],
    *,
    fresh_since: dt.datetime,
    dimension: str | None = None,
) -> dict[tuple[str, str, str, str], StoredValue]:
    """Stored values computed at or after ``fresh_since`` for these metrics and spans of ``source``.

    ``spans`` are ``(start, end)`` ISO 8601 pairs (any offset). Returns
    ``{(metric, start_utc, end_utc, segment): StoredValue}``: totals have segment ``""``; with
    ``dimension``, its segments (``region=EU``) are read too.
    """
    if not metrics or not spans:
        return {}
    engine = open_state(state_url(config))
    table = metric_values.c
    utc_spans = [(_utc(start), _utc(end)) for start, end in spans]
    segments = table.segment == ""
    if dimension is not None:
        segments = sa.or_(segments, table.segment.startswith(f"{dimension}=", autoescape=True))
    statement = sa.select(
        table.metric, table.start_utc, table.end_utc, table.segment, table.value, table.n, table.computed_at
    ).where(
        table.source == source,
        table.metric.in_(metrics),
        sa.tuple_(table.start_utc, table.end_utc).in_(utc_spans),
        segments,
        table.computed_at >= fresh_since.astimezone(dt.UTC).isoformat(timespec="seconds"),
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return {
        (row.metric, row.start_utc, row.end_utc, row.segment): StoredValue(
            row.value, row.n, dt.datetime.fromisoformat(row.computed_at)
        )
        for row in rows
    }
