"""``kpi insights``: every insight about the metrics for a period, with its numbers."""

from __future__ import annotations

import json

import click

from . import context


@click.command("insights")
@click.argument("metrics", nargs=-1)
@click.option(
    "--period",
    "-p",
    default="last-week",
    show_default=True,
    help="2026-W47, 2026-11, 2026-Q4, last-week, last-month, ...",
)
@context.source_option
@context.tz_option
@context.table_or_json_option
@click.option(
    "--details",
    "show_details",
    is_flag=True,
    help="Under each insight, how it was found: method, band, z, rate and mix effects.",
)
@context.locale_option
@context.config_option
def insights_command(metrics, period, source, tz, output, locale, config_path, show_details):
    """List the insights about METRICS (default: every metric) for a period: needs attention, good news,
    then the outlook (forecasts), highest score first inside each group.

    Unusual changes, trends, forecasts, concentration in one segment and what the installed insight
    plugins add, each with a score and the numbers behind it.

    \b
    Examples:
      kpi insights --period last-week
      kpi insights revenue churn_rate --period 2026-W47 --format json
    """
    from ..compute import select_metrics
    from ..insights.run import find_insights

    config = context.apply_locale(context.load(config_path), locale)
    reg = context.registry()
    context.warn_problems(reg)
    chosen = select_metrics(metrics or ("all",), reg)
    the_period = context.resolve_period(period, context.timezone(config, tz))
    the_source = context.open_source(config, source, reg)
    try:
        findings = find_insights(chosen, the_period, the_source, config, reg)
    finally:
        the_source.close()
    if output == "json":
        click.echo(
            json.dumps([insight.to_json() for insight in findings.insights], indent=2, ensure_ascii=False)
        )
        return
    if not findings.insights:
        click.echo(f"No insights for {the_period.label}.")
        return
    from ..i18n import _, using
    from ..insights.base import GROUPS

    group = None
    for insight in findings.insights:
        if insight.group != group:
            group = insight.group
            with using(config.locale):
                click.echo(("" if insight is findings.insights[0] else "\n") + _(GROUPS[group]))
        segment = f" [{insight.segment}]" if insight.segment else ""
        click.echo(
            f"{insight.score:.2f}  {insight.metric} · {insight.kind}{segment}: "
            f"{insight.sentence(config.locale, config.currency)}"
        )
        if show_details and insight.details:
            click.echo(
                "      " + " · ".join(f"{key} {_detail(value)}" for key, value in insight.details.items())
            )


def _detail(value) -> str:
    if isinstance(value, dict) and "monthly" in value:  # revenue at risk: how it was computed
        return (
            f"{value['monthly']:.4g} a month = {value['customers_above_expected']:.4g} customers above expected"
            f" x {value['revenue_per_customer_month']:.4g} revenue per active customer a month"
            f" (the {value['periods']} periods before)"
        )
    if isinstance(value, list):
        return " to ".join(_detail(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).lower() if isinstance(value, bool) else str(value)


COMMANDS = [insights_command]
