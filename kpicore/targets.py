"""Targets from ``[targets]`` in kpi.toml, and whether a result is on track.

Four forms, one per metric::

    [targets]
    nps = { min = 40 }                 # on track at 40 or more
    churn_rate = { max = 2.5 }         # on track at 2.5 or less
    csat = { min = 80, max = 95 }      # a range, both ends included
    revenue = { goal = 50000 }         # on track on the metric's better side of 50000

Targets are in the metric's unit, as its value is: a ``percent`` metric's target of 2.5 means 2.5 %,
and its gap is in points. The gap is ``value - target``: for ``min``, ``max`` and ``goal`` the one
number; for a range the end the value is beyond, and 0 inside it. So a positive gap is above the
target and a negative one below it; ``on_track`` says whether that is good.

Everything here is a pure function of plain values; :func:`apply_targets` sets them on results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

#: The forms a target can take, as a user writes them (shown in every error about a target).
ACCEPTED_FORMS = "{ min = 40 }, { max = 2.5 }, { min = 30, max = 50 } or { goal = 50000 }"
KEYS = ("min", "max", "goal")


@dataclass(frozen=True)
class Target:
    """A metric's target: a lower bound, an upper bound, both (a range) or a goal."""

    min: float | None = None
    max: float | None = None
    goal: float | None = None

    def to_json(self) -> dict[str, float]:
        """The target as configured: ``{"min": 40}``, ``{"min": 30, "max": 50}``, ``{"goal": 50000}``."""
        return {key: getattr(self, key) for key in KEYS if getattr(self, key) is not None}


@dataclass(frozen=True)
class TargetStatus:
    """Where a value stands against its target: ``on_track`` and ``gap`` (value - target, in the
    metric's unit); both None when the value is missing."""

    target: Target
    on_track: bool | None
    gap: float | None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_target(metric: str, raw: Any, where: str = "kpi.toml") -> Target:
    """The :class:`Target` that ``raw`` (the TOML value of ``[targets].METRIC``) describes.

    Raises ConfigError naming the file, the metric and the accepted forms for anything else: a
    plain number, an unknown key, a value that is not a number, ``goal`` with ``min``/``max``, or
    ``min`` greater than ``max``.
    """
    key = f"{where}: [targets].{metric}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a table such as {ACCEPTED_FORMS}, not {raw!r}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(f"{key}: unknown key {unknown[0]!r}; write the target as {ACCEPTED_FORMS}")
    if not raw:
        raise ConfigError(f"{key}: the table is empty; write the target as {ACCEPTED_FORMS}")
    for name, value in raw.items():
        if not _is_number(value):
            raise ConfigError(
                f"{key}: {name} must be a number, not {value!r}; write the target as {ACCEPTED_FORMS}"
            )
    if "goal" in raw and len(raw) > 1:
        raise ConfigError(
            f"{key}: goal cannot be combined with min or max; write the target as {ACCEPTED_FORMS}"
        )
    low, high = raw.get("min"), raw.get("max")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{key}: min ({low}) is greater than max ({high}); swap them")
    return Target(min=low, max=high, goal=raw.get("goal"))


def parse_targets(raw: Mapping[str, Any] | None, where: str = "kpi.toml") -> dict[str, Target]:
    """Every target of ``[targets]``, by metric name (see :func:`parse_target` for the errors)."""
    return {metric: parse_target(metric, value, where) for metric, value in (raw or {}).items()}


def target_problems(raw: Mapping[str, Any] | None, where: str = "kpi.toml") -> list[str]:
    """One line per target that does not parse (for `kpi check`, which reports them all)."""
    problems = []
    for metric, value in (raw or {}).items():
        try:
            parse_target(metric, value, where)
        except ConfigError as error:
            problems.append(str(error))
    return problems


def status(target: Target, value: float | None, better: str) -> TargetStatus:
    """Whether ``value`` is on track for ``target`` and its gap; ``better`` ("higher" or "lower")
    decides which side of a goal is on track."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return TargetStatus(target, None, None)
    if target.goal is not None:
        on_track = value >= target.goal if better == "higher" else value <= target.goal
        return TargetStatus(target, on_track, _clean(value - target.goal))
    below = target.min is not None and value < target.min
    above = target.max is not None and value > target.max
    if below:
        gap = value - target.min
    elif above:
        gap = value - target.max
    elif target.min is not None and target.max is not None:
        gap = 0.0
    else:
        gap = value - (target.min if target.min is not None else target.max)
    return TargetStatus(target, not (below or above), _clean(gap))


def _clean(number: float) -> float:
    from .results import clean_number

    return clean_number(number)


def describe(target: Target, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The target for people, in the language in effect: ``≥ 40``, ``≤ 2.5%``, ``30–50``, ``goal $50,000``."""
    from .i18n import _
    from .presentation import formatting

    def fmt(number: float) -> str:
        return formatting.format_value(number, unit, locale, currency)

    if target.goal is not None:
        from .i18n import current_locale, direction

        value = fmt(target.goal)
        if direction(current_locale()) == "rtl":
            value = f"\u2066{value}\u2069"  # the amount keeps its reading order inside right-to-left text
        return _("goal %(value)s") % {"value": value}
    if target.min is not None and target.max is not None:
        return f"{fmt(target.min)}–{fmt(target.max)}"
    if target.min is not None:
        return f"≥ {fmt(target.min)}"
    return f"≤ {fmt(target.max)}"


def status_text(result, locale: str = "en", currency: str = "USD") -> str | None:
    """``target ≥ 40: ✓ on track`` / ``target ≤ 2.5%: ✗ off track by 0.80 pts`` for a result with a
    target and a value; None otherwise."""
    the_status = getattr(result, "target_status", None)
    if the_status is None or the_status.on_track is None:
        return None
    text = f"target {describe(the_status.target, result.unit, locale, currency)}: "
    if the_status.on_track:
        return text + "✓ on track"
    return text + f"✗ off track by {gap_text(the_status.gap, result.unit, locale, currency)}"


def standing(
    the_status: TargetStatus | None, unit: str, locale: str = "en", currency: str = "USD"
) -> str | None:
    """Where a value stands, in the language in effect: ``✓ on track``, ``✗ 0.80 pts over``,
    ``✗ $2,000.00 short``; None without a target or a value. ("over": above the target's upper end
    or the goal; "short": below its lower end or the goal.)"""
    from .i18n import _

    if the_status is None or the_status.on_track is None:
        return None
    if the_status.on_track:
        return "✓ " + _("on track")
    gap = gap_text(the_status.gap, unit, locale, currency)
    from .i18n import current_locale, direction

    if direction(current_locale()) == "rtl":
        gap = f"\u2066{gap}\u2069"  # the amount keeps its reading order inside right-to-left text
    words = _("%(gap)s over") if (the_status.gap or 0) > 0 else _("%(gap)s short")
    return "✗ " + words % {"gap": gap}


def label(target: Target, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The target as a digest row names it: ``target ≥ 40``, ``target 30–50``, ``goal $50,000.00``."""
    from .i18n import _, current_locale, direction

    wanted = describe(target, unit, locale, currency)
    if target.goal is not None:
        return wanted
    if direction(current_locale()) == "rtl":
        wanted = f"\u2066{wanted}\u2069"  # "≤ 2.5%" keeps its reading order inside right-to-left text
    return _("target %(target)s") % {"target": wanted}


def gap_text(gap: float | None, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The size of a gap for people, as a change reads everywhere: ``0.80 pts`` for percent and
    points metrics, ``$2,000.00``, ``5.0 min``."""
    from .presentation import formatting

    return formatting.format_change(abs(gap or 0), None, unit, locale, currency).lstrip("+")


def apply_targets(results: Iterable, config) -> None:
    """Set ``target_status`` on every result whose metric has a target in ``config`` (ConfigError
    when ``[targets]`` has a target that does not parse)."""
    raw = getattr(config, "targets", None) or {}
    if not raw:
        return
    where = _where(config)
    targets = parse_targets(raw, where)
    for result in results:
        target = targets.get(result.metric)
        if target is not None:
            value = result.value if result.ok else None
            result.target_status = status(target, value, result.better)


def _where(config) -> str:
    path = getattr(config, "path", None)
    return path.name if path is not None else "kpi.toml"
