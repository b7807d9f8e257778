"""A loopback HTTP server that speaks Agile CRM's REST API as its developer docs describe it.

Source: https://github.com/agilecrm/rest-api (README: "Things to know", 1.1 Listing contacts, 2.1 Listing
deals, 10 Help Desks API, 12 Dynamic Filters). Faithful points: base path ``/dev/``; HTTP Basic auth with
email and API key, 401 without a body otherwise; XML unless ``Accept: application/json``; bare JSON arrays
with the total ``count`` on the first element and the next ``cursor`` on the last (none at the end); 204
for an empty list; the dynamic filter as a form-encoded POST whose ``filterJson`` rules compare
``updated_time`` (seconds on the records) with an epoch-milliseconds RHS; tickets listed per helpdesk view
(``filter_id``) sorted by ``-last_updated_time``, ticket times in milliseconds; numbers sometimes written as
strings (the docs' own JSON examples do both).

Not in the vendor's docs, added as generic HTTP behaviour a client must survive: 429 with Retry-After,
5xx, a response that never comes (timeout), a server that dies in the middle of a page, and 400 for a
cursor the server no longer accepts.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from kpicore.testing import LoopbackServer


class AgileState:
    """What the fake account holds, and the faults to inject (consumed one per request)."""

    def __init__(self, email: str, api_key: str):
        self.email, self.api_key = email, api_key
        self.contacts: list[dict] = []
        self.deals: list[dict] = []
        self.tickets: list[dict] = []
        self.views = [
            {"id": 5632682255974400, "name": "All Tickets", "is_default_filter": True},
            {"id": 5644924254945280, "name": "New Tickets", "is_default_filter": True},
        ]
        self.faults: list[str] = []  # "429", "500", "503", "slow", "die"
        self.die_after_pages: int | None = (
            None  # serve this many list pages, then die in the middle of the next
        )
        self.cursor_generation = 0  # bump it to make every cursor handed out so far invalid
        self.pages_served = 0
        self.requests: list[tuple[str, str, dict]] = []
        self.slow_seconds = 3.0
        self.lock = threading.Lock()


class AgileServer(LoopbackServer):
    """``AgileServer(state).start()``; ``base`` is the URL for KPI_AGILECRM_API_BASE."""

    def __init__(self, state: AgileState, port: int = 0):
        self.state = state
        super().__init__(_handler(state, self), port)

    @property
    def base(self) -> str:
        return f"{self.root}dev/"


def _encode_cursor(kind: str, offset: int, generation: int) -> str:
    raw = json.dumps({"k": kind, "o": offset, "g": generation}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict | None:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, json.JSONDecodeError):
        return None


def _handler(state: AgileState, server: AgileServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        # -- plumbing --------------------------------------------------------------------------------
        def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _authorized(self) -> bool:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            try:
                user, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == state.email and key == state.api_key

        def _serve(self, method: str):
            parsed = urllib.parse.urlparse(self.path)
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                params.update({k: v[-1] for k, v in form.items()})
            with state.lock:
                state.requests.append((method, parsed.path, params))
                fault = state.faults.pop(0) if state.faults else None
            if fault == "slow":
                time.sleep(state.slow_seconds)
            if fault in ("500", "503"):
                return self._send(int(fault), b"Service Unavailable", "text/plain")
            if fault == "429":
                return self._send(429, b"", headers={"Retry-After": "1"})
            if not self._authorized():
                return self._send(401)
            if "application/json" not in self.headers.get("Accept", ""):
                return self._send(
                    200,
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><contacts/>',
                    "application/xml",
                )
            route = (method, parsed.path)
            if route == ("GET", "/dev/api/contacts"):
                return self._page("contacts", sorted(state.contacts, key=lambda c: int(c["id"])), params)
            if route == ("GET", "/dev/api/opportunity"):
                return self._page("deals", sorted(state.deals, key=lambda d: int(d["id"])), params)
            if route == ("POST", "/dev/api/filters/filter/dynamic-filter"):
                return self._dynamic_filter(params)
            if route == ("GET", "/dev/api/tickets/filters"):
                return self._send(200, json.dumps(state.views).encode())
            if route == ("GET", "/dev/api/tickets/filter"):
                if str(params.get("filter_id")) not in {str(v["id"]) for v in state.views}:
                    return self._send(400, b"Invalid filter id", "text/plain")
                tickets = sorted(state.tickets, key=lambda t: -int(t["last_updated_time"]))
                return self._page("tickets", tickets, params)
            return self._send(404, b"Not found", "text/plain")

        def _dynamic_filter(self, params):
            try:
                rules = json.loads(params.get("filterJson", "{}"))
            except json.JSONDecodeError:
                return self._send(400, b"Invalid filterJson", "text/plain")
            kind = {"PERSON": "contacts", "OPPORTUNITY": "deals"}.get(rules.get("contact_type"))
            if kind is None:
                return self._send(400, b"Unknown contact_type", "text/plain")
            records = list(state.contacts if kind == "contacts" else state.deals)
            for rule in rules.get("rules", []):
                if rule.get("LHS") == "updated_time" and rule.get("CONDITION") == "AFTER":
                    records = [
                        r for r in records if int(r.get("updated_time") or 0) * 1000 > int(rule["RHS"])
                    ]
            sort_key = params.get("global_sort_key", "-created_time")
            field, reverse = sort_key.lstrip("-"), sort_key.startswith("-")
            records.sort(key=lambda r: (int(r.get(field) or 0), int(r["id"])), reverse=reverse)
            return self._page(f"filter-{kind}", records, params)

        def _page(self, kind: str, records: list[dict], params: dict):
            size = max(1, min(int(params.get("page_size", 20)), 200))
            offset = 0
            if params.get("cursor"):
                cursor = _decode_cursor(params["cursor"])
                if cursor is None or cursor.get("k") != kind or cursor.get("g") != state.cursor_generation:
                    return self._send(400, b"Invalid cursor", "text/plain")
                offset = int(cursor["o"])
            chunk = [dict(r) for r in records[offset : offset + size]]
            if not chunk:
                return self._send(204)
            chunk[0]["count"] = str(len(records))
            if offset + size < len(records):
                chunk[-1]["cursor"] = _encode_cursor(kind, offset + size, state.cursor_generation)
            body = json.dumps(chunk).encode()
            with state.lock:
                dying = state.die_after_pages is not None and state.pages_served >= state.die_after_pages
                state.pages_served += 1
            if dying:  # headers and half the page, then the connection drops and the server goes away
                server.die_mid_answer(self, body)
                return None
            return self._send(200, body)

    return Handler
