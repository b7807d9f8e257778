"""``/kpi digest NAME``: a digest's preview, only for the asker, computed within ``[chat] budget`` or posted later."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from kpicore.chat.allow import Asker
from kpicore.chat.blocks import Reply, context_block, ephemeral, fit_blocks, problem
from kpicore.chat.grammar import DigestRequest
from kpicore.errors import SourceError
from kpicore.i18n import _
from kpicore.presentation.blockkit import slack_entities, slack_escape


def digest_reply(answerer, request: DigestRequest, asker: Asker) -> Reply:
    from kpicore.digest.config import digest_spec

    spec = digest_spec(answerer.config, request.name, answerer.registry)
    refused = [name for name in spec.metrics if not answerer.settings.allowed(name, asker)]
    if refused:
        return answerer._refused(refused, asker)
    future = answerer._executor.submit(answerer._speaking_in_worker, digest_preview, answerer, spec)
    try:
        return future.result(timeout=answerer.settings.budget)
    except FutureTimeout:
        later: Future = Future()

        def finish(done: Future) -> None:
            error = done.exception()
            with answerer.speaking():
                if isinstance(error, SourceError):
                    later.set_result(answerer._source_down(error))
                elif error is not None:
                    later.set_result(problem(slack_entities(str(error))))
                else:
                    later.set_result(done.result())

        future.add_done_callback(finish)
        text = _("Computing the %(name)s digest … I'll post the preview here when it's ready.") % {
            "name": request.name
        }
        return Reply(
            ephemeral(text, [context_block(f":hourglass_flowing_sand: {slack_entities(text)}")]),
            later=later,
            how="pending",
        )


def digest_preview(answerer, spec) -> Reply:
    from kpicore.digest.render import render
    from kpicore.digest.run import compute_digest, in_digest_order, render_options, resolve_period

    period = resolve_period(spec)
    groups = compute_digest(spec, period, answerer.source(), answerer.config, answerer.registry)
    results = in_digest_order(spec, groups)
    rendered = render(
        spec, results, "slack", period_label=period.label, charts=False, **render_options(answerer.config)
    )
    first = rendered.messages[0]
    note = _("Preview of the %(name)s digest for %(period)s — only you can see this.") % {
        "name": slack_escape(spec.name),
        "period": period.label,
    }
    if len(rendered.messages) > 1:
        note += " " + _("(part 1 of %(count)s)") % {"count": len(rendered.messages)}
    blocks = fit_blocks([context_block(note), *first["blocks"]])
    return Reply(ephemeral(first["text"], blocks), how="digest")
