"""Whether an alert rule fires, for a period (and per segment with ``by``).

:func:`judge` is pure: one rule against one value (with its previous value and target status).
:func:`evaluate` computes the rules' metrics in the source, through ``kpicore.compute``, and judges
each total or segment. Nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..results import POINT_UNITS, change, clean_number, relative_change
from .rules import AlertSpec, Rule

if TYPE_CHECKING:
    from ..config import Config
    from ..hookspecs import Registrations


@dataclass(frozen=True)
class AlertState:
    """One rule for one period and segment (None: the total): firing or not, and its numbers."""

    alert: str
    metric: str
    when: str
    period: str
    segment: str | None
    firing: bool
    value: float | None
    previous: float | None = None
    target: dict[str, float] | None = None
    reason: str | None = None
    #: The period ``previous`` is the value of, for a ``vs last-year`` rule (None: the period before).
    compared_with: str | None = None
    #: For an ``is unusual`` rule: the band the value was judged against (None: too little history).
    band: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, numbers without float noise."""
        return {
            "alert": self.alert,
            "metric": self.metric,
            "when": self.when,
            "period": self.period,
            "segment": self.segment,
            "firing": self.firing,
            "value": clean_number(self.value),
            "previous": clean_number(self.previous),
            "delta": change(self.value, self.previous),
            "target": self.target,
            "reason": self.reason,
            "compared_with": self.compared_with,
            "band": self.band,
        }


def judge(
    rule: Rule,
    value: float | None,
    previous: float | None,
    unit: str,
    on_track: bool | None = None,
    gap: float | None = None,
    band=None,
) -> bool:
    """True when ``rule`` fires for ``value``; never for a missing value (no made-up alert). ``band`` is
    the ``kpicore.insights.unusual.Band`` of an ``is unusual`` rule (None: too little history, no alert)."""
    if value is None:
        return False
    if rule.kind == "unusual":
        return band is not None and band.outside(value)
    if rule.kind == "threshold":
        if rule.op is None or rule.number is None:
            raise ValueError(f"a threshold rule needs an operator and a number: {rule!r}")
        return {
            ">": value > rule.number,
            ">=": value >= rule.number,
            "<": value < rule.number,
            "<=": value <= rule.number,
        }[rule.op]
    if rule.kind == "change":
        if rule.number is None:
            raise ValueError(f"a change rule needs a number: {rule!r}")
        if previous is None:
            return False
        if rule.relative:
            moved = relative_change(value, previous, unit)
            if moved is None:
                return False
        else:
            moved = value - previous
        moved = clean_number(moved)
        return moved <= -rule.number if rule.direction == "down" else moved >= rule.number
    if rule.kind == "target":
        if on_track is None:
            return False
        if rule.op == "off":
            return not on_track
        return (not on_track) and ((gap or 0) < 0 if rule.op == "<" else (gap or 0) > 0)
    raise ValueError(f"unknown rule kind {rule.kind!r}")


def _state(
    spec: AlertSpec, metric, period: str, segment, firing: bool, value, previous=None, **extra
) -> AlertState:
    """The state of ``spec``'s rule on ``metric`` for one period and segment."""
    return AlertState(spec.name, metric.name, spec.when, period, segment, firing, value, previous, **extra)


def evaluate(
    specs: Sequence[AlertSpec], period, source, config: Config | None, registry: Registrations
) -> list[AlertState]:
    """Every rule of ``specs`` for ``period``: one state per rule, or per segment of its ``by``."""
    from ..compute import compute
    from ..targets import parse_targets, status

    targets = parse_targets(config.targets if config is not None else {})
    states: list[AlertState] = []
    for spec in specs:
        metric = registry.metrics[spec.rule.metric].item
        if spec.rule.kind == "unusual":
            states.extend(_unusual_states(spec, metric, period, source, config, registry))
            continue
        year_over_year = spec.rule.kind == "change" and spec.rule.vs == "last-year"
        (result,) = compute(
            [metric],
            period,
            source,
            config=config,
            by=spec.by,
            compare="last-year" if year_over_year else None,
        )
        target = targets.get(metric.name)
        target_json = target.to_json() if target else None
        if not result.ok:
            states.append(
                _state(
                    spec, metric, result.period, None, False, None, target=target_json, reason=result.reason
                )
            )
            continue
        compared_with, reason = None, None
        rows: list[tuple[str | None, float | None, float | None]] = [(None, result.value, result.previous)]
        if spec.by is not None:
            rows = [(s.segment, s.value, s.previous) for s in result.segments or []]
        if year_over_year and result.compare is not None:
            # Judged against the same period a year before; with no data then, it cannot fire (and says so).
            compared_with, reason = result.compare.period, result.compare.reason
            rows = [(None, result.value, result.compare.value)]
            if spec.by is not None:
                rows = [(s.segment, s.value, s.compare) for s in result.segments or []]
        for segment, value, previous in rows:
            the_status = status(target, value, metric.better) if target else None
            firing = judge(
                spec.rule,
                value,
                previous,
                metric.unit,
                the_status.on_track if the_status else None,
                the_status.gap if the_status else None,
            )
            extra = {"target": target_json, "reason": reason, "compared_with": compared_with}
            states.append(_state(spec, metric, result.period, segment, firing, value, previous, **extra))
    return states


def _unusual_states(
    spec: AlertSpec, metric, period, source, config, registry: Registrations | None
) -> list[AlertState]:
    """``METRIC is unusual``: the value (or each segment's) against the same band as the unusual-change
    insight, with its ``[insights.unusual]`` settings; its history computed in the source."""
    from ..compute import compute, segment_history
    from ..insights.run import _from_first_value, detector_settings, detectors
    from ..insights.unusual import UnusualChange, band_of_history, history_needed

    detector = detectors(registry).get("unusual") or UnusualChange()
    settings = detector_settings(detector, config)
    periods = history_needed(period.kind, settings)
    (result,) = compute([metric], period, source, config=config, trend=periods)
    if not result.ok:
        return [_state(spec, metric, result.period, None, False, None, reason=result.reason)]
    if spec.by is None:
        points = _from_first_value(list(result.trend or []))
        labels = [point.period for point in points]
        rows: list[tuple[str | None, float | None, float | None, list]] = [
            (None, result.value, result.previous, [point.value for point in points])
        ]
    else:
        labels = [window.label for window in period.trend(periods)]
        history = segment_history([metric], period, source, config=config, by=spec.by, periods=periods)
        rows = [
            (segment, values[-1], values[-2] if len(values) > 1 else None, _trimmed(values))
            for segment, values in history.get(metric.name, {}).items()
        ]
    states = []
    for segment, value, previous, values in rows:
        # the insight's own band: the same ISO weeks and moving holidays, read from the labels
        found = band_of_history(values, labels, period.kind, settings) if values else None
        firing = judge(spec.rule, value, previous, metric.unit, band=found)
        band = _band_json(found, metric.unit)
        states.append(_state(spec, metric, result.period, segment, firing, value, previous, band=band))
    return states


def _trimmed(values: list) -> list:
    """A segment's history from its first non-zero value (before it, the segment had no records)."""
    for index, value in enumerate(values):
        if value not in (None, 0):
            return values[index:]
    return []


def _band_json(found, unit: str) -> dict[str, Any] | None:
    from ..insights.unusual import shown_low

    if found is None:
        return None
    return {
        "expected": clean_number(found.expected),
        "low": clean_number(shown_low(found, unit)),
        "high": clean_number(found.high),
        "robust_sd": clean_number(found.scale),
        "method": found.method,
        "fallback": found.fallback,
    }


def describe(state: AlertState, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The numbers of a state for people, in the language in effect (``i18n.using``): ``3.3% (was 2.1%)``.
    In right-to-left text each number is isolated so its sign and digits keep their order."""
    from ..i18n import _
    from ..presentation import formatting
    from ..presentation.bidi import ltr

    def value(number: float | None) -> str:
        return ltr(formatting.format_value(number, unit, locale, currency))

    if state.reason and state.value is None:
        return _("unavailable: %(reason)s") % {"reason": state.reason}
    text = value(state.value)
    if state.band is not None:
        return _("%(value)s (expected %(low)s to %(high)s)") % {
            "value": text,
            "low": value(state.band["low"]),
            "high": value(state.band["high"]),
        }
    if state.previous is not None:
        if state.compared_with:
            text = _("%(value)s (was %(previous)s in %(period)s)") % {
                "value": text,
                "previous": value(state.previous),
                "period": ltr(state.compared_with),
            }
        else:
            text = _("%(value)s (was %(previous)s)") % {"value": text, "previous": value(state.previous)}
    elif state.reason:
        text += f" ({state.reason})"
    if unit in POINT_UNITS and state.value is not None and state.previous is not None:
        change = formatting.format_change(state.value - state.previous, None, unit, locale, currency)
        text += f", {ltr(change)}"
    return text
