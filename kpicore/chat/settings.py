"""The ``[chat]`` table of kpi.toml: who may ask for what, freshness, budget, rate limit, personal messages.

Durations follow kpicore's one grammar (:func:`kpicore.settings.parse_duration`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kpicore.chat.allow import Asker, allowed
from kpicore.errors import ConfigError
from kpicore.settings import check_keys, parse_duration

if TYPE_CHECKING:
    from kpicore.config import Config

CHAT_KEYS = (
    "allow",
    "max_age",
    "budget",
    "rate_limit",
    "trend",
    "period",
    "follow_schedule",
    "follow_period",
)

#: When followers get their personal message: Mondays at 08:00 in the business timezone.
DEFAULT_FOLLOW_SCHEDULE = "0 8 * * 1"


@dataclass(frozen=True)
class ChatSettings:
    """The ``[chat]`` table of kpi.toml."""

    allow: dict[str, tuple[str, ...]] | None = None
    max_age: float = 3600.0
    budget: float = 2.0
    rate_limit: int = 20  # commands per user per minute
    trend: int = 8
    period: str = "last-week"
    #: A 5-field cron in the business timezone, or an interval ("30s", "1h"; for tests and trials).
    follow_schedule: str = DEFAULT_FOLLOW_SCHEDULE
    #: The period each personal message covers, relative to its fire time.
    follow_period: str = "last-week"

    @classmethod
    def from_config(cls, config: Config) -> ChatSettings:
        raw = config.chat or {}
        where = "kpi.toml: [chat]"
        check_keys(raw, CHAT_KEYS, where)
        allow = None
        if "allow" in raw:
            if not isinstance(raw["allow"], dict):
                raise ConfigError(f'{where} allow: expected a table such as {{ "#leadership" = ["*"] }}')
            allow = {}
            for who, metrics in raw["allow"].items():
                if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
                    raise ConfigError(f'{where} allow.{who}: expected a list of metric names or "*"')
                allow[who] = tuple(metrics)
        settings = cls(allow=allow)
        if "max_age" in raw:
            settings = replace(settings, max_age=parse_duration(raw["max_age"], f"{where} max_age"))
        if "budget" in raw:
            settings = replace(settings, budget=parse_duration(raw["budget"], f"{where} budget"))
        for key in ("rate_limit", "trend"):
            if key in raw:
                value = raw[key]
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
                    raise ConfigError(f"{where} {key}: expected a whole number from 1 to 1000, got {value!r}")
                if key == "rate_limit":
                    settings = replace(settings, rate_limit=value)
                else:
                    settings = replace(settings, trend=value)
        if "period" in raw:
            if not isinstance(raw["period"], str):
                raise ConfigError(f'{where} period: expected a period such as "last-week"')
            settings = replace(settings, period=raw["period"])
        for key in ("follow_schedule", "follow_period"):
            if key in raw:
                if not isinstance(raw[key], str) or not raw[key].strip():
                    example = '"0 8 * * MON"' if key == "follow_schedule" else '"last-week"'
                    raise ConfigError(f"{where} {key}: expected text such as {example}, got {raw[key]!r}")
                settings = replace(settings, **{key: raw[key].strip()})
        settings.schedule_for(config.timezone or "UTC")  # refuse a bad schedule at start
        return settings

    def schedule_for(self, timezone: str):
        """``follow_schedule`` as a typed schedule (a cron in ``timezone``, or an interval);
        ConfigError naming the key."""
        from kpicore.digest.config import check_cron, check_interval
        from kpicore.scheduler import CronSchedule, IntervalSchedule, check_can_fire

        where = "kpi.toml: [chat] follow_schedule"
        text = " ".join(self.follow_schedule.split())
        if " " not in text:
            return IntervalSchedule(check_interval(text, where), text)
        check_cron(text, where)
        check_can_fire(text, where)
        return CronSchedule(text, timezone)

    def allowed(self, metric: str, asker: Asker) -> bool:
        """Whether ``asker`` may ask for ``metric`` under ``[chat] allow`` (see :func:`kpicore.chat.allow.allowed`)."""
        return allowed(self.allow, metric, asker)
