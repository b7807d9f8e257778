"""The stdout channel: prints the plain-text digest (``stdout:``), for cron mail and debugging."""

from __future__ import annotations

import sys
from typing import Any

from kpicore.channels.base import Channel, Delivery, Message


class StdoutChannel(Channel):
    """Prints the plain-text digest to standard output."""

    scheme = "stdout"
    description = "print the plain-text digest"
    formats = ("text",)

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Write the text rendering to stdout (the target is ignored)."""
        body = message.rendered("text").body
        sys.stdout.write(body if body.endswith("\n") else body + "\n")
        sys.stdout.flush()
        return Delivery(message_ids=[], detail="printed")
