"""The ``[chat]`` table of kpi.toml: who may ask for what, freshness, budget, rate limit, personal messages.

``parse_duration`` is the one place ``[chat]`` durations are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from kpicore.chat.allow import Asker, allowed
from kpicore.errors import ConfigError

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

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")

_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, where: str) -> float:
    """Seconds in ``"1h"``, ``"30m"``, ``"2s"``, ``"500ms"`` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())) and float(match[1]) > 0:
        return float(match[1]) * _SECONDS[match[2]]
    raise ConfigError(f'{where}: expected a duration such as "1h", "30m" or "2s", got {value!r}')


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
    def from_config(cls, config) -> ChatSettings:
        raw = config.chat or {}
        where = "kpi.toml: [chat]"
        for key in raw:
            if key not in CHAT_KEYS:
                import difflib

                close = difflib.get_close_matches(key, CHAT_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(CHAT_KEYS)})"
                raise ConfigError(f"{where}: unknown key {key!r}{hint}")
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
                settings = replace(settings, **{key: value})
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
        settings.schedule_for(getattr(config, "timezone", "UTC") or "UTC")  # refuse a bad schedule at start
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
