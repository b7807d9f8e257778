"""Rendering: golden files per format, Block Kit limits and splitting, escaping, charts, templates."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from kpicore.digest import render
from kpicore.errors import ConfigError
from kpicore.presentation.blockkit import MAX_BLOCKS, check_message, split_messages
from kpicore.results import MetricResult, Segment
from tests.digest_data import (
    END,
    PERIOD,
    START,
    result,
    sample_insights,
    sample_results,
    sample_spec,
    weekly_trend,
)

GOLDEN = Path(__file__).parent / "golden"
#: The currency of each language's golden digest (the business's own).
GOLDEN_CURRENCY = {"ml_IN": "INR", "bn_BD": "BDT", "fa_IR": "IRR", "ig_NG": "NGN"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; KPI_UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get("KPI_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with KPI_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize(
    "fmt, locale, golden",
    [
        ("text", "en", "weekly.en.txt"),
        ("md", "en", "weekly.en.md"),
        ("html", "en", "weekly.en.html"),
        ("slack", "en", "weekly.en.slack.json"),
        ("text", "de_DE", "weekly.de_DE.txt"),
        ("slack", "de_DE", "weekly.de_DE.slack.json"),
        ("md", "de_DE", "weekly.de_DE.md"),
        ("html", "de_DE", "weekly.de_DE.html"),
        ("text", "ml_IN", "weekly.ml_IN.txt"),
        ("md", "ml_IN", "weekly.ml_IN.md"),
        ("html", "ml_IN", "weekly.ml_IN.html"),
        ("slack", "ml_IN", "weekly.ml_IN.slack.json"),
        ("text", "bn_BD", "weekly.bn_BD.txt"),
        ("md", "bn_BD", "weekly.bn_BD.md"),
        ("html", "bn_BD", "weekly.bn_BD.html"),
        ("slack", "bn_BD", "weekly.bn_BD.slack.json"),
        ("text", "fa_IR", "weekly.fa_IR.txt"),
        ("md", "fa_IR", "weekly.fa_IR.md"),
        ("html", "fa_IR", "weekly.fa_IR.html"),
        ("slack", "fa_IR", "weekly.fa_IR.slack.json"),
        ("text", "ig_NG", "weekly.ig_NG.txt"),
        ("md", "ig_NG", "weekly.ig_NG.md"),
        ("html", "ig_NG", "weekly.ig_NG.html"),
        ("slack", "ig_NG", "weekly.ig_NG.slack.json"),
    ],
)
def test_golden(fmt, locale, golden):
    rendered = render(
        sample_spec(),
        sample_results(),
        fmt,
        period_label=PERIOD,
        locale=locale,
        currency=GOLDEN_CURRENCY.get(locale, "EUR"),
        charts=fmt == "html",
        insights=sample_insights(),
    )
    assert_golden(golden, rendered.body)


def test_html_has_a_chart_per_metric_with_trend():
    rendered = render(sample_spec(), sample_results(), "html", period_label=PERIOD, currency="EUR")
    with_trend = [r.metric for r in sample_results() if r.trend]
    assert list(rendered.charts) == with_trend
    referenced = re.findall(r'src(?:set)?="cid:([^"]+)"', rendered.body)
    assert sorted(referenced) == sorted(rendered.images)
    # Each chart twice: 800 x 340 for a wide screen, 560 x 400 (the <picture>'s source) for a phone.
    assert sorted(rendered.images) == sorted(
        [*rendered.charts.values()] + [f"phone-{c}" for c in rendered.charts.values()]
    )
    for content_id, png in rendered.images.items():
        assert png.startswith(PNG_SIGNATURE)
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert (width, height) == ((560, 400) if content_id.startswith("phone-") else (800, 340))
        assert 1000 < len(png) < 100_000


def test_slack_message_is_text_first_and_valid():
    rendered = render(
        sample_spec(), sample_results(), "slack", period_label=PERIOD, currency="EUR", charts=False
    )
    [message] = rendered.messages
    # The notification (a phone's lock screen) leads with the headline and its numbers.
    assert message["text"] == (
        "2 of 6 KPIs worse than last week. Customer acquisition cost rose 14.5% to €58.40. — Weekly KPIs, 2026-W47"
    )
    assert rendered.headline == message["text"].split(" — ")[0]
    assert check_message(message) == []
    kinds = [b["type"] for b in message["blocks"]]
    # header, period context, headline section, then per metric: divider, section, context (n, trend,
    # warnings), and for the breakdown a section plus the small-sample context.
    assert kinds[:3] == ["header", "context", "section"]
    assert kinds.count("divider") == len(sample_results())
    assert kinds[3:11] == [
        "divider",
        "section",
        "context",
        "divider",
        "section",
        "context",
        "divider",
        "section",
    ]
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    contexts = [b["elements"][0]["text"] for b in message["blocks"] if b["type"] == "context"]
    assert texts[0] == "*2 of 6 KPIs worse than last week.* Customer acquisition cost rose 14.5% to €58.40."
    assert texts[1] == "*Revenue*\n*€48,210.50*   ▲ +6.8% vs €45,120.00  ·  ✓ better"
    assert contexts[1] == "▁▃▂▅▆█ last 6 weeks  ·  based on 812 orders"
    assert "`" not in json.dumps(message)  # no inline code: the trend is a plain line in a context block
    assert contexts[3] == "▁▃ ▆▅█ last 6 weeks  ·  based on 214 responses  ·  ⚠ 3 invalid records left out"
    assert texts[4] == "*By region*"
    [by_region] = [b for b in message["blocks"] if b.get("fields")]
    assert [(f["type"], f["text"]) for f in by_region["fields"]] == [
        ("plain_text", "North\n+51.2  +7.2 pts  ·  120 responses"),
        ("plain_text", "no region\n+23.1  -6.9 pts  ·  13 responses  ·  small sample"),
        ("plain_text", "South\n+30.9  -0.60 pts  ·  81 responses"),
    ]
    assert contexts[4] == "_small sample_: fewer than 30 responses, read with care"
    assert "✓ better" in texts[6]  # churn fell: lower is better
    assert "✗ worse" in texts[7]  # cac rose
    assert "unavailable" in texts[8] and "tickets" in texts[8]


def many_results(count: int, segments: int = 0) -> list[MetricResult]:
    return [
        result(
            f"metric_{i:02d}",
            f"Metric number {i:02d}",
            "count",
            "higher",
            100 + i,
            90 + i,
            50,
            trend=weekly_trend([1, 2, 3, 4]),
            segments=[Segment(f"segment {j} " + "x" * 40, j, j) for j in range(segments)] or None,
            dimension="region" if segments else None,
        )
        for i in range(count)
    ]


def test_sixty_metrics_split_into_valid_messages(slack):
    results = many_results(60)
    rendered = render(
        sample_spec(metrics=[r.metric for r in results]), results, "slack", period_label=PERIOD, charts=False
    )
    # 3 opening blocks and 3 per metric (divider, section, context) = 183 blocks: 4 messages.
    total = len(rendered.messages)
    assert total == 4
    seen = []
    for number, message in enumerate(rendered.messages, start=1):
        assert check_message(message) == []
        assert len(message["blocks"]) <= MAX_BLOCKS
        assert message["text"].endswith(f"({number}/{total})")
        if number > 1:
            assert f"continued, part {number} of {total}" in message["blocks"][0]["elements"][0]["text"]
            assert message["blocks"][1]["type"] == "section"  # a metric starts the part, not a divider
        # A metric's section and its context block are never split across two messages.
        sections = re.findall(r"\*Metric number (\d\d)\*", json.dumps(message["blocks"], ensure_ascii=False))
        contexts = [b for b in message["blocks"] if b["type"] == "context" and "last 4 weeks" in str(b)]
        assert len(contexts) == len(sections)
        seen += sections
    assert seen == [f"{i:02d}" for i in range(60)]


def test_long_sections_and_header_fit_the_limits():
    results = many_results(3, segments=120)  # ~60 characters a segment line: > 3000 per metric
    spec = sample_spec(title="A very long digest title " * 10, metrics=[r.metric for r in results])
    rendered = render(spec, results, "slack", period_label=PERIOD, charts=False)
    for message in rendered.messages:
        assert check_message(message) == []
    everything = json.dumps([m["blocks"] for m in rendered.messages], ensure_ascii=False)
    for j in range(120):
        assert everything.count(f'"segment {j} x') == 3, "no segment may be dropped"
    header = rendered.messages[0]["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


def test_split_messages_splits_fields():
    payload = {
        "text": "t",
        "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": str(i)} for i in range(25)]}],
    }
    [message] = split_messages(payload, title="t")
    assert [len(b["fields"]) for b in message["blocks"]] == [10, 10, 5]
    assert check_message(message) == []


HOSTILE = [
    "<!channel>",
    "<@U123>",
    "<script>alert(1)</script>",
    "Fish & Chips",
    "<https://evil.example|click>",
    "<!here> *bold* _x_ | pipe",
]


def hostile_results() -> list[MetricResult]:
    return [
        result(
            "nps",
            "NPS <!channel> & <@U123>",
            "points",
            "higher",
            10,
            5,
            20,
            segments=[Segment(name, 1.0, 1) for name in HOSTILE],
            dimension="<!everyone>",
        ),
        MetricResult(
            metric="fcr",
            title="<script>x</script>",
            unit="percent",
            better="higher",
            status="unavailable",
            period=PERIOD,
            start=START,
            end=END,
            reason="<!channel> broke",
        ),
    ]


def test_slack_escapes_data():
    rendered = render(
        sample_spec(title="KPIs <!channel>"), hostile_results(), "slack", period_label="<@U9>", charts=False
    )
    for message in rendered.messages:
        texts = [message["text"]] + [
            element["text"]
            for block in message["blocks"]
            for element in ([block["text"]] if "text" in block else block.get("elements", []))
            if element.get("type") == "mrkdwn"
        ]
        for text in texts:
            # No raw angle bracket can remain: Slack only parses mentions and links inside < >.
            assert "<" not in text and ">" not in text, text
            assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    body = rendered.body
    assert "&lt;!channel&gt;" in body  # the unavailable metric's reason, in mrkdwn
    # Segments are plain_text fields, which Slack never parses: shown as written, mentions inert.
    fields = [f for m in rendered.messages for b in m["blocks"] for f in b.get("fields", [])]
    assert all(f["type"] == "plain_text" for f in fields)
    assert sorted(f["text"].split("\n")[0] for f in fields) == sorted(HOSTILE)


def test_html_escapes_data():
    body = render(sample_spec(title="<b>Weekly</b>"), hostile_results(), "html", period_label=PERIOD).body
    assert "<script>" not in body and "<!channel>" not in body and "<b>Weekly" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "Fish &amp; Chips" in body and "&lt;@U123&gt;" in body


def test_markdown_escapes_data():
    body = render(sample_spec(), hostile_results(), "md", period_label=PERIOD).body
    assert "<script>" not in body and "<!channel>" not in body
    assert "&lt;!here&gt; \\*bold\\* \\_x\\_ \\| pipe" in body
    table_rows = [line for line in body.splitlines() if line.startswith("| NPS")]
    assert len(table_rows) == 1 and table_rows[0].count(" | ") == 4  # no injected cell


def test_user_template_overrides_builtin_and_hook_runs(tmp_path):
    (tmp_path / "weekly.txt.j2").write_text(
        "{{ title|shout }}: {% for m in metrics %}{{ m.value }} {% endfor %}"
    )

    def hook(env):
        env.filters["shout"] = str.upper

    rendered = render(
        sample_spec(template="weekly"),
        sample_results()[:2],
        "text",
        period_label=PERIOD,
        templates_dir=tmp_path,
        jinja_hook=hook,
    )
    assert rendered.body == "WEEKLY KPIS: $48,210.50 126 "
    # Formats the user did not override still come from the built-in templates... under their own name.
    (tmp_path / "digest.md.j2").write_text("mine")
    assert render(sample_spec(), [], "md", period_label=PERIOD, templates_dir=tmp_path).body == "mine"
    assert render(sample_spec(), [], "text", period_label=PERIOD, templates_dir=tmp_path).body.startswith(
        "Weekly"
    )


def test_missing_template_and_bad_format_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"template 'monthly\.html\.j2' not found"):
        render(sample_spec(template="monthly"), [], "html", period_label=PERIOD, templates_dir=tmp_path)
    with pytest.raises(ConfigError, match="Unknown digest format 'pdf'"):
        render(sample_spec(), [], "pdf", period_label=PERIOD)  # type: ignore[arg-type]


def test_renderer_draws_charts_once_for_html_and_slack(monkeypatch):
    import importlib

    render_module = importlib.import_module("kpicore.digest.render")
    from kpicore.digest.render import renderer

    calls = []
    real = render_module.draw_charts
    monkeypatch.setattr(render_module, "draw_charts", lambda *a, **k: calls.append(1) or real(*a, **k))
    render_format = renderer(sample_spec(), sample_results(), period_label=PERIOD, currency="EUR")
    html, slack_rendering = render_format("html"), render_format("slack")
    assert len(calls) == 2  # the wide charts and the phone charts, each once
    assert len(html.images) == 8 and len(slack_rendering.images) == 4  # Slack gets the wide ones
    assert {k: html.images[k] for k in slack_rendering.images} == slack_rendering.images
    assert render_format("text").images == {}
