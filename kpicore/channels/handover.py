"""What a channel calls while it sends, so the delivery core can fence the claim it sends under.

- :func:`prove_claim` before each message part and each upload, between an upload and its share,
  and after the last post: the core checks, with a conditional update, that the claim's generation
  is still the row's; a sender whose claim was taken over (it was paused past its lease: a VM
  freeze, a long GC pause, a partition) gets :class:`ClaimLost` and stops, leaving the rest to the
  holder (a channel may first withdraw what it posted late, as Slack's does).
- :func:`handing_over` right before the message leaves, for channels that cannot look a sent
  message up (SMTP ``DATA``): the core records ``sending``. A claim that lapses before it was never
  handed over and is sent by whoever takes over; one that lapses after it is ``unknown``. A channel
  with such a point sets ``marks_handover = True``; for the others the core marks the whole send.

Outside a delivery both do nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

_PROVE: ContextVar[Callable[[], None] | None] = ContextVar("kpicore_prove_claim", default=None)
_MARK: ContextVar[Callable[[], None] | None] = ContextVar("kpicore_handover", default=None)


class ClaimLost(Exception):
    """The claim was taken over by another sender: nothing more may be sent or recorded under it."""


def prove_claim() -> None:
    """Raise ClaimLost unless this send still holds its claim (call before each part, upload and share)."""
    prove = _PROVE.get()
    if prove is not None:
        prove()


def handing_over() -> None:
    """Say the message is about to leave (call right before SMTP ``DATA``); raises ClaimLost when the
    claim is no longer this sender's."""
    mark = _MARK.get()
    if mark is not None:
        mark()


class Fenced:
    """Within it, :func:`prove_claim` calls ``prove`` and :func:`handing_over` calls ``mark`` (once)."""

    def __init__(self, prove: Callable[[], None], mark: Callable[[], None] | None = None) -> None:
        self.marked = False
        self._prove, self._mark = prove, mark
        self._tokens: tuple = ()

    def mark(self) -> None:
        if self._mark is not None and not self.marked:
            self._mark()
            self.marked = True

    def __enter__(self) -> Fenced:
        self._tokens = (_PROVE.set(self._prove), _MARK.set(self.mark))
        return self

    def __exit__(self, *exc) -> None:
        prove, mark = self._tokens
        _PROVE.reset(prove)
        _MARK.reset(mark)
