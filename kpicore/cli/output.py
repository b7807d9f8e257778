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
from .left_out import based_on, left_out_lines


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


def stdout_console(**options):
    """A rich console on stdout whose reader going away (``kpi demo | head``) stops the command quietly,
    like any other write (rich's own answer is exit code 1)."""
    from rich.console import Console

    class QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return QuietConsole(**options)


def print_table(
    results: list[MetricResult],
    currency: str = "USD",
    locale: str = "en",
    digits: str = "default",
    wide: bool = False,
) -> None:
    """A table for people: one row per metric (and segment), warnings listed under it, in ``locale``.

    The table fits the console's width (a terminal's, else ``COLUMNS`` or 80): the metric, its value and
    its change stay whole, the trend, the count it is based on, the target and the previous value fold
    away in that order (with --compare, the previous value before the year before's), and a missed target
    goes on a line under it. ``wide`` keeps every column."""
    with using(locale, digits):
        _print_table(results, currency, locale, wide)


def _print_table(results: list[MetricResult], currency: str, locale: str, wide: bool) -> None:
    from .table import draw, fit

    console = stdout_console(width=100_000 if wide else None)
    columns, styles, notes = _table_columns(results, currency, locale)
    table = fit(columns, styles, None if wide else console.width)
    period = results[0].period if results else ""
    title = _("KPIs for %(period)s") % {"period": period} if period else None
    draw(table, console, title)
    for note in [*table.notes(), *notes]:
        console.print(f"⚠ {note}", highlight=False, markup=False, soft_wrap=True)


def _table_columns(results: list[MetricResult], currency: str, locale: str):
    """``(columns, row styles, notes)`` of the table of ``results``: every column it can show, with what
    each folds to, and the notes that go under the table in any case."""
    rows = _TableRows(results, currency, locale)
    for result in results:
        rows.add_result(result)
    return rows.columns, rows.styles, rows.notes


class _TableRows:
    """The columns of the compute table, filled row by row."""

    def __init__(self, results: list[MetricResult], currency: str, locale: str):
        from .table import Column

        self.currency, self.locale = currency, locale
        self.metric = Column(_("Metric"), wrap=True)
        self.value = Column(_("Value"), "right")
        self.previous = Column(_("Previous"), "right", fold=2)
        self.change = Column(_("Change"), "right")
        self.based_on = Column(_("Based on"), "right", fold=5)
        self.columns = [self.metric, self.value, self.previous, self.change, self.based_on]
        self.trend = Column(_("Trend"), fold=6) if any(r.trend for r in results) else None
        with_target = any(r.target_status is not None for r in results)
        self.target = Column(_("Target"), fold=4) if with_target else None
        self.columns += [c for c in (self.trend, self.target) if c is not None]
        self.compared = next((r.compare for r in results if r.compare is not None), None)
        self.year_before: list = []
        if self.compared is not None:
            # asked for with --compare: the year before outlasts the previous period
            self.previous.fold = 3
            self.year_before = [
                Column(_("Year before (%(period)s)") % {"period": self.compared.period}, "right", fold=2),
                Column(_("vs year before"), "right", fold=1),
            ]
            self.columns += self.year_before
        self.styles: list[str | None] = []
        self.notes: list[str] = []

    def fmt(self, number, unit) -> str:
        return formatting.format_value(number, unit, self.locale, self.currency)

    def add(self, style, *cells_of) -> None:
        """One row: ``cells_of`` pairs a column with its cell (and the note it leaves when folded)."""
        given = {id(column): cell for column, *cell in cells_of}
        for column in self.columns:
            cell, *note = given.get(id(column), ("",))
            column.cells.append(cell)
            column.notes.append(note[0] if note else None)
        self.styles.append(style)

    def add_result(self, result: MetricResult) -> None:
        """The metric's row, its segments' rows, and its notes, with one count of decimals."""
        from ..digest.render import result_numbers

        with formatting.same_decimals(result_numbers(result), result.unit):
            self._add_result(result)

    def _add_result(self, result: MetricResult) -> None:
        locale, currency = self.locale, self.currency
        if self.compared is not None and result.compare is not None and result.compare.value is None:
            self.notes.append(
                _("%(metric)s: no data a year back (%(period)s) to compare with")
                % {"metric": result.metric, "period": result.compare.period}
            )
        if not result.ok:
            self.add(
                None,
                (self.metric, _(result.title)),
                (self.value, "—"),
                (self.previous, "—"),
                (self.change, "—"),
            )
            self.notes.append(
                _("%(metric)s: unavailable: %(reason)s") % {"metric": result.metric, "reason": result.reason}
            )
            return
        cells = [
            (self.metric, _(result.title) + (" ⚠" if result.warnings else "")),
            (self.value, self.fmt(result.value, result.unit)),
            (self.previous, self.fmt(result.previous, result.unit)),
            (self.change, change_text(result, locale, currency)),
            (self.based_on, based_on(result, locale), "; ".join(left_out_lines(result, locale)) or None),
        ]
        if self.trend is not None:
            cells.append((self.trend, formatting.sparkline([p.value for p in result.trend or []])))
        if self.target is not None:
            missed = _missed_target(result, locale, currency)
            cells.append((self.target, target_text(result, locale, currency), missed))
        if self.compared is not None:
            cells += zip(self.year_before, _year_before_cells(result, locale, currency), strict=True)
        self.add(None, *cells)
        from ..digest.headline import by_impact

        for segment in by_impact(result.segments or [], result.unit):
            self.add_segment(result, segment)
        self.notes.extend(
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

    def add_segment(self, result: MetricResult, segment) -> None:
        """A segment's row, dimmed: its value, previous value, change and count."""
        locale, currency = self.locale, self.currency
        change = formatting.format_change_from(segment.value, segment.previous, result.unit, locale, currency)
        cells = [
            (self.metric, f"  {formatting.segment_label(segment.segment, result.dimension)}"),
            (self.value, self.fmt(segment.value, result.unit)),
            (self.previous, self.fmt(segment.previous, result.unit)),
            (self.change, change or "—"),
            (self.based_on, formatting.format_count(segment.n, result.n_noun, locale)),
        ]
        if self.compared is not None:  # the year-before value and change of the segment
            year_before = _segment_year_before_cells(segment, result, locale, currency)
            cells += zip(self.year_before, year_before, strict=True)
        self.add("dim", *cells)


def _missed_target(result: MetricResult, locale: str, currency: str) -> str | None:
    """The line a folded target column leaves for a metric off its target: ``churn_rate: target ≤ 1.5%
    ✗ 0.30 pts over``, ``revenue: goal $50,000.00 ✗ $2,000.00 short``; None when on track or without."""
    from ..presentation.targets import label, standing

    the_status = result.target_status
    if the_status is None or the_status.on_track in (None, True):
        return None
    wanted = label(the_status.target, result.unit, locale, currency)
    return f"{result.metric}: {wanted} {standing(the_status, result.unit, locale, currency)}"


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
    change = formatting.format_change_from(segment.value, segment.compare, result.unit, locale, currency)
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
    for r in results:
        writer.writerow(_total_row(r, compared))
        for s in r.segments or []:
            writer.writerow(_segment_row(r, s, compared))
        for point in r.trend or []:
            writer.writerow(
                [
                    *(r.metric, "trend", "", "", r.status, point.period, point.start, point.end),
                    *(_cell(point.value), "", "", "", "", ""),
                    *_NO_TARGET,
                    *_no_compare(compared),
                ]
            )
    return buffer.getvalue()


def _compare_cells(period: str, value, delta, delta_pct) -> list:
    """The --compare last-year cells: the year-before period, its value and the change from it."""
    return [period, _cell(value), _cell(delta), _cell(delta_pct)]


def _no_compare(compared: bool) -> list:
    """Empty --compare cells, when the table has them."""
    return ["", "", "", ""] if compared else []


def _total_row(r: MetricResult, compared: bool) -> list:
    """The CSV row of a metric's total."""
    compare = (
        _compare_cells(r.compare.period, r.compare.value, r.compare.delta, r.compare.delta_pct)
        if compared and r.compare is not None
        else _no_compare(compared)
    )
    numbers = [r.value, r.previous, r.delta, r.delta_pct]
    warnings = sum(w.count for w in r.warnings)
    return _row(r, "total", "", numbers, _cell(r.n), warnings, [*_target_cells(r), *compare])


def _segment_row(r: MetricResult, s, compared: bool) -> list:
    """The CSV row of one segment of a metric broken down with --by."""
    compare = (
        _compare_cells(
            r.compare.period,
            s.compare,
            change_of(s.value, s.compare),
            relative_change(s.value, s.compare, r.unit),
        )
        if compared and r.compare is not None
        else _no_compare(compared)
    )
    numbers = [s.value, s.previous, s.delta, relative_change(s.value, s.previous, r.unit)]
    return _row(r, "segment", s.segment, numbers, s.n, "", [*_NO_TARGET, *compare])


def _row(r: MetricResult, row: str, segment, numbers: list, n, warnings, rest: list) -> list:
    """A CSV row: the metric and its period, ``numbers`` (value, previous, delta, delta_pct), n,
    warnings, then the target and --compare cells in ``rest``."""
    return [
        *(r.metric, row, r.dimension or "", segment, r.status, r.period, r.start, r.end),
        *(_cell(number) for number in numbers),
        n,
        warnings,
        *rest,
    ]


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
