"""Render a digest (a list of MetricResults) as Slack Block Kit, HTML email, plain text or Markdown.

Templates are Jinja2 files named ``<template>.<format file>.j2`` (``digest.html.j2``,
``digest.slack.json.j2``, ``digest.txt.j2``, ``digest.md.j2``). A user's templates folder is
searched first, then the built-in ``kpicore/templates/``, so a user overrides a template by name.
Values reach the templates already formatted for the locale; everything data-derived is escaped
for its format (HTML autoescape; ``slack_escape`` and ``md_escape`` filters).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kpicore import i18n
from kpicore.errors import ConfigError
from kpicore.i18n import _, current_locale
from kpicore.message import Rendered
from kpicore.presentation import formatting
from kpicore.presentation.bidi import bdi, ltr
from kpicore.presentation.blockkit import slack_escape, split_messages
from kpicore.results import MetricResult

Format = Literal["slack", "html", "text", "md"]
#: Template file suffix for each format.
TEMPLATE_SUFFIXES: dict[str, str] = {
    "slack": "slack.json.j2",
    "html": "html.j2",
    "text": "txt.j2",
    "md": "md.j2",
}
BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass
class DigestSpec:
    """One ``[digests.NAME]`` table of kpi.toml."""

    name: str
    title: str
    metrics: list[str]
    period: str = "last-week"
    trend: int = 12
    breakdowns: dict[str, str] = field(default_factory=dict)
    destinations: list[str] = field(default_factory=list)
    template: str = "digest"
    timezone: str | None = None
    #: The first day of the week for ``this-week`` / ``last-week`` (kpi.toml's ``week_start``).
    week_start: str = "monday"
    #: A kpicore.scheduler.CronSchedule or IntervalSchedule (None: sent with `kpi digest send` only).
    schedule: Any = None
    #: Seconds: a missed fire this recent is sent once when `kpi serve` starts.
    catch_up: float = 86400
    #: Seconds a fire waits for a source that cannot be reached before sending without it.
    max_delay: float = 21600
    #: Segments with fewer records are marked as small samples (and never named in the headline).
    min_sample: int = 30
    #: How many insights the digest shows (None: ``[insights] top``; 0: none).
    insights: int | None = None


@dataclass
class InsightView:
    """What a template sees of one insight: its sentence in the digest's language, and its group
    (``attention``, ``good``, ``outlook``) with that group's heading."""

    metric: str
    kind: str
    text: str
    segment: str | None = None
    group: str = "attention"
    heading: str = ""


def insight_view(insight, locale: str, currency: str) -> InsightView:
    from kpicore.i18n import using
    from kpicore.insights.base import GROUPS

    with using(locale):
        heading = _(GROUPS[insight.group])
    text = insight.sentence(locale, currency)
    return InsightView(insight.metric, insight.kind, text, insight.segment, insight.group, heading)


def shown_insights(insights, views: list[InsightView]) -> list[InsightView]:
    """The views a digest shows: as many as it asked for (``TopInsights.shown``), after the headline's."""
    shown = getattr(insights, "shown", None)
    return views if shown is None else views[:shown]


@dataclass
class SegmentView:
    """What a template sees of one segment: formatted, nothing escaped."""

    segment: str
    value: str
    change: str
    n: str
    small: bool


@dataclass
class MetricView:
    """What a template sees of one metric: every value already formatted, nothing escaped."""

    metric: str
    title: str
    unit: str
    ok: bool
    reason: str | None
    value: str
    previous: str | None
    delta: str | None
    arrow: str
    marker: str
    sparkline: str
    trend_periods: int
    #: ``12 weeks`` (or ``12 periods`` for custom ranges).
    trend_span: str
    n: str | None
    warnings: int
    warning_messages: list[str]
    dimension: str | None
    segments: list[SegmentView] | None
    #: Notes about the whole metric (count 0), such as a breakdown it cannot have.
    notes: list[str] = field(default_factory=list)
    chart_cid: str | None = None
    phone_chart_cid: str | None = None
    chart_alt: str = ""
    #: "axis not from 0", translated, where the chart cannot write the language.
    chart_note: str = ""
    worse: bool = False
    #: What n counts ("responses"), for notes such as "fewer than 30 responses".
    n_noun: str = "records"
    #: The metric's target from kpi.toml (``≥ 40``, ``goal $50,000.00``), None without one.
    target: str | None = None
    #: The same as a row names it: ``target ≥ 40``, ``goal $50,000.00``.
    target_label: str | None = None
    #: Where the value stands against it: ``✓ on track``, ``✗ 0.80 pts over``, ``✗ $2,000.00 short``.
    target_standing: str | None = None
    #: True, False, or None (no target, or no value).
    on_track: bool | None = None

    @property
    def small_samples(self) -> bool:
        """True when a segment shown is marked as a small sample."""
        return any(segment.small for segment in self.segments or [])

    @property
    def change(self) -> str:
        """``▲ +12.3% ✓ better`` or an empty string when there is nothing to compare."""
        if not self.delta:
            return ""
        return " ".join(part for part in (self.arrow, self.delta, self.marker) if part)

    @property
    def dimension_label(self) -> str:
        """The dimension as people read it: ``region``, ``sales channel`` for ``sales_channel``."""
        return _((self.dimension or "segment").replace("_", " "))


def md_escape(value: Any) -> str:
    """Escape Markdown punctuation and HTML in data, so a segment name stays literal text."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = []
    for char in text:
        if char in "\\`*_[]|~#":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out).replace("\n", " ")


def metric_view(
    result: MetricResult, *, locale: str = "en", currency: str = "USD", min_sample: int = 30
) -> MetricView:
    """Format one result for the templates (through kpicore.presentation.formatting, as every surface does),
    its values, changes and segments with one count of decimals."""
    with formatting.same_decimals(result_numbers(result), result.unit):
        return _metric_view(result, locale=locale, currency=currency, min_sample=min_sample)


def result_numbers(result: MetricResult) -> list[float | None]:
    """The numbers a metric's row and breakdown show: value, previous, change, and each segment's."""
    numbers = [result.value, result.previous, result.delta]
    for segment in result.segments or []:
        numbers += [segment.value, segment.delta]
    return numbers


def _metric_view(result: MetricResult, *, locale: str, currency: str, min_sample: int) -> MetricView:
    from kpicore.digest.headline import by_impact, is_worse
    from kpicore.presentation.charts import axis_note, chart_alt

    def fmt(value: float | None) -> str:
        return formatting.format_value(value, result.unit, locale, currency)

    delta = (
        formatting.format_change(result.delta, result.delta_pct, result.unit, locale, currency)
        if result.ok
        else None
    )
    trend_values = [point.value for point in (result.trend or [])]
    segments = None
    if result.segments is not None:
        segments = [
            SegmentView(
                segment=formatting.segment_label(segment.segment, result.dimension),
                value=fmt(segment.value),
                change=formatting.format_change_from(
                    segment.value, segment.previous, result.unit, locale, currency
                )
                or "",
                n=formatting.format_count(segment.n, result.n_noun, locale),
                small=0 < min_sample and segment.n < min_sample,
            )
            for segment in by_impact(result.segments, result.unit)
            # A segment without records (no customer lacks a region this week) is noise in a digest.
            if segment.n or segment.value is not None
        ]
    return MetricView(
        metric=result.metric,
        title=_(result.title),
        unit=result.unit,
        ok=result.ok,
        reason=result.reason,
        value=fmt(result.value) if result.ok else _("unavailable"),
        previous=fmt(result.previous) if result.ok and result.previous is not None else None,
        delta=delta,
        arrow=formatting.change_arrow(result.delta) if delta else "",
        marker=formatting.change_marker(result.delta, result.better) if delta else "",
        sparkline=formatting.sparkline(trend_values),
        trend_periods=len(trend_values),
        trend_span=_span(len(trend_values), result.period),
        n=formatting.format_count(result.n, result.n_noun, locale) if result.n is not None else None,
        warnings=sum(w.count for w in result.warnings),
        warning_messages=[
            f"{_(w.message)} ({formatting.format_number(w.count, locale)})"
            for w in result.warnings
            if w.count
        ],
        notes=[_(w.message) for w in result.warnings if not w.count],
        dimension=result.dimension,
        segments=segments,
        chart_alt=chart_alt(result, locale=locale, currency=currency) if result.trend else "",
        chart_note=axis_note(result, locale) if result.trend else "",
        worse=bool(is_worse(result)),
        n_noun=result.n_noun,
        **_target_fields(result, locale, currency),
    )


def _target_fields(result: MetricResult, locale: str, currency: str) -> dict[str, Any]:
    from kpicore.presentation.targets import describe, label, standing

    the_status = result.target_status
    if the_status is None:
        return {}
    return {
        "target": describe(the_status.target, result.unit, locale, currency),
        "target_label": label(the_status.target, result.unit, locale, currency),
        "target_standing": standing(the_status, result.unit, locale, currency),
        "on_track": the_status.on_track,
    }


def _span(count: int, period: str) -> str:
    return formatting.format_span(count, period, current_locale())


#: A run of right-to-left letters (Persian, Arabic, Hebrew) with the spaces and joiners inside it.
def environment(templates_dir: Path | str | None = None, jinja_hook: Callable[[Any], Any] | None = None):
    """The Jinja2 environment: the user's templates first, then the built-in ones.

    HTML templates are autoescaped. ``jinja_hook(env)`` lets plugins add filters and globals
    (the core passes the ``prepare_jinja2_environment`` hook here).
    """
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.i18n"],
    )
    # Every string in the templates goes through the one _() (kpicore.i18n), in the locale in effect
    # (jinja2.ext.i18n adds the method).
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["text_direction"] = lambda: i18n.direction(i18n.current_locale())
    env.globals["bdi"] = bdi
    # A line of right-to-left plain text that starts with a Latin name (a segment "North") stays
    # right-to-left: it starts with U+200F RIGHT-TO-LEFT MARK.
    env.globals["line_start"] = lambda: "\u200f" if i18n.direction(i18n.current_locale()) == "rtl" else ""
    # The comma that joins a list in the language in effect (Persian ، U+060C).
    env.globals["comma"] = lambda: formatting.format_list(["", ""]).strip() + " "
    env.filters["ltr"] = ltr
    env.globals["format_count"] = lambda n, noun: formatting.format_count(n, noun, i18n.current_locale())
    env.filters["slack_escape"] = slack_escape
    env.filters["md_escape"] = md_escape
    from kpicore.digest.plain_text import fit, fit_items

    env.filters["fit"], env.filters["fit_items"] = fit, fit_items
    if jinja_hook is not None:
        jinja_hook(env)
    return env


def _period_range(results: list[MetricResult], locale: str) -> str:
    for result in results:
        if result.start and result.end:
            try:
                return formatting.format_date_range(result.start, result.end, locale)
            except ValueError:
                continue
    return ""


def draw_charts(
    results: list[MetricResult],
    *,
    locale: str = "en",
    currency: str = "USD",
    calendar: str = "gregorian",
    narrow: bool = False,
) -> dict[str, bytes]:
    """A trend chart PNG (the phone chart with ``narrow``) for each available metric with at least two
    trend values: metric -> PNG."""
    from kpicore.presentation.charts import trend_chart

    drawn = {}
    for result in results:
        if not result.ok or not result.trend:
            continue
        png = trend_chart(result, locale=locale, currency=currency, calendar=calendar, narrow=narrow)
        if png is not None:
            drawn[result.metric] = png
    return drawn


def renderer(
    spec: DigestSpec,
    results: list[MetricResult],
    *,
    period_label: str,
    **options: Any,
) -> Callable[[str], Rendered]:
    """A ``render(fmt)`` callable for OutgoingDigest that draws the charts at most once for all formats.

    ``options`` are render()'s keyword arguments (locale, currency, templates_dir, jinja_hook).
    """
    drawn: dict[bool, dict[str, bytes]] = {}

    def charts_for(narrow: bool) -> dict[str, bytes]:
        if narrow not in drawn:
            drawn[narrow] = draw_charts(
                results,
                locale=options.get("locale", "en"),
                currency=options.get("currency", "USD"),
                calendar=options.get("calendar") or "gregorian",
                narrow=narrow,
            )
        return drawn[narrow]

    def render_format(fmt: str) -> Rendered:
        wide = phone = None
        if fmt in ("html", "slack") and options.get("charts") is not False:
            wide = charts_for(False)
            phone = charts_for(True) if fmt == "html" else None
        return render(
            spec, results, fmt, period_label=period_label, chart_images=wide, phone_images=phone, **options
        )

    return render_format


def _in_locale(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function`` with its ``locale`` keyword argument as the language of every ``_()``."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with i18n.using(kwargs.get("locale"), kwargs.get("digits"), kwargs.get("calendar")):
            return function(*args, **kwargs)

    return wrapper


@_in_locale
def render(
    spec: DigestSpec,
    results: list[MetricResult],
    fmt: Format,
    *,
    period_label: str,
    locale: str = "en",
    currency: str = "USD",
    digits: str = "default",
    calendar: str = "gregorian",
    templates_dir: Path | str | None = None,
    jinja_hook: Callable[[Any], Any] | None = None,
    charts: bool | None = None,
    chart_images: dict[str, bytes] | None = None,
    phone_images: dict[str, bytes] | None = None,
    insights: Sequence[Any] = (),
) -> Rendered:
    """Render ``results`` (in digest order) as one format.

    ``charts`` (default: on for ``html`` and ``slack``) draws a PNG trend chart per metric that
    has a trend; the HTML references them as ``cid:`` images, the Slack channel uploads them.
    ``chart_images`` (metric -> PNG, from draw_charts) reuses charts drawn for another format, and
    ``phone_images`` the HTML's phone charts (drawn with ``narrow``), which a small screen shows instead.
    ``insights`` (``kpicore.insights.Insight``, highest score first) are shown as written, in the
    locale, and can be named by the headline.
    Raises ConfigError for an unknown format or a template that is missing or not valid.
    """
    import jinja2

    if fmt not in TEMPLATE_SUFFIXES:
        raise ConfigError(f"Unknown digest format {fmt!r}: use one of {', '.join(TEMPLATE_SUFFIXES)}")
    views, top, insight_views = _views(spec, results, insights, locale, currency)
    images: dict[str, bytes] = {}
    chart_ids: dict[str, str] = {}
    if charts if charts is not None else fmt in ("html", "slack"):
        if chart_images is None:
            chart_images = draw_charts(results, locale=locale, currency=currency, calendar=calendar)
        if phone_images is None and fmt == "html":
            phone_images = draw_charts(
                results, locale=locale, currency=currency, calendar=calendar, narrow=True
            )
        images, chart_ids = _attach_charts(views, chart_images, phone_images)

    from kpicore.presentation.charts import NARROW_SCREEN

    template_name = f"{spec.template}.{TEMPLATE_SUFFIXES[fmt]}"
    template = _template(spec, template_name, templates_dir, jinja_hook)
    try:
        body = template.render(
            spec=spec,
            title=_(spec.title),
            metrics=views,
            headline=top,
            insights=insight_views,
            min_sample=spec.min_sample,
            period_label=period_label,
            period_range=_period_range(results, locale),
            phone_screen=NARROW_SCREEN,
            locale=locale,
            currency=currency,
        )
    except jinja2.TemplateError as error:
        raise ConfigError(f"Digest {spec.name!r}: template {template_name!r} failed: {error}") from error

    if fmt == "html":
        from kpicore.presentation.formatting import whole_numbers

        body = whole_numbers(body)
    rendered = Rendered(
        fmt=fmt,
        body=body,
        images=images,
        charts=chart_ids,
        headline=top.text,
        chart_alts={view.metric: view.chart_alt for view in views if view.metric in chart_ids},
        titles={view.metric: view.title for view in views},
    )
    if fmt == "slack":
        _as_slack_messages(rendered, spec, template_name, period_label)
    return rendered


def _as_slack_messages(rendered: Rendered, spec: DigestSpec, template_name: str, period_label: str) -> None:
    """Split a Slack rendering's Block Kit JSON into messages within Slack's limits, in place."""
    try:
        payload = json.loads(rendered.body)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"Digest {spec.name!r}: template {template_name!r} did not produce valid JSON: {error}"
        ) from error
    rendered.messages = split_messages(payload, title=spec.title)
    rendered.body = slack_document(rendered.messages, digest=spec.name, period=period_label)


def _views(spec: DigestSpec, results, insights, locale: str, currency: str):
    """The metric views, the headline and the insight views a digest template is given."""
    from kpicore.digest.headline import headline, headline_candidates

    views = [
        metric_view(result, locale=locale, currency=currency, min_sample=spec.min_sample)
        for result in results
    ]
    insight_views = [insight_view(i, locale, currency) for i in insights]
    top = headline(
        results,
        locale=locale,
        currency=currency,
        min_sample=spec.min_sample,
        extra=headline_candidates(insights, insight_views, locale, currency),
    )
    if top.named is not None and top.named.kind == "unusual":  # said once, in the headline
        insight_views = [view for view in insight_views if view.text not in top.named.said]
    return views, top, shown_insights(insights, insight_views)


def _attach_charts(
    views, chart_images: dict[str, bytes], phone_images: dict[str, bytes] | None = None
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Give each metric view with a chart its content id (and its phone chart's, when drawn); returns
    (content id -> PNG, metric -> content id)."""
    from kpicore.presentation.charts import chart_content_id

    images: dict[str, bytes] = {}
    chart_ids: dict[str, str] = {}
    for view in views:
        png = chart_images.get(view.metric)
        if png is not None:
            content_id = chart_content_id(view.metric)
            images[content_id] = png
            chart_ids[view.metric] = content_id
            view.chart_cid = content_id
        phone = (phone_images or {}).get(view.metric)
        if png is not None and phone is not None:
            view.phone_chart_cid = chart_content_id(view.metric, narrow=True)
            images[view.phone_chart_cid] = phone
    return images, chart_ids


def _template(spec: DigestSpec, template_name: str, templates_dir, jinja_hook):
    """The digest's Jinja2 template; ConfigError naming where it was looked for when it is missing."""
    import jinja2

    env = environment(templates_dir, jinja_hook)
    try:
        return env.get_template(template_name)
    except jinja2.TemplateNotFound:
        where = f"{templates_dir} or the built-in templates" if templates_dir else "the built-in templates"
        raise ConfigError(
            f"Digest {spec.name!r}: template {template_name!r} not found in {where}; "
            f'set template = "digest" or add the file'
        ) from None


#: What ``generator`` says in a Slack document kpicore wrote.
GENERATOR = "kpicore"


def slack_document(
    messages: list[dict[str, Any]], *, digest: str, period: str, generator: str = GENERATOR
) -> str:
    """The one JSON shape of a rendered Slack digest, wherever it is written (``kpi digest render
    --format slack``, the ``file:`` channel, ``kpi demo``'s digest.slack.json):
    ``{"generator", "digest", "period", "messages": [chat.postMessage payloads]}``."""
    document = {"generator": generator, "digest": digest, "period": period, "messages": messages}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def standalone_html(rendered: Rendered) -> str:
    """The HTML body with its ``cid:`` chart references replaced by ``data:`` URIs: one file that
    opens in any browser and can be moved or attached without its images getting lost."""
    import base64

    body = rendered.body
    for content_id, png in rendered.images.items():
        data_uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        body = body.replace(f"cid:{content_id}", data_uri)
    return body
