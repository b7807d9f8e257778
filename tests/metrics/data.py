"""Small hand-made datasets shared by the metric tests, in SQLite's many timestamp text forms.

The period under test is 2026-W47: [2026-11-16 00:00, 2026-11-23 00:00) UTC; the previous one is
2026-W46. In Asia/Tokyo the same week is [2026-11-15 15:00, 2026-11-22 15:00) UTC. Each row's
comment says where it falls and why it is there.
"""

from __future__ import annotations


def customer(customer_id, signup_at, churned_at=None, region=None, channel="ads"):
    return {
        "customer_id": customer_id,
        "signup_at": signup_at,
        "churned_at": churned_at,
        "channel": channel,
        "region": region,
    }


CUSTOMERS = [
    customer(1, "2026-10-01 09:00:00", region="North"),  # in S, retained
    customer(
        2, "2026-10-05T10:00:00Z", "2026-11-16 00:00:00", "South", "seo"
    ),  # in S, churns exactly at start
    customer(3, "2026-10-10 08:00:00.125", "2026-11-23 00:00:00"),  # in S, churns exactly at end: retained
    customer(4, "2026-11-16 00:00:00", "2026-11-20 10:00:00", "North"),  # joins at start and leaves in P
    customer(5, "2026-11-17T09:00:00Z", region="South", channel="seo"),  # new in P
    customer(6, "2026-11-01 00:00:00", "2026-10-20 00:00:00", "North"),  # churned before signing up: invalid
    customer(7, None, channel=None),  # no signup time: invalid
    customer(8, "2026-11-23 00:00:00", region="West"),  # signs up exactly at end: not in P
    customer(9, "2026-09-01 00:00:00+02:00", "2026-11-12 08:00:00", "West"),  # churned in W46
    customer(10, "2026-11-15 23:59:59", region="West"),  # new in W46 (in W47 in Tokyo)
]

ORDERS = [
    {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-16 00:00:00", "amount": 100.0},  # at start: in
    {"order_id": 2, "customer_id": 1, "ordered_at": "2026-11-23 00:00:00", "amount": 50.0},  # at end: out
    {"order_id": 3, "customer_id": 2, "ordered_at": "2026-11-18T10:00:00Z", "amount": 40.0},
    {"order_id": 4, "customer_id": 2, "ordered_at": "2026-11-19 12:00:00.500", "amount": -40.0},  # refund
    {"order_id": 5, "customer_id": None, "ordered_at": "2026-11-20 09:00:00+01:00", "amount": 30.0},  # guest
    {"order_id": 6, "customer_id": 3, "ordered_at": "2026-11-21 08:00:00", "amount": None},  # invalid
    {"order_id": 7, "customer_id": 3, "ordered_at": None, "amount": 20.0},  # no time: invalid
    {"order_id": 8, "customer_id": 1, "ordered_at": "2026-11-10 10:00:00", "amount": 60.0},  # W46
    {"order_id": 9, "customer_id": 4, "ordered_at": "2026-11-23 00:30:00+01:00", "amount": 25.0},  # 23:30 UTC
]

SURVEY_RESPONSES = [
    {"response_id": 1, "customer_id": 1, "survey": "nps", "score": 10, "responded_at": "2026-11-16 00:00:00"},
    {"response_id": 2, "customer_id": 2, "survey": "nps", "score": 9, "responded_at": "2026-11-22T23:59:59Z"},
    {
        "response_id": 3,
        "customer_id": 3,
        "survey": "nps",
        "score": 6,
        "responded_at": "2026-11-18 10:00:00.750",
    },
    {
        "response_id": 4,
        "customer_id": None,
        "survey": "nps",
        "score": 7,
        "responded_at": "2026-11-19 10:00:00+01:00",
    },
    {
        "response_id": 5,
        "customer_id": None,
        "survey": "nps",
        "score": 11,
        "responded_at": "2026-11-19 11:00:00",
    },
    {
        "response_id": 6,
        "customer_id": None,
        "survey": "nps",
        "score": 7.5,
        "responded_at": "2026-11-19 12:00:00",
    },
    {
        "response_id": 7,
        "customer_id": None,
        "survey": "nps",
        "score": None,
        "responded_at": "2026-11-19 13:00:00",
    },
    {"response_id": 8, "customer_id": 1, "survey": "nps", "score": 0, "responded_at": "2026-11-23 00:00:00"},
    {"response_id": 9, "customer_id": 1, "survey": "nps", "score": 3, "responded_at": "2026-11-10 09:00:00"},
    {"response_id": 10, "customer_id": 1, "survey": "nps", "score": 8, "responded_at": None},
    {
        "response_id": 11,
        "customer_id": 1,
        "survey": "csat",
        "score": 5,
        "responded_at": "2026-11-16 00:00:00",
    },
    {
        "response_id": 12,
        "customer_id": 2,
        "survey": "csat",
        "score": 4,
        "responded_at": "2026-11-20 12:00:00",
    },
    {
        "response_id": 13,
        "customer_id": 3,
        "survey": "csat",
        "score": 2,
        "responded_at": "2026-11-21T12:00:00Z",
    },
    {
        "response_id": 14,
        "customer_id": 3,
        "survey": "csat",
        "score": 0,
        "responded_at": "2026-11-21 13:00:00",
    },
    {
        "response_id": 15,
        "customer_id": 3,
        "survey": "csat",
        "score": 4.5,
        "responded_at": "2026-11-21 14:00:00",
    },
    {
        "response_id": 16,
        "customer_id": 3,
        "survey": "csat",
        "score": 3,
        "responded_at": "2026-11-23 00:00:00",
    },
]

MARKETING_SPEND = [
    {"spent_on": "2026-11-16", "channel": "ads", "amount": 100.0},  # first day: in
    {"spent_on": "2026-11-22", "channel": "seo", "amount": 50.0},  # last day: in
    {"spent_on": "2026-11-23", "channel": "ads", "amount": 999.0},  # the day after: out
    {"spent_on": "2026-11-15", "channel": "ads", "amount": 70.0},  # W46
    {"spent_on": "2026-11-18", "channel": "ads", "amount": None},  # invalid
    {"spent_on": None, "channel": "seo", "amount": 10.0},  # no date: invalid
    {"spent_on": "2026-11-19", "channel": "ads", "amount": -20.0},  # a credit: kept
]

LEADS = [
    {
        "lead_id": 1,
        "created_at": "2026-11-16 00:00:00",
        "converted_at": "2026-12-20 10:00:00",
        "channel": "ads",
    },
    {"lead_id": 2, "created_at": "2026-11-20T10:00:00Z", "converted_at": None, "channel": "seo"},
    {
        "lead_id": 3,
        "created_at": "2026-11-22 23:59:59.900",
        "converted_at": "2026-11-23 09:00:00",
        "channel": None,
    },
    {
        "lead_id": 4,
        "created_at": "2026-11-23 00:00:00",
        "converted_at": "2026-11-24 00:00:00",
        "channel": "ads",
    },
    {
        "lead_id": 5,
        "created_at": "2026-11-18 10:00:00",
        "converted_at": "2026-11-17 10:00:00",
        "channel": "ads",
    },
    {"lead_id": 6, "created_at": None, "converted_at": None, "channel": "ads"},
    {"lead_id": 7, "created_at": "2026-11-10 10:00:00+01:00", "converted_at": None, "channel": "seo"},
]


def ticket(ticket_id, customer_id, opened_at, resolved_at, contacts, escalated):
    return {
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "opened_at": opened_at,
        "resolved_at": resolved_at,
        "contacts": contacts,
        "escalated": escalated,
    }


TICKETS = [
    ticket(1, 1, "2026-11-15 10:00:00", "2026-11-16 00:00:00", 1, False),  # resolved at start
    ticket(2, 2, "2026-11-16 00:00:00", "2026-11-18T10:00:00Z", 3, True),  # opened at start
    ticket(3, 3, "2026-11-17 09:00:00", "2026-11-23 00:00:00", 1, False),  # resolved at end: out
    ticket(4, None, "2026-11-18 10:00:00.5", "2026-11-19 10:00:00+01:00", 0, True),  # contacts 0
    ticket(5, 1, "2026-11-19 00:00:00", "2026-11-20 00:00:00", 1.5, None),  # invalid for both
    ticket(6, 1, "2026-11-20 00:00:00", None, None, False),  # open
    ticket(7, 2, None, "2026-11-21 00:00:00", 1, False),  # no opened_at
    ticket(8, 2, "2026-11-23 00:00:00", None, None, True),  # opened at end: out
    ticket(9, 1, "2026-11-10 00:00:00", "2026-11-11 00:00:00", 2, True),  # W46
    ticket(10, 3, "2026-11-22 16:00:00", "2026-11-22 18:00:00", 2, True),  # after the Tokyo week ends
]

ALL = {
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "survey_responses": SURVEY_RESPONSES,
    "marketing_spend": MARKETING_SPEND,
    "leads": LEADS,
    "tickets": TICKETS,
}
