"""A digest as a message: kind ``digest``, its name and period, its title, renderings and destinations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from kpicore.message import Message, MessageKey, Rendered

if TYPE_CHECKING:
    from kpicore.digest.render import DigestSpec


class OutgoingDigest(Message):
    """A digest ready to go out: a Message of kind ``digest`` built from its spec and period label."""

    def __init__(
        self,
        spec: DigestSpec,
        period_label: str,
        renderings: Mapping[str, Rendered] | Callable[[str], Rendered],
    ):
        super().__init__(
            key=MessageKey("digest", spec.name, period_label),
            title=spec.title,
            renderings=renderings,
            destinations=list(spec.destinations),
        )
        self.spec = spec
