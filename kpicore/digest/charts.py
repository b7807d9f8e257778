"""Small PNG line charts of a metric's trend, for the HTML email and Slack uploads."""

from __future__ import annotations

import io
import re

from kpicore.results import MetricResult

#: Chart size in inches at ``DPI``: 480 x 160 pixels, sharp enough for a mail client at 2x.
FIGSIZE = (4.8, 1.6)
DPI = 100
LINE_COLOUR = "#2563eb"


def chart_content_id(metric: str) -> str:
    """The Content-ID (without angle brackets) of a metric's chart: ``chart-revenue@kpicore``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", metric)
    return f"chart-{safe}@kpicore"


def trend_chart(result: MetricResult, *, value_formatter=None) -> bytes | None:
    """A PNG line chart of ``result.trend`` (oldest first), or None when it has fewer than two values.

    ``value_formatter(value) -> str`` labels the last point (e.g. a Babel-formatted value).
    Matplotlib (Agg) is imported here because it is slow to import.
    """
    trend = result.trend or []
    # Positions in the full trend, so a period without a value shows as a wider gap, not as none.
    present = [(index, point) for index, point in enumerate(trend) if point.value is not None]
    if len(present) < 2:
        return None
    # The Agg canvas directly, not pyplot: no global backend switch, no figure registry, thread-safe.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    positions = [index for index, _ in present]
    values = [float(point.value) for _, point in present]  # type: ignore[arg-type]

    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(positions, values, color=LINE_COLOUR, linewidth=2)
    axes.fill_between(positions, values, min(values), color=LINE_COLOUR, alpha=0.08)
    axes.scatter([positions[-1]], [values[-1]], color=LINE_COLOUR, s=18, zorder=3)
    if value_formatter is not None:
        axes.annotate(
            value_formatter(values[-1]),
            (positions[-1], values[-1]),
            textcoords="offset points",
            # Right of the last point, where the line has ended: the label never hides it.
            xytext=(6, 0),
            ha="left",
            va="center",
            fontsize=8,
            color="#111827",
        )
    axes.set_xticks([0, len(trend) - 1], [trend[0].period, trend[-1].period], fontsize=7, color="#6b7280")
    axes.tick_params(axis="y", labelsize=7, colors="#6b7280", length=0)
    axes.tick_params(axis="x", length=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color("#d1d5db")
    axes.grid(axis="y", color="#f3f4f6", linewidth=0.8)
    axes.margins(x=0.02, y=0.25)
    if value_formatter is not None:
        axes.set_xlim(right=(len(trend) - 1) * 1.25)  # room for the label right of the last point
    figure.tight_layout(pad=0.4)

    buffer = io.BytesIO()
    # No timestamps or software tags in the PNG, so the same trend gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
