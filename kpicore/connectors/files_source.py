"""The Source of a folder of files: names the file and line when DuckDB cannot read one."""

from __future__ import annotations

import re

from ..source import Source

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


class FilesSource(Source):
    def __init__(self, *args, files, **kwargs):
        super().__init__(*args, **kwargs)
        self.files = files

    def describe_error(self, error: Exception) -> str:
        text = str(error)
        name = next((str(path) for path in self.files.values() if str(path) in text), None)
        if name is None:
            path = re.search(r"file[= ]'?([^'\s]+\.(?:csv|parquet))", text, re.IGNORECASE)
            name = path.group(1) if path else "a file"
        return f"cannot read {name}" + describe_csv_error(error)


def describe_csv_error(error: Exception) -> str:
    """', line N: what is wrong' from a DuckDB error (the line when it gives one)."""
    text = str(error)
    lines = text.strip().splitlines() or [type(error).__name__]
    detail = next((x for x in lines if x.startswith("Expected Number of Columns")), lines[0])
    line = _CSV_LINE.search(text)
    return (f", line {line.group(1)}" if line else "") + f": {detail}"
