"""The HTTP app of `kpi serve` (Starlette, served by uvicorn): ``/healthz``, ``/metrics`` and, with
``[serve] public_url``, the published charts at ``/charts/<token>.png`` (:mod:`kpicore.channels.chart_links`).

:func:`build_app` takes extra routes, so Slack's ``/slack/events`` (Bolt's Starlette adapter)
mounts into the same process and port. Every request body over 1 MB gets 413 before it is read
(:mod:`kpicore.limits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from kpicore.serve.service import Service


def build_app(service: Service, extra_routes: Sequence[Any] = ()) -> Starlette:
    """A Starlette app answering ``GET /healthz`` (JSON: 200 while serving, ``degraded`` with its
    ``problems``; 503 when not serving) and ``GET /metrics``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def healthz(request):
        health = await run_in_threadpool(service.health)
        # 503 only when the service is not serving; problems beside a working service are 200 "degraded".
        return JSONResponse(
            health, status_code=200 if health.get("serving", health["status"] == "ok") else 503
        )

    async def metrics(request):
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    from starlette.middleware import Middleware

    from kpicore.limits import BodyLimit

    async def chart(request):
        from kpicore.channels.chart_links import published

        png = await run_in_threadpool(published, service.engine, request.path_params["name"])
        if png is None:
            return Response(status_code=404)
        headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(png, media_type="image/png", headers={**headers, "Referrer-Policy": "no-referrer"})

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
    if "public_url" in (getattr(service.config, "serve", None) or {}):
        routes.append(Route("/charts/{name}", chart, methods=["GET"]))
    return Starlette(routes=[*routes, *extra_routes], middleware=[Middleware(BodyLimit)])
