"""Concentration: one segment holds more than a set share of the total ("risky monopoly").

Only for additive metrics, where the segments' values add up to the total (revenue, orders, new
customers): a share of an average or a rate means nothing. That is checked on the numbers themselves,
so a third-party metric needs to declare nothing. The group with no value for the dimension ("no
region") is never named.
"""

from __future__ import annotations

from ..i18n import N_
from .base import Detector, Evidence, Insight, Number, Word

NONE_SEGMENT = "(none)"


def concentrated(segments: list[tuple[str, float]], total: float, share: float) -> tuple[str, float] | None:
    """The segment holding more than ``share`` of ``total`` (the largest), with its share, or None.

    ``segments`` are (name, value) pairs that add up to ``total``; negative values or a total of zero
    leave nothing to share.
    """
    if not segments or total is None or total <= 0 or any(value < 0 for _, value in segments):
        return None
    named = [(name, value) for name, value in segments if name != NONE_SEGMENT]
    if not named:
        return None
    name, value = max(named, key=lambda item: item[1])
    fraction = value / total
    return (name, fraction) if fraction > share else None


def additive(values: list[float], total: float) -> bool:
    """True when the segments' values add up to the total (within rounding)."""
    return abs(sum(values) - total) <= 1e-6 * max(1.0, abs(total))


class Concentration(Detector):
    kind = "concentration"
    description = "one segment holds more than a share of the total (e.g. > 50 % of revenue from one channel)"
    settings = {"share": 0.5, "min_segments": 2}

    def dimensions(self, metric, settings, options):
        return list(options.get("dimensions") or []) if metric.unit in ("count", "currency") else []

    def detect(self, evidence: Evidence) -> list[Insight]:
        found = []
        threshold = float(evidence.settings["share"])
        total = evidence.result.value
        assert total is not None, "no detector runs on a missing value"
        for dimension, broken_down in evidence.segments.items():
            if broken_down is None or not broken_down.segments:
                continue
            pairs = [(s.segment, s.value) for s in broken_down.segments if s.value is not None]
            if len([p for p in pairs if p[0] != NONE_SEGMENT]) < int(evidence.settings["min_segments"]):
                continue
            if not additive([value for _, value in pairs], total):
                continue
            hit = concentrated(pairs, total, threshold)
            if hit is None:
                continue
            segment, fraction = hit
            records = next(s.n for s in broken_down.segments if s.segment == segment)
            if (records or 0) < int(evidence.options.get("min_sample", 0) or 0):
                continue  # too few records to speak about the segment
            value = next(value for name, value in pairs if name == segment)
            unit = evidence.metric.unit
            found.append(
                Insight(
                    metric=evidence.metric.name,
                    kind=self.kind,
                    # A standing fact rather than news: between 0.3 and 0.7, higher the more concentrated.
                    score=0.3 + 0.4 * (fraction - threshold) / max(1e-9, 1 - threshold),
                    period=evidence.result.period,
                    message=N_(
                        "%(metric)s: %(share)s from %(dimension)s %(segment)s alone (%(value)s of %(total)s)."
                    ),
                    values={
                        "share": Number(fraction, "share"),
                        "metric": Word(evidence.metric.title),
                        "dimension": Word(dimension.replace("_", " ")),
                        "segment": segment,
                        "value": Number(value, unit),
                        "total": Number(total, unit),
                    },
                    segment=f"{dimension} = {segment}",
                    numbers={
                        "dimension": dimension,
                        "share": fraction,
                        "value": value,
                        "total": total,
                        "threshold": threshold,
                    },
                )
            )
        return found
