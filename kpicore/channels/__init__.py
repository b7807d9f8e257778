"""Built-in channel plugins. The core registers ``CHANNELS`` through ``register_channels``."""

from kpicore.channels.base import Channel, Delivery, Message, parse_destination
from kpicore.channels.email import EmailChannel
from kpicore.channels.file import FileChannel
from kpicore.channels.slack import SlackChannel
from kpicore.channels.stdout import StdoutChannel
from kpicore.hookspecs import hookimpl


def default_channels() -> list[Channel]:
    """Fresh instances of the built-in channels (Slack, email, file, stdout)."""
    return [SlackChannel(), EmailChannel(), FileChannel(), StdoutChannel()]


#: The built-in channels, one instance each, for the default plugin's ``register_channels``.
CHANNELS: list[Channel] = default_channels()

__all__ = [
    "CHANNELS",
    "Channel",
    "Delivery",
    "EmailChannel",
    "FileChannel",
    "Message",
    "SlackChannel",
    "StdoutChannel",
    "default_channels",
    "parse_destination",
]


@hookimpl(trylast=True)
def register_channels(register):
    for channel in CHANNELS:
        register(channel)
