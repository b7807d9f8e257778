"""Files as exported, the pure rules (kpicore.connectors.exported): time text and amounts read per column.

Each case names the rule of docs/configuration.md "Files as exported" it covers; the expected values are
worked out by hand from the text.
"""

from __future__ import annotations

import datetime as dt

import pytest

from kpicore.connectors.exported import (
    DAY_FIRST,
    MIXED_FORMATS,
    MIXED_SEPARATORS,
    MONTH_FIRST,
    NOT_A_NUMBER,
    NOT_A_TIME,
    YEAR_FIRST,
    infer_numbers,
    infer_times,
    locale_order,
)

D = dt.datetime


@pytest.mark.parametrize(
    ("values", "order", "decided_by", "expected"),
    [
        # Rule "time text": a second field over 12 makes the column month first (a US CRM export).
        (
            ["11/17/2026 9:30 AM", "11/05/2026 12:15 PM", "01/02/2026 12:00 AM"],
            MONTH_FIRST,
            "values",
            [D(2026, 11, 17, 9, 30), D(2026, 11, 5, 12, 15), D(2026, 1, 2, 0, 0)],
        ),
        # A first field over 12 makes it day first (a European till export), with seconds.
        (
            ["17.11.2026 14:05", "05.11.2026 08:00:30"],
            DAY_FIRST,
            "values",
            [D(2026, 11, 17, 14, 5), D(2026, 11, 5, 8, 0, 30)],
        ),
        # D-M-Y, and two-digit years as strptime's %y: 26 is 2026, 69 is 1969.
        (["17-11-26", "01-02-69"], DAY_FIRST, "values", [D(2026, 11, 17), D(1969, 2, 1)]),
        # Y/M/D and ISO 8601 (an offset is converted to UTC) are one year-first format.
        (
            ["2026/11/17 14:05", "2026-11-18T09:00:00+01:00", "2026-11-19"],
            YEAR_FIRST,
            "values",
            [D(2026, 11, 17, 14, 5), D(2026, 11, 18, 8, 0, tzinfo=dt.UTC), D(2026, 11, 19)],
        ),
    ],
)
def test_time_formats_inferred_from_the_columns_values(values, order, decided_by, expected):
    column = infer_times(values)
    assert (column.order, column.decided_by) == (order, decided_by)
    assert column.values == expected
    assert column.left_out == {}


def test_a_column_that_never_decides_follows_the_locales_short_date_order():
    # Rule "time text": 05/06/2026 is 6 May in en_US (M/d/yy), 5 June in de (dd.MM.yy).
    assert locale_order("en") == locale_order("en_US") == MONTH_FIRST
    assert locale_order("de") == DAY_FIRST
    assert locale_order("fa_IR") == YEAR_FIRST
    us = infer_times(["05/06/2026", "07/08/2026"], locale="en_US")
    de = infer_times(["05/06/2026", "07/08/2026"], locale="de")
    assert (us.values, us.decided_by) == ([D(2026, 5, 6), D(2026, 7, 8)], "locale")
    assert (de.values, de.decided_by) == ([D(2026, 6, 5), D(2026, 8, 7)], "locale")


def test_a_mixed_column_leaves_out_the_minority_never_guessing():
    # Rule "time text": three values say day first (17, 18, 25 > 12), one says month first (11/30): the
    # month-first one and the ISO one are left out; 03/04 follows the majority (3 April).
    values = ["17/11/2026", "18/11/2026", "25/12/2026", "11/30/2026", "03/04/2026", "2026-11-20", "soon", ""]
    column = infer_times(values)
    assert column.order == DAY_FIRST
    assert column.values[:3] == [D(2026, 11, 17), D(2026, 11, 18), D(2026, 12, 25)]
    assert column.values[4] == D(2026, 4, 3)
    assert column.left_out == {3: MIXED_FORMATS, 5: MIXED_FORMATS, 6: NOT_A_TIME}
    assert column.values[7] is None and 7 not in column.left_out  # an empty cell is no value, not bad


def test_impossible_dates_and_hours_are_left_out():
    column = infer_times(["31.02.2026", "17.11.2026 13:00 PM", "17.11.2026 25:00"])
    assert column.left_out == {0: NOT_A_TIME, 1: NOT_A_TIME, 2: NOT_A_TIME}


def test_digits_of_every_script_and_solar_hijri_dates():
    # Rule "digits": Persian ۱۷/۱۱/۲۰۲۶, Bengali ১৭.১১.২০২৬ and Malayalam ൧൭.൧൧.൨൦൨൬ are 17 Nov 2026.
    assert infer_times(["۱۷/۱۱/۲۰۲۶ ۱۴:۰۵"]).values == [D(2026, 11, 17, 14, 5)]
    assert infer_times(["১৭.১১.২০২৬"]).values == [D(2026, 11, 17)]
    assert infer_times(["൧൭.൧൧.൨൦൨൬"]).values == [D(2026, 11, 17)]
    assert infer_times(["१७.११.२०२६", "١٧.١١.٢٠٢٦"]).values == [D(2026, 11, 17)] * 2
    # Rule "time text", calendar = "persian": 1405/08/26 is 17 November 2026; 1405/02/31 (a day
    # Gregorian February lacks) is 21 May 2026; a year over 1700 stays Gregorian.
    persian = infer_times(["۱۴۰۵/۰۸/۲۶ ۰۹:۳۰", "1405-02-31", "2026/11/18"], persian=True)
    assert persian.values == [D(2026, 11, 17, 9, 30), D(2026, 5, 21), D(2026, 11, 18)]


def test_an_explicit_format_overrides_the_inference():
    # Rule "time text": formats = { signup_at = "%m.%d.%Y %H:%M" } reads 11.05 as 5 November.
    column = infer_times(["11.05.2026 10:00", "17.11.2026 10:00"], format="%m.%d.%Y %H:%M")
    assert column.values == [D(2026, 11, 5, 10, 0), None]
    assert column.left_out == {1: NOT_A_TIME}


def test_date_columns_read_days():
    assert infer_times(["17.11.2026", "18.11.2026 23:59"], with_time=False).values == [
        dt.date(2026, 11, 17),
        dt.date(2026, 11, 18),
    ]


@pytest.mark.parametrize(
    ("values", "decimal", "expected"),
    [
        # Rule "amounts": '1.234,50' shows a comma decimal; the column follows it ('30,00 €' is 30).
        (["1.234,50 €", "30,00 €", "(10,00) €", "12,00-"], ",", [1234.5, 30.0, -10.0, -12.0]),
        # '1,234.50' and '$30.00' in a dot-decimal column; codes and spaces ignored; -12.00 negative.
        (["1,234.50", "$30.00", "USD 1 000.25", "-12.00", "EUR 7"], ".", [1234.5, 30.0, 1000.25, -12.0, 7.0]),
        # Rule "digits": Persian digits with ٫ (decimal) and ٬ (group); Bengali and Malayalam digits.
        (["۱٬۲۳۴٫۵۰ ریال", "৳ ১২.৫০", "₹ ൧൨൩.൪൫"], ".", [1234.5, 12.5, 123.45]),
    ],
)
def test_amounts(values, decimal, expected):
    column = infer_numbers(values)
    assert column.decimal == decimal
    assert column.values == pytest.approx(expected)
    assert column.left_out == {}


def test_amounts_the_column_does_not_decide_follow_the_locale_or_the_override():
    # '1.234' is a thousand either way round: nothing in the column decides, so the locale does.
    assert infer_numbers(["1.234", "12"], locale="de").values == [1234.0, 12.0]
    assert infer_numbers(["1.234", "12"], locale="en").values == [1.234, 12.0]
    # Rule "amounts": decimal = "," in kpi.toml.
    assert infer_numbers(["1.234", "2,5"], decimal=",").values == [1234.0, 2.5]


def test_amounts_that_do_not_parse_are_left_out_with_a_reason():
    column = infer_numbers(["12,50", "3,00", "7,25", "1,234.50", "abc", "1.23,4", ""])
    assert column.decimal == ","
    assert column.values[:3] == [12.5, 3.0, 7.25]
    assert column.left_out == {3: MIXED_SEPARATORS, 4: NOT_A_NUMBER, 5: NOT_A_NUMBER}
