"""The Block Kit of ``/kpi`` replies: the reply type, ephemeral messages, problems, the help text, a metric
answer's blocks and the notes under it (stored when, computed how fast). Every data-derived text is escaped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from kpicore import i18n
from kpicore.chat.grammar import PERIOD_EXAMPLES, MetricRequest
from kpicore.i18n import N_, _
from kpicore.presentation import formatting
from kpicore.presentation.blockkit import MAX_BLOCKS, fit_block, slack_escape
from kpicore.results import MetricResult

#: Slack's limit on the fields of one section block.
SLACK_MAX_FIELDS = 10

ACTION_PREVIOUS, ACTION_BREAKDOWN, ACTION_SHARE = "kpi_previous", "kpi_breakdown", "kpi_share"


@dataclass
class Reply:
    """What the app sends back.

    ``message`` is the immediate answer (the HTTP response or the Socket Mode acknowledgement);
    ``share`` a message for chat.postMessage in the asker's channel; ``charts`` draws the PNGs to upload
    there (filename, title, bytes), called only after the acknowledgement, since drawing can take longer
    than Slack's 3 seconds on a busy machine; ``later`` a future of the reply to post through ``response_url``;
    ``how`` says where the answer came from: ``stored``, ``live``, ``pending``, ``error``, ``help``...
    """

    message: dict[str, Any]
    share: dict[str, Any] | None = None
    charts: Callable[[], list[tuple[str, str, bytes]]] | None = None
    later: Future | None = None
    how: str = "answer"


def ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ephemeral slash-command message (only the asker sees it)."""
    message: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks is not None:
        message["blocks"] = blocks
    return message


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def problem(text: str, hint: str = "") -> Reply:
    """An ephemeral answer about something that went wrong (already escaped mrkdwn)."""
    blocks = [mrkdwn(f":warning: {text}")]
    if hint:
        blocks.append(context_block(hint))
    return Reply(ephemeral(plain(text), blocks), how="error")


def plain(mrkdwn: str) -> str:
    return mrkdwn.replace("*", "").replace("`", "")


#: The words of the ``/kpi`` grammar, typed in English in every language (the help says so).
GRAMMAR_WORDS = (
    "last week",
    "this month",
    "by",
    "vs",
    "chart",
    "share",
    "list",
    "digest",
    "help",
    "follow",
    "unfollow",
    "following",
)


#: What a channel that cannot post later (a Teams outgoing webhook) says about following.
NO_FOLLOW = N_("Following metrics is not offered here: this channel cannot post later.")
#: What a channel that must answer at once says when the answer is not ready in time.
TOO_SLOW = N_(
    "That takes too long to answer here. Ask again in a minute: the value may be stored by then, "
    "or ask for a shorter period."
)
#: Said under a refusal in a channel that ``[chat] allow`` does not name.
NOT_ALLOWED_HERE = N_("This channel is %(where)s: add it to [chat] allow to let it ask for more.")


def help_text(shared: bool = False, can_follow: bool = True) -> str:
    """The ``/kpi help`` text in the current language; commands and examples stay as typed. ``shared``:
    everyone in the conversation sees the answers; ``can_follow``: the channel can post later."""
    if shared:
        first = _("*%(kpi)s asks kpicore for a KPI.* Everyone in this conversation sees the answer.") % {
            "kpi": "`/kpi`"
        }
    else:
        first = _("*%(kpi)s asks kpicore for a KPI.* Only you see the answer unless you add %(share)s.") % {
            "kpi": "`/kpi`",
            "share": "`share`",
        }
    follow = (
        _("%(follow)s — get it in a weekly direct message · %(unfollow)s · %(following)s")
        % {
            "follow": "`/kpi follow churn by region`",
            "unfollow": "`/kpi unfollow churn`",
            "following": "`/kpi following`",
        }
        if can_follow
        else _(NO_FOLLOW)
    )
    lines = [
        first,
        "• "
        + _("%(command)s — a metric (name, title or alias: %(aliases)s) for a period")
        % {"command": "`/kpi nps last week`", "aliases": "`ltv`, `churn`, `satisfaction`…"},
        "• " + _("%(command)s — several at once") % {"command": "`/kpi nps csat churn this month`"},
        "• "
        + _("%(command)s — broken down by a dimension") % {"command": "`/kpi churn last month by region`"},
        "• "
        + _("%(command)s — compared with another period (default: the period before)")
        % {"command": "`/kpi revenue q3 vs last year`"},
        "• "
        + _("%(command)s — with a trend chart · %(share)s posts the answer to the channel")
        % {"command": "`/kpi revenue last 12 weeks chart`", "share": "`share`"},
        "• "
        + _("%(list)s — the metrics you can ask for here · %(digest)s — preview a digest")
        % {"list": "`/kpi list`", "digest": "`/kpi digest NAME`"},
        "• " + follow,
        _("*Periods:* %(periods)s.")
        % {
            "periods": formatting.format_list(
                [*(f"`{p}`" for p in PERIOD_EXAMPLES), "`2026-11`", "`2026-Q4`", "`2026`", "`2026-11-23`"]
            )
        },
    ]
    if i18n.language(i18n.current_locale()) != "en":
        lines.append(
            _("Type the command words (%(words)s) in English.")
            % {"words": formatting.format_list(f"`{w}`" for w in GRAMMAR_WORDS)}
        )
    return "\n".join(lines)


def chunks(lines: list[str], limit: int = 2900) -> list[str]:
    chunks, current = [], ""
    for line in lines:
        if current and len(current) + len(line) + 1 > limit:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*chunks, current] if current else chunks


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks within Slack's limits for one message: long sections split, at most 50 blocks."""
    fitted = [piece for block in blocks for piece in fit_block(block)]
    if len(fitted) > MAX_BLOCKS:
        actions = [b for b in fitted if b["type"] == "actions"]
        fitted = [b for b in fitted if b["type"] != "actions"][: MAX_BLOCKS - 1 - len(actions)]
        fitted += [context_block(_("… more than fits in one message: ask for fewer metrics.")), *actions]
    return fitted


def age(moment: dt.datetime) -> str:
    minutes = max(0, int((dt.datetime.now(dt.UTC) - moment).total_seconds() // 60))
    if minutes == 0:
        return _("just now")
    if minutes < 120:
        return _("%(minutes)s min ago") % {
            "minutes": formatting.format_number(minutes, i18n.current_locale())
        }
    return _("%(hours)s h ago") % {"hours": formatting.format_number(minutes // 60, i18n.current_locale())}


def stored_note(computed_at: dt.datetime) -> str:
    return _("From stored values computed %(age)s.") % {"age": age(computed_at)}


def computed_note(seconds: float, decimals: int, locale: str) -> str:
    return _("Computed live in %(seconds)s s.") % {
        "seconds": formatting.format_number(seconds, locale, decimals=decimals)
    }


def value_text(result: MetricResult, config) -> str:
    if not result.ok:
        return _("unavailable")
    return formatting.format_value(result.value, result.unit, config.locale, config.currency)


def target_text(result: MetricResult, config) -> str | None:
    """``target ≥ 40: ✓ on track`` when kpi.toml sets a target for the metric (kpicore.targets, the
    one implementation the digest and `kpi compute` use; stored values get their status here)."""
    from kpicore.presentation.targets import status_text
    from kpicore.targets import apply_targets

    if result.target_status is None:
        apply_targets([result], config)
    return status_text(result, config.locale, config.currency)


def answer_blocks(
    request: MetricRequest,
    results: list[MetricResult],
    config,
    *,
    note: str = "",
    insights: dict[str, list] | None = None,
) -> list[dict]:
    """The Block Kit blocks of a metric answer, in the digest's visual language (every data-derived
    text escaped); with ``insights`` (metric -> its insights, best first), each metric's top one."""
    from kpicore.digest.render import metric_view

    locale, currency = config.locale, config.currency
    comparison = request.vs.label if request.vs else request.period.previous().label
    try:
        dates = formatting.format_date_range(request.period.start_iso(), request.period.end_iso(), locale)
    except ValueError:
        dates = ""
    blocks: list[dict[str, Any]] = []
    for result in results:
        view = metric_view(result, locale=locale, currency=currency)
        heading = f"*{slack_escape(view.title)}* · {request.period.label}" + (f" ({dates})" if dates else "")
        if not view.ok:
            reason = slack_escape(view.reason or _("no reason given"))
            blocks.append(mrkdwn(f"{heading}\n{_('unavailable')}: {reason}"))
            continue
        line = f"*{slack_escape(view.value)}*"
        if view.change:
            line += "   " + _("%(change)s vs %(period)s (%(previous)s)") % {
                "change": view.change,
                "period": comparison,
                "previous": slack_escape(view.previous),
            }
        elif view.previous is None and request.year_over_year:
            line += "   " + _("(no data a year back, for %(period)s, to compare with)") % {
                "period": comparison
            }
        elif view.previous is None:
            line += "   " + _("(no value for %(period)s to compare with)") % {"period": comparison}
        blocks.append(mrkdwn(f"{heading}\n{line}"))
        facts = []
        if view.n is not None:
            facts.append(f"n = {view.n}")
        if view.sparkline:
            facts.append(
                _("trend %(sparkline)s (%(span)s)")
                % {
                    "sparkline": view.sparkline,
                    "span": formatting.format_span(view.trend_periods, request.period.label, locale),
                }
            )
        if view.warnings:
            facts.append(f":warning: {slack_escape(formatting.format_list(view.warning_messages, sep='; '))}")
        if (target := target_text(result, config)) is not None:
            facts.append(target)
        if facts:
            blocks.append(context_block(" · ".join(facts)))
        top = (insights or {}).get(result.metric)
        if top:
            blocks.append(mrkdwn(f":bulb: {slack_escape(top[0].sentence(locale, currency))}"))
        if view.segments:
            blocks.append(_segment_section(view))
    if note:
        blocks.append(context_block(slack_escape(note)))
    return blocks


def _segment_section(view) -> dict:
    """The section of a metric's segments: labels ("no region"), order and counts as in the digest."""
    fields = []
    for segment in view.segments:
        small = f" · {_('small sample')}" if segment.small else ""
        # plain_text: the segment's name is data, shown as written (no mrkdwn to escape).
        fields.append(
            {
                "type": "plain_text",
                "emoji": False,
                "text": f"{segment.segment}\n{segment.value} ({segment.n}{small})",
            }
        )
    heading = _("By %(dimension)s") % {"dimension": slack_escape(view.dimension_label)} + ":"
    if len(fields) > SLACK_MAX_FIELDS:  # Slack refuses a section with more than 10 fields
        heading += " " + _("(the %(shown)s that moved most of %(count)s)") % {
            "shown": SLACK_MAX_FIELDS,
            "count": len(fields),
        }
        fields = fields[:SLACK_MAX_FIELDS]
    return {"type": "section", "text": {"type": "mrkdwn", "text": heading}, "fields": fields}
