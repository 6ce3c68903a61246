"""The bytes a counter device signs for a redemption it captured offline (issue #15).

Defined once, here; `api/web/static/counter-offline.js` builds the same bytes in the browser (a
browser test signs there and the ledger verifies here). The record is a flat JSON object of strings
and integers (and one list of such objects), so RFC 8785 canonical JSON is simply sorted keys, no
whitespace, UTF-8: the same in Python (`canonical_bytes`) and in JavaScript (`JSON.stringify` with
the keys sorted). A domain-separation prefix keeps these signatures from ever passing as a ledger
statement or a check-in code.

    timeledger/offline-redemption/v1\\n<canonical JSON of the record>

The record's fields (all required, no others):

    redemption_id  the basket's id (UUID string): the sync's idempotency key
    region         the region code the device was set up in
    counter        the counter's id (UUID string)
    device_key_id  the device key's id, as the ledger registered it
    member         the member's id (UUID string)
    items          [{"item_id": UUID string, "quantity": int, "price_minutes": int}], as the device showed them
    minutes        the total: Σ quantity × price_minutes
    created_at     when the clerk confirmed, UTC, ISO 8601 as JavaScript's toISOString() writes it
"""

from __future__ import annotations

from typing import Any

from ledger.signing.canonical import canonical_bytes

OFFLINE_REDEMPTION_PREFIX = b"timeledger/offline-redemption/v1\n"
RECORD_FIELDS = frozenset({"redemption_id", "region", "counter", "device_key_id", "member", "items", "minutes",
                           "created_at"})
LINE_FIELDS = frozenset({"item_id", "quantity", "price_minutes"})


def offline_redemption_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes the device's key signs (and the ledger verifies) for one offline record."""
    return OFFLINE_REDEMPTION_PREFIX + canonical_bytes(record)
