"""Deliveries whose outcome is ``unknown``, reported until a person acts.

A send that lapsed while handing its message over (between SMTP ``DATA`` and the record of the
server's answer) may or may not have arrived; kpicore never guesses. Each such row, when the
service finds it: one ``delivery_unknown`` log line (per process), one notice to ``[serve] notify``
(once, across processes: the notice is itself a ledger row), and a ``delivery_unknown`` problem on
``/healthz`` (no addresses: the endpoint is unauthenticated) until ``kpi digest resend`` or
``kpi digest mark-arrived`` settles it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from kpicore.events import event

if TYPE_CHECKING:
    from kpicore.delivery.ledger import LedgerRow


#: An email address, wherever it appears in a text shown without authentication.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def channel_of(destination: str) -> str:
    """``email`` for ``email:owner@example.com``: the kind of channel, never the address."""
    return destination.split(":", 1)[0] if ":" in destination else "?"


def without_addresses(text: str, destinations: Iterable[str]) -> str:
    """``text`` with each known destination (``slack:#kpis``, or its target alone, ``#kpis``) replaced by
    its kind of channel and any other email address by ``email``: what an unauthenticated reader may see."""
    for destination in sorted(destinations, key=len, reverse=True):
        kind, _, target = destination.partition(":")
        text = text.replace(destination, kind)
        if len(target) >= 2:
            text = re.sub(rf"(?<![\w#@.-]){re.escape(target)}(?![\w@-])", kind, text)
    return _EMAIL.sub("email", text)


def describe(row: LedgerRow) -> str:
    """``digest weekly 2026-W47 email``: the row's key with its channel, never its address."""
    segment = f" [{row.segment}]" if row.segment else ""
    return f"{row.kind} {row.name} {row.period}{segment} {channel_of(row.destination)}"


def settle_command(row: LedgerRow, action: str) -> str:
    """The command that settles ``row`` (``resend`` or ``mark-arrived``)."""
    segment = f" --segment '{row.segment}'" if row.segment else ""
    return (
        f"kpi digest {action} {row.name} --kind {row.kind} --period {row.period}{segment} "
        f"--destination '{row.destination}'"
    )


class ServiceParts(Protocol):
    """What the reporter reads of the service: its state database, settings, config and registry."""

    engine: Any
    settings: Any
    config: Any
    registry: Any


class UnknownReporter:
    """Finds ``unknown`` rows in the ledger on each tick and reports each once."""

    def __init__(self, service: ServiceParts) -> None:
        self.service = service
        self._reported: set[tuple[str, str, str, str, str]] = set()

    def problems(self) -> list[dict[str, Any]]:
        """The ``/healthz`` problems: one per unknown row (nothing when the ledger cannot be read)."""
        from kpicore.delivery.ledger import unknown_deliveries

        try:
            rows = unknown_deliveries(self.service.engine)
        except Exception:  # the state database's own problem is reported as state_db
            return []
        return [{"kind": "delivery_unknown", "message": describe(row)} for row in rows]

    def check(self) -> None:
        """Report the unknown rows not reported yet by this process."""
        from kpicore.delivery.ledger import unknown_deliveries

        for row in unknown_deliveries(self.service.engine):
            identity = (row.kind, row.name, row.period, row.segment, row.destination)
            if identity in self._reported:
                continue
            self._reported.add(identity)
            event(
                "delivery_unknown",
                logging.ERROR,
                kind=row.kind,
                **{row.kind if row.kind in ("digest", "alert", "personal") else "message": row.name},
                period=row.period,
                segment=row.segment or None,
                destination=row.destination,
                error="the sender stopped while handing it over; check whether it arrived, then: "
                + settle_command(row, "mark-arrived")
                + " (or resend)",
            )
            self._notify(row)

    def _notify(self, row: LedgerRow) -> None:
        from kpicore.delivery import Message, MessageKey, deliver
        from kpicore.delivery.destinations import channel_settings, channels

        service = self.service
        targets = [d for d in service.settings.notify if d != row.destination]
        if not targets:
            return
        key = MessageKey(
            "alert", f"delivery-unknown:{row.kind}:{row.name}:{row.destination}"[:200], row.period
        )
        text = (
            f"kpicore: the outcome of {describe(row)} to {row.destination} is unknown: the sender stopped "
            "while handing it over, so it may or may not have arrived. Check, then run "
            f"`{settle_command(row, 'mark-arrived')}` if it did, or `{settle_command(row, 'resend')}` if not."
        )
        notice = Message.plain(key, f"kpicore: {describe(row)} may not have arrived", text)
        for result in deliver(
            key,
            targets,
            notice,
            service.engine,
            channels(service.registry),
            channel_settings(service.config, service.registry),
        ):
            if result.status != "skipped":
                event(
                    "notified" if result.status == "sent" else "notify_" + result.status,
                    kind=row.kind,
                    message=row.name,
                    period=row.period,
                    destination=result.destination,
                    error=result.error,
                )
