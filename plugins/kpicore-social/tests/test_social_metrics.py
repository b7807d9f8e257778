"""Hand-computed cases for the social metrics (period 2026-W47: Monday 16 to Sunday 22 November 2026, UTC)."""

import os
import subprocess
import sys

import kpicore_social
import pytest


def post(
    post_id, posted_at, impressions, engagements, reach=None, platform="facebook", deleted=None, clicks=None
):
    return {
        "platform": platform,
        "post_id": post_id,
        "posted_at": posted_at,
        "impressions": impressions,
        "reach": reach,
        "engagements": engagements,
        "clicks": clicks,
        "deleted": deleted,
    }


POSTS = [
    post("f1", "2026-11-16 09:30:00", 1000, 60, reach=800),
    post("f2", "2026-11-18 14:00:00", 0, 0, reach=0),  # zero impressions: counts, adds nothing
    post("f3", "2026-11-20 08:00:00", 1500, 100, reach=1200),
    post("f4", "2026-11-19 08:00:00", 0, 5, reach=10),  # engagements without impressions: invalid
    post("f5", "2026-11-21 08:00:00", 900, 90, reach=700, deleted=True),  # deleted: left out
    post("f6", "2026-11-23 08:00:00", 500, 15, reach=400),  # the week after
    post("l1", "2026-11-17 10:00:00", 2000, 87, platform="linkedin"),  # no reach
    post("l2", "2026-11-19 10:00:00", None, 3, platform="linkedin"),  # impressions missing: invalid
    post("x1", "2026-11-15 23:59:59", 4000, 100, reach=3000, platform="x"),  # the week before
]


def followers(platform, day, count):
    return {"platform": platform, "day": day, "followers": count}


FOLLOWERS = [
    followers("facebook", "2026-11-13", 100),  # first count: no baseline
    followers("facebook", "2026-11-15", 110),  # +10 in W46
    followers("facebook", "2026-11-19", 130),  # after a gap (16-18): +20 lands on the 19th
    followers("facebook", "2026-11-22", 125),  # -5
    followers("facebook", "2026-11-23", 140),  # the week after
    followers("linkedin", "2026-11-18", 50),  # first count: no baseline
    followers("linkedin", "2026-11-20", 55),  # +5
    followers("linkedin", "2026-11-21", None),  # missing: warned, the change is taken across it
    followers("linkedin", "2026-11-22", 60),  # +5
]


def mention(mention_id, mentioned_at, sentiment, platform="x"):
    return {
        "mention_id": mention_id,
        "platform": platform,
        "mentioned_at": mentioned_at,
        "sentiment": sentiment,
    }


MENTIONS = [
    mention("m1", "2026-11-16 10:00:00", 0.25),  # positive (the band's edge)
    mention("m2", "2026-11-16 11:00:00", 0.9),  # positive
    mention("m3", "2026-11-17 10:00:00", 0.2499),  # neutral
    mention("m4", "2026-11-18 10:00:00", -0.25),  # negative
    mention("m5", "2026-11-19 10:00:00", 0.0, platform="facebook"),  # neutral
    mention("m6", "2026-11-20 10:00:00", 1.5),  # out of range: invalid
    mention("m7", "2026-11-21 10:00:00", None),  # no sentiment: invalid
    mention("m8", "2026-11-23 10:00:00", 1.0),  # the week after
]


@pytest.fixture
def kpi(kpi):
    kpi.register(kpicore_social)
    return kpi


def warning_counts(result):
    return sorted(w.count for w in result.warnings)


def test_engagement_rate_over_posts_posted_in_the_period(kpi):
    result = kpi.compute("engagement_rate", "2026-W47", social_posts=POSTS)
    assert result.value == pytest.approx(100 * (60 + 0 + 100 + 87) / (1000 + 0 + 1500 + 2000))
    assert result.n == 4  # f1, f2, f3, l1
    assert warning_counts(result) == [2]  # f4, l2
    assert result.previous == pytest.approx(100 * 100 / 4000)


def test_engagement_rate_of_only_zero_impression_posts_is_null(kpi):
    result = kpi.compute("engagement_rate", "2026-W47", social_posts=[POSTS[1]])
    assert result.value is None
    assert result.n == 1


def test_engagement_rate_by_platform(kpi):
    result = kpi.compute("engagement_rate", "2026-W47", by="platform", social_posts=POSTS)
    segments = {s.segment: s.value for s in result.segments}
    assert segments["facebook"] == pytest.approx(100 * 160 / 2500)
    assert segments["linkedin"] == pytest.approx(100 * 87 / 2000)


def test_reach_per_post_leaves_out_posts_without_reach(kpi):
    result = kpi.compute("reach_per_post", "2026-W47", social_posts=POSTS)
    assert result.value == pytest.approx((800 + 0 + 1200 + 10) / 4)  # f1, f2, f3, f4 (f4's reach is valid)
    assert result.n == 4
    # l1, l2 have no reach because LinkedIn's export has none: said of the export, not counted as invalid.
    assert [(w.message, w.count) for w in result.warnings] == [
        ("LinkedIn and X exports carry no reach; reach counts Facebook and Instagram", 0)
    ]


def test_a_missing_reach_from_an_export_that_has_one_is_invalid(kpi):
    posts = [
        *POSTS,
        post("f7", "2026-11-20 09:00:00", 100, 5),
        post("i1", "2026-11-20 09:00:00", 9, 1, reach=-1),
    ]
    result = kpi.compute(
        "reach_per_post", "2026-W47", social_posts=[*posts, post("n1", "2026-11-20", 1, 0, platform=None)]
    )
    assert result.n == 4
    assert sorted((w.count, w.message) for w in result.warnings) == [
        (0, "LinkedIn and X exports carry no reach; reach counts Facebook and Instagram"),
        (
            3,
            "posts with no reach or a negative one",
        ),  # f7 (Facebook, no reach), i1 (negative), n1 (no platform)
    ]


def test_follower_growth_across_gaps(kpi):
    result = kpi.compute("follower_growth", "2026-W47", social_followers=FOLLOWERS)
    assert result.value == 25  # facebook 125 - 110, linkedin 60 - 50 (its first count has no baseline)
    assert result.n == 3  # the 19th, 20th and 22nd: days, not the 4 platform-days
    assert warning_counts(result) == [1]
    assert result.previous == 10


def test_follower_growth_by_platform(kpi):
    result = kpi.compute("follower_growth", "2026-W47", by="platform", social_followers=FOLLOWERS)
    assert {s.segment: s.value for s in result.segments} == {"facebook": 15, "linkedin": 10}


def test_follower_growth_without_counts_in_the_period_is_null(kpi):
    result = kpi.compute("follower_growth", "2026-W47", social_followers=FOLLOWERS[:2])
    assert result.value is None


def test_positive_mention_share_with_the_neutral_band(kpi):
    result = kpi.compute("positive_mention_share", "2026-W47", mentions=MENTIONS)
    assert result.value == pytest.approx(100 * 2 / 5)  # m1, m2 of m1..m5
    assert result.n == 5
    assert warning_counts(result) == [2]  # m6, m7


def test_positive_mention_share_by_platform(kpi):
    result = kpi.compute("positive_mention_share", "2026-W47", by="platform", mentions=MENTIONS)
    assert {s.segment: s.value for s in result.segments} == {"x": pytest.approx(50.0), "facebook": 0.0}


@pytest.mark.parametrize("backend", ["sqlite", "csv", "postgresql"])
def test_social_metrics_on_every_backend(kpi, backend):
    kpi.backend = backend
    results = kpi.compute(
        ["engagement_rate", "reach_per_post", "follower_growth", "positive_mention_share"],
        "2026-W47",
        social_posts=POSTS,
        social_followers=FOLLOWERS,
        mentions=MENTIONS,
    )
    assert results["engagement_rate"].value == pytest.approx(100 * 247 / 4500)
    assert results["reach_per_post"].value == pytest.approx(2010 / 4)
    assert results["follower_growth"].value == 25
    assert results["positive_mention_share"].value == pytest.approx(40.0)


def kpi_process(*args, cwd=None, timeout=120):
    """Run the installed `kpi` as a real process, with this pack allowed."""
    command = os.path.join(os.path.dirname(sys.executable), "kpi")
    env = {**os.environ, "KPI_LOAD_PLUGINS": "social"}
    return subprocess.run(
        [command, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_demo_pack_shows_the_social_metrics(tmp_path):
    """`kpi demo --pack social` as a real process, with the installed pack."""
    done = kpi_process("demo", "--pack", "social", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    for title in ("Engagement rate", "Reach per post", "Follower growth", "Positive mentions"):
        assert title in done.stdout
    computed = kpi_process(
        "compute",
        "engagement_rate",
        "follower_growth",
        "--period",
        "last-week",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert computed.returncode == 0, computed.stderr
    assert '"value": null' not in computed.stdout


@pytest.mark.parametrize(
    "locale, words",
    [
        ("en", "carry no reach"),
        ("fa_IR", "reach ندارند"),
        ("bn", "reach থাকে না"),
        ("ml", "reach ഇല്ല"),
        ("ig", "enweghị reach"),
    ],
)
def test_the_digest_says_the_exports_have_no_reach_not_invalid_records(kpi, locale, words):
    from kpicore import i18n
    from kpicore.digest.render import metric_view

    result = kpi.compute("reach_per_post", "2026-W47", social_posts=POSTS)
    with i18n.using(locale):
        view = metric_view(result, locale=locale)
    assert view.warnings == 0  # no "⚠ 2 invalid records left out"
    assert len(view.notes) == 1 and words in view.notes[0], view.notes
