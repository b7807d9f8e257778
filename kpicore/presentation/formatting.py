"""The one formatting path: metric values, changes, counts, segment names, chart axes and dates,
for every surface a person reads (``kpi compute`` tables, digests, chat answers).

The API to call:

- ``format_value(value, unit, locale, currency)``: ``€48,210.50``, ``42.5%``, ``+42.0``, ``38.2 min``
- ``format_change(delta, delta_pct, unit, locale, currency)``: ``+6.8%``, ``-2.5 pts``
- ``change_arrow(delta)``, ``change_marker(delta, better)``: ``▲`` / ``✓ better``
- ``format_count(n, noun, locale)``: ``571 orders``, ``1 response``
- ``segment_label(segment, dimension)``: ``no region`` for the group with no value
- ``format_axis_value(value, unit, locale, currency)``: ``$40K``, ``45%`` (chart ticks)
- ``period_tick(label, locale)``: ``Nov 16``, ``Oct``, ``Q3`` (a period as a chart label)
- ``format_list(items)``: ``nps, csat`` / Persian ``nps، csat`` (items joined in the current language)

Every function takes the locale as a string (``"en"``, ``"de_DE"``); Babel is imported
inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar, overload

from kpicore.i18n import _, localize_digits, ngettext, solar_hijri

_Formatter = TypeVar("_Formatter", bound=Callable[..., Any])


def _digits(function: _Formatter) -> _Formatter:
    """Write the text ``function`` returns in the digits in effect (``digits = "native"``)."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        text = function(*args, **kwargs)
        return localize_digits(text) if isinstance(text, str) else text

    return wrapper  # type: ignore[return-value]


#: Arrows for the direction of a change: up, down, flat.
ARROW_UP, ARROW_DOWN, ARROW_FLAT = "▲", "▼", "▶"
#: Colour-free markers saying whether a change is good or bad for the business.
MARK_BETTER, MARK_WORSE, MARK_SAME = "✓ better", "✗ worse", "= unchanged"
SPARK_BARS = "▁▂▃▄▅▆▇█"
#: Units whose change is shown in points only (no relative change).
POINT_UNITS = ("percent", "points")

_SIGNED_ONE_DECIMAL = "+#,##0.0;-#,##0.0"
_SIGNED_TWO_DECIMALS = "+#,##0.00;-#,##0.00"


#: The comma that joins a list, by language (Persian writes the Arabic comma, U+060C).
LIST_COMMAS = {"fa": "\u060c ", "ar": "\u060c ", "ur": "\u060c "}


def format_list(items: Iterable[str], locale: str | None = None, *, sep: str = ", ") -> str:
    """``items`` joined with the comma of ``locale`` (default: the language in effect): ``a, b`` or,
    in Persian, ``a، b``. ``sep`` is the separator in languages without one of their own (``"; "``
    joins sentences: Persian has ``؛``)."""
    from kpicore.i18n import current_locale, language

    lang = language(locale or current_locale())
    if lang in LIST_COMMAS:
        sep = LIST_COMMAS[lang] if sep.strip() == "," else sep.replace(";", "\u061b")
    return sep.join(items)


def _grouped(pattern: str, locale: str) -> str:
    """``pattern`` with the locale's digit grouping: Indian grouping (``12,34,567``) where the locale
    groups by two above the thousands (ml_IN, bn_BD, hi_IN), the pattern unchanged elsewhere."""
    from babel import Locale
    from babel.numbers import parse_pattern

    grouping = parse_pattern(Locale.parse(locale).decimal_formats[None].pattern).grouping
    if grouping == (3, 2) and "#,##,##0" not in pattern:
        return pattern.replace("#,##0", "#,##,##0")
    return pattern


def _is_whole(value: float) -> bool:
    return float(value).is_integer()


@_digits
def format_number(value: float | None, locale: str = "en", *, decimals: int | None = None) -> str:
    """A plain number with grouping: ``12,345`` or ``12.5`` (``12.345`` / ``12,5`` in de_DE)."""
    from babel.numbers import format_decimal

    if value is None:
        return "–"
    if decimals is None:
        pattern = "#,##0" if _is_whole(value) else "#,##0.##"
    else:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=_grouped(pattern, locale), locale=locale)


def _own_decimals(value: float) -> int:
    return 2 if 0 < abs(value) < 1 else 1


def small_value_decimals(value: float) -> int:
    """Decimals for a percentage or a change in points: two below 1 (0.38 %, -0.06 pts), where one
    decimal would show 0.4 % against 0.4 %; one otherwise; at least what :func:`same_decimals` asks."""
    return max(_own_decimals(value), _DECIMALS.get())


#: The decimals every percentage and point value has while :func:`same_decimals` is in effect.
_DECIMALS: ContextVar[int] = ContextVar("kpicore_same_decimals", default=0)


@contextmanager
def same_decimals(values: Iterable[float | None], unit: str):
    """Within it, the percentages of a ``percent`` metric and their changes in points all show as many
    decimals as the one of ``values`` that needs the most: ``1.13% vs 1.20%: -0.07 pts``, a breakdown's ``4.87%,
    0.71%, 0.00%``; never ``1.1% vs 1.2%: -0.07 pts``."""
    if unit != "percent":  # scores (NPS) keep their one decimal; their changes are rarely below a point
        yield
        return
    needed = max((_own_decimals(v) for v in values if v is not None), default=1)
    token = _DECIMALS.set(needed)
    try:
        yield
    finally:
        _DECIMALS.reset(token)


def _format_percent(fraction: float, locale: str, *, signed: bool = False) -> str:
    """A fraction (0.425) as the locale's percent pattern: ``42.5%`` / ``42,5 %``, ``0.38%``."""
    from babel import Locale
    from babel.numbers import parse_pattern

    pattern = parse_pattern(Locale.parse(locale).percent_formats[None].pattern)
    decimals = small_value_decimals(fraction * 100)
    pattern.frac_prec = (decimals, decimals)
    if signed and fraction != 0:
        pattern.prefix = ("+" + pattern.prefix[0], pattern.prefix[1])
    return pattern.apply(fraction, locale)


@_digits
def format_value(value: float | None, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """A metric value in its unit for ``locale``.

    ``percent`` values are percentages already (42.5 means 42.5 %); ``points`` (NPS) are
    signed; ``currency`` uses the given ISO code; ``minutes`` get a ``min`` suffix.
    """
    from babel.numbers import format_currency, format_decimal

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "currency":
        from babel import Locale

        standard = Locale.parse(locale).currency_formats["standard"].pattern
        return format_currency(
            value, currency, format=_grouped(standard, locale), locale=locale, currency_digits=True
        )
    if unit == "percent":
        return _format_percent(value / 100.0, locale)
    if unit == "points":
        two = _DECIMALS.get() == 2
        if value == 0:
            return format_decimal(0, format="0.00" if two else "0.0", locale=locale)
        signed = _SIGNED_TWO_DECIMALS if two else _SIGNED_ONE_DECIMAL
        return format_decimal(value, format=_grouped(signed, locale), locale=locale)
    if unit == "minutes":
        return _("%(number)s min") % {"number": format_number(value, locale, decimals=1)}
    if unit == "ratio":
        return format_number(value, locale, decimals=2)
    return format_number(value, locale)


@overload
def format_change(
    delta: float, delta_pct: float | None, unit: str, locale: str = ..., currency: str = ...
) -> str: ...
@overload
def format_change(
    delta: float | None, delta_pct: float | None, unit: str, locale: str = ..., currency: str = ...
) -> str | None: ...
@_digits
def format_change(
    delta: float | None, delta_pct: float | None, unit: str, locale: str = "en", currency: str = "USD"
) -> str | None:
    """The change against the previous period: ``+2.5 pts`` for percent and points metrics (a point
    change only: a relative change of a rate or score is noise), ``+12.5%`` (relative change) for
    every other unit, the change in the unit (``+€120.00``) when the previous value was 0; None
    when there is nothing to compare."""
    from babel.numbers import format_decimal

    if delta_pct is None and delta is not None and unit not in POINT_UNITS:
        if delta == 0:
            return _format_percent(0.0, locale)
        text = format_value(abs(delta), unit, locale, currency)
        return ("+" if delta > 0 else "-") + text
    if unit in POINT_UNITS:
        if delta is None:
            return None
        decimals = small_value_decimals(delta) if delta else _DECIMALS.get()
        if round(delta, 2 if decimals == 2 else 1) == 0:  # -0.004 is 0.00 pts, never "-0.00 pts"
            zero = "0.00" if decimals == 2 else "0.0"
            return _("%(number)s pts") % {"number": format_decimal(0, format=zero, locale=locale)}
        signed = _SIGNED_TWO_DECIMALS if decimals == 2 else _SIGNED_ONE_DECIMAL
        return _("%(number)s pts") % {"number": format_decimal(delta, format=signed, locale=locale)}
    if delta_pct is None:
        return None
    return _format_percent(delta_pct / 100.0, locale, signed=True)


def format_change_from(
    value: float | None, before: float | None, unit: str, locale: str = "en", currency: str = "USD"
) -> str | None:
    """``format_change`` from ``before`` to ``value`` (a segment against its previous value, or the
    year before)."""
    from kpicore.results import change, relative_change

    return format_change(change(value, before), relative_change(value, before, unit), unit, locale, currency)


def format_delta(delta: float | None, delta_pct: float | None, unit: str, locale: str = "en") -> str | None:
    """``format_change`` without a previous-was-zero fallback: None when there is no relative change."""
    if unit not in POINT_UNITS and delta_pct is None:
        return None
    return format_change(delta, delta_pct, unit, locale)


def singular(noun: str) -> str:
    """The singular of a plural English noun kpicore uses for counts: responses -> response,
    entries -> entry, customers -> customer."""
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("sses", "shes", "ches")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def noun_text(noun: str, n: int) -> str:
    """The noun a count counts, in the current language: ``orders`` / ``order`` (English msgids are the
    plural nouns metrics declare, ``n_noun``; the singular form is derived for English only)."""
    translated = _(noun)
    if translated != noun:
        return translated
    return singular(noun) if n == 1 else noun


@_digits
def format_count(n: int | None, noun: str = "records", locale: str = "en") -> str:
    """A count with what it counts: ``571 orders``, ``1 response``, ``–`` when unknown."""
    if n is None:
        return "–"
    return _("%(count)s %(noun)s") % {"count": format_number(n, locale), "noun": noun_text(noun, n)}


#: The segment holding records with no customer or no value for the dimension.
NONE_SEGMENT = "(none)"


def segment_label(segment: str, dimension: str | None) -> str:
    """How people read a segment's name: ``no region`` for the group with no value, else the name."""
    if segment == NONE_SEGMENT:
        return _("no %(dimension)s") % {"dimension": _((dimension or "value").replace("_", " "))}
    return segment


@_digits
def format_axis_value(
    value: float,
    unit: str,
    locale: str = "en",
    currency: str = "USD",
    *,
    decimals: int | None = None,
    latin: bool = False,
) -> str:
    """A short tick label in the metric's unit: ``$40K``, ``€1.2M``, ``45%``, ``0.5%``, ``+10``, ``30 min``.

    ``decimals`` fixes the decimals of percent, points, minutes and plain numbers, so the ticks of
    one axis all look alike. ``latin`` never abbreviates with letters outside Latin script (a chart
    font cannot draw Bengali ``হা``): the whole number instead."""
    from babel.numbers import (
        format_compact_currency,
        format_compact_decimal,
        format_decimal,
        get_currency_symbol,
    )

    if unit == "currency":
        if (lakh := _lakh_compact(value, currency, locale)) is not None:
            return lakh
        if abs(value) >= 1000:
            compact = format_compact_currency(value, currency, locale=locale, fraction_digits=1)
            letters = [c for c in compact.replace(get_currency_symbol(currency, locale), "") if c.isalpha()]
            if letters and not (latin and any(not c.isascii() for c in letters)):
                return compact
            if latin and abs(value) >= 1_000_000:  # billions of rials: Latin abbreviations, not 12 digits
                return f"{format_compact_decimal(value, locale='en', fraction_digits=1)} {currency}"
        # Below a thousand (or where the locale abbreviates only millions): whole units, grouped.
        return _currency_whole(value, currency, locale)
    fraction = "#,##0" + ("." + "0" * decimals if decimals else "") if decimals is not None else "#,##0.#"
    if unit == "percent":
        if decimals is not None:
            return _percent_with(value, locale, decimals)
        return (
            _format_percent(value / 100.0, locale)
            if not float(value).is_integer()
            else _percent_with(value, locale, 0)
        )
    if unit == "points":
        if value == 0:
            return format_decimal(0, format=fraction, locale=locale)
        return format_decimal(value, format=f"+{fraction};-{fraction}", locale=locale)
    if unit == "minutes":
        return _("%(number)s min") % {"number": format_decimal(value, format=fraction, locale=locale)}
    if abs(value) >= 10_000:
        compact = format_compact_decimal(value, locale=locale, fraction_digits=1)
        letters = [c for c in compact if c.isalpha()]
        if letters and not (latin and any(not c.isascii() for c in letters)):
            return compact
    return format_decimal(value, format=fraction if decimals is not None else "#,##0.##", locale=locale)


def _lakh_compact(value: float, currency: str, locale: str) -> str | None:
    """``₹30.6L``, ``৳1.2Cr``: an amount in lakhs or crores where the locale groups digits that way
    (``₹30,56,482.70``), so that the axis reads like the values beside it (never ``₹3M``); None
    elsewhere and below a lakh. Latin letters and digits, which every chart font draws."""
    from babel import Locale
    from babel.numbers import format_decimal, get_currency_symbol

    if Locale.parse(locale).decimal_formats[None].grouping != (3, 2):
        return None
    for size, suffix in ((10_000_000, "Cr"), (100_000, "L")):
        if abs(value) >= size:
            number = format_decimal(value / size, format="#,##0.#", locale="en")
            return f"{get_currency_symbol(currency, locale)}{number}{suffix}"
    return None


def _currency_whole(value: float, currency: str, locale: str) -> str:
    from babel import Locale
    from babel.numbers import parse_pattern

    pattern = parse_pattern(Locale.parse(locale).currency_formats["standard"].pattern)
    pattern.frac_prec = (0, 0)
    return pattern.apply(value, locale, currency=currency, currency_digits=False)


def _percent_with(value: float, locale: str, decimals: int) -> str:
    from babel import Locale
    from babel.numbers import parse_pattern

    pattern = parse_pattern(Locale.parse(locale).percent_formats[None].pattern)
    pattern.frac_prec = (decimals, decimals)
    return pattern.apply(value / 100.0, locale)


@_digits
def period_tick(label: str, locale: str = "en", *, numeric: bool = False) -> str:
    """A period label as a person reads it on a chart: ``2026-W47`` -> ``Nov 16`` (the week's first
    day), ``2026-11`` -> ``Nov``, ``2026-Q3`` -> ``Q3``, ``2026-11-23`` -> ``Nov 23``, ``2026`` -> ``2026``.
    Anything else is returned as it is. ``numeric`` gives days as ``16/11`` (charts in scripts the chart
    fonts cannot draw: month names in Malayalam or Bengali)."""
    import re

    from babel.dates import format_skeleton as babel_skeleton

    def format_skeleton(skeleton: str, day: dt.date, locale: str) -> str:
        if skeleton == "MMMd" and solar_hijri(locale):  # a day: its Solar Hijri day and month
            jalali = _jalali(day)
            return (
                f"{jalali.month}/{jalali.day}"
                if numeric
                else f"{jalali.day} {PERSIAN_MONTHS[jalali.month - 1]}"
            )
        if numeric:
            skeleton = {"MMMd": "Md", "MMM": "M"}.get(skeleton, skeleton)
        return babel_skeleton(skeleton, day, locale=locale)

    week = re.fullmatch(r"(\d{4})-W(\d{2})", label)
    if week:
        day = dt.date.fromisocalendar(int(week[1]), int(week[2]), 1)
        return format_skeleton("MMMd", day, locale=locale)
    month = re.fullmatch(r"(\d{4})-(\d{2})", label)
    if month:
        return format_skeleton("MMM", dt.date(int(month[1]), int(month[2]), 1), locale=locale)
    quarter = re.fullmatch(r"(\d{4})-Q([1-4])", label)
    if quarter:
        return f"Q{quarter[2]}"
    day_match = re.fullmatch(r"\d{4}-\d{2}-\d{2}", label)
    if day_match:
        return format_skeleton("MMMd", dt.date.fromisoformat(label), locale=locale)
    if period_kind(label) == "week":  # a week starting on Saturday or Sunday (week_start): its first day
        return format_skeleton("MMMd", dt.date.fromisoformat(label[:10]), locale=locale)
    return label


@_digits
def format_span(count: int, period: str, locale: str = "en") -> str:
    """``6 weeks``, ``1 month``, ``3 periods`` (a custom range): ``count`` periods like ``period``."""
    spans = {
        "week": ngettext("%(count)s week", "%(count)s weeks", count),
        "month": ngettext("%(count)s month", "%(count)s months", count),
        "quarter": ngettext("%(count)s quarter", "%(count)s quarters", count),
        "year": ngettext("%(count)s year", "%(count)s years", count),
        "day": ngettext("%(count)s day", "%(count)s days", count),
    }
    text = spans.get(period_kind(period) or "", ngettext("%(count)s period", "%(count)s periods", count))
    return text % {"count": format_number(count, locale)}


def period_kind(label: str) -> str | None:
    """``week``, ``month``, ``quarter``, ``year`` or ``day`` for a period label, None for a custom range."""
    import re

    for kind, pattern in (
        ("week", r"\d{4}-W\d{2}"),
        ("month", r"\d{4}-\d{2}"),
        ("quarter", r"\d{4}-Q[1-4]"),
        ("year", r"\d{4}"),
        ("day", r"\d{4}-\d{2}-\d{2}"),
    ):
        if re.fullmatch(pattern, label):
            return kind
    # A week that does not start on Monday (week_start = "saturday") is labelled by its seven days.
    days = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", label)
    if (
        days
        and (dt.date.fromisoformat(days[2]) - dt.date.fromisoformat(days[1])).days == 6
        and dt.date.fromisoformat(days[1]).weekday() != 0
    ):
        return "week"
    return None


def period_year(label: str) -> str | None:
    """The year of a period label (``2026-W47`` -> ``2026``), None when it has none."""
    return label[:4] if len(label) >= 4 and label[:4].isdigit() else None


def change_arrow(delta: float | None) -> str:
    """▲ for a rise, ▼ for a fall, ▶ for no change (empty when there is nothing to compare)."""
    if delta is None:
        return ""
    if delta > 0:
        return ARROW_UP
    if delta < 0:
        return ARROW_DOWN
    return ARROW_FLAT


def change_marker(delta: float | None, better: str) -> str:
    """``✓ better`` / ``✗ worse`` / ``= unchanged`` given which direction is good ("higher"/"lower")."""
    if delta is None:
        return ""
    if delta == 0:
        return _("= unchanged")
    improved = delta > 0 if better != "lower" else delta < 0
    return _("✓ better") if improved else _("✗ worse")


def sparkline(values: list[float | None]) -> str:
    """A unicode sparkline (``▁▂▃▄▅▆▇█``), one character per value; a missing value is a space."""
    present = [v for v in values if v is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
        elif high == low:
            chars.append(SPARK_BARS[3])
        else:
            index = round((value - low) / (high - low) * (len(SPARK_BARS) - 1))
            chars.append(SPARK_BARS[index])
    return "".join(chars)


def parse_date(value: str | dt.date | dt.datetime) -> dt.date:
    """The calendar date of an ISO 8601 date or timestamp (its own offset kept, not converted)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return (
        dt.datetime.fromisoformat(value).date()
        if "T" in value or " " in value
        else dt.date.fromisoformat(value)
    )


@_digits
def format_date(value: str | dt.date | dt.datetime, locale: str = "en", fmt: str = "medium") -> str:
    """A date for ``locale``: ``Nov 16, 2026`` (en, medium), ``16.11.2026`` (de_DE, medium)."""
    from babel.dates import format_date as babel_format_date

    if solar_hijri(locale):
        return _solar_hijri_date(parse_date(value), fmt)
    return babel_format_date(parse_date(value), format=fmt, locale=locale)


def _jalali(day: dt.date):
    import jdatetime  # only for calendar = "persian"

    return jdatetime.date.fromgregorian(date=day)


#: The Solar Hijri months as Persian writes them (Farvardin ... Esfand).
PERSIAN_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)


def _solar_hijri_date(day: dt.date, fmt: str = "medium") -> str:
    """``1 فروردین 1405`` (medium, long) or ``1405/01/01`` (short) for the Gregorian ``day``."""
    jalali = _jalali(day)
    if fmt == "short":
        return f"{jalali.year}/{jalali.month:02d}/{jalali.day:02d}"
    return f"{jalali.day} {PERSIAN_MONTHS[jalali.month - 1]} {jalali.year}"


def _solar_hijri_range(first: dt.date, last: dt.date) -> str:
    """``25 تا 30 آبان 1405``, ``25 آبان تا 1 آذر 1405``, ``24 اسفند 1404 تا 1 فروردین 1405``: as Babel
    writes Persian Gregorian ranges, with the Solar Hijri day, month and year."""
    start, end = _jalali(first), _jalali(last)
    to = " تا "  # "to"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}{to}{end.day} {PERSIAN_MONTHS[end.month - 1]} {end.year}"
    if start.year == end.year:
        return f"{start.day} {PERSIAN_MONTHS[start.month - 1]}{to}{end.day} {PERSIAN_MONTHS[end.month - 1]} {end.year}"
    return f"{_solar_hijri_date(first)}{to}{_solar_hijri_date(last)}"


@_digits
def format_date_range(start: str, end: str, locale: str = "en") -> str:
    """The inclusive date range of a half-open period ``[start, end)``: ``Nov 16 – 22, 2026``."""
    from babel.dates import format_interval

    first = parse_date(start)
    last = parse_date(end) - dt.timedelta(days=1)
    last = max(last, first)
    if first == last:
        return format_date(first, locale)
    if solar_hijri(locale):
        return _solar_hijri_range(first, last)
    return format_interval(first, last, skeleton="yMMMd", locale=locale)


#: A sign before a currency symbol (``-₦1,833,660.00``, ``+$5``), a week's hyphen (``2025-W49``): a
#: browser may wrap the line after it, which splits the number.
MINUS_BEFORE_SYMBOL = re.compile(r"(?<=\d{4})-(?=W\d)|[-+]\u2069?(?=\S)")


def whole_numbers(text: str) -> str:
    """``text`` with a word joiner (U+2060) after each sign before a currency symbol and after the hyphen
    of a week (``2025-W49``), which a browser could wrap after, so no amount or period is broken
    across lines; what a reader sees is the same."""
    import unicodedata

    def join(match: re.Match[str]) -> str:
        sign, following = match.group(), text[match.end()]
        week = sign == "-" and following == "W" and text[max(0, match.start() - 4) : match.start()].isdigit()
        isolated = sign.endswith("\u2069")  # Persian's "-" isolated before "ریال 3,745,310,000"
        joined = unicodedata.category(following) == "Sc" or week or isolated
        return sign + "\u2060" if joined else sign

    return MINUS_BEFORE_SYMBOL.sub(join, text)
