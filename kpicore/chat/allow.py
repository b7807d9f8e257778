"""The ``[chat] allow`` list: who asked, and whether they may ask for a metric."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Asker:
    """Who asked, and where."""

    user_id: str
    channel_id: str
    channel_name: str = ""
    #: Everyone in the conversation sees the answer (a Telegram group, a Teams channel), not only the asker.
    shared: bool = False
    #: The channel can post later, so ``/kpi follow`` is offered (a Teams outgoing webhook cannot).
    can_follow: bool = True


def allowed(allow: dict[str, tuple[str, ...]] | None, metric: str, asker: Asker) -> bool:
    """Whether ``asker`` (its user, its channel) may ask for ``metric`` under ``[chat] allow`` (None: anyone).

    Entries are keyed by channel id (``C0123ABC``), ``#name``, user id (``U0123ABC``) or ``*``.
    A channel without an entry of its own gets the ``*`` entry; a user's entry adds to the channel's.
    """
    if allow is None:
        return True
    channel = allow.get(asker.channel_id)
    if channel is None and asker.channel_name:
        channel = allow.get(f"#{asker.channel_name}", allow.get(asker.channel_name))
    if channel is None:
        channel = allow.get("*", ())
    granted = set(channel) | set(allow.get(asker.user_id, ()))
    return "*" in granted or metric in granted
