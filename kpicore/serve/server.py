"""Run the service: bind the port, start the scheduler, serve HTTP with uvicorn, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kpicore.errors import KpiError
from kpicore.events import event

if TYPE_CHECKING:
    from kpicore.serve.service import Service

DEFAULT_PORT = 8750


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: a free port); a port in use is a runtime error (exit 1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise KpiError(
            f"cannot listen on {host}:{port}: {error.strerror or error}; "
            "choose another port with --port N (or --port 0 for any free one)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _uvicorn_server(config):
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, but a signal only asks it to stop (uvicorn re-raises it after shutdown,
        which would end the process before the scheduler has finished its in-flight delivery)."""

        @contextlib.contextmanager
        def capture_signals(self):
            def handle(signum, frame):
                event("stopping", signal=signal.Signals(signum).name)
                self.should_exit = True

            previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)


def run(
    service: Service,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    extra_routes: Sequence[Any] | Callable[[], Sequence[Any]] = (),
    shutdown_timeout: float = 30.0,
) -> bool:
    """Serve until SIGTERM or SIGINT; returns True when no delivery was cut off by the shutdown timeout.

    ``extra_routes`` may be a callable, called once the port is bound (so a port in use fails first).
    """
    import uvicorn

    from kpicore.serve.app import build_app

    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    if callable(extra_routes):
        extra_routes = extra_routes()
    config = uvicorn.Config(
        build_app(service, extra_routes),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = _uvicorn_server(config)
    service.start()
    event(
        "listening",
        host=host,
        port=actual_port,
        digests=len(service.specs),
        url=f"http://{host}:{actual_port}/healthz",
    )
    try:
        server.run(sockets=[sock])
    finally:
        clean = service.stop(shutdown_timeout)
        sock.close()
        event("stopped", clean=clean)
    return clean
