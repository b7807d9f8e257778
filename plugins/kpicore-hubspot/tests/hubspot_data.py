"""Plain facts written two ways: as HubSpot CRM objects (for the loopback server) and as canonical rows."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass


@dataclass
class Contact:
    id: int
    created: dt.datetime
    modified: dt.datetime
    lead_at: dt.datetime | None
    customer_at: dt.datetime | None
    churned_at: dt.datetime | None
    source: str | None
    country: str | None


@dataclass
class Deal:
    id: int
    contact: int | None
    stage: str
    close: dt.datetime
    amount: float
    modified: dt.datetime


@dataclass
class Ticket:
    id: int
    contact: int | None
    created: dt.datetime
    closed: dt.datetime | None
    priority: str
    contacts: int
    modified: dt.datetime


def make_facts(today: dt.date, *, contacts: int = 120, seed: int = 9):
    rng = random.Random(seed)
    start = dt.datetime.combine(today - dt.timedelta(days=90), dt.time(), dt.UTC)

    def moment(after: dt.datetime = start) -> dt.datetime:
        span = int((start + dt.timedelta(days=89) - after).total_seconds())
        return after + dt.timedelta(seconds=rng.randrange(1, max(span, 2)), milliseconds=rng.randrange(1000))

    people = []
    for number in range(1, contacts + 1):
        created = moment()
        lead = created if rng.random() < 0.4 else None
        customer = (
            (moment(created) if rng.random() < 0.5 else None)
            if lead
            else (created if rng.random() < 0.8 else None)
        )
        churned = moment(customer) if customer and rng.random() < 0.15 else None
        people.append(
            Contact(
                100 + number,
                created,
                created + dt.timedelta(minutes=5),
                lead,
                customer,
                churned,
                rng.choice(["ORGANIC_SEARCH", "PAID_SOCIAL", None]),
                rng.choice(["DE", "FR", None]),
            )
        )
    deals = []
    for number in range(1, contacts // 2 + 1):
        owner = rng.choice(people)
        deals.append(
            Deal(
                900 + number,
                owner.id if rng.random() > 0.05 else None,
                rng.choice(["closedwon", "closedwon", "appointmentscheduled", "closedlost"]),
                moment(owner.created),
                round(rng.uniform(50, 900), 2),
                moment(owner.created),
            )
        )
    tickets = []
    for number in range(1, contacts // 2 + 1):
        owner = rng.choice(people)
        created = moment(owner.created)
        closed = moment(created) if rng.random() < 0.7 else None
        tickets.append(
            Ticket(
                7000 + number,
                owner.id,
                created,
                closed,
                rng.choice(["LOW", "MEDIUM", "HIGH", "URGENT"]),
                rng.choice([1, 1, 2, 3]),
                closed or created,
            )
        )
    return people, deals, tickets


def _iso(moment: dt.datetime | None) -> str | None:
    return (
        None
        if moment is None
        else moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def load(state, people, deals, tickets) -> None:
    state.objects["contacts"] = [
        {
            "id": str(c.id),
            "createdAt": _iso(c.created),
            "updatedAt": _iso(c.modified),
            "properties": {
                "createdate": _iso(c.created),
                "lastmodifieddate": _iso(c.modified),
                "hs_object_id": str(c.id),
                "lifecyclestage": "customer" if c.customer_at else ("lead" if c.lead_at else "subscriber"),
                "hs_lifecyclestage_customer_date": _iso(c.customer_at),
                "hs_lifecyclestage_lead_date": _iso(c.lead_at),
                "churned_on": _iso(c.churned_at),
                "hs_analytics_source": c.source,
                "country": c.country,
            },
        }
        for c in people
    ]
    state.objects["deals"] = [
        {
            "id": str(d.id),
            "createdAt": _iso(d.modified),
            "updatedAt": _iso(d.modified),
            "properties": {
                "amount": f"{d.amount:.2f}",
                "closedate": _iso(d.close),
                "dealstage": d.stage,
                "createdate": _iso(d.modified),
                "hs_lastmodifieddate": _iso(d.modified),
                "pipeline": "default",
            },
        }
        for d in deals
    ]
    state.objects["tickets"] = [
        {
            "id": str(t.id),
            "createdAt": _iso(t.created),
            "updatedAt": _iso(t.modified),
            "properties": {
                "createdate": _iso(t.created),
                "closed_date": _iso(t.closed),
                "hs_ticket_priority": t.priority,
                "hs_lastmodifieddate": _iso(t.modified),
                "num_customer_contacts": str(t.contacts),
                "hs_pipeline_stage": "4" if t.closed else "1",
            },
        }
        for t in tickets
    ]
    state.associations = {("deals", str(d.id)): [str(d.contact)] for d in deals if d.contact}
    state.associations.update({("tickets", str(t.id)): [str(t.contact)] for t in tickets if t.contact})


def canonical(people, deals, tickets) -> dict[str, list[dict]]:
    customers = [
        {
            "customer_id": str(c.id),
            "signup_at": c.customer_at,
            "churned_at": c.churned_at,
            "channel": c.source,
            "country": c.country,
        }
        for c in people
        if c.customer_at
    ]
    leads = [
        {"lead_id": str(c.id), "created_at": c.lead_at, "converted_at": c.customer_at, "channel": c.source}
        for c in people
        if c.lead_at
    ]
    orders = [
        {
            "order_id": str(d.id),
            "customer_id": str(d.contact) if d.contact else None,
            "ordered_at": d.close,
            "amount": d.amount,
        }
        for d in deals
        if d.stage == "closedwon"
    ]
    rows = [
        {
            "ticket_id": str(t.id),
            "customer_id": str(t.contact),
            "opened_at": t.created,
            "resolved_at": t.closed,
            "contacts": t.contacts,
            "escalated": t.priority in ("HIGH", "URGENT"),
        }
        for t in tickets
    ]
    return {"customers": customers, "leads": leads, "orders": orders, "tickets": rows}
