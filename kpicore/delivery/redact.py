"""Secrets never leave the process in an error text: tokens and passwords are replaced by ``***``."""

from __future__ import annotations

import os
import re

#: Environment variables whose values are secrets (secrets come from the environment only).
SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "KPI_SMTP_PASSWORD")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+")
#: What channel plugins declared secret (``add_secrets``): environment variable names, patterns.
_PLUGIN_ENV: set[str] = set()
_PLUGIN_PATTERNS: list[tuple[re.Pattern[str], str]] = []


def add_secrets(env: tuple[str, ...] = (), patterns: tuple[tuple[str, str], ...] = ()) -> None:
    """Declare a plugin's secrets: the environment variables holding them, and ``(regex, replacement)``
    pairs for secrets that have a recognisable shape (a token in a URL path, a signature in a query)."""
    _PLUGIN_ENV.update(env)
    for regex, replacement in patterns:
        if not any(pattern.pattern == regex for pattern, _ in _PLUGIN_PATTERNS):
            _PLUGIN_PATTERNS.append((re.compile(regex), replacement))


def redact(text: str) -> str:
    """``text`` with secret environment values, URL passwords and Slack tokens masked."""
    for name in (*SECRET_ENV, *sorted(_PLUGIN_ENV)):
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    for pattern, replacement in _PLUGIN_PATTERNS:
        text = pattern.sub(replacement, text)
    return _SLACK_TOKEN.sub("xox?-***", text)
