"""Charts read back from matplotlib's figure: the unit on the axis, period labels, the baseline."""

from __future__ import annotations

import logging
from itertools import pairwise

import pytest
from matplotlib.collections import PolyCollection

from kpicore.presentation.charts import (
    NOT_FROM_ZERO,
    TICK_FONT,
    chart_alt,
    period_tick_positions,
    trend_chart,
    trend_figure,
)
from tests.digest_data import result, weekly_trend


def drawn(result_, **options):
    figure = trend_figure(result_, **options)
    figure.canvas.draw()  # tick labels are final only once drawn
    return figure, figure.axes[0]


def labels(ticklabels) -> list[str]:
    return [label.get_text() for label in ticklabels if label.get_text()]


def revenue(values):
    return result(
        "revenue", "Revenue", "currency", "higher", values[-1], values[-2], 571, trend=weekly_trend(values)
    )


def churn(values):
    return result(
        "churn_rate",
        "Churn rate",
        "percent",
        "lower",
        values[-1],
        values[-2],
        1845,
        trend=weekly_trend(values),
    )


def test_currency_axis_is_abbreviated_in_the_currency_and_starts_at_zero():
    _, axes = drawn(revenue([31000, 33500, 35000, 36200, 37555.94, 38084.69]), currency="USD")
    assert labels(axes.get_yticklabels()) == ["$0", "$15K", "$30K"]
    assert axes.get_ylim()[0] == 0
    assert any(isinstance(c, PolyCollection) for c in axes.collections), (
        "an area fill under amounts from zero"
    )
    _, axes = drawn(revenue([31000, 33500, 35000, 36200, 37555.94, 38084.69]), locale="de_DE", currency="EUR")
    assert labels(axes.get_yticklabels()) == ["0\xa0€", "15.000\xa0€", "30.000\xa0€"]


def test_rate_axis_has_percent_signs_one_decimal_count_and_says_it_is_not_from_zero():
    csat = result(
        "csat",
        "CSAT",
        "percent",
        "higher",
        71.4,
        79.2,
        49,
        trend=weekly_trend([79.0, 75.0, 80.0, 78.0, 79.2, 71.4]),
    )
    _, axes = drawn(csat)
    ticks = labels(axes.get_yticklabels())
    assert ticks and all(tick.endswith("%") for tick in ticks)
    low, high = axes.get_ylim()
    assert 0 < low < 71.4 and 80 < high <= 100
    assert axes.get_ylabel() == NOT_FROM_ZERO
    assert not axes.spines["bottom"].get_visible()
    assert not any(isinstance(c, PolyCollection) for c in axes.collections)  # no area fill


def test_a_small_rate_change_is_not_drawn_as_a_cliff():
    _, axes = drawn(churn([0.45, 0.41, 0.47, 0.43, 0.44, 0.49]))
    ticks = labels(axes.get_yticklabels())
    assert ticks and all(tick.endswith("%") for tick in ticks)
    # The same decimals on every tick: 0.0%, 0.4%, 0.8% (not 0%, 0.40%, 0.80%).
    assert all("." in tick for tick in ticks) and len({len(tick.split(".")[-1]) for tick in ticks}) == 1, (
        ticks
    )
    low, high = axes.get_ylim()
    # 0.44 -> 0.49 moves the line a few percent of the height, not from the bottom to the top.
    assert (0.49 - 0.44) / (high - low) < 0.1
    assert low == 0 and axes.get_ylabel() == ""  # the range reaches zero, so nothing to warn about


def test_scores_show_signed_points_and_a_zero_line():
    nps = result(
        "nps",
        "NPS",
        "points",
        "higher",
        -15.2,
        7.0,
        46,
        trend=weekly_trend([12.0, 5.0, 30.0, 9.0, 7.0, -15.2]),
    )
    _, axes = drawn(nps)
    ticks = labels(axes.get_yticklabels())
    assert "0" in ticks and any(tick.startswith("+") for tick in ticks)
    assert any(line.get_ydata()[0] == 0 for line in axes.get_lines()[1:])  # the zero line


def test_period_labels_are_dates_people_know_and_never_crowd():
    _, axes = drawn(revenue([float(v) for v in range(100, 112)]))
    ticks = labels(axes.get_xticklabels())
    # Weeks 2026-W36 .. W47: labelled by their first day, four labels at most, the last included, the
    # same number of weeks between each two (2026-W38, W41, W44, W47)
    assert ticks[0] == "Sep 14" and ticks[-1] == "Nov 16" and len(ticks) == 4
    assert all("W" not in tick for tick in ticks)
    assert period_tick_positions(12) == [2, 5, 8, 11] and period_tick_positions(3) == [0, 1, 2]
    for count in range(2, 40):
        positions = period_tick_positions(count)
        assert positions[-1] == count - 1 and len(positions) <= 4
        assert len({b - a for a, b in pairwise(positions)}) <= 1, positions
    # a label away from the y axis centres on its point (no week reads as the next)
    assert all(label.get_horizontalalignment() == "center" for label in axes.get_xticklabels())


def test_a_target_is_drawn_on_the_chart():
    from kpicore.targets import Target, TargetStatus

    values = [0.45, 0.41, 0.47, 0.43, 0.44, 0.49]
    with_max = churn(values)
    with_max.target_status = TargetStatus(Target(max=2.5), on_track=True, gap=-2.0)
    _, axes = drawn(with_max)
    lines = [line for line in axes.get_lines() if list(line.get_ydata()) == [2.5, 2.5]]
    assert lines and axes.get_ylim()[1] > 2.5  # the line, inside the chart
    with_range = churn(values)
    with_range.target_status = TargetStatus(Target(min=0.3, max=0.6), on_track=True, gap=0.0)
    _, axes = drawn(with_range)
    bands = [patch for patch in axes.patches if patch.get_facecolor()[:3] != (1.0, 1.0, 1.0)]
    assert any(round(p.get_y(), 6) == 0.3 and round(p.get_height(), 6) == 0.3 for p in bands), bands
    _, axes = drawn(churn(values))
    assert not [line for line in axes.get_lines() if list(line.get_ydata()) == [2.5, 2.5]]


@pytest.mark.parametrize("narrow", [False, True])
def test_labels_do_not_overlap_and_stay_legible_on_a_phone(narrow):
    figure, axes = drawn(churn([0.45, 0.41, 0.47, 0.43, 0.44, 0.49] * 2), narrow=narrow)
    renderer = figure.canvas.get_renderer()
    x_boxes = [label.get_window_extent(renderer) for label in axes.get_xticklabels() if label.get_text()]
    y_boxes = [label.get_window_extent(renderer) for label in axes.get_yticklabels() if label.get_text()]
    for x_box in x_boxes:
        assert not any(x_box.overlaps(y_box) for y_box in y_boxes)
    for a, b in pairwise(x_boxes):
        assert not a.overlaps(b)
    # Measured on the screen in tests/test_chart_text_size.py.
    assert all(label.get_fontsize() >= TICK_FONT for label in axes.get_xticklabels())


def test_current_period_highlighted_and_previous_marked():
    _, axes = drawn(revenue([31000, 33500, 35000, 36200, 37555.94, 38084.69]))
    annotations = [child for child in axes.texts]
    assert [a.get_text() for a in annotations] == ["$38.1K"]
    assert annotations[0].get_fontweight() == "bold"
    offsets = [
        tuple(c.get_offsets()[0])
        for c in axes.collections
        if hasattr(c, "get_offsets") and len(c.get_offsets())
    ]
    assert (5.0, 38084.69) in offsets and (4.0, 37555.94) in offsets  # filled current dot, ring on previous


def test_alt_text_says_the_chart_in_words():
    text = chart_alt(revenue([31000, 33500, 35000, 36200, 37555.94, 38084.69]), currency="USD")
    assert text == (
        "Revenue over 6 weeks, Oct 12 to Nov 16: from $31,000.00 to $38,084.69; lowest $31,000.00, highest $38,084.69."
    )


def test_png_is_deterministic_and_sized():
    png = trend_chart(revenue([1.0, 2.0, 3.0]))
    assert png == trend_chart(revenue([1.0, 2.0, 3.0]))
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (800, 340)


def test_fewer_than_two_values_draw_nothing():
    one = result(
        "revenue", "Revenue", "currency", "higher", 5.0, None, 1, trend=weekly_trend([None, None, 5.0])
    )
    assert trend_figure(one) is None and trend_chart(one) is None


@pytest.mark.parametrize(
    "locale, currency", [("bn_BD", "BDT"), ("fa_IR", "IRR"), ("ml_IN", "INR"), ("ig_NG", "NGN")]
)
def test_charts_in_every_language_draw_no_missing_glyph(locale, currency, caplog):
    """The DejaVu fonts have no Bengali taka sign (৳): a Bengali chart writes BDT instead of drawing a box,
    and Persian's ریال (letters matplotlib cannot join) becomes IRR."""
    import warnings

    from kpicore.presentation.charts import drawable, trend_chart
    from tests.digest_data import sample_results

    drawn = 0
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        for result in sample_results():
            if result.ok and result.trend and trend_chart(result, locale=locale, currency=currency):
                drawn += 1
    assert drawn >= 3
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == [] and "missing from font" not in caplog.text
    assert drawable("30,000৳", "BDT", "bn_BD") == "30,000 BDT"
    assert drawable("\u200eریال\xa030,000", "IRR", "fa_IR") == "30,000 IRR"
    assert drawable("₹30K", "INR", "ml_IN") == "₹30K" and drawable("$30K", "USD", "en") == "$30K"
