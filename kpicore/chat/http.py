"""The HTTP seam of ``/kpi``: Starlette routes for ``POST /slack/events`` that the service mounts.

Bolt verifies the signature (v0 HMAC over the body, 5-minute window) and answers 401 before any
listener runs. A request whose exact signature was already accepted is a replay and also gets
401. Bolt's dispatch is synchronous (it waits up to the answer budget), so it runs in a worker
thread: the event loop keeps serving ``/healthz`` and other requests meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("kpicore.chat")

EVENTS_PATH = "/slack/events"
#: Slack's window for a request timestamp; a signature seen within it is not accepted twice.
REPLAY_WINDOW = 5 * 60


class ReplayGuard:
    """Remembers the signatures of accepted requests for the 5-minute window."""

    def __init__(self, window: float = REPLAY_WINDOW) -> None:
        self.window = window
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for old in [s for s, at in self._seen.items() if at < now - self.window]:
                del self._seen[old]
            return signature in self._seen

    def remember(self, signature: str) -> None:
        with self._lock:
            self._seen[signature] = time.monotonic()


def slack_routes(bolt_app, path: str = EVENTS_PATH) -> list:
    """Starlette routes serving ``bolt_app`` (from :func:`kpicore.chat.app.build_app`) at ``path``."""
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    guard = ReplayGuard()

    async def slack_events(request):
        body = await request.body()
        signature = request.headers.get("x-slack-signature", "")
        key = f"{request.headers.get('x-slack-request-timestamp', '')}:{signature}"
        if signature and guard.seen(key):
            return Response(status_code=401, content="")
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception:
            # A body Slack never sends (a payload that is not a JSON object, say): Bolt would raise
            # and the server log a traceback for anyone who can reach the port. 400, one line.
            log.warning("chat: refused a malformed request to %s (%d bytes)", path, len(body))
            return Response(status_code=400, content="")
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        if bolt_response.status != 401 and signature:
            guard.remember(key)
        return to_starlette_response(bolt_response)

    return [Route(path, endpoint=slack_events, methods=["POST"])]


def starlette_app(bolt_app):
    """A Starlette app with only the Slack routes (for running ``/kpi`` alone, and for tests)."""
    from starlette.applications import Starlette

    return Starlette(routes=slack_routes(bolt_app))
