"""Default plugin: any SQLAlchemy URL (SQLite, PostgreSQL, ...) and SQLite files."""

from __future__ import annotations

from ..errors import ConfigError, SourceError
from ..hookspecs import hookimpl
from . import Connector, redact

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class SQLConnector(Connector):
    name = "sql"
    description = (
        "Any SQLAlchemy URL (sqlite:///, postgresql://, mysql+pymysql://, ...) or a .db/.sqlite/.sqlite3 file"
    )

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
        from ..dialects import dialect_class, dialect_for

        backend, _, driver = parsed.drivername.partition("+")
        known = dialect_class(backend)
        if known is not None and (backend != known.name or not driver):
            # postgres:// (Heroku, Render, Supabase) is PostgreSQL; a URL naming no driver gets the one the
            # dialect is tested with (psycopg 3, PyMySQL)
            driver = driver or known.default_driver or ""
            parsed = parsed.set(drivername=known.name + (f"+{driver}" if driver else ""))
        display = redact(parsed)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                from pathlib import Path

                if not Path(database).is_file():
                    raise ConfigError(f"SQLite database {database} not found (source {display})")
                parsed = parsed.set(database=f"file:{database}?mode=ro", query={"uri": "true"})
        try:
            engine = sa.create_engine(parsed, **(known.engine_options(parsed) if known else {}))
        except ImportError as error:
            hint = (
                known.driver_hint
                if known and known.driver_hint
                else (f"install the Python driver for {parsed.get_backend_name()}")
            )
            raise ConfigError(
                f"source {display}: database driver {error.name!r} is not installed: {hint}"
            ) from None
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
            raise ConfigError(f"source {display}: {_first_line(error)}") from None
        timezone = get_timezone(config.timezone)
        try:
            dialect = dialect_for(engine.dialect.name, display)(timezone)
        except ConfigError:
            engine.dispose()
            raise
        dialect.install_guards(engine, config.timeout)
        return Source(engine, config, entities, display=display, timezone=timezone, dialect=dialect)


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@hookimpl(trylast=True)
def register_connectors(register):
    register(SQLConnector())


__all__ = ["SQLConnector", "SourceError"]
