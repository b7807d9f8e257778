"""The words for what reading a source left out of a metric: the table's "based on" cell and the line
a narrow table shows under itself (``⚠ revenue: 1 order left out (orders.amount)``)."""

from __future__ import annotations

from ..i18n import _, ngettext
from ..presentation import formatting
from ..results import MetricResult


def based_on(result: MetricResult, locale: str) -> str:
    """``N <noun>``, then ``, M left out`` and ``, K duplicates`` when there are any."""
    if result.n is None:
        return ""
    parts = [formatting.format_count(result.n, result.n_noun, locale)]
    if result.left_out_count:
        count = result.left_out_count
        parts.append(
            ngettext("%(count)s left out", "%(count)s left out", count)
            % {"count": formatting.format_number(count, locale)}
        )
    if result.duplicate_count:
        count = result.duplicate_count
        parts.append(
            ngettext("%(count)s duplicate", "%(count)s duplicates", count)
            % {"count": formatting.format_number(count, locale)}
        )
    return _(", ").join(parts)


def left_out_lines(result: MetricResult, locale: str) -> list[str]:
    """One line per entity with values left out, naming the columns:
    ``revenue: 1 order left out (orders.amount)``."""
    by_entity: dict[str, dict[str, int]] = {}
    for item in result.left_out:
        columns = by_entity.setdefault(item.entity, {})
        columns[item.column] = columns.get(item.column, 0) + item.count
    lines = []
    for entity, columns in by_entity.items():
        count = sum(columns.values())
        lines.append(
            _("%(metric)s: %(records)s left out (%(columns)s)")
            % {
                "metric": result.metric,
                "records": formatting.format_count(count, entity.rsplit("_", 1)[-1], locale),
                "columns": ", ".join(f"{entity}.{column}" for column in columns),
            }
        )
    return lines
