"""`kpi demo --pack` writes one digest with the stock and the pack metrics; `kpi digest send
--dry-run` warns about what the real send would fail on, per destination; `min_sample`."""

from __future__ import annotations

import json
import re

from tests.conftest import SLACK_TOKEN
from tests.test_digest_cli import lines, write_config


def test_demo_with_two_packs_writes_one_digest_with_every_metric(run_kpi, tmp_path):
    code, _, err = run_kpi(
        "demo",
        "--pack",
        "restaurant",
        "--pack",
        "consulting",
        env={"KPI_LOAD_PLUGINS": "restaurant,consulting"},
    )
    assert code == 0, err
    text = (tmp_path / "digest.txt").read_text(encoding="utf-8")
    html = (tmp_path / "digest.html").read_text(encoding="utf-8")
    document = json.loads((tmp_path / "digest.slack.json").read_text(encoding="utf-8"))
    slack = json.dumps(document["messages"], ensure_ascii=False)
    for title in ("Revenue", "Net Promoter Score", "Covers", "Table turnover", "Utilization", "Realization"):
        assert title in text and title in html and title in slack, title
    assert document["messages"][0]["blocks"][0]["type"] == "header"


def test_dry_run_warns_about_missing_token_and_email_settings(run_kpi, tmp_path, demo_database, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    write_config(tmp_path, demo_database, None)  # no [email] table
    code, out, err = run_kpi("digest", "send", "weekly", "--dry-run")
    assert code == 0, err
    assert lines(out) == [
        "slack:#kpis: would send (slack)",
        "slack:#kpis: warning: SLACK_BOT_TOKEN is not set: the send will fail until it holds the bot token (xoxb-...)",
        "email:owner@example.com,ops@example.com: would send (text, html)",
        "email:owner@example.com,ops@example.com: warning: [email] host is not set in kpi.toml",
        (
            "email:owner@example.com,ops@example.com: warning: [email] sender is not set in kpi.toml "
            "(e.g. 'KPI bot <reports@example.com>')"
        ),
        "file:./digests: would send (html, slack, text, md)",
    ]


def test_dry_run_is_quiet_when_everything_is_set(run_kpi, tmp_path, demo_database, smtp_server, slack):
    write_config(tmp_path, demo_database, smtp_server)
    code, out, err = run_kpi("digest", "send", "weekly", "--dry-run")
    assert code == 0, err
    assert "warning" not in out
    assert SLACK_TOKEN not in out + err  # the token itself never shows


def test_min_sample_marks_small_segments(run_kpi, tmp_path, demo_database):
    write_config(
        tmp_path, demo_database, None, destinations=["file:./digests"], digest_extra="min_sample = 12"
    )
    code, out, err = run_kpi("digest", "render", "weekly")
    assert code == 0, err
    regions = [line for line in out.splitlines() if re.match(r"^    \S.*, \d+ responses?\b", line)]
    sizes = [int(re.search(r", (\d+) responses?\b", line)[1]) for line in regions]
    assert any(n < 12 for n in sizes) and any(n >= 12 for n in sizes), out
    for line, n in zip(regions, sizes, strict=False):
        assert line.endswith(", small sample") == (n < 12), line
    assert "(small sample: fewer than 12 responses, read with care)" in out
    write_config(
        tmp_path, demo_database, None, destinations=["file:./digests"], digest_extra="min_sample = -1"
    )
    code, _, err = run_kpi("digest", "render", "weekly")
    assert code == 2 and "[digests.weekly].min_sample: expected a whole number of records" in err
