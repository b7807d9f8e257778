"""A digest as Telegram messages: its plain-text rendering in Telegram's HTML subset, escaped, cut into
messages of at most 4,096 characters at metric boundaries, the headline first.

The text rendering is read back as sections (kpicore.channels.sections): the headline, the heading,
the insights, one per metric. Everything from the data is escaped with
``html.escape``; the only tags are the ``<b>`` and ``<i>`` written here, so a segment called
``<a href=…>`` stays text.
"""

from __future__ import annotations

import html
import re

from kpicore.channels.sections import Section, digest_sections, is_rtl_text, plain_sections

#: Telegram's limits, counted in UTF-16 code units of the text after its entities are parsed.
MAX_MESSAGE = 4096
MAX_CAPTION = 1024
_TAG = re.compile(r"<[^>]+>")


def visible_length(markup: str) -> int:
    """How long Telegram counts ``markup``: tags dropped, entities decoded, in UTF-16 code units."""
    text = html.unescape(_TAG.sub("", markup))
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """``text`` safe inside Telegram HTML (``&``, ``<``, ``>`` and quotes escaped)."""
    return html.escape(text, quote=True)


def markup(section: Section) -> str:
    """One section in Telegram HTML: titles bold, the heading italic, everything else escaped text."""
    if section.kind == "headline":
        return f"<b>{escape(section.title)}</b>"
    if section.kind == "heading":
        return f"<i>{escape(section.title)}</i>"
    head = f"<b>{escape(section.title)}</b>"
    if section.kind == "metric":
        head += f": {escape(section.value)}"
    return "\n".join([head, *(escape(line) for line in section.lines)])


#: Telegram sets each line's direction from its first strong letter; this mark makes it right to left.
RLM = "\u200f"


def digest_blocks(text: str, headline: str) -> list[str]:
    """Telegram HTML blocks, in order: the headline, the heading, the insights, one per metric. In a
    right-to-left digest every line starts with a right-to-left mark, so a line that opens with an
    English segment name (``North: …``) still reads right to left."""
    blocks = [markup(section) for section in digest_sections(text, headline)]
    if is_rtl_text(text):
        blocks = ["\n".join(RLM + line for line in block.split("\n")) for block in blocks]
    return blocks


def plain_blocks(text: str) -> list[str]:
    """A message that is not a digest (an alert, a notice): its paragraphs, escaped."""
    return [
        "\n".join(escape(line) for line in [section.title, *section.lines])
        for section in plain_sections(text)
    ]


def _cut_long(block: str, limit: int) -> list[str]:
    """A block longer than ``limit``: cut at line ends (a line itself is cut at ``limit``), keeping tags whole."""
    pieces, current = [], ""
    for line in block.split("\n"):
        while visible_length(line) > limit:  # only escaped text is this long: cut its raw text
            raw = html.unescape(_TAG.sub("", line))
            head, line = raw[:limit], raw[limit:]
            pieces.append(escape(head))
            line = escape(line)
        candidate = f"{current}\n{line}" if current else line
        if visible_length(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def split_messages(blocks: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join ``blocks`` with blank lines into as few messages of at most ``limit`` as their boundaries allow."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in [block] if visible_length(block) <= limit else _cut_long(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if current and visible_length(candidate) > limit:
                messages.append(current)
                current = piece
            else:
                current = candidate
    if current:
        messages.append(current)
    return messages


def caption(text: str, limit: int = MAX_CAPTION) -> str:
    """A photo caption of at most ``limit`` characters, escaped (cut with an ellipsis when longer)."""
    text = " ".join(text.split())
    if len(text.encode("utf-16-le")) // 2 > limit:
        text = text[: limit - 1].rstrip() + "…"
        while len(text.encode("utf-16-le")) // 2 > limit:
            text = text[:-2] + "…"
    return escape(text)
