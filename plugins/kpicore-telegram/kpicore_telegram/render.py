"""A digest as Telegram messages: its plain-text rendering in Telegram's HTML subset, escaped, cut into
messages of at most 4,096 characters at metric boundaries, the headline first.

The text rendering is paragraphs separated by blank lines: the heading (with its ``===`` rule), the
headline, the insights, then one paragraph per metric. Everything from the data is escaped with
``html.escape``; the only tags are the ``<b>`` and ``<i>`` written here, so a segment called
``<a href=…>`` stays text.
"""

from __future__ import annotations

import html
import re

#: Telegram's limits, counted in UTF-16 code units of the text after its entities are parsed.
MAX_MESSAGE = 4096
MAX_CAPTION = 1024
_TAG = re.compile(r"<[^>]+>")
_RULE = re.compile(r"^[=\-]{3,}$")


def visible_length(markup: str) -> int:
    """How long Telegram counts ``markup``: tags dropped, entities decoded, in UTF-16 code units."""
    text = html.unescape(_TAG.sub("", markup))
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """``text`` safe inside Telegram HTML (``&``, ``<``, ``>`` and quotes escaped)."""
    return html.escape(text, quote=True)


def paragraphs(text: str) -> list[str]:
    """The blank-line separated paragraphs of a text rendering, without empty ones."""
    return [block.strip("\n") for block in re.split(r"\n\s*\n", text) if block.strip()]


def _metric_markup(block: str) -> str:
    first, _, rest = block.partition("\n")
    title, separator, value = first.partition(": ")
    head = f"<b>{escape(title)}</b>{separator}{escape(value)}" if separator else f"<b>{escape(first)}</b>"
    return head + ("\n" + escape(rest) if rest else "")


def _unwrap(block: str) -> str:
    # The text rendering wraps insights at 78 columns; a chat wraps by itself.
    return re.sub(r"\n {2,}", " ", block)


def digest_blocks(text: str, headline: str) -> list[str]:
    """Telegram HTML blocks, in order: the headline, the heading, the insights, one per metric."""
    blocks = paragraphs(text)
    heading_lines = [line for line in (blocks.pop(0).splitlines() if blocks else []) if not _RULE.match(line)]
    out = []
    if headline:
        out.append(f"<b>{escape(headline)}</b>")
        blocks = [block for block in blocks if " ".join(block.split()) != " ".join(headline.split())]
    if heading_lines:
        out.append(f"<i>{escape(' '.join(heading_lines))}</i>")
    for block in blocks:
        lines = block.splitlines()
        if len(lines) > 1 and lines[0].endswith(":") and lines[1].startswith("- "):
            out.append(f"<b>{escape(lines[0])}</b>\n" + escape(_unwrap("\n".join(lines[1:]))))
        else:
            out.append(_metric_markup(block))
    return out


def plain_blocks(text: str) -> list[str]:
    """A message that is not a digest (an alert, a notice): its paragraphs, escaped."""
    return [escape(block) for block in paragraphs(text)] or [escape(text.strip() or "-")]


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
