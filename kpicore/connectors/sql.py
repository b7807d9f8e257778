"""Default plugin: any SQLAlchemy URL (SQLite, PostgreSQL, ...) and SQLite files."""

from __future__ import annotations

import time

from ..errors import ConfigError, SourceError
from ..hookspecs import hookimpl
from . import Connector, redact

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class SQLConnector(Connector):
    name = "sql"
    description = "Any SQLAlchemy URL (sqlite:///, postgresql://, ...) or a .db/.sqlite/.sqlite3 file"

    def handles(self, url: str) -> bool:
        return "://" in url or url.lower().endswith(SQLITE_SUFFIXES)

    def open(self, url, config, entities):
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        from ..periods import get_timezone
        from ..source import Source

        if "://" not in url:
            from pathlib import Path

            if not Path(url).is_file():
                raise ConfigError(
                    f"SQLite database {url} not found: check [source] url in kpi.toml or --source, "
                    "or run `kpi demo` for sample data"
                )
            url = f"sqlite:///{url}"
        try:
            parsed = make_url(url)
            parsed.port  # noqa: B018 - a bad port ("host:abc") only fails when read
        except (sa.exc.ArgumentError, ValueError):
            raise ConfigError(
                f"source URL {redact(url)!r} is not a valid SQLAlchemy URL (dialect://user:password@host:port/db; "
                "quote special characters in the password)"
            ) from None
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        display = redact(parsed)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                from pathlib import Path

                if not Path(database).is_file():
                    raise ConfigError(f"SQLite database {database} not found (source {display})")
                parsed = parsed.set(database=f"file:{database}?mode=ro", query={"uri": "true"})
        try:
            engine = sa.create_engine(parsed, **_engine_options(parsed))
        except ImportError as error:
            hint = "pip install 'kpicore[postgres]'" if parsed.get_backend_name() == "postgresql" else (
                f"install the Python driver for {parsed.get_backend_name()}"
            )
            raise ConfigError(f"source {display}: database driver {error.name!r} is not installed: {hint}") from None
        except sa.exc.ArgumentError as error:
            raise ConfigError(f"source {display}: {error}") from None
        timezone = get_timezone(config.timezone)
        _install_guards(engine, config.timeout, timezone.key)
        return Source(engine, config, entities, display=display, timezone=timezone)


def _engine_options(url) -> dict:
    if url.get_backend_name() == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}


def _install_guards(engine, timeout: float, timezone: str) -> None:
    """Read-only sessions, a statement timeout and the source's timezone, where the dialect allows.

    The session timezone is the source's, so that text cast to a timestamp, and comparisons between
    ``timestamp`` and ``timestamptz`` columns, read naive values in the source's timezone.
    """
    from sqlalchemy import event

    backend = engine.dialect.name
    if backend == "postgresql":

        @event.listens_for(engine, "connect")
        def postgres_session(dbapi_connection, record):
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET default_transaction_read_only = on")
                cursor.execute(f"SET statement_timeout = {int(timeout * 1000)}")
                cursor.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
            dbapi_connection.autocommit = autocommit

    elif backend == "sqlite":

        @event.listens_for(engine, "connect")
        def sqlite_session(dbapi_connection, record):
            dbapi_connection.execute("PRAGMA query_only = ON")

        @event.listens_for(engine, "before_cursor_execute")
        def sqlite_deadline(conn, cursor, statement, parameters, context, executemany):
            deadline = time.monotonic() + timeout
            conn.connection.dbapi_connection.set_progress_handler(
                lambda: 1 if time.monotonic() > deadline else 0, 10_000
            )


@hookimpl(trylast=True)
def register_connectors(register):
    register(SQLConnector())


__all__ = ["SQLConnector", "SourceError"]
