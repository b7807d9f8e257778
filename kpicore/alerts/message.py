"""An alert as people read it: its text (fired or back to normal) and the message that carries it."""

from __future__ import annotations

from kpicore.message import Message, MessageKey

from .evaluate import AlertState, describe


def alert_text(state: AlertState, unit: str, config, *, cleared: bool = False, by: str | None = None) -> str:
    """``Alert: churn_spike (region = East), 2026-W47: churn_rate > 5 — 5.3% (was 2.1%)`` or its
    ``Back to normal: ...``, in kpi.toml's language; names, periods, rules and numbers are isolated
    left to right inside right-to-left text."""
    from kpicore import i18n
    from kpicore.presentation.bidi import ltr

    with i18n.using(config.locale, config.digits, config.calendar):
        fields = {
            "alert": ltr(state.alert),
            "period": ltr(state.period),
            "when": ltr(state.when),
            "numbers": describe(state, unit, config.locale, config.currency),
        }
        if state.segment is not None:
            fields["where"] = ltr(f"{by} = {state.segment}")
            pattern = (
                i18n._("Back to normal: %(alert)s (%(where)s), %(period)s: %(when)s — %(numbers)s")
                if cleared
                else i18n._("Alert: %(alert)s (%(where)s), %(period)s: %(when)s — %(numbers)s")
            )
        else:
            pattern = (
                i18n._("Back to normal: %(alert)s, %(period)s: %(when)s — %(numbers)s")
                if cleared
                else i18n._("Alert: %(alert)s, %(period)s: %(when)s — %(numbers)s")
            )
        return pattern % fields


def alert_title(name: str, config, *, cleared: bool = False) -> str:
    """``Alert churn_spike`` or ``Back to normal: churn_spike``, in kpi.toml's language."""
    from kpicore import i18n
    from kpicore.presentation.bidi import ltr

    with i18n.using(config.locale, config.digits, config.calendar):
        pattern = i18n._("Back to normal: %(alert)s") if cleared else i18n._("Alert %(alert)s")
        return pattern % {"alert": ltr(name)}


def alert_message(key: MessageKey, title: str, text: str) -> Message:
    """An alert or a clear as a message of one line of text."""
    return Message.plain(key, title, text)
