"""Alert rules: ``[alerts.NAME]`` tables and the ``when`` text, read into plain values.

``parse_when(name, text)`` is a pure function (no registry, no I/O); :func:`alert_specs` reads the
whole ``[alerts]`` section and :func:`alert_problems` checks the rules against the installed metrics
and the targets (for `kpi check`). Every error names the alert and shows the accepted forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..settings import unknown_key

if TYPE_CHECKING:
    from ..config import Config

ACCEPTED_FORMS = (
    "'METRIC > NUMBER' (or >=, <, <=: churn_rate > 5), "
    "'METRIC drops|falls|rises NUMBER vs previous' (nps drops 10 vs previous), "
    "'METRIC falls|rises NUMBER% vs previous' (revenue falls 20% vs previous), "
    "the same against the same period a year before with 'vs last-year' (revenue falls 15% vs last-year), "
    "'METRIC < target', 'METRIC > target' or 'METRIC off target' (revenue < target), "
    "'METRIC is unusual' (revenue is unusual: outside the band its own history predicts)"
)
#: Verbs of a change rule and the direction they watch.
DOWN = ("drops", "falls", "decreases")
UP = ("rises", "grows", "increases")
#: What a change rule compares with: the period before, or the same period a year before.
COMPARISONS = ("previous", "last-year")
KEYS = ("when", "by", "period", "schedule", "every", "destinations", "timezone", "catch_up")
#: A fire missed while `kpi serve` was down this recently is evaluated once on start.
DEFAULT_CATCH_UP = "24h"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_THRESHOLD = re.compile(rf"^({_NAME})\s*(>=|<=|>|<)\s*({_NUMBER})$")
_CHANGE = re.compile(rf"^({_NAME})\s+({'|'.join(DOWN + UP)})\s+({_NUMBER})\s*(%?)\s+vs\s+(.+)$")
#: Other spellings of a comparison, read as the one in COMPARISONS.
_COMPARISON_SPELLINGS = {
    "last year": "last-year",
    "a year ago": "last-year",
    "year ago": "last-year",
    "the previous period": "previous",
    "previous period": "previous",
}
_TARGET = re.compile(rf"^({_NAME})\s*(?:(<|>)\s*target|\s+off\s+target)$")
_UNUSUAL = re.compile(rf"^({_NAME})\s+is\s+unusual$")


@dataclass(frozen=True)
class Rule:
    """A parsed ``when``: ``kind`` is ``threshold``, ``change``, ``target`` or ``unusual``.

    threshold: ``op`` and ``number``; change: ``direction`` ("down"/"up"), ``number`` (in the metric's
    unit, or percent when ``relative``) and ``vs`` (``previous`` or ``last-year``); target: ``op`` ``<``
    (below), ``>`` (above) or ``off`` (not on track); unusual: outside the band of the unusual-change insight
    (kpicore.insights.unusual).
    """

    kind: str
    metric: str
    op: str | None = None
    number: float | None = None
    direction: str | None = None
    relative: bool = False
    vs: str | None = None


@dataclass(frozen=True)
class AlertSpec:
    """One ``[alerts.NAME]`` table: the rule, the optional dimension, when and where it is checked."""

    name: str
    when: str
    rule: Rule
    by: str | None = None
    period: str = "last-week"
    schedule: str | None = None
    every: str | None = None
    destinations: tuple[str, ...] = field(default_factory=tuple)
    catch_up: str = DEFAULT_CATCH_UP


def parse_when(name: str, text: Any, where: str = "kpi.toml") -> Rule:
    """The :class:`Rule` that ``text`` (``[alerts.NAME].when``) says; ConfigError naming the alert and
    listing the accepted forms when it says none of them."""
    key = f"{where}: [alerts.{name}].when"
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{key}: expected a rule as text; accepted forms: {ACCEPTED_FORMS}")
    words = " ".join(text.split())
    lowered = words.lower()
    if match := _THRESHOLD.match(words):
        metric, op, number = match.groups()
        return Rule("threshold", metric, op=op, number=float(number))
    if match := _CHANGE.match(lowered):
        metric, verb, number, percent, vs = match.groups()
        vs = _COMPARISON_SPELLINGS.get(vs, vs)
        if vs not in COMPARISONS:
            raise ConfigError(
                f"{key}: cannot compare with {vs!r} (write 'vs previous' or 'vs last-year'); "
                f"accepted forms: {ACCEPTED_FORMS}"
            )
        size = float(number)
        if size <= 0:
            raise ConfigError(
                f"{key}: the change must be a positive number, not {number} (the verb gives the "
                f"direction); accepted forms: {ACCEPTED_FORMS}"
            )
        return Rule(
            "change",
            metric,
            number=size,
            direction="down" if verb in DOWN else "up",
            relative=bool(percent),
            vs=vs,
        )
    if match := _TARGET.match(lowered):
        metric, op = match.groups()
        return Rule("target", metric, op=op or "off")
    if match := _UNUSUAL.match(lowered):
        return Rule("unusual", match.group(1))
    raise ConfigError(f"{key}: cannot read {text!r}; accepted forms: {ACCEPTED_FORMS}")


def alert_spec(name: str, table: Any, where: str = "kpi.toml") -> AlertSpec:
    """The :class:`AlertSpec` of ``[alerts.NAME]`` (ConfigError naming the key for anything wrong)."""
    key = f"{where}: [alerts.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f'{key}: expected a table with when = "..."; accepted forms: {ACCEPTED_FORMS}')
    if unknown := sorted(set(table) - set(KEYS)):
        raise unknown_key(unknown[0], KEYS, key)
    if "when" not in table:
        raise ConfigError(f'{key}: missing when = "..."; accepted forms: {ACCEPTED_FORMS}')
    rule = parse_when(name, table["when"], where)
    for text_key in ("by", "period", "schedule", "every", "catch_up"):
        if text_key in table and not (isinstance(table[text_key], str) and table[text_key].strip()):
            raise ConfigError(f"{key}.{text_key}: expected text, not {table[text_key]!r}")
    destinations = table.get("destinations", [])
    if not isinstance(destinations, list) or not all(isinstance(d, str) for d in destinations):
        raise ConfigError(f'{key}.destinations: expected a list of destinations such as ["slack:#ops"]')
    return AlertSpec(
        name,
        table["when"],
        rule,
        by=table.get("by"),
        period=table.get("period", "last-week"),
        schedule=table.get("schedule"),
        every=table.get("every"),
        destinations=tuple(destinations),
        catch_up=table.get("catch_up", DEFAULT_CATCH_UP),
    )


def alert_specs(config: Config | None) -> dict[str, AlertSpec]:
    """Every ``[alerts.NAME]`` of ``config``, by name."""
    where = file_label(config)
    tables = config.alerts if config is not None else {}
    return {name: alert_spec(name, table, where) for name, table in tables.items()}


def file_label(config: Config | None) -> str:
    """How messages name kpi.toml: its file name."""
    path = config.path if config is not None else None
    return path.name if path is not None else "kpi.toml"
