"""Values as spreadsheets and tills export them: time text and amounts, read by rules inferred per column.

Pure functions over plain values (no file, no database): ``infer_times`` decides one column's time
format from all its values and reads each value by it; ``infer_decimal`` and ``read_amount`` do the same
for amounts. A value the column's format does not read is left out with a reason, never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

#: The digits of the scripts kpicore's languages write (Persian, Arabic-Indic, Bengali, Devanagari,
#: Malayalam) as ASCII digits; the Persian decimal and group separators are kept for read_amount.
_ZEROS = (0x06F0, 0x0660, 0x09E6, 0x0966, 0x0D66)
DIGITS = str.maketrans({chr(zero + i): str(i) for zero in _ZEROS for i in range(10)})
PERSIAN_DECIMAL, PERSIAN_GROUP = "٫", "٬"

#: Reasons a value is left out (the ``reason`` of JSON's ``left_out``).
NOT_A_TIME = "not a time"
MIXED_FORMATS = "another format than the column's"
NOT_A_NUMBER = "not a number"
MIXED_SEPARATORS = "other separators than the column's"

#: The first year ``calendar = "persian"`` reads as Gregorian: dates written before it are Solar Hijri.
PERSIAN_BEFORE = 1700

_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)
_NUMERIC_CLOCK = re.compile(
    r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})"
    r"(?:(?:[T ]|,\s*)\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(?:\s*([AaPp])\.?[Mm]\.?)?)?"
)

#: Column formats: year first (ISO and Y/M/D), day first (D.M.Y, D/M/Y, D-M-Y), month first (M/D/Y).
YEAR_FIRST, DAY_FIRST, MONTH_FIRST = "year first", "day first", "month first"


@dataclass
class TimeColumn:
    """One column's values read as times: ``values[i]`` is a datetime (naive: in the source's timezone),
    a date, or None; ``left_out`` maps a row index to its reason."""

    values: list
    left_out: dict[int, str] = field(default_factory=dict)
    order: str | None = None  # YEAR_FIRST, DAY_FIRST or MONTH_FIRST (None: ISO text or no values)
    #: "values" when the column's own values decided day versus month, "locale" when the locale did.
    decided_by: str | None = None
    format: str | None = None  # a strptime format given in kpi.toml


def digits(text: str) -> str:
    """``text`` with the digits of every supported script as ASCII digits."""
    return text.translate(DIGITS)


def locale_order(locale: str) -> str:
    """DAY_FIRST, MONTH_FIRST or YEAR_FIRST: the order of the locale's CLDR short date (Babel)."""
    from babel import Locale, UnknownLocaleError
    from babel.dates import get_date_format

    try:
        pattern = get_date_format("short", locale=Locale.parse(locale.replace("-", "_"))).pattern
    except (UnknownLocaleError, ValueError):
        pattern = "M/d/yy"
    letters = [c for c in pattern if c in "dMy"]
    order = "".join(dict.fromkeys(letters))
    if order.startswith("y"):
        return YEAR_FIRST
    return DAY_FIRST if order.index("d") < order.index("M") else MONTH_FIRST


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:  # strptime's %y: 00-68 are 2000s, 69-99 1900s
        return year + (2000 if year <= 68 else 1900)
    return year


def _shape(text: str):
    """(order evidence, match) of a numeric date: YEAR_FIRST, DAY_FIRST, MONTH_FIRST or None (either)."""
    match = _NUMERIC_CLOCK.fullmatch(text)
    if match is None:
        return None, None
    first, _, second, third = match.group(1, 2, 3, 4)
    if len(first) >= 3:
        return (YEAR_FIRST, match) if len(third) <= 2 else (None, None)
    if len(third) < 2 or len(second) > 2:
        return None, None
    a, b = int(first), int(second)
    if a > 12 and b <= 12:
        return DAY_FIRST, match
    if b > 12 and a <= 12:
        return MONTH_FIRST, match
    if a > 12 and b > 12:
        return None, None
    return "either", match


def _clock(match) -> tuple[int, int, int, int] | None:
    hour, minute, second, fraction, half = match.group(5, 6, 7, 8, 9)
    if hour is None:
        return 0, 0, 0, 0
    hour, minute = int(hour), int(minute)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half in "Pp" else 0)
    micro = int((fraction or "0").ljust(6, "0")[:6])
    return hour, minute, int(second or 0), micro


def _numeric(match, order: str, persian: bool, with_time: bool):
    first, second, third = match.group(1), match.group(3), match.group(4)
    if order == YEAR_FIRST:
        year, month, day = _year(first), int(second), int(third)
    elif order == DAY_FIRST:
        day, month, year = int(first), int(second), _year(third)
    else:
        month, day, year = int(first), int(second), _year(third)
    clock = _clock(match)
    if clock is None:
        return None
    try:
        if persian and year < PERSIAN_BEFORE:
            import jdatetime

            date = jdatetime.date(year, month, day).togregorian()
        else:
            date = dt.date(year, month, day)
        if not with_time:
            return date
        return dt.datetime(date.year, date.month, date.day, *clock)
    except ValueError:
        return None


def _iso(text: str, with_time: bool):
    try:
        value = dt.datetime.fromisoformat(text.replace(",", ".").replace(" ", "T", 1))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value if with_time else value.date()


def infer_times(
    values: list[str | None],
    *,
    locale: str = "en",
    persian: bool = False,
    with_time: bool = True,
    format: str | None = None,
) -> TimeColumn:
    """Read one column of time text by the format its values share (module docstring).

    ``values`` are the cells (None or '' for empty); ``with_time`` False reads dates (a ``date`` column).
    ``format`` (a strptime format, from kpi.toml's ``formats``) overrides the inference.
    """
    texts = [digits(v).strip() if isinstance(v, str) else v for v in values]
    if format is not None:
        return _by_format(texts, format, with_time)
    evidence: Counter = Counter()
    shapes: list = []
    for text in texts:
        if not text:
            shapes.append(None)
            continue
        if _ISO.fullmatch(text) and not (persian and int(text[:4]) < PERSIAN_BEFORE):
            shapes.append(("iso", None))
            evidence[YEAR_FIRST] += 1
            continue
        order, match = _shape(text)
        shapes.append((order, match) if match is not None else ("bad", None))
        if order in (YEAR_FIRST, DAY_FIRST, MONTH_FIRST):
            evidence[order] += 1
        elif order == "either":
            evidence["either"] += 1
    order, decided_by = _column_order(evidence, locale)
    column = TimeColumn([None] * len(texts), order=order, decided_by=decided_by)
    for index, (text, shape) in enumerate(zip(texts, shapes, strict=True)):
        if shape is None or text is None:
            continue
        kind, match = shape
        if kind == "iso" and order == YEAR_FIRST:
            value = _iso(text, with_time)
        elif kind == "bad" or (match is None and kind != "iso"):
            value = None
        elif order is not None and (
            kind == order or (kind == "either" and order in (DAY_FIRST, MONTH_FIRST))
        ):
            value = _numeric(match, order, persian, with_time)
        else:
            column.left_out[index] = MIXED_FORMATS
            continue
        if value is None:
            column.left_out[index] = NOT_A_TIME
        column.values[index] = value
    return column


def _column_order(evidence: Counter, locale: str) -> tuple[str | None, str | None]:
    """The column's order: the majority of the values that decide it; day versus month by the locale
    when no value decides (a value over 12 in the first or second field does)."""
    decided = {k: evidence[k] for k in (YEAR_FIRST, DAY_FIRST, MONTH_FIRST) if evidence[k]}
    either = evidence["either"]
    if not decided and not either:
        return None, None
    day_month = decided.get(DAY_FIRST, 0) + decided.get(MONTH_FIRST, 0) + either
    if decided.get(YEAR_FIRST, 0) > day_month:
        return YEAR_FIRST, "values"
    if decided.get(DAY_FIRST, 0) or decided.get(MONTH_FIRST, 0):
        day_first = decided.get(DAY_FIRST, 0) >= decided.get(MONTH_FIRST, 0)
        return (DAY_FIRST if day_first else MONTH_FIRST), "values"
    by_locale = locale_order(locale)
    # A year-first locale (fa_IR: y/M/d) still writes the month before the day.
    return (MONTH_FIRST if by_locale == YEAR_FIRST else by_locale), "locale"


def _by_format(texts: list, format: str, with_time: bool) -> TimeColumn:
    column = TimeColumn([None] * len(texts), format=format)
    for index, text in enumerate(texts):
        if not text:
            continue
        try:
            value = dt.datetime.strptime(text, format)
        except ValueError:
            column.left_out[index] = NOT_A_TIME
            continue
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        column.values[index] = value if with_time else value.date()
    return column


# -- amounts ------------------------------------------------------------------------------------------

#: Currency signs and words an amount may carry (ISO codes are any three capital letters).
_CURRENCY = re.compile(r"[A-Z]{3}|ریال|تومان|টাকা|[$€£¥₹৳₦﷼₽₩₺₪₫฿₴₱¢]|\s+|'|’")
_AMOUNT = re.compile(r"(\d[\d.,]*|[.,]\d+)")


@dataclass
class NumberColumn:
    """One column's values read as numbers; ``left_out`` maps a row index to its reason."""

    values: list
    left_out: dict[int, str] = field(default_factory=dict)
    decimal: str = "."
    decided_by: str | None = None  # "values", "locale" or "kpi.toml"


def _strip(text: str) -> tuple[str, bool] | None:
    """The digits and separators of an amount, and whether it is negative; None when not an amount."""
    text = digits(text).replace("\u2212", "-").strip()
    text = _CURRENCY.sub("", text.replace("\u00a0", " ").replace("\u202f", " "))
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    elif text.endswith("-"):
        negative, text = True, text[:-1]
    if text.startswith("-"):
        negative, text = not negative, text[1:]
    elif text.startswith("+"):
        text = text[1:]
    text = _CURRENCY.sub("", text)
    if not _AMOUNT.fullmatch(text.replace(PERSIAN_DECIMAL, ".").replace(PERSIAN_GROUP, ",")):
        return None
    return text, negative


def _decimal_of(text: str) -> str | None:
    """'.' or ',' when the amount shows which separator is the decimal one, else None."""
    if PERSIAN_DECIMAL in text or PERSIAN_GROUP in text:
        return None
    dot, comma = text.rfind("."), text.rfind(",")
    if dot >= 0 and comma >= 0:
        return "." if dot > comma else ","
    mark = "." if dot >= 0 else "," if comma >= 0 else None
    if mark is None:
        return None
    if text.count(mark) > 1:
        return "," if mark == "." else "."  # a separator written twice groups
    if len(text) - text.rfind(mark) - 1 == 3 and text.index(mark) > 0:
        return None  # 1,234 or 1.234: a thousand either way
    return mark


def _number(text: str, decimal: str) -> float | None:
    group = "," if decimal == "." else "."
    text = text.replace(PERSIAN_GROUP, "").replace(PERSIAN_DECIMAL, decimal)
    whole, _, fraction = text.partition(decimal)
    if decimal in fraction or group in fraction:
        return None
    parts = whole.split(group)
    if len(parts) > 1 and (any(len(p) != 3 for p in parts[1:]) or not parts[0]):
        return None
    try:
        return float("".join(parts) + ("." + fraction if fraction else ""))
    except ValueError:
        return None


def locale_decimal(locale: str) -> str:
    """The locale's decimal separator, as '.' or ',' (Babel's CLDR data)."""
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_decimal_symbol

    try:
        symbol = get_decimal_symbol(Locale.parse(locale.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return "."
    return "," if symbol in (",", PERSIAN_DECIMAL) else "."


def infer_numbers(values: list, *, locale: str = "en", decimal: str | None = None) -> NumberColumn:
    """Read one column of amounts: currency signs, codes and spaces ignored, '(12.00)' and '12.00-'
    negative, the decimal separator that of the column's values (``decimal`` overrides, else the locale's
    when no value shows it); a value showing the other one is left out."""
    stripped: list[float | tuple[str, bool] | str | None] = []
    votes: Counter = Counter()
    seen: dict[str, tuple[str, bool] | str] = {}  # amounts repeat (prices): each distinct text is read once
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            stripped.append(float(value))
            continue
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            stripped.append(None)
            continue
        parts = seen.get(text)
        if parts is None:
            parts = seen[text] = _strip(text) or ""
        stripped.append(parts)
        if parts and decimal is None:
            mark = _decimal_of(parts[0])
            if mark:
                votes[mark] += 1
    if decimal is not None:
        decided_by = "kpi.toml"
    elif votes:
        decimal, decided_by = ("," if votes[","] > votes["."] else "."), "values"
    else:
        decimal, decided_by = locale_decimal(locale), "locale"
    column = NumberColumn([None] * len(values), decimal=decimal, decided_by=decided_by)
    for index, entry in enumerate(stripped):
        if entry is None:
            continue
        if isinstance(entry, float):
            column.values[index] = entry
            continue
        if isinstance(entry, str):  # "" : not an amount
            column.left_out[index] = NOT_A_NUMBER
            continue
        text, negative = entry
        mark = _decimal_of(text)
        number = _number(text, decimal) if mark in (None, decimal) else None
        if number is None:
            column.left_out[index] = MIXED_SEPARATORS if mark not in (None, decimal) else NOT_A_NUMBER
            continue
        column.values[index] = -number if negative else number
    return column
