"""`kpi digest send` to telegram: destinations as a real process against the loopback Bot API: once each,
HTML within Telegram's limits and split between metrics, the headline first, charts as an album; 429
and 5xx survived without duplicates; a part whose answer was lost is reported, never resent; the token
never printed."""

from __future__ import annotations

import json

from kpicore_telegram import render
from telegram_kpi import kpi_env, run_kpi
from telegram_server import TOKEN

GROUP, CHANNEL = -1001000000001, -1001000000002


def write_config(
    folder, demo_database, telegram, *, metrics=("revenue", "nps", "csat"), extra="", destinations=None
):
    destinations = destinations or [f"telegram:{GROUP}", "telegram:@kpi_news"]
    (folder / "kpi.toml").write_text(
        f"""state_url = "sqlite:///{folder / "state.db"}"
timezone = "UTC"
{extra}
[source]
url = "sqlite:///{demo_database}"

[channels.telegram]
api_base = "{telegram.api_base}"
retry_backoff = 0.01

[digests.weekly]
title = "Weekly KPIs"
metrics = {json.dumps(list(metrics))}
period = "2026-W47"
trend = 4
destinations = {json.dumps(destinations)}
""",
        encoding="utf-8",
    )


def texts(fake, chat):
    return [m for m in fake.in_chat(chat) if "text" in m]


def test_a_digest_reaches_a_group_and_a_channel_once_each(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram)
    result = run_kpi(tmp_path, "digest", "send", "weekly")
    assert result.returncode == 0, result.stdout + result.stderr
    fake = telegram.fake
    for chat in (GROUP, CHANNEL):
        messages = texts(fake, chat)
        assert len(messages) == 1
        first = messages[0]
        assert first["html"].startswith("<b>") and "Weekly KPIs — 2026-W47" in first["text"]
        assert first["text"].splitlines()[0] not in ("", "Weekly KPIs — 2026-W47")  # the headline leads
        assert "<b>Revenue</b>: " in first["html"]
        album = [m for m in fake.in_chat(chat) if "photo" in m]
        assert len(album) == 3 and len({m["media_group_id"] for m in album}) == 1
        assert all(0 < len(m["caption"]) <= 1024 for m in album)
        assert fake.in_chat(chat).index(first) == 0  # text first, charts after
    sends = [r for r in fake.requests if r.method.startswith("send")]
    assert [r.method for r in sends] == ["sendMessage", "sendMediaGroup"] * 2
    assert all(r.params["parse_mode"] == "HTML" for r in sends if r.method == "sendMessage")
    again = run_kpi(tmp_path, "digest", "send", "weekly")
    assert again.returncode == 0 and "already sent" in again.stdout
    assert len(fake.messages) == 8


def test_a_long_digest_is_split_between_metrics_within_4096_characters(tmp_path, demo_database, telegram):
    metrics = (
        "revenue",
        "nps",
        "csat",
        "aov",
        "churn_rate",
        "new_customers",
        "fcr",
        "conversion_rate",
        "retention_rate",
        "repeat_purchase_rate",
        "escalation_rate",
    )
    breakdowns = ", ".join(f'{m} = "region"' for m in metrics)
    write_config(
        tmp_path,
        demo_database,
        telegram,
        metrics=metrics,
        destinations=[f"telegram:{GROUP}"],
        extra='locale = "fa_IR"',
    )
    config = (
        (tmp_path / "kpi.toml")
        .read_text()
        .replace("trend = 4\n", f"trend = 4\nbreakdowns = {{ {breakdowns} }}\n")
    )
    (tmp_path / "kpi.toml").write_text(config)
    result = run_kpi(tmp_path, "digest", "send", "weekly", timeout=600)  # 11 metrics by region
    assert result.returncode == 0, result.stdout + result.stderr
    messages = texts(telegram.fake, GROUP)
    assert len(messages) >= 2 and all(render.visible_length(m["html"]) <= 4096 for m in messages), [
        len(m["text"]) for m in messages
    ]
    # No metric is cut in two: every paragraph that starts a metric starts with its bold title.
    for message in messages[1:]:
        assert message["html"].lstrip("\u200f").startswith("<b>"), message["html"][:80]
    # Every signed number sits in a left-to-right isolate, so a Persian reader sees +16.7, not 16.7+.
    import re

    signed = re.compile(r"(?<![\w\u2066])[+\-\u2212]\d")
    html = "".join(m["html"] for m in messages)
    assert len(re.findall(r"\u2066[+\-\u2212]\d", html)) > 20
    assert signed.findall(html) == [], [
        html[max(m.start() - 20, 0) : m.end() + 5] for m in signed.finditer(html)
    ][:5]


def test_split_messages_keeps_blocks_whole_and_cuts_only_a_block_too_long_for_one_message():
    blocks = [f"<b>m{i}</b>: " + "x" * 1500 for i in range(5)]
    messages = render.split_messages(blocks)
    assert [m.count("<b>") for m in messages] == [2, 2, 1]
    assert all(render.visible_length(m) <= 4096 for m in messages)
    long = "<b>big</b>: v\n" + "\n".join("  segment &amp; " + "y" * 90 for _ in range(100))
    pieces = render.split_messages(["<b>a</b>: 1", long])
    assert all(render.visible_length(p) <= 4096 for p in pieces) and len(pieces) >= 3
    assert render.caption("é" * 2000).endswith("…") and len(render.caption("é" * 2000)) == 1024
    assert render.caption("<script>") == "&lt;script&gt;"


def test_data_is_escaped_and_cannot_add_markup():
    blocks = render.digest_blocks(
        'T — W1\n======\n\nHeadline <b>&\n\nRegion <a href="x">: 5 & 6', "Headline <b>&"
    )
    assert blocks[0] == "<b>Headline &lt;b&gt;&amp;</b>"
    assert blocks[-1] == "<b>Region &lt;a href=&quot;x&quot;&gt;</b>: 5 &amp; 6"


def test_flood_control_and_server_errors_are_retried_without_duplicates(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram)
    telegram.fake.rate_limit_next, telegram.fake.retry_after = 3, 1
    telegram.fake.fail_next = 0
    result = run_kpi(tmp_path, "digest", "send", "weekly")
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = [r.status for r in telegram.fake.requests if r.method.startswith("send")]
    assert statuses.count(429) == 3
    assert len(texts(telegram.fake, GROUP)) == 1 and len(texts(telegram.fake, CHANNEL)) == 1
    telegram.fake.fail_next = 2
    result = run_kpi(tmp_path, "digest", "send", "weekly", "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(texts(telegram.fake, GROUP)) == 2  # --force sends again, once


def test_a_part_whose_answer_was_lost_is_reported_and_never_resent(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram, destinations=[f"telegram:{GROUP}"])
    telegram.fake.drop_next = 1  # the first message is stored, its answer lost
    result = run_kpi(tmp_path, "digest", "send", "weekly")
    assert result.returncode != 0
    assert (
        "part 1 of 2" in result.stdout + result.stderr
        and "not sent again automatically" in result.stdout + result.stderr
    )
    assert len(telegram.fake.in_chat(GROUP)) == 1
    result = run_kpi(tmp_path, "digest", "send", "weekly")
    assert result.returncode == 0, result.stdout + result.stderr
    chat = telegram.fake.in_chat(GROUP)
    assert len(texts(telegram.fake, GROUP)) == 1 and len(chat) == 4  # the text once, then the 3 charts
    listing = run_kpi(tmp_path, "digest", "deliveries")
    assert "part 1/2 sending" in listing.stdout or "sent" in listing.stdout


def test_the_token_never_appears_in_output_errors_or_traces(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram)
    telegram.fake.token = "999:another-token-than-ours-000000000000"
    outputs = []
    for debug in ("", "1"):
        result = run_kpi(tmp_path, "digest", "send", "weekly", "--force", env=kpi_env(KPI_DEBUG=debug))
        outputs.append(result.stdout + result.stderr)
    everything = "\n".join(outputs)
    assert "401 Unauthorized" in everything and "TELEGRAM_BOT_TOKEN" in everything
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything
    check = run_kpi(tmp_path, "check")
    assert TOKEN not in check.stdout + check.stderr


def test_check_refuses_a_plain_http_api_base_and_a_bad_destination(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram, destinations=["telegram:not a chat"])
    config = (tmp_path / "kpi.toml").read_text().replace(telegram.api_base, "http://api.example.com")
    (tmp_path / "kpi.toml").write_text(
        config.replace("retry_backoff = 0.01", 'retry_backoff = 0.01\nmode = "push"')
    )
    result = run_kpi(tmp_path, "check")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "api_base = 'http://api.example.com': use https://" in output
    assert "destination 'telegram:not a chat'" in output


def test_a_right_to_left_digest_marks_every_line_right_to_left():
    text = "شاخص‌های هفتگی — W47\n======\n\nدرآمد: ۱۲ ریال\n  بر اساس منطقه:\n    North: ۵ ریال"
    blocks = render.digest_blocks(text, "")
    lines = [line for block in blocks for line in block.split("\n")]
    assert all(line.startswith(render.RLM) for line in lines)
    assert not render.digest_blocks("Weekly — W47\n===\n\nRevenue: $1", "")[1].startswith(render.RLM)
