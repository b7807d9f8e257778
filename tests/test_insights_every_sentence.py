"""Every sentence an insight can say (each gettext message of ``kpicore/insights``, found by extraction,
so a new one is checked too), in all five languages, for each kind of number: Persian isolates every
number, sign and range; the one-line headline forms of an unusual change stay within 120 graphemes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kpicore.digest.headline import Attention, Headline, graphemes
from kpicore.insights.base import Insight, Noun, Number, Span, Word
from tests.support.bidi import outside_isolates

INSIGHTS = Path(__file__).resolve().parent.parent / "kpicore" / "insights"
LOCALES = {"en": "USD", "ml_IN": "INR", "bn_BD": "BDT", "fa_IR": "IRR", "ig_NG": "NGN"}
UNITS = ["percent", "currency", "points", "count"]


def messages() -> list[str]:
    """The msgids of every ``N_()`` / ``_()`` in the insights package."""
    from babel.messages.extract import extract_from_file

    found = set()
    for path in sorted(INSIGHTS.glob("*.py")):
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"_": None, "N_": None}
        ):
            if isinstance(message, str) and "%(" in message:
                found.add(message)
    return sorted(found)


def values_for(message: str, unit: str) -> dict:
    """Typical placeholders for ``message``, by name, for a metric of ``unit`` (negative changes, so
    signs are there to keep in order)."""
    scale = 1_000_000 if unit == "currency" else 1
    kinds = {
        "metric": Word("Customer satisfaction (CSAT)"),
        "value": Number(75.4 * scale, unit),
        "low": Number(80.1 * scale, unit),
        "high": Number(95.2 * scale, unit),
        "year_value": Number(89.7 * scale, unit),
        "total": Number(120.5 * scale, unit),
        "change": Number(-14.7 * scale, "change", of=unit),
        "segment_change": Number(-16.2 * scale, "change", of=unit),
        "others": Number(1.5 * scale, "size", of=unit),
        "share": Number(0.62, "share"),
        "level": Number(0.8, "share"),
        "span": Span(12, "2026-W47"),
        "next": "2026-W48",
        "year_period": "2025-W47",
        "dimension": Word("region"),
        "segment": "South",
        "records": Word("responses"),
        "amount": Number(2437.5 * scale, "estimate"),
        "where": "South",
        "part": Number(27),
        "whole": Number(501),
        "noun": Noun("customers", 501),
        "finding": None,
    }
    names = re.findall(r"%\((\w+)\)s", message)
    unknown = [name for name in names if name not in kinds]
    assert not unknown, f"{message!r}: no test value for {unknown} (add one to values_for)"
    return {name: kinds[name] for name in names}


def unisolated(text: str) -> list[str]:
    """Digits and signs of ``text`` outside every bidi isolate (U+2066..U+2068 ... U+2069)."""
    return [char for char in outside_isolates(text) if char.isdigit() or char in "+-−%"]


def said(message: str, unit: str, locale: str) -> list[str]:
    """``message`` said as an insight in ``locale``: its text and, for an unusual change, its headline
    forms (a clause's ``finding`` is a record-high churn sentence)."""
    from kpicore.insights.base import Part
    from kpicore.insights.unusual import RECORD

    values = values_for(message, unit)
    if "finding" in values:
        finding = Insight("m", "unusual", 0.7, "2026-W47", RECORD["high"], values_for(RECORD["high"], unit))
        clause = {k: v for k, v in values.items() if k != "finding"}
        unusual = Insight(
            "m", finding.kind, 0.7, "2026-W47", finding.message, finding.values, driver=Part(message, clause)
        )
        return unusual.headline_forms(locale, LOCALES[locale])
    insight = Insight("m", "unusual", 0.7, "2026-W47", message, values)
    return [insight.sentence(locale, LOCALES[locale]), *insight.headline_forms(locale, LOCALES[locale])]


def test_the_extraction_finds_the_sentences():
    found = messages()
    assert any("unusually high" in m for m in found) and any("Forecast for" in m for m in found)
    assert any("too few" in m for m in found) and any("Revenue at risk" in m for m in found)
    assert len(found) >= 20, found


@pytest.mark.parametrize("locale", list(LOCALES))
def test_every_insight_sentence_in_every_language(locale):
    for message in messages():
        for unit in UNITS:
            for text in said(message, unit, locale):
                assert "%(" not in text, (locale, text)
                if locale == "fa_IR":
                    assert unisolated(text) == [], (message, unit, text)


@pytest.mark.parametrize("locale", list(LOCALES))
def test_every_unusual_headline_fits_120(locale):
    """An unusual change's one-line headline, after the longest summary the language has ("5 of 5 KPIs
    worse than last quarter."), for every way of saying it and every kind of number."""
    from kpicore.i18n import ngettext, using
    from kpicore.insights.unusual import MESSAGES, RECORD

    with using(locale):
        summary = ngettext(
            "%(worse)s of %(total)s KPI worse than %(when)s.",
            "%(worse)s of %(total)s KPIs worse than %(when)s.",
            5,
        ) % {"worse": "5", "total": "5", "when": "last quarter"}
        for message in [*RECORD.values(), *MESSAGES.values()]:
            for unit in UNITS:
                full, *shorter = said(message, unit, locale)[1:]
                text = Headline(
                    summary, full, Attention("m", 6.0, full, "unusual", True, tuple(shorter))
                ).text
                assert graphemes(text) <= 120 and not text.endswith("…"), (graphemes(text), text)


def test_the_text_digest_never_breaks_a_line_inside_a_bidi_isolate():
    """A line ends every isolate open on it: the text digest wraps between words, never inside one (the
    Persian ``+1.2 واحد`` and a date range ``7 تا 13 آذر 1405`` hold spaces)."""
    from kpicore.digest.plain_text import fit
    from kpicore.i18n import using

    with using("fa_IR"):
        sentences = [
            text for message in messages() for unit in UNITS for text in said(message, unit, "fa_IR")[:1]
        ]
    sentences.append("هفته \u2068\u20667\u2069 تا \u206613\u2069 آذر \u20661405\u2069\u2069 گذشت.")
    for sentence in sentences:
        for width in range(12, 73, 3):
            lines = fit(sentence, "  ", width).splitlines()
            for line in lines:
                depth = 0
                for char in line:
                    depth += char in "\u2066\u2067\u2068"
                    depth -= char == "\u2069"
                    assert depth >= 0, (width, line)
                assert depth == 0, (width, line)
            assert " ".join(line.strip() for line in lines) == sentence  # the same words, spaces kept
