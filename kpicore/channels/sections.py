"""A digest's plain-text rendering read back as sections, for chat channels that build their own markup.

The text rendering is paragraphs separated by blank lines: the heading (underlined with ``===``), the
headline, the insights (``Insights:`` then ``- …`` items), then one paragraph per metric whose first
line is ``Title: value``. A channel plugin (Telegram HTML, a Teams card) turns each section into its
own format and splits its messages between sections, so no metric is cut in two. Nothing here
escapes: each channel escapes for its format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

_RULE = re.compile(r"^[=\-]{3,}$")
_WRAPPED = re.compile(r"\n {2,}")


@dataclass
class Section:
    """One paragraph of a digest: ``kind`` says which; ``title``/``value`` split a metric's first line."""

    kind: Literal["headline", "heading", "insights", "metric", "text"]
    title: str
    value: str = ""
    #: The lines after the first (a metric's change, facts, segments; the insight items).
    lines: list[str] = field(default_factory=list)


def is_rtl_text(text: str) -> bool:
    """True when most letters of ``text`` are of a right-to-left script (a Persian digest quotes
    English segment names and numbers, so the first letter alone would not tell)."""
    import unicodedata

    directions = [unicodedata.bidirectional(char) for char in text if char.isalpha()]
    rtl = sum(1 for direction in directions if direction in ("R", "AL"))
    return bool(directions) and rtl * 2 > len(directions)


def paragraphs(text: str) -> list[str]:
    """The blank-line separated paragraphs of a text, without empty ones."""
    return [block.strip("\n") for block in re.split(r"\n\s*\n", text) if block.strip()]


def digest_sections(text: str, headline: str = "") -> list[Section]:
    """The sections of a digest's text rendering, the headline first (what a notification shows)."""
    blocks = paragraphs(text)
    heading = " ".join(
        line for line in (blocks.pop(0).splitlines() if blocks else []) if not _RULE.match(line)
    )
    sections = []
    if headline:
        sections.append(Section("headline", headline))
        blocks = [block for block in blocks if " ".join(block.split()) != " ".join(headline.split())]
    if heading:
        sections.append(Section("heading", heading))
    for block in blocks:
        lines = block.splitlines()
        if len(lines) > 1 and lines[0].endswith(":") and lines[1].startswith("- "):
            # The text rendering wraps insights at a width; a chat wraps by itself.
            items = _WRAPPED.sub(" ", "\n".join(lines[1:])).splitlines()
            sections.append(Section("insights", lines[0], lines=items))
            continue
        title, separator, value = lines[0].partition(": ")
        sections.append(Section("metric" if separator else "text", title, value, lines[1:]))
    return sections


def plain_sections(text: str) -> list[Section]:
    """A message that is not a digest (an alert, a notice): one ``text`` section per paragraph."""
    return [
        Section("text", block.splitlines()[0], lines=block.splitlines()[1:]) for block in paragraphs(text)
    ] or [Section("text", text.strip() or "-")]
