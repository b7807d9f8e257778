"""Spark SQL as a SQLAlchemy dialect (``engine.dialect.name == "spark"``), over ``kpicore_spark.dbapi``.

SQLAlchemy Core's default compiler writes ANSI SQL that Spark reads; what differs is written here:
backtick quoting (every identifier quoted, so no Spark keyword is ever mistaken for a name), Spark's type
names in casts (``TIMESTAMP``, ``TIMESTAMP_NTZ``, ``STRING``, ``DOUBLE``, ``BIGINT``), ``/`` that always
divides as a double, literals for ``kpi metrics --details`` and catalog reflection with ``SHOW TABLES`` /
``SHOW VIEWS`` (their first column is the database, not the name). No existing Hive/Spark dialect is
reused: PyHive's speaks HiveServer2 (Thrift), not Spark Connect, and reports types as ``TIMESTAMP_TYPE``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import default
from sqlalchemy.sql import compiler

from . import dbapi


class SparkTypeCompiler(compiler.GenericTypeCompiler):
    def visit_DATETIME(self, type_, **kw):
        return "TIMESTAMP" if getattr(type_, "timezone", True) else "TIMESTAMP_NTZ"

    def visit_datetime(self, type_, **kw):
        return "TIMESTAMP" if type_.timezone else "TIMESTAMP_NTZ"

    def visit_TIMESTAMP(self, type_, **kw):
        return "TIMESTAMP" if type_.timezone else "TIMESTAMP_NTZ"

    def visit_TEXT(self, type_, **kw):
        return "STRING"

    visit_VARCHAR = visit_CHAR = visit_NVARCHAR = visit_NCHAR = visit_CLOB = visit_TEXT

    def visit_string(self, type_, **kw):
        return "STRING"

    visit_text = visit_unicode = visit_unicode_text = visit_string

    def visit_FLOAT(self, type_, **kw):
        return "DOUBLE"

    visit_REAL = visit_DOUBLE = visit_DOUBLE_PRECISION = visit_float = visit_double = visit_FLOAT

    def visit_NUMERIC(self, type_, **kw):
        # Spark's bare NUMERIC is DECIMAL(10, 0): it would round every amount to a whole number.
        return "DOUBLE"

    visit_DECIMAL = visit_numeric = visit_NUMERIC

    def visit_INTEGER(self, type_, **kw):
        return "BIGINT"

    visit_integer = visit_big_integer = visit_BIGINT = visit_SMALLINT = visit_small_integer = visit_INTEGER

    def visit_BOOLEAN(self, type_, **kw):
        return "BOOLEAN"

    visit_boolean = visit_BOOLEAN


class SparkIdentifierPreparer(compiler.IdentifierPreparer):
    def __init__(self, dialect):
        super().__init__(dialect, initial_quote="`", escape_quote="`")

    def _requires_quotes(self, value):
        return True


class SparkCompiler(compiler.SQLCompiler):
    def render_literal_value(self, value, type_):
        return dbapi.literal(value)

    def visit_true(self, expr, **kw):
        return "true"

    def visit_false(self, expr, **kw):
        return "false"


class SparkSQLDialect(default.DefaultDialect):
    """Spark SQL through ``kpicore_spark.dbapi`` (the engine is made with a ``creator``)."""

    name = "spark"
    driver = "connect"
    paramstyle = "pyformat"
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = True
    supports_alter = False
    supports_sequences = False
    postfetch_lastrowid = False
    div_is_floordiv = False
    max_identifier_length = 255
    statement_compiler = SparkCompiler
    type_compiler_cls = SparkTypeCompiler
    preparer = SparkIdentifierPreparer  # type: ignore[assignment]  # SQLAlchemy's stubs type it as the base class
    default_schema_name = "default"

    @classmethod
    def import_dbapi(cls):
        return dbapi

    def initialize(self, connection):
        # DefaultDialect asks for the server version, isolation level and more: Spark has none of that.
        self.server_version_info = ()
        self.default_isolation_level = None

    def _get_default_schema_name(self, connection):
        return "default"

    def get_isolation_level(self, dbapi_connection):
        return None

    def set_isolation_level(self, dbapi_connection, level):
        pass

    def do_rollback(self, dbapi_connection):
        pass

    def do_commit(self, dbapi_connection):
        pass

    def do_ping(self, dbapi_connection):
        return True

    def _quote(self, name: str) -> str:
        return self.identifier_preparer.quote_identifier(name)

    @sa.engine.reflection.cache
    def get_table_names(self, connection, schema=None, **kw):
        """Tables of ``schema`` (the session's database when None), without the session's temp views."""
        statement = f"SHOW TABLES IN {self._quote(schema)}" if schema else "SHOW TABLES"
        rows = connection.exec_driver_sql(statement).all()
        return [row[1] for row in rows if not row[2]]  # (namespace, tableName, isTemporary)

    @sa.engine.reflection.cache
    def get_view_names(self, connection, schema=None, **kw):
        statement = f"SHOW VIEWS IN {self._quote(schema)}" if schema else "SHOW VIEWS"
        rows = connection.exec_driver_sql(statement).all()
        return [row[1] for row in rows if not row[2]]

    def get_temp_view_names(self, connection, schema=None, **kw):
        rows = connection.exec_driver_sql("SHOW VIEWS").all()
        return [row[1] for row in rows if row[2]]

    def has_table(self, connection, table_name, schema=None, **kw):
        return table_name in self.get_table_names(connection, schema) or table_name in self.get_view_names(
            connection, schema
        )

    def get_columns(self, connection, table_name, schema=None, **kw):
        raise NotImplementedError("kpicore reads a Spark relation's columns from a probe query")


sa.dialects.registry.register("kpicore_spark", "kpicore_spark.sqla", "SparkSQLDialect")
