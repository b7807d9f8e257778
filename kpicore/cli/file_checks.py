"""`kpi check --data` for files as exported and for duplicate ids: how each column was read, what was
left out (column, count, up to three examples with their line numbers) and the rows counted once."""

from __future__ import annotations

from pathlib import Path

import click

_DECIDED = {
    "values": "decided by the column's values",
    "kpi.toml": "as kpi.toml says",
}


def echo_file_readings(the_source, entity_names) -> tuple[int, list[str]]:
    """Print what reading each entity's file found; return how many columns had values left out, and
    the entities checked here (the other checks skip them)."""
    reports = {name: r for name, r in getattr(the_source, "reports", {}).items() if name in entity_names}
    if not reports:
        return 0, []
    locale = the_source.config.locale
    click.echo("files as exported:")
    flagged = 0
    for name, report in sorted(reports.items()):
        click.echo(f"  {name} ({Path(report.path).name}): {_rows(report)}")
        for column in report.columns.values():
            label = f"  {name}.{column.column}"
            how = _how(column, locale)
            if not column.left_out:
                click.echo(f"{label}: {how}; every value read" if column.reading else f"{label}: empty")
                continue
            flagged += 1
            reasons = ", ".join(f"{count:,} {reason}" for reason, count in column.reasons.items())
            examples = ", ".join(f"line {line}: {text!r}" for line, text in column.examples)
            click.echo(
                f"{label}: {how}; {column.left_out:,} value(s) left out of the metrics that read it "
                f"({reasons}; e.g. {examples})"
            )
    if flagged:
        click.echo(
            f"{flagged} column(s) hold values left out: fix them in the export, or say how to read them in "
            "kpi.toml ([entities.NAME] formats, decimal)."
        )
    return flagged, list(reports)


def _rows(report) -> str:
    parts = [f"{report.rows:,} row(s) read"]
    if report.duplicate_rows:
        lines = ", ".join(str(line) for line in report.duplicate_row_lines)
        parts.append(f"{report.duplicate_rows:,} identical row(s) counted once (line {lines})")
    if report.duplicate_ids:
        ids = ", ".join(report.duplicate_id_examples)
        parts.append(
            f"{report.duplicate_ids:,} row(s) replaced by a later row with the same id (the last wins; ids: {ids})"
        )
    return "; ".join(parts)


def _how(column, locale: str) -> str:
    if column.decided_by == "locale":
        if column.kind in ("number", "integer"):
            why = f"no value shows its decimal separator, so the locale {locale}'s"
        else:
            why = f"no value shows whether the day or the month comes first, so the locale {locale}'s order"
        return f"read {column.reading} ({why})"
    if column.reading is None:
        return "no value in a known format"
    return f"read {column.reading} ({_DECIDED.get(column.decided_by, column.decided_by)})"


def echo_checks(
    heading: str, checks, count: str, problem, fine: str, failed: str = "FAILED: cannot read the data"
) -> None:
    """Print ``heading`` and one line per column check: its error; ``problem(check, examples)`` when
    its ``count`` attribute is not 0 (``examples`` the check's examples, quoted); else ``fine``."""
    click.echo(heading)
    for check in checks:
        label = f"  {check.entity}.{check.column}"
        if check.error:
            click.echo(f"{label}: {failed}: {check.error}")
        elif getattr(check, count):
            examples = ", ".join(repr(example) for example in check.examples)
            click.echo(f"{label}: {problem(check, examples)}")
        else:
            click.echo(f"{label}: {fine}")


def echo_duplicate_ids(the_source, entity_names) -> None:
    """For a database: the ids that more than one row holds (compute leaves them as the database has them)."""
    from ..data_check import check_duplicate_ids

    def problem(check, ids: str) -> str:
        return (
            f"{check.repeated:,} id(s) held by more than one row (e.g. {ids}); the metrics count "
            "every row as the database has it"
        )

    checks = check_duplicate_ids(the_source, entity_names)
    if checks:
        echo_checks("duplicate ids:", checks, "repeated", problem, "every id once", failed="FAILED")
