"""``kpi serve`` (the scheduler and HTTP service) and ``kpi schedule`` (the next fire times)."""

from __future__ import annotations

import click

from . import context


def _service_specs(config, reg):
    """Every digest validated, and the settings of the service; the first problem is a ConfigError."""
    from ..config_check import service_problems
    from ..delivery.check import channel_setting_problems, serve_problems
    from ..digest.config import digest_specs
    from ..errors import ConfigError
    from ..insights.run import insight_problems

    problems = channel_setting_problems(config, reg) + serve_problems(config, reg) + service_problems(config)
    problems += insight_problems(config, reg)
    if problems:
        raise ConfigError(problems[0])
    return digest_specs(config, reg)


def _alert_schedules(config, reg) -> dict:
    """Alert name -> (AlertSpec, schedule or None), every rule checked; the first problem is a ConfigError."""
    from ..alerts.check import alert_problems
    from ..alerts.rules import alert_specs
    from ..alerts.schedule import alert_schedule
    from ..config import config_file_name
    from ..errors import ConfigError

    problems = alert_problems(config, reg)
    if problems:
        raise ConfigError(problems[0])
    where = config_file_name(config)
    return {
        name: (spec, alert_schedule(spec, config, reg, where)) for name, spec in alert_specs(config).items()
    }


def _follow_schedule(config, reg):
    """(ChatSettings, schedule) for the personal messages of /kpi followers; None when neither Slack
    (a bot token) nor a channel plugin answers /kpi follow (nobody can follow)."""
    import os

    from ..channels.slack import TOKEN_ENV
    from ..chat.settings import ChatSettings

    settings = ChatSettings.from_config(config)
    plugins = any(registration.item.takes_follows(config) for registration in reg.channels.values())
    if not os.environ.get(TOKEN_ENV) and not plugins:
        return None
    return settings, settings.schedule_for(config.timezone)


@click.command("serve")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8750,
    show_default=True,
    help="Port for /healthz, /metrics and /slack/events (0: any free port, logged at start).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event: text for people, json for machines.",
)
@context.config_option
def serve_command(port, host, log_format, config_path):
    """Run the digests on their schedules; serve /healthz, /metrics and /kpi (/slack/events) until SIGTERM or Ctrl-C.

    Each digest with a `schedule` (5-field cron in its timezone) or `every` ("30s") fires on
    time; missed fires within `catch_up` (default 24h) are sent once on start; failed
    destinations are retried with backoff, then reported to [serve] notify. Several processes
    may share one PostgreSQL state_url: each digest still goes out once per period. /kpi slash
    commands are answered at POST /slack/events (SLACK_SIGNING_SECRET) and, with SLACK_APP_TOKEN, over
    Socket Mode.
    """
    from ..delivery.store import ledger_engine
    from ..events import configure, event
    from ..serve.server import run
    from ..serve.service import Service, serve_settings

    config = context.load(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    specs = _service_specs(config, reg)
    settings = serve_settings(config)
    configure(log_format)
    alerts = _alert_schedules(config, reg)
    engine = ledger_engine(config)
    service = Service(
        config, reg, specs, engine, settings, alerts=alerts, follow=_follow_schedule(config, reg)
    )
    if not service.specs and not service.alerts:
        event("idle", reason="no digest or alert has a schedule or every; nothing will be sent")
    from ..chat.service import chat_endpoints

    chats = []

    def chat_routes():
        chats.append(chat_endpoints(config))
        service.problem_sources.append(chats[0].problems)
        if chats[0].off_reason:
            event("chat", http="off", reason=chats[0].off_reason)
        else:
            event(
                "chat", http="/slack/events", socket_mode="on" if chats[0].socket_mode is not None else "off"
            )
        routes = list(chats[0].routes)
        for scheme, registration in sorted(reg.channels.items()):  # /kpi over channel plugins
            endpoints = registration.item.chat_endpoints(config)
            if endpoints is not None:
                chats.append(endpoints)
                service.problem_sources.append(endpoints.problems)
                routes.extend(endpoints.routes)
                event("chat", channel=scheme, reason=endpoints.off_reason)
        return routes

    try:
        run(service, host, port, extra_routes=chat_routes)
    finally:
        for chat in chats:
            chat.close()


@click.command("schedule")
@click.option(
    "--next",
    "count",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="How many fire times to show per digest.",
)
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
            click.echo(
                f"  {local:%Y-%m-%d %a %H:%M:%S %Z}  =  {moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
            )
    for name, (spec, schedule) in _alert_schedules(config, reg).items():
        if schedule is None:
            continue
        shown += 1
        zone = schedule.timezone if isinstance(schedule, CronSchedule) else config.timezone
        click.echo(f"alert {name}: {schedule} ({zone}), period {spec.period}, when {spec.when}")
        from ..periods import get_timezone

        tz = get_timezone(zone)
        for moment in fire_times(schedule, now, count):
            local = moment.astimezone(tz)
            click.echo(
                f"  {local:%Y-%m-%d %a %H:%M:%S %Z}  =  {moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
            )
    if not shown:
        click.echo(
            'No digest or alert has a schedule: add schedule = "0 9 * * MON" or every = "1h" '
            "to a [digests.NAME] or [alerts.NAME]."
        )


COMMANDS = [serve_command, schedule_command]
