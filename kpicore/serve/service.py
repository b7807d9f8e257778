"""Scheduling in ``kpi serve``: one APScheduler job per digest, alert and the personal messages, the
catch-up of missed fires on start, and a ``tick`` that retries what is due; ``[serve]`` settings.

Each process keeps its own in-memory job store (APScheduler 3 job stores are never shared between
schedulers); several processes may share one state database, and the delivery ledger makes each message go
out once per destination. Every decision is made from the ledger, so any process can retry or finish what
another one started:

- a fire resolves its period from the **scheduled** fire time, not the moment the job ran;
- on start, the most recent fire within ``catch_up`` is sent if the ledger says it was not;
- the ``tick`` (every ``[serve] tick``, default 15 s) sends what the due rule (``kpicore.delivery.due``)
  says is due for each most recent fire: failed destinations once their backoff has passed, dead Slack
  claims, digests held while their source is down (up to ``max_delay``).

Sending a fire is :mod:`kpicore.serve.dispatch`'s job.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpicore.errors import ConfigError, KpiError
from kpicore.events import event
from kpicore.serve.dispatch import FOLLOW_CATCH_UP, Dispatcher
from kpicore.serve.unknown import channel_of, without_addresses

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.digest.render import DigestSpec

DEFAULT_BACKOFF = ("1m", "5m", "15m", "60m")


@dataclass
class ServeSettings:
    """``[serve]`` of kpi.toml."""

    notify: list[str] = field(default_factory=list)
    backoff: list[float] = field(default_factory=lambda: [60.0, 300.0, 900.0, 3600.0])
    retries: int = 4
    tick: float = 15.0

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def wait_after(self, attempts: int) -> dt.timedelta:
        """How long after the ``attempts``-th failed attempt the next one is due."""
        return dt.timedelta(seconds=self.backoff[min(max(attempts, 1), len(self.backoff)) - 1])


def serve_settings(config) -> ServeSettings:
    """``[serve]`` validated; ConfigError names the key."""
    from kpicore.config import config_file_name
    from kpicore.settings import claim_lease, parse_duration, serve_tick

    raw = config.serve
    claim_lease(config)  # checked with the rest of [serve]: at least 5 s and twice the tick
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
        tick=serve_tick(config),
    )


def _now() -> dt.datetime:
    from kpicore import clock

    return clock.now()


class Service:
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
        self.config, self.registry, self.engine = config, registry, engine
        self.settings = settings or ServeSettings()
        self.scheduler = None
        self.dispatch = Dispatcher(
            config,
            registry,
            engine,
            self.settings,
            specs={name: spec for name, spec in specs.items() if spec.schedule is not None},
            #: alert name -> (AlertSpec, schedule), for the alerts that have a schedule.
            alerts={name: pair for name, pair in (alerts or {}).items() if pair[1] is not None},
            #: (ChatSettings, schedule) of the personal messages of /kpi followers, or None (no /kpi).
            follow=follow,
        )
        self.specs, self.alerts, self.follow = self.dispatch.specs, self.dispatch.alerts, follow
        self.metrics = self.dispatch.metrics
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

        from kpicore.scheduler import build_trigger

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
                self.dispatch.fire_alert,
                build_trigger(schedule),
                args=[name],
                id=f"alert:{name}",
                name=f"alert {name}",
            )
        if self.follow is not None:
            scheduler.add_job(
                self.dispatch.fire_personal,
                build_trigger(self.follow[1]),
                id="follow",
                name="personal messages",
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
        self._catch_up(scheduler, _now())

    def _catch_up(self, scheduler, now: dt.datetime) -> None:
        """Run once now the most recent fire within ``catch_up`` of each digest, alert and the personal
        messages (the ledger skips whatever was already sent for its period)."""
        from kpicore.scheduler import most_recent_fire

        def catch_up(fire, args: list, schedule, window: dt.timedelta, job_id: str, job_name: str) -> None:
            missed = most_recent_fire(schedule, now, window)
            if missed is not None:
                scheduler.add_job(fire, args=[*args, missed, "caught_up"], id=job_id, name=job_name)

        for name, spec in self.specs.items():
            window = dt.timedelta(seconds=spec.catch_up)
            catch_up(
                self.dispatch.fire, [name], spec.schedule, window, f"catch-up:{name}", f"catch-up {name}"
            )
        for name, (spec, schedule) in self.alerts.items():
            window = dt.timedelta(seconds=self._alert_catch_up(spec))
            catch_up(
                self.dispatch.fire_alert,
                [name],
                schedule,
                window,
                f"catch-up-alert:{name}",
                f"catch-up alert {name}",
            )
        if self.follow is not None:
            catch_up(
                self.dispatch.fire_personal,
                [],
                self.follow[1],
                FOLLOW_CATCH_UP,
                "catch-up-follow",
                "catch-up personal messages",
            )

    def stop(self, timeout: float = 30.0) -> bool:
        """No new fires; wait up to ``timeout`` seconds for deliveries in flight. True if none was cut off."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        clean = self.dispatch.drain(timeout)
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
        self.dispatch.fire(name, scheduled, "fired")

    def _alert_catch_up(self, spec) -> float:
        from kpicore.alerts.schedule import alert_catch_up

        return alert_catch_up(spec)

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
        process may do it); ``kpicore_ticks_total`` counts the ticks that ran to their end."""
        try:
            self._retry_due()
        finally:
            self.metrics.ticks.inc()

    def _retry_due(self) -> None:
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
                due = self.dispatch.due_destinations(spec, scheduled, now, include_new=new_too)
            except SQLAlchemyError as error:
                self.dispatch.state_down(error, digest=name)
                return
            self.dispatch.state_up(name)
            if due:
                self.dispatch.fire(name, scheduled, "retried", destinations=due)
        try:
            self._retry_alerts(now)
            self._retry_personal(now)
            self.unknowns.check()
        except SQLAlchemyError as error:
            self.dispatch.state_error = f"{type(error).__name__}"
            event("failed", logging.ERROR, error="state database unreachable; retrying")

    def _retry_alerts(self, now: dt.datetime) -> None:
        """Judge again an alert whose last send failed, once its backoff has passed (the same rule,
        period and segment: the ledger claims only the failed destinations)."""
        from kpicore.alerts.schedule import alert_period
        from kpicore.scheduler import most_recent_fire

        for name, (spec, schedule) in self.alerts.items():
            scheduled = most_recent_fire(schedule, now, dt.timedelta(seconds=self._alert_catch_up(spec)))
            if scheduled is None:
                continue
            period = alert_period(spec, self.config, scheduled).label
            if self.dispatch.retry_due(("alert", "alert_clear"), period, now, name):
                self.dispatch.fire_alert(name, scheduled, "retried")

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
        users = sorted({row.name for row in self.dispatch.retry_due(("personal",), period, now)})
        if users:
            self.dispatch.fire_personal(scheduled, "retried", users=users)

    # -- health ------------------------------------------------------------------------------------
    def _addresses(self) -> list[str]:
        """Every destination the service knows of (digests, alerts, notify)."""
        known = {d for spec in self.specs.values() for d in spec.destinations}
        known.update(d for spec, _ in self.alerts.values() for d in spec.destinations)
        known.update(self.settings.notify)
        return sorted(known)

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` answers. The endpoint is unauthenticated, so it names channels by their kind
        (``email``, ``slack``), never an address, a channel name or a path."""
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
                        "channel": channel_of(rows[0].destination),
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
            evaluation = self.dispatch.evaluations.get(name)
            if evaluation is not None and "error" in evaluation:
                evaluation = {
                    **evaluation,
                    "error": without_addresses(evaluation["error"], self._addresses()),
                }
            alerts.append({"name": name, "next_fire": next_fire, "last_evaluation": evaluation})
        serving = state == "ok" and scheduler == "running" and self.dispatch.state_error is None
        problems = [
            {**problem, "message": without_addresses(problem["message"], self._addresses())}
            for source in self.problem_sources
            for problem in source()
        ]
        answer: dict[str, Any] = {
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
