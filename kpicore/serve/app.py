"""The HTTP app of `kpi serve` (Starlette, served by uvicorn): ``/healthz`` and ``/metrics``.

:func:`build_app` takes extra routes, so Slack's ``/slack/events`` (Bolt's Starlette adapter)
mounts into the same process and port.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from kpicore.serve.service import Service


def build_app(service: Service, extra_routes: Sequence[Any] = ()) -> Starlette:
    """A Starlette app answering ``GET /healthz`` (JSON, 200 ok / 503 degraded) and ``GET /metrics``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def healthz(request):
        health = await run_in_threadpool(service.health)
        return JSONResponse(health, status_code=200 if health["status"] == "ok" else 503)

    async def metrics(request):
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
    return Starlette(routes=[*routes, *extra_routes])
