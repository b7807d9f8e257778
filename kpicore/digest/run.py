"""Prepare a digest: resolve its period, compute its metrics in the source, store them, set up its renderings.

The period is resolved relative to ``now`` (the fire time) in the digest's timezone. Sending it is
``kpicore.serve.send``'s job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpicore.digest.message import OutgoingDigest
    from kpicore.digest.render import DigestSpec
    from kpicore.periods import Period
    from kpicore.results import MetricResult

_log = logging.getLogger("kpicore.digest")


@dataclass
class PreparedDigest:
    """A digest computed for one period and ready to render or send."""

    spec: DigestSpec
    period: Period
    results: list[MetricResult]
    outgoing: OutgoingDigest
    source: str


def resolve_period(spec: DigestSpec, override: str | None = None, now: dt.datetime | None = None) -> Period:
    """The digest's period (or ``override``) as seen at ``now`` (default: the current time) in the
    digest's timezone: a digest firing Monday 09:00 in Asia/Kolkata with ``last-week`` covers the
    Kolkata week before."""
    from kpicore.periods import parse_period

    return parse_period(override or spec.period, spec.timezone or "UTC", now=now, week_start=spec.week_start)


def compute_digest(
    spec: DigestSpec,
    period: Period,
    source,
    config,
    registry,
    known: Sequence[MetricResult] = (),
) -> list[tuple[str | None, list[MetricResult]]]:
    """Compute the digest's metrics, one compute() call per breakdown dimension.

    Returns ``[(dimension, results), ...]``; ``known`` results (totals for the same period and
    trend, e.g. what `kpi demo` already computed) are reused instead of recomputed.
    """
    from kpicore.compute import compute, select_metrics
    from kpicore.incremental import answering

    reusable = {
        result.metric: result
        for result in known
        if result.dimension is None
        and result.period == period.label
        and len(result.trend or []) == spec.trend
    }
    groups: dict[str | None, list[str]] = {}
    for metric in spec.metrics:
        groups.setdefault(spec.breakdowns.get(metric), []).append(metric)
    computed: list[tuple[str | None, list[MetricResult]]] = []
    for dimension, names in groups.items():
        if dimension is None and all(name in reusable for name in names):
            computed.append((None, [reusable[name] for name in names]))
            continue
        metrics = select_metrics(names, registry)
        with answering(config, "digest"):
            results = compute(metrics, period, source, config=config, by=dimension, trend=spec.trend or None)
        computed.append((dimension, results))
    return computed


def in_digest_order(
    spec: DigestSpec, groups: list[tuple[str | None, list[MetricResult]]]
) -> list[MetricResult]:
    """The results of every group, in the order the digest lists its metrics."""
    by_name = {result.metric: result for _, results in groups for result in results}
    return [by_name[name] for name in spec.metrics if name in by_name]


def jinja_hook(config) -> Callable[[Any], Any]:
    """Calls the plugins' ``prepare_jinja2_environment(env, config)`` on the digest environment."""
    from kpicore.plugins import load_plugins

    def prepare(env) -> None:
        load_plugins().manager.hook.prepare_jinja2_environment(env=env, config=config)

    return prepare


def render_options(config) -> dict[str, Any]:
    """renderer()'s keyword arguments from kpi.toml: locale, currency, templates folder, plugin hook."""
    return {
        "locale": config.locale,
        "currency": config.currency,
        "digits": config.digits,
        "calendar": config.calendar,
        "templates_dir": config.templates_dir,
        "jinja_hook": jinja_hook(config),
    }


def prepare_digest(
    config,
    spec: DigestSpec,
    *,
    period: str | None = None,
    now: dt.datetime | None = None,
    registry=None,
    source_url: str | None = None,
    store: bool = True,
    known: Sequence[MetricResult] = (),
) -> PreparedDigest:
    """Compute ``spec`` for its period (``period`` overrides it) and set up its renderings.

    Values are recomputed from the source every time (late refunds are picked up) and, with
    ``store``, saved in the state database. Rendering happens lazily, once per format needed.
    """
    from kpicore.connectors import open_configured_source
    from kpicore.digest.message import OutgoingDigest
    from kpicore.digest.render import renderer
    from kpicore.registry import get_registry
    from kpicore.state import store_results

    registry = registry or get_registry()
    the_period = resolve_period(spec, period, now)
    source = open_configured_source(config, registry, source_url)
    try:
        groups = compute_digest(spec, the_period, source, config, registry, known)
        insights = digest_insights(spec, the_period, source, config, registry)
    finally:
        source.close()
    if store:
        already = {id(result) for result in known}
        for dimension, results in groups:
            if not all(id(result) in already for result in results):
                store_results(config, results, source.display, dimension)
    results = in_digest_order(spec, groups)
    render = renderer(
        spec, results, period_label=the_period.label, insights=insights, **render_options(config)
    )
    outgoing = OutgoingDigest(spec=spec, period_label=the_period.label, renderings=render)
    return PreparedDigest(spec, the_period, results, outgoing, source.display)


def digest_insights(spec: DigestSpec, period: Period, source, config, registry) -> list:
    """The top insights about the digest's metrics (``[digests.NAME] insights``, else ``[insights] top``),
    highest score first; none when that number is 0."""
    from kpicore.compute import select_metrics
    from kpicore.insights.run import find_insights, insight_options

    top = spec.insights if spec.insights is not None else insight_options(config, registry)["top"]
    if not top:
        return []
    from kpicore.insights.run import TopInsights

    findings = find_insights(
        select_metrics(spec.metrics, registry), period, source, config, registry, min_sample=spec.min_sample
    )
    # A failing insight is already logged by find_insights, for the operator.
    # Two spare: the unusual change the headline names, and the driver it names with it.
    return TopInsights(findings.insights[: top + 2], top)


def prepare_unavailable(
    config,
    spec: DigestSpec,
    cause: str,
    *,
    period: str | None = None,
    now: dt.datetime | None = None,
    registry=None,
    **_ignored,
) -> PreparedDigest:
    """The digest for its period with every metric marked unavailable because of ``cause``
    (a source that stayed unreachable past ``max_delay``)."""
    from kpicore.digest.message import OutgoingDigest
    from kpicore.digest.render import renderer
    from kpicore.registry import get_registry
    from kpicore.results import MetricResult

    registry = registry or get_registry()
    the_period = resolve_period(spec, period, now)
    results = []
    for name in spec.metrics:
        metric = registry.metrics[name].item
        results.append(MetricResult.of(metric, the_period, "unavailable", reason=cause))
    render = renderer(spec, results, period_label=the_period.label, **render_options(config))
    outgoing = OutgoingDigest(spec=spec, period_label=the_period.label, renderings=render)
    return PreparedDigest(spec, the_period, results, outgoing, "unavailable")
