"""The Source of a folder of files: names the file and line when DuckDB cannot read one."""

from __future__ import annotations

import re

import sqlalchemy as sa

from ..errors import SourceError
from ..source import Source


class FilesSource(Source):
    def __init__(self, *args, files, **kwargs):
        super().__init__(*args, **kwargs)
        self.files = files

    def _run(self, work):
        try:
            with self.engine.connect() as conn:
                return work(conn)
        except SourceError:
            raise
        except sa.exc.DBAPIError as error:
            raise SourceError(f"source {self.display}: {self._describe(error.orig)}") from None

    def _describe(self, error) -> str:
        text = str(error)
        line = re.search(r"CSV Error on Line: (\d+)", text)
        path = re.search(r"file[= ]'?([^'\s]+\.(?:csv|parquet))", text, re.IGNORECASE)
        name = path.group(1) if path else None
        if name is None:
            for candidate in self.files.values():
                if str(candidate) in text:
                    name = str(candidate)
        lines = text.strip().splitlines() or [type(error).__name__]
        detail = next((x for x in lines if x.startswith("Expected Number of Columns")), lines[0])
        where = f"{name or 'a file'}" + (f", line {line.group(1)}" if line else "")
        return f"cannot read {where}: {detail}"
