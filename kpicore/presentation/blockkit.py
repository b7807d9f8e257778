"""Slack Block Kit limits, and splitting a digest's blocks into messages that respect them.

Slack rejects a message with more than 50 blocks, a section text over 3,000 characters, a
section with more than 10 fields or a header over 150 characters (``invalid_blocks``), and
truncates a notification ``text`` over 4,000 characters. A long digest is therefore split across
several messages, each valid on its own; nothing is dropped.
"""

from __future__ import annotations

import copy
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
#: Slack truncates a message's top-level ``text`` (the notification) beyond this.
MAX_MESSAGE_TEXT = 4000
ELLIPSIS = "…"


#: Slack's mrkdwn formatting characters (bold, italic, strike, code). Slack documents no escape for them,
#: so :func:`slack_escape` puts an invisible WORD JOINER on both sides of each: a segment named ``*bold*``
#: reads as written, in no bold.
MRKDWN_MARKS = "*_~`"
WORD_JOINER = "\u2060"


def slack_entities(value: Any) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack's mrkdwn requires, so text can never become a mention
    (``<!channel>``, ``<@U123>``) or a link (``<https://…|x>``): for kpicore's own messages, whose
    backticks and asterisks are formatting."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_escape(value: Any) -> str:
    """A data value in mrkdwn: :func:`slack_entities`, and ``*``, ``_``, ``~`` and backticks kept from
    formatting (see :data:`MRKDWN_MARKS`). The words a reader sees stay the same."""
    text = slack_entities(value)
    for mark in MRKDWN_MARKS:
        text = text.replace(mark, f"{WORD_JOINER}{mark}{WORD_JOINER}")
    return text


def _cut(text: str, limit: int) -> tuple[str, str]:
    """Split ``text`` at most ``limit`` characters in, preferably at a line break, never inside
    an ``&amp;``-style entity."""
    if len(text) <= limit:
        return text, ""
    cut = text.rfind("\n", 0, limit + 1)
    if cut <= 0:
        cut = limit
        amp = text.rfind("&", max(0, cut - 5), cut)
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
        return text[:cut], text[cut:]
    return text[:cut], text[cut + 1 :]


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Cut a text into chunks of at most ``limit`` characters, at line breaks where possible."""
    chunks = []
    rest = text
    while rest:
        head, rest = _cut(rest, limit)
        if head:
            chunks.append(head)
    return chunks or [""]


def fit_block(block: dict[str, Any]) -> list[dict[str, Any]]:
    """One block as one or more blocks within Slack's per-block limits.

    A long section text continues in further sections, more than 10 fields continue in further
    sections; only a header (the digest's own title, from the configuration) is shortened, with
    an ellipsis, because Slack allows one line there (the full title is in the fallback text).
    """
    kind = block.get("type")
    if kind == "header":
        text = block["text"]["text"]
        if len(text) > MAX_HEADER_TEXT:
            block = copy.deepcopy(block)
            block["text"]["text"] = text[: MAX_HEADER_TEXT - 1] + ELLIPSIS
        return [block]
    if kind != "section":
        return [block]
    pieces: list[dict[str, Any]] = []
    text = block.get("text")
    if text is not None:
        for chunk in split_text(text["text"]):
            pieces.append({"type": "section", "text": {**text, "text": chunk}})
    fields = block.get("fields") or []
    for start in range(0, len(fields), MAX_FIELDS):
        group = fields[start : start + MAX_FIELDS]
        if pieces and start == 0 and "fields" not in pieces[-1]:
            pieces[-1]["fields"] = group
        else:
            pieces.append({"type": "section", "fields": group})
    if not pieces:
        return [block]
    # Keep extras (accessory, block_id) on the first piece only: block_ids must be unique.
    extras = {k: v for k, v in block.items() if k not in ("type", "text", "fields")}
    pieces[0].update(extras)
    return pieces


def _units(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The blocks in units that belong together: a divider starts a new unit (one metric's
    section, context and breakdown), so a split never leaves a metric's lines in two messages."""
    units: list[list[dict[str, Any]]] = []
    for block in blocks:
        if block.get("type") == "divider" or not units:
            units.append([])
        units[-1].append(block)
    return units


def split_messages(payload: dict[str, Any], *, title: str) -> list[dict[str, Any]]:
    """Turn one ``{"text", "blocks"}`` payload into chat.postMessage payloads within the limits.

    Every message gets a ``text`` fallback (used by notifications and screen readers);
    continuation messages start with a context block naming the digest and the part number.
    A metric (the blocks from one divider to the next) stays in one message when it fits in one;
    no message starts or ends with a divider.
    """
    blocks: list[dict[str, Any]] = []
    for block in payload.get("blocks", []):
        blocks.extend(fit_block(block))
    fallback = payload.get("text") or title
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for unit in _units(blocks):
        # Room for the continuation context block on every message after the first.
        room = MAX_BLOCKS if not groups else MAX_BLOCKS - 1
        if current and len(current) + len(unit) > room:
            groups.append(current)
            current = []
            room = MAX_BLOCKS - 1
        if not current and unit and unit[0].get("type") == "divider":
            unit = unit[1:]  # a message never opens with a divider
        for block in unit:
            if len(current) >= room:
                groups.append(current)
                current = []
                room = MAX_BLOCKS - 1
            current.append(block)
    if current or not groups:
        groups.append(current)
    for group in groups:
        while group and group[-1].get("type") == "divider":
            group.pop()
    total = len(groups)
    messages = []
    for number, group in enumerate(groups, start=1):
        if number > 1:
            note = f"{slack_escape(title)} (continued, part {number} of {total})"
            group = [{"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}, *group]
        text = fallback if total == 1 else f"{fallback} ({number}/{total})"
        messages.append({"text": text, "blocks": group})
    return messages


def check_message(message: dict[str, Any]) -> list[str]:
    """The Block Kit limits a message breaks (empty when valid); used by tests and the fake server."""
    problems = []
    blocks = message.get("blocks") or []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header" and len(block["text"]["text"]) > MAX_HEADER_TEXT:
            problems.append(f"block {index}: header longer than {MAX_HEADER_TEXT}")
        if kind == "section":
            text = (block.get("text") or {}).get("text", "")
            if len(text) > MAX_SECTION_TEXT:
                problems.append(f"block {index}: section text {len(text)} > {MAX_SECTION_TEXT}")
            fields = block.get("fields") or []
            if len(fields) > MAX_FIELDS:
                problems.append(f"block {index}: {len(fields)} fields > {MAX_FIELDS}")
            if any(len(f.get("text", "")) > MAX_FIELD_TEXT for f in fields):
                problems.append(f"block {index}: field text > {MAX_FIELD_TEXT}")
            if not text and not fields:
                problems.append(f"block {index}: section without text or fields")
        if kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(
                    f"block {index}: context with {len(elements)} elements (1..{MAX_CONTEXT_ELEMENTS})"
                )
            if any(len(e.get("text", "")) > MAX_SECTION_TEXT for e in elements):
                problems.append(f"block {index}: context text > {MAX_SECTION_TEXT}")
    if (blocks and blocks[0].get("type") == "divider") or (blocks and blocks[-1].get("type") == "divider"):
        problems.append("message starts or ends with a divider")
    if len(message.get("text") or "") > MAX_MESSAGE_TEXT:
        problems.append(f"text longer than {MAX_MESSAGE_TEXT}")
    return problems
