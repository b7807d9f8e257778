"""Database URLs as kpi.toml writes them, made into SQLAlchemy URLs: the one reading of ``state_url``,
``[sync] url`` and a source's URL.

A bare path is a SQLite file (relative paths against the config's folder); a scheme a dialect lists as an
alias means that dialect (``postgres://`` is PostgreSQL, ``mariadb://`` MySQL); a URL naming no driver
gets the one the dialect is tested with (psycopg 3, PyMySQL).
"""

from __future__ import annotations

from pathlib import Path

SQLITE = "sqlite"


def database_url(url: str, base_dir: Path | None = None) -> str:
    """The SQLAlchemy URL for ``url`` (see the module docstring); a relative SQLite path resolves
    against ``base_dir`` when given."""
    from . import dialect_class

    if "://" not in url:
        path = Path(url)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return f"{SQLITE}:///{path}"
    scheme, rest = url.split("://", 1)
    backend, _, driver = scheme.partition("+")
    known = dialect_class(backend)
    if known is not None and (backend != known.name or not driver):
        driver = driver or known.default_driver or ""
        scheme = known.name + (f"+{driver}" if driver else "")
    if backend == SQLITE and base_dir is not None and rest.startswith("/") and not rest.startswith("//"):
        relative = rest[1:]
        if relative and not relative.startswith(":memory:"):
            rest = f"/{base_dir / relative}"
    return f"{scheme}://{rest}"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for another database or an in-memory one)."""
    scheme, _, rest = url.partition("://")
    if scheme.partition("+")[0] != SQLITE or not rest.startswith("/"):
        return None
    path = rest[1:].split("?", 1)[0]
    return Path(path) if path and not path.startswith(":memory:") else None
