"""Checks of the delivery settings in kpi.toml, for `kpi check` and `kpi serve` at start."""

from __future__ import annotations

from kpicore.errors import ConfigError
from kpicore.settings import closest, key_problems

SERVE_KEYS = ("notify", "retries", "backoff", "tick", "lease", "public_url", "chart_ttl", "recompute")


def channel_setting_problems(config, registry) -> list[str]:
    """One line per channel whose settings table has a key it does not know (``[email] smtp_host``)."""
    problems = []
    where = _file_name(config)
    for _scheme, registration in sorted(registry.channels.items()):
        channel = registration.item
        try:
            channel.check_settings(channel.settings(config), where)
        except ConfigError as error:
            problems.append(str(error))
    for scheme in sorted(config.channels):
        if scheme not in registry.channels:
            problems.append(f"{where}: [channels.{scheme}]: no channel plugin handles {scheme + ':'!r}")
    return problems + _destination_setting_problems(config, registry, where)


def _destination_setting_problems(config, registry, where: str) -> list[str]:
    """One line per digest or notify destination its channel's settings cannot serve (``teams:ops``
    without a webhook named ``ops``): ``Channel.check_target_settings``."""
    from kpicore.channels.base import parse_destination

    named = [
        (f"[digests.{name}].destinations", destination)
        for name, table in config.digests.items()
        if isinstance(table, dict) and isinstance(table.get("destinations"), list)
        for destination in table["destinations"]
    ]
    notify = config.serve.get("notify")
    named += [("[serve].notify", d) for d in notify] if isinstance(notify, list) else []
    problems = []
    for key, destination in named:
        try:
            scheme, target = parse_destination(destination)
        except (ConfigError, TypeError):
            continue  # reported by the digest's own check
        registration = registry.channels.get(scheme)
        if registration is None:
            continue
        channel = registration.item
        try:
            channel.check_target_settings(target, channel.settings(config))
        except ConfigError as error:
            problems.append(f"{where}: {key}: {error}")
    return problems


def check_destinations(destinations, registry, where: str) -> None:
    """ConfigError for a destination whose scheme no channel handles or whose target it rejects."""
    from kpicore.channels.base import parse_destination

    for destination in destinations:
        try:
            scheme, target = parse_destination(destination)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        if scheme not in registry.channels:
            known = ", ".join(f"{s}:" for s in sorted(registry.channels)) or "none"
            hint = f" (did you mean {close[0]}:?)" if (close := closest(scheme, registry.channels)) else ""
            raise ConfigError(
                f"{where}: {destination!r}: no channel handles {scheme + ':'!r}{hint}; known: {known}"
            )
        try:
            registry.channels[scheme].item.check_target(target)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


def serve_problems(config, registry) -> list[str]:
    """Problems in ``[serve]``: unknown keys, notify destinations, the chart links' address and lifetime."""
    from kpicore.channels.chart_links import chart_link_problems

    where = f"{_file_name(config)}: [serve]"
    problems = key_problems(config.serve, SERVE_KEYS, where) + chart_link_problems(config)
    if "recompute" in config.serve:
        from kpicore.incremental import check_recompute

        try:
            check_recompute(config.serve["recompute"], f"{where}.recompute")
        except ConfigError as error:
            problems.append(str(error))
    notify = config.serve.get("notify", [])
    if not isinstance(notify, list) or not all(isinstance(d, str) for d in notify):
        problems.append(f'{where}.notify: expected a list of destinations, e.g. ["slack:#ops"]')
    else:
        try:
            check_destinations(notify, registry, f"{where}.notify")
        except ConfigError as error:
            problems.append(str(error))
    return problems


def _file_name(config) -> str:
    from kpicore.config import config_file_name

    return config_file_name(config)
