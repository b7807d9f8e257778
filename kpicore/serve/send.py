"""Send a digest: claim its due destinations in the ledger, then compute, store, render and deliver it.

What ``kpi digest send`` calls, and what ``kpi serve`` calls at each fire time and retry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpicore.digest.run import prepare_digest, resolve_period

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.delivery.send import DeliveryOutcome
    from kpicore.digest.render import DigestSpec
    from kpicore.digest.run import PreparedDigest
    from kpicore.periods import Period


@dataclass
class DigestRun:
    """What happened to each destination of a digest for one period.

    ``prepared`` is None when nothing was due (every destination already sent, or being sent by
    another process): the digest was not computed.
    """

    period: Period
    prepared: PreparedDigest | None = None
    outcomes: list[DeliveryOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[DeliveryOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


def send_digest(
    config,
    spec: DigestSpec,
    *,
    period: str | None = None,
    now: dt.datetime | None = None,
    force: bool = False,
    registry=None,
    source_url: str | None = None,
    engine: Engine | None = None,
    prepare=None,
    destinations: Sequence[str] | None = None,
    reraise: bool = True,
) -> DigestRun:
    """Deliver ``spec`` to each of its destinations once per period, computing it only when one is due.

    The destinations still due are claimed in the ledger first; only then is the digest
    computed, stored and rendered. A compute failure is recorded against the claimed
    destinations and raised. A failing destination is recorded and does not stop the others;
    destinations already delivered for the period are skipped unless ``force``. ``prepare``
    replaces :func:`prepare_digest` (the service passes one that holds for a source that is down);
    ``destinations`` limits the send to some of the digest's (the service's retries); with
    ``reraise=False`` a compute failure is only recorded and returned as failed outcomes.
    """
    from kpicore.delivery import MessageKey, deliver
    from kpicore.delivery.destinations import channel_settings, channels
    from kpicore.delivery.store import claim_lease, ledger_engine
    from kpicore.registry import get_registry

    registry = registry or get_registry()
    the_period = resolve_period(spec, period, now)
    run = DigestRun(the_period)

    def compute():
        run.prepared = (prepare or prepare_digest)(
            config, spec, period=period, now=now, registry=registry, source_url=source_url
        )
        return run.prepared.outgoing

    run.outcomes = deliver(
        MessageKey("digest", spec.name, the_period.label),
        spec.destinations if destinations is None else destinations,
        compute,
        engine if engine is not None else ledger_engine(config),
        channels(registry),
        channel_settings(config, registry),
        force=force,
        reraise=reraise,
        lease=claim_lease(config),
    )
    return run
