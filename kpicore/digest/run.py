"""Run a digest: resolve its period, compute its metrics in the source, store them, render, deliver.

What ``kpi digest send`` calls, and what the scheduler will call at each fire time: the period is
resolved relative to ``now`` (the fire time) in the digest's timezone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.channels.base import Channel, OutgoingDigest
    from kpicore.delivery.send import DeliveryOutcome
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


@dataclass
class DigestRun:
    """What happened to each destination of a digest for one period.

    ``prepared`` is None when nothing was due (every destination already sent, or being sent by
    another process): the digest was not computed.
    """

    period: Period
    prepared: PreparedDigest | None = None
    outcomes: list[DeliveryOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[DeliveryOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


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
    from kpicore.channels.base import OutgoingDigest
    from kpicore.connectors import open_configured_source
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
    return TopInsights(findings.insights[: top + 1], top)  # one spare, for the one the headline names


def ledger_engine(config, *, create: bool = True) -> Engine | None:
    """The state database holding the delivery ledger (migrated). With ``create=False``, None when
    the SQLite file does not exist yet, so read-only commands do not create it."""
    from pathlib import Path

    from kpicore.state import open_state

    url = config.resolved_state_url()
    if not create and url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:" and not Path(path).exists():
            return None
    return open_state(url)


def channels(registry) -> dict[str, Channel]:
    """Scheme -> channel, from the registered channel plugins."""
    return {scheme: registration.item for scheme, registration in registry.channels.items()}


def channel_settings(config, registry) -> dict[str, dict[str, Any]]:
    """Scheme -> settings, each channel reading its own table of kpi.toml."""
    return {scheme: channel.settings(config) for scheme, channel in channels(registry).items()}


def send_digest(
    config,
    spec: DigestSpec,
    *,
    period: str | None = None,
    now: dt.datetime | None = None,
    force: bool = False,
    registry=None,
    source_url: str | None = None,
    engine: Engine | None = None,
    prepare=None,
    destinations: Sequence[str] | None = None,
    reraise: bool = True,
) -> DigestRun:
    """Deliver ``spec`` to each of its destinations once per period, computing it only when one is due.

    The destinations still due are claimed in the ledger first; only then is the digest
    computed, stored and rendered. A compute failure is recorded against the claimed
    destinations and raised. A failing destination is recorded and does not stop the others;
    destinations already delivered for the period are skipped unless ``force``. ``prepare``
    replaces :func:`prepare_digest` (the service passes one that holds for a source that is down);
    ``destinations`` limits the send to some of the digest's (the service's retries); with
    ``reraise=False`` a compute failure is only recorded and returned as failed outcomes.
    """
    from kpicore.delivery import MessageKey, deliver
    from kpicore.registry import get_registry

    registry = registry or get_registry()
    the_period = resolve_period(spec, period, now)
    run = DigestRun(the_period)

    def compute():
        run.prepared = (prepare or prepare_digest)(
            config, spec, period=period, now=now, registry=registry, source_url=source_url
        )
        return run.prepared.outgoing

    run.outcomes = deliver(
        MessageKey("digest", spec.name, the_period.label),
        spec.destinations if destinations is None else destinations,
        compute,
        engine if engine is not None else ledger_engine(config),
        channels(registry),
        channel_settings(config, registry),
        force=force,
        reraise=reraise,
        lease=claim_lease(config),
    )
    return run


def claim_lease(config) -> dt.timedelta:
    """How long a claim in the ledger lives without renewal: ``[serve] lease`` (default 60 s).

    Every process sharing a state database should use the same value.
    """
    from kpicore.delivery.ledger import LEASE
    from kpicore.scheduler import parse_duration

    raw = (getattr(config, "serve", None) or {}).get("lease")
    return LEASE if raw is None else dt.timedelta(seconds=parse_duration(raw, "kpi.toml: [serve].lease"))


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
    from kpicore.channels.base import OutgoingDigest
    from kpicore.digest.render import renderer
    from kpicore.registry import get_registry
    from kpicore.results import MetricResult

    registry = registry or get_registry()
    the_period = resolve_period(spec, period, now)
    results = []
    for name in spec.metrics:
        metric = registry.metrics[name].item
        results.append(
            MetricResult(
                metric=name,
                title=metric.title,
                unit=metric.unit,
                better=metric.better,
                status="unavailable",
                period=the_period.label,
                start=the_period.start_iso(),
                end=the_period.end_iso(),
                reason=cause,
            )
        )
    render = renderer(spec, results, period_label=the_period.label, **render_options(config))
    outgoing = OutgoingDigest(spec=spec, period_label=the_period.label, renderings=render)
    return PreparedDigest(spec, the_period, results, outgoing, "unavailable")
