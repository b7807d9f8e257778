"""What a reader of the digest sees: data values never format in Slack, the text format fits 72 columns."""

from __future__ import annotations

import re

from kpicore.digest import render
from kpicore.digest.blockkit import WORD_JOINER, slack_escape
from kpicore.results import Segment
from tests.digest_data import result, sample_results, sample_spec


def mrkdwn_texts(message: dict) -> list[str]:
    return [message["text"]] + [
        element["text"]
        for block in message["blocks"]
        for element in ([block["text"]] if "text" in block else block.get("elements", []))
        if element.get("type") == "mrkdwn"
    ]


#: A mrkdwn span Slack would format: a mark at a word's edge, text, the same mark at a word's edge.
FORMATTED = re.compile(r"(?:^|[\s(])([*_~`])[^\s\u2060*_~`][^\n]*?(?<![\s\u2060])\1(?=$|[\s).,:;!?])")


def test_slack_data_values_cannot_format():
    names = ["*bold*", "_italic_", "~struck~", "`code`", "snake_case_name"]
    results = [
        result(
            "revenue",
            "Revenue *net*",
            "currency",
            "higher",
            10.0,
            8.0,
            3,
            n_noun="orders",
            segments=[Segment(name, 1.0, 1) for name in names],
            dimension="region",
        )
    ]
    rendered = render(sample_spec(title="_Weekly_"), results, "slack", period_label="2026-W47", charts=False)
    seen = "\n".join(text for message in rendered.messages for text in mrkdwn_texts(message))
    for text in seen.split("\n"):
        words = [m.group(0) for m in FORMATTED.finditer(text)]
        # only the template's own bold (titles, values) may format: never a data value's marks
        assert not any(name.strip("*_~`") in word for word in words for name in names[:4]), (text, words)
    # the words a reader sees are the same: remove the invisible joiners and the names are whole
    plain = seen.replace(WORD_JOINER, "")
    for name in [*names, "Revenue *net*", "_Weekly_"]:
        assert name in plain, name
    assert slack_escape("*bold* <b>") == "\u2060*\u2060bold\u2060*\u2060 &lt;b&gt;"
