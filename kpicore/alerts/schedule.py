"""When an alert is judged: its schedule (a cron or an interval), its catch-up window, and the period a
fire at a given time judges."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .rules import AlertSpec

if TYPE_CHECKING:
    from ..config import Config
    from ..hookspecs import Registrations


def alert_schedule(
    spec: AlertSpec, config: Config, registry: Registrations | None = None, where: str = "kpi.toml"
):
    """The typed schedule of ``spec`` (None when it has neither ``schedule`` nor ``every``), its
    destinations checked; ConfigError naming the key."""
    from ..digest.config import check_cron, check_destination, check_interval
    from ..scheduler import CronSchedule, IntervalSchedule, check_can_fire

    key = f"{where}: [alerts.{spec.name}]"
    if spec.schedule and spec.every:
        raise ConfigError(f"{key}: give either schedule (cron) or every (an interval), not both")
    if registry is not None:
        for destination in spec.destinations:
            check_destination(destination, registry, f"{key}.destinations")
    alert_catch_up(spec, where)
    if spec.schedule:
        check_cron(spec.schedule, f"{key}.schedule")
        check_can_fire(spec.schedule, f"{key}.schedule")
        return CronSchedule(" ".join(spec.schedule.split()), config.timezone)
    if spec.every:
        return IntervalSchedule(check_interval(spec.every, f"{key}.every"), spec.every.strip())
    return None


def alert_catch_up(spec: AlertSpec, where: str = "kpi.toml") -> float:
    """Seconds of ``catch_up``: a fire missed this recently (the service was down) is evaluated on start."""
    from ..settings import parse_duration

    return parse_duration(spec.catch_up, f"{where}: [alerts.{spec.name}].catch_up")


def alert_period(spec: AlertSpec, config: Config, scheduled: dt.datetime):
    """The period a fire at ``scheduled`` judges: the rule's ``period`` relative to the fire time."""
    from ..periods import parse_period

    return parse_period(spec.period, config.timezone, now=scheduled, week_start=config.week_start)
