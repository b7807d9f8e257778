"""Deliver a message to its destinations, once each: claim what is due, compute, send, record.

The order matters when several processes share the ledger: the destinations still due are
claimed **before** the message is computed, so only the process that won a claim queries the
source; a compute failure is recorded against the claimed destinations. While a send is in
flight a background thread renews the claims' lease, so a peer can tell a live sender from a
dead one within about a minute. Each claim carries a generation (its fence): before each part,
each upload and the final record the sender proves it still holds it, and stops when it does not.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Self

from kpicore.channels import parts
from kpicore.delivery import ledger
from kpicore.delivery.redact import redact
from kpicore.errors import ConfigError, KpiError

log = logging.getLogger("kpicore.delivery")

#: How long a send that went out keeps trying to record itself while the state database is locked or
#: unreachable. Giving up leaves the claim pending: Slack's is resolved later by looking the message
#: up, email's shows ``unknown``. Recording late is better than either.
RECORD_RETRY = dt.timedelta(seconds=60)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.channels.base import Channel
    from kpicore.message import Message, MessageKey


@dataclass
class DeliveryOutcome:
    """What happened to one destination in one ``deliver`` call."""

    destination: str
    status: Literal["sent", "failed", "skipped"]
    message_ids: list[str] = field(default_factory=list)
    error: str | None = None
    #: For ``skipped``: the ledger status that made us skip (sent, pending, unknown).
    previous_status: str | None = None
    #: The attempt number of this send (1 for the first), from the ledger.
    attempts: int = 0
    #: True when a dead sender's claim was taken over and resolved by looking the message up.
    resumed: bool = False

    @property
    def message(self) -> str:
        """One line for the CLI."""
        if self.status == "sent":
            return f"{self.destination}: sent" + (" (resumed an interrupted send)" if self.resumed else "")
        if self.status == "failed":
            return f"{self.destination}: failed: {self.error}"
        reasons = {
            ledger.SENT: "already sent for this period (use --force to resend)",
            ledger.PENDING: "being sent by another process",
            ledger.UNKNOWN: "outcome unknown (a previous send was interrupted; check the destination, "
            "then use --force to resend)",
        }
        return f"{self.destination}: skipped, {reasons.get(self.previous_status or '', self.previous_status)}"


class LeaseKeeper:
    """Renews the lease of a set of claims every ``lease / 3`` until stopped (a context manager)."""

    def __init__(
        self,
        engine: Engine,
        claims: list[tuple[MessageKey, str]],
        *,
        owner: str | None = None,
        lease: dt.timedelta = ledger.LEASE,
    ) -> None:
        self.engine, self.claims, self.owner, self.lease = engine, claims, owner, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kpicore-lease", daemon=True)

    def _run(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        failing = False
        while not self._stop.wait(interval):
            try:
                ledger.renew(self.engine, self.claims, owner=self.owner, lease=self.lease)
            except Exception as error:
                if not failing:  # one line per outage, not one per renewal
                    log.warning(
                        "lease renewal failed: %s",
                        redact(str(error).splitlines()[0] if str(error) else type(error).__name__),
                    )
                failing = True
            else:
                failing = False

    def __enter__(self) -> Self:
        if self.claims:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def _channel_for(destination: str, channels: dict[str, Channel], key: MessageKey):
    """(channel, target) or a failure text for a destination nobody can send to."""
    from kpicore.channels.base import parse_destination

    try:
        scheme, target = parse_destination(destination)
    except ConfigError as error:
        return None, None, str(error)
    channel = channels.get(scheme)
    if channel is None:
        known = ", ".join(sorted(channels)) or "none"
        return (
            None,
            None,
            f"{key.kind.capitalize()} {key.name!r}: no channel plugin handles {scheme!r} (known: {known})",
        )
    return channel, target, None


def deliver(
    key: MessageKey,
    destinations: Iterable[str],
    message: Message | Callable[[], Message],
    engine: Engine,
    channels: dict[str, Channel],
    settings: dict[str, dict[str, Any]] | None = None,
    *,
    force: bool = False,
    owner: str | None = None,
    lease: dt.timedelta = ledger.LEASE,
    reraise: bool = True,
) -> list[DeliveryOutcome]:
    """Send the message ``key`` to each destination at most once (exactly once on Slack), recording each.

    ``message`` is the Message or a callable that computes it: it is called only when at least
    one destination was claimed. If it raises, the error (secrets redacted) is recorded as
    ``failed`` against every claimed destination, then re-raised (with ``reraise=False``, only
    recorded and returned as failed outcomes). ``channels`` maps a scheme to
    its channel; ``settings`` maps a scheme to that channel's settings. A failing destination
    does not stop the others; destinations already sent (or in doubt) are skipped unless ``force``.
    """
    settings = settings or {}
    outcomes: dict[str, DeliveryOutcome] = {}
    claimed: list[tuple[str, Channel, str, ledger.Claim]] = []
    order = list(destinations)
    for destination in order:
        channel, target, problem = _channel_for(destination, channels, key)
        if problem is not None:
            outcomes[destination] = DeliveryOutcome(destination, "failed", error=problem)
            continue
        ticket = ledger.claim(
            engine,
            key,
            destination,
            force=force,
            take_over_dead=True,  # a lapsed claim: Slack looks up what went out, others never handed it over
            take_over_unknown=channel.can_look_up,
            owner=owner,
            lease=lease,
        )
        if not ticket.claimed:
            outcomes[destination] = DeliveryOutcome(
                destination, "skipped", previous_status=ticket.status, attempts=ticket.attempts
            )
            continue
        claimed.append((destination, channel, target, ticket))
    if not claimed:
        return [outcomes[d] for d in order]

    with LeaseKeeper(engine, [(key, d) for d, *_ in claimed], owner=owner, lease=lease):
        if callable(message):
            try:
                message = message()
            except Exception as error:
                text = redact(str(error) or type(error).__name__)
                for destination, _, _, ticket in claimed:
                    ledger.mark_failed(
                        engine, key, destination, f"compute failed: {text}", fence=ticket.fence
                    )
                    outcomes[destination] = DeliveryOutcome(
                        destination, "failed", error=f"compute failed: {text}", attempts=ticket.attempts
                    )
                if reraise:
                    raise
                return [outcomes[d] for d in order]
        for destination, channel, target, ticket in claimed:
            outcomes[destination] = _send_one(
                engine,
                key,
                message,
                destination,
                channel,
                target,
                ticket,
                dict(settings.get(channel.scheme) or {}),
                force=force,
                owner=owner,
            )
    return [outcomes[d] for d in order]


def _send_one(
    engine,
    key,
    message,
    destination,
    channel,
    target,
    ticket,
    channel_settings,
    *,
    force: bool = False,
    owner: str | None = None,
) -> DeliveryOutcome:
    from kpicore.channels.handover import ClaimLost, Fenced

    # A failed attempt may have delivered part of the message (its answer lost): a channel that
    # can look messages up resumes every retry, so nothing already there is sent twice.
    retry = ticket.attempts > 1 and not force
    lost = f"{key.describe()} to {destination}: the claim was taken over by another sender"

    def prove() -> None:
        if not _holds(engine, key, destination, ticket.fence):
            raise ClaimLost(lost)

    def mark() -> None:  # ``sending`` just before the message leaves (SMTP DATA, or the whole send)
        if not ledger.mark_sending(engine, key, destination, fence=ticket.fence):
            raise ClaimLost(lost)

    try:
        # Channels without a lookup read what earlier attempts delivered, part by part (channels.parts).
        with (
            Fenced(prove, None if channel.can_look_up else mark) as fenced,
            parts.recording(
                lambda entries: ledger.record_progress(
                    engine, key, destination, entries, sending=fenced.marked
                ),
                None if force else ticket.message_ids,
            ),
        ):
            if channel.can_look_up and (ticket.resumed or retry):
                delivery = channel.resume(
                    message, target, channel_settings, previous=ticket.message_ids or []
                )
            elif channel.can_look_up:
                delivery = channel.send(message, target, channel_settings)
            else:
                if not channel.marks_handover:
                    fenced.mark()
                delivery = channel.send(message, target, channel_settings)
    except ClaimLost as error:
        return _stopped(destination, ticket, str(error))
    except KpiError as error:
        text = redact(str(error))
    except Exception as error:
        text = redact(f"{type(error).__name__}: {error}")
    else:
        if not _record_sent(engine, key, destination, delivery.message_ids, fence=ticket.fence):
            return _stopped(destination, ticket, lost)
        return DeliveryOutcome(
            destination,
            "sent",
            message_ids=delivery.message_ids,
            attempts=ticket.attempts,
            resumed=ticket.resumed,
        )
    if not ledger.mark_failed(engine, key, destination, text, fence=ticket.fence):
        return _stopped(destination, ticket, lost)
    return DeliveryOutcome(destination, "failed", error=text, attempts=ticket.attempts)


def _stopped(destination: str, ticket, reason: str) -> DeliveryOutcome:
    """A sender that lost its claim stops at once: one line, nothing recorded (the holder's row stands)."""
    log.warning("stopped: %s; the holder finishes it", reason)
    return DeliveryOutcome(destination, "skipped", previous_status=ledger.PENDING, attempts=ticket.attempts)


def _through_outage(
    write: Callable[[], bool], doing: str, done: str, within: dt.timedelta = RECORD_RETRY
) -> bool:
    """``write()``, retried for up to ``within`` while the state database is locked or unreachable (a
    hiccup is neither a lost claim nor a lost record). One log line when it first fails ("could not
    ``doing``"), one when it goes through late (``done``); the last error is raised after ``within``."""
    from sqlalchemy.exc import SQLAlchemyError

    deadline = time.monotonic() + within.total_seconds()
    pause, failed_at = 0.25, None
    while True:
        try:
            result = write()
        except SQLAlchemyError as error:
            if failed_at is None:
                failed_at = time.monotonic()
                reason = redact(str(getattr(error, "orig", None) or error).splitlines()[0])
                log.warning(
                    "state database: could not %s (%s); retrying for up to %d s",
                    doing,
                    reason,
                    within.total_seconds(),
                )
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 4.0)
            continue
        if failed_at is not None:
            log.warning("state database: %s, %.1f s late", done, time.monotonic() - failed_at)
        return result


def _holds(engine: Engine, key: MessageKey, destination: str, fence: int) -> bool:
    """``ledger.holds`` through an outage of the state database."""
    return _through_outage(
        lambda: ledger.holds(engine, key, destination, fence),
        f"check the claim on {key.describe()} to {destination}",
        f"checked the claim on {key.describe()} to {destination}",
    )


def _record_sent(
    engine: Engine,
    key: MessageKey,
    destination: str,
    message_ids: list[str],
    within: dt.timedelta = RECORD_RETRY,
    *,
    fence: int | None = None,
) -> bool:
    """``ledger.mark_sent`` through an outage of the state database: the message is out, so its record
    must not be lost to a hiccup."""
    return _through_outage(
        lambda: ledger.mark_sent(engine, key, destination, message_ids, fence=fence),
        f"record that {key.describe()} went to {destination}",
        f"recorded that {key.describe()} went to {destination}",
        within,
    )
