"""A local WebSocket server that speaks Slack's Socket Mode envelopes.

The app connects (the URL comes from apps.connections.open on the fake Web API), gets ``hello``,
and the test sends envelopes (``slash_commands``, ``interactive``); the app's acknowledgements
(``{"envelope_id": ..., "payload": ...}``) are collected by envelope id.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any, Self


class SocketModeServer:
    """Runs on 127.0.0.1 (random port) in a thread; ``url`` is what apps.connections.open returns."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: dict[str, dict[str, Any]] = {}
        self.connections: list = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = serve(self._handle, "127.0.0.1", 0)
        port = self.server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link"
        self.thread = threading.Thread(target=self.server.serve_forever, name="socket-mode", daemon=True)

    def _handle(self, connection) -> None:
        with self._lock:
            self.connections.append(connection)
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0KPI"},
                    "debug_info": {"host": "local"},
                }
            )
        )
        for message in connection:
            data = json.loads(message)
            if "envelope_id" in data:
                with self._lock:
                    self.acks[data["envelope_id"]] = data

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope of ``kind`` to the connected app; returns its envelope id."""
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind == "slash_commands",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self.wait_connected().send(json.dumps(envelope))
        return envelope_id

    def wait_connected(self, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.connections:
                    return self.connections[-1]
            time.sleep(0.02)
        raise AssertionError("the app did not connect over Socket Mode")

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if envelope_id in self.acks:
                    return self.acks[envelope_id]
            time.sleep(0.02)
        raise AssertionError(f"no acknowledgement of {envelope_id}")

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
