"""The headline a digest opens with: what needs attention this period, in one or two sentences.

A pure function of the results (no I/O, no Babel beyond formatting): ``headline(results)`` counts
how many metrics got worse, then names the one thing most worth a look, e.g.

    4 of 5 KPIs worse than last week. Net Promoter Score fell 22.0 points to -15.0, most of it in East.

What gets named is the candidate with the highest ``score``. Each metric whose value changed is a
candidate of kind ``"change"``: its score is the size of the change relative to the metric's usual
variation (the standard deviation of its period-to-period changes over the trend, when the trend has
at least three changes), else relative to a fixed scale (10 % for amounts, 10 points for scores, a
tenth of the previous value for rates). What needs attention (a worse change) always outranks what
does not (a better change is named only when nothing got worse). More kinds come from elsewhere
through ``extra``: an insight or an alert passes ``Attention(metric, score, sentence, kind)``
and is named when it ranks first. A metric off its kpi.toml target is a candidate of kind ``"target"``
(``Churn rate is 3.3%, 0.80 points above its target of ≤ 2.5%.``), scored like a change of the size of
its gap.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from kpicore.i18n import _, ngettext
from kpicore.presentation import formatting
from kpicore.presentation.bidi import ltr
from kpicore.results import POINT_UNITS, MetricResult, Segment

#: Below this many records a segment is not named as the place a change came from.
DEFAULT_MIN_SAMPLE = 30
#: A segment "holds most of" a change when its contribution is at least this share of the total.
MOST_SHARE = 0.5


@dataclass(frozen=True)
class Attention:
    """One thing the headline could name: the metric, how much it matters, the sentence to show."""

    metric: str
    score: float
    sentence: str
    kind: str = "change"
    #: False for good news (a better change): ranked after everything that needs attention.
    needs_attention: bool = True
    #: Shorter ways to say it, best first, for the one-line headline (default: the sentence without
    #: its closing parenthesis); each a whole sentence or more.
    shorter: tuple[str, ...] = ()
    #: The insight sentences it says (left out of the digest's list of insights when it is named).
    said: tuple[str, ...] = ()

    def rank(self) -> tuple[bool, float]:
        """The sort key, highest first: needs attention, then score."""
        return (self.needs_attention, self.score)


@dataclass(frozen=True)
class Headline:
    """The headline: ``summary`` (how many metrics got worse) and ``focus`` (the one to look at)."""

    summary: str
    focus: str | None = None
    #: The candidate named in ``focus`` (None when nothing changed).
    named: Attention | None = None

    @property
    def text(self) -> str:
        """Both sentences, as one line of at most ``HEADLINE_MAX`` grapheme clusters (a Slack
        notification, an email preview, where a longer line pushes the digest's name off a lock
        screen): the focus's shorter forms in turn (without the expected range, then without the
        revenue at risk, then without the driver), each after the summary, then alone; the shortest
        is cut at a word, with an ellipsis, only as a last resort."""
        if not self.focus:
            return self.summary
        shorter = list(self.named.shorter if self.named is not None and self.named.shorter else ())
        shorter = shorter or [_without_parenthesis(self.focus)]
        candidates = [f"{self.summary} {self.focus}"]
        for form in shorter:
            candidates += [f"{self.summary} {form}", form]
        for candidate in candidates:
            if graphemes(candidate) <= HEADLINE_MAX:
                return candidate
        return _cut(shorter[-1], HEADLINE_MAX)


#: The longest headline line, in grapheme clusters.
HEADLINE_MAX = 120


def graphemes(text: str) -> int:
    """Grapheme clusters in ``text``, as UAX #29 counts them for these scripts: combining and spacing
    marks (Malayalam and Bengali vowel signs, viramas), joiners and format characters (the bidi
    isolates of Persian) belong to the character before them."""
    import unicodedata

    return sum(1 for ch in text if unicodedata.category(ch) not in ("Mn", "Mc", "Me", "Cf"))


def _without_parenthesis(sentence: str) -> str:
    """``sentence`` without a closing parenthetical (``(expected 0.0% to 1.2%)``), its full stop kept."""
    import re

    return re.sub(r"\s*\([^()]*\)(?=[.।]?\s*$)", "", sentence)


def _cut(text: str, limit: int) -> str:
    words, kept = text.split(" "), ""
    for word in words:
        candidate = f"{kept} {word}" if kept else word
        if graphemes(candidate) + 1 > limit:
            break
        kept = candidate
    return kept + "…"


def since(period: str) -> str:
    """``last week`` / ``last month`` / ... for the period before ``period``; ``the period before``
    for a custom range."""
    kind = formatting.period_kind(period)
    words = {
        "week": _("last week"),
        "month": _("last month"),
        "quarter": _("last quarter"),
        "year": _("last year"),
        "day": _("yesterday"),
    }
    return words.get(kind or "", _("the period before"))


def is_worse(result: MetricResult) -> bool | None:
    """True when the metric moved in its bad direction, False when it improved, None when unchanged
    or not comparable."""
    delta = result.delta
    if not result.ok or delta is None or delta == 0:
        return None
    return (delta < 0) if result.better == "higher" else (delta > 0)


def usual_variation(result: MetricResult) -> float | None:
    """The standard deviation of the period-to-period changes over the trend, before the current
    period (None with fewer than three changes, or when they never varied)."""
    values = [point.value for point in (result.trend or [])]
    changes = [b - a for a, b in pairwise(values) if a is not None and b is not None]
    changes = changes[:-1]  # the latest change is what is being judged, not part of "usual"
    if len(changes) < 3:
        return None
    spread = statistics.pstdev(changes)
    return spread or None


def change_score(result: MetricResult) -> float:
    """How large the change is, in multiples of its usual variation (see the module docstring)."""
    delta = result.delta
    if delta is None:
        return 0.0
    spread = usual_variation(result)
    if spread:
        return abs(delta) / spread
    if result.unit == "points":
        return abs(delta) / 10.0
    if result.unit in POINT_UNITS:
        return abs(delta) / max(abs(result.previous or 0) * 0.1, 0.1)
    return abs(result.delta_pct or 0) / 10.0


def contribution(segment: Segment, unit: str) -> float | None:
    """A segment's share of the change in the total: its own change for amounts (they add up),
    its change weighted by its records for rates and scores (an n-weighted mean)."""
    delta = segment.delta
    if delta is None:
        return None
    if unit in ("count", "currency"):
        return delta
    return delta * segment.n


def by_impact(segments: Sequence[Segment], unit: str) -> list[Segment]:
    """Segments ordered by how much they moved the total (largest contribution to the change first);
    without a previous period, by value, largest first. Segments without records go last."""

    def key(segment: Segment) -> tuple[int, float]:
        moved = contribution(segment, unit)
        if moved is not None:
            return (0 if segment.n else 1, -abs(moved))
        return (0 if segment.n else 1, -(segment.value if segment.value is not None else float("-inf")))

    return sorted(segments, key=key)


def main_segment(result: MetricResult, min_sample: int = DEFAULT_MIN_SAMPLE) -> tuple[Segment, float] | None:
    """The segment that moved the total most in the direction it moved, with its share of that
    movement; segments below ``min_sample`` records are never named."""
    delta = result.delta
    if not result.segments or not delta:
        return None
    contributions = [(s, contribution(s, result.unit)) for s in result.segments]
    same_way = [(s, c) for s, c in contributions if c is not None and c * delta > 0]
    total = sum(abs(c) for _, c in contributions if c is not None)
    big = [(s, c) for s, c in same_way if s.n >= min_sample and _told_from_noise(s, result.unit, min_sample)]
    if not big or not total:
        return None
    segment, amount = max(big, key=lambda pair: abs(pair[1]))
    return segment, abs(amount) / total


def _told_from_noise(segment: Segment, unit: str, min_sample: int) -> bool:
    """The insights' rule (``kpicore.insights.drivers.speaks``): enough records, and a change of its own
    that stands out from noise."""
    from kpicore.insights.drivers import SegmentAggregate, speaks

    aggregate = SegmentAggregate(
        segment.segment,
        segment.value,
        segment.n,
        segment.previous,
        segment.previous_n if segment.previous_n is not None else segment.n,
        segment.variance,
        segment.previous_variance,
        segment.change_variance,
    )
    return speaks(aggregate, unit, min_sample)


def describe_change(
    result: MetricResult, *, locale: str = "en", currency: str = "USD", min_sample: int = DEFAULT_MIN_SAMPLE
) -> str:
    """``Net Promoter Score fell 22.0 points to -15.0, most of it in East.``"""
    delta = result.delta or 0
    if result.unit in POINT_UNITS:
        size = formatting.format_number(abs(delta), locale, decimals=formatting.small_value_decimals(delta))
        amount = ngettext("%(number)s point", "%(number)s points", 1 if abs(delta) == 1 else 2) % {
            "number": size
        }
    elif result.delta_pct is not None:
        amount = formatting.format_change(
            abs(delta), abs(result.delta_pct), result.unit, locale, currency
        ).lstrip("+")
    else:
        amount = formatting.format_value(abs(delta), result.unit, locale, currency)
    # Numbers, signs and segment names isolated in right-to-left languages (unchanged elsewhere).
    words = {
        "metric": _(result.title),
        "amount": ltr(amount),
        "value": ltr(formatting.format_value(result.value, result.unit, locale, currency)),
    }
    sentence = (
        _("%(metric)s rose %(amount)s to %(value)s")
        if delta > 0
        else _("%(metric)s fell %(amount)s to %(value)s")
    ) % words
    main = main_segment(result, min_sample)
    if main is not None:
        segment, share = main
        where = formatting.segment_label(segment.segment, result.dimension)
        sentence += (
            _(", most of it in %(where)s") if share >= MOST_SHARE else _(", the most in %(where)s")
        ) % {"where": ltr(where)}
    return sentence + _(".")


def candidates(
    results: Iterable[MetricResult],
    *,
    locale: str = "en",
    currency: str = "USD",
    min_sample: int = DEFAULT_MIN_SAMPLE,
) -> list[Attention]:
    """An ``Attention`` of kind ``change`` for every metric that changed, best first."""
    found = []
    for result in results:
        worse = is_worse(result)
        if worse is None:
            continue
        sentence = describe_change(result, locale=locale, currency=currency, min_sample=min_sample)
        found.append(
            Attention(result.metric, change_score(result), sentence, "change", needs_attention=worse)
        )
    return sorted(found, key=Attention.rank, reverse=True)


def target_score(result: MetricResult) -> float:
    """How far off its target a result is, on the fixed scale of :func:`change_score` (a gap of 10 %
    of the target for amounts, 10 points for scores, a tenth of the target for rates)."""
    gap = result.gap
    if gap is None:
        return 0.0
    bound = (result.value or 0) - gap
    if result.unit == "points":
        return abs(gap) / 10.0
    if result.unit in POINT_UNITS:
        return abs(gap) / max(abs(bound) * 0.1, 0.1)
    return abs(gap) / max(abs(bound) * 0.1, 1e-9) if bound else abs(gap)


def describe_target(result: MetricResult, *, locale: str = "en", currency: str = "USD") -> str:
    """``Churn rate is 3.3%, 0.80 points above its target of ≤ 2.5%.`` (in the language in effect)"""
    from kpicore.presentation.targets import describe, gap_text

    the_status = result.target_status
    assert the_status is not None, "describe_target is for a result with a target"
    gap = result.gap or 0
    if result.unit in POINT_UNITS:
        number = formatting.format_number(abs(gap), locale, decimals=formatting.small_value_decimals(gap))
        size = ngettext("%(number)s point", "%(number)s points", 1 if abs(gap) == 1 else 2) % {
            "number": number
        }
    else:
        size = gap_text(gap, result.unit, locale, currency)
    words = {
        "metric": _(result.title),
        "value": ltr(formatting.format_value(result.value, result.unit, locale, currency)),
        "gap": ltr(size),
        "target": ltr(describe(the_status.target, result.unit, locale, currency)),
    }
    if gap > 0:
        return _("%(metric)s is %(value)s, %(gap)s above its target of %(target)s.") % words
    return _("%(metric)s is %(value)s, %(gap)s below its target of %(target)s.") % words


def target_candidates(
    results: Iterable[MetricResult], *, locale: str = "en", currency: str = "USD"
) -> list[Attention]:
    """An ``Attention`` of kind ``target`` for every metric off its target, furthest off first."""
    found = [
        Attention(r.metric, target_score(r), describe_target(r, locale=locale, currency=currency), "target")
        for r in results
        if r.ok and r.on_track is False
    ]
    return sorted(found, key=Attention.rank, reverse=True)


def headline_candidates(
    insights: Sequence[Any], views: Sequence[Any], locale: str = "en", currency: str = "USD"
) -> list:
    """Unusual values as headline candidates, scored like the headline's changes (in robust standard
    deviations), so the headline names one when it stands out more than any change; with its driver
    (``Churn rate jumped to 1.8%, the highest in 100 weeks; most of it in South (27 of 501
    customers).``) and its revenue at risk where the insight has them."""
    found = []
    for insight, view in zip(insights, views, strict=True):
        z = insight.numbers.get("z") if insight.kind == "unusual" else None
        if z is None:
            continue
        full, *shorter = insight.headline_forms(locale, currency)
        said = (view.text, *_driver_texts(insight, insights, views))
        found.append(
            Attention(insight.metric, abs(z), full, "unusual", insight.needs_attention, tuple(shorter), said)
        )
    return found


def _driver_texts(unusual, insights: Sequence[Any], views: Sequence[Any]) -> list[str]:
    """The text of the drivers insight an unusual change names as its driver (said in the headline)."""
    driver = unusual.numbers.get("driver")
    if unusual.driver is None or not isinstance(driver, dict):
        return []
    segment = f"{driver.get('dimension')} = {driver.get('segment')}"
    return [
        view.text
        for insight, view in zip(insights, views, strict=True)
        if insight.kind == "drivers" and insight.metric == unusual.metric and insight.segment == segment
    ]


def _unusual_first(extra: Sequence[Attention], changes: Sequence[Attention]) -> list[Attention]:
    """``extra`` and ``changes``, where a metric's unusual value says its change: the change of a metric
    that also has an unusual value the same way is left out, and the unusual one ranks as the higher of
    the two (so ``Churn rate jumped to 1.8%, the highest in 69 weeks; most of it in South (27 of 501
    customers)`` is named rather than ``Churn rate rose 1.3 points to 1.8%``, which says less)."""
    import dataclasses

    unusual = {(a.metric, a.needs_attention): a for a in extra if a.kind == "unusual"}
    kept: list[Attention] = []
    lifted: dict[int, float] = {}
    for change in changes:
        said = unusual.get((change.metric, change.needs_attention))
        if said is None:
            kept.append(change)
        else:
            lifted[id(said)] = max(lifted.get(id(said), said.score), change.score)
    merged = [dataclasses.replace(a, score=lifted[id(a)]) if id(a) in lifted else a for a in extra]
    return [*merged, *kept]


def headline(
    results: Sequence[MetricResult],
    *,
    locale: str = "en",
    currency: str = "USD",
    min_sample: int = DEFAULT_MIN_SAMPLE,
    extra: Sequence[Attention] = (),
) -> Headline:
    """The headline for ``results`` (one period); ``extra`` adds candidates from insights, alerts, targets."""
    comparable = [r for r in results if r.ok and r.delta is not None]
    worse = sum(1 for r in comparable if is_worse(r))
    period = next((r.period for r in results if r.period), "")
    when = since(period)
    if not results:
        return Headline(_("No KPIs in this digest."))
    if not comparable:
        summary = _("No KPI can be compared with %(when)s.") % {"when": when}
    elif worse == 0:
        better = sum(1 for r in comparable if is_worse(r) is False)
        summary = (
            _("No KPI worse than %(when)s.") % {"when": when}
            if not better
            else _("No KPI worse than %(when)s; %(better)s of %(total)s better.")
            % {
                "when": when,
                "better": ltr(formatting.format_number(better, locale)),
                "total": ltr(formatting.format_number(len(comparable), locale)),
            }
        )
    else:
        summary = ngettext(
            "%(worse)s of %(total)s KPI worse than %(when)s.",
            "%(worse)s of %(total)s KPIs worse than %(when)s.",
            len(comparable),
        ) % {
            "worse": ltr(formatting.format_number(worse, locale)),
            "total": ltr(formatting.format_number(len(comparable), locale)),
            "when": when,
        }
    ranked = sorted(
        [
            *_unusual_first(
                extra, candidates(results, locale=locale, currency=currency, min_sample=min_sample)
            ),
            *target_candidates(results, locale=locale, currency=currency),
        ],
        key=Attention.rank,
        reverse=True,
    )
    named = ranked[0] if ranked else None
    return Headline(summary, named.sentence if named else None, named)
