"""Sending alerts through the delivery core (the rules, their evaluation and their texts are ``kpicore.alerts``'s): kind ``alert`` when a rule fires, ``alert_clear`` when it
clears, each once per (rule, period, segment, destination).

The state is the delivery ledger itself, so it survives restarts and is shared by every process on
one state database: a rule that fires is sent unless the ledger already has it for the period and
segment; a rule that does not fire sends "back to normal" only when the ledger shows its alert was
sent for that period and segment. A rule that flaps inside a period therefore notifies at most once
each way per period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kpicore.alerts.message import alert_message, alert_text, alert_title
from kpicore.alerts.rules import AlertSpec
from kpicore.alerts.schedule import alert_period

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.alerts.evaluate import AlertState
    from kpicore.message import MessageKey


def run_alert(
    spec: AlertSpec,
    scheduled: dt.datetime,
    config,
    registry,
    engine: Engine,
    *,
    due: Callable[[MessageKey, list[str]], list[str]] | None = None,
    on_states: Callable[[list[AlertState]], None] | None = None,
) -> list:
    """Judge ``spec`` for the period of ``scheduled`` and send what is due; returns the outcomes.

    ``due(key, destinations)`` narrows each message's destinations to those due now (the service
    passes one that waits out the retry backoff and stops after ``[serve] retries``); ``on_states``
    sees the evaluation (the service keeps the last one for ``/healthz``).
    """
    from kpicore.alerts.evaluate import evaluate
    from kpicore.connectors import open_configured_source
    from kpicore.delivery import deliver
    from kpicore.delivery.destinations import channel_settings, channels
    from kpicore.delivery.ledger import SENT, list_deliveries
    from kpicore.message import MessageKey
    from kpicore.settings import claim_lease
    from kpicore.sync import sync_if_stale

    period = alert_period(spec, config, scheduled)
    sync_if_stale(config, registry, None, echo=lambda line: None)
    source = open_configured_source(config, registry, None)
    try:
        states = evaluate([spec], period, source, config, registry)
    finally:
        source.close()
    if on_states is not None:
        on_states(states)
    unit = registry.metrics[spec.rule.metric].item.unit
    sent = {
        row.segment
        for row in list_deliveries(engine, name=spec.name, period=period.label, kind="alert")
        if row.status == SENT
    }
    outcomes: list[tuple[Any, Any]] = []
    all_channels, settings = channels(registry), channel_settings(config, registry)
    lease = claim_lease(config)  # the same [serve] lease as digests and personal messages
    for state in states:
        segment = state.segment or ""
        if state.firing:
            key = MessageKey("alert", spec.name, state.period, segment)
            message = alert_message(
                key, alert_title(spec.name, config), alert_text(state, unit, config, by=spec.by)
            )
        elif segment in sent:
            key = MessageKey("alert_clear", spec.name, state.period, segment)
            message = alert_message(
                key,
                alert_title(spec.name, config, cleared=True),
                alert_text(state, unit, config, cleared=True, by=spec.by),
            )
        else:
            continue
        destinations = list(spec.destinations) if due is None else due(key, list(spec.destinations))
        if not destinations:
            continue
        outcomes.extend(
            (key, outcome)
            for outcome in deliver(
                key, destinations, message, engine, all_channels, settings, reraise=False, lease=lease
            )
        )
    return outcomes
