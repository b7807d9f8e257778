"""The Spark connector: ``sc://`` URLs (Spark Connect) and ``spark-local://`` (an embedded local session).

``sc://host:15002/;token=...;use_ssl=true`` is any Spark Connect endpoint (a cluster, Databricks, EMR, a
local server); the token is a secret, shown as ``***`` in every message. ``spark-local://`` (optionally
``spark-local://?cores=2``) starts Spark inside the kpi process, for trying it on a laptop (it needs the full
``pyspark`` with Java). ``[source] schema`` names the catalog database; an entity maps to a table there
(``table``), to a query (``query``), or to Parquet or Delta files (``path``, with ``format``), read through
a temporary view of the session.
"""

from __future__ import annotations

import re
import socket
import urllib.parse
import warnings
from typing import Any

from kpicore.connectors import Connector
from kpicore.errors import ConfigError, MappingError, SourceError
from kpicore.source import Source

SCHEMES = ("sc", "spark-local")
#: Spark Connect's default port.
DEFAULT_PORT = 15002
#: Entity mapping keys this plugin reads (declared through ``register_settings``).
ENTITY_OPTIONS = {
    "path": "Parquet or Delta files of the entity (a file or folder: /data/orders/, s3a://bucket/orders/)",
    "format": "the format of path: parquet (default) or delta",
}
FORMATS = ("parquet", "delta")
#: How long the connector waits for the server's port before saying it is not running (seconds).
CONNECT_TIMEOUT = 10.0
_TOKEN = re.compile(r"(;\s*token\s*=)[^;/?#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """``url`` with its token (and any password) shown as ``***``."""
    text = _TOKEN.sub(r"\1***", url)
    parts = urllib.parse.urlsplit(text)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        text = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return text


def scrub(text: str, url: str) -> str:
    """``text`` without the token of ``url`` anywhere in it (errors may quote the connection string)."""
    found = re.search(r";\s*token\s*=([^;/?#]*)", url, re.IGNORECASE)
    if found and found.group(1):
        text = text.replace(found.group(1), "***")
    return text


def _quiet_pyspark() -> None:
    """PySpark's client logs every failed query's JVM stack at ERROR level and warns about pandas: kpicore
    reports the failure itself, in one line."""
    import logging
    import os

    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # gRPC's C core logs TLS handshake failures to stderr
    for name in ("SQLQueryContextLogger", "pyspark", "py4j"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    warnings.filterwarnings("ignore", message=".*RETRIES_EXCEEDED.*")


class SparkConnector(Connector):
    name = "spark"
    description = (
        "Apache Spark: sc://host:15002 (Spark Connect) or spark-local:// (an embedded local session)"
    )

    def handles(self, url: str) -> bool:
        return url.split("://", 1)[0].lower() in SCHEMES if "://" in url else False

    def open(self, url, config, entities):
        from kpicore.periods import get_timezone

        display = redact(url)
        scheme = url.split("://", 1)[0].lower()
        _quiet_pyspark()
        try:
            import pyarrow  # noqa: F401
            import pyspark  # noqa: F401
        except ImportError as error:
            raise ConfigError(
                f"source {display}: {error.name} is not installed: pip install 'kpicore-spark[connect]' "
                "(or 'kpicore-spark[client]' for Spark Connect only)"
            ) from None
        timezone = get_timezone(config.timezone)
        session = _local_session(url, display) if scheme == "spark-local" else _connect_session(url, display)
        try:
            session.conf.set("spark.sql.session.timeZone", timezone.key)
        except Exception as error:
            _stop(session)
            raise SourceError(f"source {display}: {_one_line(error, url)}") from None
        source = SparkSource.create(session, url, config, entities, display=display, timezone=timezone)
        try:
            source.register_paths()
        except BaseException:
            source.close()
            raise
        return source


def _one_line(error: Exception, url: str) -> str:
    from . import dbapi

    return scrub(str(dbapi.translate(error)), url)


def _connect_session(url: str, display: str):
    """A new Spark Connect session (``create``, not ``getOrCreate``: two sources never share one)."""
    parts = urllib.parse.urlsplit(url.split(";", 1)[0])
    host, port = parts.hostname or "localhost", parts.port or DEFAULT_PORT
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise SourceError(
            f"source {display}: no Spark Connect server answers at {host}:{port} ({reason}): start it "
            "(sbin/start-connect-server.sh) or check the host and port"
        ) from None
    from pyspark.sql import SparkSession

    try:
        session = SparkSession.builder.remote(url).create()
        _bounded_retries(session)
        session.sql("SELECT 1").collect()  # the server speaks Spark Connect, and the token is accepted
    except Exception as error:
        raise SourceError(f"source {display}: {_one_line(error, url)}") from None
    return session


def _bounded_retries(session) -> None:
    """Spark Connect's client retries a lost server for about ten minutes by default; a KPI run says so in
    seconds instead."""
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy

        session.client.set_retry_policies([DefaultPolicy(max_retries=3, max_backoff=2000)])
    except (ImportError, AttributeError, TypeError):
        pass


def _local_session(url: str, display: str):
    """An embedded Spark session in this process (``local[cores]``)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    cores = (query.get("cores") or ["*"])[0]
    if cores != "*" and not cores.isdigit():
        raise ConfigError(f"source {display}: cores must be a number or *, not {cores!r}")
    try:
        from pyspark.sql import SparkSession

        return (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("kpicore")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
    except Exception as error:
        raise SourceError(
            f"source {display}: cannot start a local Spark session: {_one_line(error, url)} "
            "(it needs the full pyspark and Java 17 or later)"
        ) from None


def _stop(session) -> None:
    try:
        session.stop()
    except Exception:
        pass


class SparkSource(Source):
    """A Spark source: its engine's connections share one session; path-mapped entities are views of it."""

    entity_options = tuple(ENTITY_OPTIONS)
    #: Set by ``open``: the Spark session, the sc:// URL and the view of each path-mapped entity.
    session: Any
    url: str
    views: dict[str, str]

    @classmethod
    def create(cls, session, url, config, entities, *, display, timezone):
        import sqlalchemy as sa

        from . import dbapi, sqla  # noqa: F401 - registers the SQLAlchemy dialect
        from .dialect import SparkDialect

        timeout = config.timeout
        engine = sa.create_engine(
            "kpicore_spark://",
            creator=lambda: dbapi.Connection(session, timeout),
            pool_size=4,
            max_overflow=4,
        )
        source = cls(
            engine, config, entities, display=display, timezone=timezone, dialect=SparkDialect(timezone)
        )
        source.session = session
        source.url = url
        source.views = {}
        return source

    def register_paths(self) -> None:
        """A temporary view per entity mapped to files (``path``), named ``kpicore_<entity>``."""
        from . import dbapi

        for name, mapping in self.config.entities.items():
            options = getattr(mapping, "options", {}) or {}
            if "path" not in options:
                if "format" in options:
                    raise MappingError(f"kpi.toml [entities.{name}]: format needs a path")
                continue
            if mapping.table or mapping.query:
                raise MappingError(f"kpi.toml [entities.{name}]: give one of 'table', 'query' or 'path'")
            path, file_format = str(options["path"]), str(options.get("format", "parquet")).lower()
            if file_format not in FORMATS:
                raise MappingError(
                    f"kpi.toml [entities.{name}].format: {file_format!r} is not one of {', '.join(FORMATS)}"
                )
            view = f"kpicore_{name}"
            statement = (
                f"CREATE OR REPLACE TEMPORARY VIEW `{view}` USING {file_format} "
                f"OPTIONS (path {dbapi.literal(path)})"
            )
            try:
                self.session.sql(statement).collect()
            except Exception as error:
                detail = _one_line(error, self.url)
                raise MappingError(
                    f"kpi.toml [entities.{name}] path {path!r} cannot be read on source "
                    f"{self.display}: {detail}"
                ) from None
            self.views[name] = view

    def _from_clause(self, entity, mapping):
        view = self.views.get(entity.name)
        if view is None:
            return super()._from_clause(entity, mapping)
        import sqlalchemy as sa

        probe = sa.select(sa.text("*")).select_from(sa.table(view)).where(sa.false())
        names = self._run(lambda conn: list(conn.execute(probe).keys()))
        return sa.table(view, *[sa.column(n) for n in names]), f"the files at {mapping.options['path']!r}"

    def _storage(self, entity, from_, columns, available, mapping):
        """The storage kind of each time column from the Spark types; a column of another type (a number,
        a boolean) is a mapping error naming it."""
        import sqlalchemy as sa

        from .dialect import WrongColumnType

        time_columns = [c for c in entity.time_columns if not isinstance(columns[c], sa.sql.elements.Null)]
        if not time_columns:
            return {}
        probe = sa.select(*[columns[c].label(c) for c in time_columns]).select_from(from_).where(sa.false())
        description = self._run(lambda conn: conn.execute(probe).cursor.description)
        storage = {}
        for name, described in zip(time_columns, description, strict=False):
            kind = entity.column(name).kind
            try:
                storage[name] = self.dialect.storage_kind(described[1], kind)
            except WrongColumnType as wrong:
                expected = (
                    "DATE or ISO text (STRING)"
                    if kind == "date"
                    else ("TIMESTAMP, TIMESTAMP_NTZ or ISO text (STRING)")
                )
                raise MappingError(
                    f"entity {entity.name}: column {mapping.source_column(name)!r} of source {self.display} "
                    f"is {wrong.type_name}, not a time: store it as {expected}, or map another column"
                ) from None
        return storage

    def describe_error(self, error):
        if getattr(error, "error_class", None) == "SCHEMA_NOT_FOUND" and self.config.schema:
            return (
                f"the Spark catalog has no database {self.config.schema!r}: check [source] schema in kpi.toml "
                "(SHOW DATABASES lists them)"
            )
        return scrub(super().describe_error(error), self.url)

    def close(self) -> None:
        super().close()
        if self.url.lower().startswith("sc://"):  # an embedded session lives as long as the process
            _stop(self.session)
