"""Structured log lines of the service: one JSON object (or key=value text) per event, secrets redacted.

``text`` (the default) reads well in a terminal or journald; ``json`` is one object per line for
machines. Field values pass through :func:`kpicore.delivery.redact`: secrets are never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from kpicore.delivery.redact import redact

LOGGER = logging.getLogger("kpicore.serve")


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        fields: dict[str, Any] = getattr(record, "fields", {})
        event = getattr(record, "event", None) or record.levelname.lower()
        message = redact(record.getMessage()) if not getattr(record, "event", None) else ""
        if self.fmt == "json":
            payload = {"ts": when, "level": record.levelname.lower(), "event": event, **fields}
            if message:
                payload["message"] = message
            return json.dumps(payload, default=str)
        parts = [when.replace("+00:00", "Z"), event]
        parts += [f"{key}={_quote(value)}" for key, value in fields.items()]
        if message:
            parts.append(message)
        return " ".join(parts)


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text or '"' in text) else text


def configure(fmt: str = "text", stream=None) -> None:
    """Send the service's logs to ``stream`` (stderr) in ``fmt`` ("text" or "json")."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    for name in ("kpicore", "apscheduler"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("kpicore").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with its fields (None values are left out; durations in seconds, 3 decimals)."""
    clean = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = round(value, 3)
        clean[key] = redact(value) if isinstance(value, str) else value
    LOGGER.log(level, name, extra={"event": name, "fields": clean})
