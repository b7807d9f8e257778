"""Drivers and detractors: which segments of which dimension made the change vs the period before.

The arithmetic is a pure function over segment aggregates (:func:`decompose`): per segment its value
and the records behind it (``n``: for a ratio metric the denominator's count) for the period and the one
before, as ``kpi compute --by`` computes them in SQL. Two kinds of metric decompose exactly:

- **additive** (revenue, orders, new customers): the segments' values add up to the total, and a
  segment's contribution is its own change, ``v1 - v0``;
- **ratio** (churn rate, conversion, AOV, CSAT, NPS): the total is the ``n``-weighted mean of the
  segments' values (``R = sum(w_i r_i)`` with ``w_i = n_i / N``). The change of each segment's term
  ``w1 r1 - w0 r0`` splits into a **rate** effect ``mean(w) * (r1 - r0)`` (its own rate moved) and a
  **mix** effect ``(w1 - w0) * (mean(r) - mean(R))`` (its share of the denominator moved, counted
  against the overall rate, so a segment that grows only moves the total when its rate differs from
  it). The midpoint weights make the two effects add up to the segment's term with nothing left over,
  and the mix effects add up to zero over the segments only because the weights sum to one in both
  periods: subtracting ``mean(R)`` moves no total.

Both sum to the total change exactly: the arithmetic is done in :class:`fractions.Fraction` from the
aggregates' own numbers. Which kind a metric is, is decided on the numbers (the segments must add up to
the total, or average to it), so a third-party metric declares nothing; a metric that is neither (a
median) gets no drivers insight.

Ranking: a segment's *share* of the change (its contribution / the total change) against its share of
the base (its share of the previous total, or its mean weight): a segment that is 25 % of customers and
holds 80 % of the rise in churn stands out (excess 0.55); a dimension whose every segment moved alike
explains nothing (excess about 0), however few segments it has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..i18n import N_
from .base import Detector, Evidence, Insight, Number, Word

NONE_SEGMENT = "(none)"
#: Relative tolerance for "the segments add up to (or average to) the total": float sums from SQL.
TOLERANCE = 1e-6


@dataclass(frozen=True)
class SegmentAggregate:
    """One segment's value and records for the period (``value``, ``n``) and the one before, and the
    sampling variance of each value where the metric gives one (``Metric.variance``), and of the change
    when the two periods share records (``change_variance``: a lifetime metric's)."""

    segment: str
    value: float | None
    n: int | None
    previous: float | None
    previous_n: int | None
    variance: float | None = None
    previous_variance: float | None = None
    change_variance: float | None = None


@dataclass(frozen=True)
class Contribution:
    """A segment's part of the total change; ``rate`` + ``mix`` == ``change`` for a ratio metric
    (both None for an additive one). ``share`` = change / total change; ``base`` is its share of the
    base (previous total, or mean weight) and ``excess`` = share - base."""

    segment: str
    change: Fraction
    share: Fraction
    base: Fraction
    rate: Fraction | None = None
    mix: Fraction | None = None

    @property
    def excess(self) -> Fraction:
        return self.share - self.base


@dataclass(frozen=True)
class Decomposition:
    """The total change (as the segments give it) and every segment's contribution, which sum to it."""

    kind: str  # "additive" | "ratio"
    total_change: Fraction
    contributions: tuple[Contribution, ...]

    @property
    def net_share(self) -> Fraction:
        """|total change| / the sum of |contributions|: 1 when every segment moved the same way, near 0
        when the segments' moves cancel out (then no segment "drove" the small net change)."""
        gross = sum(abs(c.change) for c in self.contributions)
        return abs(self.total_change) / gross if gross else Fraction(0)

    def drivers(self) -> list[Contribution]:
        """Named segments that moved the total its way, the most surprising first (excess, then share)."""
        named = [c for c in self.contributions if c.segment != NONE_SEGMENT and c.share > 0]
        return sorted(named, key=lambda c: (c.excess, c.share), reverse=True)

    def detractors(self) -> list[Contribution]:
        """Named segments that moved against the total change, the largest first."""
        named = [c for c in self.contributions if c.segment != NONE_SEGMENT and c.share < 0]
        return sorted(named, key=lambda c: c.share)


def _close(a: Fraction, b: float) -> bool:
    return abs(float(a) - b) <= TOLERANCE * max(1.0, abs(b))


def decompose(
    segments: Sequence[SegmentAggregate], total: float, previous_total: float, additive_allowed: bool = True
) -> Decomposition | None:
    """The exact decomposition of ``total - previous_total`` over ``segments``, or None.

    Additive when the segments' values add up to both totals (and ``additive_allowed``), a ratio when
    their ``n``-weighted means equal them; None when neither holds, a needed number is missing, or
    nothing changed.
    """
    if total is None or previous_total is None or not segments:
        return None
    rows = []
    for s in segments:
        if s.n is None or s.previous_n is None:
            return None
        if (s.value is None and s.n) or (s.previous is None and s.previous_n):
            return None  # records without a value: not a sum or a mean of anything
        rows.append(
            (
                s.segment,
                Fraction(s.value or 0),
                Fraction(s.n),
                Fraction(s.previous or 0),
                Fraction(s.previous_n),
            )
        )
    sum_now = sum((v for _, v, _, _, _ in rows), Fraction(0))
    sum_before = sum((p for _, _, _, p, _ in rows), Fraction(0))
    if additive_allowed and _close(sum_now, total) and _close(sum_before, previous_total):
        return _additive(rows, sum_now, sum_before)
    return _ratio(rows, total, previous_total)


def _additive(rows, sum_now: Fraction, sum_before: Fraction) -> Decomposition | None:
    change = sum_now - sum_before
    if change == 0:
        return None
    base_total = sum_before if sum_before > 0 else sum_now
    contributions = tuple(
        Contribution(
            segment,
            value - previous,
            (value - previous) / change,
            (previous if sum_before > 0 else value) / base_total if base_total > 0 else Fraction(0),
        )
        for segment, value, _, previous, _ in rows
    )
    return Decomposition("additive", change, contributions)


def _ratio(rows, total: float, previous_total: float) -> Decomposition | None:
    n_now = sum(n for _, _, n, _, _ in rows)
    n_before = sum(pn for _, _, _, _, pn in rows)
    if n_now <= 0 or n_before <= 0:
        return None
    rate_now = sum(v * n for _, v, n, _, _ in rows) / n_now
    rate_before = sum(p * pn for _, _, _, p, pn in rows) / n_before
    if not (_close(rate_now, total) and _close(rate_before, previous_total)):
        return None  # not an n-weighted mean of its segments (a median, a ratio of other counts)
    change = rate_now - rate_before
    if change == 0:
        return None
    mean_total = (rate_now + rate_before) / 2
    contributions = []
    for segment, value, n, previous, previous_n in rows:
        w1, w0 = n / n_now, previous_n / n_before
        if n == 0 and previous_n == 0:
            r1 = r0 = Fraction(0)
        else:
            # A segment absent from one period has weight 0 there: its rate is taken as the other one's
            # (it then changes nothing but the mix), which keeps every term exact.
            r1 = value if n else previous
            r0 = previous if previous_n else value
        rate = (w0 + w1) / 2 * (r1 - r0)
        mix = (w1 - w0) * ((r0 + r1) / 2 - mean_total)
        contributions.append(
            Contribution(segment, rate + mix, (rate + mix) / change, (w0 + w1) / 2, rate, mix)
        )
    return Decomposition("ratio", change, tuple(contributions))


def segment_aggregates(broken_down) -> list[SegmentAggregate]:
    """The aggregates of a ``--by`` result (``MetricResult.segments``)."""
    return [
        SegmentAggregate(
            s.segment,
            s.value,
            s.n,
            s.previous,
            getattr(s, "previous_n", None),
            getattr(s, "variance", None),
            getattr(s, "previous_variance", None),
            getattr(s, "change_variance", None),
        )
        for s in broken_down.segments or []
    ]


#: The driver, with the change's size said as an owner says it ("fell $6,308").
DRIVER = {
    "fell": N_(
        "%(metric)s fell %(change)s; %(share)s of that came from %(dimension)s %(segment)s (%(segment_change)s)."
    ),
    "rose": N_(
        "%(metric)s rose %(change)s; %(share)s of that came from %(dimension)s %(segment)s (%(segment_change)s)."
    ),
}
#: A segment that moved more than the total (the others, together, went the other way): said as what it is.
FELL_BEYOND = N_(
    "%(metric)s fell %(change)s; %(dimension)s %(segment)s fell by more than the total (%(segment_change)s) "
    "and the others rose by %(others)s."
)
ROSE_BEYOND = N_(
    "%(metric)s rose %(change)s; %(dimension)s %(segment)s rose by more than the total (%(segment_change)s) "
    "and the others fell by %(others)s."
)
#: A share above this is said as "more than the total" (it would show as 101 % or more).
BEYOND = 1.005
#: The total moved, a segment would explain it, but none can be told from noise (or has min_sample records).
#: Said with the change's size ("fell 20.9 pts"), as an owner says it.
TOO_FEW = {
    "fell": N_("%(metric)s fell %(change)s; too few %(records)s to tell which %(dimension)s drove it."),
    "rose": N_("%(metric)s rose %(change)s; too few %(records)s to tell which %(dimension)s drove it."),
}
#: A segment that pulled the other way, said with the total's direction and both sizes (its share of
#: the total's change is negative).
DETRACTOR = {
    "fell": N_(
        "%(metric)s fell %(change)s overall, but %(dimension)s %(segment)s pulled it up %(segment_change)s."
    ),
    "rose": N_(
        "%(metric)s rose %(change)s overall, but %(dimension)s %(segment)s pulled it down %(segment_change)s."
    ),
}


#: How sure a segment's own change must be before it is named (two-sided 95 %: 1.96 standard errors).
SURE = 1.96


def distinguishable(unit: str, segment: SegmentAggregate, sds: float = SURE) -> bool:
    """Whether a segment's own change from ``previous`` to ``value`` stands out from sampling noise, at
    ``sds`` standard errors (two-sided 95 % by default):

    - a change whose two periods share records (a lifetime metric such as CLV, ``change_variance``):
      ``|change| > sds * sqrt(change_variance)``, the noise of the period's own records (the two
      values are not independent samples, and their variances must not be added);
    - a count: Poisson noise (the difference of two counts has variance ``value + previous``);
    - a rate (percent): the pooled two-proportion test on its records;
    - anything whose variance the metric gives in both periods (NPS: the multinomial variance of its
      promoter, passive and detractor counts; sums and means of amounts: from the segment's sums of
      squares computed in SQL): ``|change| > sds * sqrt(variance + previous_variance)``;
    - a score without one (points): the largest variance a -100..100 score can have per response;
    - anything else: not told apart from noise (False), so never named.
    """
    value, previous, n, previous_n = segment.value, segment.previous, segment.n, segment.previous_n
    if value is None or previous is None:
        return False
    if segment.change_variance is not None:
        error = math.sqrt(max(segment.change_variance, 0.0))
        return abs(value - previous) > sds * error if error > 0 else value != previous
    if unit == "count":
        return not within_counting_noise(value, previous, sds)
    if not n or not previous_n:
        return False
    if unit == "percent":
        pooled = (value * n + previous * previous_n) / 100 / (n + previous_n)
        error = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / n + 1 / previous_n))
        return abs(value - previous) / 100 > sds * error if error > 0 else value != previous
    if segment.variance is not None and segment.previous_variance is not None:
        error = math.sqrt(max(segment.variance, 0.0) + max(segment.previous_variance, 0.0))
        return abs(value - previous) > sds * error if error > 0 else value != previous
    if unit == "points":
        return abs(value - previous) / 100 > sds * math.sqrt(1 / n + 1 / previous_n)
    return False


def _change_variance(segment: SegmentAggregate) -> float | None:
    """The variance of a segment's change: its own (periods sharing records), else the two periods'
    added; None without them."""
    if segment.change_variance is not None:
        return max(segment.change_variance, 0.0)
    if segment.variance is None or segment.previous_variance is None:
        return None
    return max(segment.variance, 0.0) + max(segment.previous_variance, 0.0)


def speaks(segment: SegmentAggregate | None, unit: str, min_sample: int) -> bool:
    """Whether an insight may name ``segment``: ``min_sample`` records in both periods, and a change of
    its own that stands out from noise."""
    return (
        segment is not None
        and min(segment.n or 0, segment.previous_n or 0) >= min_sample
        and distinguishable(unit, segment)
    )


def within_counting_noise(value: float, previous: float, sds: float) -> bool:
    """Whether the change of a count from ``previous`` to ``value`` is within ``sds`` standard deviations
    of counting noise (independent Poisson counts: the difference has variance ``value + previous``)."""
    return abs(value - previous) <= sds * math.sqrt(max(value, 0) + max(previous, 0))


class Drivers(Detector):
    """The segment of the dimension that explains the change best, and the one that most went against it."""

    kind = "drivers"
    description = "the segments that drove the change vs the period before (rate vs mix for ratios)"
    #: min_share: a driver holds at least this share of the change; min_excess: that much more than its
    #: share of the base (its size); min_net: the net change is at least this share of the segments'
    #: gross movement (else their moves cancel out and nothing drove it); top: listed in numbers;
    #: noise_sd: a count's change within this many standard deviations of counting noise (a Poisson count
    #: x has variance x, so the change from a to b has variance a + b) is noise with no driver to name.
    settings = {"min_share": 0.3, "min_excess": 0.1, "min_net": 0.25, "top": 3, "noise_sd": 2.0}

    def dimensions(self, metric, settings, options):
        return list(options.get("dimensions") or [])

    def detect(self, evidence: Evidence) -> list[Insight]:
        result = evidence.result
        if result.previous is None or result.value is None or result.delta in (None, 0):
            return []
        settings = evidence.settings
        if evidence.metric.unit == "count" and within_counting_noise(
            result.value, result.previous, settings["noise_sd"]
        ):
            return []  # 36 new customers after 38 is not a change to explain
        best: tuple | None = None
        worst: tuple | None = None
        unclear: tuple | None = None  # a dimension whose would-be driver cannot be told from noise
        for dimension, broken_down in evidence.segments.items():
            found = self._decomposed(evidence, broken_down)
            if found is None:
                continue
            # Only segments with enough records, whose own change stands out from noise, are named.
            aggregates = {a.segment: a for a in segment_aggregates(broken_down)}
            minimum = int(evidence.options.get("min_sample", 0) or 0)
            unit = evidence.metric.unit
            candidates = found.drivers()
            drivers = [c for c in candidates if speaks(aggregates.get(c.segment), unit, minimum)]
            named = drivers[0] if drivers and self._explains(drivers[0], settings) else None
            if named is not None and (best is None or named.excess > best[2].excess):
                best = (dimension, found, named)
            elif named is None and candidates and self._explains(candidates[0], settings):
                if unclear is None or candidates[0].excess > unclear[2].excess:
                    unclear = (dimension, found, candidates[0])  # the dimension that would explain most
            detractors = [c for c in found.detractors() if speaks(aggregates.get(c.segment), unit, minimum)]
            if detractors and (worst is None or detractors[0].share < worst[2].share):
                worst = (dimension, found, detractors[0])
        insights = []
        if best is not None:
            insights.append(self._driver(evidence, *best))
        elif unclear is not None and not self._sum_within_noise(evidence, settings["noise_sd"]):
            # "too few orders to tell" only of a change that is itself more than noise: revenue 1.8 %
            # down, where its orders' own noise is 3 %, is not a change to explain
            insights.append(self._too_few(evidence, *unclear))
        if worst is not None and -worst[2].share >= settings["min_share"]:
            insights.append(self._detractor(evidence, *worst))
        return insights

    @staticmethod
    def _explains(top: Contribution, settings) -> bool:
        """Whether a segment holds enough of the change, and more than its size, to be its driver."""
        return top.share >= settings["min_share"] and top.excess >= settings["min_excess"]

    def _decomposed(self, evidence: Evidence, broken_down) -> Decomposition | None:
        """The decomposition of the change over one dimension's segments, or None when it explains
        nothing (no breakdown, the other way, or a wash: the segments' moves cancel out)."""
        result = evidence.result
        if broken_down is None or not broken_down.segments:
            return None
        assert result.value is not None and result.previous is not None and result.delta is not None
        found = decompose(
            segment_aggregates(broken_down),
            result.value,
            result.previous,
            additive_allowed=evidence.metric.unit in ("count", "currency"),
        )
        if found is None or (found.total_change > 0) != (result.delta > 0):
            return None
        if found.net_share < evidence.settings["min_net"]:
            return None  # the segments' moves cancel out: a wash, not a change with a driver
        return found

    @staticmethod
    def _sum_within_noise(evidence: Evidence, sds: float) -> bool:
        """Whether an amount that is a sum (revenue) moved by less than ``sds`` standard deviations of its
        own noise: the variance of its change is the sum of its segments' (they add up to it, and their
        noises are independent), read from any dimension whose every segment gives one. False for a
        mean (AOV: its segments do not add up to it) or without variances."""
        result = evidence.result
        if evidence.metric.unit != "currency" or result.value is None or result.previous is None:
            return False
        for broken_down in evidence.segments.values():
            aggregates = segment_aggregates(broken_down) if broken_down is not None else []
            if not aggregates or any(a.value is None or a.previous is None for a in aggregates):
                continue
            adds_up = all(
                math.isclose(sum(values), total, rel_tol=1e-9, abs_tol=1e-6)
                for values, total in (
                    ([a.value or 0.0 for a in aggregates], result.value),
                    ([a.previous or 0.0 for a in aggregates], result.previous),
                )
            )
            variances = [_change_variance(a) for a in aggregates]
            if adds_up and None not in variances:
                return abs(result.value - result.previous) <= sds * math.sqrt(
                    sum(v or 0.0 for v in variances)
                )
        return False

    def _numbers(self, evidence: Evidence, dimension: str, found: Decomposition) -> dict:
        top = int(evidence.settings["top"])
        listed = [*found.drivers()[:top], *found.detractors()[:top]]
        return {
            "dimension": dimension,
            "method": found.kind,
            "change": float(found.total_change),
            "net_share": float(found.net_share),
            "value": evidence.result.value,
            "previous": evidence.result.previous,
            "segments": [
                {
                    "segment": c.segment,
                    "change": float(c.change),
                    "share": float(c.share),
                    "base": float(c.base),
                    **(
                        {"rate": float(c.rate), "mix": float(c.mix)}
                        if c.rate is not None and c.mix is not None
                        else {}
                    ),
                }
                for c in listed
            ],
            # every segment's contribution: they add up to `change` (exactly, before rounding to floats)
            "contributions": {c.segment: float(c.change) for c in found.contributions},
        }

    def _driver(self, evidence: Evidence, dimension: str, found: Decomposition, top: Contribution) -> Insight:
        metric, result = evidence.metric, evidence.result
        assert result.delta is not None, "detect finds no driver without a change"
        good = (result.delta > 0) == (metric.better == "higher")
        values = {
            "metric": Word(metric.title),
            "change": Number(float(found.total_change), "size", of=metric.unit),
            "share": Number(float(top.share), "share"),
            "dimension": Word(dimension.replace("_", " ")),
            "segment": top.segment,
            "segment_change": Number(float(top.change), "change", of=metric.unit),
        }
        beyond = top.share > BEYOND
        if beyond:  # "West fell by more than the total and the others rose by 1.2 pts": which way is said
            values["change"] = Number(float(found.total_change), "size", of=metric.unit)
            values["segment_change"] = Number(float(top.change), "size", of=metric.unit)
            values["others"] = Number(float(found.total_change - top.change), "size", of=metric.unit)
        numbers = self._numbers(evidence, dimension, found)
        numbers.update(
            {
                "role": "driver",
                "segment": top.segment,
                "share": float(top.share),
                "excess": float(top.excess),
                "others": float(found.total_change - top.change),
            }
        )
        if top.rate is not None and top.mix is not None:
            numbers.update({"rate": float(top.rate), "mix": float(top.mix)})
        return Insight(
            metric=metric.name,
            kind=self.kind,
            # An explanation of a change, not the news itself: 0.3 for a plain one, up to 0.5 when one segment
            # holds it all, so an unusual-change flag (0.5 and up) of the same change ranks first.
            score=0.3 + 0.2 * min(1.0, float(top.excess)),
            period=result.period,
            # Rate and mix effects are for --details and JSON (numbers): an owner reads the segment's part.
            message=(FELL_BEYOND if found.total_change < 0 else ROSE_BEYOND)
            if beyond
            else DRIVER["fell" if found.total_change < 0 else "rose"],
            values=values,
            segment=f"{dimension} = {top.segment}",
            numbers=numbers,
            needs_attention=not good,
        )

    def _too_few(
        self, evidence: Evidence, dimension: str, found: Decomposition, top: Contribution
    ) -> Insight:
        """The total moved and a segment of ``dimension`` would explain it, but none can be told from
        noise: said so, rather than naming a noisy segment or saying nothing."""
        metric, result = evidence.metric, evidence.result
        assert result.delta is not None, "detect finds no driver without a change"
        aggregates = {a.segment: a for a in segment_aggregates(evidence.segments[dimension])}
        unnamed = [c.segment for c in found.drivers() if self._explains(c, evidence.settings)]
        numbers = self._numbers(evidence, dimension, found)
        numbers.update(
            {
                "role": "unclear",
                "min_sample": int(evidence.options.get("min_sample", 0) or 0),
                "level": 0.95,
                "unnamed": [
                    {"segment": name, "n": aggregates[name].n, "previous_n": aggregates[name].previous_n}
                    for name in unnamed
                    if name in aggregates
                ],
            }
        )
        return Insight(
            metric=metric.name,
            kind=self.kind,
            score=0.3,  # as a plain driver: what explains the change, here that nothing can be told
            period=result.period,
            message=TOO_FEW["rose" if found.total_change > 0 else "fell"],
            values={
                "metric": Word(metric.title),
                "change": Number(float(found.total_change), "size", of=metric.unit),
                "records": Word(metric.count_noun(evidence.config)),
                "dimension": Word(dimension.replace("_", " ")),
            },
            numbers=numbers,
            needs_attention=(result.delta > 0) != (metric.better == "higher"),
        )

    def _detractor(
        self, evidence: Evidence, dimension: str, found: Decomposition, against: Contribution
    ) -> Insight:
        metric, result = evidence.metric, evidence.result
        values = {
            "metric": Word(metric.title),
            "change": Number(float(found.total_change), "size", of=metric.unit),
            "dimension": Word(dimension.replace("_", " ")),
            "segment": against.segment,
            "segment_change": Number(float(against.change), "size", of=metric.unit),
        }
        numbers = self._numbers(evidence, dimension, found)
        numbers.update({"role": "detractor", "segment": against.segment, "share": float(against.share)})
        good = (float(against.change) > 0) == (metric.better == "higher")
        return Insight(
            metric=metric.name,
            kind=self.kind,
            score=0.25 + 0.1 * min(1.0, -float(against.share)),
            period=result.period,
            message=DETRACTOR["rose" if found.total_change > 0 else "fell"],
            values=values,
            segment=f"{dimension} = {against.segment}",
            numbers=numbers,
            needs_attention=not good,
        )
