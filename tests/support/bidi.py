"""Reading bidi isolates in rendered text, for the tests of right-to-left sentences."""

from __future__ import annotations

ISOLATE_OPENERS = "\u2066\u2067\u2068"  # LRI, RLI, FSI
POP_ISOLATE = "\u2069"  # PDI


def outside_isolates(text: str) -> str:
    """``text`` with every character inside a bidi isolate (and the isolate marks) made a space."""
    depth, outside = 0, []
    for char in text:
        if char in ISOLATE_OPENERS:
            depth += 1
        elif char == POP_ISOLATE:
            depth -= 1
        outside.append(char if depth == 0 and char != POP_ISOLATE else " ")
    return "".join(outside)
