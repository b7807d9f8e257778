"""An unusual change with the segment that drove it: the clause a headline adds to its sentence.

``Churn rate jumped to 1.8%, the highest in 100 weeks; most of it in South (27 of 501 customers).``
The driver is the drivers insight's own (:mod:`.drivers` decides who may be named); this module only
words it, from the same segment aggregates: for a rate, the segment's events of its records (27 of
501 customers is the South's 5.39 % of 501), else the segment's own change (``+$1,200``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..i18n import N_
from .base import Insight, Noun, Number, Part

#: A driver holding at least this share of the change holds "most of it".
MOST = 0.5

CLAUSES = {
    ("most", "count"): N_("%(finding)s; most of it in %(where)s (%(part)s of %(whole)s %(noun)s)."),
    ("most", "change"): N_("%(finding)s; most of it in %(where)s (%(change)s)."),
    ("part", "count"): N_("%(finding)s; the biggest part in %(where)s (%(part)s of %(whole)s %(noun)s)."),
    ("part", "change"): N_("%(finding)s; the biggest part in %(where)s (%(change)s)."),
}


def with_drivers(
    insights: Sequence[Insight], segments: Mapping[str, Mapping[str, Any]], nouns: Mapping[str, str]
) -> list[Insight]:
    """``insights`` with each whole-metric unusual change given its driver (``Insight.driver`` and
    ``numbers["driver"]``) when a drivers insight of the same metric moved it the same way.
    ``segments``: dimension -> metric -> its ``--by`` result; ``nouns``: metric -> what ``n`` counts."""
    found = []
    for insight in insights:
        driver = _driver_of(insight, insights) if insight.kind == "unusual" and not insight.segment else None
        if driver is not None:
            insight = _named(insight, driver, segments, nouns.get(insight.metric, "records"))
        found.append(insight)
    return found


def _driver_of(unusual: Insight, insights: Sequence[Insight]) -> Insight | None:
    value, expected = unusual.numbers.get("value"), unusual.numbers.get("expected")
    if value is None or expected is None or value == expected:
        return None
    up = value > expected
    for insight in insights:
        numbers = insight.numbers
        if (
            insight.kind == "drivers"
            and insight.metric == unusual.metric
            and numbers.get("role") == "driver"
            and isinstance(numbers.get("change"), (int, float))
            and (numbers["change"] > 0) == up
        ):
            return insight
    return None


def _named(unusual: Insight, driver: Insight, segments, noun: str) -> Insight:
    from ..presentation.formatting import segment_label

    dimension, segment = driver.numbers["dimension"], driver.numbers["segment"]
    share = float(driver.numbers.get("share") or 0)
    unit = getattr(unusual.values.get("value"), "unit", "number")
    aggregate = _aggregate(segments.get(dimension, {}).get(unusual.metric), segment)
    values: dict[str, Any] = {"where": segment_label(segment, dimension)}
    record: dict[str, Any] = {"dimension": dimension, "segment": segment, "share": share}
    size = "most" if share >= MOST else "part"
    if unit == "percent" and aggregate is not None and aggregate.n and aggregate.value is not None:
        part = round(aggregate.value * aggregate.n / 100)
        values.update({"part": Number(part), "whole": Number(aggregate.n), "noun": Noun(noun, aggregate.n)})
        record.update({"count": part, "of": aggregate.n})
        message = CLAUSES[(size, "count")]
    else:
        values["change"] = driver.values.get("segment_change")
        message = CLAUSES[(size, "change")]
    numbers = {**unusual.numbers, "driver": record}
    return dataclasses.replace(unusual, driver=Part(message, values), numbers=numbers)


def _aggregate(broken_down, segment: str):
    for candidate in getattr(broken_down, "segments", None) or []:
        if candidate.segment == segment:
            return candidate
    return None
