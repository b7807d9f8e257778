"""`kpi digest send` to teams:NAME as a real process against the loopback Workflows webhook: one valid
Adaptive Card 1.5 per part within 28 KB, split between metrics, rtl for Persian, at most once per part
(429/5xx retried, a lost answer reported and never resent); the webhook URL never printed."""

from __future__ import annotations

import json

from kpicore_teams import card
from teams_kpi import kpi_env, run_kpi

from kpicore.channels.sections import Section

METRICS = ("revenue", "nps", "csat")
MANY = (
    "revenue", "nps", "csat", "aov", "churn_rate", "new_customers", "fcr", "conversion_rate",
    "retention_rate", "repeat_purchase_rate", "escalation_rate",
)  # fmt: skip


def write_config(
    folder,
    demo_database,
    *,
    metrics=METRICS,
    extra="",
    breakdowns=False,
    webhooks='sales = "${TEAMS_WEBHOOK_SALES}"',
):
    by = ", ".join(f'{m} = "region"' for m in metrics)
    (folder / "kpi.toml").write_text(
        f"""state_url = "sqlite:///{folder / "state.db"}"
timezone = "UTC"
{extra}
[source]
url = "sqlite:///{demo_database}"

[channels.teams]
retry_backoff = 0.01

[channels.teams.webhooks]
{webhooks}

[digests.weekly]
title = "Weekly KPIs"
metrics = {json.dumps(list(metrics))}
period = "2026-W47"
trend = 4
{f"breakdowns = {{ {by} }}" if breakdowns else ""}
destinations = ["teams:sales"]
""",
        encoding="utf-8",
    )


def test_a_digest_reaches_the_channel_once_as_a_valid_card(tmp_path, demo_database, workflows):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database)
    env = kpi_env(TEAMS_WEBHOOK_SALES=url)
    result = run_kpi(tmp_path, "digest", "send", "weekly", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert workflows.fake.failed_runs == []
    (post,) = workflows.fake.posts("Sales")
    body = post["card"]["body"]
    assert post["card"]["version"] == "1.5" and "rtl" not in post["card"]
    assert body[0]["inlines"][0]["weight"] == "Bolder"  # the headline first
    assert "Weekly KPIs — 2026-W47" in body[1]["inlines"][0]["text"]
    titles = [item["items"][0]["inlines"][0]["text"] for item in body if item["type"] == "Container"]
    assert titles[-3:] == ["Revenue", "Net Promoter Score", "Customer satisfaction (CSAT)"]
    sparkline = json.dumps(body, ensure_ascii=False)
    assert any(char in sparkline for char in "▁▂▃▄▅▆▇█")  # no public_url: the text sparkline
    again = run_kpi(tmp_path, "digest", "send", "weekly", env=env)
    assert again.returncode == 0 and "already sent" in again.stdout
    assert len(workflows.fake.channel_posts) == 1
    assert url not in result.stdout + result.stderr + again.stdout + again.stderr


def test_a_persian_digest_is_right_to_left_and_split_within_28_kb(tmp_path, demo_database, workflows):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database, metrics=MANY, extra='locale = "fa_IR"', breakdowns=True)
    result = run_kpi(tmp_path, "digest", "send", "weekly", env=kpi_env(TEAMS_WEBHOOK_SALES=url), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert workflows.fake.failed_runs == []
    posts = workflows.fake.posts("Sales")
    assert all(post["card"]["rtl"] is True and post["bytes"] <= 28 * 1024 for post in posts)
    containers = [item for post in posts for item in post["card"]["body"] if item["type"] == "Container"]
    metrics = [c for c in containers if len(c["items"][0]["inlines"]) == 2]  # title, then ": value"
    assert len(metrics) == len(MANY)  # every metric whole, in one card (the demo's fits in one: 16.5 KB)


def test_cards_split_between_sections_and_cut_only_a_section_too_big_for_one():
    sections = [Section("headline", "H"), Section("heading", "T — W1")]
    sections += [
        Section("metric", f"m{i}", "1", [f"segment {j}: " + "ب" * 40 for j in range(30)]) for i in range(12)
    ]
    bodies = card.split_cards(sections, limit=8 * 1024)
    assert len(bodies) > 2 and all(len(body) <= 8 * 1024 for body in bodies)
    cards = [json.loads(body)["attachments"][0]["content"] for body in bodies]
    assert cards[1]["body"][0]["inlines"][0]["text"] == f"T — W1 (2/{len(bodies)})"
    titles = [
        c["items"][0]["inlines"][0]["text"]
        for card_ in cards
        for c in card_["body"]
        if c["type"] == "Container"
    ]
    assert titles == [f"m{i}" for i in range(12)]
    huge = [Section("metric", "big", "1", [f"s{j}: " + "x" * 200 for j in range(400)])]
    assert all(len(body) <= 28 * 1024 for body in card.split_cards(huge))
    assert card.is_rtl_text("درآمد: ۱۲٬۳۴۵ ریال revenue") and not card.is_rtl_text("Revenue: $12,345")


def test_data_is_text_never_markdown():
    (container,) = card.section_elements(Section("metric", "**Bold** [x](https://evil)", "<at>all</at>"))
    inlines = container["items"][0]["inlines"]
    assert [run["type"] for run in inlines] == ["TextRun", "TextRun"]
    assert inlines[0]["text"] == "**Bold** [x](https://evil)"


def test_throttling_and_server_errors_are_retried_without_duplicates(tmp_path, demo_database, workflows):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database)
    workflows.fake.rate_limit_next, workflows.fake.fail_next = 2, 1
    result = run_kpi(tmp_path, "digest", "send", "weekly", env=kpi_env(TEAMS_WEBHOOK_SALES=url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.status for r in workflows.fake.requests] == [429, 429, 502, 202]
    assert len(workflows.fake.channel_posts) == 1


def test_a_card_whose_answer_was_lost_is_reported_and_never_resent(tmp_path, demo_database, workflows):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database)
    workflows.fake.drop_next = 1
    env = kpi_env(TEAMS_WEBHOOK_SALES=url)
    first = run_kpi(tmp_path, "digest", "send", "weekly", env=env)
    assert first.returncode != 0 and "not sent again automatically" in first.stdout + first.stderr
    second = run_kpi(tmp_path, "digest", "send", "weekly", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(workflows.fake.channel_posts) == 1  # posted by the first attempt, not again
    assert url not in first.stdout + first.stderr + second.stdout + second.stderr


def test_check_refuses_a_literal_url_and_names_an_unset_variable_never_its_value(
    tmp_path, demo_database, workflows
):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database, webhooks=f'sales = "{url}"')
    result = run_kpi(tmp_path, "check", env=kpi_env())
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "a webhook URL is a secret" in output and "sig=" not in output
    write_config(tmp_path, demo_database)
    (tmp_path / "kpi.toml").write_text(
        (tmp_path / "kpi.toml").read_text().replace('"teams:sales"', '"teams:sales", "teams:ops"')
    )
    result = run_kpi(tmp_path, "check", env=kpi_env(TEAMS_WEBHOOK_SALES=url))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "teams:ops" in output and url not in output
