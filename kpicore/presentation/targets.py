"""A metric's target and where a value stands against it, as people read them, in the language in effect:
``≥ 40``, ``goal $50,000``, ``✓ on track``, ``✗ 0.80 pts over``."""

from __future__ import annotations

from kpicore.i18n import _, current_locale, direction
from kpicore.presentation import formatting
from kpicore.results import Target, TargetStatus


def describe(target: Target, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The target for people, in the language in effect: ``≥ 40``, ``≤ 2.5%``, ``30–50``, ``goal $50,000``."""

    def fmt(number: float) -> str:
        return formatting.format_value(number, unit, locale, currency)

    if target.goal is not None:
        value = fmt(target.goal)
        if direction(current_locale()) == "rtl":
            value = f"\u2066{value}\u2069"  # the amount keeps its reading order inside right-to-left text
        return _("goal %(value)s") % {"value": value}
    if target.min is not None and target.max is not None:
        return f"{fmt(target.min)}–{fmt(target.max)}"
    if target.min is not None:
        return f"≥ {fmt(target.min)}"
    if target.max is not None:
        return f"≤ {fmt(target.max)}"
    return ""  # a target with no bound (parse_target refuses one)


def status_text(result, locale: str = "en", currency: str = "USD") -> str | None:
    """``target ≥ 40: ✓ on track`` / ``target ≤ 2.5%: ✗ off track by 0.80 pts`` for a result with a
    target and a value; None otherwise."""
    the_status = getattr(result, "target_status", None)
    if the_status is None or the_status.on_track is None:
        return None
    text = f"target {describe(the_status.target, result.unit, locale, currency)}: "
    if the_status.on_track:
        return text + "✓ on track"
    return text + f"✗ off track by {gap_text(the_status.gap, result.unit, locale, currency)}"


def standing(
    the_status: TargetStatus | None, unit: str, locale: str = "en", currency: str = "USD"
) -> str | None:
    """Where a value stands, in the language in effect: ``✓ on track``, ``✗ 0.80 pts over``,
    ``✗ $2,000.00 short``; None without a target or a value. ("over": above the target's upper end
    or the goal; "short": below its lower end or the goal.)"""
    if the_status is None or the_status.on_track is None:
        return None
    if the_status.on_track:
        return "✓ " + _("on track")
    gap = gap_text(the_status.gap, unit, locale, currency)
    if direction(current_locale()) == "rtl":
        gap = f"\u2066{gap}\u2069"  # the amount keeps its reading order inside right-to-left text
    words = _("%(gap)s over") if (the_status.gap or 0) > 0 else _("%(gap)s short")
    return "✗ " + words % {"gap": gap}


def label(target: Target, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The target as a digest row names it: ``target ≥ 40``, ``target 30–50``, ``goal $50,000.00``."""
    wanted = describe(target, unit, locale, currency)
    if target.goal is not None:
        return wanted
    if direction(current_locale()) == "rtl":
        wanted = f"\u2066{wanted}\u2069"  # "≤ 2.5%" keeps its reading order inside right-to-left text
    return _("target %(target)s") % {"target": wanted}


def gap_text(gap: float | None, unit: str, locale: str = "en", currency: str = "USD") -> str:
    """The size of a gap for people, as a change reads everywhere: ``0.80 pts`` for percent and
    points metrics, ``$2,000.00``, ``5.0 min``."""
    return formatting.format_change(abs(gap or 0), None, unit, locale, currency).lstrip("+")
