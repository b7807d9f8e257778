"""The registered channels by scheme, and each one's settings read from kpi.toml."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpicore.channels.base import Channel
    from kpicore.config import Config
    from kpicore.hookspecs import Registrations


def channels(registry: Registrations) -> dict[str, Channel]:
    """Scheme -> channel, from the registered channel plugins."""
    return {scheme: registration.item for scheme, registration in registry.channels.items()}


def channel_settings(config: Config, registry: Registrations) -> dict[str, dict[str, Any]]:
    """Scheme -> settings, each channel reading its own table of kpi.toml."""
    return {scheme: channel.settings(config) for scheme, channel in channels(registry).items()}
