"""The text digest's lines: at most :data:`TEXT_WIDTH` characters, broken only between words, so that no
number (``$35,836.61``, ``2026-W49``, ``-3.8``) is ever split across lines, nor a bidi isolate (Persian's
``+2.5 واحد``, ``7 تا 13 آذر``): a line ends every isolate open on it, so one broken across lines would
leave its second half in the reading order of the text around it."""

from __future__ import annotations

#: The width of the text digest: what an email client shows without wrapping it again.
TEXT_WIDTH = 72


def fit(text: str, indent: str = "", width: int = TEXT_WIDTH) -> str:
    """``text`` wrapped at ``width``, continuation lines starting with ``indent``; a word longer than a
    line stays whole, and no word breaks at its hyphens."""
    import textwrap

    lead = text[: len(text) - len(text.lstrip(" "))]
    lines = textwrap.wrap(
        _held(text.strip()),
        width,
        initial_indent=lead,
        subsequent_indent=indent or lead,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(line.replace(_HELD_SPACE, " ") for line in lines)


#: A space inside a bidi isolate while the text is wrapped (a private-use character: no break there).
_HELD_SPACE = "\ue000"


def _held(text: str) -> str:
    """``text`` with the spaces inside bidi isolates (U+2066..U+2068 ... U+2069) held as ``_HELD_SPACE``."""
    depth, kept = 0, []
    for char in text:
        if char in "\u2066\u2067\u2068":
            depth += 1
        elif char == "\u2069":
            depth = max(depth - 1, 0)
        kept.append(_HELD_SPACE if char == " " and depth else char)
    return "".join(kept)


def fit_items(items: list[str], indent: str = "  ", separator: str = "   ", width: int = TEXT_WIDTH) -> str:
    """``items`` on lines of at most ``width``, each item whole where it fits on one line (an item that
    does not is wrapped between its words), lines starting with ``indent``."""
    lines: list[str] = []
    line = ""
    for item in items:
        candidate = f"{line}{separator}{item}" if line else f"{indent}{item}"
        if len(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = f"{indent}{item}"
    if line:
        lines.append(line)
    return "\n".join(fit(each, indent + "  ", width) for each in lines)
