"""What reading a source left out of a metric: values that did not parse and repeated rows.

A folder of files as exported keeps a report per entity (``kpicore.connectors.typed_files``); the
metric's share of it is the columns its measures read.
"""

from __future__ import annotations

from collections.abc import Callable

from .results import Duplicates, LeftOut


def reading_notes(
    source, columns_read: Callable[[], dict[str, list[str]]]
) -> tuple[list[LeftOut], list[Duplicates], int]:
    """The left-out values and the duplicates of the entities and columns a metric reads
    (``columns_read()``: entity -> columns), and how many records hold a value left out."""
    reports = getattr(source, "reports", None)
    if not reports:
        return [], [], 0
    read = columns_read()
    for entity in list(read):  # a derived entity reads every column of the entities it is built from
        for base in source.derived_from.get(entity, ()):
            read[base] = list(reports[base].columns) if base in reports else []
    left_out: list[LeftOut] = []
    duplicates: list[Duplicates] = []
    records = 0
    for entity, columns in read.items():
        report = reports.get(entity)
        if report is None:
            continue
        lines: set[int] = set()
        for name in columns:
            column = report.columns.get(name)
            lines.update(column.lines if column else ())
            for reason, count in sorted((column.reasons if column else {}).items()):
                left_out.append(LeftOut(entity, name, count, reason))
        records += len(lines)
        if report.duplicate_rows:
            duplicates.append(Duplicates(entity, "rows", report.duplicate_rows))
        if report.duplicate_ids:
            duplicates.append(Duplicates(entity, "ids", report.duplicate_ids))
    left_out.sort(key=lambda item: (item.entity, item.column, item.reason))
    return left_out, duplicates, records
