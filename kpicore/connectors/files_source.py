"""The Source of a folder of files: names the file and line when DuckDB cannot read one."""

from __future__ import annotations

import re
from pathlib import Path

from ..source import Source

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


class FilesSource(Source):
    entity_options = ("formats", "decimal", "sheet")

    def __init__(self, *args, files, reports=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.files = files
        #: What reading each entity's file found (``typed_files.FileReport``), by entity.
        self.reports = reports or {}

    def describe_error(self, error: Exception) -> str:
        text = str(error)
        name = next((str(path) for path in self.files.values() if str(path) in text), None)
        if name is None:
            path = re.search(r"file[= ]'?([^'\s]+\.(?:csv|parquet))", text, re.IGNORECASE)
            name = path.group(1) if path else None
        if name is None and _INVALID_STATE in text:  # DuckDB does not say which file: find the one
            name = next(
                (str(p) for p in self.files.values() if p.suffix.lower() == ".csv" and mixed_line_ends(p)),
                None,
            )
        return f"cannot read {name or 'a file'}" + describe_csv_error(error, Path(name) if name else None)


_INVALID_STATE = "state machine reached an invalid state"


def mixed_line_ends(path: Path) -> str | None:
    """'line N ends with CRLF, line M with LF' when a file mixes Windows and Unix line ends, else None."""
    first: dict[bytes, int] = {}
    line = 0
    previous = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            data = previous + chunk
            start = 0
            while (index := data.find(b"\n", start)) >= 0:
                line += 1
                first.setdefault(b"\r\n" if index > 0 and data[index - 1 : index] == b"\r" else b"\n", line)
                if len(first) == 2:
                    crlf, lf = first[b"\r\n"], first[b"\n"]
                    return f"line {crlf} ends with CRLF (Windows), line {lf} with LF"
                start = index + 1
            previous = data[-1:]
    return None


def describe_csv_error(error: Exception, path: Path | None = None) -> str:
    """', line N: what is wrong' from a DuckDB error (the line when it gives one)."""
    text = str(error)
    if _INVALID_STATE in text and path is not None and path.suffix.lower() == ".csv" and path.is_file():
        mixed = mixed_line_ends(path)
        if mixed:
            return f": its lines end in two ways ({mixed}): save it with one kind of line end"
    lines = text.strip().splitlines() or [type(error).__name__]
    detail = next((x for x in lines if x.startswith("Expected Number of Columns")), lines[0])
    line = _CSV_LINE.search(text)
    return (f", line {line.group(1)}" if line else "") + f": {detail}"
