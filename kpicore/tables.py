"""Tables of the state database defined once per process, however many threads ask at once.

SQLAlchemy's check-then-define on a ``MetaData`` is not atomic, so two threads answering or sending at
once could each define the same table. ``LiveTable`` keeps one definition for the process;
``created_table`` also creates the table in a database the first time it is used there (for the small
tables of chat webhooks and plugins, which have no migration). SQLAlchemy is imported only when a
table is first asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData, Table


class LiveTable:
    """``define(metadata)`` called once on a process-wide MetaData; calling the LiveTable returns the table."""

    def __init__(self, define: Callable[[MetaData], Table]) -> None:
        self._define = define
        self._metadata: MetaData | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Table:
        from sqlalchemy import MetaData

        with self._lock:
            if self._metadata is None:
                self._metadata = MetaData()
            return self._define(self._metadata)


_CREATED: dict[tuple[int, str], Any] = {}
_CREATED_LOCK = threading.Lock()


def created_table(engine: Engine, name: str, *columns: Any) -> Table:
    """Table ``name`` with ``columns``, created in ``engine``'s database if it is not there yet (once
    per engine and process)."""
    from sqlalchemy import MetaData, Table

    with _CREATED_LOCK:
        key = (id(engine), name)
        if key not in _CREATED:
            table = Table(name, MetaData(), *columns)
            table.create(engine, checkfirst=True)
            _CREATED[key] = table
        return _CREATED[key]
