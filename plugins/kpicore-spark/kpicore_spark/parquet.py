"""A SQLite database (``kpi demo``'s) as Parquet files: time columns as instants (``TIMESTAMP`` in Spark).

The entities' column kinds say which columns are times: ISO text with an offset is that instant, text
without one is read in ``timezone`` (as kpicore reads the SQLite file); text that is not a time becomes
NULL. Other columns keep SQLite's values (numbers as doubles, the rest as text).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo


def _instant(value, timezone: ZoneInfo):
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone)
    return parsed.astimezone(dt.UTC)


def _day(value):
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value not in (None, "") else None
    except ValueError:
        return None


def write_parquet(database: Path, folder: Path, timezone: ZoneInfo) -> dict[str, tuple[str, int]]:
    """Write every entity table of ``database`` as ``folder/<table>.parquet``; returns {table: (path, rows)}."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    registry = build_registry(new_plugin_manager())
    kinds = {name: {c.name: c.kind for c in r.item.columns} for name, r in registry.entities.items()}
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        for table in tables:
            if table not in kinds:  # kpicore's own bookkeeping (_kpicore_demo), or no entity reads it
                continue
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            arrays = []
            for index, name in enumerate(names):
                values = [row[index] for row in rows]
                kind = kinds.get(table, {}).get(name)
                if kind == "timestamp":
                    arrays.append(
                        pa.array([_instant(v, timezone) for v in values], pa.timestamp("us", tz="UTC"))
                    )
                elif kind == "date":
                    arrays.append(pa.array([_day(v) for v in values], pa.date32()))
                elif kind in ("number", "integer") or (
                    values
                    and all(
                        isinstance(v, int | float) and not isinstance(v, bool)
                        for v in values
                        if v is not None
                    )
                    and any(v is not None for v in values)
                ):
                    arrays.append(
                        pa.array(
                            [float(v) if isinstance(v, int | float) else None for v in values], pa.float64()
                        )
                    )
                else:
                    arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
            path = (folder / f"{table}.parquet").resolve()
            pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
            written[table] = (str(path), len(rows))
    return written
