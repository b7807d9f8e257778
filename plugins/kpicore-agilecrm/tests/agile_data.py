"""One set of plain facts about a small business, written two ways: as Agile CRM JSON (for the loopback
server) and as canonical rows (the CSV copy the synced data must equal). The canonical side is worked out
from the facts directly, not through the connector's mapping."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field


@dataclass
class Person:
    id: int
    created: int  # epoch seconds
    updated: int
    region: str | None
    channel: str | None
    tags: list[str] = field(default_factory=list)
    tag_times: dict[str, int] = field(default_factory=dict)  # tag -> epoch ms

    @property
    def lead(self) -> bool:
        return "Lead" in self.tags


@dataclass
class Deal:
    id: int
    contact: int | None
    milestone: str
    close: int  # epoch seconds
    value: float
    created: int
    updated: int


@dataclass
class Ticket:
    id: int
    contact: int | None
    created_ms: int
    closed_ms: int | None
    replies: int
    priority: str
    updated_ms: int


def make_facts(today: dt.date, *, people: int = 120, seed: int = 5):
    """People, deals and tickets over the 90 days before ``today``."""
    rng = random.Random(seed)
    start = int(dt.datetime.combine(today - dt.timedelta(days=90), dt.time(), dt.UTC).timestamp())
    span = 89 * 86400

    def moment(after: int = start) -> int:
        return rng.randrange(after, start + span)

    persons, deals, tickets = [], [], []
    for number in range(1, people + 1):
        created = moment()
        tags, times = [], {}
        if rng.random() < 0.4:
            tags.append("Lead")
            times["Lead"] = created * 1000
            if rng.random() < 0.5:
                tags.append("Customer")
                times["Customer"] = moment(created) * 1000
        if (not tags or "Customer" in tags) and rng.random() < 0.15:
            tags.append("Churned")
            times["Churned"] = moment(created) * 1000
        if rng.random() < 0.2:
            tags.append("vip")
            times["vip"] = created * 1000
        persons.append(
            Person(
                5000 + number,
                created,
                created + rng.randrange(0, 3600),
                rng.choice(["North", "South", None]),
                rng.choice(["ads", "referral", None]),
                tags,
                times,
            )
        )
    for number in range(1, people // 2 + 1):
        owner = rng.choice(persons)
        created = moment(owner.created)
        deals.append(
            Deal(
                8000 + number,
                owner.id if rng.random() > 0.05 else None,
                rng.choice(["Won", "Won", "Open", "Lost"]),
                moment(created),
                round(rng.uniform(50, 900), 2),
                created,
                created + 60,
            )
        )
    for number in range(1, people // 2 + 1):
        owner = rng.choice(persons)
        created_ms = moment(owner.created) * 1000 + rng.randrange(1000)
        closed = moment(created_ms // 1000) * 1000 + 7 if rng.random() < 0.7 else None
        tickets.append(
            Ticket(
                number,
                owner.id,
                created_ms,
                closed,
                rng.choice([0, 1, 1, 1, 2, 3]),
                rng.choice(["LOW", "MEDIUM", "HIGH"]),
                closed or created_ms,
            )
        )
    return persons, deals, tickets


# -- as Agile CRM writes them -----------------------------------------------------------------------
def contact_json(p: Person) -> dict:
    properties = [
        {"type": "SYSTEM", "name": "first_name", "value": f"Person {p.id}"},
        {"type": "SYSTEM", "name": "email", "subtype": "work", "value": f"p{p.id}@example.com"},
    ]
    if p.region is not None:
        properties.append({"type": "CUSTOM", "name": "Region", "value": p.region})
    if p.channel is not None:
        properties.append({"type": "CUSTOM", "name": "channel", "value": p.channel})
    return {
        "id": p.id,
        "type": "PERSON",
        "created_time": str(p.created),
        "updated_time": p.updated,
        "star_value": 0,
        "lead_score": 0,
        "tags": list(p.tags),
        "tagsWithTime": [
            {"tag": t, "createdTime": p.tag_times[t], "availableCount": 0, "entity_type": "tag"}
            for t in p.tags
        ],
        "properties": properties,
    }


def deal_json(d: Deal) -> dict:
    return {
        "id": d.id,
        "name": f"Deal {d.id}",
        "contact_ids": [str(d.contact)] if d.contact else [],
        "expected_value": d.value,
        "pipeline_id": "43535822",
        "milestone": d.milestone,
        "probability": 50,
        "close_date": d.close,
        "created_time": d.created,
        "updated_time": d.updated,
        "entity_type": "deal",
    }


def ticket_json(t: Ticket) -> dict:
    return {
        "id": t.id,
        "groupID": 5756098678095872,
        "contactID": t.contact,
        "subject": f"Ticket {t.id}",
        "created_time": t.created_ms,
        "last_updated_time": t.updated_ms,
        "closed_time": t.closed_ms or 0,
        "status": "CLOSED" if t.closed_ms else "OPEN",
        "type": "PROBLEM",
        "priority": t.priority,
        "source": "EMAIL",
        "user_replies_count": t.replies,
        "no_of_reopens": 0,
        "entity_type": "tickets",
    }


def load(state, persons, deals, tickets) -> None:
    state.contacts = [contact_json(p) for p in persons]
    state.deals = [deal_json(d) for d in deals]
    state.tickets = [ticket_json(t) for t in tickets]


# -- as canonical rows ----------------------------------------------------------------------------------
def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def canonical(persons, deals, tickets) -> dict[str, list[dict]]:
    customers, leads = [], []
    for p in persons:
        converted = _at(p.tag_times["Customer"] / 1000) if "Customer" in p.tags else None
        if p.lead:
            leads.append(
                {
                    "lead_id": str(p.id),
                    "created_at": _at(p.created),
                    "converted_at": converted,
                    "channel": p.channel,
                }
            )
        if not p.lead or converted:
            customers.append(
                {
                    "customer_id": str(p.id),
                    "signup_at": converted if p.lead else _at(p.created),
                    "churned_at": _at(p.tag_times["Churned"] / 1000) if "Churned" in p.tags else None,
                    "channel": p.channel,
                    "region": p.region,
                    "tags": ",".join(sorted(p.tags)) or None,
                }
            )
    orders = [
        {
            "order_id": str(d.id),
            "customer_id": str(d.contact) if d.contact else None,
            "ordered_at": _at(d.close),
            "amount": d.value,
        }
        for d in deals
        if d.milestone == "Won"
    ]
    rows = [
        {
            "ticket_id": str(t.id),
            "customer_id": str(t.contact),
            "opened_at": _at(t.created_ms / 1000),
            "resolved_at": _at(t.closed_ms / 1000) if t.closed_ms else None,
            "contacts": t.replies,
            "escalated": t.priority == "HIGH",
        }
        for t in tickets
    ]
    return {"customers": customers, "leads": leads, "orders": orders, "tickets": rows}
