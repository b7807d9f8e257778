"""SQL dialects: what each database does differently (see ``kpicore.dialects.base.Dialect``).

The built-in dialects are a default plugin, registered through the ``register_dialects`` hook like
anyone's. A connector picks a source's dialect by the SQLAlchemy dialect name of its engine
(``dialect_for``); a database with no registered dialect is a configuration error naming the hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..hookspecs import hookimpl

if TYPE_CHECKING:  # base imports SQLAlchemy: not at start-up (`kpi --help` stays fast)
    from .base import Dialect

#: The dialects of the registry ``open_source`` is opening a source for (name -> Dialect subclass).
_dialects: ContextVar[dict[str, type[Dialect]] | None] = ContextVar("kpicore_dialects", default=None)


def builtin_dialects() -> dict[str, type[Dialect]]:
    """The dialects kpicore ships, by SQLAlchemy dialect name."""
    from .duckdb import DuckDBDialect
    from .mysql import MySQLDialect
    from .postgresql import PostgreSQLDialect
    from .sqlite import SQLiteDialect

    return {d.name: d for d in (SQLiteDialect, PostgreSQLDialect, DuckDBDialect, MySQLDialect)}


@contextlib.contextmanager
def using(dialects: dict[str, type[Dialect]] | None) -> Iterator[None]:
    """Make ``dialects`` the ones ``dialect_for`` chooses from while a source is opened (None: the
    built-in ones)."""
    token = _dialects.set(dialects)
    try:
        yield
    finally:
        _dialects.reset(token)


def available() -> dict[str, type[Dialect]]:
    """The dialects in use: those of the registry opening the source, else the built-in ones."""
    dialects = _dialects.get()
    return builtin_dialects() if dialects is None else dialects


def canonical_name(name: str) -> str:
    """The SQLAlchemy dialect name a URL scheme means (``postgres`` -> ``postgresql``)."""
    for dialect in available().values():
        if name in dialect.url_aliases:
            return dialect.name
    return name


def dialect_class(name: str) -> type[Dialect] | None:
    """The registered dialect for SQLAlchemy dialect ``name`` (or one of its URL aliases), or None."""
    dialects = available()
    return dialects.get(canonical_name(name))


def with_driver(parsed):
    """A parsed SQLAlchemy URL spelled for its dialect, and that dialect (None when there is none):
    postgres:// (Heroku, Render, Supabase) is PostgreSQL, and a URL naming no driver gets the one the
    dialect is tested with (psycopg 3, PyMySQL)."""
    backend, _, driver = parsed.drivername.partition("+")
    known = dialect_class(backend)
    if known is not None and (backend != known.name or not driver):
        driver = driver or known.default_driver
        parsed = parsed.set(drivername=known.name + (f"+{driver}" if driver else ""))
    return parsed, known


def dialect_for(name: str, display: str) -> type[Dialect]:
    """The dialect of a source whose engine speaks SQLAlchemy dialect ``name``; a ConfigError naming the
    database and the hook when no plugin registered one."""
    found = dialect_class(name)
    if found is None:
        known = ", ".join(sorted(available())) or "none"
        raise ConfigError(
            f"source {display}: kpicore has no dialect for database {name!r} (dialects: {known}); "
            "install a plugin that registers one with the register_dialects hook"
        )
    return found


def validate(dialect) -> None:
    """A registered dialect is a ``Dialect`` subclass with a name."""
    from .base import Dialect

    if not (isinstance(dialect, type) and issubclass(dialect, Dialect)):
        raise TypeError(f"{dialect!r} is not a kpicore.dialects.base.Dialect subclass")
    if not dialect.name:
        raise TypeError(f"dialect {dialect.__name__} has no name (the SQLAlchemy dialect name it serves)")


@hookimpl(trylast=True)
def register_dialects(register):
    for dialect in builtin_dialects().values():
        register(dialect)


def __getattr__(name: str):
    if name == "Dialect":
        from .base import Dialect

        return Dialect
    raise AttributeError(name)


__all__ = ["Dialect", "dialect_class", "dialect_for", "register_dialects", "using"]
