"""kpicore-hubspot: HubSpot CRM as a kpicore source (entry point ``hubspot`` in group ``kpicore``).

``[source] url = "hubspot://"``. ``kpi sync`` copies contacts, deals and tickets through HubSpot's CRM v3
objects API (a private-app token from ``KPI_HUBSPOT_TOKEN``) into the staging database, mapped to the
canonical customers, leads, orders (won deals) and tickets; see the README for the field mapping.
"""

from __future__ import annotations

from kpicore import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_connectors(register):
    from .connector import HubSpotConnector

    register(HubSpotConnector())


@hookimpl
def register_settings(register):
    from .connector import PACK_KEYS

    register("packs.hubspot", PACK_KEYS)
