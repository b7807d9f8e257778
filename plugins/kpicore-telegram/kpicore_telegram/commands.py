"""`kpi telegram set-webhook URL` and `kpi telegram delete-webhook`: where Telegram sends updates."""

from __future__ import annotations

import click

from kpicore.cli import context


@click.group("telegram")
def telegram():
    """Telegram's side of /kpi: register or remove the webhook of `kpi serve`."""


def _api(config_path):
    from kpicore_telegram.api import DEFAULT_API_BASE, BotApi

    config = context.load(config_path)
    settings = dict((config.channels or {}).get("telegram") or {})
    return BotApi.from_settings({"api_base": DEFAULT_API_BASE, **settings})


@telegram.command("set-webhook")
@click.argument("url")
@context.config_option
def set_webhook(url, config_path):
    """Send updates to URL (https, port 443, 80, 88 or 8443, usually a reverse proxy in front of
    `kpi serve` forwarding /telegram/webhook) with TELEGRAM_WEBHOOK_SECRET as its secret token;
    set mode = "webhook" in [channels.telegram]."""
    import os

    from kpicore.errors import DeliveryError
    from kpicore_telegram.api import WEBHOOK_SECRET_ENV

    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if not secret:
        raise click.ClickException(
            f"{WEBHOOK_SECRET_ENV} is not set: set it to 1-256 of A-Z, a-z, 0-9, _ and -"
        )
    try:
        _api(config_path).call(
            "setWebhook",
            {"url": url, "secret_token": secret, "allowed_updates": ["message", "callback_query"]},
        )
    except DeliveryError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Telegram now sends updates to {url}")


@telegram.command("delete-webhook")
@context.config_option
def delete_webhook(config_path):
    """Stop sending updates to a webhook, so that `kpi serve` can poll (mode = "polling")."""
    from kpicore.errors import DeliveryError

    try:
        _api(config_path).call("deleteWebhook", {})
    except DeliveryError as error:
        raise click.ClickException(str(error)) from None
    click.echo("Telegram's webhook is removed: kpi serve can poll for updates")
