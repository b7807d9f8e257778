"""Suggestions for a mistyped name: ``NPS`` finds ``nps``, ``Region`` finds ``region``, ``revenu`` finds
``revenue``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """The ``choices`` closest to ``name``, compared without case (a name differing only in case first),
    as the choices spell them."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    folded = name.casefold()
    close = difflib.get_close_matches(folded, list(by_folded), n=n, cutoff=cutoff)
    if folded in by_folded and folded in close:
        close.remove(folded)
        close.insert(0, folded)
    return [by_folded[match] for match in close]
