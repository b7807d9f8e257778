"""Running a plan's queries, so that an entity the source cannot read fails only its own metrics."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import replace

import sqlalchemy as sa

from ..errors import SourceError
from ..metric import Measure
from ..periods import Period
from ..source import Source
from .planning import Plan
from .queries import _labelled_queries, entity_queries

#: Measures answered without querying the source (``kpicore.incremental`` sets it): a function
#: ``(source, plan, windows, config) -> {measure: [value per window]}``, or None to answer none.
ANSWERS: ContextVar[Callable | None] = ContextVar("kpicore_answers", default=None)


def _execute_isolating_entities(
    source: Source, the_plan: Plan, windows: list[Period], queries, config, labels=None, progress=None
):
    """Run the planned queries; when the source refuses one, run each entity's queries on their own, so
    an entity whose data the database cannot read (PostgreSQL text such as 'soon' in a time column)
    makes only its own metrics unavailable, with a reason in ``the_plan.unavailable``.

    Returns the rows and the queries they answer. A connection or timeout failure is raised as it is;
    when every entity fails, a SourceError gives the reason of the first.
    """
    try:
        return source.execute_all([statement for statement, _ in queries], labels, progress), queries
    except SourceError as error:
        if isinstance(error.__context__, sa.exc.OperationalError):
            raise  # the database is unreachable or timed out: not one entity's fault
        first_error = error
    answers, answered, failures = [], [], {}
    for entity, measures in the_plan.measures.items():
        entity_queries_ = entity_queries(source, entity, measures, windows)
        try:
            answers.extend(
                source.execute_all(
                    [statement for statement, _ in entity_queries_], [entity] * len(entity_queries_), progress
                )
            )
        except SourceError as entity_error:
            failures[entity] = entity_error
            continue
        answered.extend(entity_queries_)
    if not failures:
        raise first_error  # it failed together but not apart: nothing to pin on one entity
    reasons = _failure_reasons(source, failures)
    if not answered:  # nothing could be computed: the command fails, saying why
        raise SourceError(reasons[next(iter(failures))])
    for metric in the_plan.metrics:
        failed = sorted({m.entity for m in metric.resolved_measures(config).values()} & set(failures))
        if failed and metric.name not in the_plan.unavailable:
            the_plan.unavailable[metric.name] = reasons[failed[0]]
    return answers, answered


def _failure_reasons(source: Source, failures: dict[str, SourceError]) -> dict[str, str]:
    """Why each failed entity failed: the time column holding values that are not times, when
    ``kpi check --data``'s scan finds one, else the source's own error."""
    from ..data_check import check_times

    found: dict[str, str] = {}
    for check in check_times(source, sorted(failures)):
        if check.unreadable and check.entity not in found:
            examples = f" (e.g. {', '.join(repr(e) for e in check.examples)})" if check.examples else ""
            found[check.entity] = (
                f"entity {check.entity}: column {check.column} holds {check.unreadable:,} value(s) that are not "
                f"times{examples}, which the source cannot compute over; `kpi check --data` lists them"
            )
    reasons = {}
    for entity, error in failures.items():
        entity_type = source.entities.get(entity)
        if entity in found:
            reasons[entity] = found[entity]
        elif found and entity_type is not None and entity_type.derive is not None:
            reasons[entity] = f"entity {entity} is derived from one that failed: {next(iter(found.values()))}"
        else:
            reasons[entity] = f"entity {entity}: {error}"
    return reasons


def measure_values(
    source: Source, the_plan: Plan, windows: list[Period], config, progress=None
) -> list[dict[Measure, float | None]]:
    """Every planned measure's value in each window (``[{measure: value}]``, one dict per window), from
    the plan's queries run side by side."""
    the_plan, window_values = _answered(source, the_plan, windows, config)
    labelled = _labelled_queries(source, the_plan, windows)
    queries = [query for _, query in labelled]
    answers, queries = _execute_isolating_entities(
        source, the_plan, windows, queries, config, [entity for entity, _ in labelled], progress
    )
    for rows, (_, read) in zip(answers, queries, strict=True):
        for w, window in enumerate(windows):
            window_values[w].update(read(rows, w, window))
    return window_values


def _answered(
    source: Source, the_plan: Plan, windows: list[Period], config
) -> tuple[Plan, list[dict[Measure, float | None]]]:
    """The plan left to query and each window's values answered by ``ANSWERS`` (none without it)."""
    provider = ANSWERS.get()
    found = provider(source, the_plan, windows, config) if provider is not None else None
    window_values: list[dict[Measure, float | None]] = [{} for _ in windows]
    if not found:
        return the_plan, window_values
    for measure, per_window in found.items():
        for w, value in enumerate(per_window):
            window_values[w][measure] = value
    left = {e: [m for m in ms if m not in found] for e, ms in the_plan.measures.items()}
    return replace(the_plan, measures={e: ms for e, ms in left.items() if ms}), window_values
