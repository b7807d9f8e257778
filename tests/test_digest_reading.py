"""What a reader of the digest sees: data values never format in Slack, the text format fits 72 columns."""

from __future__ import annotations

import itertools
import json
import re

from kpicore.digest import render
from kpicore.presentation.blockkit import WORD_JOINER, slack_escape
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
    fields = [f["text"] for m in rendered.messages for b in m["blocks"] for f in b.get("fields", [])]
    assert all(WORD_JOINER not in field for field in fields)  # plain_text: as written
    plain = (seen + "\n" + "\n".join(fields)).replace(WORD_JOINER, "")
    for name in [*names, "Revenue *net*", "_Weekly_"]:
        assert name in plain, name
    assert slack_escape("*bold* <b>") == "\u2060*\u2060bold\u2060*\u2060 &lt;b&gt;"


def _without_bidi_marks(text: str) -> str:
    """The text as read: without the marks and isolates that keep right-to-left lines in order."""
    return re.sub("[\u200e\u200f\u2066-\u2069]", "", text)


def test_text_digest_fits_72_columns_without_breaking_a_number():
    from kpicore.digest.render import result_numbers
    from kpicore.i18n import using
    from kpicore.presentation.formatting import format_value, same_decimals
    from tests.digest_data import sample_insights

    currencies = {"en": "USD", "ml_IN": "INR", "bn_BD": "BDT", "fa_IR": "IRR", "ig_NG": "NGN"}
    for locale, currency in currencies.items():
        results = sample_results()
        body = render(
            sample_spec(),
            results,
            "text",
            period_label="2026-W47",
            locale=locale,
            currency=currency,
            insights=sample_insights(),
        ).body
        lines = body.splitlines()
        assert max(len(line) for line in lines) <= 72, [line for line in lines if len(line) > 72]
        for r in results:
            if r.ok:
                with using(locale), same_decimals(result_numbers(r), r.unit):
                    value = format_value(r.value, r.unit, locale, currency)
                plain = [_without_bidi_marks(line) for line in lines]
                assert any(_without_bidi_marks(value) in line for line in plain), (locale, value, body)
        # a number never ends one line and goes on on the next
        for line, after in itertools.pairwise(lines):
            if line and after.strip():
                assert not (re.search(r"[\d,.]$", line) and re.match(r"\s*[\d,.%]", after)), (line, after)


def test_persian_layout_keeps_lines_right_to_left_and_sparklines_in_order():
    from tests.digest_data import sample_insights

    def rendered(fmt: str, locale: str) -> str:
        return render(
            sample_spec(),
            sample_results(),
            fmt,
            period_label="2026-W47",
            locale=locale,
            currency="IRR",
            charts=False,
            insights=sample_insights(),
        ).body

    text = rendered("text", "fa_IR")
    # the segment "North" (Latin) starts its line: a right-to-left mark keeps the line right to left
    north = next(line for line in text.splitlines() if "North" in line)
    assert north.lstrip(" ").startswith("\u200fNorth"), repr(north)
    # the sparkline is isolated left to right, so it runs oldest to newest
    trend = next(line for line in text.splitlines() if "▁" in line)
    assert re.search("\u2066[▁▂▃▄▅▆▇█ ]+\u2069", trend), repr(trend)
    slack = rendered("slack", "fa_IR")
    assert '"text": "\u200fNorth\\n' in slack and re.search("\u2066[▁▂▃▄▅▆▇█ ]+\u2069", slack)
    # the headline's accent bar is on the side the text starts from
    assert "border-right:4px solid" in rendered("html", "fa_IR")
    assert "border-left:4px solid" in rendered("html", "en")
    english = rendered("text", "en")
    assert "\u200f" not in english and "\u2066" not in english


def test_one_count_of_decimals_per_metric_and_its_breakdown():
    churn = result(
        "churn_rate",
        "Churn rate",
        "percent",
        "lower",
        1.13,
        1.2,
        1800,
        segments=[Segment("South", 4.87, 300), Segment("West", 0.71, 280), Segment("North", 0.0, 250)],
        dimension="region",
    )
    body = render(sample_spec(), [churn], "text", period_label="2026-W47").body
    body = body[body.index("\nChurn rate: ") :]  # the metric's lines (not the headline)
    assert "1.13%" in body and "-0.07 pts vs 1.20%" in body, body
    assert "4.87%" in body and "0.71%" in body and "0.00%" in body, body
    assert "1.1%" not in body.replace("1.13%", "")
    # a metric whose numbers all need one decimal keeps one
    whole = result("csat", "CSAT", "percent", "higher", 74.3, 76.3, 35)
    body = render(sample_spec(), [whole], "text", period_label="2026-W47").body
    assert "74.3%" in body and "-2.0 pts vs 76.3%" in body, body


def test_axis_note_is_written_in_the_language_under_the_chart_not_in_english_in_it():
    from kpicore.digest.render import metric_view
    from kpicore.i18n import _, using
    from kpicore.presentation.charts import NOT_FROM_ZERO, trend_figure
    from tests.digest_data import weekly_trend

    churn = result(
        "churn_rate",
        "Churn rate",
        "percent",
        "lower",
        1.9,
        1.7,
        1800,
        trend=weekly_trend([1.5, 1.7, 1.6, 1.9]),
    )
    for locale in ("ml_IN", "bn_BD", "fa_IR"):
        with using(locale):
            figure = trend_figure(churn, locale=locale)
            note = metric_view(churn, locale=locale).chart_note
            translated = _(NOT_FROM_ZERO)
        assert figure.axes[0].get_ylabel() == "", locale  # no English words in the image
        assert note == translated and note != NOT_FROM_ZERO, (locale, note)
    with using("en"):
        assert trend_figure(churn, locale="en").axes[0].get_ylabel() == NOT_FROM_ZERO
        assert metric_view(churn, locale="en").chart_note == ""


def test_lakh_grouped_amounts_get_a_lakh_axis():
    from kpicore.i18n import using
    from kpicore.presentation.charts import trend_figure
    from kpicore.presentation.formatting import format_axis_value, format_value
    from tests.digest_data import weekly_trend

    assert format_value(3056482.70, "currency", "ml_IN", "INR") == "₹30,56,482.70"
    assert format_axis_value(3056482.70, "currency", "ml_IN", "INR", latin=True) == "₹30.6L"
    assert format_axis_value(30_000_000, "currency", "bn_BD", "BDT", latin=True) == "৳3Cr"
    assert format_axis_value(3056482.70, "currency", "en", "USD") == "$3.1M"
    revenue = result(
        "revenue",
        "Revenue",
        "currency",
        "higher",
        3056482.7,
        2900000.0,
        500,
        trend=weekly_trend([2500000.0, 2700000.0, 2900000.0, 3056482.7]),
    )
    with using("ml_IN"):
        figure = trend_figure(revenue, locale="ml_IN", currency="INR")
    figure.canvas.draw()
    ticks = [label.get_text() for label in figure.axes[0].get_yticklabels() if label.get_text()]
    assert ticks and not any("M" in tick for tick in ticks), ticks


def test_segment_names_are_plain_text_fields_shown_as_written():
    """A segment's name is data: it goes in a plain_text field (Slack formats nothing there), so it needs
    no escape or word joiner; mrkdwn is kept for kpicore's own bold."""
    from kpicore.chat.blocks import answer_blocks
    from kpicore.chat.grammar import Vocabulary, parse_command
    from kpicore.config import Config

    names = ["*bold*", "_italic_", "<!channel>", "Fish & Chips"]
    revenue = result("revenue", "Revenue", "currency", "higher", 10.0, 8.0, 4, dimension="region")
    revenue.segments = [Segment(name, 1.0, 1, previous=1.0) for name in names]
    rendered = render(sample_spec(), [revenue], "slack", period_label="2026-W47", charts=False)
    request = parse_command("revenue 2026-W47 by region", Vocabulary({"revenue": "Revenue"}))
    for blocks in (
        [b for m in rendered.messages for b in m["blocks"]],
        answer_blocks(request, [revenue], Config()),
    ):
        fields = [f for b in blocks for f in b.get("fields", [])]
        assert fields and all(f["type"] == "plain_text" for f in fields), fields
        shown = [f["text"].split("\n")[0].replace("\u2066", "").replace("\u2067", "") for f in fields]
        assert sorted(shown) == sorted(names)  # as written: no joiner, no &amp;
        assert not any(
            name in json.dumps(b, ensure_ascii=False)
            for b in blocks
            if "fields" not in b
            for name in names[:2]
        )


def test_html_never_wraps_a_negative_amount_after_its_minus():
    """A browser may wrap after "-" before a currency symbol: "(-" at a line's end, "₦1,833,660.00)" on
    the next (seen at 390 px in Igbo). A word joiner after the minus keeps the number whole."""
    from kpicore.presentation.formatting import whole_numbers

    assert whole_numbers("ruo (-₦1,833,660.00)") == "ruo (-\u2060₦1,833,660.00)"
    assert whole_numbers("-1.8% and -0.60 pts") == "-1.8% and -0.60 pts"  # no break after - before a digit
    # "(+" / "₹80,242.55)" and "2025-" / "W49" were seen wrapped at 390 px in Malayalam and Bengali
    assert whole_numbers("(+₹80,242.55) in 2025-W49") == "(+\u2060₹80,242.55) in 2025-\u2060W49"
    assert whole_numbers("a+b font-Weight") == "a+b font-Weight"
    assert whole_numbers("(\u2067\u2066-\u2069ریال") == "(\u2067\u2066-\u2069\u2060ریال"  # Persian, 390 px
    # Any text of the page: here the title, as an insight's "(-₦1,833,660.00)" would be.
    spec = sample_spec(title="Ego (-₦1,833,660.00)")
    body = render(
        spec, sample_results(), "html", period_label="2026-W47", locale="ig_NG", currency="NGN"
    ).body
    assert "-₦" not in body and "(-\u2060₦1,833,660.00)" in body
