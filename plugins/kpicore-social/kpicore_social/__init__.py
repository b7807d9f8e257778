"""kpicore-social: social media KPIs as a kpicore plugin (entry point ``social`` in group ``kpicore``).

Registers the entities ``social_posts``, ``social_followers`` and ``mentions`` (plus ``follower_changes``,
derived from ``social_followers``), the metrics engagement rate, follower growth, reach per post and
share of positive mentions, the ``kpi social import`` command that turns the CSV exports of Meta
Business Suite, LinkedIn and X into ``social_posts.csv``, and sample data for ``kpi demo --pack social``.
"""

from __future__ import annotations

from kpicore import Column, Entity, hookimpl

__version__ = "0.1.0"


def derive_follower_changes(source):
    """``follower_changes`` as SQL: per platform and day, the change since the platform's previous count.

    Valid rows of ``social_followers`` (a day that parses, followers present and not negative) are
    ordered per platform by day; each row's change is its count minus the previous row's count. The
    first row of a platform has no change (no baseline); after a gap the whole change lands on the day
    the counts resume. ``day`` keeps the raw value, so period bounds compare exactly as on the source.
    """
    import sqlalchemy as sa

    followers = source.relation("social_followers")
    t = source.row("social_followers")
    platform, count = followers.columns["platform"], followers.columns["followers"]
    previous = sa.func.lag(count).over(partition_by=platform, order_by=t.day.sortable())
    changes = (
        sa.select(platform.label("platform"), t.day.sql.label("day"), (count - previous).label("change"))
        .select_from(followers.from_)
        .where(t.day.valid(), count.is_not(None), count >= 0)
        .subquery("follower_changes")
    )
    columns = {name: changes.c[name] for name in ("platform", "day", "change")}
    return changes, columns, {"day": followers.storage["day"]}


SOCIAL_POSTS = Entity(
    "social_posts",
    (
        Column("platform", "text", "facebook, instagram, linkedin, x, ..."),
        Column("post_id", "text", "The platform's id of the post (unique per platform)."),
        Column("posted_at", "timestamp", "When the post was published."),
        Column("impressions", "number", "Times the post was shown (the platforms' lifetime figure)."),
        Column(
            "reach",
            "number",
            "Distinct accounts that saw it; empty where the platform does not say (LinkedIn).",
            required=False,
        ),
        Column("engagements", "number", "Reactions, comments, shares and clicks on the post."),
        Column("clicks", "number", "Clicks on the post (links, media, profile).", required=False),
        Column(
            "deleted", "boolean", "True for a post deleted since; left out of every metric.", required=False
        ),
    ),
    "One row per post; extra columns (post_type, campaign, ...) are dimensions.",
    customer_key=None,
    has_dimensions=True,
)
SOCIAL_FOLLOWERS = Entity(
    "social_followers",
    (
        Column("platform", "text"),
        Column("day", "date", "The day the count was taken."),
        Column("followers", "integer", "Followers at the end of that day."),
    ),
    "Follower counts per platform and day; days may be missing (gaps).",
    customer_key=None,
)
FOLLOWER_CHANGES = Entity(
    "follower_changes",
    (Column("platform", "text"), Column("day", "date"), Column("change", "number")),
    "Derived from social_followers: per platform and day, the change since the previous count.",
    customer_key=None,
    derive=derive_follower_changes,
)
MENTIONS = Entity(
    "mentions",
    (
        Column("mention_id", "text"),
        Column("platform", "text"),
        Column("mentioned_at", "timestamp"),
        Column("sentiment", "number", "Sentiment score from -1 (negative) to 1 (positive)."),
    ),
    "One row per mention of the business; extra columns are dimensions.",
    customer_key=None,
    has_dimensions=True,
)
ENTITIES = (SOCIAL_POSTS, SOCIAL_FOLLOWERS, FOLLOWER_CHANGES, MENTIONS)


@hookimpl
def register_entities(register):
    for entity in ENTITIES:
        register(entity)


@hookimpl
def register_metrics(register):
    from .metrics import METRICS

    for metric_class in METRICS:
        register(metric_class())


@hookimpl
def register_commands(cli):
    from .cli import social

    cli.add_command(social)


@hookimpl
def register_demo_data(register):
    from .demo import generate

    register("social", generate)


@hookimpl
def register_catalogs(register):
    # The titles, definitions and warnings of the pack's metrics in ml, bn, fa and ig (make i18n builds them).
    from pathlib import Path

    register("kpicore_social", Path(__file__).parent / "locale")
