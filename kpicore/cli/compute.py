"""``kpi compute``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from . import context

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


@click.command("compute")
@click.argument("metrics", nargs=-1, required=True)
@click.option(
    "--period",
    "-p",
    default="last-week",
    show_default=True,
    help="2026-W47, 2026-11, 2026-Q4, 2026, 2026-11-23, 2026-11-01..2026-11-15, last-week, ...",
)
@context.source_option
@context.tz_option
@click.option("--by", "dimension", help="Break down by a customer dimension (region, channel, plan, ...).")
@click.option("--trend", type=click.IntRange(2, 120), help="Also compute the last N periods, oldest first.")
@click.option(
    "--compare",
    type=click.Choice(["last-year"]),
    help="Also compare with the same period a year before (ISO week number, month, quarter or year).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people, json or csv for machines.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop a query after this many seconds, for this run ([source] timeout, default 60).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Recompute the incremental lifetime aggregates of clv and repeat_purchase_rate from every order.",
)
@context.wide_option
@context.locale_option
@context.config_option
def compute_command(
    metrics, period, source, tz, dimension, trend, compare, output, timeout, full, wide, locale, config_path
):
    """Compute METRICS (or `all`) for a period, in the source database.

    \b
    Examples:
      kpi compute nps csat churn_rate --period last-week
      kpi compute all --period 2026-W47 --by region --format json
      kpi compute revenue --period 2026-W47 --compare last-year
    """
    from ..compute import compute, select_metrics
    from ..incremental import answering
    from ..state import store_results
    from . import output as out

    config = context.apply_locale(context.load(config_path), locale)
    if timeout is not None:
        config.source.timeout = timeout
    reg = context.registry()
    context.warn_problems(reg)
    chosen = select_metrics(metrics, reg)
    the_period = context.resolve_period(period, context.timezone(config, tz), config.week_start)
    context.note_future(the_period)
    the_source = context.open_source(config, source, reg)
    try:
        with (
            _progress(f"Computing {len(chosen)} metric(s) for {the_period.label}") as progress,
            answering(config, "compute", full=full),
        ):
            results = compute(
                chosen,
                the_period,
                the_source,
                config=config,
                by=dimension,
                trend=trend,
                progress=progress.running,
                compare=compare,
            )
        if metrics == ("all",):
            results = [r for r in results if r.ok] or results
    finally:
        the_source.close()
    store_results(config, results, the_source.display, dimension)
    if output == "json":
        click.echo(out.to_json(results))
    elif output == "csv":
        click.echo(out.to_csv(results), nl=False)
    else:
        out.print_table(results, config.currency, config.locale, config.digits, wide)
    context.exit_when_none_computed(results)


class _progress:
    """On a terminal (stderr), a live line while the database works: which entities' queries are running
    and the time elapsed. Nothing on a pipe."""

    def __init__(self, message: str):
        self.message = message
        self.live: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self):
        if context.is_terminal():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.live.__enter__()
            self.task = self.live.add_task(self.message, total=None)
        return self

    def running(self, entities: list[str]) -> None:
        """``compute``'s progress callback: the entities whose queries are running now."""
        if self.live is not None and self.task is not None:
            doing = f": {', '.join(entities)} running" if entities else ""
            self.live.update(self.task, description=self.message + doing)

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)
        return False


COMMANDS = [compute_command]
