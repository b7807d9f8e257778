"""Targets in the digest's per-metric rows, in every format (text, HTML email, Markdown, Slack blocks)
and in every language with a catalog; nothing about targets when kpi.toml sets none."""

from __future__ import annotations

import json

import pytest

from kpicore.config import Config
from kpicore.digest.render import render
from kpicore.targets import apply_targets
from tests.chat_support import blocks_text
from tests.digest_data import PERIOD, sample_results, sample_spec

#: revenue 48,210.50 vs a goal of 50,000 (short by 1,789.50); churn 2.1 % within ≤ 2.5 %;
#: nps 42.0 vs a range 45–60 (3.00 points short); cac 58.40 over its ≤ 50.00 cap by 8.40.
TARGETS = {
    "revenue": {"goal": 50000},
    "churn_rate": {"max": 2.5},
    "nps": {"min": 45, "max": 60},
    "cac": {"max": 50},
    "fcr": {"min": 70},
}


def _render(fmt: str, locale: str = "en", targets=TARGETS):
    results = sample_results()
    apply_targets(results, Config(targets=targets))
    return render(sample_spec(), results, fmt, period_label=PERIOD, locale=locale, charts=False)


def _lines(fmt: str, locale: str = "en") -> str:
    rendered = _render(fmt, locale)
    if fmt == "slack":
        return blocks_text([block for message in rendered.messages for block in message["blocks"]])
    return rendered.body


@pytest.mark.parametrize("fmt", ["text", "html", "md", "slack"])
def test_each_metric_row_shows_its_target_and_where_it_stands(fmt):
    body = _lines(fmt).replace("\u2066", "").replace("\u2069", "")
    if fmt == "html":
        import re

        body = re.sub(r"<[^>]+>", "", body).replace("&#34;", '"')
    assert "goal $50,000.00" in body and "✗ $1,789.50 short" in body
    # churn (2.10% vs 2.60%: -0.50 pts) shows two decimals throughout, its target too
    assert "≤ 2.1%" not in body and "≤ 2.50%" in body and "✓ on track" in body
    assert "+45.0–+60.0" in body and "✗ 3.0 pts short" in body
    assert "≤ $50.00" in body and "✗ $8.40 over" in body
    assert "≥ 70.0%" in body or fmt != "md"  # an unavailable metric keeps its target in the table only


@pytest.mark.parametrize("fmt", ["text", "html", "md", "slack"])
def test_no_target_words_without_targets(fmt):
    rendered = _render(fmt, targets={})
    body = rendered.body if fmt != "slack" else json.dumps(rendered.messages)
    assert (
        "on track" not in body and "short" not in body and "target" not in body.lower().replace("target=", "")
    )


def test_the_html_colours_on_track_green_and_off_track_red():
    body = _render("html").body
    assert 'color:#047857;">✓ on track' in body
    assert 'color:#b91c1c;">✗ $8.40 over' in body


@pytest.mark.parametrize(
    ("locale", "on_track", "headline_word"),
    [
        ("ml_IN", "ലക്ഷ്യത്തിനൊത്ത്", "ലക്ഷ്യമായ"),
        ("bn_BD", "লক্ষ্যের পথে", "লক্ষ্য"),
        ("fa_IR", "در مسیر هدف", "هدف"),
        ("ig_NG", "na-aga nke ọma", "ebumnuche"),
    ],
)
def test_target_words_and_sentences_are_translated(locale, on_track, headline_word):
    from kpicore.digest.headline import describe_target
    from kpicore.i18n import using

    body = _lines("text", locale)
    assert on_track in body and "on track" not in body and " short" not in body and " over" not in body
    results = sample_results()
    apply_targets(results, Config(targets=TARGETS))
    with using(locale):
        sentence = describe_target(results[0], locale=locale)
    assert headline_word in sentence and "its target" not in sentence
