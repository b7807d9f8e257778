"""kpicore-agilecrm: Agile CRM as a kpicore source (entry point ``agilecrm`` in group ``kpicore``).

``[source] url = "agilecrm://YOURDOMAIN"`` (the domain of YOURDOMAIN.agilecrm.com). ``kpi sync`` copies
contacts, deals and helpdesk tickets through Agile CRM's REST API into the staging database, mapped to the
canonical customers, leads, orders (won deals) and tickets; see the README for the field mapping.
"""

from __future__ import annotations

from kpicore import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_connectors(register):
    from .connector import AgileCrmConnector

    register(AgileCrmConnector())


@hookimpl
def register_settings(register):
    from .connector import PACK_KEYS

    register("packs.agilecrm", PACK_KEYS)
