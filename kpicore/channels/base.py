"""What a channel plugin is: the Channel base class, what it reports after a send, destination URIs.

A channel sends a :class:`kpicore.message.Message` (its kind, key, title and renderings), never a digest."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpicore.errors import ConfigError
from kpicore.message import Message
from kpicore.settings import check_keys

if TYPE_CHECKING:
    from kpicore.config import Config

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):(.*)$", re.DOTALL)


def parse_destination(uri: str) -> tuple[str, str]:
    """Split a destination URI into ``(scheme, target)``: ``"slack:#kpis"`` -> ``("slack", "#kpis")``.

    The scheme names a channel plugin; what the target means is up to the channel
    (``stdout:`` has an empty target). Raises ConfigError for anything else.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(
            f"Destination {uri!r} is empty: use a URI such as 'slack:#kpis', "
            "'email:owner@example.com', 'file:./digests' or 'stdout:'"
        )
    match = _SCHEME.match(uri.strip())
    if match is None:
        raise ConfigError(
            f"Destination {uri!r} has no scheme: write it as SCHEME:TARGET, "
            "e.g. 'slack:#kpis', 'email:owner@example.com', 'file:./digests' or 'stdout:'"
        )
    scheme, target = match.group(1), match.group(2).strip()
    target = target.removeprefix("//")
    return scheme, target


@dataclass
class Delivery:
    """What a channel reports after a send: ids of what it created (Slack ``channel:ts``,
    an email's Message-ID, a file path), stored in the delivery ledger."""

    message_ids: list[str] = field(default_factory=list)
    detail: str = ""


class Channel:
    """Base class of channel plugins. Subclasses set ``scheme`` and ``description`` and implement send.

    A channel is registered through the ``register_channels(register)`` hook; the scheme is the
    part before the colon of a destination URI (``slack:#kpis``). The core knows no scheme: each
    channel checks its own targets (:meth:`check_target`) and reads its own settings
    (:meth:`settings`, by default the ``[channels.SCHEME]`` table of kpi.toml).
    """

    scheme: str = ""
    description: str = ""
    #: The rendered formats the channel needs, in order of use.
    formats: tuple[str, ...] = ()
    #: The keys its settings table may hold; None: not checked.
    setting_keys: tuple[str, ...] | None = None
    #: True when the channel can find an earlier send of a message in the destination (see resume).
    can_look_up: bool = False
    #: For a channel that cannot look up: True when its send calls
    #: ``kpicore.channels.handover.handing_over()`` right before the message leaves (SMTP DATA); else
    #: the core records ``sending`` before the whole send.
    marks_handover: bool = False
    #: The environment variables the channel reads (a token, a password): `kpi check` reports a
    #: :meth:`preflight` line naming one as a warning, not as a problem of kpi.toml.
    environment: tuple[str, ...] = ()

    def settings_section(self) -> str:
        """How kpi.toml names the channel's settings table (for messages): ``[channels.SCHEME]``."""
        return f"[channels.{self.scheme}]"

    def settings(self, config: Config | None) -> dict[str, Any]:
        """The channel's settings from kpi.toml: the ``[channels.SCHEME]`` table (empty when absent)."""
        return dict((config.channels if config is not None else {}).get(self.scheme) or {})

    def check_settings(self, settings: dict[str, Any], where: str) -> None:
        """ConfigError for a key the channel does not know (with the closest known one)."""
        if self.setting_keys is None:
            return
        check_keys(settings, self.setting_keys, f"{where}: {self.settings_section()}")

    def check_target(self, target: str) -> None:
        """ConfigError when ``target`` (the destination without its scheme) cannot be sent to."""

    def check_target_settings(self, target: str, settings: dict[str, Any]) -> None:
        """ConfigError when the settings lack what ``target`` names (``teams:ops`` without a webhook
        ``ops``); `kpi check` calls it for every destination. Never read secrets' values here."""

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Deliver ``message`` to ``target`` (the URI without its scheme).

        ``settings`` is what :meth:`settings` read from kpi.toml, possibly empty. Raise
        DeliveryError naming the destination on failure; never put secrets in messages.
        """
        raise NotImplementedError

    def resume(
        self, message: Message, target: str, settings: dict[str, Any], previous: list[str]
    ) -> Delivery:
        """Finish a send that a process started and died in (only when ``can_look_up``).

        Look for the parts of ``message`` already in the destination, send only the missing ones,
        and report every part. ``previous`` holds the ids that process had recorded.
        """
        raise NotImplementedError

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """What a send to ``target`` would fail on, found without sending (a missing token or
        setting), one line each; ``kpi digest send --dry-run`` prints them. Never include secrets."""
        return []

    def takes_follows(self, config) -> bool:
        """True when ``/kpi follow`` is answered through this channel in `kpi serve` (its followers are
        keyed ``SCHEME:ID``, which is also where their personal message goes), so the service sends
        personal messages even without Slack. False by default."""
        return False

    def chat_endpoints(self, config) -> Any:
        """``/kpi`` through this channel inside `kpi serve`: a ``kpicore.chat.service.ChatEndpoints``
        (its routes are mounted beside ``/healthz``, its ``close()`` runs at shutdown), or None (the
        default: the channel only delivers)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.scheme}:>"
