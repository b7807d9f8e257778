"""``kpi digest list|render|send|deliveries|resend|mark-arrived``: the digests defined in kpi.toml."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from . import context

FORMATS = ("text", "md", "html", "slack")
period_option = click.option(
    "--period", "-p", help="Period to report instead of the digest's own (2026-W47, last-month, ...)."
)


@click.group("digest")
def digest_group():
    """Digests defined in kpi.toml ([digests.NAME]): list, preview, send, and the delivery ledger.

    \b
    Examples:
      kpi digest list
      kpi digest render weekly --format html --out weekly.html
      kpi digest send weekly --dry-run
      kpi digest deliveries weekly
    """


def _spec(config, name: str):
    from ..digest.config import digest_spec

    reg = context.registry()
    context.warn_problems(reg)
    return digest_spec(config, name, reg), reg


@digest_group.command("list")
@context.config_option
def list_command(config_path):
    """List the digests: metrics, schedule, destinations and the last delivery to each."""
    from ..config import config_file_name
    from ..delivery.ledger import list_deliveries
    from ..delivery.store import ledger_engine
    from ..digest.config import digest_names, digest_spec
    from ..errors import ConfigError

    config = context.load(config_path)
    names = digest_names(config)
    if not names:
        click.echo(
            f"No digests defined: add a [digests.NAME] table to {config_file_name(config)} (see docs/digests.md)."
        )
        return
    reg = context.registry()
    context.warn_problems(reg)
    engine = ledger_engine(config, create=False)
    broken = False
    for index, name in enumerate(names):
        if index:
            click.echo()
        try:
            spec = digest_spec(config, name, reg)
        except ConfigError as error:
            broken = True
            click.echo(f"{name}: ERROR {error}")
            continue
        click.echo(f"{spec.name}: {spec.title}")
        metrics = [m + (f" (by {spec.breakdowns[m]})" if m in spec.breakdowns else "") for m in spec.metrics]
        click.echo(f"  metrics: {', '.join(metrics)}")
        click.echo(f"  period: {spec.period}, trend {spec.trend or 'off'}, timezone {spec.timezone}")
        click.echo(f"  schedule: {spec.schedule or 'none (send with `kpi digest send`)'}")
        last: dict[str, Any] = {}
        if engine is not None:
            for row in list_deliveries(engine, digest=name):
                last.setdefault(row.destination, row)  # newest first
        if not spec.destinations:
            click.echo("  destinations: none")
        else:
            click.echo("  destinations:")
        width = max((len(d) for d in spec.destinations), default=0)
        for destination in spec.destinations:
            latest = last.get(destination)
            status = (
                f"{latest.status} {latest.period} ({latest.updated_at:%Y-%m-%d %H:%M} UTC)"
                if latest
                else "never sent"
            )
            click.echo(f"    {destination.ljust(width)}  {status}")
    if broken:
        sys.exit(2)


@digest_group.command("render")
@click.argument("name")
@period_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="slack (Block Kit JSON), html (self-contained, charts inlined), text or md.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True), help="Write to FILE instead of stdout."
)
@context.source_option
@context.locale_option
@context.config_option
def render_command(name, period, fmt, out, source, locale, config_path):
    """Render digest NAME for its period without sending it.

    HTML is self-contained: charts are inlined as data: URIs, so the file opens in any browser
    and can be moved or attached on its own. Slack is the JSON list of chat.postMessage payloads
    (charts are uploaded separately when sending).
    """
    from ..digest.render import standalone_html
    from ..digest.run import prepare_digest

    config = context.apply_locale(context.load(config_path), locale)
    spec, reg = _spec(config, name)
    context.sync_first(config, source, reg)
    prepared = prepare_digest(config, spec, period=period, registry=reg, source_url=source, store=False)
    rendered = prepared.outgoing.rendered(fmt)
    body = standalone_html(rendered) if fmt == "html" else rendered.body
    if out:
        Path(out).write_text(body, encoding="utf-8")
        click.echo(f"Wrote {out} ({spec.name}, {prepared.period.label}, {fmt}).", err=True)
    else:
        click.echo(body, nl=not body.endswith("\n"))


@digest_group.command("send")
@click.argument("name")
@period_option
@click.option("--dry-run", is_flag=True, help="Compute and render, show what would be sent; send nothing.")
@click.option("--force", is_flag=True, help="Send again to destinations already delivered for the period.")
@context.source_option
@context.config_option
def send_command(name, period, dry_run, force, source, config_path):
    """Send digest NAME to its destinations, once per period each.

    Prints one line per destination: sent, skipped (already delivered: --force resends), or
    failed with the reason. A failed destination does not stop the others and is retried by the
    next send. Exits 1 if any destination failed.
    """
    from ..errors import ConfigError

    config = context.load(config_path)
    spec, reg = _spec(config, name)
    context.sync_first(config, source, reg)
    if not spec.destinations:
        raise ConfigError(f'digest {name!r} has no destinations: add destinations = ["slack:#kpis", ...]')
    if dry_run:
        _dry_run(config, spec, reg, period, source, force)
        return
    from ..serve.send import send_digest

    run = send_digest(config, spec, period=period, force=force, registry=reg, source_url=source)
    click.echo(f"Digest {spec.name} for {run.period.label}:", err=True)
    for outcome in run.outcomes:
        click.echo(outcome.message)
    if run.failed:
        sys.exit(1)


def _dry_run(config, spec, reg, period, source, force) -> None:
    from ..channels.base import parse_destination
    from ..delivery.destinations import channel_settings, channels
    from ..delivery.ledger import SENT, list_deliveries
    from ..delivery.store import ledger_engine
    from ..digest.run import prepare_digest

    prepared = prepare_digest(config, spec, period=period, registry=reg, source_url=source, store=False)
    label = prepared.period.label
    engine = ledger_engine(config, create=False)
    previous = {}
    if engine is not None:
        previous = {
            row.destination: row.status for row in list_deliveries(engine, digest=spec.name, period=label)
        }
    by_scheme = channels(reg)
    settings = channel_settings(config, reg)
    click.echo(f"Digest {spec.name} for {label} (dry run, nothing sent):", err=True)
    for destination in spec.destinations:
        scheme, target = parse_destination(destination)
        channel = by_scheme[scheme]
        for fmt in channel.formats:
            prepared.outgoing.rendered(fmt)  # a template error shows now, not at send time
        status = previous.get(destination)
        if status in (SENT, "pending", "unknown") and not force:
            click.echo(f"{destination}: would skip, ledger says {status} (use --force to resend)")
        else:
            formats = ", ".join(channel.formats) or "none"
            click.echo(
                f"{destination}: would send ({formats})" + (f", ledger says {status}" if status else "")
            )
        for problem in channel.preflight(target, settings.get(scheme, {})):
            click.echo(f"{destination}: warning: {problem}")


@digest_group.command("deliveries")
@click.argument("name", required=False)
@period_option
@context.config_option
def deliveries_command(name, period, config_path):
    """Show the delivery ledger (newest first): status sent, failed, pending or unknown, attempts, last error.

    `unknown` is a send that stopped while handing the message over (between SMTP DATA and the
    server's answer): check the destination, then `kpi digest mark-arrived` or `kpi digest resend`.
    `lapsed` is a claim whose sender stopped before handing anything over: the next sender sends it.
    Digests only: alerts are listed by `kpi alerts deliveries`.
    """
    show_deliveries(config_path, name, period, ("digest",))


def show_deliveries(config_path, name: str | None, period: str | None, kinds: tuple[str, ...]) -> None:
    """Print the ledger rows of these message kinds (newest first), for one name and period if given."""
    from ..delivery.ledger import list_deliveries
    from ..delivery.store import ledger_engine

    config = context.load(config_path)
    engine = ledger_engine(config, create=False)
    rows = []
    if engine is not None:
        rows = [row for kind in kinds for row in list_deliveries(engine, name=name, period=period, kind=kind)]
        rows.sort(key=lambda row: row.updated_at, reverse=True)
    if "digest" in kinds and name is not None and name not in config.digests and not rows:
        from ..digest.config import digest_spec

        digest_spec(config, name, None)  # an error listing the defined digests
    if not rows:
        click.echo("No deliveries recorded" + (f" for {name}" if name else "") + ".")
        return
    table = [
        (
            "KIND",
            "NAME",
            "PERIOD",
            "SEGMENT",
            "DESTINATION",
            "STATUS",
            "ATTEMPTS",
            "UPDATED (UTC)",
            "LAST ERROR",
        )
    ]
    for row in rows:
        error = (row.last_error or "").replace("\n", " ")
        table.append(
            (
                row.kind,
                row.name,
                row.period,
                row.segment or "-",
                row.destination,
                row.status,
                str(row.attempts),
                f"{row.updated_at:%Y-%m-%d %H:%M}",
                error[:120] + ("…" if len(error) > 120 else ""),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[-1]
        )


from .settle import mark_arrived_command, resend_command  # noqa: E402  (the group exists first)

digest_group.add_command(resend_command)
digest_group.add_command(mark_arrived_command)

COMMANDS = [digest_group]
