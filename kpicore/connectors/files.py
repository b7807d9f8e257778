"""Default plugin: a folder of ``<entity>.csv`` / ``<entity>.parquet`` files, queried in place by DuckDB.

Each file becomes a view that casts the canonical columns to their kinds (``TRY_CAST``: a cell that
does not parse becomes NULL and is counted as invalid by the metrics, never guessed). Naive
timestamps are read in the source's timezone.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, SourceError
from ..hookspecs import hookimpl
from ..model import UNPARSED_SUFFIX
from . import Connector
from .csv_text import MAX_COLUMNS, MAX_HEADER_CHARS, _csv_header, _reader  # noqa: F401 (used here and by tests)

FILE_SUFFIXES = (".csv", ".parquet", ".xlsx")
#: Files read by the rules of files as exported (``typed_files``), once, into a typed cache.
EXPORTED_SUFFIXES = (".csv", ".xlsx")
#: The ``[entities.X]`` keys a folder of files reads (besides table, columns, dimensions, scale).
ENTITY_OPTIONS = {
    "formats": 'strptime formats of time columns, e.g. { signup_at = "%d.%m.%Y %H:%M" }',
    "decimal": 'the decimal separator of the entity\'s amounts: "." or ","',
    "sheet": "the sheet of an .xlsx file to read (default: the first)",
}
_CASTS = {
    "number": "DOUBLE",
    "integer": "DOUBLE",  # kept as DOUBLE so 1.5 contacts is seen, and reported, as invalid
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}


class FilesConnector(Connector):
    name = "files"
    description = "A folder of <entity>.csv, .xlsx or .parquet files (queried with DuckDB)"

    def handles(self, url: str) -> bool:
        return "://" not in url and Path(url).is_dir()

    def open(self, url, config, entities):
        import sqlalchemy as sa
        from sqlalchemy import event

        from ..periods import get_timezone
        from .files_source import FilesSource, describe_csv_error

        folder = Path(url)
        files = _entity_files(folder)
        kinds = _column_kinds(files, config, entities)
        timezone = get_timezone(config.timezone)
        files, reports = _prepared(files, config, entities)
        engine = sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)

        @event.listens_for(engine, "connect")
        def create_views(dbapi_connection, record):
            dbapi_connection.execute(f"SET TimeZone = '{timezone.key}'")
            for stem, path in files.items():
                reader = _reader(path)
                try:
                    described = dbapi_connection.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
                except Exception as error:
                    raise SourceError(f"cannot read {path}{describe_csv_error(error, path)}") from None
                select_list = ", ".join(
                    _cast(name, kinds.get(stem, {}).get(name), type_name) for name, type_name, *_ in described
                )
                dbapi_connection.execute(
                    f'CREATE OR REPLACE VIEW "{stem}" AS SELECT {select_list} FROM {reader}'
                )

        return FilesSource(
            engine, config, entities, display=str(folder), timezone=timezone, files=files, reports=reports
        )


def _entity_files(folder: Path) -> dict[str, Path]:
    """{stem: file} of the folder; one entity in two files (orders.csv and orders.xlsx) is an error."""
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in FILE_SUFFIXES or path.name.startswith((".", "~$")):
            continue
        if path.stem in files:
            raise ConfigError(
                f"folder {folder} holds {files[path.stem].name} and {path.name}: both would be "
                f"{path.stem!r}; keep one of them"
            )
        files[path.stem] = path
    if not files:
        raise ConfigError(f"folder {folder} has no .csv, .xlsx or .parquet files (expected e.g. orders.csv)")
    return files


def _prepared(files: dict[str, Path], config, entities):
    """Each entity's CSV or .xlsx file read once into typed Parquet (``typed_files``); the reports."""
    from ..config import files_cache_dir
    from .typed_files import Reading, prepare

    directory = config.cache_dir or files_cache_dir(None)
    prepared = dict(files)
    reports = {}
    for entity in entities.values():
        mapping = config.entities.get(entity.name)
        stem = mapping.table if mapping and mapping.table else entity.name
        path = files.get(stem)
        if path is None or path.suffix.lower() not in EXPORTED_SUFFIXES or entity.derive is not None:
            continue
        options = mapping.options if mapping else {}
        formats = options.get("formats") or {}
        if not isinstance(formats, dict) or not all(isinstance(v, str) for v in formats.values()):
            raise ConfigError(
                f'kpi.toml: [entities.{entity.name}] formats must be a table of column = "strptime format"'
            )
        decimal = options.get("decimal")
        if decimal not in (None, ".", ","):
            raise ConfigError(
                f'kpi.toml: [entities.{entity.name}] decimal must be "." or ",", got {decimal!r}'
            )
        reading = Reading(
            timezone=config.timezone,
            locale=config.locale,
            calendar=config.calendar,
            formats=tuple(sorted(formats.items())),
            decimal=decimal,
            sheet=options.get("sheet"),
        )
        prepared[stem], reports[entity.name] = prepare(path, entity, mapping, reading, directory)
    return prepared, reports


def _column_kinds(files, config, entities) -> dict[str, dict[str, str]]:
    """For each file stem, the canonical kind of each of its (source-named) columns."""
    kinds: dict[str, dict[str, str]] = {}
    for entity in entities.values():
        mapping = config.entities.get(entity.name)
        stem = mapping.table if mapping and mapping.table else entity.name
        if stem not in files:
            continue
        for column in entity.columns:
            source_name = mapping.source_column(column.name) if mapping else column.name
            if column.kind in _CASTS:
                kinds.setdefault(stem, {})[source_name] = column.kind
    return kinds


#: DuckDB's DESCRIBE name of each cast target.
_TYPE_NAMES = {
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "DATE": "DATE",
}


def _cast(name: str, kind: str | None, type_name: str = "VARCHAR") -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    if kind is None:
        return quoted
    if _TYPE_NAMES[_CASTS[kind]] == type_name.upper():
        # Already typed (Parquet): no cast, so DuckDB can push period filters into the scan.
        return quoted
    present = f"NULLIF(TRIM(CAST({quoted} AS VARCHAR)), '')"
    cast = f"TRY_CAST({present} AS {_CASTS[kind]})"
    flag = '"' + (name + UNPARSED_SUFFIX).replace('"', '""') + '"'
    if kind in ("number", "integer"):
        # A number that is there but does not parse ('1,234.50') reads as missing; keep its text beside it,
        # so `kpi check --data` can say which values they are.
        return f"{cast} AS {quoted}, CASE WHEN {present} IS NOT NULL AND {cast} IS NULL THEN {present} END AS {flag}"
    if kind not in ("timestamp", "date"):
        return f"{cast} AS {quoted}"
    # A time that is there but does not parse is invalid, not an empty cell: flag it for the metrics.
    return f"{cast} AS {quoted}, ({present} IS NOT NULL AND {cast} IS NULL) AS {flag}"


@hookimpl(trylast=True)
def register_connectors(register):
    register(FilesConnector())


@hookimpl
def register_settings(register):
    register("entities.files", ENTITY_OPTIONS)
