"""`kpi chat manifest`, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KPI = str(Path(sys.executable).parent / "kpi")


def run(*args: str):
    return subprocess.run(
        [KPI, "chat", "manifest", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_http_manifest_names_the_request_url():
    done = run("--url", "https://kpi.example.com/")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/kpi" and command["url"] == "https://kpi.example.com/slack/events"
    assert manifest["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://kpi.example.com/slack/events",
    }
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert {"commands", "chat:write", "files:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_socket_mode_manifest_has_no_url():
    done = run("--socket-mode", "--name", "Shop KPIs")
    manifest = json.loads(done.stdout)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["interactivity"]
    assert manifest["features"]["bot_user"]["display_name"] == "Shop KPIs"


def test_neither_or_both_is_a_usage_error():
    for args in ((), ("--socket-mode", "--url", "https://kpi.example.com")):
        done = run(*args)
        assert done.returncode == 2
        assert (
            done.stderr.strip()
            == "Error: give either --url https://... (where kpi serve is reachable) or --socket-mode"
        )
    bad = run("--url", "kpi.example.com")
    assert bad.returncode == 2 and "give the public https:// address" in bad.stderr
