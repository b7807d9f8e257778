"""Answers to ``/kpi``: a request -> a Block Kit reply, from stored values, a live compute, or later.

:class:`Answerer` holds what a running service keeps between commands (the configuration, the
registry, an opened source, a worker pool, the rate limiter). ``reply(text, asker)`` never raises:
every problem (a word it cannot read, a refused metric, a source that is down) is an ephemeral
answer that says what to do. A metric answer comes from the state database when a stored value
for that metric, period and segment is younger than ``[chat] max_age``; else it is computed live,
and if that takes longer than ``[chat] budget`` the reply says "computing …" and carries a future
that resolves to the answer, for the app to post through ``response_url``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any

from kpicore import i18n
from kpicore.chat.grammar import (
    PERIOD_EXAMPLES,
    CommandError,
    DigestRequest,
    FollowingRequest,
    FollowRequest,
    HelpRequest,
    ListRequest,
    MetricRequest,
    UnfollowRequest,
    Vocabulary,
    parse_command,
)
from kpicore.digest import formatting
from kpicore.digest.blockkit import MAX_BLOCKS, fit_block, slack_escape
from kpicore.dimensions import refusal_for
from kpicore.errors import ConfigError, KpiError, SourceError
from kpicore.i18n import _
from kpicore.results import MetricResult, Segment, TrendPoint

log = logging.getLogger("kpicore.chat")
#: Slack's limit on the fields of one section block.
SLACK_MAX_FIELDS = 10

CHAT_KEYS = (
    "allow",
    "max_age",
    "budget",
    "rate_limit",
    "trend",
    "period",
    "follow_schedule",
    "follow_period",
)
#: When followers get their personal message: Mondays at 08:00 in the business timezone.
DEFAULT_FOLLOW_SCHEDULE = "0 8 * * 1"
ACTION_PREVIOUS, ACTION_BREAKDOWN, ACTION_SHARE = "kpi_previous", "kpi_breakdown", "kpi_share"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, where: str) -> float:
    """Seconds in ``"1h"``, ``"30m"``, ``"2s"``, ``"500ms"`` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())) and float(match[1]) > 0:
        return float(match[1]) * _SECONDS[match[2]]
    raise ConfigError(f'{where}: expected a duration such as "1h", "30m" or "2s", got {value!r}')


@dataclass(frozen=True)
class ChatSettings:
    """The ``[chat]`` table of kpi.toml."""

    allow: dict[str, tuple[str, ...]] | None = None
    max_age: float = 3600.0
    budget: float = 2.0
    rate_limit: int = 20  # commands per user per minute
    trend: int = 8
    period: str = "last-week"
    #: A 5-field cron in the business timezone, or an interval ("30s", "1h"; for tests and trials).
    follow_schedule: str = DEFAULT_FOLLOW_SCHEDULE
    #: The period each personal message covers, relative to its fire time.
    follow_period: str = "last-week"

    @classmethod
    def from_config(cls, config) -> ChatSettings:
        raw = config.chat or {}
        where = "kpi.toml: [chat]"
        for key in raw:
            if key not in CHAT_KEYS:
                import difflib

                close = difflib.get_close_matches(key, CHAT_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(CHAT_KEYS)})"
                raise ConfigError(f"{where}: unknown key {key!r}{hint}")
        allow = None
        if "allow" in raw:
            if not isinstance(raw["allow"], dict):
                raise ConfigError(f'{where} allow: expected a table such as {{ "#leadership" = ["*"] }}')
            allow = {}
            for who, metrics in raw["allow"].items():
                if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
                    raise ConfigError(f'{where} allow.{who}: expected a list of metric names or "*"')
                allow[who] = tuple(metrics)
        settings = cls(allow=allow)
        if "max_age" in raw:
            settings = replace(settings, max_age=parse_duration(raw["max_age"], f"{where} max_age"))
        if "budget" in raw:
            settings = replace(settings, budget=parse_duration(raw["budget"], f"{where} budget"))
        for key in ("rate_limit", "trend"):
            if key in raw:
                value = raw[key]
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
                    raise ConfigError(f"{where} {key}: expected a whole number from 1 to 1000, got {value!r}")
                settings = replace(settings, **{key: value})
        if "period" in raw:
            if not isinstance(raw["period"], str):
                raise ConfigError(f'{where} period: expected a period such as "last-week"')
            settings = replace(settings, period=raw["period"])
        for key in ("follow_schedule", "follow_period"):
            if key in raw:
                if not isinstance(raw[key], str) or not raw[key].strip():
                    example = '"0 8 * * MON"' if key == "follow_schedule" else '"last-week"'
                    raise ConfigError(f"{where} {key}: expected text such as {example}, got {raw[key]!r}")
                settings = replace(settings, **{key: raw[key].strip()})
        settings.schedule_for(getattr(config, "timezone", "UTC") or "UTC")  # refuse a bad schedule at start
        return settings

    def schedule_for(self, timezone: str):
        """``follow_schedule`` as a typed schedule (a cron in ``timezone``, or an interval);
        ConfigError naming the key."""
        from kpicore.digest.config import check_cron, check_interval
        from kpicore.scheduler import CronSchedule, IntervalSchedule, check_can_fire

        where = "kpi.toml: [chat] follow_schedule"
        text = " ".join(self.follow_schedule.split())
        if " " not in text:
            return IntervalSchedule(check_interval(text, where), text)
        check_cron(text, where)
        check_can_fire(text, where)
        return CronSchedule(text, timezone)

    def allowed(self, metric: str, asker: Asker) -> bool:
        """Whether ``asker`` (its user, its channel) may ask for ``metric``.

        Entries are keyed by channel id (``C0123ABC``), ``#name``, user id (``U0123ABC``) or ``*``.
        A channel without an entry of its own gets the ``*`` entry; a user's entry adds to the channel's.
        """
        if self.allow is None:
            return True
        channel = self.allow.get(asker.channel_id)
        if channel is None and asker.channel_name:
            channel = self.allow.get(f"#{asker.channel_name}", self.allow.get(asker.channel_name))
        if channel is None:
            channel = self.allow.get("*", ())
        granted = set(channel) | set(self.allow.get(asker.user_id, ()))
        return "*" in granted or metric in granted


@dataclass(frozen=True)
class Asker:
    """Who asked, and where."""

    user_id: str
    channel_id: str
    channel_name: str = ""


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


class RateLimiter:
    """At most ``limit`` commands per user in any ``per`` seconds."""

    def __init__(self, limit: int, per: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.per, self.clock = limit, per, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, user: str) -> float:
        """0 when ``user`` may go ahead now (and counts it); else the seconds until they may."""
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(user, deque())
            while seen and seen[0] <= now - self.per:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(0.1, seen[0] + self.per - now)
            seen.append(now)
            return 0.0


def ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ephemeral slash-command message (only the asker sees it)."""
    message: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks is not None:
        message["blocks"] = blocks
    return message


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def problem(text: str, hint: str = "") -> Reply:
    """An ephemeral answer about something that went wrong (already escaped mrkdwn)."""
    blocks = [_mrkdwn(f":warning: {text}")]
    if hint:
        blocks.append(_context(hint))
    return Reply(ephemeral(_plain(text), blocks), how="error")


def _plain(mrkdwn: str) -> str:
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


def help_text() -> str:
    """The ``/kpi help`` text in the current language; commands and examples stay as typed."""
    lines = [
        _("*%(kpi)s asks kpicore for a KPI.* Only you see the answer unless you add %(share)s.")
        % {"kpi": "`/kpi`", "share": "`share`"},
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
        "• "
        + _("%(follow)s — get it in a weekly direct message · %(unfollow)s · %(following)s")
        % {
            "follow": "`/kpi follow churn by region`",
            "unfollow": "`/kpi unfollow churn`",
            "following": "`/kpi following`",
        },
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


#: Seconds at most a live answer waits for its insight after its numbers are ready.
INSIGHT_WAIT = 0.5


class Answerer:
    """Answers ``/kpi`` commands for one configuration (thread-safe; one per service)."""

    def __init__(self, config, registry=None, *, clock: Callable[[], float] = time.monotonic) -> None:
        from kpicore.registry import get_registry

        self.config = config
        self.registry = registry or get_registry()
        self.settings = ChatSettings.from_config(config)
        self.clock = clock
        self.rate = RateLimiter(self.settings.rate_limit, 60.0, clock)
        self.vocabulary = Vocabulary(
            {name: reg.item.title for name, reg in self.registry.metrics.items()},
            digests=tuple(config.digests),
        )
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kpi-chat")
        self._source = None
        self._source_lock = threading.Lock()
        #: How many live computes ran (tests check that a refused request computed nothing).
        self.computes = 0
        #: (metric, period start, period end) -> (monotonic time, its insights, best first), for max_age.
        self._insights: dict[tuple[str, str, str], tuple[float, list]] = {}
        self._insights_lock = threading.Lock()
        self._insight_jobs: dict[tuple, Future] = {}

    # -- entry point ---------------------------------------------------------------------------
    def speaking(self):
        """The context in which answers are written: kpi.toml's ``locale``, ``digits`` and ``week_start`` (worker
        threads do not inherit the caller's context, so each thread enters it itself)."""
        return _speaking(self.config)

    def reply(self, text: str, asker: Asker) -> Reply:
        """The reply to ``/kpi text`` from ``asker``, in kpi.toml's ``locale``; never raises."""
        with self.speaking():
            return self._reply(text, asker)

    def _reply(self, text: str, asker: Asker) -> Reply:
        wait = self.rate.wait(asker.user_id)
        if wait:
            return problem(
                _("That's a lot of questions in a minute — try again in %(seconds)s s.")
                % {"seconds": formatting.format_number(int(wait) + 1, self.config.locale)},
                _("%(kpi)s answers up to %(count)s commands per person per minute.")
                % {
                    "kpi": "`/kpi`",
                    "count": formatting.format_number(self.settings.rate_limit, self.config.locale),
                },
            )
        try:
            request = parse_command(
                text, self.vocabulary, self.config.timezone, default_period=self.settings.period
            )
            return self.answer(request, asker)
        except CommandError as error:
            return self._command_error(error)
        except SourceError as error:
            return self._source_down(error)
        except KpiError as error:
            return problem(slack_escape(str(error)))
        except Exception:  # an answer, never Slack's dispatch_failed
            log.exception("/kpi failed")
            return problem(_("Something went wrong answering that; it has been logged. Please try again."))

    def answer(self, request, asker: Asker) -> Reply:
        """The reply to a parsed request (errors raise; :meth:`reply` turns them into answers)."""
        if isinstance(request, HelpRequest):
            return Reply(ephemeral(_("How to use %(kpi)s") % {"kpi": "/kpi"}, self.help_blocks()), how="help")
        if isinstance(request, ListRequest):
            return self._list(asker)
        if isinstance(request, DigestRequest):
            return self._digest(request, asker)
        if isinstance(request, (FollowRequest, UnfollowRequest, FollowingRequest)):
            return self._follows(request, asker)
        return self._metrics(request, asker)

    def close(self) -> None:
        """Stop the workers (waiting for running computes) and close the source."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._source is not None:
            self._source.close()
            self._source = None

    # -- help, list, errors --------------------------------------------------------------------
    def help_blocks(self) -> list[dict[str, Any]]:
        return [_mrkdwn(help_text())]

    def _list(self, asker: Asker) -> Reply:
        lines = []
        for name, registration in sorted(self.registry.metrics.items()):
            if self.settings.allowed(name, asker):
                lines.append(f"• `{name}` — {slack_escape(_(registration.item.title))}")
        if not lines:
            return problem(
                _("No metric may be asked for in this channel."),
                _("%(allow)s in kpi.toml decides which.") % {"allow": "`[chat] allow`"},
            )
        heading = _("Metrics you can ask for here")
        blocks = [_mrkdwn(f"*{heading}*")]
        blocks.extend(_mrkdwn(chunk) for chunk in _chunks(lines))
        if self.config.digests:
            names = formatting.format_list(f"`{slack_escape(name)}`" for name in self.config.digests)
            blocks.append(
                _context(
                    _("Digests: %(names)s — %(command)s previews one.")
                    % {"names": names, "command": "`/kpi digest NAME`"}
                )
            )
        return Reply(ephemeral(heading, blocks), how="list")

    def _command_error(self, error: CommandError) -> Reply:
        text = slack_escape(str(error))
        if error.kind in ("period", "period-range"):
            hint = _("Periods: %(periods)s") % {
                "periods": formatting.format_list(f"`{p}`" for p in PERIOD_EXAMPLES)
            }
        elif error.kind == "metric":
            hint = _("%(list)s shows every metric; %(help)s shows how to ask.") % {
                "list": "`/kpi list`",
                "help": "`/kpi help`",
            }
        else:
            hint = _("%(help)s shows how to ask.") % {"help": "`/kpi help`"}
        return problem(text, hint)

    def _source_down(self, error: SourceError) -> Reply:
        log.warning("/kpi: the source did not answer: %s", error)
        self._drop_source()
        return problem(
            _(
                "The data source isn't answering right now, so I can't compute that. Please try again in a minute."
            ),
            slack_escape(str(error)),
        )

    def _refused(self, names: list[str], asker: Asker) -> Reply:
        where = f"#{asker.channel_name}" if asker.channel_name else _("this channel")
        listed = formatting.format_list(f"`{n}`" for n in names)
        return problem(
            _("%(metrics)s can't be asked for in %(where)s.")
            % {"metrics": listed, "where": slack_escape(where)},
            _("%(allow)s in kpi.toml decides which metrics each channel may ask for; %(list)s shows yours.")
            % {"allow": "`[chat] allow`", "list": "`/kpi list`"},
        )

    # -- the source ------------------------------------------------------------------------------
    def source(self):
        """The opened source (opened once, reopened after it failed)."""
        with self._source_lock:
            if self._source is None:
                from kpicore.connectors import open_configured_source

                self._source = open_configured_source(self.config, self.registry)
            return self._source

    def _drop_source(self) -> None:
        with self._source_lock:
            if self._source is not None:
                self._source.close()
                self._source = None

    def dimensions(self, metric_names: list[str]) -> list[str]:
        """The dimensions every one of these metrics can be broken down by, in the source's spelling."""
        from kpicore.source import EntityUnavailable

        source = self.source()
        common: list[str] | None = None
        for name in metric_names:
            found: list[str] = []
            for entity in self.registry.metric(name).entities(self.config):
                try:
                    relation = source.relation(entity)
                except EntityUnavailable:
                    continue
                found.extend(relation.dimensions)
                lookup = relation.entity.dimension_lookup
                if lookup is not None:
                    try:
                        found.extend(source.relation(lookup[0]).dimensions)
                    except EntityUnavailable:
                        pass
            unique = list(dict.fromkeys(found))
            common = unique if common is None else [d for d in common if d in unique]
        return common or []

    def _resolve_dimension(self, word: str, metric_names: list[str]) -> str:
        known = self.dimensions(metric_names)
        for dimension in known:
            if dimension.lower() == word.lower():
                return dimension
        entity_names = [e for m in metric_names for e in self.registry.metric(m).entities(self.config)]
        refused = refusal_for(self.source(), entity_names, word)
        if refused is not None:  # personal data, or too many values: the sentence the CLI says, translated
            raise CommandError(refused.sentence(_), kind="dimension")
        listed = formatting.format_list(f"`{slack_escape(d)}`" for d in known) or _("no dimension")
        raise CommandError(
            _("unknown dimension %(word)s: %(metrics)s can be broken down by %(dimensions)s")
            % {"word": repr(word), "metrics": formatting.format_list(metric_names), "dimensions": listed},
            kind="dimension",
        )

    # -- metric answers --------------------------------------------------------------------------
    def _metrics(self, request: MetricRequest, asker: Asker) -> Reply:
        refused = [name for name in request.metrics if not self.settings.allowed(name, asker)]
        if refused:
            return self._refused(refused, asker)
        dimension = self._resolve_dimension(request.by, list(request.metrics)) if request.by else None
        started = self.clock()
        stored = self.stored_results(request, dimension)
        if stored is not None:
            return self._answer(
                request, stored, dimension, asker, how="stored", note=_stored_note(stored[1]), started=started
            )
        future = self._executor.submit(self._speaking_in_worker, self.compute_live, request, dimension)
        try:
            results = future.result(timeout=self.settings.budget)
        except FutureTimeout:
            later: Future = Future()

            def finish(done: Future) -> None:
                with self.speaking():
                    try:
                        reply = self._finish(done, request, dimension, asker, started)
                    except Exception:
                        log.exception("/kpi failed")
                        reply = problem(
                            _("Something went wrong answering that; it has been logged. Please try again.")
                        )
                later.set_result(reply)

            future.add_done_callback(finish)
            text = _("Computing %(metrics)s for %(period)s … I'll post it here when it's ready.") % {
                "metrics": formatting.format_list(request.metrics),
                "period": request.period.label,
            }
            return Reply(
                ephemeral(text, [_context(f":hourglass_flowing_sand: {slack_escape(text)}")]),
                later=later,
                how="pending",
            )
        return self._answer(
            request,
            results,
            dimension,
            asker,
            how="live",
            note=_computed_note(self.clock() - started, 2, self.config.locale),
            started=started,
        )

    def _finish(self, done: Future, request, dimension, asker, started) -> Reply:
        error = done.exception()
        if isinstance(error, SourceError):
            return self._source_down(error)
        if isinstance(error, KpiError):
            return problem(slack_escape(str(error)))
        if error is not None:
            raise error
        return self._answer(
            request,
            done.result(),
            dimension,
            asker,
            how="live",
            note=_computed_note(self.clock() - started, 1, self.config.locale),
        )

    def compute_live(self, request: MetricRequest, dimension: str | None) -> list[MetricResult]:
        """Compute the request in the source, store the values, and return the results."""
        from kpicore.compute import compute, select_metrics
        from kpicore.state import store_results, store_trend

        self.computes += 1
        metrics = select_metrics(request.metrics, self.registry)
        source = self.source()
        results = compute(
            metrics,
            request.period,
            source,
            config=self.config,
            by=dimension,
            trend=self.settings.trend,
            compare="last-year" if request.year_over_year else None,
        )
        store_results(self.config, results, source.display, dimension)
        store_trend(self.config, results, source.display)
        if request.year_over_year:
            # The same period a year before, computed with the period: None where there is no data then,
            # which the answer says rather than comparing with a made-up 0.
            for result in results:
                if result.compare is not None:
                    result.previous = result.compare.value
                    for segment in result.segments or []:
                        segment.previous = segment.compare
        elif request.vs is not None:
            compared = compute(metrics, request.vs, source, config=self.config)
            store_results(self.config, compared, source.display)
            for result, other in zip(results, compared, strict=True):
                result.previous = other.value if other.ok else None
        return results

    def find_insights(self, request: MetricRequest) -> None:
        """Compute the insights about the request's metrics for its period (in the source, like the
        digest's) and keep them for ``max_age``; a failure is logged, never the answer's."""
        from kpicore.compute import select_metrics
        from kpicore.insights.run import find_insights

        try:
            findings = find_insights(
                select_metrics(request.metrics, self.registry),
                request.period,
                self.source(),
                self.config,
                self.registry,
            )
        except Exception:
            log.exception("/kpi: insights for %s failed", ", ".join(request.metrics))
            return
        now = self.clock()
        with self._insights_lock:
            for name in request.metrics:
                key = (name, request.period.start_iso(), request.period.end_iso())
                self._insights[key] = (now, findings.for_metric(name))

    def known_insights(self, request: MetricRequest) -> dict[str, list] | None:
        """The kept insights of every metric of the request, or None when one has none younger than max_age."""
        found = {}
        with self._insights_lock:
            for name in request.metrics:
                kept = self._insights.get((name, request.period.start_iso(), request.period.end_iso()))
                if kept is None or self.clock() - kept[0] > self.settings.max_age:
                    return None
                found[name] = kept[1]
        return found

    def stored_results(self, request: MetricRequest, dimension: str | None):
        """``(results, oldest computed_at)`` from stored values younger than max_age, or None."""
        from kpicore.state import _utc, read_values

        if request.year_over_year:
            return None  # computed live: whether there is data a year back is part of the answer
        source = self.source()
        trend = request.period.trend(self.settings.trend)
        comparison = request.vs or request.period.previous()
        spans = {(p.start_iso(), p.end_iso()) for p in (*trend, comparison, request.period)}
        fresh_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.max_age)
        values = read_values(
            self.config,
            source.display,
            list(request.metrics),
            sorted(spans),
            fresh_since=fresh_since,
            dimension=dimension,
        )

        def key(metric: str, period, segment: str = "") -> tuple[str, str, str, str]:
            return (metric, _utc(period.start_iso()), _utc(period.end_iso()), segment)

        results, oldest = [], dt.datetime.now(dt.UTC)
        for name in request.metrics:
            metric = self.registry.metric(name)
            current, previous = values.get(key(name, request.period)), values.get(key(name, comparison))
            points = [values.get(key(name, p)) for p in trend]
            # A value stored only as a trend point has no n: the answer needs one, so it is computed.
            if current is None or current.n is None or previous is None or any(p is None for p in points):
                return None
            segments = None
            if dimension is not None:
                prefix = f"{dimension}="
                start, end = key(name, request.period)[1:3]
                segments = [
                    Segment(k[3][len(prefix) :], v.value, v.n or 0)
                    for k, v in sorted(values.items())
                    if k[0] == name and k[1:3] == (start, end) and k[3].startswith(prefix)
                ]
                if not segments:
                    return None
                none = [s for s in segments if s.segment == "(none)"]
                segments = [s for s in segments if s.segment != "(none)"] + none
            oldest = min(
                [oldest, current.computed_at, previous.computed_at, *(p.computed_at for p in points)]
            )
            results.append(
                MetricResult(
                    metric=name,
                    title=metric.title,
                    unit=metric.unit,
                    better=metric.better,
                    status="ok",
                    period=request.period.label,
                    start=request.period.start_iso(),
                    end=request.period.end_iso(),
                    value=current.value,
                    previous=previous.value,
                    n=current.n,
                    dimension=dimension,
                    segments=segments,
                    trend=[
                        TrendPoint(p.label, p.start_iso(), p.end_iso(), v.value)
                        for p, v in zip(trend, points, strict=True)
                    ],
                )
            )
        return results, oldest

    def _sync_note(self) -> str:
        """How old the data is when the source is a synced one (a hosted CRM): /kpi never syncs inline."""
        from kpicore.sync import last_sync

        try:
            finished = last_sync(self.config, self.registry)
        except KpiError:
            return ""
        if finished is None:
            return ""
        finished = finished if finished.tzinfo else finished.replace(tzinfo=dt.UTC)
        return _("Data as of the last sync, %(age)s.") % {"age": _age(finished)}

    def _wait_for_insights(self, request: MetricRequest, started: float | None) -> dict[str, list] | None:
        """Start computing the request's insights (once per request at a time) after its numbers, and
        wait for them up to ``INSIGHT_WAIT`` seconds within what is left of the answer's budget; one not
        ready in time is kept for the next question."""
        key = (tuple(request.metrics), request.period.start_iso(), request.period.end_iso())
        with self._insights_lock:
            job = self._insight_jobs.get(key)
            if job is None:
                job = self._executor.submit(self.find_insights, request)
                self._insight_jobs[key] = job
                job.add_done_callback(lambda _done: self._insight_jobs.pop(key, None))
        remaining = (
            min(INSIGHT_WAIT, self.settings.budget - (self.clock() - started)) if started is not None else 0.0
        )
        if remaining > 0:
            try:
                job.result(timeout=remaining)
            except FutureTimeout:
                return None
        return self.known_insights(request)

    def _answer(
        self,
        request: MetricRequest,
        results,
        dimension,
        asker: Asker,
        *,
        how: str,
        note: str,
        started: float | None = None,
    ) -> Reply:
        if how == "stored":
            results = results[0]
        synced = self._sync_note()
        if synced:
            note = f"{note} {synced}"
        insights = self.known_insights(request)
        if insights is None:
            # A live answer may wait a little of what is left of its budget; a stored one answers at
            # once. Either way the insight is kept for the next question.
            insights = self._wait_for_insights(request, started if how == "live" else None)
        blocks = answer_blocks(request, results, self.config, note=note, insights=insights)
        actions = self._actions(request, asker)
        title = formatting.format_list(f"{_(r.title)}: {_value(r, self.config)}" for r in results)
        text = f"{title} ({request.period.label})"
        charts = None
        if request.chart:
            config, label, speaking = self.config, request.period.label, self.speaking

            def charts() -> list[tuple[str, str, bytes]]:
                from kpicore.digest.render import draw_charts

                with speaking():
                    drawn = draw_charts(
                        results, locale=config.locale, currency=config.currency, calendar=config.calendar
                    )
                return [(f"{metric}-{label}.png", f"{metric} {label}", png) for metric, png in drawn.items()]

        if request.share:
            shared = {"text": text, "blocks": _fit([*blocks, *actions(share=False)])}
            posting = _("Posting it to the channel.")
            message = ephemeral(posting, [_context(f":outbox_tray: {posting}")])
            return Reply(message, share=shared, charts=charts, how=how)
        return Reply(ephemeral(text, _fit([*blocks, *actions(share=True)])), charts=charts, how=how)

    def _actions(self, request: MetricRequest, asker: Asker):
        """A function building the buttons: previous period, break down by, share to channel."""
        try:
            dimensions = self.dimensions(list(request.metrics))
        except KpiError:
            dimensions = []

        def build(share: bool) -> list[dict[str, Any]]:
            from kpicore.chat.grammar import year_ago

            vs = request.vs.previous() if request.vs is not None else None
            vs_text = vs.label if vs else None
            if request.year_over_year:  # the period before, still against the same one a year earlier
                vs, vs_text = year_ago(request.period.previous()), "last year"
            previous = replace(
                request,
                period=request.period.previous(),
                period_text=request.period.previous().label,
                vs=vs,
                vs_text=vs_text,
                share=False,
                chart=False,
            )
            elements: list[dict[str, Any]] = [
                {
                    "type": "button",
                    "action_id": ACTION_PREVIOUS,
                    "value": previous.command_text(),
                    "text": {"type": "plain_text", "text": f"◀ {request.period.previous().label}"},
                }
            ]
            options = [
                {
                    "text": {"type": "plain_text", "text": d[:75]},
                    "value": replace(request, by=d, share=False, chart=False).command_text(),
                }
                for d in dimensions[:100]
                if d != request.by and len(d) <= 60
            ]
            if options:
                elements.append(
                    {
                        "type": "static_select",
                        "action_id": ACTION_BREAKDOWN,
                        "options": options,
                        "placeholder": {"type": "plain_text", "text": _("Break down by…")},
                    }
                )
            if share:
                elements.append(
                    {
                        "type": "button",
                        "action_id": ACTION_SHARE,
                        "value": replace(request, share=True, chart=False).command_text(),
                        "text": {"type": "plain_text", "text": _("Share to channel")},
                    }
                )
            return [{"type": "actions", "block_id": "kpi_actions", "elements": elements}]

        return build

    # -- follow, unfollow, following -------------------------------------------------------------
    def _follows(self, request, asker: Asker) -> Reply:
        from kpicore.follows import MAX_FOLLOWS, follow, following, unfollow
        from kpicore.state import open_state

        engine = open_state(self.config.resolved_state_url())
        if isinstance(request, FollowingRequest):
            mine = following(engine, asker.user_id)
            if not mine:
                return Reply(
                    ephemeral(
                        "You follow no metric yet.",
                        [
                            _mrkdwn(
                                "You follow no metric yet. `/kpi follow nps` (or `/kpi follow churn by region`) adds one to "
                                f"your personal message, sent {self.follow_when()}."
                            )
                        ],
                    ),
                    how="following",
                )
            lines = [
                f"• `{item.metric}` — {slack_escape(self._title(item.metric))}"
                + (f" by {slack_escape(item.dimension)}" if item.dimension else "")
                for item in mine
            ]
            blocks = [
                _mrkdwn(f"*You follow {len(mine)} metric{'s' if len(mine) != 1 else ''}*"),
                *(_mrkdwn(chunk) for chunk in _chunks(lines)),
                _context(
                    f"Your personal message goes out {slack_escape(self.follow_when())}. "
                    "`/kpi unfollow METRIC` stops one."
                ),
            ]
            return Reply(
                ephemeral(f"You follow {', '.join(i.metric for i in mine)}", blocks), how="following"
            )
        title = slack_escape(self._title(request.metric))
        if isinstance(request, UnfollowRequest):
            if unfollow(engine, asker.user_id, request.metric):
                text = f"You no longer follow *{title}*."
            else:
                text = f"You weren't following *{title}*; `/kpi following` lists what you follow."
            return Reply(ephemeral(_plain(text), [_mrkdwn(text)]), how="unfollow")
        if not self.settings.allowed(request.metric, asker):
            return self._refused([request.metric], asker)
        dimension = self._resolve_dimension(request.by, [request.metric]) if request.by else None
        mine = following(engine, asker.user_id)
        if request.metric not in {item.metric for item in mine} and len(mine) >= MAX_FOLLOWS:
            return problem(
                f"You already follow {MAX_FOLLOWS} metrics, the most one personal message holds.",
                "`/kpi following` lists them; `/kpi unfollow METRIC` makes room.",
            )
        follow(
            engine,
            asker.user_id,
            request.metric,
            dimension,
            channel_id=asker.channel_id,
            channel_name=asker.channel_name,
        )
        by = f" by {slack_escape(dimension)}" if dimension else ""
        text = (
            f"You now follow *{title}*{by}. It comes in your personal direct message, "
            f"sent {slack_escape(self.follow_when())}."
        )
        return Reply(
            ephemeral(
                _plain(text),
                [
                    _mrkdwn(text),
                    _context("`/kpi following` lists what you follow; `/kpi unfollow METRIC` stops one."),
                ],
            ),
            how="follow",
        )

    def _title(self, metric: str) -> str:
        return self.registry.metric(metric).title

    def follow_when(self) -> str:
        """When personal messages go out, for people: ``Mondays at 08:00 (Europe/Berlin)``."""
        schedule = self.settings.schedule_for(self.config.timezone)
        text = str(schedule)
        if text == DEFAULT_FOLLOW_SCHEDULE:
            return f"on Mondays at 08:00 ({self.config.timezone})"
        return f"on the schedule {text}" + ("" if text.startswith("every") else f" ({self.config.timezone})")

    # -- digest previews -----------------------------------------------------------------------
    def _digest(self, request: DigestRequest, asker: Asker) -> Reply:
        from kpicore.digest.config import digest_spec

        spec = digest_spec(self.config, request.name, self.registry)
        refused = [name for name in spec.metrics if not self.settings.allowed(name, asker)]
        if refused:
            return self._refused(refused, asker)
        future = self._executor.submit(self._speaking_in_worker, self._digest_preview, spec)
        try:
            return future.result(timeout=self.settings.budget)
        except FutureTimeout:
            later: Future = Future()

            def finish(done: Future) -> None:
                error = done.exception()
                with self.speaking():
                    if isinstance(error, SourceError):
                        later.set_result(self._source_down(error))
                    elif error is not None:
                        later.set_result(problem(slack_escape(str(error))))
                    else:
                        later.set_result(done.result())

            future.add_done_callback(finish)
            text = _("Computing the %(name)s digest … I'll post the preview here when it's ready.") % {
                "name": request.name
            }
            return Reply(
                ephemeral(text, [_context(f":hourglass_flowing_sand: {slack_escape(text)}")]),
                later=later,
                how="pending",
            )

    def _speaking_in_worker(self, function, *args):
        with self.speaking():
            return function(*args)

    def _digest_preview(self, spec) -> Reply:
        from kpicore.digest.render import render
        from kpicore.digest.run import compute_digest, in_digest_order, render_options, resolve_period

        self.computes += 1
        period = resolve_period(spec)
        groups = compute_digest(spec, period, self.source(), self.config, self.registry)
        results = in_digest_order(spec, groups)
        rendered = render(
            spec, results, "slack", period_label=period.label, charts=False, **render_options(self.config)
        )
        first = rendered.messages[0]
        note = _("Preview of the %(name)s digest for %(period)s — only you can see this.") % {
            "name": slack_escape(spec.name),
            "period": period.label,
        }
        if len(rendered.messages) > 1:
            note += " " + _("(part 1 of %(count)s)") % {"count": len(rendered.messages)}
        blocks = _fit([_context(note), *first["blocks"]])
        return Reply(ephemeral(first["text"], blocks), how="digest")


@contextlib.contextmanager
def _speaking(config):
    from kpicore.periods import weeks_starting

    with i18n.using(config.locale, config.digits, config.calendar), weeks_starting(config.week_start):
        yield


def _chunks(lines: list[str], limit: int = 2900) -> list[str]:
    chunks, current = [], ""
    for line in lines:
        if current and len(current) + len(line) + 1 > limit:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*chunks, current] if current else chunks


def _fit(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks within Slack's limits for one message: long sections split, at most 50 blocks."""
    fitted = [piece for block in blocks for piece in fit_block(block)]
    if len(fitted) > MAX_BLOCKS:
        actions = [b for b in fitted if b["type"] == "actions"]
        fitted = [b for b in fitted if b["type"] != "actions"][: MAX_BLOCKS - 1 - len(actions)]
        fitted += [_context(_("… more than fits in one message: ask for fewer metrics.")), *actions]
    return fitted


def _age(moment: dt.datetime) -> str:
    minutes = max(0, int((dt.datetime.now(dt.UTC) - moment).total_seconds() // 60))
    if minutes == 0:
        return _("just now")
    if minutes < 120:
        return _("%(minutes)s min ago") % {
            "minutes": formatting.format_number(minutes, i18n.current_locale())
        }
    return _("%(hours)s h ago") % {"hours": formatting.format_number(minutes // 60, i18n.current_locale())}


def _stored_note(computed_at: dt.datetime) -> str:
    return _("From stored values computed %(age)s.") % {"age": _age(computed_at)}


def _computed_note(seconds: float, decimals: int, locale: str) -> str:
    return _("Computed live in %(seconds)s s.") % {
        "seconds": formatting.format_number(seconds, locale, decimals=decimals)
    }


def _value(result: MetricResult, config) -> str:
    if not result.ok:
        return _("unavailable")
    return formatting.format_value(result.value, result.unit, config.locale, config.currency)


def _target(result: MetricResult, config) -> str | None:
    """``target ≥ 40: ✓ on track`` when kpi.toml sets a target for the metric (kpicore.targets, the
    one implementation the digest and `kpi compute` use; stored values get their status here)."""
    from kpicore.targets import apply_targets, status_text

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
            blocks.append(_mrkdwn(f"{heading}\n{_('unavailable')}: {reason}"))
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
        blocks.append(_mrkdwn(f"{heading}\n{line}"))
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
        if (target := _target(result, config)) is not None:
            facts.append(target)
        if facts:
            blocks.append(_context(" · ".join(facts)))
        top = (insights or {}).get(result.metric)
        if top:
            blocks.append(_mrkdwn(f":bulb: {slack_escape(top[0].sentence(locale, currency))}"))
        if view.segments:
            fields = []
            for segment in view.segments:  # labels ("no region"), order and counts as in the digest
                small = f" · {_('small sample')}" if segment.small else ""
                fields.append(
                    {
                        "type": "mrkdwn",
                        "text": f"*{slack_escape(segment.segment)}*\n{slack_escape(segment.value)}"
                        f" ({slack_escape(segment.n)}{small})",
                    }
                )
            heading = _("By %(dimension)s") % {"dimension": slack_escape(view.dimension_label)} + ":"
            if len(fields) > SLACK_MAX_FIELDS:  # Slack refuses a section with more than 10 fields
                heading += " " + _("(the %(shown)s that moved most of %(count)s)") % {
                    "shown": SLACK_MAX_FIELDS,
                    "count": len(fields),
                }
                fields = fields[:SLACK_MAX_FIELDS]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": heading}, "fields": fields})
    if note:
        blocks.append(_context(slack_escape(note)))
    return blocks
