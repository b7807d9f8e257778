"""Trend charts people read: PNG line charts of a metric's trend for the HTML email and Slack.

What a reader gets: the y axis in the metric's unit and locale (``$40K``, ``45%``, ``+10``), an
honest baseline (zero for counts and currency; for rates, scores and durations a range that is
said to be one, never a fill that turns 0.44 -> 0.49 into a cliff), period labels a person knows
(``Nov 16``, ``Oct``, ``Q3``), the current period highlighted and the previous one marked, and
text sized to stay legible when a phone shows the image 330 px wide. ``chart_alt`` says the same
in words for the image's alt text.
"""

from __future__ import annotations

import io
import re
from itertools import pairwise
from typing import TYPE_CHECKING

from kpicore.i18n import N_, _
from kpicore.presentation import formatting
from kpicore.results import MetricResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Chart size in inches at ``DPI``: 800 x 340 pixels, shown at most 480 px wide (sharp at 2x).
FIGSIZE = (4.0, 1.7)
#: The phone chart: 560 x 400 pixels, shown about 330 px wide on a 390 px phone (the HTML picks it
#: for screens up to ``NARROW_SCREEN`` px). There a point is about 1.6 px and the wide chart's
#: 1.15 px would leave 8 px digits.
NARROW_FIGSIZE = (2.8, 2.0)
NARROW_SCREEN = 480
DPI = 200
#: Font sizes in points: digits are 0.73 of the size, so tick labels are about 12 px tall on the
#: wide chart at 480 px and on the phone chart at 330 px.
TICK_FONT = 10
LABEL_FONT = 11
#: Points between the current period's dot and its value label.
LABEL_OFFSET = 6
LINE_COLOUR = "#2563eb"
PREVIOUS_COLOUR = "#6b7280"
TEXT_COLOUR = "#374151"
#: Units drawn from zero: their values are amounts, and a bar or area from zero is their true size.
ZERO_BASELINE_UNITS = ("count", "currency")
#: The y axis label of a chart whose axis does not start at zero.
NOT_FROM_ZERO = N_("axis not from 0")
#: Languages whose month names the chart fonts cannot draw (complex scripts matplotlib does not shape,
#: Persian's right-to-left joined letters included): numeric period labels.
NUMERIC_TICK_LANGUAGES = frozenset({"ml", "bn", "fa"})
#: At most this many period labels on the x axis (first and last always): more would collide.
MAX_PERIOD_TICKS = 4
NARROW_PERIOD_TICKS = 3


def chart_content_id(metric: str, *, narrow: bool = False) -> str:
    """The Content-ID (without angle brackets) of a metric's chart: ``chart-revenue@kpicore``, and of
    its phone chart ``phone-chart-revenue@kpicore``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", metric)
    return f"{'phone-' if narrow else ''}chart-{safe}@kpicore"


def _present(result: MetricResult) -> list[tuple[int, float]]:
    return [
        (index, float(point.value))
        for index, point in enumerate(result.trend or [])
        if point.value is not None
    ]


def _font_lacks(text: str, bold: bool = False) -> bool:
    """Whether matplotlib's font for chart text has no glyph for some character of ``text`` (the DejaVu
    fonts have no Bengali taka sign, ৳), which it would draw as a box with a "missing from font" warning."""
    from matplotlib import font_manager

    font = font_manager.get_font(
        font_manager.findfont(font_manager.FontProperties(weight="bold" if bold else "normal"))
    )
    return any(font.get_char_index(ord(c)) == 0 for c in text if c.isprintable() and not c.isspace())


def drawable(label: str, currency: str, locale: str, *, bold: bool = False) -> str:
    """``label`` as a chart can draw it: a currency symbol the font lacks (Bengali ৳) or written in letters
    matplotlib cannot join (Persian ریال) becomes the ISO code after the number (``30,000 BDT``)."""
    from babel.numbers import get_currency_symbol

    symbol = get_currency_symbol(currency, locale)
    unshaped = any(c.isalpha() and not c.isascii() for c in symbol)
    if symbol not in label or not (unshaped or _font_lacks(symbol, bold)):
        return label
    number = (
        label.replace(symbol, "").replace("\u200e", "").replace("\u200f", "").replace("\xa0", " ").strip()
    )
    return f"{number} {currency}"


def period_tick_positions(count: int, most: int = MAX_PERIOD_TICKS) -> list[int]:
    """Indexes of the periods to label: the last (the current period) and every ``step``-th before it,
    the same step between all of them (4, 4, 4 weeks; never 4, 3, 4), at most ``most``."""
    if count <= most:
        return list(range(count))
    step = next((s for s in range(1, count) if (count - 1) // s + 1 <= most), count)  # most 1: the last
    return list(range((count - 1) % step, count, step))


def tick_decimals(ticks: list[float]) -> int | None:
    """Decimals that tell every tick apart, the same for all of them (``0.40%, 0.80%, 1.20%``, not
    ``0.40%, 0.80%, 1.2%``); None when the ticks are whole numbers."""
    if len(ticks) < 2 or all(float(t).is_integer() for t in ticks):
        return None
    step = min(abs(b - a) for a, b in pairwise(ticks))
    return next((d for d in range(4) if abs(round(step, d) - step) <= step * 1e-6), 4)


def value_range(values: list[float], unit: str) -> tuple[float, float]:
    """The y range shown: from zero for counts and currency (to zero from below for negative
    amounts); for other units the data's range, widened to at least a span that keeps small
    wiggles small (20 % of the typical value, 10 NPS points, 1 percentage point)."""
    low, high = min(values), max(values)
    if unit in ZERO_BASELINE_UNITS:
        low, high = min(low, 0.0), max(high, 0.0)
        span = (high - low) or 1.0
        return (low - 0.05 * span if low < 0 else 0.0, high + 0.15 * span)
    typical = max(abs(low), abs(high))
    floor = {"points": 10.0, "percent": 1.0}.get(unit, 0.0)
    span = max(high - low, 0.2 * typical, floor) or 1.0
    middle = (low + high) / 2
    low, high = middle - 0.6 * span, middle + 0.6 * span
    if unit in ("percent", "minutes", "ratio") and min(values) >= 0:
        low = max(low, 0.0)  # never below zero for what cannot be negative
    if unit == "percent":
        high = min(high, 100.0) if max(values) <= 100 else high
    return low, high


def trend_figure(
    result: MetricResult, *, locale: str = "en", currency: str = "USD", narrow: bool = False
) -> Figure | None:
    """The matplotlib Figure of ``result.trend`` (oldest first), or None with fewer than two values.

    ``narrow`` draws the phone chart (``NARROW_FIGSIZE``, taller than wide-screen one and with fewer
    period labels) whose text stays legible shown about 330 px wide. Matplotlib (Agg canvas, no
    pyplot: no global state, thread-safe) is imported here because it is slow to import.
    """
    trend = result.trend or []
    present = _present(result)
    if len(present) < 2:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=NARROW_FIGSIZE if narrow else FIGSIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    # Matplotlib cannot shape Malayalam, Bengali or Persian script: their charts use numbers and Latin only.
    latin = locale.split("_")[0] in NUMERIC_TICK_LANGUAGES
    values = [value for _, value in present]
    low, high = value_range(values, result.unit)
    label = _draw_line(axes, result, present, len(trend) - 1, locale, currency, latin)
    low, high = _draw_target(axes, result, low, high)
    _y_axis(axes, result, low, high, locale, currency, latin)
    most = NARROW_PERIOD_TICKS if narrow else MAX_PERIOD_TICKS
    _x_axis(axes, trend, locale, latin, most=most)
    axes.set_xlim(-0.4, len(trend) - 0.4)  # _fit_label widens it for the value label
    _frame(axes, from_zero=result.unit in ZERO_BASELINE_UNITS, low=low, latin=latin)
    if label is not None:  # fitted before the layout, so the layout leaves no room for it outside
        _fit_label(figure, axes, label, len(trend) - 1)
    figure.tight_layout(pad=0.3)
    if label is not None:
        _fit_label(figure, axes, label, len(trend) - 1)
    # Room taken by a long value label (105.2 min) can crowd the period labels: fewer, then.
    while most > 1 and _period_labels_touch(figure, axes):
        most -= 1
        _x_axis(axes, trend, locale, latin, most=most)
    return figure


def _draw_line(axes, result: MetricResult, present, last: int, locale: str, currency: str, latin: bool):
    """The trend line (with an area from zero for amounts), the current period's dot and value and the
    previous period's ring, on a shaded current period; returns the value label (None if the current
    period has no value)."""
    positions = [index for index, _ in present]
    values = [value for _, value in present]
    axes.plot(positions, values, color=LINE_COLOUR, linewidth=1.8, solid_capstyle="round")
    if result.unit in ZERO_BASELINE_UNITS:
        axes.fill_between(positions, values, 0, color=LINE_COLOUR, alpha=0.08, linewidth=0)
    axes.axvspan(last - 0.5, last + 0.5, color=LINE_COLOUR, alpha=0.06, linewidth=0)
    if positions[-2:] == [last - 1, last]:
        axes.scatter(
            [last - 1],
            [values[-2]],
            s=28,
            zorder=4,
            facecolors="white",
            edgecolors=PREVIOUS_COLOUR,
            linewidths=1.4,
        )
    if positions[-1] != last:
        return None
    axes.scatter([last], [values[-1]], color=LINE_COLOUR, s=28, zorder=4)
    text = formatting.format_axis_value(values[-1], result.unit, locale, currency, latin=latin)
    return axes.annotate(
        drawable(text, currency, locale, bold=True),
        (last, values[-1]),
        textcoords="offset points",
        xytext=(LABEL_OFFSET, 0),
        ha="left",
        va="center",
        fontsize=LABEL_FONT,
        fontweight="bold",
        color="#111827",
    )


def _y_axis(axes, result: MetricResult, low: float, high: float, locale: str, currency: str, latin: bool):
    """The y range and its few labels in the metric's unit, the same decimals on each; a zero line for
    scores that cross it."""
    from matplotlib.ticker import MaxNLocator

    axes.set_ylim(low, high)
    y_ticks = [t for t in MaxNLocator(nbins=3, min_n_ticks=2).tick_values(low, high) if low <= t <= high]
    decimals = tick_decimals(y_ticks)
    axes.set_yticks(
        y_ticks,
        [
            drawable(
                formatting.format_axis_value(
                    t, result.unit, locale, currency, decimals=decimals, latin=latin
                ),
                currency,
                locale,
            )
            for t in y_ticks
        ],
    )
    if result.unit == "points" and low < 0 < high:
        axes.axhline(0, color="#9ca3af", linewidth=0.8, zorder=1)


def _x_axis(axes, trend, locale: str, latin: bool, *, most: int) -> None:
    """At most ``most`` period labels, at an even step ending on the current period."""
    ticks = period_tick_positions(len(trend), most)
    axes.set_xticks(ticks, [formatting.period_tick(trend[i].period, locale, numeric=latin) for i in ticks])
    if ticks[0] == 0:
        # A label on the first period starts there instead of centring on it, so it never runs into
        # the y axis' lowest label (the "0" / "Sep 7" collision); later ones centre on their point.
        axes.get_xticklabels()[0].set_horizontalalignment("left")


def _frame(axes, *, from_zero: bool, low: float, latin: bool) -> None:
    """Tick text, spines and grid; an axis not from zero has no baseline and says so."""
    axes.tick_params(axis="both", labelsize=TICK_FONT, colors=TEXT_COLOUR, length=0, pad=3)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    if from_zero:
        axes.spines["bottom"].set_color("#9ca3af")
    else:
        # Not from zero: no baseline that could be read as one, and the axis says so.
        axes.spines["bottom"].set_visible(False)
        if low > 0 and not latin:
            # In a script matplotlib cannot shape (Malayalam, Bengali, Persian) the note is not drawn:
            # the digest prints it, translated, under the chart (axis_note).
            axes.set_ylabel(_(NOT_FROM_ZERO), fontsize=TICK_FONT, color=PREVIOUS_COLOUR, labelpad=2)
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.7)
    axes.set_axisbelow(True)


def _period_labels_touch(figure, axes) -> bool:
    """Whether two period labels are closer than a space's width (or overlap)."""
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in axes.get_xticklabels() if t.get_text()]
    gap = TICK_FONT * figure.dpi / 72 * 0.4
    return any(b.x0 - a.x1 < gap for a, b in pairwise(boxes))


def _fit_label(figure, axes, label, last: int) -> None:
    """Widen the x range just enough that the current value's label ends inside the axes, so a long
    one (``105.2 min``) is never cut off at the image's right edge."""
    renderer = figure.canvas.get_renderer()
    box = axes.get_window_extent(renderer)
    start, end = axes.get_xlim()
    room = box.width - label.get_window_extent(renderer).width - LABEL_OFFSET * figure.dpi / 72 - 2
    # The last point at fraction f of the width leaves (1 - f) * width for the label.
    share = max(room / box.width, 0.3)
    axes.set_xlim(start, max(end, start + (last - start) / share))


#: The colour of a target's line or band (the "on track" green of the digest).
TARGET_COLOUR = "#16a34a"


def _draw_target(axes, result: MetricResult, low: float, high: float) -> tuple[float, float]:
    """Draw ``result``'s target: a band between its min and max, else a dashed line at its min, max or
    goal; return the y range widened to show it."""
    the_status = result.target_status
    if the_status is None:
        return low, high
    target = the_status.target
    if target.min is not None and target.max is not None:
        axes.axhspan(target.min, target.max, color=TARGET_COLOUR, alpha=0.10, linewidth=0, zorder=0)
        levels = [target.min, target.max]
    else:
        levels = [v for v in (target.min, target.max, target.goal) if v is not None]
        for level in levels:
            axes.axhline(level, color=TARGET_COLOUR, linewidth=1.1, linestyle=(0, (4, 3)), zorder=2)
    span = (high - low) or 1.0
    return min(low, min(levels) - 0.05 * span), max(high, max(levels) + 0.08 * span)


def axis_note(result: MetricResult, locale: str) -> str:
    """ "axis not from 0" in ``locale``, for under a chart of a language the chart does not write
    (Malayalam, Bengali, Persian) whose axis does not start at zero; "" otherwise."""
    present = _present(result)
    if locale.split("_")[0] not in NUMERIC_TICK_LANGUAGES or len(present) < 2:
        return ""
    if result.unit in ZERO_BASELINE_UNITS:
        return ""
    low, high = value_range([value for _, value in present], result.unit)
    return _(NOT_FROM_ZERO) if _target_low(result, low, high) > 0 else ""


def _target_low(result: MetricResult, low: float, high: float) -> float:
    """The chart's lowest value once its target is in view (as :func:`_draw_target` widens it)."""
    the_status = result.target_status
    if the_status is None:
        return low
    target = the_status.target
    levels = [v for v in (target.min, target.max, target.goal) if v is not None]
    return min(low, min(levels) - 0.05 * ((high - low) or 1.0)) if levels else low


def trend_chart(
    result: MetricResult,
    *,
    locale: str = "en",
    currency: str = "USD",
    calendar: str = "gregorian",
    narrow: bool = False,
) -> bytes | None:
    """The PNG of ``trend_figure`` (the phone chart with ``narrow``), or None when there is nothing to
    draw (Latin digits: the chart fonts may not have the language's own)."""
    from kpicore.i18n import using

    with using(locale, "default", calendar):
        figure = trend_figure(result, locale=locale, currency=currency, narrow=narrow)
    if figure is None:
        return None
    buffer = io.BytesIO()
    # No timestamps or software tags in the PNG, so the same trend gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def chart_alt(result: MetricResult, *, locale: str = "en", currency: str = "USD") -> str:
    """The chart in words, for alt text: ``Revenue over 6 weeks, Oct 5 to Nov 16: from €39,000.00 to
    €48,210.50 (this week); lowest €39,000.00, highest €48,210.50.``"""
    trend = result.trend or []
    present = [(trend[i], value) for i, value in _present(result)]

    if not present:
        return _("%(metric)s: no trend values") % {"metric": _(result.title)}

    def fmt(value: float) -> str:
        return formatting.format_value(value, result.unit, locale, currency)

    first, last = present[0][1], present[-1][1]
    values = [value for _, value in present]
    return _(
        "%(metric)s over %(span)s, %(first_period)s to %(last_period)s: from %(first)s to "
        "%(last)s; lowest %(lowest)s, highest %(highest)s."
    ) % {
        "metric": _(result.title),
        "span": formatting.format_span(len(trend), trend[-1].period, locale),
        "first_period": formatting.period_tick(trend[0].period, locale),
        "last_period": formatting.period_tick(trend[-1].period, locale),
        "first": fmt(first),
        "last": fmt(last),
        "lowest": fmt(min(values)),
        "highest": fmt(max(values)),
    }
