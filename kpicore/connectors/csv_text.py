"""How a CSV file of a folder is read as text: its header row and delimiter, and DuckDB's reader for it."""

from __future__ import annotations

from pathlib import Path

from ..errors import SourceError


def _reader(path: Path) -> str:
    """The DuckDB table function reading one file; CSV is read strictly, every cell as text."""
    quoted = str(path).replace("'", "''")
    if path.suffix.lower() == ".parquet":
        return f"read_parquet('{quoted}')"
    header, delimiter = _csv_header(path)
    columns = ", ".join("'" + name.replace("'", "''") + "': 'VARCHAR'" for name in header)
    return (
        f"read_csv('{quoted}', auto_detect = false, header = true, delim = '{delimiter}', quote = '\"', "
        f"escape = '\"', columns = {{{columns}}})"
    )


#: The widest CSV read (Excel's limit, so any spreadsheet export fits). DuckDB plans a file's columns one
#: by one: 10,000 take seconds, 100,000 took more than two minutes, so a wider header is refused at once.
MAX_COLUMNS = 16_384
#: The longest header row read (a row of MAX_COLUMNS long names fits).
MAX_HEADER_CHARS = 4 * 1024 * 1024

#: Delimiters besides ',' that a header row may show (spreadsheets in many locales write ';').
_OTHER_DELIMITERS = (";", "\t", "|")


def _csv_header(path: Path) -> tuple[list[str], str]:
    """The header row and the delimiter, read with the csv module (one line, not the data).

    The delimiter is ',' unless the header is one name holding ';', a tab or '|' (and no ','): then that.
    """
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first_line = handle.readline(MAX_HEADER_CHARS + 1)  # bounded: a file may be one endless line
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"cannot read {path}: {error}") from None
    if len(first_line) > MAX_HEADER_CHARS:
        raise SourceError(
            f"cannot read {path}: its header row is longer than {MAX_HEADER_CHARS:,} characters "
            "(expected a row of column names, then the data)"
        )
    delimiter = ","
    if "," not in first_line:
        delimiter = next((d for d in _OTHER_DELIMITERS if d in first_line), ",")
    header = next(csv.reader([first_line], delimiter=delimiter), None)
    if not header or not first_line.strip():
        raise SourceError(f"cannot read {path}: the file is empty (expected a header row)")
    if len(header) > MAX_COLUMNS:
        raise SourceError(
            f"cannot read {path}: its header has {len(header):,} columns, more than the "
            f"{MAX_COLUMNS:,} kpicore reads: keep the columns the metrics need"
        )
    return [name.strip() for name in header], delimiter
