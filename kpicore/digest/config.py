"""Digest definitions: the ``[digests.NAME]`` tables of kpi.toml turned into DigestSpecs.

Every error names the file and the key, and says what to write instead::

    kpi.toml: [digests.weekly].metrics: unknown metric 'csta' (did you mean csat?)

The schedule is only checked for its shape here (a 5-field cron, or ``every = "30s"``); the
scheduler interprets it.
"""

from __future__ import annotations

import re
from typing import Any

from kpicore.config import config_file_name
from kpicore.digest.render import DigestSpec
from kpicore.errors import ConfigError
from kpicore.settings import check_keys, did_you_mean

DIGEST_KEYS = (
    "title",
    "metrics",
    "breakdowns",
    "period",
    "trend",
    "schedule",
    "every",
    "timezone",
    "destinations",
    "template",
    "min_sample",
    "catch_up",
    "max_delay",
    "insights",
)
DEFAULT_CATCH_UP = "24h"
DEFAULT_MAX_DELAY = "6h"
DEFAULT_PERIOD = "last-week"
DEFAULT_TREND = 12
DEFAULT_TEMPLATE = "digest"
#: Segments with fewer records than this are marked as small samples in digests.
DEFAULT_MIN_SAMPLE = 30
MAX_TREND = 120

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: (field name, lowest, highest, names) for the five cron fields, in order.
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


def digest_names(config) -> list[str]:
    """The digests kpi.toml defines, in file order."""
    return list(config.digests)


def digest_spec(config, name: str, registry) -> DigestSpec:
    """The validated DigestSpec of ``[digests.NAME]``.

    An unknown name is a ConfigError listing the defined digests. ``registry`` provides the
    metric names and channel schemes that are valid.
    """
    if name not in config.digests:
        defined = ", ".join(digest_names(config))
        where = config_file_name(config)
        hint = did_you_mean(name, digest_names(config), quote=False)
        if defined:
            raise ConfigError(f"unknown digest {name!r}{hint}: {where} defines {defined}")
        raise ConfigError(
            f"unknown digest {name!r}: {where} defines no digests; add a [digests.{name}] table"
        )
    return parse_digest(name, config.digests[name], config, registry)


def digest_specs(config, registry) -> dict[str, DigestSpec]:
    """Every digest of kpi.toml, validated (the first error raises)."""
    return {name: digest_spec(config, name, registry) for name in digest_names(config)}


def parse_digest(name: str, raw: Any, config, registry) -> DigestSpec:
    """Validate one ``[digests.NAME]`` table and fill in the defaults.

    Defaults: period ``last-week``, trend 12, template ``digest``, title from the name
    (``weekly_ops`` -> ``Weekly Ops``), timezone the top-level one.
    """
    from kpicore.settings import parse_duration

    where = f"{config_file_name(config)}: [digests.{name}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {raw!r}")
    check_keys(raw, DIGEST_KEYS, where)

    title = _string(raw.get("title", _default_title(name)), f"{where}.title", "a title")

    metrics = _metrics(raw, registry, where)
    breakdowns = _breakdowns(raw, metrics, registry, where)

    zone, period = _zone_and_period(raw, config, where)

    trend = raw.get("trend", DEFAULT_TREND)
    if isinstance(trend, bool) or not isinstance(trend, int) or not (trend == 0 or 2 <= trend <= MAX_TREND):
        raise ConfigError(
            f"{where}.trend: expected a number of periods from 2 to {MAX_TREND} (or 0 for no trend), got {trend!r}"
        )

    schedule = _schedule(raw, zone, where)
    catch_up = parse_duration(raw.get("catch_up", DEFAULT_CATCH_UP), f"{where}.catch_up")
    max_delay = parse_duration(raw.get("max_delay", DEFAULT_MAX_DELAY), f"{where}.max_delay")

    destinations = _destinations(raw, registry, where)

    template = _string(raw.get("template", DEFAULT_TEMPLATE), f"{where}.template", "a template name")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", template):
        raise ConfigError(f'{where}.template: {template!r} is not a template name such as "weekly"')

    min_sample = raw.get("min_sample", _insights_min_sample(config))
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 0:
        raise ConfigError(
            f"{where}.min_sample: expected a whole number of records (segments with fewer are marked as "
            f"small samples; 0 marks none), got {min_sample!r}"
        )

    insights = raw.get("insights")
    if insights is not None and (isinstance(insights, bool) or not isinstance(insights, int) or insights < 0):
        raise ConfigError(
            f"{where}.insights: expected how many insights to show (0 for none), got {insights!r}"
        )

    return DigestSpec(
        name=name,
        title=title,
        metrics=list(metrics),
        period=period,
        trend=trend,
        breakdowns={metric: dimension.strip() for metric, dimension in breakdowns.items()},
        destinations=list(destinations),
        template=template,
        timezone=zone,
        week_start=config.week_start,
        schedule=schedule,
        min_sample=min_sample,
        catch_up=catch_up,
        max_delay=max_delay,
        insights=insights,
    )


def _insights_min_sample(config) -> int:
    """``[insights] min_sample`` when kpi.toml sets a valid one (a digest's own overrides it), else 30."""
    value = (getattr(config, "insights", None) or {}).get("min_sample", DEFAULT_MIN_SAMPLE)
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if valid else DEFAULT_MIN_SAMPLE


def _zone_and_period(raw: dict, config, where: str) -> tuple[str, str]:
    """``timezone`` (default: the top-level one) and ``period`` (default ``last-week``), both checked."""
    from kpicore.periods import get_timezone, parse_period

    zone = _string(raw.get("timezone", config.timezone), f"{where}.timezone", "an IANA timezone name")
    try:
        get_timezone(zone)
    except ConfigError as error:
        raise ConfigError(f"{where}.timezone: {error}") from None

    period = _string(raw.get("period", DEFAULT_PERIOD), f"{where}.period", "a period such as last-week")
    try:
        parse_period(period, zone)
    except ConfigError as error:
        raise ConfigError(f"{where}.period: {error}") from None
    return zone, period


def _destinations(raw: dict, registry, where: str) -> list[str]:
    """``destinations``: a list of URIs, each naming a channel that is installed."""
    destinations = raw.get("destinations", [])
    if not isinstance(destinations, list) or not all(isinstance(d, str) for d in destinations):
        raise ConfigError(
            f'{where}.destinations: expected a list of URIs, e.g. ["slack:#kpis", "email:owner@example.com"]'
        )
    for destination in destinations:
        check_destination(destination, registry, f"{where}.destinations")
    return destinations


def _metrics(raw: dict, registry, where: str) -> list[str]:
    """``metrics``: a non-empty list of registered metric names, each once."""
    metrics = raw.get("metrics")
    if metrics is None:
        raise ConfigError(f'{where}: metrics is missing: list the metrics, e.g. metrics = ["revenue", "nps"]')
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise ConfigError(
            f'{where}.metrics: expected a non-empty list of metric names, e.g. ["revenue", "nps"]'
        )
    for metric in metrics:
        _check_metric(metric, registry, f"{where}.metrics")
    if len(set(metrics)) != len(metrics):
        repeated = sorted({m for m in metrics if metrics.count(m) > 1})
        raise ConfigError(f"{where}.metrics: {', '.join(repeated)} listed more than once")
    return metrics


def _breakdowns(raw: dict, metrics: list[str], registry, where: str) -> dict[str, str]:
    """``breakdowns``: metric = dimension, for metrics of this digest."""
    breakdowns = raw.get("breakdowns", {})
    if not isinstance(breakdowns, dict):
        raise ConfigError(
            f'{where}.breakdowns: expected a table of metric = dimension, e.g. {{ nps = "region" }}'
        )
    for metric, dimension in breakdowns.items():
        _check_metric(metric, registry, f"{where}.breakdowns")
        if metric not in metrics:
            raise ConfigError(
                f"{where}.breakdowns: {metric!r} is not one of this digest's metrics; add it to metrics"
            )
        if not isinstance(dimension, str) or not dimension.strip():
            raise ConfigError(f'{where}.breakdowns.{metric}: expected a dimension name such as "region"')
    return breakdowns


def _schedule(raw: dict, zone: str, where: str):
    """``schedule`` (cron) or ``every`` (an interval), or None when the digest is sent by hand."""
    if "schedule" in raw and "every" in raw:
        raise ConfigError(f"{where}: give either schedule (cron) or every (an interval), not both")
    from kpicore.scheduler import CronSchedule, IntervalSchedule, check_can_fire

    schedule: CronSchedule | IntervalSchedule | None = None
    if "schedule" in raw:
        expression = _string(raw["schedule"], f"{where}.schedule", 'a 5-field cron such as "0 9 * * MON"')
        check_cron(expression, f"{where}.schedule")
        check_can_fire(expression, f"{where}.schedule")
        schedule = CronSchedule(" ".join(expression.split()), zone)
    elif "every" in raw:
        every = _string(raw["every"], f"{where}.every", 'an interval such as "30s", "15m", "1h" or "1d"')
        schedule = IntervalSchedule(check_interval(every, f"{where}.every"), every.strip())
    return schedule


def _default_title(name: str) -> str:
    return re.sub(r"[_-]+", " ", name).strip().title() or name


def _string(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected {what}, got {value!r}")
    return value


def _check_metric(metric: str, registry, where: str) -> None:
    if metric in registry.metrics:
        return
    hint = did_you_mean(
        metric, registry.metrics, n=3, cutoff=0.5, quote=False, otherwise="; `kpi metrics` lists them"
    )
    raise ConfigError(f"{where}: unknown metric {metric!r}{hint}")


def check_destination(destination: str, registry, where: str) -> None:
    """A destination URI whose scheme names a registered channel, with a target that channel accepts."""
    from kpicore.delivery.check import check_destinations

    check_destinations([destination], registry, where)


def digest_problems(config, registry) -> list[str]:
    """One line per digest that does not validate (for `kpi check`)."""
    problems = []
    for name in digest_names(config):
        try:
            digest_spec(config, name, registry)
        except ConfigError as error:
            problems.append(str(error))
    return problems


def check_interval(every: str, where: str) -> int:
    """Whole seconds in an interval (``"30s"``, ``"15m"``, ``"1.5h"``, ``"1d"``); ConfigError otherwise."""
    from kpicore.settings import parse_interval

    return parse_interval(every, where)


def check_cron(schedule: str, where: str) -> None:
    """Check the shape of a standard 5-field crontab expression (numbers, names, ``*``, ``-``, ``/``, ``,``)."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ConfigError(
            f"{where}: {schedule!r} has {len(fields)} field(s): a cron schedule has 5 (minute hour "
            f'day-of-month month day-of-week), e.g. "0 9 * * MON"; or use every = "30s"'
        )
    for text, (field_name, low, high, names) in zip(fields, _CRON_FIELDS, strict=False):
        for item in text.split(","):
            if not _cron_item_ok(item, low, high, names):
                allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
                raise ConfigError(
                    f"{where}: {schedule!r}: {field_name} field {text!r} is not valid ({allowed}, *, ranges a-b, "
                    "steps */n, lists a,b)"
                )


def _cron_item_ok(item: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    base, _, step = item.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return False
    if base == "*":
        return True
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return False
    values = []
    for bound in bounds:
        if bound.isdigit():
            values.append(int(bound))
        elif bound.upper() in names:
            values.append(names.index(bound.upper()) + (1 if names is _MONTHS else 0))
        else:
            return False
    return all(low <= value <= high for value in values) and values == sorted(values)
