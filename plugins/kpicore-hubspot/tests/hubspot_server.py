"""A loopback HTTP server speaking HubSpot's CRM v3 objects, search and v4 associations APIs as documented.

Source: developers.hubspot.com, CRM API reference (objects: list; search: filterGroups, sorts, ``after``
paging, at most 10,000 results per search; associations v4 batch read). Faithful points: Bearer token,
401 with HubSpot's error body (``status``, ``message``, ``category: INVALID_AUTHENTICATION``); list pages of
at most 100 with ``paging.next.after``; every property value a string; ``properties`` chosen by the
caller; search sorts ascending on ``lastmodifieddate`` (contacts) or ``hs_lastmodifieddate`` (deals,
tickets), ``GT`` filters in epoch ms, limit up to 200, ``after`` past 10,000 refused with 400; search
results without associations; 429 with HubSpot's RATE_LIMIT body. Added as generic HTTP behaviour: a
Retry-After header on 429, 5xx, a slow answer, and dying in the middle of a page.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from kpicore.testing import LoopbackServer

MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate", "tickets": "hs_lastmodifieddate"}


class HubSpotState:
    def __init__(self, token: str):
        self.token = token
        self.objects: dict[str, list[dict]] = {"contacts": [], "deals": [], "tickets": []}
        self.associations: dict[tuple[str, str], list[str]] = {}  # (kind, id) -> contact ids
        self.faults: list[str] = []
        self.die_after_pages: int | None = None
        self.pages_served = 0
        self.requests: list[tuple[str, str, dict]] = []
        self.slow_seconds = 2.5
        self.lock = threading.Lock()


class HubSpotServer(LoopbackServer):
    def __init__(self, state: HubSpotState):
        self.state = state
        super().__init__(_handler(state, self))

    @property
    def base(self) -> str:
        return self.root.rstrip("/")


def _error(message: str, category: str) -> bytes:
    return json.dumps(
        {
            "status": "error",
            "message": message,
            "correlationId": "00000000-0000-0000-0000-000000000000",
            "category": category,
        }
    ).encode()


def _handler(state: HubSpotState, server: HubSpotServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def _send(self, status: int, body: bytes = b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _serve(self, method: str):
            parsed = urllib.parse.urlparse(self.path)
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
            body = {}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.requests.append((method, parsed.path, {**params, **({"body": body} if body else {})}))
                fault = state.faults.pop(0) if state.faults else None
            if fault == "slow":
                time.sleep(state.slow_seconds)
            if fault in ("500", "502", "503"):
                return self._send(int(fault), _error("internal error", "INTERNAL_ERROR"))
            if fault == "429":
                return self._send(
                    429,
                    json.dumps(
                        {
                            "status": "error",
                            "message": "You have reached your secondly limit.",
                            "errorType": "RATE_LIMIT",
                            "policyName": "SECONDLY",
                        }
                    ).encode(),
                    {"Retry-After": "1"},
                )
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._send(
                    401, _error("Authentication credentials not found.", "INVALID_AUTHENTICATION")
                )
            parts = parsed.path.strip("/").split("/")
            if method == "GET" and parts[:3] == ["crm", "v3", "objects"] and len(parts) == 4:
                return self._list(parts[3], params)
            if (
                method == "POST"
                and parts[:3] == ["crm", "v3", "objects"]
                and len(parts) == 5
                and parts[4] == "search"
            ):
                return self._search(parts[3], body)
            if (
                method == "POST"
                and parts[:3] == ["crm", "v4", "associations"]
                and parts[4:] == ["contacts", "batch", "read"]
            ):
                results = [
                    {
                        "from": {"id": item["id"]},
                        "to": [
                            {
                                "toObjectId": int(c),
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
                                ],
                            }
                            for c in state.associations.get((parts[3], item["id"]), [])
                        ],
                    }
                    for item in body.get("inputs", [])
                ]
                return self._send(200, json.dumps({"status": "COMPLETE", "results": results}).encode())
            return self._send(404, _error("not found", "OBJECT_NOT_FOUND"))

        def _record(self, kind: str, record: dict, properties: list[str], with_associations: bool) -> dict:
            chosen = (
                {name: record["properties"].get(name) for name in properties}
                if properties
                else {k: record["properties"].get(k) for k in ("createdate", MODIFIED[kind], "hs_object_id")}
            )
            out = {
                "id": record["id"],
                "properties": chosen,
                "createdAt": record["createdAt"],
                "updatedAt": record["updatedAt"],
                "archived": False,
            }
            if with_associations:
                linked = state.associations.get((kind, record["id"]), [])
                if linked:
                    out["associations"] = {
                        "contacts": {
                            "results": [{"id": c, "type": f"{kind[:-1]}_to_contact"} for c in linked]
                        }
                    }
            return out

        def _page(self, records: list[dict], after: int, limit: int, extra: dict):
            chunk = records[after : after + limit]
            answer = {**extra, "results": chunk}
            if after + limit < len(records):
                answer["paging"] = {
                    "next": {"after": str(after + limit), "link": "?after=" + str(after + limit)}
                }
            payload = json.dumps(answer).encode()
            with state.lock:
                dying = state.die_after_pages is not None and state.pages_served >= state.die_after_pages
                state.pages_served += 1
            if dying:  # headers and half the page, then the connection drops and the server goes away
                server.die_mid_answer(self, payload)
                return None
            return self._send(200, payload)

        def _list(self, kind: str, params: dict):
            if kind not in state.objects:
                return self._send(
                    404, _error(f"Unable to infer object type from: {kind}", "OBJECT_NOT_FOUND")
                )
            limit = min(int(params.get("limit", 10)), 100)
            properties = [p for p in params.get("properties", "").split(",") if p]
            with_associations = "contacts" in params.get("associations", "").split(",")
            records = sorted(state.objects[kind], key=lambda r: int(r["id"]))
            shaped = [self._record(kind, r, properties, with_associations) for r in records]
            return self._page(shaped, int(params.get("after", 0)), limit, {})

        def _search(self, kind: str, body: dict):
            after = int(body.get("after") or 0)
            if after >= 10_000:
                return self._send(
                    400, _error("The search API returns at most 10,000 results.", "VALIDATION_ERROR")
                )
            limit = min(int(body.get("limit", 10)), 200)
            records = list(state.objects[kind])
            for group in body.get("filterGroups", []):
                for f in group.get("filters", []):
                    if f.get("operator") == "GT":
                        records = [
                            r
                            for r in records
                            if _ms(r["properties"].get(f["propertyName"])) > int(f["value"])
                        ]
            for sort in body.get("sorts", []):
                records.sort(
                    key=lambda r, s=sort: (_ms(r["properties"].get(s["propertyName"])), int(r["id"])),
                    reverse=sort.get("direction") == "DESCENDING",
                )
            shaped = [self._record(kind, r, body.get("properties") or [], False) for r in records]
            return self._page(shaped, after, limit, {"total": len(shaped)})

    return Handler


def _ms(value) -> int:
    import datetime as dt

    if value in (None, ""):
        return 0
    return int(dt.datetime.fromisoformat(str(value)).timestamp() * 1000)
