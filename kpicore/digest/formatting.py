"""Locale-aware formatting of metric values, changes and dates for digests (Babel).

Every function takes the locale as a string (``"en"``, ``"de_DE"``); Babel is imported
inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import math

#: Arrows for the direction of a change: up, down, flat.
ARROW_UP, ARROW_DOWN, ARROW_FLAT = "▲", "▼", "▶"
#: Colour-free markers saying whether a change is good or bad for the business.
MARK_BETTER, MARK_WORSE, MARK_SAME = "✓ better", "✗ worse", "= unchanged"
SPARK_BARS = "▁▂▃▄▅▆▇█"

_SIGNED_ONE_DECIMAL = "+#,##0.0;-#,##0.0"
_SIGNED_TWO_DECIMALS = "+#,##0.00;-#,##0.00"


def _is_whole(value: float) -> bool:
    return float(value).is_integer()


def format_number(value: float | None, locale: str = "en", *, decimals: int | None = None) -> str:
    """A plain number with grouping: ``12,345`` or ``12.5`` (``12.345`` / ``12,5`` in de_DE)."""
    from babel.numbers import format_decimal

    if value is None:
        return "–"
    if decimals is None:
        pattern = "#,##0" if _is_whole(value) else "#,##0.##"
    else:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=locale)


def small_value_decimals(value: float) -> int:
    """Decimals for a percentage or a change in points: two below 1 (0.38 %, -0.06 pts), where one
    decimal would show 0.4 % against 0.4 %; one otherwise."""
    return 2 if 0 < abs(value) < 1 else 1


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


def format_value(value: float | None, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """A metric value in its unit for ``locale``.

    ``percent`` values are percentages already (42.5 means 42.5 %); ``points`` (NPS) are
    signed; ``currency`` uses the given ISO code; ``minutes`` get a ``min`` suffix.
    """
    from babel.numbers import format_currency, format_decimal

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "currency":
        return format_currency(value, currency, locale=locale)
    if unit == "percent":
        return _format_percent(value / 100.0, locale)
    if unit == "points":
        if value == 0:
            return format_decimal(0, format="0.0", locale=locale)
        return format_decimal(value, format=_SIGNED_ONE_DECIMAL, locale=locale)
    if unit == "minutes":
        return f"{format_number(value, locale, decimals=1)} min"
    if unit == "ratio":
        return format_number(value, locale, decimals=2)
    return format_number(value, locale)


def format_delta(delta: float | None, delta_pct: float | None, unit: str, locale: str = "en") -> str | None:
    """The change against the previous period: ``+2.5 pts`` for percent and points metrics,
    ``+12.5%`` (relative change) for every other unit; None when it cannot be computed."""
    from babel.numbers import format_decimal

    if unit in ("percent", "points"):
        if delta is None:
            return None
        if delta == 0:
            return f"{format_decimal(0, format='0.0', locale=locale)} pts"
        signed = _SIGNED_TWO_DECIMALS if small_value_decimals(delta) == 2 else _SIGNED_ONE_DECIMAL
        return f"{format_decimal(delta, format=signed, locale=locale)} pts"
    if delta_pct is None:
        return None
    return _format_percent(delta_pct / 100.0, locale, signed=True)


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
        return MARK_SAME
    improved = delta > 0 if better != "lower" else delta < 0
    return MARK_BETTER if improved else MARK_WORSE


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


def format_date(value: str | dt.date | dt.datetime, locale: str = "en", fmt: str = "medium") -> str:
    """A date for ``locale``: ``Nov 16, 2026`` (en, medium), ``16.11.2026`` (de_DE, medium)."""
    from babel.dates import format_date as babel_format_date

    return babel_format_date(parse_date(value), format=fmt, locale=locale)


def format_date_range(start: str, end: str, locale: str = "en") -> str:
    """The inclusive date range of a half-open period ``[start, end)``: ``Nov 16 – 22, 2026``."""
    from babel.dates import format_interval

    first = parse_date(start)
    last = parse_date(end) - dt.timedelta(days=1)
    last = max(last, first)
    if first == last:
        return format_date(first, locale)
    return format_interval(first, last, skeleton="yMMMd", locale=locale)
