"""The vocabulary of kpi.toml settings: one duration grammar, key checks with suggestions, the lease.

Every table of kpi.toml (kpicore's own and the ones plugins declare through ``register_settings``) reads
its durations with :func:`parse_duration` and checks its keys with :func:`check_keys`, so that
``"1.5h"`` means the same everywhere and a typo gets the same "did you mean" wherever it is made.

Durations are a number and a unit: ``500ms``, ``90s``, ``15m``, ``1.5h``, ``1d``. A bare number is
seconds only for a key documented in seconds (``[source] timeout = 60``); elsewhere it is refused with
the fix in the message.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .hookspecs import Registrations

#: Seconds in one of each unit a duration may be written in.
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
EXAMPLES = '"500ms", "90s", "15m", "1.5h", "1d"'
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)\s*")

#: A claim in the delivery ledger lives this long without renewal (``[serve] lease``), unless set.
DEFAULT_LEASE = 60.0
#: How often `kpi serve` looks at retries and held messages (``[serve] tick``), unless set.
DEFAULT_TICK = "15s"
#: The shortest lease allowed: a renewal every third of it must fit between two database round trips.
MIN_LEASE = 5.0


def parse_duration(
    value: Any, where: str, *, seconds: bool = False, zero: bool = False, what: str = "a duration"
) -> float:
    """Seconds in a duration such as ``"500ms"``, ``"90s"``, ``"15m"``, ``"1.5h"`` or ``"1d"``.

    ``seconds``: the key is documented in seconds, so a bare number is taken as seconds; otherwise a
    number is refused with the fix in the message. ``zero``: zero is allowed (``"0s"``). ``what`` names
    the kind of value in the message (``"an interval"``). A ConfigError naming ``where`` otherwise.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not seconds:
            raise ConfigError(
                f'{where}: {value!r} has no unit: write "{value:g}s" (a number and a unit: ms, s, m, h, d)'
            )
        number = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        number = float(match[1]) * UNITS[match[2]]
    else:
        raise ConfigError(
            f"{where}: {value!r} is not {what}: write a number and a unit (ms, s, m, h, d), e.g. {EXAMPLES}"
        )
    if number < 0 or (number == 0 and not zero):
        raise ConfigError(f"{where}: {value!r} is not {what}: it must be more than zero, e.g. {EXAMPLES}")
    return number


def parse_interval(value: Any, where: str) -> int:
    """Whole seconds, at least one, in a schedule's interval (``every = "30s"``, ``"15m"``, ``"1.5h"``)."""
    number = parse_duration(value, where, what="an interval")
    if number < 1 or number != int(number):
        raise ConfigError(
            f"{where}: {value!r} is not an interval: intervals are whole seconds, at least 1, e.g. {EXAMPLES[9:]}"
        )
    return int(number)


def closest(name: str, known: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The names in ``known`` closest to ``name`` (the best first), for "did you mean" hints, compared
    without case (``NPS`` finds ``nps``, ``Region`` finds ``region``; one differing only in case first)
    and spelled as ``known`` spells them."""
    by_folded: dict[str, str] = {}
    for choice in sorted(known):
        by_folded.setdefault(choice.casefold(), choice)
    folded = name.casefold()
    close = difflib.get_close_matches(folded, list(by_folded), n=n, cutoff=cutoff)
    if folded in by_folded and folded not in close[:1]:
        close = [folded, *(match for match in close if match != folded)][:n]
    return [by_folded[match] for match in close]


def did_you_mean(
    name: str,
    known: Iterable[str],
    *,
    n: int = 1,
    cutoff: float = 0.6,
    quote: bool = True,
    otherwise: str = "",
) -> str:
    """``" (did you mean 'nps'?)"`` for the closest of ``known`` (up to ``n``, joined), else ``otherwise``."""
    close = closest(name, known, n=n, cutoff=cutoff)
    if not close:
        return otherwise
    return f" (did you mean {', '.join(repr(c) if quote else c for c in close)}?)"


def unknown_key(key: str, allowed: Iterable[str], where: str) -> ConfigError:
    """The error for a key a table does not take, with the closest allowed key or the list of them."""
    allowed = list(allowed)
    if not allowed:
        table = where.rsplit("[", 1)[-1].rstrip("]") if where.endswith("]") else "this table"
        return ConfigError(f"{where}: unknown key {key!r} ({table} takes no keys)")
    hint = did_you_mean(key, allowed, otherwise=f" (known keys: {', '.join(allowed)})")
    return ConfigError(f"{where}: unknown key {key!r}{hint}")


def key_problems(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> list[str]:
    """One line per key of ``table`` that is not in ``allowed``."""
    allowed = list(allowed)
    return [str(unknown_key(key, allowed, where)) for key in table if key not in allowed]


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """A ConfigError for the first key of ``table`` that is not in ``allowed``."""
    problems = key_problems(table, allowed, where)
    if problems:
        raise ConfigError(problems[0])


def table_problems(section: str, table: Any, registry: Registrations, where: str) -> list[str]:
    """``table`` (the ``[section]`` of kpi.toml) against the keys a plugin declared for it through
    ``register_settings``, nested declared tables too; one line per problem."""
    if not isinstance(table, Mapping):
        return [f"{where}: [{section}]: expected a table of settings, got {table!r}"]
    keys = registry.settings[section].item.keys
    problems = []
    for key, value in table.items():
        if key not in keys:
            problems.append(str(unknown_key(key, keys, f"{where}: [{section}]")))
        elif isinstance(value, Mapping) and f"{section}.{key}" in registry.settings:
            problems.extend(table_problems(f"{section}.{key}", value, registry, where))
    return problems


def check_declared_tables(config: Any, registry: Registrations) -> None:
    """A ConfigError for the first problem in a table of kpi.toml that an installed plugin declared
    (``[packs.hubspot]``); tables nobody declared are left to `kpi check`."""
    where = config_name(config)
    for section in sorted(registry.settings):
        top, _, rest = section.partition(".")
        if "." in rest:
            continue  # a nested table: checked with its parent
        table = (getattr(config, top, None) or {}).get(rest)
        if table is not None and (problems := table_problems(section, table, registry, where)):
            raise ConfigError(problems[0])


def config_name(config: Any) -> str:
    """How messages name the config file: relative to the working directory when it is inside it."""
    from pathlib import Path

    path = getattr(config, "path", None)
    if path is None:
        return "kpi.toml"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- settings every message kind shares ---------------------------------------------------------------
def serve_tick(config: Any) -> float:
    """``[serve] tick`` in seconds (default 15 s)."""
    serve = getattr(config, "serve", None) or {}
    return parse_duration(serve.get("tick", DEFAULT_TICK), f"{config_name(config)}: [serve].tick")


def claim_lease(config: Any) -> dt.timedelta:
    """How long a claim in the delivery ledger lives without renewal: ``[serve] lease`` (default 60 s).

    The same for digests, alerts and personal messages, and for every process sharing a state database.
    At least 5 s and at least twice ``[serve] tick``, so a sender renews it several times in a tick.
    """
    serve = getattr(config, "serve", None) or {}
    where = f"{config_name(config)}: [serve].lease"
    if "lease" not in serve:
        return dt.timedelta(seconds=DEFAULT_LEASE)
    lease = parse_duration(serve["lease"], where)
    tick = serve_tick(config)
    if lease < MIN_LEASE:
        raise ConfigError(f"{where}: {serve['lease']!r} is too short: a lease is at least 5s")
    if lease < 2 * tick:
        raise ConfigError(
            f"{where}: {serve['lease']!r} is too short for [serve] tick = {serve.get('tick', DEFAULT_TICK)!r}: "
            f'a lease is at least twice the tick (here "{2 * tick:g}s")'
        )
    return dt.timedelta(seconds=lease)
