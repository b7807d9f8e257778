"""A small DB-API 2.0 adapter over a ``SparkSession`` (Spark Connect or an embedded local session).

kpicore runs every source through SQLAlchemy: table discovery, the type probes of time columns, statement
timeouts, side-by-side queries and stopping them on the first failure all go through a DB-API connection.
This module is that connection for Spark: ``cursor.execute`` runs the SQL with ``session.sql`` and collects
the result as Arrow (one round trip; the Arrow schema tells ``TIMESTAMP`` from ``TIMESTAMP_NTZ``), the
cursor's ``description`` carries Spark type names (``TIMESTAMP``, ``TIMESTAMP_NTZ``, ``DATE``, ``STRING``),
and ``Connection.interrupt`` stops the running query with ``interruptTag`` (each connection tags its
operations). Bound parameters (``pyformat``) are inlined as Spark SQL literals: an aware datetime becomes
``TIMESTAMP '... +00:00'`` (an instant with its offset), a naive one ``TIMESTAMP_NTZ '...'``.

Only reading statements run: kpicore never writes to a source, and this adapter refuses anything else.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import threading
import uuid

apilevel = "2.0"
threadsafety = 1
paramstyle = "pyformat"


class Error(Exception):
    """Base of the adapter's errors. ``timed_out`` is True when the statement timeout stopped the query."""

    timed_out = False
    error_class: str | None = None


class Warning(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class OperationalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class DataError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


#: Statements a source connection may run (kpicore reads; it never writes to a source).
_READING = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|VALUES)\b", re.IGNORECASE)
#: "[ERROR_CLASS] message" at the start of a Spark error.
_ERROR_CLASS = re.compile(r"^\[([A-Z0-9_.]+)\]")


def literal(value) -> str:
    """A Python value as a Spark SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -(2**63) <= value < 2**63 else f"CAST('{value}' AS DECIMAL(38, 0))"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"double('{value}')"
        return f"CAST({value!r} AS DOUBLE)" if "e" not in repr(value) else repr(value)
    if isinstance(value, decimal.Decimal):
        return f"CAST('{value}' AS DECIMAL(38, 10))"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}{_offset(value)}'"
        return f"TIMESTAMP_NTZ '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _offset(value: dt.datetime) -> str:
    offset = value.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def render(operation: str, parameters=None) -> str:
    """The statement with its ``pyformat`` parameters inlined as literals."""
    if parameters is None:
        return operation
    if isinstance(parameters, dict):
        return operation % {key: literal(value) for key, value in parameters.items()}
    return operation % tuple(literal(value) for value in parameters)


def _type_name(arrow_type) -> str:
    """The Spark type name of an Arrow result column."""
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP" if arrow_type.tz is not None else "TIMESTAMP_NTZ"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "BIGINT" if arrow_type.bit_width == 64 else "INT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    if pa.types.is_decimal(arrow_type):
        return "DECIMAL"
    return str(arrow_type).upper()


def translate(error: Exception, timed_out: bool = False) -> Error:
    """A PySpark or gRPC error as the adapter's DB-API error: its first line, without the JVM stack."""
    text = None
    cause: BaseException | None = error
    seen = 0
    while cause is not None and seen < 5 and text is None:  # a gRPC error, perhaps behind PySpark's retries
        details = getattr(cause, "details", None)
        text = details() if callable(details) else None
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    text = str(text or getattr(error, "getMessage", lambda: None)() or error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    first = first.split(" SQLSTATE:")[0].strip()
    found = _ERROR_CLASS.match(first)
    kind = (
        ProgrammingError
        if found
        and ("NOT_FOUND" in found.group(1) or "PARSE" in found.group(1) or "UNRESOLVED" in found.group(1))
        else OperationalError
    )
    translated = kind(first)
    translated.error_class = found.group(1) if found else None
    translated.timed_out = timed_out
    return translated


class Connection:
    """One DB-API connection over a shared ``SparkSession``; its queries carry its own operation tag."""

    def __init__(self, session, timeout: float | None = None):
        self.session = session
        self.timeout = timeout
        self.tag = f"kpicore-{uuid.uuid4().hex}"
        self._lock = threading.Lock()
        self._running = 0
        self._timed_out = False
        self.closed = False

    def cursor(self) -> Cursor:
        if self.closed:
            raise InterfaceError("the connection is closed")
        return Cursor(self)

    def commit(self) -> None:
        """Nothing to commit: sources are only read."""

    def rollback(self) -> None:
        """Nothing to roll back: sources are only read."""

    def close(self) -> None:
        self.closed = True

    def interrupt(self) -> None:
        """Stop the query running on this connection (from another thread)."""
        self.session.interruptTag(self.tag)

    cancel = interrupt

    def _run(self, sql: str):
        """Run ``sql`` tagged with this connection's tag, stopped after ``timeout`` seconds."""
        timer = None
        self._timed_out = False
        if self.timeout:

            def past_deadline():
                self._timed_out = True
                self.interrupt()

            timer = threading.Timer(self.timeout, past_deadline)
            timer.daemon = True
        self.session.addTag(self.tag)  # thread-local: tags the operations this thread starts
        try:
            if timer is not None:
                timer.start()
            return self.session.sql(sql).toArrow()
        except Exception as error:
            raise translate(error, self._timed_out) from error
        finally:
            if timer is not None:
                timer.cancel()
            self.session.removeTag(self.tag)


class Cursor:
    """A DB-API cursor: ``execute`` collects the whole result (kpicore's results are a few rows)."""

    arraysize = 1000

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self._rows: list[tuple] = []
        self._position = 0

    def execute(self, operation: str, parameters=None):
        sql = render(operation, parameters)
        if not _READING.match(sql):
            raise NotSupportedError(
                "a kpicore source is read-only: only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN run"
            )
        table = self.connection._run(sql)
        self.description = [
            (field.name, _type_name(field.type), None, None, None, None, True) for field in table.schema
        ]
        columns = [column.to_pylist() for column in table.columns]
        self._rows = list(zip(*columns, strict=False)) if columns else []
        self._position = 0
        self.rowcount = len(self._rows)
        return self

    def executemany(self, operation, seq_of_parameters):
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size=None):
        size = size or self.arraysize
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def close(self) -> None:
        self._rows = []

    def setinputsizes(self, sizes):
        pass

    def setoutputsize(self, size, column=None):
        pass

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row
