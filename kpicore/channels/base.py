"""What a channel plugin is: the Channel base class, the message it sends, destination URIs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpicore.errors import ConfigError

if TYPE_CHECKING:
    from kpicore.digest.render import DigestSpec, Rendered

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
class OutgoingDigest:
    """A digest ready to go out: its spec, the period label, and its renderings.

    ``renderings`` is either a mapping fmt -> Rendered or a callable ``render(fmt) -> Rendered``;
    a callable is called at most once per format, so a run that only sends to Slack never draws
    the HTML email.
    """

    spec: DigestSpec
    period_label: str
    renderings: Mapping[str, Rendered] | Callable[[str], Rendered]
    _cache: dict[str, Rendered] = field(default_factory=dict, repr=False)

    def rendered(self, fmt: str) -> Rendered:
        """The digest rendered as ``fmt`` ("slack", "html", "text", "md")."""
        if fmt not in self._cache:
            if callable(self.renderings):
                self._cache[fmt] = self.renderings(fmt)
            else:
                try:
                    self._cache[fmt] = self.renderings[fmt]
                except KeyError:
                    raise ConfigError(f"Digest {self.spec.name!r} was not rendered as {fmt!r}") from None
        return self._cache[fmt]

    @property
    def subject(self) -> str:
        """A one-line title: ``Weekly KPIs — 2026-W47``."""
        return f"{self.spec.title} — {self.period_label}"


@dataclass
class Delivery:
    """What a channel reports after a send: ids of what it created (Slack ``channel:ts``,
    an email's Message-ID, a file path), stored in the delivery ledger."""

    message_ids: list[str] = field(default_factory=list)
    detail: str = ""


class Channel:
    """Base class of channel plugins. Subclasses set ``scheme`` and ``description`` and implement send.

    A channel is registered through the ``register_channels(register)`` hook; the scheme is the
    part before the colon of a destination URI (``slack:#kpis``).
    """

    scheme: str = ""
    description: str = ""
    #: The rendered formats the channel needs, in order of use.
    formats: tuple[str, ...] = ()

    def send(self, message: OutgoingDigest, target: str, settings: dict[str, Any]) -> Delivery:
        """Deliver ``message`` to ``target`` (the URI without its scheme).

        ``settings`` is the channel's table of kpi.toml (``[email]`` for email), possibly empty.
        Raise DeliveryError naming the destination on failure; never put secrets in messages.
        """
        raise NotImplementedError

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """What a send to ``target`` would fail on, found without sending (a missing token or
        setting), one line each; ``kpi digest send --dry-run`` prints them. Never include secrets."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.scheme}:>"
