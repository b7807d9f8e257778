"""The ``kpi`` command line. Each topic lives in its own module; heavy imports stay inside commands."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from ..errors import KpiError
from ..version import __version__


class KpiGroup(click.Group):
    """Turns kpicore errors into one clear line and an exit code (2 usage/config, 1 runtime)."""

    def format_commands(self, ctx, formatter):
        """Each command with the whole first sentence of its help, wrapped, never cut with "..."."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, *args, **options):
        try:  # `kpi --help` writes its help here
            return super().make_context(*args, **options)
        except BrokenPipeError:
            reader_gone()

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KpiError as error:
            if os.environ.get("KPI_DEBUG") == "1":
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(error.exit_code)
        except BrokenPipeError:
            reader_gone()
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:  # the last line of defence: one line, not a traceback
            if os.environ.get("KPI_DEBUG") == "1":
                raise
            command = f"kpi {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "kpi"
            click.echo(
                f"Error: {command} failed unexpectedly: {type(error).__name__}: {_without_secrets(str(error))} "
                "(run again with KPI_DEBUG=1 for the traceback)",
                err=True,
            )
            sys.exit(1)


def reader_gone() -> NoReturn:
    """Stop quietly, with exit code 0, when the reader of stdout went away (``kpi demo | head``), as a
    Unix tool does: stdout goes to /dev/null so that Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(0)


def _without_secrets(text: str) -> str:
    """The text on one line, with the password of any URL in it masked."""
    import re

    one_line = " ".join(text.split())
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", one_line)


@click.group(cls=KpiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kpicore", message="%(prog)s %(version)s")
def cli():
    """kpicore: KPIs computed where your data lives, delivered to Slack and email.

    Start with `kpi demo`, then `kpi compute nps --period last-week`.

    \b
    Exit codes:
      0  done: every metric asked for computed, or some did (the rest say why)
      2  a problem in what was asked or configured: kpi.toml, a plugin, an
         unknown metric, or a mapping, so that none of the metrics could compute
      1  a failure at run time: the database, a query, a channel
    """


def _register_builtin_commands() -> None:
    from . import alerts, catalog, chat, compute, digest, insights, scaffold, serve, setup, sync

    for module in (compute, catalog, insights, digest, alerts, serve, setup, scaffold, chat, sync):
        for command in module.COMMANDS:
            cli.add_command(command)


def _register_plugin_commands() -> None:
    from ..plugins import load_plugins

    load_plugins().manager.hook.register_commands(cli=cli)


_register_builtin_commands()


def main(argv=None) -> None:
    """Console-script entry point."""
    _register_plugin_commands()
    try:
        cli.main(args=argv, prog_name="kpi")
    finally:  # what is still buffered meets a closed pipe here, not in Python's exit
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            reader_gone()
