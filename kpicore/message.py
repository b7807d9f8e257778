"""What the delivery core sends: a message with a key, renderings per format (its parts), and destinations.

Digests, alerts and personal digests all become a :class:`Message`; the ledger, the channels and
the retries only ever see this, never what a digest is. Message kinds are registered
(:func:`register_kind`): kpicore's own are ``digest``, ``alert``, ``alert_clear`` and ``personal``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kpicore.errors import ConfigError

#: The kinds of message the ledger knows (the first part of its unique key), kpicore's first.
KINDS: list[str] = ["digest", "alert", "alert_clear", "personal"]


def register_kind(kind: str) -> None:
    """Make ``kind`` a message kind the ledger accepts (a plugin that sends messages of its own)."""
    if not isinstance(kind, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", kind):
        raise ValueError(f"message kind {kind!r}: use lowercase letters, digits and _ (at most 40)")
    if kind not in KINDS:
        KINDS.append(kind)


#: File extension of each rendered format (``file:`` destinations, ``kpi digest render --out``).
FILE_EXTENSIONS: dict[str, str] = {"slack": "slack.json", "html": "html", "text": "txt", "md": "md"}


@dataclass
class Rendered:
    """A message rendered in one format.

    ``body`` is the text to show or store (for Slack, the JSON document of ``slack_document``); ``images``
    maps Content-IDs to chart PNGs (HTML and Slack); ``messages`` are chat.postMessage payloads
    (Slack only), each within Block Kit limits.
    """

    fmt: str
    body: str
    images: dict[str, bytes] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: metric name -> Content-ID of its chart, in digest order.
    charts: dict[str, str] = field(default_factory=dict)
    #: The headline in one line (what a notification or an email preview shows).
    headline: str = ""
    #: metric name -> the alt text of its chart (the chart in words).
    chart_alts: dict[str, str] = field(default_factory=dict)
    #: metric name -> its title as the rendering shows it (to find a metric's section in the text).
    titles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageKey:
    """What makes a message unique per destination: (kind, name, period, segment).

    ``segment`` is empty except for alerts that fire per segment (``by = "region"``).
    """

    kind: str
    name: str
    period: str
    segment: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown message kind {self.kind!r} (known: {', '.join(KINDS)})")

    def describe(self) -> str:
        """``digest weekly 2026-W47`` (with ``[region=EU]`` for a segment), for messages and logs."""
        return f"{self.kind} {self.name} {self.period}" + (f" [{self.segment}]" if self.segment else "")


@dataclass
class Message:
    """A message ready to go out: its key, a title, and its renderings.

    ``renderings`` is either a mapping fmt -> rendered object (with ``body``, and for Slack
    ``messages``, ``images``, ``charts``) or a callable ``render(fmt)``; a callable is called at
    most once per format, so a run that only sends to Slack never draws the HTML email.
    """

    key: MessageKey
    title: str
    renderings: Mapping[str, Any] | Callable[[str], Any]
    destinations: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def period_label(self) -> str:
        return self.key.period

    @property
    def segment(self) -> str:
        return self.key.segment

    @classmethod
    def plain(cls, key: MessageKey, title: str, text: str) -> Message:
        """A message of one line of text (alerts, notices): a plain-text Slack section, an escaped HTML
        paragraph, the text itself elsewhere. Nothing in ``text`` can ping or inject markup."""

        def render(fmt: str):
            from html import escape

            from kpicore.presentation.blockkit import slack_entities

            if fmt == "slack":
                return Rendered(
                    fmt="slack",
                    body=text,
                    messages=[
                        {
                            "text": slack_entities(text),
                            "blocks": [
                                {"type": "section", "text": {"type": "plain_text", "text": text[:2900]}}
                            ],
                        }
                    ],
                )
            if fmt == "html":
                return Rendered(fmt="html", body=f"<p>{escape(text)}</p>")
            return Rendered(fmt=fmt, body=text)

        return cls(key=key, title=title, renderings=render)

    def rendered(self, fmt: str) -> Any:
        """The message rendered as ``fmt`` ("slack", "html", "text", "md")."""
        if fmt not in self._cache:
            if callable(self.renderings):
                self._cache[fmt] = self.renderings(fmt)
            else:
                try:
                    self._cache[fmt] = self.renderings[fmt]
                except KeyError:
                    raise ConfigError(
                        f"{self.kind.capitalize()} {self.name!r} was not rendered as {fmt!r}"
                    ) from None
        return self._cache[fmt]

    @property
    def subject(self) -> str:
        """A one-line title: ``Weekly KPIs — 2026-W47``."""
        return f"{self.title} — {self.period_label}" + (f" ({self.segment})" if self.segment else "")
