"""The metric API for plugin authors: a metric is a small formula over named measures.

A measure is one aggregate (count, sum, distinct count) of one entity's records, with a filter.
The engine gathers the measures of every requested metric and evaluates them for several periods
in one SQL query per entity, in the source database.

    class LateOrders(Metric):
        name = "late_order_rate"
        title = "Late orders"
        description = "Share of orders shipped after the promised date."
        unit = "percent"
        better = "lower"
        entity = "orders"
        time = "ordered_at"
        measures = {
            "late": Measure.count(where=lambda t: t.shipped_at > t.promised_at),
            "orders": Measure.count(),
        }
        n = "orders"

        def value(self, m):
            return percent(m.late, m.orders)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from .results import UNITS

BETTER = ("higher", "lower")
AGGREGATES = ("count", "sum", "count_distinct", "min", "max")
#: How a measure's time column meets the period: "in" = start <= t < end, "before_end" = t < end,
#: "all" = any time, "missing" = the time column is NULL (records no period can hold; counted as warnings).
WINDOWS = ("in", "before_end", "all", "missing")


@dataclass(frozen=True)
class Measure:
    """One aggregate of one entity, filtered, evaluated per period.

    ``where`` is ``lambda t: <condition>`` or ``lambda t, p: <condition>`` over the entity's columns
    (``t.score``, ``t.churned_at``) and, for the second form, the period's bounds (``p.start``,
    ``p.end``). ``of`` is a column name or ``lambda t: <expression>``. ``warn`` marks a measure that
    counts invalid records: its count in the period is reported as a warning with that message.
    ``note`` marks one that counts valid records the metric has no use for by what the source is
    (posts from an export that carries no reach): when it counts any, the note is said, not a count.
    """

    aggregate: str
    of: str | Callable | None = None
    where: Callable | None = None
    entity: str = ""  # the metric's entity until the measure names its own (``bound_to``)
    time: str | None = None
    window: str = "in"
    warn: str | None = None
    note: str | None = None

    @classmethod
    def count(cls, where=None, **options) -> Measure:
        """Count the records that pass ``where``."""
        return cls("count", None, where, **options)

    @classmethod
    def sum(cls, of, where=None, **options) -> Measure:
        """Sum a column or expression over the records that pass ``where`` (0 when there are none)."""
        return cls("sum", of, where, **options)

    @classmethod
    def count_distinct(cls, of, where=None, **options) -> Measure:
        """Count the distinct non-NULL values of a column or expression."""
        return cls("count_distinct", of, where, **options)

    @classmethod
    def missing_time(cls, warn: str, where=None, **options) -> Measure:
        """Count the records whose time column is NULL, reported as a warning with message ``warn``."""
        return cls("count", None, where, window="missing", warn=warn, **options)

    @classmethod
    def min(cls, of, where=None, **options) -> Measure:
        """Smallest value of a column or expression (None when there are no records)."""
        return cls("min", of, where, **options)

    @classmethod
    def max(cls, of, where=None, **options) -> Measure:
        """Largest value of a column or expression (None when there are no records)."""
        return cls("max", of, where, **options)

    def bound_to(self, entity: str | None, time: str | None) -> Measure:
        """This measure with the metric's default entity and time column filled in."""
        return replace(self, entity=self.entity or entity or "", time=self.time if self.time else time)

    def condition(self, t, p):
        """The filter for period window ``p``: the time window and ``where``, as SQL."""
        parts = []
        if self.time and self.window != "all":
            column = getattr(t, self.time)
            if self.window == "in":
                parts.append(column.in_window(p.start, p.end))
            elif self.window == "before_end":
                parts.append(column < p.end)
            else:
                parts.append(column.is_(None))
        if self.where is not None:
            parts.append(call_with_period(self.where, t, p))
        return parts

    def expression(self, t, p):
        if self.of is None:
            return None
        if isinstance(self.of, str):
            return as_sql(getattr(t, self.of))
        return as_sql(call_with_period(self.of, t, p))


def call_with_period(function: Callable, t, p):
    """Call ``lambda t: ...`` or ``lambda t, p: ...``."""
    if takes_period(function):
        return function(t, p)
    return function(t)


def takes_period(function) -> bool:
    """True for ``lambda t, p: ...``: a filter or value that depends on the period's bounds."""
    return callable(function) and len(inspect.signature(function).parameters) >= 2


def as_sql(value):
    """Unwrap the column helpers of the engine into SQLAlchemy expressions."""
    return getattr(value, "sql", value)


class Values(Mapping):
    """Measure values for one period, by name: ``m.promoters`` or ``m["promoters"]``."""

    def __init__(
        self,
        values: dict[str, float | None],
        config: Any = None,
        period: Any = None,
        squares: Mapping[str, float] | None = None,
    ):
        self._values = values
        self.config = config
        self.period = period
        self._squares = dict(squares or {})

    def squares_of(self, name: str) -> float | None:
        """The sum of squares of sum measure ``name`` over the same records (computed in SQL, in a
        breakdown's query), or None where it was not computed (totals, stored values)."""
        return self._squares.get(name)

    def replaced(self, name: str, value: float | None) -> Values:
        """These values with measure ``name`` set to ``value`` (the rest, squares included, kept)."""
        return Values({**self._values, name: value}, self.config, self.period, self._squares)

    def __getattr__(self, name: str):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no measure named {name!r}") from None

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)


class Metric:
    """Base class of every metric. Subclass it, set the attributes, write ``value``.

    Attributes: ``name`` (lower_snake_case, unique), ``title``, ``description`` (the definition in one
    sentence), ``unit`` (one of count, currency, percent, points, minutes, ratio), ``better``
    ("higher" or "lower"), ``entity`` and ``time`` (defaults for the measures), ``measures`` (a dict
    of name -> Measure, or a method ``measures(self, config)`` returning one), ``n`` (the measure
    counting the records behind the value; for a ratio, its denominator), ``n_noun`` (what ``n``
    counts, plural: ``"orders"``, ``"responses"``; see ``count_noun``).
    """

    name: str = ""
    title: str = ""
    description: str = ""
    unit: str = "count"
    better: str = "higher"
    entity: str | None = None
    time: str | None = None
    n: str | None = None
    #: What ``n`` counts, as a plural noun people read next to the number ("571 orders").
    n_noun: str | None = None
    measures: ClassVar[Any] = None
    #: Notes on edge cases, shown by ``kpi metrics --details``.
    rules: tuple[str, ...] = ()

    def value(self, m: Values) -> float | None:
        """Compute the metric from its measure values for one period."""
        raise NotImplementedError(f"metric {self.name!r} does not define value()")

    def variance(self, m: Values) -> float | None:
        """The sampling variance of ``value(m)`` (for a segment: is its change more than noise?), or None
        when it cannot be told. By default, to first order (the delta method) from its measures taken as
        independent: a count varies as a Poisson count (variance = the count), a sum as a compound Poisson
        sum (variance = its sum of squares, ``m.squares_of``); a metric with a min, a max or a sum whose
        squares are unknown has none. Metrics whose measures share records override it (NPS's multinomial
        counts, AOV's mean)."""
        return delta_variance(self, m)

    def resolved_measures(self, config: Any = None) -> dict[str, Measure]:
        """The measures with the metric's default entity and time column filled in."""
        # Cached per config so that measures built by a method stay the same objects, which is how
        # the engine recognises a measure shared by several metrics and finds its value again.
        cache = self.__dict__.setdefault("_resolved_measures", {})
        key = id(config)
        if key not in cache:
            measures = self.measures(config) if callable(self.measures) else (self.measures or {})
            cache[key] = (config, {name: m.bound_to(self.entity, self.time) for name, m in measures.items()})
        return cache[key][1]

    def count_noun(self, config: Any = None) -> str:
        """What ``n`` counts: ``n_noun`` when set, else the ``n`` measure's name when it is a plural
        (``"sessions"``, ``"consultants"``), else the last word of its entity (``survey_responses`` ->
        ``"responses"``), else ``"records"``."""
        if self.n_noun:
            return self.n_noun
        measures = self.resolved_measures(config)
        if self.n and self.n.endswith("s") and self.n.isalpha():
            return self.n
        measure = measures.get(self.n) if self.n else None
        entity = measure.entity if measure is not None else self.entity
        return entity.rsplit("_", 1)[-1] if entity else "records"

    def entities(self, config: Any = None) -> tuple[str, ...]:
        """The entities this metric reads."""
        return tuple(sorted({m.entity for m in self.resolved_measures(config).values() if m.entity}))

    def validate(self) -> None:
        """Raise ValueError describing what is wrong with this metric's declaration."""
        if not self.name or not isinstance(self.name, str) or not self.name.replace("_", "").isalnum():
            raise ValueError(f"metric name {self.name!r} must be lower_snake_case letters and digits")
        if self.name != self.name.lower():
            raise ValueError(f"metric name {self.name!r} must be lower case")
        if self.unit not in UNITS:
            raise ValueError(
                f"metric {self.name!r} has unknown unit {self.unit!r} (use one of {', '.join(UNITS)})"
            )
        if self.better not in BETTER:
            raise ValueError(f"metric {self.name!r}: better must be 'higher' or 'lower', not {self.better!r}")
        if not callable(self.measures):
            measures = self.resolved_measures()
            if not measures:
                raise ValueError(f"metric {self.name!r} declares no measures")
            for name, measure in measures.items():
                if not measure.entity:
                    raise ValueError(f"metric {self.name!r}: measure {name!r} names no entity")
                if measure.aggregate not in AGGREGATES:
                    raise ValueError(f"metric {self.name!r}: measure {name!r} has unknown aggregate")
                if measure.window not in WINDOWS:
                    raise ValueError(f"metric {self.name!r}: measure {name!r} has unknown window")
            if self.n is not None and self.n not in measures:
                raise ValueError(f"metric {self.name!r}: n names unknown measure {self.n!r}")

    def __repr__(self) -> str:
        return f"<Metric {self.name}>"


def _slopes(metric: Metric, m: Values, value: float) -> list[tuple[str, Measure, float, float]] | None:
    """(name, measure, its value, d value / d measure) of every measure the value depends on, the slopes
    by central differences; a measure with no value, a warning or a note is left out. None where the
    value is undefined beside a measure's value."""
    slopes = []
    for name, measure in metric.resolved_measures(m.config).items():
        x = m.get(name)
        if x is None or measure.warn or measure.note:
            continue
        step = 1e-6 * max(1.0, abs(x))
        up, down = metric.value(m.replaced(name, x + step)), metric.value(m.replaced(name, x - step))
        if up is None or down is None:
            return None
        slope = (up - down) / (2 * step)
        if abs(slope) > 1e-9 * max(1.0, abs(value)):  # else the value does not depend on it
            slopes.append((name, measure, x, slope))
    return slopes


def delta_variance(metric: Metric, m: Values) -> float | None:
    """``metric.variance``'s default: sum over measures of (d value / d measure)^2 x the measure's variance,
    the derivatives by central differences."""
    value = metric.value(m)
    if value is None:
        return None
    slopes = _slopes(metric, m, value)
    if slopes is None:
        return None
    total = 0.0
    for name, measure, x, slope in slopes:
        if measure.aggregate in ("count", "count_distinct"):
            spread = max(x, 0.0)
        elif measure.aggregate == "sum" and m.squares_of(name) is not None:
            spread = m.squares_of(name) or 0.0
        else:
            return None  # a min, a max, or a sum whose squares are unknown
        total += slope * slope * spread
    return total


def change_variance(metric: Metric, m: Values, before: Values) -> float | None:
    """The sampling variance of the change of ``metric`` from ``before`` (the period before) to ``m``
    when the two values share their records: every measure the value depends on counts from the
    beginning of the data (window ``before_end``, or ``all``), as CLV's lifetime revenue and customers do.
    This period's value then holds the period before's records plus its own, so only its own records
    move it: the delta method, as ``delta_variance``, with each measure's spread that of the period's
    own records (a count's increase, a sum's increase in its sum of squares) and an ``all`` measure
    held fixed. None when a measure counts the period alone (the two values are of records apart, and
    their variances add) or when the spread cannot be told (a min, a max, a sum without squares)."""
    value = metric.value(m)
    if value is None or metric.value(before) is None:
        return None
    slopes = _slopes(metric, m, value)
    if slopes is None:
        return None
    total = 0.0
    for name, measure, x, slope in slopes:
        x_before = before.get(name)
        if measure.window == "all":
            continue  # the same records in both periods: no change of its own
        if measure.window != "before_end" or x_before is None:
            return None
        if measure.aggregate in ("count", "count_distinct"):
            spread = max(x - x_before, 0.0)
        elif measure.aggregate == "sum" and None not in (m.squares_of(name), before.squares_of(name)):
            spread = max((m.squares_of(name) or 0.0) - (before.squares_of(name) or 0.0), 0.0)
        else:
            return None
        total += slope * slope * spread
    return total


def mean_variance(total: float | None, squares: float | None, n: float | None) -> float | None:
    """The variance of a mean of ``n`` values from their sum and sum of squares: s^2 / n, with s^2 the
    sample variance (n - 1 in its denominator); None under 2 values."""
    if total is None or squares is None or not n or n < 2:
        return None
    return max(squares - total * total / n, 0.0) / (n - 1) / n


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when the denominator is 0 or missing."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def percent(numerator: float | None, denominator: float | None) -> float | None:
    """100 x numerator / denominator, or None when the denominator is 0 or missing."""
    share = ratio(numerator, denominator)
    return None if share is None else 100.0 * share
