"""A digest as Adaptive Cards (version 1.5) for a Teams Workflows webhook, each request within 28 KB.

Text from the data goes into ``TextRun`` elements of ``RichTextBlock``s: a TextRun is never read as
Markdown, so a segment called ``**[x](https://…)**`` stays text (a TextBlock would render it). Persian
and other right-to-left digests set the card's ``rtl``. Cards are split between sections (the
headline, the insights, each metric), never inside a metric; the size counted is the UTF-8 length of
the whole request body, as Teams counts it (Bengali and Persian take 2-3 bytes a character).
"""

from __future__ import annotations

import json
from typing import Any

from kpicore.channels.sections import Section, is_rtl_text

__all__ = ["is_rtl_text", "split_cards"]

CARD_VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
#: The characters of a text sparkline.
SPARKS = "▁▂▃▄▅▆▇█"
#: Teams' message size limit: the request body, in bytes of UTF-8.
MAX_BYTES = 28 * 1024


def run(text: str, **style: Any) -> dict[str, Any]:
    """A TextRun (plain text, never Markdown)."""
    return {"type": "TextRun", "text": text, **style}


def rich(*inlines: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A RichTextBlock of TextRuns."""
    return {"type": "RichTextBlock", "inlines": list(inlines), **options}


def section_elements(section: Section, chart_url: str | None = None) -> list[dict[str, Any]]:
    """The card elements of one section: a headline, a subtle heading, or a container per metric."""
    if section.kind == "headline":
        return [rich(run(section.title, weight="Bolder", size="Medium"))]
    if section.kind == "heading":
        return [rich(run(section.title, isSubtle=True))]
    first = [run(section.title, weight="Bolder")]
    if section.kind == "metric":
        first.append(run(f": {section.value}"))
    lines = [line.strip() for line in section.lines if line.strip()]
    if chart_url:  # the chart replaces the text sparkline
        lines = [line for line in lines if not any(bar in line for bar in SPARKS)]
    items = [rich(*first)] + [rich(run(line)) for line in lines]
    if chart_url:
        items.append({"type": "Image", "url": chart_url, "altText": section.title, "size": "Stretch"})
    return [{"type": "Container", "separator": True, "spacing": "Medium", "items": items}]


def card(body: list[dict[str, Any]], *, rtl: bool = False) -> dict[str, Any]:
    """An Adaptive Card 1.5 holding ``body``."""
    content: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": CARD_VERSION}
    if rtl:
        content["rtl"] = True
    content["body"] = body
    return content


def payload(content: dict[str, Any]) -> dict[str, Any]:
    """The request a Workflows webhook ("When a Teams webhook request is received") expects."""
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


def encoded(request: dict[str, Any]) -> bytes:
    """The request body as sent: compact JSON in UTF-8."""
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def split_cards(
    sections: list[Section],
    *,
    rtl: bool = False,
    limit: int = MAX_BYTES,
    chart_urls: dict[str, str] | None = None,
) -> list[bytes]:
    """Request bodies of at most ``limit`` bytes, each a card of whole sections, in order.

    A continuation card repeats the heading (with ``(2/3)``), so each message says what it is part of.
    A single section too large for one card is cut between its lines. ``chart_urls`` maps a metric
    section's title to the URL of its chart.
    """
    chart_urls = chart_urls or {}
    heading = next((s.title for s in sections if s.kind == "heading"), "")
    units: list[list[dict[str, Any]]] = []
    for section in sections:
        url = chart_urls.get(section.title) if section.kind == "metric" else None
        units.extend(_fitting(section, url, rtl, limit))
    groups: list[list[dict[str, Any]]] = []
    for elements in units:
        if groups and len(encoded(payload(card([*groups[-1], *elements], rtl=rtl)))) + 64 <= limit:
            groups[-1].extend(elements)
        else:
            groups.append(list(elements))
    bodies = []
    for number, group in enumerate(groups, start=1):
        if number > 1 and heading:
            group = [rich(run(f"{heading} ({number}/{len(groups)})", isSubtle=True)), *group]
        bodies.append(encoded(payload(card(group, rtl=rtl))))
    return bodies


def _fitting(section: Section, url: str | None, rtl: bool, limit: int) -> list[list[dict[str, Any]]]:
    elements = section_elements(section, url)
    if len(encoded(payload(card(elements, rtl=rtl)))) + 512 <= limit or not section.lines:
        return [elements]
    # A metric with very many segments: cut between its lines, the title on the first piece.
    pieces: list[list[dict[str, Any]]] = []
    lines = list(section.lines)
    while lines:
        take = len(lines)
        while take > 1:
            candidate = Section(section.kind, section.title, section.value, lines[:take])
            if len(encoded(payload(card(section_elements(candidate), rtl=rtl)))) + 512 <= limit:
                break
            take //= 2
        piece = Section(section.kind, section.title, section.value, lines[:take])
        pieces.append(section_elements(piece, None if pieces else url))
        lines = lines[take:]
    return pieces
