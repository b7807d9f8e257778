"""``kpi sync``: copy the configured REST source (agilecrm://, hubspot://) into the staging database."""

from __future__ import annotations

import click

from . import context


@click.command("sync")
@context.source_option
@click.option(
    "--full",
    is_flag=True,
    help="Fetch everything again (and drop what the API no longer has) instead of changes since the last sync.",
)
@context.config_option
def sync_command(source, full, config_path):
    """Sync a REST source into the staging database ([sync] url, default kpi-sync.db).

    \b
    Fetches what changed since the last complete sync, one transaction per page; a sync that
    fails part-way resumes where it stopped on the next run. Computes read the last complete sync.
    Examples:
      kpi sync
      kpi sync --full
    """
    from ..sync import run_sync

    config = context.load(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    with _Progress() as progress:
        summary = run_sync(config, reg, source, full=full, progress=progress.update)
    click.echo(summary.line())


class _Progress:
    """A rich progress bar per stream on stderr, when stderr is a terminal; silent otherwise."""

    def __init__(self):
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if context.is_terminal():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.__enter__()
        return self

    def update(self, stream: str, fetched: int, total: int | None) -> None:
        if self.bar is None:
            return
        if stream not in self.tasks:
            self.tasks[stream] = self.bar.add_task(stream, total=total)
        self.bar.update(self.tasks[stream], completed=fetched, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


COMMANDS = [sync_command]
