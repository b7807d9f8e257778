"""The export readers against sample exports of each platform (tests/exports/), hand-checked row by row."""

import os
import subprocess
import sys
from pathlib import Path

import kpicore_social
import pytest
from kpicore_social.exports import merge_posts, read_export

from kpicore import SourceError

EXPORTS = Path(__file__).parent / "exports"


def kpi_process(*args, cwd=None, timeout=120):
    """Run the installed `kpi` as a real process, with this pack allowed."""
    command = os.path.join(os.path.dirname(sys.executable), "kpi")
    env = {**os.environ, "KPI_LOAD_PLUGINS": "social"}
    return subprocess.run(
        [command, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def by_id(rows):
    return {row["post_id"]: row for row in rows}


def test_meta_business_suite_export():
    name, rows = read_export(EXPORTS / "meta_business_suite_posts.csv")
    assert name == "Meta Business Suite"
    posts = by_id(rows)
    first = posts["104200000000001_900000000000001"]
    assert first["platform"] == "facebook"
    assert first["posted_at"] == "2026-11-16 09:30:00"
    assert (first["impressions"], first["reach"], first["clicks"]) == (1000, 800, 12)
    assert first["engagements"] == 40 + 5 + 3 + 12  # reactions, comments, shares, total clicks
    zero = posts["104200000000001_900000000000002"]
    assert (zero["impressions"], zero["engagements"]) == (0, 0)
    video = posts["104200000000001_900000000000004"]
    assert (video["impressions"], video["reach"], video["engagements"]) == (
        1500,
        1200,
        100,
    )  # "1,500" read as 1500


def test_linkedin_export():
    name, rows = read_export(EXPORTS / "linkedin_content_posts.csv")
    assert name == "LinkedIn"
    posts = by_id(rows)
    hiring = posts["urn:li:activity:7260000000000000001"]
    assert hiring["posted_at"] == "2026-11-17 00:00:00"
    assert hiring["reach"] is None
    assert hiring["engagements"] == 50 + 30 + 4 + 2 + 1  # clicks, likes, comments, shares, follows
    assert posts["urn:li:activity:7260000000000000002"]["engagements"] == 20


def test_x_export_converts_offsets_to_utc():
    name, rows = read_export(EXPORTS / "x_tweet_activity.csv")
    assert name == "X (tweet activity)"
    posts = by_id(rows)
    assert posts["1860000000000000001"]["posted_at"] == "2026-11-16 18:36:00+00:00"
    assert posts["1860000000000000002"]["posted_at"] == "2026-11-22 01:30:00+00:00"  # -0200: still W47 in UTC
    assert posts["1860000000000000003"]["posted_at"] == "2026-11-23 01:30:00+00:00"  # the week after
    assert (posts["1860000000000000001"]["impressions"], posts["1860000000000000001"]["engagements"]) == (
        3000,
        90,
    )


def test_an_export_of_something_else_is_one_clear_error(tmp_path):
    other = tmp_path / "orders.csv"
    other.write_text("order_id,amount\n1,10\n", encoding="utf-8")
    with pytest.raises(
        SourceError, match=r"orders.csv: not a Meta Business Suite, LinkedIn or X post export.*order_id"
    ):
        read_export(other)


def test_a_changed_column_type_names_file_line_and_column(tmp_path):
    broken = tmp_path / "x.csv"
    lines = (EXPORTS / "x_tweet_activity.csv").read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join([lines[0], lines[1].replace('"3000.0"', '"many"')]) + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"x.csv, line 2, impressions: 'many' is not a number"):
        read_export(broken)


def test_a_newer_export_replaces_numbers_and_marks_deleted_posts():
    old = [
        {
            "platform": "x",
            "post_id": "1",
            "posted_at": "2026-11-16 10:00:00",
            "impressions": 10.0,
            "deleted": None,
        },
        {
            "platform": "x",
            "post_id": "2",
            "posted_at": "2026-11-17 10:00:00",
            "impressions": 20.0,
            "deleted": None,
        },
        {
            "platform": "facebook",
            "post_id": "9",
            "posted_at": "2026-11-17 10:00:00",
            "impressions": 5.0,
            "deleted": None,
        },
    ]
    new = [
        {
            "platform": "x",
            "post_id": "1",
            "posted_at": "2026-11-16 10:00:00",
            "impressions": 15.0,
            "deleted": None,
        },
        {
            "platform": "x",
            "post_id": "3",
            "posted_at": "2026-11-18 10:00:00",
            "impressions": 1.0,
            "deleted": None,
        },
    ]
    merged = {(p["platform"], p["post_id"]): p for p in merge_posts(old, new, mark_deleted=True)}
    assert merged[("x", "1")]["impressions"] == 15.0
    assert merged[("x", "2")]["deleted"] == "true"  # inside the new export's dates, no longer listed
    assert merged[("facebook", "9")]["deleted"] is None  # another platform: untouched


def test_kpi_social_import_then_compute(kpi, tmp_path):
    """`kpi social import` as a real process, then the engagement rate over the folder it wrote."""
    folder = tmp_path / "social"
    exports = [
        str(EXPORTS / name)
        for name in ("meta_business_suite_posts.csv", "linkedin_content_posts.csv", "x_tweet_activity.csv")
    ]
    done = kpi_process("social", "import", *exports, "--to", str(folder))
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout and "9 posts" in done.stdout
    kpi.register(kpicore_social)
    from kpicore.compute import compute, select_metrics
    from kpicore.config import Config, SourceConfig
    from kpicore.connectors import open_source
    from kpicore.periods import parse_period

    registry = kpi.registry()
    source = open_source(str(folder), SourceConfig(base_dir=tmp_path), registry)
    try:
        results = {
            r.metric: r
            for r in compute(
                select_metrics(["engagement_rate", "reach_per_post"], registry),
                parse_period("2026-W47", "UTC"),
                source,
                config=Config(),
            )
        }
    finally:
        source.close()
    # W47 (UTC): Meta posts 1, 2, 4; LinkedIn both; X posts 1 and 2
    assert results["engagement_rate"].value == pytest.approx(100 * (160 + 107 + 100) / (2500 + 3000 + 4000))
    assert results["reach_per_post"].value == pytest.approx(2000 / 3)


def test_import_of_a_file_from_another_platform_is_one_line_exit_1(tmp_path):
    other = tmp_path / "orders.csv"
    other.write_text("order_id,amount\n1,10\n", encoding="utf-8")
    done = kpi_process("social", "import", str(other), "--to", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.strip().startswith("Error:") and "not a Meta Business Suite" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
