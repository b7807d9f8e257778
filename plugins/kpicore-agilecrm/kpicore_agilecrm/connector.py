"""Agile CRM's REST API (https://github.com/agilecrm/rest-api) as a kpicore sync connector.

What the vendor documents and this connector relies on:

- Base URL ``https://{domain}.agilecrm.com/dev/``; HTTP Basic auth with the account email as user name and
  the REST API key as password; JSON only with ``Accept: application/json`` (XML otherwise).
- Lists are bare JSON arrays paged with ``page_size`` and ``cursor``: the cursor of the next page is on the
  *last* element, the total count on the first; no cursor on the last element means the end; 204 means none.
- ``GET api/contacts`` and ``GET api/opportunity`` list everything by creation time; the dynamic filter
  ``POST api/filters/filter/dynamic-filter`` (form parameters ``page_size``, ``cursor``, ``global_sort_key``,
  ``filterJson``) lists contacts (``contact_type`` PERSON) or deals (OPPORTUNITY) whose ``updated_time`` is
  AFTER a time given in epoch milliseconds: that is the incremental fetch.
- Helpdesk tickets: ``GET api/tickets/filters`` lists the ticket views ("All Tickets"), and
  ``GET api/tickets/filter?filter_id=..&page_size=..&global_sort_key=-last_updated_time`` pages through one,
  newest change first; ticket times are epoch milliseconds, contact and deal times epoch seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from kpicore import ConfigError, SourceError
from kpicore.sync import JsonClient, Page, Stream, SyncConnector, environment

PACK_KEYS = (
    "lead_tag",
    "customer_tag",
    "churn_tag",
    "channel_field",
    "won_milestone",
    "escalated_priorities",
    "ticket_view",
)
DEFAULTS = {
    "lead_tag": "Lead",  # contacts with this tag are leads
    "customer_tag": "Customer",  # a lead converts when this tag is added (its time is the conversion)
    "churn_tag": "Churned",  # a customer churns when this tag is added
    "channel_field": "channel",  # the contact property holding the acquisition channel
    "won_milestone": "Won",  # deals at this milestone are orders
    "escalated_priorities": ["HIGH"],  # tickets at these priorities count as escalated
    "ticket_view": "All Tickets",  # the helpdesk view (filter) the tickets are read from
}


def settings(config) -> dict:
    """``[packs.agilecrm]`` over the defaults; its keys are declared through ``register_settings`` and checked
    by kpicore when a sync starts and by `kpi check`."""
    return {**DEFAULTS, **config.pack("agilecrm")}


class AgileCrmConnector(SyncConnector):
    name = "agilecrm"
    scheme = "agilecrm"
    description = "Agile CRM (agilecrm://DOMAIN): contacts, won deals, leads and tickets, synced (kpi sync)"
    entities = ("customers", "leads", "orders", "tickets")

    def streams(self, url, config, settings_):
        domain = url[len("agilecrm://") :].strip("/")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", domain):
            raise ConfigError(
                f"[source] url {url!r}: expected agilecrm://DOMAIN (the DOMAIN of DOMAIN.agilecrm.com)"
            )
        base = (environment("KPI_AGILECRM_API_BASE") or f"https://{domain}.agilecrm.com/dev/").rstrip(
            "/"
        ) + "/"
        email = environment("KPI_AGILECRM_EMAIL") or config.source.email
        key = environment("KPI_AGILECRM_API_KEY")
        if not email:
            raise ConfigError(
                f"{url}: no account email: set [source] email in kpi.toml or KPI_AGILECRM_EMAIL"
            )
        if not key:
            raise ConfigError(
                f"{url}: no API key: set KPI_AGILECRM_API_KEY (Admin Settings > Developers & API)"
            )
        import base64

        token = base64.b64encode(f"{email}:{key}".encode()).decode()
        client = JsonClient(
            url,
            {"Authorization": f"Basic {token}", "Accept": "application/json"},
            timeout=settings_.timeout,
            retries=settings_.retries,
            max_retry_wait=settings_.max_retry_wait,
            credentials_hint="check KPI_AGILECRM_API_KEY and the account email (KPI_AGILECRM_EMAIL or [source] email)",
        )
        api = _Api(client, base, settings_.page_size, settings(config))
        return [
            Stream("contacts", api.contacts, key=_id, watermark=_seconds_watermark, client=client),
            Stream("deals", api.deals, key=_id, watermark=_seconds_watermark, client=client),
            Stream(
                "tickets",
                api.tickets,
                key=_id,
                watermark=lambda r: _number(r.get("last_updated_time")),
                client=client,
            ),
        ]

    def rows(self, stream, record, config):
        options = settings(config)
        where = f"agilecrm {stream} {record.get('id')}"
        if stream == "contacts":
            return contact_rows(record, options, where)
        if stream == "deals":
            return deal_rows(record, options, where)
        return ticket_rows(record, options, where)


def _id(record: dict) -> str:
    return str(record["id"])


def _number(value):
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _seconds_watermark(record: dict):
    """Contacts and deals: ``updated_time`` in epoch seconds, as milliseconds (the dynamic filter's unit)."""
    seconds = _number(record.get("updated_time"))
    return seconds * 1000.0 if seconds else None


class _Api:
    """The list calls, each yielding ``Page`` objects (the records without Agile's paging fields)."""

    def __init__(self, client: JsonClient, base: str, page_size: int, options: dict):
        self.client, self.base, self.page_size, self.options = client, base, page_size, options

    def _pages(self, what: str, call, cursor):
        while True:
            answer = call(cursor)
            records = answer if isinstance(answer, list) else []
            if answer is not None and not isinstance(answer, list):
                raise SourceError(
                    f"{self.client.display}: {what}: expected a JSON array, got {type(answer).__name__}"
                )
            next_cursor = records[-1].get("cursor") or None if records else None
            total = _number(records[0].get("count")) if records else 0
            clean = [{k: v for k, v in r.items() if k not in ("cursor", "count")} for r in records]
            yield Page(clean, next_cursor, int(total) if total is not None else None)
            if not next_cursor:
                return
            cursor = next_cursor

    def _list_or_filter(self, what: str, path: str, contact_type: str, since, cursor):
        if since is None:

            def call(page_cursor):
                params = {"page_size": self.page_size, **({"cursor": page_cursor} if page_cursor else {})}
                return self.client.request("GET", self.base + path, what=what, params=params)
        else:
            rules = {
                "rules": [{"LHS": "updated_time", "CONDITION": "AFTER", "RHS": int(since)}],
                "or_rules": [],
                "contact_type": contact_type,
            }

            def call(page_cursor):
                form = {
                    "page_size": self.page_size,
                    "global_sort_key": "updated_time",
                    "filterJson": json.dumps(rules),
                }
                if page_cursor:
                    form["cursor"] = page_cursor
                return self.client.request(
                    "POST", self.base + "api/filters/filter/dynamic-filter", what=what, form=form
                )

        yield from self._pages(what, call, cursor)

    def contacts(self, since, cursor):
        yield from self._list_or_filter("contacts", "api/contacts", "PERSON", since, cursor)

    def deals(self, since, cursor):
        yield from self._list_or_filter("deals", "api/opportunity", "OPPORTUNITY", since, cursor)

    def tickets(self, since, cursor):
        views = self.client.request("GET", self.base + "api/tickets/filters", what="ticket views") or []
        view = next((v for v in views if v.get("name") == self.options["ticket_view"]), None)
        if view is None:
            names = ", ".join(str(v.get("name")) for v in views) or "none"
            raise ConfigError(
                f"{self.client.display}: tickets: no helpdesk view named {self.options['ticket_view']!r} "
                f"(views: {names}); set [packs.agilecrm] ticket_view"
            )

        def call(page_cursor):
            params = {
                "filter_id": view["id"],
                "page_size": self.page_size,
                "global_sort_key": "-last_updated_time",
            }
            if page_cursor:
                params["cursor"] = page_cursor
            return self.client.request("GET", self.base + "api/tickets/filter", what="tickets", params=params)

        for page in self._pages("tickets", call, cursor):
            if since is None:
                yield page
                continue
            # Newest change first: stop at the first ticket not changed since the watermark.
            newer = [r for r in page.records if (_number(r.get("last_updated_time")) or 0) > since]
            if len(newer) < len(page.records):
                yield Page(newer, None, page.total)
                return
            yield page


# -- mapping ------------------------------------------------------------------------------------------------
def _time(value, where: str, field: str, unit: str) -> dt.datetime | None:
    """An Agile CRM time (epoch seconds or milliseconds, a number or numeric text); 0 or empty is none."""
    if value is None or value == "" or value == 0 or value == "0":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SourceError(f"{where}: field {field} is {value!r}, expected epoch {unit}") from None
    return dt.datetime.fromtimestamp(number / (1000.0 if unit == "milliseconds" else 1.0), dt.UTC)


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_") or "field"


def _tag_times(record: dict) -> dict[str, float | None]:
    """Each tag of a contact, with the epoch ms it was added when Agile says (tagsWithTime)."""
    times: dict[str, float | None] = {str(tag): None for tag in record.get("tags") or []}
    for entry in record.get("tagsWithTime") or []:
        if isinstance(entry, dict) and entry.get("tag") is not None:
            times[str(entry["tag"])] = _number(entry.get("createdTime"))
    return times


def contact_rows(record: dict, options: dict, where: str) -> dict[str, list[dict]]:
    if record.get("type", "PERSON") != "PERSON":
        return {}
    contact_id = str(record["id"])
    created = _time(record.get("created_time"), where, "created_time", "seconds")
    if created is None:
        raise SourceError(f"{where}: field created_time is missing, expected epoch seconds")
    properties = {}
    dimensions = {}
    for prop in record.get("properties") or []:
        if not isinstance(prop, dict) or not prop.get("name"):
            continue
        properties[prop["name"]] = prop.get("value")
        if prop.get("type") == "CUSTOM":
            dimensions[_snake(prop["name"])] = None if prop.get("value") in (None, "") else str(prop["value"])
    tags = _tag_times(record)

    def tag_time(tag: str) -> dt.datetime | None:
        if tag not in tags:
            return None
        added = tags[tag]
        if added is None:  # tagged, but Agile gave no time: the contact's last update is the best bound
            return _time(record.get("updated_time"), where, "updated_time", "seconds") or created
        return _time(added, where, f"tagsWithTime {tag}", "milliseconds")

    channel = properties.get(options["channel_field"]) or None
    converted = tag_time(options["customer_tag"])
    rows: dict[str, list[dict]] = {}
    is_lead = options["lead_tag"] in tags
    if is_lead:
        rows["leads"] = [
            {"lead_id": contact_id, "created_at": created, "converted_at": converted, "channel": channel}
        ]
    if not is_lead or converted is not None:
        dimensions.pop("channel", None)
        rows["customers"] = [
            {
                "customer_id": contact_id,
                "signup_at": converted if is_lead else created,
                "churned_at": tag_time(options["churn_tag"]),
                "channel": channel,
                "tags": ",".join(sorted(tags)) or None,
                **dimensions,
            }
        ]
    return rows


def deal_rows(record: dict, options: dict, where: str) -> dict[str, list[dict]]:
    if record.get("milestone") != options["won_milestone"]:
        return {}
    contact_ids = [str(c) for c in record.get("contact_ids") or []]
    contact_ids += [str(c["id"]) for c in record.get("contacts") or [] if isinstance(c, dict) and "id" in c]
    amount = record.get("expected_value")
    try:
        amount = None if amount in (None, "") else float(amount)
    except (TypeError, ValueError):
        raise SourceError(f"{where}: field expected_value is {amount!r}, expected a number") from None
    return {
        "orders": [
            {
                "order_id": str(record["id"]),
                "customer_id": contact_ids[0] if contact_ids else None,
                "ordered_at": _time(record.get("close_date"), where, "close_date", "seconds"),
                "amount": amount,
            }
        ]
    }


def ticket_rows(record: dict, options: dict, where: str) -> dict[str, list[dict]]:
    resolved = _time(record.get("closed_time"), where, "closed_time", "milliseconds")
    if resolved is None and record.get("status") == "CLOSED":
        resolved = _time(record.get("last_updated_time"), where, "last_updated_time", "milliseconds")
    replies = record.get("user_replies_count")
    try:
        contacts = None if replies in (None, "") else int(replies)
    except (TypeError, ValueError):
        raise SourceError(
            f"{where}: field user_replies_count is {replies!r}, expected a whole number"
        ) from None
    contact = record.get("contactID")
    return {
        "tickets": [
            {
                "ticket_id": str(record["id"]),
                "customer_id": None if contact in (None, "", 0) else str(contact),
                "opened_at": _time(record.get("created_time"), where, "created_time", "milliseconds"),
                "resolved_at": resolved,
                "contacts": contacts,
                "escalated": record.get("priority") in options["escalated_priorities"],
            }
        ]
    }
