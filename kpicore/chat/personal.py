"""Personal messages: each follower's metrics (``/kpi follow``) in a weekly direct message.

One message per (user, period) through the delivery core (kind ``personal``, name the Slack user
id, destination ``slack:@USER``: the Slack channel opens the direct message with
conversations.open; a Telegram follower is keyed and sent to ``telegram:CHAT_ID``, its private chat), so it goes out once however many processes or restarts there are. The message
is a digest of the followed metrics, rendered by the digest renderer (same headline, values,
changes, sparklines, targets and segments), and ``[chat] allow`` is checked again at send time with
the channel each follow was typed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kpicore.i18n import N_

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kpicore.digest.render import DigestSpec
    from kpicore.follows import Follow

#: The title of every personal message (translated like a digest title).
PERSONAL_TITLE = N_("Your KPIs")
#: The ledger's message kind.
KIND = "personal"
#: How many insights a personal message shows.
TOP_INSIGHTS = 3


def destination(user_id: str) -> str:
    """Where a user's personal message goes: their direct message with the bot (a Slack user id), or,
    for a follower keyed by another chat channel (``telegram:CHAT_ID``), that key itself."""
    return user_id if ":" in user_id else f"slack:@{user_id}"


def personal_spec(user_id: str, follows: list[Follow], settings, config) -> DigestSpec:
    """A digest of the metrics ``user_id`` follows (each with its ``by`` dimension), for the follow period."""
    from kpicore.digest.render import DigestSpec

    return DigestSpec(
        name=user_id,
        title=PERSONAL_TITLE,
        metrics=[item.metric for item in follows],
        period=settings.follow_period,
        trend=settings.trend,
        breakdowns={item.metric: item.dimension for item in follows if item.dimension},
        destinations=[destination(user_id)],
        timezone=config.timezone,
        insights=TOP_INSIGHTS,
    )


def allowed_follows(follows: list[Follow], settings) -> list[Follow]:
    """The follows ``[chat] allow`` still permits, checked with the channel each was typed in."""
    from kpicore.chat.allow import Asker

    return [
        item
        for item in follows
        if settings.allowed(item.metric, Asker(item.user_id, item.channel_id, item.channel_name))
    ]


def send_personal(
    config,
    registry,
    engine: Engine,
    scheduled: dt.datetime,
    settings,
    *,
    users: list[str] | None = None,
    due: Callable[[Any, list[str]], list[str]] | None = None,
    lease: dt.timedelta | None = None,
) -> list[tuple[Any, Any]]:
    """Send each follower (or each of ``users``) their personal message for the period of ``scheduled``.

    Returns ``[(MessageKey, DeliveryOutcome), ...]``. A user already sent for the period is
    skipped by the ledger before anything is computed; the source is opened once, and only when
    some message is due. ``due(key, destinations)`` narrows the destinations to those due now
    (the service's retry backoff).
    """
    from kpicore.channels.base import Message
    from kpicore.connectors import open_configured_source
    from kpicore.delivery import MessageKey, deliver
    from kpicore.delivery.destinations import channel_settings, channels
    from kpicore.digest.run import resolve_period
    from kpicore.follows import by_user, following
    from kpicore.settings import claim_lease

    lease = lease or claim_lease(config)  # the same [serve] lease as digests and alerts
    followers = by_user(following(engine))
    outcomes: list[tuple[Any, Any]] = []
    opened: list[Any] = []

    def source():
        if not opened:
            opened.append(open_configured_source(config, registry))
        return opened[0]

    all_channels, all_settings = channels(registry), channel_settings(config, registry)
    try:
        for user_id, follows in followers.items():
            if users is not None and user_id not in users:
                continue
            # A metric whose plugin was removed since the follow is left out, not a failed message.
            follows = allowed_follows([f for f in follows if f.metric in registry.metrics], settings)
            if not follows:
                continue
            spec = personal_spec(user_id, follows, settings, config)
            period = resolve_period(spec, now=scheduled)
            key = MessageKey(KIND, user_id, period.label)

            def compute(spec=spec, period=period, key=key) -> Message:
                return personal_message(spec, period, key, source(), config, registry)

            targets = list(spec.destinations) if due is None else due(key, list(spec.destinations))
            if not targets:
                continue
            for outcome in deliver(
                key, targets, compute, engine, all_channels, all_settings, reraise=False, lease=lease
            ):
                outcomes.append((key, outcome))
    finally:
        for opened_source in opened:
            opened_source.close()
    return outcomes


def personal_message(spec: DigestSpec, period, key, the_source, config, registry):
    """Compute one personal message: its results (stored, as a digest's are) and the digest's top insights."""
    from kpicore.channels.base import Message
    from kpicore.digest.render import renderer
    from kpicore.digest.run import compute_digest, digest_insights, in_digest_order, render_options
    from kpicore.state import store_results

    groups = compute_digest(spec, period, the_source, config, registry)
    for dimension, results in groups:
        store_results(config, results, the_source.display, dimension)
    results = in_digest_order(spec, groups)
    # The same top insights as a digest of these metrics, rendered by the digest's own templates.
    insights = digest_insights(spec, period, the_source, config, registry)
    render = renderer(
        spec,
        results,
        period_label=period.label,
        charts=False,
        insights=insights,
        **render_options(config),
    )
    return Message(key=key, title=spec.title, renderings=render, destinations=list(spec.destinations))
