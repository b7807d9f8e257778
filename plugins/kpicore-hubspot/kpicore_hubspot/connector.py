"""HubSpot's CRM v3 objects API (developers.hubspot.com, CRM API: objects, search, associations) as a sync connector.

What HubSpot documents and this connector relies on:

- ``https://api.hubapi.com``; a private app's access token as ``Authorization: Bearer``.
- ``GET /crm/v3/objects/{contacts|deals|tickets}?limit=100&after=..&properties=..&associations=contacts``:
  ``{"results": [...], "paging": {"next": {"after": "..."}}}``, no ``paging.next`` on the last page. Each
  result has ``id``, ``properties`` (every value a string), ``createdAt``, ``updatedAt``, ``archived`` and,
  when asked, ``associations.contacts.results[].id``.
- ``POST /crm/v3/objects/{type}/search`` with a filter ``{lastmodifieddate | hs_lastmodifieddate} GT <epoch
  ms>`` (``lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` on deals and tickets), sorted ascending on
  it, ``limit`` up to 200 and ``after`` paging; a search returns at most 10,000 results, so past that the
  search starts again after the last modified time seen. Search results carry no associations: they come
  from ``POST /crm/v4/associations/{type}/contacts/batch/read``.
"""

from __future__ import annotations

import datetime as dt

from kpicore import ConfigError, SourceError
from kpicore.sync import JsonClient, Page, Stream, SyncConnector, environment

PACK_KEYS = (
    "won_stages",
    "churn_property",
    "channel_property",
    "dimensions",
    "ticket_contacts_property",
    "escalated_priorities",
)
DEFAULTS = {
    "won_stages": ["closedwon"],  # deal stages that are orders
    "churn_property": None,  # a contact date property holding when the customer churned
    "channel_property": "hs_analytics_source",  # the contact's original source
    "dimensions": [],  # contact properties to keep as dimensions (country, ...)
    "ticket_contacts_property": None,  # a ticket number property counting customer contacts (fcr)
    "escalated_priorities": ["HIGH", "URGENT"],
}
MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate", "tickets": "hs_lastmodifieddate"}
SEARCH_LIMIT = 10_000
PAGE_LIMITS = {"list": 100, "search": 200}


def settings(config) -> dict:
    """``[packs.hubspot]`` over the defaults; its keys are declared through ``register_settings`` and checked
    by kpicore when a sync starts and by `kpi check`."""
    return {**DEFAULTS, **config.pack("hubspot")}


def properties_for(stream: str, options: dict) -> list[str]:
    if stream == "contacts":
        names = [
            "createdate",
            "lastmodifieddate",
            "lifecyclestage",
            "hs_lifecyclestage_customer_date",
            "hs_lifecyclestage_lead_date",
            options["channel_property"],
            *options["dimensions"],
        ]
        if options["churn_property"]:
            names.append(options["churn_property"])
    elif stream == "deals":
        names = ["amount", "closedate", "dealstage", "createdate", "hs_lastmodifieddate"]
    else:
        names = ["createdate", "closed_date", "hs_ticket_priority", "hs_lastmodifieddate"]
        if options["ticket_contacts_property"]:
            names.append(options["ticket_contacts_property"])
    return list(dict.fromkeys(names))


class HubSpotConnector(SyncConnector):
    name = "hubspot"
    scheme = "hubspot"
    description = "HubSpot CRM (hubspot://): contacts, won deals, leads and tickets, synced (kpi sync)"
    entities = ("customers", "leads", "orders", "tickets")

    def streams(self, url, config, settings_):
        token = environment("KPI_HUBSPOT_TOKEN")
        if not token:
            raise ConfigError(
                f"{url}: no access token: set KPI_HUBSPOT_TOKEN (a private app's token with CRM read scopes)"
            )
        base = (environment("KPI_HUBSPOT_API_BASE") or "https://api.hubapi.com").rstrip("/")
        client = JsonClient(
            url,
            {"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=settings_.timeout,
            retries=settings_.retries,
            max_retry_wait=settings_.max_retry_wait,
            credentials_hint="check KPI_HUBSPOT_TOKEN (revoked, or missing a crm.objects.*.read scope)",
        )
        options = settings(config)
        streams = []
        for name in ("contacts", "deals", "tickets"):
            api = _ObjectApi(client, base, name, properties_for(name, options), settings_.page_size)
            streams.append(
                Stream(name, api.fetch, key=lambda r: str(r["id"]), watermark=api.watermark, client=client)
            )
        return streams

    def rows(self, stream, record, config):
        options = settings(config)
        where = f"hubspot {stream} {record.get('id')}"
        return {"contacts": contact_rows, "deals": deal_rows, "tickets": ticket_rows}[stream](
            record, options, where
        )


class _ObjectApi:
    def __init__(self, client: JsonClient, base: str, kind: str, properties: list[str], page_size: int):
        self.client, self.base, self.kind, self.properties = client, base, kind, properties
        self.page_size = page_size
        self.modified = MODIFIED[kind]

    def watermark(self, record: dict):
        value = (record.get("properties") or {}).get(self.modified) or record.get("updatedAt")
        moment = _parse_time(value)
        return moment.timestamp() * 1000.0 if moment else None

    def fetch(self, since, cursor):
        if since is None:
            yield from self._list(cursor)
        else:
            yield from self._search(since, cursor)

    def _list(self, cursor):
        while True:
            params = {
                "limit": min(self.page_size, PAGE_LIMITS["list"]),
                "properties": ",".join(self.properties),
                "archived": "false",
            }
            if self.kind != "contacts":
                params["associations"] = "contacts"
            if cursor:
                params["after"] = cursor
            answer = (
                self.client.request(
                    "GET", f"{self.base}/crm/v3/objects/{self.kind}", what=self.kind, params=params
                )
                or {}
            )
            cursor = ((answer.get("paging") or {}).get("next") or {}).get("after")
            results = answer.get("results") or []
            for record in results:  # keep only the ids, as the associations API gives them for search results
                linked = ((record.get("associations") or {}).get("contacts") or {}).get("results") or []
                if self.kind != "contacts":
                    record["associations"] = {
                        "contacts": {"results": [{"id": str(item["id"])} for item in linked]}
                    }
            yield Page(results, cursor)
            if not cursor:
                return

    def _search(self, since, cursor):
        # The cursor of a search is "<since>:<after>": a resumed sync repeats the same search.
        if cursor:
            since_text, _, after = cursor.partition(":")
            since = float(since_text)
        else:
            after = None
        while True:
            body = {
                "filterGroups": [
                    {"filters": [{"propertyName": self.modified, "operator": "GT", "value": str(int(since))}]}
                ],
                "sorts": [{"propertyName": self.modified, "direction": "ASCENDING"}],
                "properties": self.properties,
                "limit": min(self.page_size, PAGE_LIMITS["search"]),
            }
            if after:
                body["after"] = after
            answer = (
                self.client.request(
                    "POST",
                    f"{self.base}/crm/v3/objects/{self.kind}/search",
                    what=f"{self.kind} search",
                    json_body=body,
                )
                or {}
            )
            results = answer.get("results") or []
            if self.kind != "contacts" and results:
                self._associate(results)
            next_after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            more = bool(next_after)
            if next_after and int(next_after) >= SEARCH_LIMIT and results:
                # A search stops at 10,000 results: search again after the last modified time seen.
                since, next_after = self.watermark(results[-1]) or since, None
            next_cursor = f"{since}:{next_after or ''}" if more else None
            yield Page(results, next_cursor, answer.get("total"))
            if not more:
                return
            after = next_after

    def _associate(self, results: list[dict]) -> None:
        answer = (
            self.client.request(
                "POST",
                f"{self.base}/crm/v4/associations/{self.kind}/contacts/batch/read",
                what=f"{self.kind} associations",
                json_body={"inputs": [{"id": r["id"]} for r in results]},
            )
            or {}
        )
        linked = {
            str(item["from"]["id"]): [str(to["toObjectId"]) for to in item.get("to") or []]
            for item in answer.get("results") or []
        }
        for record in results:
            record["associations"] = {
                "contacts": {"results": [{"id": i} for i in linked.get(str(record["id"]), [])]}
            }


# -- mapping ------------------------------------------------------------------------------------------------
def _parse_time(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _time(properties: dict, name: str, where: str) -> dt.datetime | None:
    value = properties.get(name)
    moment = _parse_time(value)
    if moment is None and value not in (None, ""):
        raise SourceError(f"{where}: property {name} is {value!r}, expected an ISO 8601 time or epoch ms")
    return moment


def _first_contact(record: dict) -> str | None:
    linked = ((record.get("associations") or {}).get("contacts") or {}).get("results") or []
    return str(linked[0]["id"]) if linked else None


def contact_rows(record: dict, options: dict, where: str) -> dict[str, list[dict]]:
    props = record.get("properties") or {}
    contact_id = str(record["id"])
    created = _time(props, "createdate", where) or _parse_time(record.get("createdAt"))
    became_customer = _time(props, "hs_lifecyclestage_customer_date", where)
    became_lead = _time(props, "hs_lifecyclestage_lead_date", where)
    channel = props.get(options["channel_property"]) or None
    rows: dict[str, list[dict]] = {}
    if became_lead is not None:
        rows["leads"] = [
            {
                "lead_id": contact_id,
                "created_at": became_lead,
                "converted_at": became_customer,
                "channel": channel,
            }
        ]
    if became_customer is not None or props.get("lifecyclestage") == "customer":
        churned = _time(props, options["churn_property"], where) if options["churn_property"] else None
        rows["customers"] = [
            {
                "customer_id": contact_id,
                "signup_at": became_customer or created,
                "churned_at": churned,
                "channel": channel,
                **{name: props.get(name) or None for name in options["dimensions"]},
            }
        ]
    return rows


def deal_rows(record: dict, options: dict, where: str) -> dict[str, list[dict]]:
    props = record.get("properties") or {}
    if props.get("dealstage") not in options["won_stages"]:
        return {}
    amount = props.get("amount")
    try:
        amount = None if amount in (None, "") else float(amount)
    except ValueError:
        raise SourceError(f"{where}: property amount is {amount!r}, expected a number") from None
    return {
        "orders": [
            {
                "order_id": str(record["id"]),
                "customer_id": _first_contact(record),
                "ordered_at": _time(props, "closedate", where),
                "amount": amount,
            }
        ]
    }


def ticket_rows(record: dict, options: dict, where: str) -> dict[str, list[dict]]:
    props = record.get("properties") or {}
    contacts = None
    if options["ticket_contacts_property"]:
        value = props.get(options["ticket_contacts_property"])
        try:
            contacts = None if value in (None, "") else int(float(value))
        except ValueError:
            raise SourceError(
                f"{where}: property {options['ticket_contacts_property']} is {value!r}, expected a number"
            ) from None
    return {
        "tickets": [
            {
                "ticket_id": str(record["id"]),
                "customer_id": _first_contact(record),
                "opened_at": _time(props, "createdate", where),
                "resolved_at": _time(props, "closed_date", where),
                "contacts": contacts,
                "escalated": props.get("hs_ticket_priority") in options["escalated_priorities"],
            }
        ]
    }
