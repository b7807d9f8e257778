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
A target and a status as people read them are ``kpicore.presentation.targets``'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .results import KEYS, Target, TargetStatus, clean_number

if TYPE_CHECKING:
    from .config import Config

#: The forms a target can take, as a user writes them (shown in every error about a target).
ACCEPTED_FORMS = "{ min = 40 }, { max = 2.5 }, { min = 30, max = 50 } or { goal = 50000 }"


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
        return TargetStatus(target, on_track, clean_number(value - target.goal))
    low, high = target.min, target.max
    below = low is not None and value < low
    above = high is not None and value > high
    if low is not None and value < low:
        gap = value - low
    elif high is not None and value > high:
        gap = value - high
    elif low is not None and high is not None:
        gap = 0.0
    else:
        bound = low if low is not None else high
        if bound is None:  # parse_target refuses an empty table; a hand-made Target may not
            return TargetStatus(target, None, None)
        gap = value - bound
    return TargetStatus(target, not (below or above), clean_number(gap))


def apply_targets(results: Iterable, config: Config | None) -> None:
    """Set ``target_status`` on every result whose metric has a target in ``config`` (ConfigError
    when ``[targets]`` has a target that does not parse)."""
    raw = config.targets if config is not None else {}
    if not raw:
        return
    where = _where(config)
    targets = parse_targets(raw, where)
    for result in results:
        target = targets.get(result.metric)
        if target is not None:
            value = result.value if result.ok else None
            result.target_status = status(target, value, result.better)


def _where(config: Config | None) -> str:
    path = config.path if config is not None else None
    return path.name if path is not None else "kpi.toml"
