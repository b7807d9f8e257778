"""The scheduling service: one APScheduler trigger per digest, catch-up, retries with backoff, notices.

Each process keeps its own in-memory job store (APScheduler 3 job stores are never shared
between schedulers); several processes may share one state database, and the delivery ledger
makes each (digest, period, destination) go out once. Every decision here is made from the
ledger, so any process can retry or finish what another one started:

- a fire resolves its period from the **scheduled** fire time, not the moment the job ran;
- on start, the most recent fire within ``catch_up`` is sent if the ledger says it was not;
- a ``tick`` job (every ``[serve] tick``, default 15 s) retries failed destinations once their
  backoff has passed, resolves dead Slack claims, and holds digests whose source is down for
  up to ``max_delay``; a destination that failed ``retries`` times more is reported once to
  ``[serve] notify``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpicore.errors import ConfigError, KpiError, SourceError
from kpicore.serve.logs import event

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.digest.render import DigestSpec

DEFAULT_BACKOFF = ("1m", "5m", "15m", "60m")
DEFAULT_TICK = "15s"
#: The text that marks a compute failure because the source could not be reached (held, not counted).
SOURCE_DOWN = "source unavailable: "


@dataclass
class ServeSettings:
    """``[serve]`` of kpi.toml."""

    notify: list[str] = field(default_factory=list)
    backoff: list[int] = field(default_factory=lambda: [60, 300, 900, 3600])
    retries: int = 4
    tick: int = 15

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def wait_after(self, attempts: int) -> dt.timedelta:
        """How long after the ``attempts``-th failed attempt the next one is due."""
        return dt.timedelta(seconds=self.backoff[min(max(attempts, 1), len(self.backoff)) - 1])


def serve_settings(config) -> ServeSettings:
    """``[serve]`` validated; ConfigError names the key."""
    from kpicore.digest.config import config_file_name
    from kpicore.scheduler import parse_duration

    raw = config.serve
    where = f"{config_file_name(config)}: [serve]"
    backoff_raw = raw.get("backoff", list(DEFAULT_BACKOFF))
    if not isinstance(backoff_raw, list) or not backoff_raw:
        raise ConfigError(f'{where}.backoff: expected a list of durations, e.g. ["1m", "5m", "15m", "60m"]')
    backoff = [parse_duration(item, f"{where}.backoff") for item in backoff_raw]
    retries = raw.get("retries", len(backoff))
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"{where}.retries: expected a number of retries (0 or more), got {retries!r}")
    return ServeSettings(
        notify=list(raw.get("notify", [])),
        backoff=backoff,
        retries=retries,
        tick=parse_duration(raw.get("tick", DEFAULT_TICK), f"{where}.tick"),
    )


def _now() -> dt.datetime:
    from kpicore import clock

    return clock.now()


#: A personal-message fire missed this recently (the service was down) is sent once on start.
FOLLOW_CATCH_UP = dt.timedelta(hours=24)


class Service:
    """The digests of one kpi.toml on their schedules, in this process."""

    def __init__(
        self,
        config,
        registry,
        specs: dict[str, DigestSpec],
        engine: Engine,
        settings: ServeSettings | None = None,
        alerts: dict[str, tuple] | None = None,
        follow: tuple | None = None,
    ) -> None:
        from kpicore.serve.metrics import ServiceMetrics

        self.config, self.registry, self.engine = config, registry, engine
        self.specs = {name: spec for name, spec in specs.items() if spec.schedule is not None}
        self.settings = settings or ServeSettings()
        self.metrics = ServiceMetrics()
        self.scheduler = None
        self.state_error: str | None = None
        self._outage_logged = False  # the state database's current outage has had its log line
        self._in_flight = 0
        self._idle = threading.Condition()
        self._stopping = False
        self._busy: set[str] = set()  # digests being fired in this process (one at a time each)
        #: alert name -> (AlertSpec, schedule), for the alerts that have a schedule.
        self.alerts = {name: pair for name, pair in (alerts or {}).items() if pair[1] is not None}
        #: (ChatSettings, schedule) of the personal messages of /kpi followers, or None (no /kpi).
        self.follow = follow
        #: alert name -> its last evaluation in this process (for /healthz; no numbers, no secrets).
        self.evaluations: dict[str, dict[str, Any]] = {}
        from kpicore.serve.unknown import UnknownReporter

        #: Deliveries whose outcome is unknown: logged, notified and shown on /healthz until settled.
        self.unknowns = UnknownReporter(self)
        #: Callables returning problems ({"kind", "message"}) that leave the service serving but degraded.
        self.problem_sources: list[Any] = [self.unknowns.problems]

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduler: one job per digest, the tick, and the catch-up of missed fires."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        from kpicore import clock
        from kpicore.scheduler import build_trigger, most_recent_fire

        clock.install_in_apscheduler()  # a no-op unless the test clock is set
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=dt.UTC,
        )
        for name, spec in self.specs.items():
            scheduler.add_job(
                self._on_trigger, build_trigger(spec.schedule), args=[name], id=f"digest:{name}", name=name
            )
        for name, (_, schedule) in self.alerts.items():
            scheduler.add_job(
                self.fire_alert,
                build_trigger(schedule),
                args=[name],
                id=f"alert:{name}",
                name=f"alert {name}",
            )
        if self.follow is not None:
            scheduler.add_job(
                self.fire_personal, build_trigger(self.follow[1]), id="follow", name="personal messages"
            )
        # start_date from this service's clock (APScheduler would read the machine's, unlike the rest).
        ticks_from = _now() + dt.timedelta(seconds=self.settings.tick)
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.settings.tick, start_date=ticks_from, timezone=dt.UTC),
            id="tick",
            name="tick",
        )
        sync_every = self._sync_interval()
        if sync_every is not None:
            scheduler.add_job(
                self.sync,
                IntervalTrigger(seconds=sync_every, start_date=_now(), timezone=dt.UTC),
                id="sync",
                name="sync",
                next_run_time=_now(),
            )
        self.scheduler = scheduler
        scheduler.start()
        now = _now()
        for name, spec in self.specs.items():
            missed = most_recent_fire(spec.schedule, now, dt.timedelta(seconds=spec.catch_up))
            if missed is not None:
                scheduler.add_job(
                    self.fire,
                    args=[name, missed, "caught_up"],
                    id=f"catch-up:{name}",
                    name=f"catch-up {name}",
                )
        # Alerts and personal messages catch up the same way: the most recent fire within catch_up is
        # run once now (the ledger skips whatever was already sent for its period).
        for name, (spec, schedule) in self.alerts.items():
            missed = most_recent_fire(schedule, now, dt.timedelta(seconds=self._alert_catch_up(spec)))
            if missed is not None:
                scheduler.add_job(
                    self.fire_alert,
                    args=[name, missed, "caught_up"],
                    id=f"catch-up-alert:{name}",
                    name=f"catch-up alert {name}",
                )
        if self.follow is not None:
            missed = most_recent_fire(self.follow[1], now, FOLLOW_CATCH_UP)
            if missed is not None:
                scheduler.add_job(
                    self.fire_personal,
                    args=[missed, "caught_up"],
                    id="catch-up-follow",
                    name="catch-up personal messages",
                )

    def stop(self, timeout: float = 30.0) -> bool:
        """No new fires; wait up to ``timeout`` seconds for deliveries in flight. True if none was cut off."""
        self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(timeout=max(deadline - time.monotonic(), 0.01))
            clean = self._in_flight == 0
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=clean)
        return clean

    # -- fires -----------------------------------------------------------------------------------
    def _on_trigger(self, name: str) -> None:
        from kpicore.scheduler import most_recent_fire

        spec = self.specs[name]
        now = _now()
        scheduled = most_recent_fire(spec.schedule, now, dt.timedelta(seconds=spec.catch_up))
        if scheduled is None:
            event(
                "skipped", logging.WARNING, digest=name, reason="ran later than catch_up after its fire time"
            )
            return
        self.fire(name, scheduled, "fired")

    def _alert_catch_up(self, spec) -> int:
        from kpicore.alerts.send import alert_catch_up

        return alert_catch_up(spec)

    def fire_alert(self, name: str, scheduled: dt.datetime | None = None, reason: str = "fired") -> list:
        """Judge alert ``name`` for the period of its most recent fire time and send what is due
        (kind ``alert`` or ``alert_clear``, once per rule, period, segment and destination; a failed
        send is retried on a later fire or tick once its backoff has passed, up to ``retries``)."""
        from kpicore.alerts.send import run_alert
        from kpicore.scheduler import most_recent_fire

        spec, schedule = self.alerts[name]
        busy = f"alert:{name}"
        if scheduled is None:
            scheduled = most_recent_fire(schedule, _now(), dt.timedelta(days=1)) or _now()
        with self._idle:
            if self._stopping or busy in self._busy:
                return []
            self._busy.add(busy)
            self._in_flight += 1
        try:
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
                    kind=key.kind,
                    period=key.period,
                    segment=key.segment or None,
                    destination=outcome.destination,
                    attempt=outcome.attempts,
                    error=outcome.error,
                )
                self._gave_up(key, outcome, alert=name)
            return outcomes
        finally:
            with self._idle:
                self._busy.discard(busy)
                self._in_flight -= 1
                self._idle.notify_all()

    def fire_personal(
        self, scheduled: dt.datetime | None = None, reason: str = "fired", users: list[str] | None = None
    ) -> list:
        """Send each /kpi follower their personal message for the period of ``scheduled`` (default:
        the most recent fire), once per (user, period); failed sends are retried like alerts'."""
        from kpicore.chat.personal import send_personal
        from kpicore.digest.run import claim_lease
        from kpicore.scheduler import most_recent_fire

        if self.follow is None:
            return []
        settings, schedule = self.follow
        if scheduled is None:
            scheduled = most_recent_fire(schedule, _now(), FOLLOW_CATCH_UP) or _now()
        with self._idle:
            if self._stopping or "follow" in self._busy:
                return []
            self._busy.add("follow")
            self._in_flight += 1
        try:
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
        finally:
            with self._idle:
                self._busy.discard("follow")
                self._in_flight -= 1
                self._idle.notify_all()

    def _gave_up(self, key, outcome, **fields) -> None:
        """A failed alert or personal message after its last retry: said once in the log."""
        if outcome.status == "failed" and outcome.attempts >= self.settings.max_attempts:
            event(
                "gave_up",
                logging.ERROR,
                kind=key.kind,
                period=key.period,
                segment=key.segment or None,
                destination=outcome.destination,
                attempt=outcome.attempts,
                error=outcome.error,
                **fields,
            )

    def due_for(self, key, destinations: list[str], now: dt.datetime) -> list[str]:
        """The destinations of message ``key`` to send now: never attempted, or failed with its backoff
        passed and fewer than ``retries`` retries, or in doubt on a channel that can look it up."""
        from kpicore.channels.base import parse_destination
        from kpicore.delivery.ledger import FAILED, LAPSED, UNKNOWN, list_deliveries

        rows = {
            row.destination: row
            for row in list_deliveries(self.engine, name=key.name, period=key.period, kind=key.kind)
            if row.segment == key.segment
        }
        due = []
        for destination in destinations:
            row = rows.get(destination)
            if row is None:
                due.append(destination)
            elif row.status == FAILED:
                retry_at = row.updated_at + self.settings.wait_after(row.attempts)
                if row.attempts < self.settings.max_attempts and now >= retry_at:
                    due.append(destination)
            elif row.status == LAPSED:  # a claim that lapsed before the hand-over: anyone sends it
                due.append(destination)
            elif row.status == UNKNOWN:
                channel = self.registry.channels.get(parse_destination(destination)[0])
                if channel is not None and channel.item.can_look_up:
                    due.append(destination)
        return due

    def fire(
        self, name: str, scheduled: dt.datetime, reason: str = "fired", destinations: list[str] | None = None
    ) -> list:
        """Deliver digest ``name`` for the period of its ``scheduled`` fire time; returns the outcomes."""
        from kpicore.digest.run import resolve_period

        spec = self.specs[name]
        with self._idle:
            if self._stopping or name in self._busy:
                return []
            self._busy.add(name)
            self._in_flight += 1
        try:
            period = resolve_period(spec, now=scheduled).label
            self.metrics.fires.labels("digest", name).inc()
            event(reason, digest=name, period=period, scheduled=scheduled.isoformat())
            if destinations is None:
                try:
                    destinations = self.due_destinations(spec, scheduled, _now(), include_new=True)
                except Exception as error:
                    self._state_down(error, digest=name, period=period)
                    return []
            if not destinations:
                return []  # every destination sent, in flight, in doubt, or waiting for its backoff
            return self._deliver(spec, scheduled, period, destinations)
        finally:
            with self._idle:
                self._busy.discard(name)
                self._in_flight -= 1
                self._idle.notify_all()

    def _deliver(self, spec: DigestSpec, scheduled: dt.datetime, period: str, destinations) -> list:
        from sqlalchemy.exc import SQLAlchemyError

        from kpicore.digest.run import send_digest

        started = time.monotonic()
        timing: dict[str, float] = {}
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
            self._state_down(error, digest=spec.name, period=period, duration=time.monotonic() - started)
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
        self._state_up(spec.name)
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
                event(
                    "failed",
                    logging.WARNING,
                    digest=spec.name,
                    period=period,
                    destination=outcome.destination,
                    attempt=outcome.attempts,
                    error=outcome.error,
                    duration=total,
                )
                self._maybe_give_up(spec, period, outcome)
        return run.outcomes

    def _preparer(self, spec: DigestSpec, scheduled: dt.datetime, timing: dict[str, float]):
        """prepare_digest that holds for a source that cannot be reached, until ``max_delay`` has passed."""
        from kpicore.digest.run import prepare_digest, prepare_unavailable

        def prepare(config, spec_, **options):
            started = time.monotonic()
            try:
                prepared = prepare_digest(config, spec_, **options)
            except SourceError as error:
                if _now() - scheduled < dt.timedelta(seconds=spec.max_delay):
                    raise SourceError(f"{SOURCE_DOWN}{error}") from None
                cause = f"the source could not be reached for {spec.max_delay // 60} min: {error}"
                prepared = prepare_unavailable(config, spec_, cause, **options)
            finally:
                timing["compute"] = time.monotonic() - started
            timing["source"] = prepared.source
            return prepared

        return prepare

    def _maybe_give_up(self, spec: DigestSpec, period: str, outcome) -> None:
        """After the last retry, report once: a log line and a message to ``[serve] notify``."""
        if outcome.attempts < self.settings.max_attempts or (outcome.error or "").startswith(
            f"compute failed: {SOURCE_DOWN}"
        ):
            return
        text = (
            f"kpicore could not deliver digest {spec.name!r} for {period} to {outcome.destination} "
            f"after {outcome.attempts} attempts: {outcome.error}"
        )
        event(
            "gave_up",
            logging.ERROR,
            digest=spec.name,
            period=period,
            destination=outcome.destination,
            attempt=outcome.attempts,
            error=outcome.error,
        )
        if self.settings.notify:
            self._notify(spec, period, outcome, text)

    def _notify(self, spec: DigestSpec, period: str, outcome, text: str) -> None:
        from kpicore.delivery import Message, MessageKey, deliver
        from kpicore.digest.run import channel_settings, channels

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

    # -- the tick: retries, dead claims, held digests -----------------------------------------------
    def _sync_interval(self) -> float | None:
        """``[sync] max_age`` seconds when the source is a hosted one copied by a sync connector, else None."""
        from kpicore.connectors import configured_source_url
        from kpicore.sync import SyncSettings, sync_connector_for

        try:
            url = configured_source_url(self.config, None)
        except ConfigError:
            return None
        if sync_connector_for(url, self.registry) is None:
            return None
        return max(1.0, SyncSettings.from_source(self.config.source).max_age)

    def sync(self) -> None:
        """Bring the staging copy of a hosted source up to date (on its own schedule: ``/kpi`` never syncs,
        digests read the last complete sync). A failure is logged; the last complete sync stays readable."""
        from kpicore.sync import sync_if_stale

        started = time.monotonic()
        try:
            summary = sync_if_stale(self.config, self.registry)
        except KpiError as error:
            event("sync_failed", logging.WARNING, error=str(error), duration=time.monotonic() - started)
            return
        if summary is not None:
            event("synced", summary=summary.line(), duration=time.monotonic() - started)

    def tick(self) -> None:
        """Retry what is due for each digest's, alert's and personal message's most recent fire (any
        process may do it)."""
        from sqlalchemy.exc import SQLAlchemyError

        from kpicore.scheduler import most_recent_fire

        now = _now()
        for name, spec in self.specs.items():
            within = dt.timedelta(seconds=max(spec.catch_up, spec.max_delay))
            scheduled = most_recent_fire(spec.schedule, now, within)
            if scheduled is None:
                continue
            # A fire whose own look-up or claim failed (the state database was locked or down at that
            # moment) left no row: within catch_up the tick sends it, as the catch-up on start would.
            new_too = now - scheduled <= dt.timedelta(seconds=spec.catch_up)
            try:
                due = self.due_destinations(spec, scheduled, now, include_new=new_too)
            except SQLAlchemyError as error:
                self._state_down(error, digest=name)
                return
            self._state_up(name)
            if due:
                self.fire(name, scheduled, "retried", destinations=due)
        try:
            self._retry_alerts(now)
            self._retry_personal(now)
            self.unknowns.check()
        except SQLAlchemyError as error:
            self.state_error = f"{type(error).__name__}"
            event("failed", logging.ERROR, error="state database unreachable; retrying")

    def _failed_due(
        self, kinds: tuple[str, ...], period: str, now: dt.datetime, name: str | None = None
    ) -> list:
        """Failed ledger rows of these kinds for ``period`` whose backoff has passed (retries left)."""
        from kpicore.delivery.ledger import FAILED, list_deliveries

        rows = [
            row for kind in kinds for row in list_deliveries(self.engine, name=name, period=period, kind=kind)
        ]
        return [
            row
            for row in rows
            if row.status == FAILED
            and row.attempts < self.settings.max_attempts
            and now >= row.updated_at + self.settings.wait_after(row.attempts)
        ]

    def _retry_alerts(self, now: dt.datetime) -> None:
        """Judge again an alert whose last send failed, once its backoff has passed (the same rule,
        period and segment: the ledger claims only the failed destinations)."""
        from kpicore.alerts.send import alert_period
        from kpicore.scheduler import most_recent_fire

        for name, (spec, schedule) in self.alerts.items():
            scheduled = most_recent_fire(schedule, now, dt.timedelta(seconds=self._alert_catch_up(spec)))
            if scheduled is None:
                continue
            period = alert_period(spec, self.config, scheduled).label
            if self._failed_due(("alert", "alert_clear"), period, now, name):
                self.fire_alert(name, scheduled, "retried")

    def _retry_personal(self, now: dt.datetime) -> None:
        from kpicore.digest.run import resolve_period
        from kpicore.scheduler import most_recent_fire

        if self.follow is None:
            return
        settings, schedule = self.follow
        scheduled = most_recent_fire(schedule, now, FOLLOW_CATCH_UP)
        if scheduled is None:
            return
        from kpicore.digest.render import DigestSpec

        period = resolve_period(
            DigestSpec("personal", "", [], period=settings.follow_period, timezone=self.config.timezone),
            now=scheduled,
        ).label
        users = sorted({row.name for row in self._failed_due(("personal",), period, now)})
        if users:
            self.fire_personal(scheduled, "retried", users=users)

    def _state_down(self, error: BaseException, **fields: Any) -> None:
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

    def _state_up(self, name: str) -> None:
        """The state database answered again: one ``state_db_back`` line after an outage."""
        if self._outage_logged:
            self._outage_logged = False
            event("state_db_back", digest=name)
        self.state_error = None

    def due_destinations(
        self, spec: DigestSpec, scheduled: dt.datetime, now: dt.datetime, *, include_new: bool = False
    ) -> list[str]:
        """Destinations of ``spec`` whose ledger row for the fire's period is due again now
        (with ``include_new``, also those never attempted).

        Failed rows are due once the backoff after their attempt has passed, up to ``retries``
        (a source that was down does not count: it is held until ``max_delay``). Lapsed claims are
        due (nothing was handed over, or Slack finds what was); ``unknown`` ones wait for a person.
        """
        from kpicore.channels.base import parse_destination
        from kpicore.delivery.ledger import FAILED, LAPSED, UNKNOWN, list_deliveries
        from kpicore.digest.run import resolve_period

        period = resolve_period(spec, now=scheduled).label
        rows = {
            row.destination: row
            for row in list_deliveries(self.engine, name=spec.name, period=period, kind="digest")
        }
        due = []
        for destination in spec.destinations:
            row = rows.get(destination)
            if row is None:
                if include_new:  # else the fire itself (or its catch-up) sends it
                    due.append(destination)
                continue
            if row.status == FAILED:
                held = (row.last_error or "").startswith(f"compute failed: {SOURCE_DOWN}")
                if not held and row.attempts >= self.settings.max_attempts:
                    continue
                if now >= row.updated_at + self.settings.wait_after(row.attempts):
                    due.append(destination)
            elif row.status == LAPSED:  # a claim that lapsed before the hand-over: anyone sends it
                due.append(destination)
            elif row.status == UNKNOWN:
                channel = self.registry.channels.get(parse_destination(destination)[0])
                if channel is not None and channel.item.can_look_up:
                    due.append(destination)
        return due

    # -- health ------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What ``/healthz`` answers."""
        from sqlalchemy import text

        from kpicore.delivery.ledger import list_deliveries

        state = "ok"
        last: dict[str, Any] = {}
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            for name in self.specs:
                rows = list_deliveries(self.engine, name=name, kind="digest")
                if rows:
                    last[name] = {
                        "period": rows[0].period,
                        "destination": rows[0].destination,
                        "status": rows[0].status,
                        "at": rows[0].updated_at.isoformat(),
                    }
        except Exception:
            state = "error"
        if self.scheduler is None:
            scheduler = "stopped"
        else:
            scheduler = {0: "stopped", 1: "running", 2: "paused"}.get(self.scheduler.state, "unknown")
        digests = []
        for name in self.specs:
            job = self.scheduler.get_job(f"digest:{name}") if self.scheduler is not None else None
            next_fire = job.next_run_time.isoformat() if job is not None and job.next_run_time else None
            digests.append({"name": name, "next_fire": next_fire, "last_delivery": last.get(name)})
        alerts = []
        for name in self.alerts:
            job = self.scheduler.get_job(f"alert:{name}") if self.scheduler is not None else None
            next_fire = job.next_run_time.isoformat() if job is not None and job.next_run_time else None
            alerts.append(
                {"name": name, "next_fire": next_fire, "last_evaluation": self.evaluations.get(name)}
            )
        serving = state == "ok" and scheduler == "running" and self.state_error is None
        problems = [problem for source in self.problem_sources for problem in source()]
        answer = {
            "status": "ok" if serving and not problems else "degraded",
            "serving": serving,
            "problems": problems,
            "scheduler": scheduler,
            "state_db": state,
            "digests": digests,
            "alerts": alerts,
        }
        if self.follow is not None:
            job = self.scheduler.get_job("follow") if self.scheduler is not None else None
            answer["personal"] = {
                "next_fire": job.next_run_time.isoformat() if job is not None and job.next_run_time else None
            }
        return answer
