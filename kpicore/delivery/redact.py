"""Secrets never leave the process in an error text: tokens and passwords are replaced by ``***``."""

from __future__ import annotations

import os
import re

#: Environment variables whose values are secrets (secrets come from the environment only).
SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "KPI_SMTP_PASSWORD")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+")


def redact(text: str) -> str:
    """``text`` with secret environment values, URL passwords and Slack tokens masked."""
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _SLACK_TOKEN.sub("xox?-***", text)
