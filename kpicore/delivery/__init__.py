"""One delivery core for every kind of message (digest, alert, personal digest).

A :class:`Message` has a key (kind, name, period, segment) and renderings; :func:`deliver`
claims each destination in the ledger, computes the message only when something is due, sends
it through the destination's channel and records the outcome. Nothing here knows what a digest is.
"""

from kpicore.delivery.redact import redact
from kpicore.delivery.send import DeliveryOutcome, deliver
from kpicore.message import KINDS, Message, MessageKey, Rendered, register_kind

__all__ = [
    "KINDS",
    "DeliveryOutcome",
    "Message",
    "MessageKey",
    "Rendered",
    "deliver",
    "redact",
    "register_kind",
]
