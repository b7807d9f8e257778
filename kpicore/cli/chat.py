"""``kpi chat``: setting up ``/kpi`` in Slack."""

from __future__ import annotations

import click


@click.group("chat")
def chat_group():
    """/kpi in Slack: the app manifest (the answers are served by `kpi serve`)."""


@chat_group.command("manifest")
@click.option("--url", help="Public address of kpi serve (https://kpi.example.com); /slack/events is added.")
@click.option(
    "--socket-mode",
    is_flag=True,
    help="No public URL: the app connects out over Socket Mode (SLACK_APP_TOKEN).",
)
@click.option("--name", default="kpicore", show_default=True, help="The app's and the bot's name in Slack.")
def manifest_command(url, socket_mode, name):
    """Print the Slack app manifest (JSON) for /kpi: paste it at api.slack.com/apps.

    \b
    Examples:
      kpi chat manifest --socket-mode
      kpi chat manifest --url https://kpi.example.com
    """
    import json

    from ..chat.manifest import manifest

    click.echo(json.dumps(manifest(url=url, socket_mode=socket_mode, name=name), indent=2))


COMMANDS = [chat_group]
