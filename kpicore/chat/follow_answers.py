"""``/kpi follow``, ``unfollow`` and ``following``: what a user follows for their personal message."""

from __future__ import annotations

from kpicore.chat.allow import Asker
from kpicore.chat.blocks import Reply, chunks, context_block, ephemeral, mrkdwn, plain, problem
from kpicore.chat.grammar import FollowingRequest, UnfollowRequest
from kpicore.chat.settings import DEFAULT_FOLLOW_SCHEDULE
from kpicore.presentation.blockkit import slack_escape
from kpicore.state import state_url


def follows_reply(answerer, request, asker: Asker) -> Reply:
    from kpicore.follows import MAX_FOLLOWS, follow, following, unfollow
    from kpicore.state import open_state

    engine = open_state(state_url(answerer.config))
    if isinstance(request, FollowingRequest):
        mine = following(engine, asker.user_id)
        if not mine:
            return Reply(
                ephemeral(
                    "You follow no metric yet.",
                    [
                        mrkdwn(
                            "You follow no metric yet. `/kpi follow nps` (or `/kpi follow churn by region`) adds one to "
                            f"your personal message, sent {follow_when(answerer)}."
                        )
                    ],
                ),
                how="following",
            )
        lines = [
            f"• `{item.metric}` — {slack_escape(_title(answerer, item.metric))}"
            + (f" by {slack_escape(item.dimension)}" if item.dimension else "")
            for item in mine
        ]
        blocks = [
            mrkdwn(f"*You follow {len(mine)} metric{'s' if len(mine) != 1 else ''}*"),
            *(mrkdwn(chunk) for chunk in chunks(lines)),
            context_block(
                f"Your personal message goes out {slack_escape(follow_when(answerer))}. "
                "`/kpi unfollow METRIC` stops one."
            ),
        ]
        return Reply(ephemeral(f"You follow {', '.join(i.metric for i in mine)}", blocks), how="following")
    title = slack_escape(_title(answerer, request.metric))
    if isinstance(request, UnfollowRequest):
        if unfollow(engine, asker.user_id, request.metric):
            text = f"You no longer follow *{title}*."
        else:
            text = f"You weren't following *{title}*; `/kpi following` lists what you follow."
        return Reply(ephemeral(plain(text), [mrkdwn(text)]), how="unfollow")
    if not answerer.settings.allowed(request.metric, asker):
        return answerer._refused([request.metric], asker)
    dimension = answerer._resolve_dimension(request.by, [request.metric]) if request.by else None
    mine = following(engine, asker.user_id)
    if request.metric not in {item.metric for item in mine} and len(mine) >= MAX_FOLLOWS:
        return problem(
            f"You already follow {MAX_FOLLOWS} metrics, the most one personal message holds.",
            "`/kpi following` lists them; `/kpi unfollow METRIC` makes room.",
        )
    follow(
        engine,
        asker.user_id,
        request.metric,
        dimension,
        channel_id=asker.channel_id,
        channel_name=asker.channel_name,
    )
    by = f" by {slack_escape(dimension)}" if dimension else ""
    text = (
        f"You now follow *{title}*{by}. It comes in your personal direct message, "
        f"sent {slack_escape(follow_when(answerer))}."
    )
    return Reply(
        ephemeral(
            plain(text),
            [
                mrkdwn(text),
                context_block("`/kpi following` lists what you follow; `/kpi unfollow METRIC` stops one."),
            ],
        ),
        how="follow",
    )


def _title(answerer, metric: str) -> str:
    return answerer.registry.metric(metric).title


def follow_when(answerer) -> str:
    """When personal messages go out, for people: ``Mondays at 08:00 (Europe/Berlin)``."""
    schedule = answerer.settings.schedule_for(answerer.config.timezone)
    text = str(schedule)
    if text == DEFAULT_FOLLOW_SCHEDULE:
        return f"on Mondays at 08:00 ({answerer.config.timezone})"
    return f"on the schedule {text}" + ("" if text.startswith("every") else f" ({answerer.config.timezone})")
