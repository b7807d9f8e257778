"""Babel formatting of values, changes, dates; arrows, markers and sparklines."""

import pytest

from kpicore.presentation import formatting as f


@pytest.mark.parametrize(
    "value, unit, locale, expected",
    [
        (12345.5, "currency", "en", "€12,345.50"),
        (12345.5, "currency", "de_DE", "12.345,50\xa0€"),
        (42.5, "percent", "en", "42.5%"),
        (42.5, "percent", "de_DE", "42,5\xa0%"),
        (42, "points", "en", "+42.0"),
        (-12.25, "points", "de_DE", "-12,2"),
        (0, "points", "en", "0.0"),
        (1234, "count", "en", "1,234"),
        (1234, "count", "de_DE", "1.234"),
        (1234.5, "count", "en", "1,234.5"),
        (38.25, "minutes", "en", "38.2 min"),
        (1.456, "ratio", "de_DE", "1,46"),
        (None, "currency", "en", "–"),
    ],
)
def test_format_value(value, unit, locale, expected):
    assert f.format_value(value, unit, locale, "EUR") == expected


def test_format_value_uses_the_currency_code():
    assert f.format_value(10, "currency", "en", "USD") == "$10.00"
    assert f.format_value(10, "currency", "en_IN", "INR") == "₹10.00"


@pytest.mark.parametrize(
    "delta, delta_pct, unit, locale, expected",
    [
        (2.5, 5.0, "percent", "en", "+2.5 pts"),
        (-2.5, -5.0, "points", "de_DE", "-2,5 pts"),
        (0.0, 0.0, "percent", "en", "0.0 pts"),
        (100, 12.345, "currency", "en", "+12.3%"),
        (-100, -3.2, "count", "de_DE", "-3,2\xa0%"),
        (5, None, "currency", "en", None),
        (None, None, "percent", "en", None),
    ],
)
def test_format_delta(delta, delta_pct, unit, locale, expected):
    assert f.format_delta(delta, delta_pct, unit, locale) == expected


def test_arrow_and_marker_follow_better():
    assert (f.change_arrow(1), f.change_arrow(-1), f.change_arrow(0), f.change_arrow(None)) == (
        "▲",
        "▼",
        "▶",
        "",
    )
    assert f.change_marker(1, "higher") == "✓ better"
    assert f.change_marker(1, "lower") == "✗ worse"
    assert f.change_marker(-1, "lower") == "✓ better"
    assert f.change_marker(0, "lower") == "= unchanged"


def test_sparkline():
    assert f.sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert f.sparkline([5, None, 1]) == "█ ▁"
    assert f.sparkline([3, 3]) == "▄▄"
    assert f.sparkline([None]) == ""


def test_dates():
    assert f.format_date("2026-11-16T00:00:00+01:00", "en") == "Nov 16, 2026"
    assert f.format_date("2026-11-16", "de_DE") == "16.11.2026"
    assert (
        f.format_date_range("2026-11-16T00:00:00+01:00", "2026-11-23T00:00:00+01:00", "en")
        == "Nov 16\u2009–\u200922, 2026"
    )
    assert f.format_date_range("2026-11-16", "2026-11-17", "en") == "Nov 16, 2026"


def test_small_percentages_and_point_changes_get_two_decimals():
    # One decimal would print a churn of 0.38 % against 0.44 % as "0.4% vs 0.4%".
    assert f.format_value(0.38147, "percent") == "0.38%"
    assert f.format_value(2.6, "percent") == "2.6%"
    assert f.format_value(0.0, "percent") == "0.0%"
    assert f.format_delta(-0.0615, None, "percent") == "-0.06 pts"
    assert f.format_delta(-15.48, None, "points") == "-15.5 pts"
    assert f.format_value(0.38147, "percent", "de_DE") == "0,38\xa0%"


def test_a_change_that_rounds_to_zero_has_no_sign():
    """Seen in the Malayalam demo digest: a segment's -0.004 pts printed as "-0.00 pts"."""
    from kpicore.presentation.formatting import format_change

    assert format_change(-0.004, None, "percent") == "0.00 pts"
    assert (
        format_change(0.0, None, "percent") == "0.0 pts"
        and format_change(-0.01, None, "percent") == "-0.01 pts"
    )
    assert format_change(-0.04, None, "points") == "-0.04 pts"
