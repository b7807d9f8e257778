"""The moment a message leaves, for channels that cannot look a sent message up (email).

The delivery core records ``sending`` in the ledger just before that moment; a claim that lapses
before it was never handed over and is sent again by whoever takes over, one that lapses after it
is ``unknown``. A channel whose send has a clear hand-over point (SMTP ``DATA``: the connection,
login and recipients come first and may fail harmlessly) sets ``marks_handover = True`` and calls
:func:`handing_over` right before it; for other channels the core marks the whole send.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

_MARK: ContextVar[Callable[[], None] | None] = ContextVar("kpicore_handover", default=None)


class HandoverRefused(Exception):
    """The claim was lost before the hand-over (another sender holds it): nothing may be sent."""


def handing_over() -> None:
    """Say the message is about to leave (call right before SMTP ``DATA``); raises HandoverRefused when
    the sender no longer holds its claim. Outside a delivery it does nothing."""
    mark = _MARK.get()
    if mark is not None:
        mark()


class Marking:
    """Within it, :func:`handing_over` calls ``mark`` (once)."""

    def __init__(self, mark: Callable[[], None]) -> None:
        self.done = False

        def once() -> None:
            if not self.done:
                mark()
                self.done = True

        self._mark = once
        self._token = None

    def __call__(self) -> None:
        self._mark()

    def __enter__(self) -> Marking:
        self._token = _MARK.set(self._mark)
        return self

    def __exit__(self, *exc) -> None:
        _MARK.reset(self._token)
