"""Numbers, signs and ids inside right-to-left text: isolated so they keep their order (HTML ``<bdi>``,
Unicode's isolates in plain text, Markdown and Slack)."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from kpicore import i18n

_RTL_WORDS = re.compile(
    r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff][\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\u200c\s]*"
)
_MARKS = str.maketrans("", "", "\u200e\u200f")


def bidi_parts(text: str) -> tuple[str, list[tuple[bool, str]]]:
    """How a value with words in it reads inside right-to-left text, so that the word sits left of the
    number as a Persian reader expects: ``("ltr", parts)`` for Babel's ``‎ریال 48,210`` (the LRM says: the
    sign before the number, left to right), ``("rtl", parts)`` for ``+2.5 واحد`` (number, then its unit,
    right to left). ``parts`` are ``(is_words, text)``; the caller isolates the other parts left to right."""
    direction = "ltr" if text.startswith("\u200e") else "rtl"
    parts: list[tuple[bool, str]] = []
    last = 0
    clean = text.translate(_MARKS)
    for match in _RTL_WORDS.finditer(clean):
        words = match.group().rstrip()
        if match.start() > last:
            parts.append((False, clean[last : match.start()]))
        parts.append((True, words))
        last = match.start() + len(words)
    if last < len(clean):
        parts.append((False, clean[last:]))
    spaced: list[tuple[bool, str]] = []  # the spaces around a number stay outside its isolate
    for is_words, part in parts:
        if is_words or not part.strip():
            spaced.append((is_words, part))
            continue
        core = part.strip()
        head, tail = part[: len(part) - len(part.lstrip())], part[len(part.rstrip()) :]
        spaced.extend(piece for piece in ((False, head), (False, core), (False, tail)) if piece[1])
    return direction, spaced


def bdi(value: Any, direction: str = "ltr"):
    """HTML for a number or id inside right-to-left text: ``<bdi dir="ltr">+6.8%</bdi>`` keeps its sign,
    digits and Latin letters in reading order (plain text, escaped, outside right-to-left locales).
    ``direction="auto"`` isolates text that may be in either script (a date range: ``25 آبان تا 1 آذر``
    reads right to left, ``16–22 Nov`` left to right)."""

    if i18n.direction(i18n.current_locale()) != "rtl":
        return escape(value)
    text = "" if value is None else str(value)
    if direction == "ltr" and _RTL_WORDS.search(text):
        outer, parts = bidi_parts(text)
        inner = Markup("").join(
            escape(part) + (Markup("&lrm;") if outer == "ltr" else Markup(""))
            if words
            else (
                Markup('<bdi dir="ltr">') + escape(part) + Markup("</bdi>") if part.strip() else escape(part)
            )
            for words, part in parts
        )
        return Markup(f'<bdi dir="{outer}">') + inner + Markup("</bdi>")
    return Markup(f'<bdi dir="{escape(direction)}">') + escape(text) + Markup("</bdi>")


def ltr(value: Any) -> str:
    """A number or id inside right-to-left plain text (text, Markdown, Slack): wrapped in Unicode's
    left-to-right isolate (U+2066 ... U+2069) so its sign and digits stay in order; unchanged elsewhere."""
    text = "" if value is None else str(value)
    if not text or i18n.direction(i18n.current_locale()) != "rtl":
        return text
    if _RTL_WORDS.search(text):  # words and numbers: as bdi() arranges them, with Unicode's isolates
        outer, parts = bidi_parts(text)
        inner = "".join(
            part + ("\u200e" if outer == "ltr" else "")
            if words
            else (f"\u2066{part}\u2069" if part.strip() else part)
            for words, part in parts
        )
        return ("\u2066" if outer == "ltr" else "\u2067") + inner + "\u2069"
    return f"\u2066{text}\u2069"
