"""Running the insight detectors: ask each what it needs, compute that in the source, collect, rank.

Everything comes from ``kpicore.compute``: one compute with the longest trend any detector asked for,
and one compute per dimension a detector asked segments of. Detectors only see those aggregates.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MappingError
from ..settings import unknown_key
from .base import Detector, Evidence, Insight, ranked
from .explained import with_drivers
from .money import with_revenue_at_risk

if TYPE_CHECKING:
    from ..config import Config
    from ..hookspecs import Registrations

_log = logging.getLogger("kpicore.insights")
# A failing insight is the operator's to see (`kpi serve`'s log, a configured logger), never the reader's:
# without a handler of the application's own, Python would print it on the terminal.
_log.addHandler(logging.NullHandler())

#: ``[insights]`` keys and their defaults (each detector's own keys live in ``[insights.KIND]``).
OPTIONS: dict[str, Any] = {
    "dimensions": None,  # None: every dimension of the source's customers
    "top": 3,  # insights a digest shows
    "exclude": [],  # kinds not to run
    "min_sample": 30,  # no insight names a segment with fewer records (a digest's min_sample overrides)
}


class TopInsights(list):
    """The insights a message shows (best first), with one or more spare: ``shown`` of them are shown
    after the one the headline names, if any, is taken out (so ``insights = 3`` shows 3)."""

    def __init__(self, insights, shown: int):
        super().__init__(insights)
        self.shown = shown


@dataclass
class Findings:
    """What a run found: the insights (grouped, then highest score first), their results, problems."""

    insights: list[Insight] = field(default_factory=list)
    results: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def for_metric(self, metric: str) -> list[Insight]:
        return [insight for insight in self.insights if insight.metric == metric]


def detectors(registry: Registrations | None) -> dict[str, Detector]:
    """Every registered detector, by kind (none without a registry)."""
    found = registry.insights if registry is not None else {}
    return {kind: registration.item for kind, registration in found.items()}


def insight_options(config: Config | None, registry: Registrations | None = None) -> dict[str, Any]:
    """``[insights]`` of kpi.toml with defaults, checked; each detector's table is left to
    :func:`detector_settings`. A ConfigError names the key."""
    where = _where(config)
    raw = dict(config.insights if config is not None else {})
    kinds = detectors(registry) if registry is not None else {}
    options = dict(OPTIONS)
    for key, value in raw.items():
        if isinstance(value, Mapping) and (key in kinds or registry is None):
            continue  # [insights.KIND]
        if key not in OPTIONS:
            raise unknown_key(key, [*OPTIONS, *sorted(kinds)], f"{where}: [insights]")
        options[key] = value
    if options["dimensions"] is not None and (
        not isinstance(options["dimensions"], list)
        or not all(isinstance(d, str) for d in options["dimensions"])
    ):
        raise ConfigError(
            f'{where}: [insights].dimensions: expected a list of dimension names such as ["region"]'
        )
    minimum = options["min_sample"]
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 0:
        raise ConfigError(f"{where}: [insights].min_sample: expected a whole number of records (0 or more)")
    if not isinstance(options["top"], int) or isinstance(options["top"], bool) or options["top"] < 0:
        raise ConfigError(f"{where}: [insights].top: expected a whole number of insights (0 or more)")
    if not isinstance(options["exclude"], list) or not all(isinstance(k, str) for k in options["exclude"]):
        raise ConfigError(
            f'{where}: [insights].exclude: expected a list of insight kinds such as ["forecast"]'
        )
    for kind in options["exclude"]:
        if kinds and kind not in kinds:
            raise ConfigError(
                f"{where}: [insights].exclude: unknown insight kind {kind!r} (known: {', '.join(sorted(kinds))})"
            )
    return options


def detector_settings(detector: Detector, config: Config | None) -> dict[str, Any]:
    """The detector's ``[insights.KIND]`` table over its defaults; an unknown key or a value of the
    wrong type is a ConfigError naming it."""
    where = _where(config)
    raw = (config.insights if config is not None else {}).get(detector.kind) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: [insights.{detector.kind}]: expected a table")
    settings = dict(detector.settings)
    for key, value in raw.items():
        if key not in settings:
            raise unknown_key(key, settings, f"{where}: [insights.{detector.kind}]")
        default = settings[key]
        number_expected = isinstance(default, (int, float)) and not isinstance(default, bool)
        if number_expected and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise ConfigError(f"{where}: [insights.{detector.kind}].{key}: expected a number, not {value!r}")
        settings[key] = value
    return settings


def insight_problems(config: Config, registry: Registrations) -> list[str]:
    """One line per problem of ``[insights]`` and its ``[insights.KIND]`` tables (for `kpi check`)."""
    problems = []
    try:
        insight_options(config, registry)
    except ConfigError as error:
        problems.append(str(error))
    for detector in detectors(registry).values():
        try:
            detector_settings(detector, config)
        except ConfigError as error:
            problems.append(str(error))
    return problems


def find_insights(
    metrics: Sequence, period, source, config, registry, *, kinds=None, min_sample: int | None = None
) -> Findings:
    """Every insight of every registered detector about ``metrics`` for ``period``: needs attention,
    good news, outlook (forecasts), highest score first inside each group.

    A metric that is unavailable or whose value is missing gets no insight. A detector that raises is
    logged (``kpicore.insights``, with its traceback) and reported in ``problems`` (naming it and the
    metric), and the others still run: the reader sees nothing of it.
    """
    from ..compute import compute

    options = insight_options(config, registry)
    options["min_sample"] = options["min_sample"] if min_sample is None else min_sample  # a digest's own
    chosen = {
        kind: detector
        for kind, detector in detectors(registry).items()
        if kind not in options["exclude"] and (kinds is None or kind in kinds)
    }
    settings = {kind: detector_settings(detector, config) for kind, detector in chosen.items()}
    default_dimensions = options["dimensions"]
    if default_dimensions is None:
        default_dimensions = _source_dimensions(source)
    options = {**options, "dimensions": list(default_dimensions)}

    history = max(
        (
            detector.history(metric, period, settings[kind], options)
            for metric in metrics
            for kind, detector in chosen.items()
        ),
        default=0,
    )
    wanted: dict[str, list] = defaultdict(list)  # dimension -> metrics
    for metric in metrics:
        for kind, detector in chosen.items():
            for dimension in detector.dimensions(metric, settings[kind], options):
                if metric not in wanted[dimension]:
                    wanted[dimension].append(metric)

    results = compute(list(metrics), period, source, config=config, trend=history if history >= 2 else None)
    by_dimension: dict[str, dict[str, Any]] = {}
    for dimension, some in wanted.items():
        by_dimension[dimension] = _broken_down(
            some, period, source, config, dimension, named=options_named_dimensions(config)
        )

    findings = Findings(results=results)
    for metric, result in zip(metrics, results, strict=True):
        if not result.ok or result.value is None:
            continue
        history_points = _from_first_value(list(result.trend or []))
        for kind, detector in chosen.items():
            asked = detector.dimensions(metric, settings[kind], options)
            evidence = Evidence(
                metric=metric,
                period=period,
                result=result,
                history=history_points[-detector.history(metric, period, settings[kind], options) :]
                if detector.history(metric, period, settings[kind], options)
                else [],
                segments={d: by_dimension.get(d, {}).get(metric.name) for d in asked},
                config=config,
                settings=settings[kind],
                options=options,
            )
            try:
                found = detector.detect(evidence) or []
            except Exception as error:
                problem = f"insight {kind} failed for {metric.name}: {type(error).__name__}: {error}"
                _log.warning(problem, exc_info=True)
                findings.problems.append(problem)
                continue
            findings.insights.extend(found)
    findings.insights = ranked(
        _explained(findings.insights, metrics, results, by_dimension, period, source, config, registry)
    )
    return findings


def _explained(insights, metrics, results, by_dimension, period, source, config, registry) -> list[Insight]:
    """An unusual change with the segment that drove it, and churn's with the revenue it puts at risk."""
    nouns = {metric.name: result.n_noun for metric, result in zip(metrics, results, strict=True)}
    insights = with_drivers(insights, by_dimension, nouns)
    by_metric = {result.metric: result for result in results}
    return with_revenue_at_risk(insights, by_metric, period, source, config, registry)


def options_named_dimensions(config: Config | None) -> bool:
    """True when kpi.toml names the dimensions (a wrong one is then the user's error to fix)."""
    return config is not None and config.insights.get("dimensions") is not None


def _broken_down(metrics: list, period, source, config, dimension: str, *, named: bool) -> dict[str, Any]:
    """Each metric's result by ``dimension`` (None where it cannot be broken down). Metrics whose
    records cannot reach the dimension (a pack's entity with dimensions of its own) are computed apart
    so they do not take the others down; a dimension no metric has is a ConfigError when kpi.toml
    names it."""
    from ..compute import compute

    try:
        results = compute(metrics, period, source, config=config, by=dimension)
    except MappingError as error:
        if len(metrics) == 1:
            if named:
                raise ConfigError(f"{_where(config)}: [insights].dimensions: {error}") from None
            return {metrics[0].name: None}
        found: dict[str, Any] = {}
        first_error = error
        for metric in metrics:
            try:
                found.update(_broken_down([metric], period, source, config, dimension, named=False))
            except ConfigError:
                found[metric.name] = None
        if named and all(value is None for value in found.values()):
            raise ConfigError(f"{_where(config)}: [insights].dimensions: {first_error}") from None
        return found
    return {r.metric: (r if r.ok and r.segments is not None else None) for r in results}


def _from_first_value(points: list) -> list:
    """The trend from its first non-zero value on: periods before the data begins (counts of 0, rates of
    None) are no history."""
    for index, point in enumerate(points):
        if point.value not in (None, 0):
            return points[index:]
    return []


def _source_dimensions(source) -> list[str]:
    from ..source import EntityUnavailable

    try:
        return list(source.relation("customers").dimensions)
    except (EntityUnavailable, KeyError):
        return []


def _where(config: Config | None) -> str:
    path = config.path if config is not None else None
    return path.name if path is not None else "kpi.toml"
