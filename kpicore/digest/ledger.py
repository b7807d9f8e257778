"""The delivery ledger moved to :mod:`kpicore.delivery.ledger` (one core for digests and alerts).

Re-exported here for code that reads digest deliveries.
"""

from kpicore.delivery.ledger import FAILED, PENDING, SENT, UNKNOWN, LedgerRow, list_deliveries
from kpicore.delivery.send import DeliveryOutcome

__all__ = ["FAILED", "PENDING", "SENT", "UNKNOWN", "DeliveryOutcome", "LedgerRow", "list_deliveries"]
