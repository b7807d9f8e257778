"""A CSV or .xlsx file as exported, read once into typed columns (Parquet) for the embedded engine.

``prepare`` reads the file, drops repeated rows (identical rows once; rows sharing an id: the last in
file order), reads each time and number column of the entity by the format its values share
(``kpicore.connectors.exported``), and writes the typed rows, with a flag beside each column for what
did not parse, to a Parquet file in the cache. The cache is keyed by the file's path, size and mtime and
by the settings that change the reading, so a second run reads the Parquet file and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import SourceError
from ..model import UNPARSED_SUFFIX
from . import exported

#: Bumped when the reading rules change, so that older cache entries are not read.
CACHE_VERSION = "3"
EXAMPLES = 3
TIME_KINDS = ("timestamp", "date")
NUMBER_KINDS = ("number", "integer")


@dataclass
class ColumnReport:
    """What reading one column found: the values left out, why, and a few of them with their lines."""

    column: str  # the canonical name
    source_column: str
    kind: str
    left_out: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[int, str]] = field(default_factory=list)  # (line, text)
    lines: list[int] = field(default_factory=list)  # the line of every value left out
    #: How the column was read: "day first" / "month first" / "year first", or "decimal ','".
    reading: str | None = None
    decided_by: str | None = None  # "values", "locale" or "kpi.toml"


@dataclass
class FileReport:
    """What reading one entity's file found (for the results, ``kpi check --data`` and the docs)."""

    entity: str
    path: str
    rows: int = 0
    columns: dict[str, ColumnReport] = field(default_factory=dict)
    duplicate_rows: int = 0  # rows identical to an earlier one, counted once
    duplicate_ids: int = 0  # earlier rows replaced by a later one with the same id
    duplicate_id_examples: list[str] = field(default_factory=list)
    duplicate_row_lines: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "columns"}
        data["columns"] = {name: vars(column) for name, column in self.columns.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> FileReport:
        columns = {
            name: ColumnReport(**{**c, "examples": [tuple(e) for e in c["examples"]]})
            for name, c in data.pop("columns").items()
        }
        return cls(**data, columns=columns)


@dataclass(frozen=True)
class Reading:
    """The settings that change how a file is read (part of the cache key)."""

    timezone: str
    locale: str = "en"
    calendar: str = "gregorian"
    formats: tuple[tuple[str, str], ...] = ()
    decimal: str | None = None
    sheet: str | None = None


def prepare(path: Path, entity, mapping, reading: Reading, directory: Path) -> tuple[Path, FileReport]:
    """The Parquet file of ``path``'s rows, typed, and the report of what reading it found (cached)."""
    stat = path.stat()
    renames = sorted((mapping.columns if mapping else {}).items())
    key_text = json.dumps(
        [
            CACHE_VERSION,
            str(path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            asdict(reading),
            entity.name,
            renames,
        ]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:32]
    parquet, report_file = directory / f"{key}.parquet", directory / f"{key}.json"
    if parquet.is_file() and report_file.is_file():
        try:
            return parquet, FileReport.from_json(json.loads(report_file.read_text()))
        except (ValueError, TypeError, KeyError):
            pass  # an unreadable entry is written again
    directory.mkdir(parents=True, exist_ok=True)
    report = FileReport(entity.name, str(path))
    if _copied_clean(path, entity, mapping, reading, parquet, report):
        report_file.write_text(json.dumps(report.to_json()))
        return parquet, report
    header, rows, epoch = read_rows(path, reading.sheet)
    rows = _deduplicated(entity, mapping, header, rows, report)
    report.rows = len(rows)
    typed = _typed_columns(entity, mapping, header, rows, reading, report, epoch)
    _write_parquet(header, rows, typed, reading.timezone, parquet)
    report_file.write_text(json.dumps(report.to_json()))
    return parquet, report


def _copied_clean(path: Path, entity, mapping, reading: Reading, parquet: Path, report: FileReport) -> bool:
    """The fast path (``clean_files``): True when the file was clean and is written to ``parquet``."""
    from .clean_files import copy_if_clean
    from .csv_text import _csv_header

    if path.suffix.lower() != ".csv":
        return False
    header, _ = _csv_header(path)
    typed = {}
    for column in entity.columns:
        source_name = mapping.source_column(column.name) if mapping else column.name
        if column.kind in TIME_KINDS + NUMBER_KINDS and source_name in header:
            typed[source_name] = column
    own_id = id_column(entity)
    identifier = (mapping.source_column(own_id) if mapping else own_id) if own_id else None
    if identifier is not None and identifier not in header:
        identifier = None
    kinds = {name: column.kind for name, column in typed.items()}
    rows = copy_if_clean(path, kinds, identifier, reading, parquet)
    if rows is None:
        return False
    report.rows = rows
    for name, column in typed.items():
        is_time = column.kind in TIME_KINDS
        reading_text = exported.YEAR_FIRST if is_time else "decimal '.'"
        report.columns[column.name] = ColumnReport(
            column.name, name, column.kind, reading=reading_text, decided_by="values"
        )
    return True


def read_rows(path: Path, sheet: str | None = None):
    """The header, the (line number, cells) of every row of a CSV or .xlsx file, and the epoch of a
    workbook's serial days (None for CSV)."""
    if path.suffix.lower() == ".xlsx":
        from .xlsx import read_sheet

        return read_sheet(path, sheet)
    import csv

    from .csv_text import _csv_header

    header, delimiter = _csv_header(path)
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        try:
            for cells in reader:
                if len(cells) > len(header):
                    raise SourceError(
                        f"cannot read {path}, line {reader.line_num}: Expected Number of Columns: "
                        f"{len(header)} Found: {len(cells)} (a value holding the delimiter must be quoted)"
                    )
                if cells:
                    rows.append((reader.line_num, cells))
        except (csv.Error, UnicodeDecodeError) as error:
            raise SourceError(f"cannot read {path}, line {reader.line_num + 1}: {error}") from None
    return header, rows, None


def id_column(entity) -> str | None:
    """The entity's own id (its first id column: order_id of orders), or None (marketing_spend)."""
    return next((c.name for c in entity.columns if c.kind == "id"), None)


def _deduplicated(entity, mapping, header, rows, report: FileReport) -> list:
    """Rows identical in every cell once; of rows sharing an id, the last in file order."""
    if entity is None or id_column(entity) is None:
        return rows
    identifier = mapping.source_column(id_column(entity)) if mapping else id_column(entity)
    index = header.index(identifier) if identifier in header else None
    seen: set[int] = set()
    unique: list[tuple[int, list]] = []
    last: dict = {}
    for line, cells in rows:
        digest = hash(tuple(cells))
        if digest in seen:
            report.duplicate_rows += 1
            if len(report.duplicate_row_lines) < EXAMPLES:
                report.duplicate_row_lines.append(line)
            continue
        seen.add(digest)
        if index is not None:
            last[_identifier(cells, index)] = len(unique)
        unique.append((line, cells))
    if index is None:
        return unique
    last.pop(None, None)
    kept = []
    for position, (line, cells) in enumerate(unique):
        value = _identifier(cells, index)
        if value is not None and last[value] != position:
            report.duplicate_ids += 1
            if (
                len(report.duplicate_id_examples) < EXAMPLES
                and str(value) not in report.duplicate_id_examples
            ):
                report.duplicate_id_examples.append(str(value))
            continue
        kept.append((line, cells))
    return kept


def _identifier(cells, index: int):
    """The row's id (trimmed text, or a spreadsheet's number), None when empty."""
    value = cells[index] if index < len(cells) else None
    if isinstance(value, str):
        value = value.strip()
    return None if value in (None, "") else value


def _typed_columns(entity, mapping, header, rows, reading: Reading, report: FileReport, epoch=None) -> dict:
    """{header index: (kind, typed values, left-out flags)} for the entity's time and number columns."""
    formats = dict(reading.formats)
    typed = {}
    for column in entity.columns if entity is not None else ():
        if column.kind not in TIME_KINDS + NUMBER_KINDS:
            continue
        source_name = mapping.source_column(column.name) if mapping else column.name
        if source_name not in header:
            continue
        index = header.index(source_name)
        cells = [cells[index] if index < len(cells) else None for _, cells in rows]
        column_report = ColumnReport(column.name, source_name, column.kind)
        if column.kind in TIME_KINDS:
            given = formats.get(source_name) or formats.get(column.name)
            read = _read_times(cells, column.kind, reading, given, epoch)
            column_report.reading = read.format or read.order
            column_report.decided_by = "kpi.toml" if read.format else read.decided_by
        else:
            read = exported.infer_numbers(cells, locale=reading.locale, decimal=reading.decimal)
            column_report.reading = f"decimal {read.decimal!r}"
            column_report.decided_by = read.decided_by
        for position, reason in sorted(read.left_out.items()):
            column_report.left_out += 1
            column_report.lines.append(rows[position][0])
            column_report.reasons[reason] = column_report.reasons.get(reason, 0) + 1
            if len(column_report.examples) < EXAMPLES:
                column_report.examples.append((rows[position][0], str(cells[position]).strip()))
        report.columns[column.name] = column_report
        typed[index] = (column.kind, read.values, read.left_out)
    return typed


def _read_times(cells, kind: str, reading: Reading, format: str | None, epoch=None):
    """Text through ``exported.infer_times``; spreadsheet dates and serial days as they are."""
    texts = [c if isinstance(c, str) else None for c in cells]
    read = exported.infer_times(
        texts,
        locale=reading.locale,
        persian=reading.calendar == "persian",
        with_time=kind == "timestamp",
        format=format,
    )
    for position, cell in enumerate(cells):
        value: dt.date | None
        if isinstance(cell, (dt.datetime, dt.date)):
            value = cell
        elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
            from .xlsx import EPOCH_1900, serial_day

            value = serial_day(cell, epoch or EPOCH_1900)
            if value is None:
                read.left_out[position] = exported.NOT_A_TIME
        else:
            continue
        if kind == "date" and isinstance(value, dt.datetime):
            value = value.date()
        read.values[position] = value
    return read


def _text(kind: str, value) -> str:
    if value is None:
        return ""
    if kind in NUMBER_KINDS:
        return repr(float(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat()


def _write_parquet(header, rows, typed, timezone: str, target: Path) -> None:
    """Write the rows, typed columns as text read back by DuckDB as TIMESTAMPTZ, DATE or DOUBLE."""
    import csv
    import tempfile

    import duckdb

    flags = {i: header[i] + UNPARSED_SUFFIX for i in typed}
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", dir=target.parent, delete=False, newline="", encoding="utf-8"
    ) as handle:
        staging = Path(handle.name)
        writer = csv.writer(handle)
        writer.writerow([*header, *flags.values()])
        for position, (_, cells) in enumerate(rows):
            out = [c if isinstance(c, str) else ("" if c is None else str(c)) for c in cells[: len(header)]]
            out += [""] * (len(header) - len(out))
            extra = []
            for index, (kind, values, left_out) in typed.items():
                out[index] = _text(kind, values[position])
                unparsed = position in left_out
                if kind in NUMBER_KINDS:
                    extra.append(str(cells[index]).strip() if unparsed else "")
                else:
                    extra.append("true" if unparsed else "false")
            writer.writerow(out + extra)
    names = [*header, *flags.values()]
    sql_types = {"timestamp": "TIMESTAMPTZ", "date": "DATE", "number": "DOUBLE", "integer": "DOUBLE"}
    kinds = {header[i]: kind for i, (kind, _, _) in typed.items()}
    casts = []
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        if name in kinds and name not in flags.values():
            casts.append(f"TRY_CAST({quoted} AS {sql_types[kinds[name]]}) AS {quoted}")
        elif name in flags.values() and kinds[name.removesuffix(UNPARSED_SUFFIX)] in TIME_KINDS:
            casts.append(f"CAST({quoted} AS BOOLEAN) AS {quoted}")
        else:
            casts.append(quoted)
    columns = ", ".join("'" + n.replace("'", "''") + "': 'VARCHAR'" for n in names)
    staged = str(staging).replace("'", "''")
    connection = duckdb.connect()
    try:
        connection.execute(f"SET TimeZone = '{timezone}'")
        partial = str(target) + ".partial"
        connection.execute(
            f"COPY (SELECT {', '.join(casts)} FROM read_csv('{staged}', header = true, auto_detect = false, "
            f"quote = '\"', escape = '\"', columns = {{{columns}}})) TO '{partial.replace(chr(39), chr(39) * 2)}' "
            "(FORMAT PARQUET)"
        )
        os.replace(partial, target)
    finally:
        connection.close()
        staging.unlink(missing_ok=True)


def left_out_summary(report: FileReport) -> Counter:
    """Left-out values per canonical column."""
    return Counter({name: c.left_out for name, c in report.columns.items() if c.left_out})
