"""What a send in flight has delivered, part by part, for channels that cannot look a part up.

A channel without a lookup in its destination (Telegram, Teams, any webhook) follows the ``sending``
rule for each part of a message: it records ``sending`` for the part just before the request that
delivers it, and the part's id just after. A later attempt at the same (message, destination) then
skips the parts already delivered, sends the parts never started, and never resends a part whose
request went out without an answer: that part's outcome is ``unknown`` and is reported, not resent.

The record lives in the ledger row's ``message_ids`` (``part 2/4 sending``, ``part 2/4 <id>``), so it
survives the process. The delivery core opens a :class:`PartLog` around each ``Channel.send``;
a channel reads it with :func:`current_parts`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Callable, Iterator

from kpicore.channels.handover import prove_claim
from kpicore.errors import DeliveryError

log = logging.getLogger("kpicore.delivery")

SENDING = "sending"
_ENTRY = re.compile(r"^part (\d+)/(\d+) (.+)$")
_current: contextvars.ContextVar[PartLog | None] = contextvars.ContextVar("kpicore_parts", default=None)


class PartLog:
    """The parts of one message to one destination: which were delivered, which are in doubt.

    ``store`` keeps the record (the delivery core writes it to the ledger row); without one (a channel
    called outside the delivery core) it records in memory only.
    """

    def __init__(
        self, store: Callable[[list[str]], object] | None = None, previous: list[str] | None = None
    ) -> None:
        self.store = store
        #: part number -> its id, or SENDING while its request is out
        self.parts: dict[int, str] = {}
        for entry in previous or []:
            match = _ENTRY.match(entry)
            if match:
                self.parts[int(match.group(1))] = match.group(3)

    def state(self, number: int) -> str | None:
        """``"sent"``, ``"unknown"`` (a request went out and no answer was recorded) or None (never started)."""
        value = self.parts.get(number)
        if value is None:
            return None
        return "unknown" if value == SENDING else "sent"

    def part_id(self, number: int) -> str | None:
        """The id recorded for a delivered part."""
        value = self.parts.get(number)
        return None if value in (None, SENDING) else value

    def unknown(self) -> list[int]:
        """The parts whose outcome is unknown, in order."""
        return sorted(number for number, value in self.parts.items() if value == SENDING)

    def sending(self, number: int, total: int) -> None:
        """Record, before its request goes out, that part ``number`` is being sent."""
        prove_claim()  # fenced: a sender whose claim was taken over sends no more parts
        self.parts[number] = SENDING
        self._store(total)

    def sent(self, number: int, total: int, part_id: str) -> None:
        """Record that part ``number`` was delivered as ``part_id``."""
        self.parts[number] = part_id
        self._store(total)

    def not_sent(self, number: int, total: int) -> None:
        """Forget a ``sending`` record: the API refused the part, so it was not delivered."""
        self.parts.pop(number, None)
        self._store(total)

    def entries(self, total: int) -> list[str]:
        """The record as ledger ``message_ids``."""
        return [f"part {number}/{total} {value}" for number, value in sorted(self.parts.items())]

    def _store(self, total: int) -> None:
        if self.store is not None:
            self.store(self.entries(total))


def current_parts() -> PartLog:
    """The part log of the send in progress (an in-memory one outside the delivery core)."""
    log = _current.get()
    return log if log is not None else PartLog()


@contextlib.contextmanager
def recording(store: Callable[[list[str]], object], previous: list[str] | None) -> Iterator[PartLog]:
    """Make a part log current while a channel sends; ``store`` keeps its record, ``previous`` is what
    earlier attempts recorded (None or empty: start afresh)."""
    log = PartLog(store, previous)
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


class OutcomeUnknown(DeliveryError):
    """The request went out and no answer came back: the destination may or may not have the part."""


def send_parts(count: int, send_part: Callable[[int], str], describe: Callable[[int], str]) -> list[int]:
    """Send parts ``1..count`` that no earlier attempt started, in order, under the sending rule.

    ``send_part(number)`` delivers one part and returns its id; it raises :class:`OutcomeUnknown` when
    its request got no answer (the part stays ``sending`` and a DeliveryError saying so is raised) or a
    DeliveryError when it was refused (the record is dropped: the next attempt sends it). ``describe``
    names a part for messages. Returns the parts skipped because their outcome is unknown.
    """
    record = current_parts()
    unknown = []
    for number in range(1, count + 1):
        state = record.state(number)
        if state == "unknown":
            unknown.append(number)
        if state is not None:
            continue
        record.sending(number, count)
        try:
            part_id = send_part(number)
        except OutcomeUnknown as error:
            raise DeliveryError(
                f"{describe(number)}: {error}; it is not sent again automatically "
                "(look in the destination; `--force` sends everything again)"
            ) from None
        except BaseException:
            record.not_sent(number, count)
            raise
        record.sent(number, count, part_id)
    if unknown:
        log.warning("%s: outcome unknown, not resent", "; ".join(describe(number) for number in unknown))
    return unknown


def unknown_note(unknown: list[int]) -> str:
    """``; part(s) 2 unknown (…), not resent`` for a Delivery's detail; empty when none is."""
    if not unknown:
        return ""
    listed = ", ".join(str(number) for number in unknown)
    return f"; part(s) {listed} unknown (their request got no answer), not resent"
