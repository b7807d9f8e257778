"""Sample data for ``kpi demo --pack social``: two years of a small business on four platforms, ending yesterday."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path
from typing import Any

#: platform -> (posts a week, mean impressions, engagement share, starting followers, daily follower gain)
_PLATFORMS = {
    "facebook": (3, 1800, 0.045, 2400, 1.2),
    "instagram": (5, 2600, 0.062, 3100, 2.5),
    "linkedin": (2, 900, 0.038, 800, 0.8),
    "x": (7, 1200, 0.021, 1500, 0.4),
}
_DAYS = 730


def generate(path: Path, today: dt.date, *, seed: int = 17) -> dict[str, int]:
    """Add ``social_posts``, ``social_followers`` and ``mentions`` to the SQLite file at ``path``.

    LinkedIn and X posts have no reach (their exports have none); a few posts are deleted; follower
    counts skip some days (gaps); one recent post has engagements but no impressions (invalid).
    """
    rng = random.Random(seed)
    first_day = today - dt.timedelta(days=_DAYS)
    posts: list[list[Any]] = []
    followers: list[tuple[str, str, int]] = []
    mentions: list[tuple[str, str, str, float]] = []
    for platform, (per_week, impressions_mean, share, start_followers, gain) in _PLATFORMS.items():
        count = float(start_followers)
        for offset in range(_DAYS):
            day = first_day + dt.timedelta(days=offset)
            count += rng.gauss(gain, 2.0)
            if rng.random() > 0.08:  # about one day in twelve has no count
                followers.append((platform, day.isoformat(), int(count)))
            for _ in range(_poisson(rng, per_week / 7)):
                at = dt.datetime.combine(day, dt.time(rng.randrange(7, 21), rng.randrange(60)))
                impressions = max(0, int(rng.lognormvariate(0, 0.6) * impressions_mean))
                engagements = int(impressions * max(0.0, rng.gauss(share, share / 3)))
                reach = (
                    int(impressions * rng.uniform(0.6, 0.9))
                    if platform in ("facebook", "instagram")
                    else None
                )
                clicks = int(engagements * rng.uniform(0.2, 0.5))
                deleted = 1 if rng.random() < 0.01 else 0
                posts.append(
                    [
                        platform,
                        f"{platform}-{len(posts) + 1}",
                        at.isoformat(sep=" "),
                        impressions,
                        reach,
                        engagements,
                        clicks,
                        deleted,
                        rng.choice(("photo", "video", "link", "text")),
                    ]
                )
        for _ in range(int(_DAYS * per_week / 3)):
            at = dt.datetime.combine(
                first_day + dt.timedelta(days=rng.randrange(_DAYS)),
                dt.time(rng.randrange(24), rng.randrange(60)),
            )
            sentiment = max(-1.0, min(1.0, rng.gauss(0.2, 0.45)))
            mentions.append((f"m{len(mentions) + 1}", platform, at.isoformat(sep=" "), round(sentiment, 2)))
    recent = [p for p in posts if p[2] >= (today - dt.timedelta(days=7)).isoformat()]
    if recent:
        recent[0][3], recent[0][5] = 0, 12  # engagements with zero impressions: invalid, warned
    _write(path, posts, followers, mentions)
    return {"social_posts": len(posts), "social_followers": len(followers), "mentions": len(mentions)}


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _write(path: Path, posts, followers, mentions) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        for table in ("social_posts", "social_followers", "mentions"):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(
            "CREATE TABLE social_posts (platform TEXT NOT NULL, post_id TEXT NOT NULL, posted_at TEXT NOT NULL, "
            "impressions INTEGER, reach INTEGER, engagements INTEGER, clicks INTEGER, deleted INTEGER, "
            "post_type TEXT, PRIMARY KEY (platform, post_id))"
        )
        connection.execute(
            "CREATE TABLE social_followers (platform TEXT NOT NULL, day TEXT NOT NULL, followers INTEGER, "
            "PRIMARY KEY (platform, day))"
        )
        connection.execute(
            "CREATE TABLE mentions (mention_id TEXT PRIMARY KEY, platform TEXT NOT NULL, mentioned_at TEXT NOT NULL, "
            "sentiment REAL)"
        )
        connection.executemany("INSERT INTO social_posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", posts)
        connection.executemany("INSERT INTO social_followers VALUES (?, ?, ?)", followers)
        connection.executemany("INSERT INTO mentions VALUES (?, ?, ?, ?)", mentions)
        connection.execute("CREATE INDEX ix_social_posts_posted_at ON social_posts (posted_at)")
        connection.execute("CREATE INDEX ix_mentions_mentioned_at ON mentions (mentioned_at)")
        connection.execute("COMMIT")
    finally:
        connection.close()
