"""The compute engine: metrics -> measures -> a few SQL queries per entity -> results.

Every measure of every requested metric is evaluated for every period window (the period, the one
before it and, with ``trend``, the last N). Measures whose filter does not depend on the period are
*bucketed*: one GROUP BY on a CASE that maps their time column to the slice between consecutive
window boundaries, so the cost per row is one CASE chain whatever the number of windows, and each
window's value is the sum of its buckets (a handful of rows). The others are evaluated by conditional
aggregation, one CASE per measure and window, in a single query per entity. Only aggregates come back.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

import sqlalchemy as sa

from .buckets import bucket_of, state_measures, state_query, window_boundaries
from .dimensions import refusal
from .errors import MappingError, PeriodError, SourceError
from .left_out import reading_notes
from .metric import Measure, Metric, Values, as_sql, takes_period
from .periods import Period, year_before
from .results import Comparison, MetricResult, Segment, TrendPoint, Warning_
from .settings import did_you_mean
from .source import BUCKET, EntityUnavailable, Row, Source
from .targets import apply_targets

NONE_SEGMENT = "(none)"
#: What ``compute(..., compare=...)`` accepts: the same period a year before.
COMPARISONS = ("last-year",)


@dataclass
class Plan:
    """What one compute call will ask the source for."""

    metrics: list[Metric]
    windows: list[Period]
    unavailable: dict[str, str]
    measures: dict[str, list[Measure]]  # entity -> distinct measures, in first-seen order


def select_metrics(names: Iterable[str], registry) -> list[Metric]:
    """The metrics named, in order, without repeats; ``all`` means every registered metric."""
    chosen: dict[str, Metric] = {}
    for name in names:
        if name == "all":
            for registration in registry.metrics.values():
                chosen.setdefault(registration.name, registration.item)
        else:
            chosen.setdefault(name, registry.metric(name))
    return list(chosen.values())


def plan(metrics: Sequence[Metric], source: Source, windows: list[Period], config=None) -> Plan:
    unavailable: dict[str, str] = {}
    measures: dict[str, list[Measure]] = defaultdict(list)
    for metric in metrics:
        resolved = metric.resolved_measures(config)
        missing = None
        for entity in {m.entity for m in resolved.values()}:
            try:
                source.relation(entity)
            except EntityUnavailable as error:
                missing = str(error)
                break
        if missing is None:
            missing = _missing_column(source, resolved.values(), windows[0])
        if missing:
            unavailable[metric.name] = missing
            continue
        for measure in resolved.values():
            if measure not in measures[measure.entity]:
                measures[measure.entity].append(measure)
    return Plan(list(metrics), windows, unavailable, dict(measures))


def _missing_column(source: Source, measures, window: Period) -> str | None:
    """Why the measures cannot be computed when they read a column the source lacks, else None."""
    from .source import ColumnUnavailable

    for measure in measures:
        row = Row(source, source.relation(measure.entity))
        try:
            measure.condition(row, window)
            measure.expression(row, window)
        except ColumnUnavailable as error:
            return str(error)
    return None


#: Inside ``plain_queries()``: (buckets and bucket space allowed, parse-once relation allowed).
_SHORTCUTS: ContextVar[tuple[bool, bool]] = ContextVar("kpicore_engine_shortcuts", default=(True, True))


@contextmanager
def plain_queries(*, parse_once: bool = False):
    """Within this block, compute() builds the plain queries: one conditional aggregate per measure and
    window, over the relation as mapped. Slower; the reference the engine's shortcuts (bucketed GROUP BYs,
    counts in bucket space and, unless ``parse_once``, SQLite text times parsed once per row) are tested
    against."""
    token = _SHORTCUTS.set((False, parse_once))
    try:
        yield
    finally:
        _SHORTCUTS.reset(token)


def measure_query(
    source: Source, entity: str, measures: list[Measure], windows: list[Period], by: str | None = None
):
    """One SELECT computing every measure for every window (columns m{window}_{measure})."""
    relation = source.relation(entity)
    t = source.row(entity)
    prefilter = _prefilter(source, t, measures, windows)
    shortcut = by is None and len(windows) > 1 and _SHORTCUTS.get()[1]
    parsed = source.parsed_relation(entity, prefilter) if shortcut else None
    if parsed is not None:  # the prefilter is inside: it still reads through the time index
        relation, t, prefilter = parsed, Row(source, parsed), None
    columns = []
    for w, window in enumerate(windows):
        for i, measure in enumerate(measures):
            columns.append(_aggregate(measure, t, window).label(f"m{w}_{i}"))
    statement = sa.select(*columns).select_from(relation.from_)
    if prefilter is not None:
        statement = statement.where(prefilter)
    if by is not None:
        segment, joined = segment_expression(source, entity, by)
        if joined is not None:
            statement = statement.select_from(joined)
        statement = statement.add_columns(segment.label("segment")).group_by(segment)
    return statement


#: Aggregates whose value over a window is the combination of their values over its buckets.
BUCKETED_AGGREGATES = ("count", "sum", "min", "max")
#: The bucket of a NULL time (records no period holds; what "missing" measures count).
NULL_BUCKET = -1


def bucketable(measure: Measure) -> bool:
    """True when one GROUP BY on a bucket of the measure's time column gives it for every window.

    That holds when the period only bounds the time column (window "in" or "before_end") or the
    measure counts records with no time (window "missing": the NULL bucket), and the filter and
    value are the same for every period (``lambda t: ...``), for aggregates that add up.
    """
    return (
        measure.time is not None
        and measure.window in ("in", "before_end", "missing")
        and measure.aggregate in BUCKETED_AGGREGATES
        and not takes_period(measure.where)
        and not takes_period(measure.of)
    )


def _in_derived_buckets(source: Source, entity: str, measure: Measure) -> bool:
    """A measure of a derived entity that its bucket-space derivation (``Entity.derive_buckets``) gives."""
    derive = getattr(source.entities.get(entity), "derive_buckets", None)
    return (
        derive is not None
        and measure.window in ("in", "before_end")
        and measure.where is None
        and (measure.of is None)
    )


@dataclass
class BucketQuery:
    """One GROUP BY over the tuple of buckets of an entity's time columns, for measures on any of them."""

    times: list[str]
    measures: list[Measure]
    boundaries: list  # sorted distinct window starts and ends (aware datetimes)
    statement: sa.Select

    @property
    def time(self) -> str:
        return ", ".join(self.times)

    def window_values(self, rows, window: Period) -> dict[Measure, float | None]:
        """Each measure over ``window``: its buckets combined (bucket i is [boundary i-1, boundary i))."""
        last = _boundary_index(self.boundaries, window.end)
        start = _boundary_index(self.boundaries, window.start) + 1
        values: dict[Measure, float | None] = {}
        for i, measure in enumerate(self.measures):
            key = f"k_{self.times.index(measure.time)}"
            if measure.window == "missing":
                wanted = range(NULL_BUCKET, NULL_BUCKET + 1)
            else:
                wanted = range(start if measure.window == "in" else 0, last + 1)
            parts = [_number(row._mapping[f"b_{i}"]) for row in rows if row._mapping[key] in wanted]
            parts = [part for part in parts if part is not None]
            if measure.aggregate in ("count", "sum"):
                values[measure] = sum(parts) if parts else 0
            else:
                values[measure] = (min if measure.aggregate == "min" else max)(parts) if parts else None
        return values


def _boundary_index(boundaries: list, moment) -> int:
    return next(i for i, boundary in enumerate(boundaries) if boundary == moment)


def bucket_queries(
    source: Source, entity: str, measures: list[Measure], windows: list[Period]
) -> list[BucketQuery]:
    """The entity's bucketable measures in one GROUP BY over the buckets of all their time columns.

    Measures of a derived entity that can derive itself in bucket space get their own query over that
    derivation (its time columns already are buckets).
    """
    boundaries = window_boundaries(windows)
    derived = [m for m in measures if _in_derived_buckets(source, entity, m)]
    rest = [m for m in measures if m not in derived]
    queries = []
    if derived:
        relation = source.bucketed_relation(entity, boundaries)
        queries.append(_bucket_query(source, relation, derived, boundaries, prefilter=False))
    if rest:
        queries.append(_bucket_query(source, source.relation(entity), rest, boundaries, prefilter=True))
    return queries


def _bucket_query(
    source: Source, relation, measures: list[Measure], boundaries: list, prefilter: bool
) -> BucketQuery:
    # Each row's bucket keys and the columns the measures read are computed once, in a subquery
    # (``Source.once_per_row``), and grouped by plain values.
    t = Row(source, relation)
    times = list(dict.fromkeys(m.time for m in measures))
    keys = []
    for k, time in enumerate(times):
        column = getattr(t, time)
        if column.storage == BUCKET:
            bucket = sa.case((column.sql.is_(None), NULL_BUCKET), else_=column.sql)
        else:
            # NULL times go to the NULL bucket; past the last boundary or not a time: in no window.
            bucket = bucket_of(column, boundaries, null=NULL_BUCKET)
        keys.append(bucket.label(f"k_{k}"))
    # The columns the measures read, each cleaned once per row, beside the keys; the measures'
    # filters and values are then evaluated over those plain values.
    read: set[str] = set()
    recorder = _RecordingRow(source, relation, read)
    for measure in measures:
        plain = replace(measure, window="all")
        plain.condition(recorder, None)
        plain.expression(recorder, None)
    present = [
        c for c in relation.columns if c in read and not isinstance(relation.columns[c], sa.sql.elements.Null)
    ]
    flags = [c for c in relation.unparsed if c in present]  # files: time present but unparseable

    def rows_where(where, name: str, keyed: bool = True):
        """The per-row subquery of the rows passing ``where`` (with their bucket keys unless not
        ``keyed``), and a Row over it for the measures."""
        rows = sa.select(
            *(keys if keyed else []),
            *[relation.columns[c].label(c) for c in present],
            *[relation.unparsed[c].label(f"{c}__unparsed_flag") for c in flags],
        ).select_from(relation.from_)
        if where is not None:
            rows = rows.where(where)
        per_row = source.bucket_rows(rows, name)
        columns_of_rows = {c: (per_row.c[c] if c in present else e) for c, e in relation.columns.items()}
        unparsed = {c: per_row.c[f"{c}__unparsed_flag"] for c in flags}
        return per_row, Row(
            source, replace(relation, from_=per_row, columns=columns_of_rows, parsed={}, unparsed=unparsed)
        )

    if prefilter and _aggregates_history_apart(source, t, times, measures):
        return _history_apart(source, getattr(t, times[0]), measures, boundaries, rows_where)
    per_row, t = rows_where(
        _bucket_ranges(source, t, measures, boundaries) if prefilter else None, "bucket_rows"
    )
    key_columns = [per_row.c[f"k_{k}"] for k in range(len(times))]
    columns = [_aggregate(replace(m, window="all"), t, None).label(f"b_{i}") for i, m in enumerate(measures)]
    statement = sa.select(*key_columns, *columns).select_from(per_row).group_by(*key_columns)
    return BucketQuery(times, measures, boundaries, statement)


def _aggregates_history_apart(source: Source, t, times: list[str], measures: list[Measure]) -> bool:
    """Whether the bucket query should aggregate the rows before the first window (bucket 0) on their
    own: where GROUP BY sorts every row (SQLite), a lifetime measure on one time column would
    otherwise sort the whole history of the table to put most of it in one group."""
    return (
        source.dialect.groups_by_sorting
        and len(times) == 1
        and getattr(t, times[0]).storage != BUCKET
        and any(m.window == "before_end" for m in measures)
    )


def _history_apart(
    source: Source, column, measures: list[Measure], boundaries: list, rows_where
) -> BucketQuery:
    """The bucket query as two parts in one statement: the rows from the first boundary on (and NULL
    times) grouped by bucket, and, UNION ALL, the rows before it (bucket 0) aggregated without a GROUP
    BY: only the lifetime ("before_end") measures read them. Both parts scan the table (``scan_range``):
    the history is most of it, and a range through the index costs a random lookup per row when the
    rows are not stored in time order. 10 M shuffled orders on SQLite: 6.6 s of CPU instead of 8.8 s,
    and the aggregate of the history reads 3 of the 9 orders measures (docs/performance.md, finding 10).
    """
    start, end = boundaries[0], boundaries[-1]
    recent_range = source.scan_range(column, start, end)
    if any(m.window == "missing" for m in measures):
        recent_range = sa.or_(recent_range, column.is_(None))
    per_row, t = rows_where(recent_range, "bucket_rows")
    key = per_row.c["k_0"]
    columns = [_aggregate(replace(m, window="all"), t, None).label(f"b_{i}") for i, m in enumerate(measures)]
    # The range is a little wider than exact for text: rows just before the first boundary are history.
    recent = sa.select(key, *columns).select_from(per_row).where(key != 0).group_by(key)
    # Bucket 0 is exactly the rows before the first boundary: one comparison per row rather than the
    # bucket's CASE chain (1 M shuffled orders on SQLite, the history's aggregate 0.7 s instead of 1.4 s).
    per_row, t = rows_where(source.scan_before(column, start), "history_rows", False)
    history = sa.select(
        sa.literal(0, sa.Integer).label("k_0"),
        *[
            (_aggregate(replace(m, window="all"), t, None) if m.window == "before_end" else sa.null()).label(
                f"b_{i}"
            )
            for i, m in enumerate(measures)
        ],
    ).select_from(per_row)
    return BucketQuery([measures[0].time], measures, boundaries, sa.union_all(recent, history))


def _bucket_ranges(source: Source, t, measures: list[Measure], boundaries: list):
    """The rows some measure may count: per time column, the range its measures read, OR-ed.

    "in" measures read [first boundary, last), "before_end" ones everything before the last boundary,
    "missing" ones the NULL times; each range reads through the column's index.
    """
    ranges = []
    for time in dict.fromkeys(m.time for m in measures):
        windows = {m.window for m in measures if m.time == time}
        column = getattr(t, time)
        parts = []
        if windows - {"missing"}:
            start = None if "before_end" in windows else boundaries[0]
            parts.append(source.prefilter(column, start, boundaries[-1]))
        if "missing" in windows:
            parts.append(column.is_(None))
        ranges.append(sa.or_(*parts) if len(parts) > 1 else parts[0])
    return sa.or_(*ranges) if len(ranges) > 1 else ranges[0]


def _aggregate(measure: Measure, t, window: Period):
    conditions = measure.condition(t, window)
    condition = sa.and_(*conditions) if conditions else None
    value = measure.expression(t, window)
    if measure.aggregate == "count":
        if condition is None:
            return sa.func.count()
        return sa.func.count(sa.case((condition, 1)))
    expression = value if condition is None else sa.case((condition, value))
    if measure.aggregate == "count_distinct":
        return sa.func.count(sa.distinct(expression))
    if measure.aggregate == "sum":
        return sa.func.sum(expression)
    return getattr(sa.func, measure.aggregate)(expression)


def _prefilter(source: Source, t, measures: list[Measure], windows: list[Period]):
    """A WHERE range on the time column when every measure is bounded by the same one."""
    times = {(m.time, m.window) for m in measures}
    if len({time for time, _ in times}) != 1:
        return None
    time = next(iter(times))[0]
    if time is None or any(window == "all" for _, window in times):
        return None
    column = getattr(t, time)
    end = max(w.end for w in windows)
    bounded = [window for _, window in times if window != "missing"]
    start = min(w.start for w in windows) if all(window == "in" for window in bounded) else None
    condition = source.prefilter(column, start, end)
    if len(bounded) < len(times):
        # Measures counting records with no time (warnings) must see them: IS NULL can use the index too.
        condition = sa.or_(condition, column.is_(None))
    return condition


def segment_expression(source: Source, entity: str, by: str):
    """The SQL of dimension ``by`` for records of ``entity``, and the join it needs (or None).

    A dimension is a column of the entity itself, or of the entity holding its dimensions
    (``Entity.dimension_lookup``: ``customers`` through ``customer_key`` unless ``dimensions_from`` says
    otherwise). Raises EntityUnavailable when the records cannot reach the dimension.
    """
    relation = source.relation(entity)
    if _has_column(relation, by):
        return relation.columns[by], None
    lookup_path = relation.entity.dimension_lookup
    if lookup_path is None:
        raise EntityUnavailable(f"{entity} records have no customer, so they cannot be broken down by {by}")
    owner_name, own_key, owner_key = lookup_path
    owner = source.relation(owner_name)
    if not _has_column(owner, by) and by in owner.from_.c:
        raise refusal(source, owner, by)
    if not _has_column(owner, by):
        hint = did_you_mean(by, owner.dimensions, cutoff=0.5)
        raise MappingError(
            f"unknown dimension {by!r}{hint}: {owner_name} have {', '.join(owner.dimensions) or 'no dimensions'}"
        )
    if not _has_column(relation, own_key):
        raise EntityUnavailable(f"{entity} records have no {own_key}, so they cannot be broken down by {by}")
    lookup = (
        sa.select(owner.columns[owner_key].label("key"), owner.columns[by].label("segment"))
        .select_from(owner.from_)
        .subquery("dimension")
    )
    joined = relation.from_.outerjoin(lookup, relation.columns[own_key] == lookup.c.key)
    return lookup.c.segment, joined


def _has_column(relation, name: str) -> bool:
    return name in relation.columns and not isinstance(relation.columns[name], sa.sql.elements.Null)


def _number(value):
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    return float(value)


def _values(measures: list[Measure], row, w: int) -> dict[Measure, float | None]:
    values = {}
    for i, measure in enumerate(measures):
        value = _number(row._mapping[f"m{w}_{i}"]) if row is not None else None
        if value is None and measure.aggregate in ("count", "sum", "count_distinct"):
            value = 0
        values[measure] = value
    return values


def _metric_values(metric: Metric, config, by_measure: dict[Measure, float | None], window: Period) -> Values:
    resolved = metric.resolved_measures(config)
    return Values({name: by_measure.get(measure) for name, measure in resolved.items()}, config, window)


def _n(metric: Metric, values: Values) -> int | None:
    name = metric.n
    if name is None:
        counts = [
            k
            for k, m in metric.resolved_measures(values.config).items()
            if m.aggregate == "count" and not m.warn and not m.note
        ]
        name = counts[0] if counts else None
    value = values.get(name) if name else None
    return None if value is None else int(value)


def entity_queries(source: Source, entity: str, measures: list[Measure], windows: list[Period]):
    """The queries that evaluate ``measures`` of one entity for every window, each with the function
    reading its rows back: ``[(statement, read(rows, w, window) -> {measure: value})]``.

    With several windows: bucketable measures in one GROUP BY over bucket tuples, period-dependent
    counts in bucket space, and what is left as conditional aggregation; with one window, the last.
    """
    queries = []
    if len(windows) > 1 and _SHORTCUTS.get()[0]:
        bucketed = [m for m in measures if bucketable(m)]
        for query in bucket_queries(source, entity, bucketed, windows):
            queries.append(
                (query.statement, lambda rows, w, window, query=query: query.window_values(rows, window))
            )
        measures = [m for m in measures if m not in bucketed]
        in_bucket_space = state_measures(measures, list(source.relation(entity).storage), windows)
        if in_bucket_space:
            queries.append(
                (
                    state_query(source, entity, in_bucket_space, windows),
                    lambda rows, w, window, chosen=in_bucket_space: _values(
                        chosen, rows[0] if rows else None, w
                    ),
                )
            )
            measures = [m for m in measures if m not in in_bucket_space]
    if measures:
        queries.append(
            (
                measure_query(source, entity, measures, windows),
                lambda rows, w, window, rest=measures: _values(rest, rows[0] if rows else None, w),
            )
        )
    return queries


def plan_queries(source: Source, the_plan: Plan, windows: list[Period]):
    """Every query of a plan, ``[(statement, read)]`` as in ``entity_queries``, in the order they start.

    Derived entities (per-customer lifetimes) cost the most, so their queries start first: with
    queries running side by side, the longest one sets the pace.
    """
    return [query for _, query in _labelled_queries(source, the_plan, windows)]


def _labelled_queries(source: Source, the_plan: Plan, windows: list[Period]):
    """``plan_queries`` as ``[(entity, (statement, read))]``."""
    entities = sorted(
        the_plan.measures, key=lambda e: getattr(source.entities.get(e), "derive", None) is None
    )
    return [
        (entity, query)
        for entity in entities
        for query in entity_queries(source, entity, the_plan.measures[entity], windows)
    ]


def compute(
    metrics: Sequence[Metric],
    period: Period,
    source: Source,
    *,
    config=None,
    by: str | None = None,
    trend: int | None = None,
    progress: Callable[[list[str]], None] | None = None,
    compare: str | None = None,
) -> list[MetricResult]:
    """Compute ``metrics`` for ``period`` (and the one before) in the source database.

    ``compare="last-year"`` also computes the same period a year before (:func:`~kpicore.periods.year_before`)
    into each result's ``compare``, in the same queries; its value is None, with a reason, when the source
    holds no records of the metric in that period or in the one just before it (history starting inside it
    would give a partial number). ``progress``, when given, is called with the entities whose queries are
    running whenever that changes (from the threads running them), for a terminal to show.
    """
    if compare is not None and compare not in COMPARISONS:
        raise PeriodError(f"cannot compare with {compare!r}: use {', '.join(COMPARISONS)}")
    previous = period.previous()
    windows = [period, previous]
    trend_periods = period.trend(trend) if trend else []
    year_ago = year_before(period) if compare else None
    extra = [year_ago, year_ago.previous()] if year_ago is not None else []
    for window in [*trend_periods, *extra]:
        if all((window.start, window.end) != (w.start, w.end) for w in windows):
            windows.append(window)
    the_plan = plan(metrics, source, windows, config)

    labelled = _labelled_queries(source, the_plan, windows)
    queries = [query for _, query in labelled]
    window_values: list[dict[Measure, float | None]] = [{} for _ in windows]
    answers, queries = _execute_isolating_entities(
        source, the_plan, windows, queries, config, [entity for entity, _ in labelled], progress
    )
    for rows, (_, read) in zip(answers, queries, strict=True):
        for w, window in enumerate(windows):
            window_values[w].update(read(rows, w, window))

    segment_windows = [period, previous, *([year_ago] if year_ago is not None else [])]
    segment_values, segment_problems = ({}, {})
    if by is not None:
        segment_values, segment_problems = _segments(source, the_plan, period, by, windows=segment_windows)

    def index_of(target: Period) -> int:
        return next(i for i, w in enumerate(windows) if (w.start, w.end) == (target.start, target.end))

    results = []
    for metric in the_plan.metrics:
        result = MetricResult(
            metric=metric.name,
            title=metric.title,
            unit=metric.unit,
            better=metric.better,
            status="ok",
            period=period.label,
            start=period.start_iso(),
            end=period.end_iso(),
            dimension=by,
            n_noun=metric.count_noun(config),
        )
        results.append(result)
        if metric.name in the_plan.unavailable:
            result.status = "unavailable"
            result.reason = the_plan.unavailable[metric.name]
            continue
        current = _metric_values(metric, config, window_values[0], period)
        result.value = metric.value(current)
        result.previous = metric.value(_metric_values(metric, config, window_values[1], previous))
        result.n = _n(metric, current)
        result.warnings = _warnings(metric, config, window_values[0])
        result.left_out, result.duplicates, result.left_out_records = reading_notes(
            source, functools.partial(columns_read, metric, source, period, config)
        )
        if trend:
            result.trend = [
                TrendPoint(
                    w.label,
                    w.start_iso(),
                    w.end_iso(),
                    metric.value(_metric_values(metric, config, window_values[index_of(w)], w)),
                )
                for w in trend_periods
            ]
        if year_ago is not None:
            result.compare = _comparison(
                metric,
                config,
                year_ago,
                window_values[index_of(year_ago)],
                window_values[index_of(year_ago.previous())],
                result.value,
            )
        if by is not None:
            problem = next(
                (segment_problems[e] for e in metric.entities(config) if e in segment_problems), None
            )
            if problem:
                # Not invalid records: the metric as a whole is fine, it has no breakdown (count 0).
                result.warnings.append(Warning_(problem, 0))
            else:
                result.segments = _metric_segments(metric, config, segment_values, segment_windows)
                if result.compare is not None:
                    for segment in result.segments:
                        segment.compared = True
                        if result.compare.value is None:
                            segment.compare = None  # no data a year back for the total: none for a segment
    apply_targets(results, config)
    return results


def _comparison(metric: Metric, config, year_ago: Period, values, before_values, current) -> Comparison:
    """The metric over ``year_ago``, or None with the reason when the source has no data that far back."""
    at = _metric_values(metric, config, values, year_ago)
    before = _metric_values(metric, config, before_values, year_ago.previous())
    value, n, n_before = metric.value(at), _n(metric, at), _n(metric, before)
    reason = None
    if value is None or n == 0:
        reason = f"no data for {year_ago.label}, a year before"
    elif n_before == 0:
        # Records in the period but none before it: the history starts inside it, a partial value.
        reason = f"the data starts inside {year_ago.label}, a year before, so it has no whole value"
    return Comparison(
        year_ago.label,
        year_ago.start_iso(),
        year_ago.end_iso(),
        None if reason else value,
        metric.unit,
        current,
        reason,
    )


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
    from .data_check import check_times

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


def _warnings(metric: Metric, config, by_measure) -> list[Warning_]:
    warnings = []
    for measure in metric.resolved_measures(config).values():
        count = by_measure.get(measure) or 0
        if measure.warn and count:
            warnings.append(Warning_(measure.warn, int(count)))
        elif measure.note and count:  # not invalid: a note about the metric, no count
            warnings.append(Warning_(measure.note, 0))
    return warnings


def segment_history(
    metrics: Sequence[Metric], period: Period, source: Source, *, config=None, by: str, periods: int
) -> dict[str, dict[str, list[float | None]]]:
    """Each metric's value per segment of ``by`` over the last ``periods`` periods (oldest first, the
    period last): ``{metric: {segment: [value, ...]}}``. One GROUP BY per entity, with a conditional
    aggregate per measure and period: aggregates only. A metric that cannot be broken down by ``by`` is
    left out."""
    windows = period.trend(periods)
    the_plan = plan(metrics, source, windows, config)
    values, problems = _segments(source, the_plan, period, by, windows=windows)
    history: dict[str, dict[str, list[float | None]]] = {}
    for metric in the_plan.metrics:
        if metric.name in the_plan.unavailable:
            continue
        if any(entity in problems for entity in metric.entities(config)):
            continue
        own = set(metric.resolved_measures(config).values())
        per_segment = {}
        for key in sorted(values, key=lambda s: (s == NONE_SEGMENT, s)):
            if not any(own.intersection(window_values) for window_values in values[key]):
                continue
            points = []
            for by_measure, window in zip(values[key], windows, strict=True):
                filled = {m: (0 if m.aggregate in ("count", "sum", "count_distinct") else None) for m in own}
                filled.update({m: v for m, v in by_measure.items() if m in filled})
                points.append(metric.value(_metric_values(metric, config, filled, window)))
            per_segment[key] = points
        history[metric.name] = per_segment
    return history


def _segments(source: Source, the_plan: Plan, period: Period, by: str, windows: list[Period] | None = None):
    """Measure values per segment for the period and the one before (or for ``windows``):
    {segment: [{measure: value} per window]}, and the entities that can't."""
    windows = windows or [period, period.previous()]
    values: dict[str, list[dict[Measure, float | None]]] = defaultdict(lambda: [{} for _ in windows])
    problems: dict[str, str] = {}
    queries = []
    for entity, measures in the_plan.measures.items():
        try:
            queries.append((measure_query(source, entity, measures, windows, by=by), measures))
        except EntityUnavailable as error:
            problems[entity] = str(error)
    for rows, (_, measures) in zip(source.execute_all([q for q, _ in queries]), queries, strict=True):
        for row in rows:
            segment = row._mapping["segment"]
            key = NONE_SEGMENT if segment is None else str(segment)
            for w in range(len(windows)):
                for measure, value in _values(measures, row, w).items():
                    previous = values[key][w].get(measure)
                    values[key][w][measure] = value if previous is None else previous + (value or 0)
    return values, problems


def _metric_segments(metric: Metric, config, segment_values, windows: list[Period]) -> list[Segment]:
    segments = []
    own = set(metric.resolved_measures(config).values())
    for key in sorted(segment_values, key=lambda s: (s == NONE_SEGMENT, s)):
        per_window = segment_values[key]
        if not own.intersection(per_window[0]):
            continue
        evaluated = []
        for by_measure, window in zip(per_window, windows, strict=True):
            filled = {m: (0 if m.aggregate in ("count", "sum", "count_distinct") else None) for m in own}
            filled.update({m: v for m, v in by_measure.items() if m in filled})
            evaluated.append(_metric_values(metric, config, filled, window))
        current, before = evaluated[:2]
        segment = Segment(
            key,
            metric.value(current),
            _n(metric, current) or 0,
            previous=metric.value(before),
            previous_n=_n(metric, before) or 0,
        )
        if len(evaluated) > 2:  # a year before: None where the segment had no records then
            segment.compare = metric.value(evaluated[2]) if _n(metric, evaluated[2]) != 0 else None
        segments.append(segment)
    return segments


def preview_sql(metric: Metric, source: Source, period: Period, config=None) -> list[str]:
    """The SQL the engine would run for ``metric`` alone over ``period`` and the one before."""
    windows = [period, period.previous()]
    the_plan = plan([metric], source, windows, config)
    return [source.compile(statement) for statement, _ in plan_queries(source, the_plan, windows)]


def columns_read(metric: Metric, source: Source, period: Period, config=None) -> dict[str, list[str]]:
    """The columns of each entity that ``metric``'s measures read (filters, values and time columns)."""
    read: dict[str, set[str]] = defaultdict(set)
    for measure in metric.resolved_measures(config).values():
        row = _RecordingRow(source, source.relation(measure.entity), read[measure.entity])
        measure.condition(row, period)
        measure.expression(row, period)
    return {entity: sorted(columns) for entity, columns in sorted(read.items())}


class _RecordingRow(Row):
    """A Row that notes the name of every column a measure's lambdas touch."""

    def __init__(self, source: Source, relation, seen: set[str]):
        super().__init__(source, relation)
        self._seen = seen

    def __getattr__(self, name: str):
        value = super().__getattr__(name)
        self._seen.add(name)
        return value


__all__ = [
    "as_sql",
    "columns_read",
    "compute",
    "plain_queries",
    "preview_sql",
    "segment_history",
    "select_metrics",
]
