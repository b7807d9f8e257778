"""The social media metrics, over ``social_posts``, ``follower_changes`` and ``mentions``.

Every metric breaks down by ``platform`` (a column of each entity): ``kpi compute engagement_rate --by platform``.
"""

from __future__ import annotations

import sqlalchemy as sa

from kpicore import Measure, Metric, percent, ratio

#: Sentiment at or above this is positive; at or below its negative, negative; in between, neutral.
POSITIVE_FROM = 0.25


def live(t):
    """Not deleted (an empty ``deleted`` cell, or no such column, means live)."""
    return sa.or_(t.deleted.is_(None), sa.not_(t.truthy(t.deleted)))


def valid_engagement(t):
    """Impressions and engagements present and not negative, and no engagements without impressions."""
    return (
        t.impressions.is_not(None)
        & (t.impressions >= 0)
        & t.engagements.is_not(None)
        & (t.engagements >= 0)
        & ((t.impressions > 0) | (t.engagements == 0))
    )


class EngagementRate(Metric):
    name = "engagement_rate"
    title = "Engagement rate"
    description = "100 x sum(engagements) / sum(impressions) of the posts posted in the period."
    unit = "percent"
    better = "higher"
    entity = "social_posts"
    time = "posted_at"
    n = "posts"
    rules = (
        "A post counts in the period it was posted in, with its lifetime numbers as last exported.",
        (
            "A post with zero impressions and zero engagements counts (it adds nothing); no posts with "
            "impressions in the period gives no value."
        ),
        (
            "Posts with impressions or engagements missing or negative, or engagements but zero impressions, are "
            "left out and warned."
        ),
        "Deleted posts (deleted = true) are left out.",
    )
    measures = {
        "engagements": Measure.sum("engagements", where=lambda t: live(t) & valid_engagement(t)),
        "impressions": Measure.sum("impressions", where=lambda t: live(t) & valid_engagement(t)),
        "posts": Measure.count(where=lambda t: live(t) & valid_engagement(t)),
        "invalid": Measure.count(
            where=lambda t: live(t) & ~valid_engagement(t),
            warn="posts with impressions or engagements missing or negative, or engagements but no impressions",
        ),
    }

    def value(self, m):
        return percent(m.engagements, m.impressions)


#: Platforms whose exports carry no reach per post (LinkedIn's page export, X's analytics).
NO_REACH_PLATFORMS = ("linkedin", "x")


def reach_reported(t):
    """A reach that is there and not negative."""
    return t.reach.is_not(None) & (t.reach >= 0)


def from_export_without_reach(t):
    """No reach, from a platform whose export has none (never NULL: a post of no platform is not one)."""
    return t.reach.is_(None) & sa.func.coalesce(t.platform, "").in_(NO_REACH_PLATFORMS)


class ReachPerPost(Metric):
    name = "reach_per_post"
    title = "Reach per post"
    description = "sum(reach) / count(posts) of the posts posted in the period that report a reach."
    unit = "ratio"
    better = "higher"
    entity = "social_posts"
    time = "posted_at"
    n = "posts"
    rules = (
        (
            "LinkedIn and X exports carry no reach: their posts are not counted, and the metric says so "
            "(a property of those exports, not invalid data)."
        ),
        "Other posts without a reach, or with a negative one, are left out and warned.",
        "Deleted posts (deleted = true) are left out.",
    )
    measures = {
        "reach": Measure.sum("reach", where=lambda t: live(t) & reach_reported(t)),
        "posts": Measure.count(where=lambda t: live(t) & reach_reported(t)),
        "without_reach": Measure.count(
            where=lambda t: live(t) & from_export_without_reach(t),
            note="LinkedIn and X exports carry no reach; reach counts Facebook and Instagram",
        ),
        "no_reach": Measure.count(
            where=lambda t: live(t) & ~reach_reported(t) & ~from_export_without_reach(t),
            warn="posts with no reach or a negative one",
        ),
    }

    def value(self, m):
        return ratio(m.reach, m.posts)


class FollowerGrowth(Metric):
    name = "follower_growth"
    title = "Follower growth"
    description = (
        "Net new followers: the sum, over the days of the period, of each platform's change in followers "
        "since its previous count."
    )
    unit = "count"
    better = "higher"
    entity = "follower_changes"
    time = "day"
    n = "days"
    rules = (
        "n counts the days with a change, whichever platforms counted on them (not platform-days).",
        (
            "Equals the last count in the period minus the last count before it, per platform, summed over "
            "platforms, when both exist."
        ),
        "After a gap in the counts the whole change lands on the day the counts resume.",
        "A platform's first count has no baseline and adds nothing.",
        "Counts that are missing or negative are left out (the change is taken across them) and warned.",
    )
    measures = {
        "growth": Measure.sum("change", where=lambda t: t.change.is_not(None)),
        "days": Measure.count_distinct("day", where=lambda t: t.change.is_not(None)),
        "invalid": Measure.count(
            where=lambda t: t.followers.is_(None) | (t.followers < 0),
            entity="social_followers",
            time="day",
            warn="follower counts missing or negative",
        ),
    }

    def value(self, m):
        return m.growth if m.days else None


def valid_sentiment(t):
    return t.sentiment.is_not(None) & (t.sentiment >= -1) & (t.sentiment <= 1)


class PositiveMentionShare(Metric):
    name = "positive_mention_share"
    title = "Positive mentions"
    description = (
        "100 x mentions with sentiment >= 0.25 / mentions with a sentiment from -1 to 1, in the period."
    )
    unit = "percent"
    better = "higher"
    entity = "mentions"
    time = "mentioned_at"
    n = "mentions"
    rules = (
        (
            "Positive: sentiment >= 0.25; negative: sentiment <= -0.25; neutral in between. Neutral mentions "
            "count in the denominator only."
        ),
        "Mentions with no sentiment or one outside -1..1 are left out and warned.",
    )
    measures = {
        "positive": Measure.count(where=lambda t: valid_sentiment(t) & (t.sentiment >= POSITIVE_FROM)),
        "mentions": Measure.count(where=valid_sentiment),
        "invalid": Measure.count(
            where=lambda t: ~valid_sentiment(t), warn="mentions with no sentiment or one outside -1..1"
        ),
    }

    def value(self, m):
        return percent(m.positive, m.mentions)


METRICS = (EngagementRate, ReachPerPost, FollowerGrowth, PositiveMentionShare)
