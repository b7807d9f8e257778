"""Incremental lifetime aggregates: ``clv``, ``repeat_purchase_rate`` and their trends answered from
per-customer and per-day aggregates kept in the state database, extended each run by the new rows only.

``answering(config, surface)`` is the one way in: within it, ``kpicore.compute.compute`` takes those
measures from the aggregates (``compute.ANSWERS``). ``[source] incremental`` decides where it is used:
``"off"`` (the default), ``"auto"`` (on for `kpi serve`, `kpi digest send` and `/kpi`, off for a one-off
`kpi compute`) or ``"on"``; `kpi compute --full` builds and uses them whatever the mode. How it works and what invalidates it: docs/performance.md, "Incremental lifetime aggregates".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ..config import INCREMENTAL_MODES as MODES

__all__ = ["AUTO_ON", "MODES", "answering", "check_recompute"]
from ..errors import ConfigError

log = logging.getLogger("kpicore.incremental")
#: The surfaces where ``"auto"`` means on.
AUTO_ON = ("serve", "digest", "chat")


#: How long `/kpi` trusts the last fingerprint check before checking again (a digest always checks).
CHAT_VERIFY_EVERY = 3600.0


def check_recompute(value, where: str) -> str:
    from .store import RECOMPUTE

    if value not in RECOMPUTE:
        known = ", ".join(f'"{k}"' for k in RECOMPUTE)
        raise ConfigError(f"{where}: {value!r} is not one of {known}")
    return value


@contextmanager
def answering(config, surface: str, *, full: bool = False) -> Iterator[object | None]:
    """Within it, compute answers the lifetime measures from the aggregates where ``[source]
    incremental`` says so for ``surface`` ("serve", "digest", "chat", "compute"); ``full`` recomputes
    them first (``kpi compute --full``). Yields the provider (None when off)."""
    from ..compute import ANSWERS
    from ..state import open_state, state_url
    from .answer import CHAT, Provider

    source = getattr(config, "source", None)
    mode = getattr(source, "incremental", "off")
    on = mode == "on" or full or (mode == "auto" and surface in AUTO_ON)
    if not on or source is None:
        yield None
        return
    provider = Provider(
        config,
        lambda: open_state(state_url(config)),
        late_data=source.late_data,
        recompute=config.serve.get("recompute", "weekly"),
        full=full,
        verify_every=CHAT_VERIFY_EVERY if surface == CHAT else 0.0,
    )
    token = ANSWERS.set(provider)
    try:
        yield provider
    finally:
        ANSWERS.reset(token)
