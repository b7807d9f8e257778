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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

from kpicore import i18n
from kpicore.chat.allow import Asker
from kpicore.chat.blocks import (
    ACTION_BREAKDOWN,
    ACTION_PREVIOUS,
    ACTION_SHARE,
    Reply,
    age,
    answer_blocks,
    chunks,
    computed_note,
    context_block,
    ephemeral,
    fit_blocks,
    help_text,
    mrkdwn,
    problem,
    stored_note,
    value_text,
)
from kpicore.chat.follow_answers import follow_when, follows_reply
from kpicore.chat.grammar import PERIOD_EXAMPLES, CommandError, Vocabulary, parse_command
from kpicore.chat.previews import digest_reply
from kpicore.chat.ratelimit import RateLimiter
from kpicore.chat.requests import FOLLOW_REQUESTS, DigestRequest, HelpRequest, ListRequest, MetricRequest
from kpicore.chat.settings import ChatSettings
from kpicore.chat.stored import stored_results
from kpicore.dimensions import refusal_for
from kpicore.errors import KpiError, SourceError
from kpicore.i18n import _
from kpicore.presentation import formatting
from kpicore.presentation.blockkit import slack_entities, slack_escape
from kpicore.results import MetricResult

log = logging.getLogger("kpicore.chat")


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
            return problem(slack_entities(str(error)))
        except Exception:  # an answer, never Slack's dispatch_failed
            log.exception("/kpi failed")
            return problem(_("Something went wrong answering that; it has been logged. Please try again."))

    def answer(self, request, asker: Asker) -> Reply:
        """The reply to a parsed request (errors raise; :meth:`reply` turns them into answers)."""
        if isinstance(request, HelpRequest):
            return Reply(
                ephemeral(_("How to use %(kpi)s") % {"kpi": "/kpi"}, self.help_blocks(asker)), how="help"
            )
        if isinstance(request, ListRequest):
            return self._list(asker)
        if isinstance(request, DigestRequest):
            return self._digest(request, asker)
        if isinstance(request, FOLLOW_REQUESTS):
            return self._follows(request, asker)
        return self._metrics(request, asker)

    def close(self) -> None:
        """Stop the workers (waiting for running computes) and close the source."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._source is not None:
            self._source.close()
            self._source = None

    # -- help, list, errors --------------------------------------------------------------------
    def help_blocks(self, asker: Asker | None = None) -> list[dict[str, Any]]:
        if asker is None:
            return [mrkdwn(help_text())]
        return [mrkdwn(help_text(shared=asker.shared, can_follow=asker.can_follow))]

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
        blocks = [mrkdwn(f"*{heading}*")]
        blocks.extend(mrkdwn(chunk) for chunk in chunks(lines))
        if self.config.digests:
            names = formatting.format_list(f"`{slack_escape(name)}`" for name in self.config.digests)
            blocks.append(
                context_block(
                    _("Digests: %(names)s — %(command)s previews one.")
                    % {"names": names, "command": "`/kpi digest NAME`"}
                )
            )
        return Reply(ephemeral(heading, blocks), how="list")

    def _command_error(self, error: CommandError) -> Reply:
        text = slack_entities(str(error))
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
            slack_entities(str(error)),
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
                request, stored, dimension, asker, how="stored", note=stored_note(stored[1]), started=started
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
                ephemeral(text, [context_block(f":hourglass_flowing_sand: {slack_entities(text)}")]),
                later=later,
                how="pending",
            )
        return self._answer(
            request,
            results,
            dimension,
            asker,
            how="live",
            note=computed_note(self.clock() - started, 2, self.config.locale),
            started=started,
        )

    def _finish(self, done: Future, request, dimension, asker, started) -> Reply:
        error = done.exception()
        if isinstance(error, SourceError):
            return self._source_down(error)
        if isinstance(error, KpiError):
            return problem(slack_entities(str(error)))
        if error is not None:
            raise error
        return self._answer(
            request,
            done.result(),
            dimension,
            asker,
            how="live",
            note=computed_note(self.clock() - started, 1, self.config.locale),
        )

    def compute_live(self, request: MetricRequest, dimension: str | None) -> list[MetricResult]:
        """Compute the request in the source, store the values, and return the results."""
        from kpicore.compute import compute, select_metrics
        from kpicore.incremental import answering
        from kpicore.state import store_results, store_trend

        metrics = select_metrics(request.metrics, self.registry)
        source = self.source()
        with answering(self.config, "chat"):
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
        return stored_results(self, request, dimension)

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
        return _("Data as of the last sync, %(age)s.") % {"age": age(finished)}

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
        title = formatting.format_list(f"{_(r.title)}: {value_text(r, self.config)}" for r in results)
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
            shared = {"text": text, "blocks": fit_blocks([*blocks, *actions(share=False)])}
            posting = _("Posting it to the channel.")
            message = ephemeral(posting, [context_block(f":outbox_tray: {posting}")])
            return Reply(message, share=shared, charts=charts, how=how)
        return Reply(ephemeral(text, fit_blocks([*blocks, *actions(share=True)])), charts=charts, how=how)

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

    # -- follows and digest previews (chat.follow_answers, chat.previews) -------------------------
    def _follows(self, request, asker: Asker) -> Reply:
        return follows_reply(self, request, asker)

    def _speaking_in_worker(self, function, *args):
        with self.speaking():
            return function(*args)

    def follow_when(self) -> str:
        """When personal messages go out, for people: ``Mondays at 08:00 (Europe/Berlin)``."""
        return follow_when(self)

    def _digest(self, request: DigestRequest, asker: Asker) -> Reply:
        return digest_reply(self, request, asker)


@contextlib.contextmanager
def _speaking(config):
    from kpicore.periods import weeks_starting

    with i18n.using(config.locale, config.digits, config.calendar), weeks_starting(config.week_start):
        yield
