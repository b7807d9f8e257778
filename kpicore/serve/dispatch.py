"""Dispatch: send one fire of a digest, an alert or the personal messages to the destinations the due rule
picks, log and count each outcome, and report a destination given up to ``[serve] notify``.

Several fires of one message never run at once in a process; ``drain`` waits for those in flight. Which
destinations are due is decided by :mod:`kpicore.delivery.due` from the ledger; the ledger's claims make
each (kind, name, period, segment, destination) go out once across processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from kpicore.delivery.due import HELD_ERROR, SENDING, SOURCE_DOWN, Retries, decide, due
from kpicore.errors import KpiError, SourceError
from kpicore.events import event

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.delivery.ledger import LedgerRow
    from kpicore.digest.render import DigestSpec


class DispatchSettings(Retries, Protocol):
    """What dispatch reads of ``[serve]`` (``kpicore.serve.service.ServeSettings``)."""

    notify: list[str]


#: A personal-message fire missed this recently (the service was down) is sent once on start.
FOLLOW_CATCH_UP = dt.timedelta(hours=24)


def _now() -> dt.datetime:
    from kpicore import clock

    return clock.now()


class Dispatcher:
    """Sends the fires of one kpi.toml's digests, alerts and personal messages, in this process."""

    def __init__(
        self,
        config,
        registry,
        engine: Engine,
        settings: DispatchSettings,
        specs: dict[str, DigestSpec],
        alerts: dict[str, tuple],
        follow: tuple | None,
    ) -> None:
        from kpicore.serve.metrics import ServiceMetrics

        self.config, self.registry, self.engine, self.settings = config, registry, engine, settings
        self.specs, self.alerts, self.follow = specs, alerts, follow
        self.metrics = ServiceMetrics()
        self.state_error: str | None = None
        #: alert name -> its last evaluation in this process (for /healthz; no numbers, no secrets).
        self.evaluations: dict[str, dict[str, Any]] = {}
        self._outage_logged = False  # the state database's current outage has had its log line
        self._in_flight = 0
        self._idle = threading.Condition()
        self._stopping = False
        self._busy: set[str] = set()  # messages being fired in this process (one at a time each)

    @contextlib.contextmanager
    def _running(self, busy: str) -> Iterator[bool]:
        """True when ``busy`` may fire now (not stopping, not already firing here); counted in flight."""
        with self._idle:
            free = not self._stopping and busy not in self._busy
            if free:
                self._busy.add(busy)
                self._in_flight += 1
        try:
            yield free
        finally:
            if free:
                with self._idle:
                    self._busy.discard(busy)
                    self._in_flight -= 1
                    self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """No new fires; wait up to ``timeout`` seconds for those in flight. True if none was cut off."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(timeout=max(deadline - time.monotonic(), 0.01))
            return self._in_flight == 0

    # -- the due rule over this ledger ---------------------------------------------------------------
    def _can_look_up(self, destination: str) -> bool:
        from kpicore.channels.base import parse_destination

        channel = self.registry.channels.get(parse_destination(destination)[0])
        return channel is not None and channel.item.can_look_up

    def _rows(self, kind: str, name: str, period: str, segment: str | None = None) -> dict[str, LedgerRow]:
        from kpicore.delivery.ledger import list_deliveries

        return {
            row.destination: row
            for row in list_deliveries(self.engine, name=name, period=period, kind=kind)
            if segment is None or row.segment == segment
        }

    def due_for(self, key, destinations: list[str], now: dt.datetime) -> list[str]:
        """The destinations of message ``key`` to send now (the new ones too)."""
        rows = self._rows(key.kind, key.name, key.period, key.segment)
        return due(rows, destinations, now, self.settings, can_look_up=self._can_look_up)

    def due_destinations(
        self, spec: DigestSpec, scheduled: dt.datetime, now: dt.datetime, *, include_new: bool = False
    ) -> list[str]:
        """The destinations of digest ``spec`` to send now for the period of its fire at ``scheduled``
        (with ``include_new``, also those never attempted)."""
        from kpicore.digest.run import resolve_period

        rows = self._rows("digest", spec.name, resolve_period(spec, now=scheduled).label)
        return due(
            rows,
            spec.destinations,
            now,
            self.settings,
            can_look_up=self._can_look_up,
            include_new=include_new,
        )

    def retry_due(
        self, kinds: tuple[str, ...], period: str, now: dt.datetime, name: str | None = None
    ) -> list:
        """Ledger rows of these kinds for ``period`` that are due again now (every segment)."""
        from kpicore.delivery.ledger import list_deliveries

        rows = [
            row for kind in kinds for row in list_deliveries(self.engine, name=name, period=period, kind=kind)
        ]
        return [
            row
            for row in rows
            if decide(row, now, self.settings, can_look_up=self._can_look_up(row.destination)) in SENDING
        ]

    def fire(
        self, name: str, scheduled: dt.datetime, reason: str = "fired", destinations: list[str] | None = None
    ) -> list:
        """Deliver digest ``name`` for the period of its ``scheduled`` fire time; returns the outcomes."""
        from kpicore.digest.run import resolve_period

        spec = self.specs[name]
        with self._running(name) as free:
            if not free:
                return []
            period = resolve_period(spec, now=scheduled).label
            self.metrics.fires.labels("digest", name).inc()
            event(reason, digest=name, period=period, scheduled=scheduled.isoformat())
            if destinations is None:
                try:
                    destinations = self.due_destinations(spec, scheduled, _now(), include_new=True)
                except Exception as error:
                    self.state_down(error, digest=name, period=period)
                    return []
            if not destinations:
                return []  # every destination sent, in flight, in doubt, or waiting for its backoff
            return self._deliver(spec, scheduled, period, destinations)

    def _deliver(self, spec: DigestSpec, scheduled: dt.datetime, period: str, destinations) -> list:
        from sqlalchemy.exc import SQLAlchemyError

        from kpicore.serve.send import send_digest

        started = time.monotonic()
        timing: dict[str, Any] = {}  # compute: seconds, source: its display name
        prepare = self._preparer(spec, scheduled, timing)
        try:
            run = send_digest(
                self.config,
                spec,
                now=scheduled,
                registry=self.registry,
                engine=self.engine,
                prepare=prepare,
                destinations=destinations,
                reraise=False,
            )
        except SQLAlchemyError as error:
            self.state_down(error, digest=spec.name, period=period, duration=time.monotonic() - started)
            return []
        except KpiError as error:
            event(
                "failed",
                logging.ERROR,
                digest=spec.name,
                period=period,
                error=str(error),
                duration=time.monotonic() - started,
            )
            return []
        self.state_up(spec.name)
        total = time.monotonic() - started
        if "compute" in timing:
            self.metrics.compute_seconds.observe(timing["compute"])
            event(
                "computed",
                digest=spec.name,
                period=period,
                duration=timing["compute"],
                source=timing.get("source"),
            )
            self.metrics.send_seconds.observe(max(total - timing["compute"], 0.0))
        for outcome in run.outcomes:
            self.metrics.deliveries.labels("digest", outcome.status).inc()
            if outcome.status == "sent":
                event(
                    "delivered",
                    digest=spec.name,
                    period=period,
                    destination=outcome.destination,
                    attempt=outcome.attempts,
                    resumed=outcome.resumed or None,
                    duration=total,
                )
            elif outcome.status == "failed":
                event("failed", logging.WARNING, **_outcome_fields(spec, period, outcome), duration=total)
                self._maybe_give_up(spec, period, outcome)
        return run.outcomes

    def _preparer(self, spec: DigestSpec, scheduled: dt.datetime, timing: dict[str, Any]):
        """prepare_digest that holds for a source that cannot be reached, until ``max_delay`` has passed."""
        from kpicore.digest.run import prepare_digest, prepare_unavailable

        def prepare(config, spec_, **options):
            started = time.monotonic()
            try:
                prepared = prepare_digest(config, spec_, **options)
            except SourceError as error:
                if _now() - scheduled < dt.timedelta(seconds=spec.max_delay):
                    raise SourceError(f"{SOURCE_DOWN}{error}") from None
                cause = f"the source could not be reached for {spec.max_delay / 60:g} min: {error}"
                prepared = prepare_unavailable(config, spec_, cause, **options)
            finally:
                timing["compute"] = time.monotonic() - started
            timing["source"] = prepared.source
            return prepared

        return prepare

    def _maybe_give_up(self, spec: DigestSpec, period: str, outcome) -> None:
        """After the last retry, report once: a log line and a message to ``[serve] notify``."""
        if outcome.attempts < self.settings.max_attempts or (outcome.error or "").startswith(HELD_ERROR):
            return
        text = (
            f"kpicore could not deliver digest {spec.name!r} for {period} to {outcome.destination} "
            f"after {outcome.attempts} attempts: {outcome.error}"
        )
        event("gave_up", logging.ERROR, **_outcome_fields(spec, period, outcome))
        if self.settings.notify:
            self._notify(spec, period, outcome, text)

    def _notify(self, spec: DigestSpec, period: str, outcome, text: str) -> None:
        from kpicore.delivery import Message, MessageKey, deliver
        from kpicore.delivery.destinations import channel_settings, channels

        key = MessageKey("alert", f"delivery-failed:{spec.name}:{outcome.destination}"[:200], period)
        notice = Message.plain(key, f"kpicore: delivery of {spec.name} failed", text)
        targets = [d for d in self.settings.notify if d != outcome.destination]
        for result in deliver(
            key,
            targets,
            notice,
            self.engine,
            channels(self.registry),
            channel_settings(self.config, self.registry),
        ):
            event(
                "notified" if result.status == "sent" else "notify_" + result.status,
                digest=spec.name,
                period=period,
                destination=result.destination,
                error=result.error,
            )

    def fire_alert(self, name: str, scheduled: dt.datetime | None = None, reason: str = "fired") -> list:
        """Judge alert ``name`` for the period of its most recent fire time and send what is due
        (kind ``alert`` or ``alert_clear``, once per rule, period, segment and destination; a failed
        send is retried on a later fire or tick once its backoff has passed, up to ``retries``)."""
        from kpicore.scheduler import most_recent_fire
        from kpicore.serve.alerts import run_alert

        spec, schedule = self.alerts[name]
        busy = f"alert:{name}"
        if scheduled is None:
            scheduled = most_recent_fire(schedule, _now(), dt.timedelta(days=1)) or _now()
        with self._running(busy) as free:
            if not free:
                return []
            self.metrics.fires.labels("alert", name).inc()
            if reason != "fired":
                event(reason, alert=name, scheduled=scheduled.isoformat())
            evaluation: dict[str, Any] = {
                "at": _now().isoformat(timespec="seconds"),
                "scheduled": scheduled.isoformat(),
                "failing": False,
            }

            def seen(states) -> None:
                evaluation["period"] = states[0].period if states else None
                evaluation["firing"] = sum(1 for state in states if state.firing)
                evaluation["unavailable"] = sum(1 for state in states if state.reason)

            try:
                outcomes = run_alert(
                    spec,
                    scheduled,
                    self.config,
                    self.registry,
                    self.engine,
                    due=lambda key, destinations: self.due_for(key, destinations, _now()),
                    on_states=seen,
                )
            except Exception as error:
                from kpicore.delivery.redact import redact

                text = str(error) if isinstance(error, KpiError) else redact(type(error).__name__)
                evaluation.update(failing=True, error=redact(text))
                self.evaluations[name] = evaluation
                event("failed", logging.ERROR, alert=name, error=text)
                return []
            self.evaluations[name] = evaluation
            for key, outcome in outcomes:
                self.metrics.deliveries.labels(key.kind, outcome.status).inc()
                if outcome.status == "skipped":
                    continue
                event(
                    "alerted"
                    if key.kind == "alert" and outcome.status == "sent"
                    else "cleared"
                    if outcome.status == "sent"
                    else "failed",
                    logging.INFO if outcome.status == "sent" else logging.WARNING,
                    alert=name,
                    **_message_fields(key, outcome),
                )
                self._gave_up(key, outcome, alert=name)
            return outcomes

    def fire_personal(
        self, scheduled: dt.datetime | None = None, reason: str = "fired", users: list[str] | None = None
    ) -> list:
        """Send each /kpi follower their personal message for the period of ``scheduled`` (default:
        the most recent fire), once per (user, period); failed sends are retried like alerts'."""
        from kpicore.chat.personal import send_personal
        from kpicore.delivery.store import claim_lease
        from kpicore.scheduler import most_recent_fire

        if self.follow is None:
            return []
        settings, schedule = self.follow
        if scheduled is None:
            scheduled = most_recent_fire(schedule, _now(), FOLLOW_CATCH_UP) or _now()
        with self._running("follow") as free:
            if not free:
                return []
            self.metrics.fires.labels("personal", "follow").inc()
            if reason != "fired":
                event(reason, personal="follow", scheduled=scheduled.isoformat())
            try:
                outcomes = send_personal(
                    self.config,
                    self.registry,
                    self.engine,
                    scheduled,
                    settings,
                    users=users,
                    due=lambda key, destinations: self.due_for(key, destinations, _now()),
                    lease=claim_lease(self.config),
                )
            except Exception as error:
                from kpicore.delivery.redact import redact

                text = str(error) if isinstance(error, KpiError) else redact(type(error).__name__)
                event("failed", logging.ERROR, personal="follow", error=text)
                return []
            for key, outcome in outcomes:
                self.metrics.deliveries.labels(key.kind, outcome.status).inc()
                if outcome.status == "skipped":
                    continue
                event(
                    "delivered" if outcome.status == "sent" else "failed",
                    logging.INFO if outcome.status == "sent" else logging.WARNING,
                    personal=key.name,
                    period=key.period,
                    destination=outcome.destination,
                    attempt=outcome.attempts,
                    error=outcome.error,
                )
                self._gave_up(key, outcome, personal=key.name)
            return outcomes

    def _gave_up(self, key, outcome, **fields) -> None:
        """A failed alert or personal message after its last retry: said once in the log."""
        if outcome.status == "failed" and outcome.attempts >= self.settings.max_attempts:
            event("gave_up", logging.ERROR, **_message_fields(key, outcome), **fields)

    def state_down(self, error: BaseException, **fields: Any) -> None:
        """The state database failed (locked, unreachable): one ``state_db_down`` line per outage, not one
        per fire and tick; /healthz says degraded until it answers again."""
        from kpicore.delivery.redact import redact

        cause = str(getattr(error, "orig", None) or error).strip().splitlines()
        self.state_error = redact(f"{type(error).__name__}: {cause[0] if cause else ''}")
        if not self._outage_logged:
            self._outage_logged = True
            event(
                "state_db_down",
                logging.ERROR,
                **fields,
                error=f"state database: {self.state_error}; "
                "nothing is lost, the tick retries until it answers",
            )

    def state_up(self, name: str) -> None:
        """The state database answered again: one ``state_db_back`` line after an outage."""
        if self._outage_logged:
            self._outage_logged = False
            event("state_db_back", digest=name)
        self.state_error = None


def _outcome_fields(spec: DigestSpec, period: str, outcome) -> dict[str, Any]:
    """The log fields of a digest delivery that failed: digest, period, destination, attempt and error."""
    return {
        "digest": spec.name,
        "period": period,
        "destination": outcome.destination,
        "attempt": outcome.attempts,
        "error": outcome.error,
    }


def _message_fields(key, outcome) -> dict[str, Any]:
    """The log fields of an alert or personal message's delivery: its key, destination, attempt and error."""
    return {
        "kind": key.kind,
        "period": key.period,
        "segment": key.segment or None,
        "destination": outcome.destination,
        "attempt": outcome.attempts,
        "error": outcome.error,
    }
