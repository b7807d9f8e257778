"""The text digest's lines: at most :data:`TEXT_WIDTH` characters, broken only between words, so that no
number (``$35,836.61``, ``2026-W49``, ``-3.8``) is ever split across lines."""

from __future__ import annotations

#: The width of the text digest: what an email client shows without wrapping it again.
TEXT_WIDTH = 72


def fit(text: str, indent: str = "", width: int = TEXT_WIDTH) -> str:
    """``text`` wrapped at ``width``, continuation lines starting with ``indent``; a word longer than a
    line stays whole, and no word breaks at its hyphens."""
    import textwrap

    lead = text[: len(text) - len(text.lstrip(" "))]
    return "\n".join(
        textwrap.wrap(
            text.strip(),
            width,
            initial_indent=lead,
            subsequent_indent=indent or lead,
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


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
