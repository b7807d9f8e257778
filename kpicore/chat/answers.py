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

import datetime as dt
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from kpicore.chat.grammar import (
    PERIOD_EXAMPLES,
    CommandError,
    DigestRequest,
    HelpRequest,
    ListRequest,
    MetricRequest,
    Vocabulary,
    parse_command,
)
from kpicore.digest import formatting
from kpicore.digest.blockkit import MAX_BLOCKS, fit_block, slack_escape
from kpicore.errors import ConfigError, KpiError, SourceError
from kpicore.results import MetricResult, Segment, TrendPoint

log = logging.getLogger("kpicore.chat")
#: Slack's limit on the fields of one section block.
SLACK_MAX_FIELDS = 10

CHAT_KEYS = ("allow", "max_age", "budget", "rate_limit", "trend", "period")
ACTION_PREVIOUS, ACTION_BREAKDOWN, ACTION_SHARE = "kpi_previous", "kpi_breakdown", "kpi_share"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, where: str) -> float:
    """Seconds in ``"1h"``, ``"30m"``, ``"2s"``, ``"500ms"`` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())) and float(match[1]) > 0:
        return float(match[1]) * _SECONDS[match[2]]
    raise ConfigError(f"{where}: expected a duration such as \"1h\", \"30m\" or \"2s\", got {value!r}")


@dataclass(frozen=True)
class ChatSettings:
    """The ``[chat]`` table of kpi.toml."""

    allow: dict[str, tuple[str, ...]] | None = None
    max_age: float = 3600.0
    budget: float = 2.0
    rate_limit: int = 20  # commands per user per minute
    trend: int = 8
    period: str = "last-week"

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
                    raise ConfigError(f"{where} allow.{who}: expected a list of metric names or \"*\"")
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
                raise ConfigError(f"{where} period: expected a period such as \"last-week\"")
            settings = replace(settings, period=raw["period"])
        return settings

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
    ``share`` a message for chat.postMessage in the asker's channel; ``charts`` PNGs to upload there
    (filename, title, bytes); ``later`` a future of the reply to post through ``response_url``;
    ``how`` says where the answer came from: ``stored``, ``live``, ``pending``, ``error``, ``help``...
    """

    message: dict[str, Any]
    share: dict[str, Any] | None = None
    charts: list[tuple[str, str, bytes]] = field(default_factory=list)
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


HELP_TEXT = """*`/kpi` asks kpicore for a KPI.* Only you see the answer unless you add `share`.
• `/kpi nps last week` — a metric (name, title or alias: `ltv`, `churn`, `satisfaction`…) for a period
• `/kpi nps csat churn this month` — several at once
• `/kpi churn last month by region` — broken down by a dimension
• `/kpi revenue q3 vs last year` — compared with another period (default: the period before)
• `/kpi revenue last 12 weeks chart` — with a trend chart · `share` posts the answer to the channel
• `/kpi list` — the metrics you can ask for here · `/kpi digest NAME` — preview a digest
*Periods:* {periods}, `2026-11`, `2026-Q4`, `2026`, `2026-11-23`."""


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
            {name: reg.item.title for name, reg in self.registry.metrics.items()}, digests=tuple(config.digests)
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
    def reply(self, text: str, asker: Asker) -> Reply:
        """The reply to ``/kpi text`` from ``asker``; never raises."""
        wait = self.rate.wait(asker.user_id)
        if wait:
            return problem(
                f"That's a lot of questions in a minute — try again in {int(wait) + 1} s.",
                f"`/kpi` answers up to {self.settings.rate_limit} commands per person per minute.",
            )
        try:
            request = parse_command(text, self.vocabulary, self.config.timezone, default_period=self.settings.period)
            return self.answer(request, asker)
        except CommandError as error:
            return self._command_error(error)
        except SourceError as error:
            return self._source_down(error)
        except KpiError as error:
            return problem(slack_escape(str(error)))
        except Exception:  # an answer, never Slack's dispatch_failed
            log.exception("/kpi failed")
            return problem("Something went wrong answering that; it has been logged. Please try again.")

    def answer(self, request, asker: Asker) -> Reply:
        """The reply to a parsed request (errors raise; :meth:`reply` turns them into answers)."""
        if isinstance(request, HelpRequest):
            return Reply(ephemeral("How to use /kpi", self.help_blocks()), how="help")
        if isinstance(request, ListRequest):
            return self._list(asker)
        if isinstance(request, DigestRequest):
            return self._digest(request, asker)
        return self._metrics(request, asker)

    def close(self) -> None:
        """Stop the workers (waiting for running computes) and close the source."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._source is not None:
            self._source.close()
            self._source = None

    # -- help, list, errors --------------------------------------------------------------------
    def help_blocks(self) -> list[dict[str, Any]]:
        periods = ", ".join(f"`{p}`" for p in PERIOD_EXAMPLES)
        return [_mrkdwn(HELP_TEXT.format(periods=periods))]

    def _list(self, asker: Asker) -> Reply:
        lines = []
        for name, registration in sorted(self.registry.metrics.items()):
            if self.settings.allowed(name, asker):
                lines.append(f"• `{name}` — {slack_escape(registration.item.title)}")
        if not lines:
            return problem("No metric may be asked for in this channel.", "`[chat] allow` in kpi.toml decides which.")
        blocks = [_mrkdwn("*Metrics you can ask for here*")]
        blocks.extend(_mrkdwn(chunk) for chunk in _chunks(lines))
        if self.config.digests:
            names = ", ".join(f"`{slack_escape(name)}`" for name in self.config.digests)
            blocks.append(_context(f"Digests: {names} — `/kpi digest NAME` previews one."))
        return Reply(ephemeral("Metrics you can ask for here", blocks), how="list")

    def _command_error(self, error: CommandError) -> Reply:
        text = slack_escape(str(error))
        if error.kind in ("period", "period-range"):
            hint = "Periods: " + ", ".join(f"`{p}`" for p in PERIOD_EXAMPLES)
        elif error.kind == "metric":
            hint = "`/kpi list` shows every metric; `/kpi help` shows how to ask."
        else:
            hint = "`/kpi help` shows how to ask."
        return problem(text, hint)

    def _source_down(self, error: SourceError) -> Reply:
        log.warning("/kpi: the source did not answer: %s", error)
        self._drop_source()
        return problem(
            "The data source isn't answering right now, so I can't compute that. Please try again in a minute.",
            slack_escape(str(error)),
        )

    def _refused(self, names: list[str], asker: Asker) -> Reply:
        where = f"#{asker.channel_name}" if asker.channel_name else "this channel"
        listed = ", ".join(f"`{n}`" for n in names)
        return problem(
            f"{listed} can't be asked for in {slack_escape(where)}.",
            "`[chat] allow` in kpi.toml decides which metrics each channel may ask for; `/kpi list` shows yours.",
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
        listed = ", ".join(f"`{slack_escape(d)}`" for d in known) or "no dimension"
        metrics = ", ".join(metric_names)
        raise CommandError(f"unknown dimension {word!r}: {metrics} can be broken down by {listed}", kind="dimension")

    # -- metric answers --------------------------------------------------------------------------
    def _metrics(self, request: MetricRequest, asker: Asker) -> Reply:
        refused = [name for name in request.metrics if not self.settings.allowed(name, asker)]
        if refused:
            return self._refused(refused, asker)
        dimension = self._resolve_dimension(request.by, list(request.metrics)) if request.by else None
        started = self.clock()
        stored = self.stored_results(request, dimension)
        if stored is not None:
            return self._answer(request, stored, dimension, asker, how="stored", note=_stored_note(stored[1]),
                                started=started)
        future = self._executor.submit(self.compute_live, request, dimension)
        try:
            results = future.result(timeout=self.settings.budget)
        except FutureTimeout:
            later: Future = Future()

            def finish(done: Future) -> None:
                try:
                    reply = self._finish(done, request, dimension, asker, started)
                except Exception:
                    log.exception("/kpi failed")
                    reply = problem("Something went wrong answering that; it has been logged.")
                later.set_result(reply)

            future.add_done_callback(finish)
            text = f"Computing {', '.join(request.metrics)} for {request.period.label} … I'll post it here when it's ready."
            return Reply(ephemeral(text, [_context(f":hourglass_flowing_sand: {slack_escape(text)}")]),
                         later=later, how="pending")
        return self._answer(request, results, dimension, asker, how="live",
                            note=f"Computed live in {self.clock() - started:.2f} s.", started=started)

    def _finish(self, done: Future, request, dimension, asker, started) -> Reply:
        error = done.exception()
        if isinstance(error, SourceError):
            return self._source_down(error)
        if isinstance(error, KpiError):
            return problem(slack_escape(str(error)))
        if error is not None:
            raise error
        return self._answer(request, done.result(), dimension, asker, how="live",
                            note=f"Computed live in {self.clock() - started:.1f} s.")

    def compute_live(self, request: MetricRequest, dimension: str | None) -> list[MetricResult]:
        """Compute the request in the source, store the values, and return the results."""
        from kpicore.compute import compute, select_metrics
        from kpicore.state import store_results, store_trend

        self.computes += 1
        metrics = select_metrics(request.metrics, self.registry)
        source = self.source()
        results = compute(metrics, request.period, source, config=self.config, by=dimension,
                          trend=self.settings.trend)
        store_results(self.config, results, source.display, dimension)
        store_trend(self.config, results, source.display)
        if request.vs is not None:
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
            findings = find_insights(select_metrics(request.metrics, self.registry), request.period, self.source(),
                                     self.config, self.registry)
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

        source = self.source()
        trend = request.period.trend(self.settings.trend)
        comparison = request.vs or request.period.previous()
        spans = {(p.start_iso(), p.end_iso()) for p in (*trend, comparison, request.period)}
        fresh_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.max_age)
        values = read_values(self.config, source.display, list(request.metrics), sorted(spans),
                             fresh_since=fresh_since, dimension=dimension)

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
                    Segment(k[3][len(prefix):], v.value, v.n or 0)
                    for k, v in sorted(values.items())
                    if k[0] == name and k[1:3] == (start, end) and k[3].startswith(prefix)
                ]
                if not segments:
                    return None
                none = [s for s in segments if s.segment == "(none)"]
                segments = [s for s in segments if s.segment != "(none)"] + none
            oldest = min([oldest, current.computed_at, previous.computed_at, *(p.computed_at for p in points)])
            results.append(MetricResult(
                metric=name, title=metric.title, unit=metric.unit, better=metric.better, status="ok",
                period=request.period.label, start=request.period.start_iso(), end=request.period.end_iso(),
                value=current.value, previous=previous.value, n=current.n, dimension=dimension, segments=segments,
                trend=[TrendPoint(p.label, p.start_iso(), p.end_iso(), v.value) for p, v in zip(trend, points,
                                                                                                  strict=True)],
            ))
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
        return f"Data as of the last sync, {_age(finished)}."

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
        remaining = min(INSIGHT_WAIT, self.settings.budget - (self.clock() - started)) if started is not None else 0.0
        if remaining > 0:
            try:
                job.result(timeout=remaining)
            except FutureTimeout:
                return None
        return self.known_insights(request)

    def _answer(self, request: MetricRequest, results, dimension, asker: Asker, *, how: str, note: str,
                started: float | None = None) -> Reply:
        if how == "stored":
            results = results[0]
        synced = self._sync_note()
        if synced:
            note = f"{note} {synced}"
        insights = self.known_insights(request)
        if insights is None and not request.chart:  # a chart to draw leaves no time to share
            # A live answer may wait a little of what is left of its budget; a stored one answers at
            # once. Either way the insight is kept for the next question.
            insights = self._wait_for_insights(request, started if how == "live" else None)
        blocks = answer_blocks(request, results, self.config, note=note, insights=insights)
        actions = self._actions(request, asker)
        title = ", ".join(f"{r.title}: {_value(r, self.config)}" for r in results)
        text = f"{title} ({request.period.label})"
        charts = []
        if request.chart:
            from kpicore.digest.render import draw_charts

            for metric, png in draw_charts(results, locale=self.config.locale, currency=self.config.currency).items():
                charts.append((f"{metric}-{request.period.label}.png", f"{metric} {request.period.label}", png))
        if request.share:
            shared = {"text": text, "blocks": _fit([*blocks, *actions(share=False)])}
            message = ephemeral("Posting it to the channel.", [_context(":outbox_tray: Posting it to the channel.")])
            return Reply(message, share=shared, charts=charts, how=how)
        return Reply(ephemeral(text, _fit([*blocks, *actions(share=True)])), charts=charts, how=how)

    def _actions(self, request: MetricRequest, asker: Asker):
        """A function building the buttons: previous period, break down by, share to channel."""
        try:
            dimensions = self.dimensions(list(request.metrics))
        except KpiError:
            dimensions = []

        def build(share: bool) -> list[dict[str, Any]]:
            vs = request.vs.previous() if request.vs is not None else None
            previous = replace(request, period=request.period.previous(), period_text=request.period.previous().label,
                               vs=vs, vs_text=vs.label if vs else None, share=False, chart=False)
            elements: list[dict[str, Any]] = [{
                "type": "button", "action_id": ACTION_PREVIOUS, "value": previous.command_text(),
                "text": {"type": "plain_text", "text": f"◀ {request.period.previous().label}"},
            }]
            options = [
                {"text": {"type": "plain_text", "text": d[:75]}, "value": replace(request, by=d, share=False,
                                                                                chart=False).command_text()}
                for d in dimensions[:100] if d != request.by and len(d) <= 60
            ]
            if options:
                elements.append({
                    "type": "static_select", "action_id": ACTION_BREAKDOWN, "options": options,
                    "placeholder": {"type": "plain_text", "text": "Break down by…"},
                })
            if share:
                elements.append({
                    "type": "button", "action_id": ACTION_SHARE, "value": replace(request, share=True,
                                                                                  chart=False).command_text(),
                    "text": {"type": "plain_text", "text": "Share to channel"},
                })
            return [{"type": "actions", "block_id": "kpi_actions", "elements": elements}]

        return build

    # -- digest previews -----------------------------------------------------------------------
    def _digest(self, request: DigestRequest, asker: Asker) -> Reply:
        from kpicore.digest.config import digest_spec

        spec = digest_spec(self.config, request.name, self.registry)
        refused = [name for name in spec.metrics if not self.settings.allowed(name, asker)]
        if refused:
            return self._refused(refused, asker)
        future = self._executor.submit(self._digest_preview, spec)
        try:
            return future.result(timeout=self.settings.budget)
        except FutureTimeout:
            later: Future = Future()

            def finish(done: Future) -> None:
                error = done.exception()
                if isinstance(error, SourceError):
                    later.set_result(self._source_down(error))
                elif error is not None:
                    later.set_result(problem(slack_escape(str(error))))
                else:
                    later.set_result(done.result())

            future.add_done_callback(finish)
            text = f"Computing the {request.name} digest … I'll post the preview here when it's ready."
            return Reply(ephemeral(text, [_context(f":hourglass_flowing_sand: {slack_escape(text)}")]),
                         later=later, how="pending")

    def _digest_preview(self, spec) -> Reply:
        from kpicore.digest.render import render
        from kpicore.digest.run import compute_digest, in_digest_order, render_options, resolve_period

        self.computes += 1
        period = resolve_period(spec)
        groups = compute_digest(spec, period, self.source(), self.config, self.registry)
        results = in_digest_order(spec, groups)
        rendered = render(spec, results, "slack", period_label=period.label, charts=False,
                          **render_options(self.config))
        first = rendered.messages[0]
        note = f"Preview of the {slack_escape(spec.name)} digest for {period.label} — only you can see this."
        if len(rendered.messages) > 1:
            note += f" (part 1 of {len(rendered.messages)})"
        blocks = _fit([_context(note), *first["blocks"]])
        return Reply(ephemeral(first["text"], blocks), how="digest")


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
        fitted += [_context("… more than fits in one message: ask for fewer metrics."), *actions]
    return fitted


def _age(moment: dt.datetime) -> str:
    minutes = max(0, int((dt.datetime.now(dt.UTC) - moment).total_seconds() // 60))
    if minutes == 0:
        return "just now"
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def _stored_note(computed_at: dt.datetime) -> str:
    return f"From stored values computed {_age(computed_at)}."


def _value(result: MetricResult, config) -> str:
    if not result.ok:
        return "unavailable"
    return formatting.format_value(result.value, result.unit, config.locale, config.currency)


def _target(result: MetricResult, config) -> str | None:
    """``target ≥ 40: ✓ on track`` when kpi.toml sets a target for the metric (kpicore.targets, the
    one implementation the digest and `kpi compute` use; stored values get their status here)."""
    from kpicore.targets import apply_targets, status_text

    if result.target_status is None:
        apply_targets([result], config)
    return status_text(result, config.locale, config.currency)


def answer_blocks(request: MetricRequest, results: list[MetricResult], config, *, note: str = "",
                  insights: dict[str, list] | None = None) -> list[dict]:
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
            blocks.append(_mrkdwn(f"{heading}\nunavailable: {slack_escape(view.reason or 'no data')}"))
            continue
        line = f"*{slack_escape(view.value)}*"
        if view.change:
            line += f"   {view.change} vs {comparison} ({slack_escape(view.previous)})"
        elif view.previous is None:
            line += f"   (no value for {comparison} to compare with)"
        blocks.append(_mrkdwn(f"{heading}\n{line}"))
        facts = []
        if view.n is not None:
            facts.append(f"n = {view.n}")
        if view.sparkline:
            facts.append(f"trend {view.sparkline} ({view.trend_periods} periods)")
        if view.warnings:
            facts.append(f":warning: {slack_escape('; '.join(view.warning_messages))}")
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
                small = " · small sample" if segment.small else ""
                fields.append({"type": "mrkdwn",
                               "text": f"*{slack_escape(segment.segment)}*\n{slack_escape(segment.value)}"
                                       f" ({slack_escape(segment.n)}{small})"})
            heading = f"By {slack_escape(view.dimension)}:"
            if len(fields) > SLACK_MAX_FIELDS:  # Slack refuses a section with more than 10 fields
                heading += f" (the {SLACK_MAX_FIELDS} that moved most of {len(fields)})"
                fields = fields[:SLACK_MAX_FIELDS]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": heading}, "fields": fields})
    if note:
        blocks.append(_context(slack_escape(note)))
    return blocks
