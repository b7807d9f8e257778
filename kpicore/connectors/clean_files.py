"""The fast path of files as exported: a CSV file that is already clean is typed by DuckDB directly.

Clean means: every time value ISO 8601 text, every amount a plain number (``-1234.50``), no row
repeated and no id held twice. Those files read the same by either path (DuckDB casts exactly what the
rules of ``exported`` would read), and DuckDB reads them in C, in parallel, instead of one value at a
time in Python. Any other file takes the general path (``typed_files``).
"""

from __future__ import annotations

import os
from pathlib import Path

ISO_TIME = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?"
ISO_DATE = r"\d{4}-\d{2}-\d{2}"
PLAIN_NUMBER = r"-?\d+(\.\d+)?"
_SQL_TYPES = {"timestamp": "TIMESTAMPTZ", "date": "DATE", "number": "DOUBLE", "integer": "DOUBLE"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_if_clean(path: Path, typed: dict[str, str], identifier: str | None, reading, target: Path):
    """Write ``target`` (Parquet) from ``path`` when the file is clean and return its row count; None
    (writing nothing) when it is not. ``typed`` maps source column -> kind; ``identifier`` is the id column."""
    import duckdb

    from ..model import UNPARSED_SUFFIX
    from .csv_text import _csv_header, _reader

    if path.suffix.lower() != ".csv" or reading.formats or reading.decimal or reading.calendar == "persian":
        return None
    header, _ = _csv_header(path)
    if len(set(header)) != len(header):
        return None
    reader = _reader(path)
    present = {name: f"NULLIF(TRIM({_quoted(name)}), '')" for name in typed}
    checks = ["count(*)"]
    for name, kind in typed.items():
        pattern = {"timestamp": ISO_TIME, "date": ISO_DATE}.get(kind, PLAIN_NUMBER)
        cast = f"TRY_CAST({present[name]} AS {_SQL_TYPES[kind]})"
        bad = f"NOT regexp_full_match({present[name]}, '{pattern}') OR {cast} IS NULL"
        checks.append(f"count(*) FILTER (WHERE {present[name]} IS NOT NULL AND ({bad}))")
    if identifier is not None:
        ident = f"NULLIF(TRIM({_quoted(identifier)}), '')"
        checks += [f"count({ident})", f"count(DISTINCT {ident})"]
    connection = duckdb.connect()
    try:
        connection.execute(f"SET TimeZone = '{reading.timezone}'")
        try:
            counts = connection.execute(f"SELECT {', '.join(checks)} FROM {reader}").fetchone()
        except duckdb.Error:  # a row that does not fit the header: the general path says where
            return None
        assert counts is not None  # aggregates without GROUP BY: always one row
        rows = counts[0]
        if any(counts[1 : 1 + len(typed)]):
            return None
        if identifier is not None and counts[-2] != counts[-1]:
            return None  # an id held twice: the general path keeps the last row
        columns = []
        for name in header:
            if name in typed:
                columns.append(f"TRY_CAST({present[name]} AS {_SQL_TYPES[typed[name]]}) AS {_quoted(name)}")
            else:
                columns.append(_quoted(name))
        for name, kind in typed.items():
            flag = "false" if kind in ("timestamp", "date") else "CAST(NULL AS VARCHAR)"
            columns.append(f"{flag} AS {_quoted(name + UNPARSED_SUFFIX)}")
        partial = str(target) + ".partial"
        connection.execute(
            f"COPY (SELECT {', '.join(columns)} FROM {reader}) TO '{partial.replace(chr(39), chr(39) * 2)}' "
            "(FORMAT PARQUET)"
        )
    finally:
        connection.close()
    os.replace(partial, target)
    return rows
