"""``kpi check`` and ``kpi serve``'s start-up check of the ``[alerts.NAME]`` tables: each rule parses, its
schedule and destinations are valid, and its metric, unit and target fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..settings import did_you_mean
from .rules import alert_spec, file_label

if TYPE_CHECKING:
    from ..config import Config
    from ..hookspecs import Registrations
from .schedule import alert_schedule


def alert_problems(config: Config, registry: Registrations) -> list[str]:
    """One line per alert that does not parse or names a metric, unit or target that does not fit."""
    from ..targets import parse_target

    where = file_label(config)
    problems = []
    for name, table in config.alerts.items():
        try:
            spec = alert_spec(name, table, where)
        except ConfigError as error:
            problems.append(str(error))
            continue
        try:
            alert_schedule(spec, config, registry, where)
        except ConfigError as error:
            problems.append(str(error))
        rule, key = spec.rule, f"{where}: [alerts.{name}].when"
        if rule.metric not in registry.metrics:
            hint = did_you_mean(rule.metric, registry.metrics, otherwise="; `kpi metrics` lists them")
            problems.append(f"{key}: unknown metric {rule.metric!r}{hint}")
            continue
        metric = registry.metrics[rule.metric].item
        if rule.kind == "change" and rule.relative and metric.unit in ("percent", "points"):
            problems.append(
                f"{key}: {rule.metric} is in {metric.unit}, whose change is in points: "
                f"write '{rule.metric} {'drops' if rule.direction == 'down' else 'rises'} {rule.number:g} vs {rule.vs}'"
            )
        if rule.kind == "target":
            raw = config.targets.get(rule.metric)
            if raw is None:
                problems.append(
                    f"{key}: {rule.metric} has no target: add it under [targets], "
                    f"e.g. {rule.metric} = {{ min = 40 }}"
                )
            else:
                try:
                    parse_target(rule.metric, raw, where)
                except ConfigError:
                    pass  # reported by the targets check
    return problems
