"""Printing results: a rich table for people, JSON (``MetricResult.to_json``) or CSV for machines.

The table formats every value, change and count through ``kpicore.presentation.formatting``, the one
formatting path digests (and chat answers) use, so a number reads the same everywhere.
"""

from __future__ import annotations

import csv
import io
import json

from ..i18n import _, using
from ..presentation import formatting
from ..results import MetricResult, clean_number, relative_change
from ..results import change as change_of
from .left_out import based_on


def change_text(result: MetricResult, locale: str = "en", currency: str = "USD") -> str:
    """The change column: ``▲ +6.8% ✓ better``, ``▼ -0.50 pts ✓ better``, ``—`` when there is none."""
    change = formatting.format_change(result.delta, result.delta_pct, result.unit, locale, currency)
    if not change:
        return "—"
    arrow = formatting.change_arrow(result.delta)
    marker = formatting.change_marker(result.delta, result.better)
    return " ".join(part for part in (arrow, change, marker) if part)


def target_text(result: MetricResult, locale: str = "en", currency: str = "USD") -> str:
    """The target column: ``≥ 40 ✓``, ``≤ 2.5% ✗ 0.80 pts over``, ``""`` without a target."""
    from ..presentation.targets import describe, standing

    the_status = result.target_status
    if the_status is None:
        return ""
    wanted = describe(the_status.target, result.unit, locale, currency)
    if the_status.on_track is None:
        return wanted
    if the_status.on_track:
        return f"{wanted} ✓"
    return f"{wanted} {standing(the_status, result.unit, locale, currency)}"


def print_table(
    results: list[MetricResult], currency: str = "USD", locale: str = "en", digits: str = "default"
) -> None:
    """A table for people: one row per metric (and segment), warnings listed under it, in ``locale``."""
    with using(locale, digits):
        _print_table(results, currency, locale)


def _print_table(results: list[MetricResult], currency: str, locale: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..digest.headline import by_impact

    # A terminal gets the table at its width; a pipe or a file at the table's own width (rich draws a table
    # no wider than its content), so that no number is cut to "$34,86…".
    console = Console(width=None if Console().is_terminal else 400)
    period = results[0].period if results else ""
    table = Table(
        title=_("KPIs for %(period)s") % {"period": period} if period else None, title_justify="left"
    )
    table.add_column(_("Metric"), no_wrap=True)
    table.add_column(_("Value"), justify="right", no_wrap=True)
    table.add_column(_("Previous"), justify="right", no_wrap=True)
    table.add_column(_("Change"), justify="right", no_wrap=True)
    table.add_column(_("Based on"), justify="right", no_wrap=True)
    with_trend = any(r.trend for r in results)
    if with_trend:
        table.add_column(_("Trend"), no_wrap=True)
    with_target = any(r.target_status is not None for r in results)
    if with_target:
        table.add_column(_("Target"), no_wrap=True)
    compared = next((r.compare for r in results if r.compare is not None), None)
    if compared is not None:
        table.add_column(
            _("Year before (%(period)s)") % {"period": compared.period}, justify="right", no_wrap=True
        )
        table.add_column(_("vs year before"), justify="right", no_wrap=True)
    notes = []

    def fmt(value, unit):
        return formatting.format_value(value, unit, locale, currency)

    for result in results:
        trend = [formatting.sparkline([p.value for p in result.trend or []])] if with_trend else []
        if with_target:
            trend.append(target_text(result, locale, currency))
        if compared is not None:
            trend.extend(_year_before_cells(result, locale, currency))
            if result.compare is not None and result.compare.value is None:
                notes.append(
                    _("%(metric)s: no data a year back (%(period)s) to compare with")
                    % {"metric": result.metric, "period": result.compare.period}
                )
        blank = [""] * (
            (1 if with_trend else 0) + (1 if with_target else 0) + (2 if compared is not None else 0)
        )
        if not result.ok:
            table.add_row(_(result.title), "—", "—", "—", "", *blank)
            notes.append(
                _("%(metric)s: unavailable: %(reason)s") % {"metric": result.metric, "reason": result.reason}
            )
            continue
        marker = " ⚠" if result.warnings else ""
        table.add_row(
            _(result.title) + marker,
            fmt(result.value, result.unit),
            fmt(result.previous, result.unit),
            change_text(result, locale, currency),
            based_on(result, locale),
            *trend,
        )
        for segment in by_impact(result.segments or [], result.unit):
            change = formatting.format_change(
                segment.delta,
                relative_change(segment.value, segment.previous, result.unit),
                result.unit,
                locale,
                currency,
            )
            segment_cells = list(blank)
            if compared is not None:  # the year-before value and change of the segment in the last two
                segment_cells[-2:] = _segment_year_before_cells(segment, result, locale, currency)
            table.add_row(
                f"  {formatting.segment_label(segment.segment, result.dimension)}",
                fmt(segment.value, result.unit),
                fmt(segment.previous, result.unit),
                change or "—",
                formatting.format_count(segment.n, result.n_noun, locale),
                *segment_cells,
                style="dim",
            )
        notes.extend(
            _("%(metric)s: %(count)s left out: %(message)s")
            % {
                "metric": result.metric,
                "count": formatting.format_number(w.count, locale),
                "message": _(w.message),
            }
            if w.count
            else f"{result.metric}: {_(w.message)}"
            for w in result.warnings
        )
    console.print(table)
    for note in notes:
        console.print(f"⚠ {note}", highlight=False, markup=False)


def _year_before_cells(result: MetricResult, locale: str, currency: str) -> list[str]:
    """The year-before value and the change since then (``—`` when there is no data a year back)."""
    comparison = result.compare
    if comparison is None or comparison.value is None:
        return ["—", "—"]
    change = formatting.format_change(comparison.delta, comparison.delta_pct, result.unit, locale, currency)
    arrow = formatting.change_arrow(comparison.delta)
    marker = formatting.change_marker(comparison.delta, result.better)
    return [
        formatting.format_value(comparison.value, result.unit, locale, currency),
        " ".join(part for part in (arrow, change, marker) if part) if change else "—",
    ]


def _segment_year_before_cells(segment, result: MetricResult, locale: str, currency: str) -> list[str]:
    """A segment's value a year before and its change since (``—`` without data then)."""
    if result.compare is None or segment.compare is None:
        return ["—", "—"]
    change = formatting.format_change(
        change_of(segment.value, segment.compare),
        relative_change(segment.value, segment.compare, result.unit),
        result.unit,
        locale,
        currency,
    )
    return [formatting.format_value(segment.compare, result.unit, locale, currency), change or "—"]


def to_json(results: list[MetricResult]) -> str:
    """The results as a JSON array: numbers without binary float noise (12 significant digits)."""
    return json.dumps([r.to_json() for r in results], indent=2)


CSV_COLUMNS = [
    "metric",
    "row",
    "dimension",
    "segment",
    "status",
    "period",
    "start",
    "end",
    "value",
    "previous",
    "delta",
    "delta_pct",
    "n",
    "warnings",
    "target_min",
    "target_max",
    "target_goal",
    "on_track",
    "gap",
]


def to_csv(results: list[MetricResult]) -> str:
    """One row per metric (``row`` = total), per segment with --by (``segment``) and per trend
    period with --trend (``trend``, oldest first); numbers unformatted, without float noise."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # With --compare last-year: the year-before period, value and change after the usual columns.
    compared = any(r.compare is not None for r in results)
    writer.writerow(CSV_COLUMNS + (COMPARE_COLUMNS if compared else []))

    def compare_cells(r: MetricResult) -> list[str]:
        if not compared:
            return []
        if r.compare is None:
            return ["", "", "", ""]
        return [r.compare.period, _cell(r.compare.value), _cell(r.compare.delta), _cell(r.compare.delta_pct)]

    for r in results:
        warnings = sum(w.count for w in r.warnings)
        dimension = r.dimension or ""
        writer.writerow(
            [
                r.metric,
                "total",
                dimension,
                "",
                r.status,
                r.period,
                r.start,
                r.end,
                _cell(r.value),
                _cell(r.previous),
                _cell(r.delta),
                _cell(r.delta_pct),
                _cell(r.n),
                warnings,
                *_target_cells(r),
                *compare_cells(r),
            ]
        )
        for s in r.segments or []:
            segment_compare = []
            if compared:
                segment_compare = (
                    ["", "", "", ""]
                    if r.compare is None
                    else [
                        r.compare.period,
                        _cell(s.compare),
                        _cell(change_of(s.value, s.compare)),
                        _cell(relative_change(s.value, s.compare, r.unit)),
                    ]
                )
            writer.writerow(
                [
                    r.metric,
                    "segment",
                    dimension,
                    s.segment,
                    r.status,
                    r.period,
                    r.start,
                    r.end,
                    _cell(s.value),
                    _cell(s.previous),
                    _cell(s.delta),
                    _cell(relative_change(s.value, s.previous, r.unit)),
                    s.n,
                    "",
                    *_NO_TARGET,
                    *segment_compare,
                ]
            )
        for point in r.trend or []:
            writer.writerow(
                [
                    r.metric,
                    "trend",
                    "",
                    "",
                    r.status,
                    point.period,
                    point.start,
                    point.end,
                    _cell(point.value),
                    "",
                    "",
                    "",
                    "",
                    "",
                    *_NO_TARGET,
                    *(["", "", "", ""] if compared else []),
                ]
            )
    return buffer.getvalue()


_NO_TARGET = ("", "", "", "", "")
#: Added after CSV_COLUMNS with --compare last-year.
COMPARE_COLUMNS = ["compare_period", "compare_value", "compare_delta", "compare_delta_pct"]


def _target_cells(result: MetricResult) -> list[str]:
    """target_min, target_max, target_goal, on_track (true/false), gap: blank without a target."""
    the_status = result.target_status
    if the_status is None:
        return list(_NO_TARGET)
    target = the_status.target
    on_track = "" if the_status.on_track is None else str(the_status.on_track).lower()
    return [_cell(target.min), _cell(target.max), _cell(target.goal), on_track, _cell(the_status.gap)]


def _cell(value) -> str:
    value = clean_number(value)
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)
