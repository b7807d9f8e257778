"""The HTTP seam of ``/kpi``: Starlette routes for ``POST /slack/events`` that the service mounts.

Before Bolt sees a request: one ``X-Slack-Signature`` and one ``X-Slack-Request-Timestamp`` header
or 400 (Bolt would verify a different copy than the replay guard remembers); the signature checked
(v0 HMAC over the body, 5-minute window), else 401; then the verified pair claimed once in the
replay guard (:mod:`kpicore.chat.replays`), else 401 for a replay, or 503 when the guard's store
does not answer. Bolt verifies again and dispatches. Its dispatch is synchronous (it waits up to
the answer budget), so it runs in a worker thread: the event loop keeps serving ``/healthz``
and other requests meanwhile.
"""

from __future__ import annotations

import logging
import os

from kpicore.chat.replays import GuardUnavailable, MemoryReplayGuard

log = logging.getLogger("kpicore.chat")

EVENTS_PATH = "/slack/events"


def _verified(body: bytes, timestamp: str, signature: str) -> bool:
    """Slack's v0 signature check, with the same secret and window as Bolt's."""
    from slack_sdk.signature import SignatureVerifier

    from kpicore.chat.app import SIGNING_SECRET_ENV

    secret = os.environ.get(SIGNING_SECRET_ENV) or ""
    if not secret or not timestamp or not signature:
        return False
    return SignatureVerifier(secret).is_valid(body, timestamp, signature)


def slack_routes(bolt_app, path: str = EVENTS_PATH, guard=None) -> list:
    """Starlette routes serving ``bolt_app`` (from :func:`kpicore.chat.app.build_app`) at ``path``.

    ``guard`` claims verified signatures (:class:`kpicore.chat.replays.DatabaseReplayGuard` in the
    service); by default this process's memory.
    """
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    guard = guard if guard is not None else MemoryReplayGuard()

    async def slack_events(request):
        signatures = request.headers.getlist("x-slack-signature")
        timestamps = request.headers.getlist("x-slack-request-timestamp")
        if len(signatures) > 1 or len(timestamps) > 1:
            log.warning("chat: refused a request to %s with a repeated signature or timestamp header", path)
            return Response(status_code=400, content="")
        body = await request.body()
        signature, timestamp = (signatures or [""])[0], (timestamps or [""])[0]
        if not _verified(body, timestamp, signature):
            return Response(status_code=401, content="")
        try:
            first = await run_in_threadpool(guard.claim, timestamp, signature)
        except GuardUnavailable as error:
            log.error(
                "chat: refused a request to %s: the replay guard's state database failed (%s)", path, error
            )
            return Response(status_code=503, content="")
        if not first:
            return Response(status_code=401, content="")
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception:
            # A body Slack never sends (a payload that is not a JSON object, say): Bolt would raise
            # and the server log a traceback for anyone who can reach the port. 400, one line.
            log.warning("chat: refused a malformed request to %s (%d bytes)", path, len(body))
            return Response(status_code=400, content="")
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    return [Route(path, endpoint=slack_events, methods=["POST"])]


def starlette_app(bolt_app):
    """A Starlette app with only the Slack routes (for running ``/kpi`` alone, and for tests)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from kpicore.limits import BodyLimit

    return Starlette(routes=slack_routes(bolt_app), middleware=[Middleware(BodyLimit)])
