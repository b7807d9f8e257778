"""Index advice for ``kpi check --indexes``: is every mapped time column the lead column of an index?

Every period filter of the compute engine is a range on a time column, which a database can
only answer without a full scan when an index starts with that column.
"""

from __future__ import annotations

from dataclasses import dataclass

from .source import EntityUnavailable, Source


@dataclass
class IndexAdvice:
    """What ``kpi check --indexes`` says about one mapped time column."""

    entity: str
    column: str  # canonical name
    table: str | None  # the source table, None when the entity is a query, derived or a file
    source_column: str | None
    index: str | None = None  # name of an index leading with the column
    create: str | None = None  # the statement to add one, when there is none
    note: str = ""

    @property
    def missing(self) -> bool:
        return self.create is not None


def index_advice(source: Source, entity_names) -> list[IndexAdvice]:
    """Advice for every time column of the given entities that the source maps to a table column."""
    import sqlalchemy as sa

    advice: list[IndexAdvice] = []
    with source.engine.connect() as connection:
        inspector = sa.inspect(connection)
        for name in entity_names:
            try:
                relation = source.relation(name)
            except EntityUnavailable:
                continue
            for column in relation.storage:
                advice.append(_advise(source, inspector, relation, name, column))
    return advice


def _advise(source: Source, inspector, relation, entity: str, column: str) -> IndexAdvice:
    import sqlalchemy as sa

    from_ = relation.from_
    expression = relation.columns[column]
    if relation.origin == "derived":
        return IndexAdvice(
            entity, column, None, None, note="derived from other entities: nothing to index here"
        )
    if not isinstance(from_, sa.TableClause):
        return IndexAdvice(
            entity,
            column,
            None,
            None,
            note=f"mapped to {relation.origin}: index the underlying table's column yourself",
        )
    table, schema = from_.name, from_.schema
    source_column = getattr(expression, "name", None)
    if source_column is None:
        return IndexAdvice(entity, column, table, None, note="computed column: cannot be indexed as is")
    if not source.dialect.index_advice:
        return IndexAdvice(
            entity,
            column,
            table,
            source_column,
            note=f"{source.dialect.name}: no index advice for this database",
        )
    leading = _leading_columns(inspector, table, schema)
    if source_column in leading:
        return IndexAdvice(entity, column, table, source_column, index=leading[source_column])
    preparer = source.engine.dialect.identifier_preparer
    qualified = (
        preparer.quote(table)
        if schema is None
        else f"{preparer.quote_schema(schema)}.{preparer.quote(table)}"
    )
    index_name = preparer.quote(f"ix_{table}_{source_column}")
    create = f"CREATE INDEX {index_name} ON {qualified} ({preparer.quote(source_column)});"
    return IndexAdvice(entity, column, table, source_column, create=create)


def _leading_columns(inspector, table: str, schema: str | None) -> dict[str, str]:
    """{column: index name} for every column that leads an index or the primary key."""
    leading: dict[str, str] = {}
    for index in inspector.get_indexes(table, schema=schema):
        names = index.get("column_names") or []
        if names and names[0]:
            leading.setdefault(names[0], index.get("name") or "unnamed index")
    primary_key = inspector.get_pk_constraint(table, schema=schema) or {}
    columns = primary_key.get("constrained_columns") or []
    if columns:
        leading.setdefault(columns[0], primary_key.get("name") or "primary key")
    return leading
