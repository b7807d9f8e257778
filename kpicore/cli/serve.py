"""``kpi serve`` (the scheduler and HTTP service) and ``kpi schedule`` (the next fire times)."""

from __future__ import annotations

import click

from . import context


def _service_specs(config, reg):
    """Every digest validated, and the delivery settings; the first problem is a ConfigError."""
    from ..delivery.check import channel_setting_problems, serve_problems
    from ..digest.config import digest_specs
    from ..errors import ConfigError

    problems = channel_setting_problems(config, reg) + serve_problems(config, reg)
    if problems:
        raise ConfigError(problems[0])
    return digest_specs(config, reg)


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8750, show_default=True,
              help="Port for /healthz and /metrics (0: any free port, logged at start).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="One line per event: text for people, json for machines.")
@context.config_option
def serve_command(port, host, log_format, config_path):
    """Run the digests on their schedules and serve /healthz and /metrics until SIGTERM or Ctrl-C.

    With SLACK_SIGNING_SECRET set, /kpi is answered at POST /slack/events on the same port.

    Each digest with a `schedule` (5-field cron in its timezone) or `every` ("30s") fires on
    time; missed fires within `catch_up` (default 24h) are sent once on start; failed
    destinations are retried with backoff, then reported to [serve] notify. Several processes
    may share one PostgreSQL state_url: each digest still goes out once per period.
    """
    from ..digest.run import ledger_engine
    from ..serve.logs import configure, event
    from ..serve.server import run
    from ..serve.service import Service, serve_settings

    config = context.load(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    specs = _service_specs(config, reg)
    settings = serve_settings(config)
    configure(log_format)
    engine = ledger_engine(config)
    service = Service(config, reg, specs, engine, settings)
    if not service.specs:
        event("idle", reason="no digest has a schedule or every; nothing will be sent")
    routes, answerer = _slack_routes(config)
    try:
        run(service, host, port, extra_routes=routes)
    finally:
        if answerer is not None:
            answerer.close()


def _slack_routes(config):
    """``POST /slack/events`` (/kpi, signatures verified by Bolt) when SLACK_SIGNING_SECRET is set."""
    import os

    from ..chat.app import SIGNING_SECRET_ENV

    if not os.environ.get(SIGNING_SECRET_ENV):
        return [], None
    from ..chat.app import build_app
    from ..chat.http import EVENTS_PATH, slack_routes
    from ..serve.logs import event

    bolt_app = build_app(config)
    event("slack_events", path=EVENTS_PATH)
    return slack_routes(bolt_app), bolt_app.kpi_answerer


@click.command("schedule")
@click.option("--next", "count", type=click.IntRange(1, 100), default=3, show_default=True,
              help="How many fire times to show per digest.")
@context.config_option
def schedule_command(count, config_path):
    """Show each scheduled digest's next fire times, in its local time and in UTC."""
    import datetime as dt

    from ..scheduler import CronSchedule, fire_times

    config = context.load(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    specs = _service_specs(config, reg)
    now = dt.datetime.now(dt.UTC)
    shown = 0
    for spec in specs.values():
        if spec.schedule is None:
            continue
        shown += 1
        zone = spec.schedule.timezone if isinstance(spec.schedule, CronSchedule) else (spec.timezone or "UTC")
        click.echo(f"digest {spec.name}: {spec.schedule} ({zone}), period {spec.period}")
        from ..periods import get_timezone

        tz = get_timezone(zone)
        for moment in fire_times(spec.schedule, now, count):
            local = moment.astimezone(tz)
            click.echo(f"  {local:%Y-%m-%d %a %H:%M:%S %Z}  =  {moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
    if not shown:
        click.echo("No digest has a schedule: add schedule = \"0 9 * * MON\" or every = \"1h\" to a [digests.NAME].")


COMMANDS = [serve_command, schedule_command]
