"""The Teams channel: a digest as Adaptive Cards POSTed to a Workflows webhook, ``teams:NAME``.

``[channels.teams.webhooks] NAME = "${TEAMS_WEBHOOK_SALES}"`` names each webhook; its URL (which
carries the flow's signature) comes from the environment only and never appears in a message.
A Workflows webhook answers 202 before the flow posts and confirms nothing, and it cannot be asked
what it posted: every card follows the ``sending`` rule (kpicore.channels.parts), so each is delivered
at most once; a card whose request got no answer is reported, never resent.

A card shows pictures only by URL: with ``[serve] public_url`` each chart is published at an
unguessable link that `kpi serve` answers (kpicore.channels.chart_links) and the card carries it as an
Image; without it, the card keeps the text sparkline.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import urlparse

from kpicore.channels import Channel, Delivery
from kpicore.channels.chart_links import ChartLinks, chart_links
from kpicore.channels.http import NotSent, post, post_with_retries
from kpicore.channels.parts import current_parts, send_parts, unknown_note
from kpicore.channels.sections import digest_sections, plain_sections
from kpicore.config import expand_environment
from kpicore.delivery import Message
from kpicore.delivery.redact import add_secrets
from kpicore.errors import ConfigError, DeliveryError
from kpicore_teams import card

log = logging.getLogger("kpicore.teams")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Where the settings carry the chart links of ``[serve] public_url`` (never written in kpi.toml).
CHART_LINKS = "chart_links"
#: A Workflows URL carries its signature in the query (``sig=...``): masked wherever it could show.
add_secrets(patterns=((r"([?&]sig=)[^&\s\"']+", r"\1***"),))


def webhook_references(settings: dict[str, Any]) -> dict[str, str]:
    """``[channels.teams.webhooks]``: NAME -> the ``${VAR}`` it names (ConfigError for a literal URL)."""
    webhooks = settings.get("webhooks") or {}
    if not isinstance(webhooks, dict):
        raise ConfigError('[channels.teams] webhooks: expected a table of NAME = "${TEAMS_WEBHOOK_NAME}"')
    references = {}
    for name, value in webhooks.items():
        match = _REFERENCE.match(str(value))
        if match is None:
            raise ConfigError(
                f"[channels.teams.webhooks] {name}: a webhook URL is a secret: write "
                f'{name} = "${{TEAMS_WEBHOOK_{name.upper()}}}" and set that environment variable'
            )
        references[name] = match.group(1)
    add_secrets(env=tuple(references.values()))
    return references


def webhook_url(name: str, settings: dict[str, Any]) -> str:
    """The URL of webhook ``name`` from the environment; ConfigError/DeliveryError naming what is missing."""
    references = webhook_references(settings)
    if name not in references:
        known = ", ".join(sorted(references)) or "none"
        raise ConfigError(f"destination 'teams:{name}': no [channels.teams.webhooks] {name} (known: {known})")
    url = expand_environment(f"${{{references[name]}}}", f"[channels.teams.webhooks] {name}").strip()
    parsed = urlparse(url)
    if not (parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in LOOPBACK_HOSTS)):
        raise DeliveryError(
            f"[channels.teams.webhooks] {name}: ${references[name]} does not hold an https:// webhook URL"
        )
    return url


class TeamsChannel(Channel):
    """Posts a digest to a Teams channel through a Workflows webhook, as Adaptive Cards within 28 KB."""

    scheme = "teams"
    description = "Microsoft Teams channel through a Workflows webhook ([channels.teams.webhooks] NAME)"
    formats = ("text",)
    setting_keys = ("webhooks", "outgoing", "timeout", "max_retries", "retry_backoff")

    def settings(self, config) -> dict[str, Any]:
        """``[channels.teams]``, and under ``chart_links`` where charts are published (from ``[serve]
        public_url``; not a key of the table). A bad ``[serve]`` is left to `kpi check`."""
        settings = super().settings(config)
        settings.pop(CHART_LINKS, None)
        try:
            links = chart_links(config)
        except ConfigError:
            links = None
        if links is not None:
            settings[CHART_LINKS] = links
        return settings

    def check_settings(self, settings: dict[str, Any], where: str) -> None:
        settings = {k: v for k, v in settings.items() if not isinstance(v, ChartLinks)}
        super().check_settings(settings, where)
        try:
            webhook_references(settings)
            outgoing = settings.get("outgoing") or {}
            if not isinstance(outgoing, dict) or any(not _REFERENCE.match(str(v)) for v in outgoing.values()):
                raise ConfigError(
                    '[channels.teams.outgoing]: each key is a secret: NAME = "${TEAMS_OUTGOING_NAME}"'
                )
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None

    def chat_endpoints(self, config) -> Any:
        """``/kpi`` through outgoing webhooks at ``POST /teams/messages`` when
        ``[channels.teams.outgoing]`` names at least one; None otherwise."""
        from kpicore.chat.service import ChatEndpoints
        from kpicore.delivery.store import ledger_engine
        from kpicore_teams.outgoing import TeamsOutgoing, outgoing_keys

        keys = outgoing_keys(self.settings(config))
        if not keys:
            return None
        outgoing = TeamsOutgoing(config, keys, ledger_engine(config))
        endpoints = ChatEndpoints(routes=outgoing.routes())
        endpoints._closers.append(outgoing.answerer.close)
        return endpoints

    def check_target(self, target: str) -> None:
        if not _NAME.match(target):
            raise ConfigError(
                f"destination 'teams:{target}': name a webhook of [channels.teams.webhooks], e.g. teams:sales"
            )

    def check_target_settings(self, target: str, settings: dict[str, Any]) -> None:
        """``teams:NAME`` needs ``NAME`` in ``[channels.teams.webhooks]``."""
        references = webhook_references(settings)
        if target not in references:
            known = ", ".join(sorted(references)) or "none"
            raise ConfigError(
                f"destination 'teams:{target}': no [channels.teams.webhooks] {target} (known: {known})"
            )

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """A webhook name that is not declared, or whose environment variable is not set (never its value)."""
        try:
            references = webhook_references(settings)
        except ConfigError as error:
            return [str(error)]
        if target not in references:
            return [f"[channels.teams.webhooks] has no {target!r}"]
        if not os.environ.get(references[target]):
            return [f"{references[target]} is not set: it must hold the Workflows webhook URL of {target!r}"]
        return []

    def bodies(self, message: Message, links: ChartLinks | None = None) -> list[bytes]:
        """The request bodies of the message, in order, each within 28 KB; right to left when its
        text is (a Persian digest). With ``links``, each chart is published and shown as an Image."""
        text = message.rendered("text")
        chart_urls: dict[str, str] = {}
        if message.kind == "digest":
            sections = digest_sections(text.body, getattr(text, "headline", ""))
            if links is not None:
                chart_urls = self._publish_charts(message, links)
        else:
            sections = plain_sections(text.body)
        return card.split_cards(sections, rtl=card.is_rtl_text(text.body), chart_urls=chart_urls)

    @staticmethod
    def _publish_charts(message: Message, links: ChartLinks) -> dict[str, str]:
        """Section title -> the public URL of that metric's chart."""
        from kpicore.state import open_state

        charted = message.rendered("html")
        engine = open_state(links.state_url)
        try:
            return {
                charted.titles.get(metric, metric): links.publish(charted.images[content_id], engine)
                for metric, content_id in charted.charts.items()
                if content_id in charted.images
            }
        finally:
            engine.dispose()

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """POST each card not yet delivered; stop at the first failure (the rest go on the next attempt)."""
        destination = f"teams:{target}"
        url = webhook_url(target, settings)
        bodies = self.bodies(message, settings.get(CHART_LINKS))
        total = len(bodies)

        def what(number: int) -> str:
            return f"card {number} of {total} of the {message.kind} {message.name!r} for {destination}"

        def send_part(number: int) -> str:
            try:
                answer = post_with_retries(
                    lambda: post(
                        url,
                        bodies[number - 1],
                        "application/json",
                        timeout=float(settings.get("timeout", 30)),
                        what=what(number),
                    ),
                    max_retries=int(settings.get("max_retries", 3)),
                    backoff=float(settings.get("retry_backoff", 0.5)),
                )
            except NotSent as error:
                raise DeliveryError(f"Teams: {error}") from None
            if answer.status not in (200, 202):
                raise DeliveryError(
                    f"Teams refused {what(number)}: HTTP {answer.status}{_advice(answer.status)}"
                )
            return f"teams:{target}#{number}"

        unknown = send_parts(total, send_part, lambda n: f"Teams: {what(n)}")
        detail = (
            f"{total} card(s) to {target} (accepted; Workflows confirm nothing more){unknown_note(unknown)}"
        )
        return Delivery(message_ids=current_parts().entries(total), detail=detail)


def _advice(status: int) -> str:
    if status in (401, 403, 404):
        return "; the webhook URL is wrong or its flow was deleted or turned off: copy it again from the workflow"
    if status == 413:
        return " (the card is over Teams' 28 KB)"
    if status == 429:
        return " (throttled: retry later)"
    return ""
