"""A ``/kpi`` reply as plain text and buttons, for chats that are not Slack (Telegram, Teams).

The answerer writes Block Kit (kpicore.chat.answers); this reads it back: section, header, field and
context texts become lines (Slack's ``*bold*``, backticks and ``<url|label>`` removed, its ``&amp;``
escapes undone, so each chat escapes the text for itself), and every button or menu option becomes a
``Button(label, command)`` whose command goes back through the same grammar and permission check.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

_LINK = re.compile(r"<(?:[^|>]+)\|([^>]+)>|<((?:https?|mailto):[^>]+)>")
_EMOJI = {":warning:": "⚠", ":white_check_mark:": "✓", ":x:": "✗", ":chart_with_upwards_trend:": "📈"}


@dataclass(frozen=True)
class Button:
    """A follow-up: what the button says and the ``/kpi`` text it sends."""

    label: str
    command: str


def mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn as plain text: no markup characters, links as their labels, entities decoded."""
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    for code, symbol in _EMOJI.items():
        text = text.replace(code, symbol)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    return html.unescape(text.replace("`", ""))


def _text_of(element: dict[str, Any] | None) -> str:
    if not element:
        return ""
    text = element.get("text", "")
    return mrkdwn_to_text(text) if element.get("type") == "mrkdwn" else html.unescape(text)


def reply_lines(message: dict[str, Any]) -> list[str]:
    """The text of a reply's blocks, one entry per block (its ``text`` when it has no blocks)."""
    lines = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind in ("section", "header"):
            text = _text_of(block.get("text"))
            fields = [_text_of(field) for field in block.get("fields") or []]
            lines.append("\n".join(part for part in [text, *fields] if part))
        elif kind == "context":
            lines.append(
                " ".join(_text_of(element) for element in block.get("elements") or [] if element.get("text"))
            )
        elif kind == "image":
            lines.append(block.get("alt_text") or "")
    lines = [line for line in lines if line.strip()]
    return lines or [mrkdwn_to_text(message.get("text") or "")]


def reply_buttons(message: dict[str, Any], *, share: bool = False) -> list[Button]:
    """The reply's follow-ups as buttons (``share``: keep "Share to channel", which only Slack can do)."""
    buttons = []
    for block in message.get("blocks") or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if element.get("type") == "button" and element.get("value"):
                if share or element.get("action_id") != "kpi_share":
                    buttons.append(Button(_text_of(element.get("text")), element["value"]))
            for option in element.get("options") or []:
                if option.get("value"):
                    buttons.append(Button(_text_of(option.get("text")), option["value"]))
    return buttons
