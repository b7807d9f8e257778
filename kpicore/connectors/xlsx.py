"""Reading the first sheet (or a named one) of an .xlsx file, with python-calamine.

Cells come as Python values: text, numbers, and dates where the cell is formatted as one (calamine reads
the workbook's 1900 or 1904 date system). A number in a time column is an Excel serial day, read in the
workbook's date system (``serial_day``).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

from ..errors import SourceError

#: Day 0 of the two Excel date systems (1900's is 1899-12-30, which absorbs Lotus's 1900-02-29).
EPOCH_1900 = dt.datetime(1899, 12, 30)
EPOCH_1904 = dt.datetime(1904, 1, 1)


def date_system(path: Path) -> dt.datetime:
    """The epoch of the workbook's date system (``<workbookPr date1904="1"/>`` means 1904)."""
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return EPOCH_1900
    found = re.search(r"<(?:\w+:)?workbookPr\b[^>]*\bdate1904=\"(1|true)\"", workbook)
    return EPOCH_1904 if found else EPOCH_1900


def serial_day(value: float, epoch: dt.datetime = EPOCH_1900) -> dt.datetime | None:
    """An Excel serial day (45978.5 is 2025-11-17 12:00 in the 1900 system) as a naive datetime."""
    if not 0 < value < 2_958_466:  # 9999-12-31
        return None
    return epoch + dt.timedelta(days=value)


def read_sheet(path: Path, sheet: str | None = None):
    """The header, the (row number, cells) of each data row, and the workbook's epoch."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises its own error types for a damaged file
        raise SourceError(f"cannot read {path}: {error}") from None
    names = workbook.sheet_names
    if not names:
        raise SourceError(f"cannot read {path}: the workbook has no sheet")
    if sheet is not None and sheet not in names:
        raise SourceError(f"cannot read {path}: no sheet {sheet!r} (sheets: {', '.join(names)})")
    rows = workbook.get_sheet_by_name(sheet or names[0]).to_python(skip_empty_area=False)
    if not rows:
        raise SourceError(
            f"cannot read {path}: the sheet {sheet or names[0]!r} is empty (expected a header row)"
        )
    header = [str(name).strip() for name in rows[0]]
    while header and not header[-1]:
        header.pop()
    data = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [None if c == "" else c for c in row[: len(header)]]
        if any(c is not None for c in cells):
            data.append((number, cells))
    return header, data, date_system(path)
