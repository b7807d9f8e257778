"""An alert as people read it: its text (fired or back to normal) and the message that carries it."""

from __future__ import annotations

from kpicore.message import Message, MessageKey

from .evaluate import AlertState, describe


def alert_text(state: AlertState, unit: str, config, *, cleared: bool = False, by: str | None = None) -> str:
    """``Alert churn_spike (region = East), 2026-W47: churn_rate > 5 — 5.3% (was 2.1%)`` or its
    ``Back to normal: ...``."""
    where = f" ({by} = {state.segment})" if state.segment is not None else ""
    head = "Back to normal" if cleared else "Alert"
    return (
        f"{head}: {state.alert}{where}, {state.period}: {state.when} — "
        f"{describe(state, unit, config.locale, config.currency)}"
    )


def alert_message(key: MessageKey, title: str, text: str) -> Message:
    """An alert or a clear as a message of one line of text."""
    return Message.plain(key, title, text)
