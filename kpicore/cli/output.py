"""Printing results: a rich table, JSON (DESIGN 8) or CSV."""

from __future__ import annotations

import csv
import io
import json

from ..digest.formatting import small_value_decimals
from ..results import MetricResult


def format_value(value, unit: str, currency: str = "") -> str:
    """A value for a terminal table, by unit."""
    if value is None:
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "currency":
        return f"{value:,.2f}" + (f" {currency}" if currency else "")
    if unit == "percent":
        return f"{value:.{small_value_decimals(value)}f} %"
    if unit == "points":
        return f"{value:+.1f}"
    if unit == "minutes":
        return f"{value:,.1f} min"
    return f"{value:,.3f}"


def format_delta(result: MetricResult) -> str:
    delta = result.delta
    if delta is None:
        return "—"
    if result.unit in ("percent", "points"):
        text = f"{delta:+.{small_value_decimals(delta)}f} pts"
    elif result.unit == "count":
        text = f"{delta:+,.0f}"
    else:
        text = f"{delta:+,.2f}"
    if result.delta_pct is not None:
        text += f" ({result.delta_pct:+.1f} %)"
    if delta != 0:
        good = (delta > 0) == (result.better == "higher")
        text += " ✓" if good else " ✗"
    return text


def print_table(results: list[MetricResult], currency: str = "") -> None:
    """A table for people: one row per metric (and segment), warnings listed under it."""
    from rich.console import Console
    from rich.table import Table

    from ..digest.formatting import sparkline

    console = Console(width=None if Console().is_terminal else 120)
    period = results[0].period if results else ""
    table = Table(title=f"KPIs for {period}" if period else None, title_justify="left")
    table.add_column("Metric", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Previous", justify="right", no_wrap=True)
    table.add_column("Change", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    with_trend = any(r.trend for r in results)
    if with_trend:
        table.add_column("Trend", no_wrap=True)
    notes = []
    for result in results:
        trend = [sparkline([p.value for p in result.trend or []])] if with_trend else []
        if not result.ok:
            table.add_row(result.title, "—", "—", "—", "", *([""] if with_trend else []))
            notes.append(f"{result.metric}: unavailable: {result.reason}")
            continue
        marker = " ⚠" if result.warnings else ""
        table.add_row(
            result.title + marker,
            format_value(result.value, result.unit, currency),
            format_value(result.previous, result.unit, currency),
            format_delta(result),
            "" if result.n is None else f"{result.n:,}",
            *trend,
        )
        for segment in result.segments or []:
            table.add_row(
                f"  {result.dimension} = {segment.segment}",
                format_value(segment.value, result.unit, currency), "", "", f"{segment.n:,}",
                *([""] if with_trend else []),
                style="dim",
            )
        notes.extend(
            f"{result.metric}: {w.count} left out: {w.message}" if w.count else f"{result.metric}: {w.message}"
            for w in result.warnings
        )
    console.print(table)
    for note in notes:
        console.print(f"⚠ {note}", highlight=False, markup=False)


def to_json(results: list[MetricResult]) -> str:
    return json.dumps([r.to_json() for r in results], indent=2)


def to_csv(results: list[MetricResult]) -> str:
    """One row per metric (and per segment with --by); numbers unformatted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["metric", "segment", "status", "period", "start", "end", "value", "previous", "delta", "delta_pct", "n",
         "warnings"]
    )
    for r in results:
        warnings = sum(w.count for w in r.warnings)
        writer.writerow(
            [r.metric, "", r.status, r.period, r.start, r.end, _cell(r.value), _cell(r.previous), _cell(r.delta),
             _cell(r.delta_pct), _cell(r.n), warnings]
        )
        for s in r.segments or []:
            writer.writerow([r.metric, s.segment, r.status, r.period, r.start, r.end, _cell(s.value), "", "", "",
                             s.n, ""])
    return buffer.getvalue()


def _cell(value) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)
