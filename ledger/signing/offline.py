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

import re
from datetime import datetime, timezone
from typing import Any

from ledger.signing.canonical import canonical_bytes

UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KEY_ID_TEXT = re.compile(r"^[0-9a-f]{32}$")
INSTANT_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")  # toISOString()

OFFLINE_REDEMPTION_PREFIX = b"timeledger/offline-redemption/v1\n"
RECORD_FIELDS = frozenset({"redemption_id", "region", "counter", "device_key_id", "member", "items", "minutes",
                           "created_at"})
LINE_FIELDS = frozenset({"item_id", "quantity", "price_minutes"})


def offline_redemption_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes the device's key signs (and the ledger verifies) for one offline record."""
    return OFFLINE_REDEMPTION_PREFIX + canonical_bytes(record)


def check_shape(record: Any, fields: frozenset[str], ids: tuple[str, ...], region_code: str | None,
                instant: str) -> datetime:
    """What every device record shares, checked before anything reads it: exactly `fields`, each of `ids`
    a UUID string, a device key id, made for `region_code`, and the moment named `instant` (as
    toISOString() writes it), which is returned. ValueError says what is wrong ("has a malformed member")."""
    if not isinstance(record, dict) or set(record) != fields:
        raise ValueError(f"must have exactly the fields {sorted(fields)}")
    for name in ids:
        if not isinstance(record[name], str) or not UUID_TEXT.fullmatch(record[name]):
            raise ValueError(f"has a malformed {name}")
    if not isinstance(record["device_key_id"], str) or not KEY_ID_TEXT.fullmatch(record["device_key_id"]):
        raise ValueError("has a malformed device_key_id")
    if record["region"] != region_code:
        raise ValueError("was made for another region")
    try:
        return parse_instant(record[instant])
    except ValueError:
        raise ValueError(f"has a malformed {instant} (UTC, ISO 8601)") from None


def parse_instant(text: Any) -> datetime:
    """A device's moment as JavaScript's toISOString() writes it (UTC, `Z`); ValueError if it is not one."""
    if not isinstance(text, str) or not INSTANT_TEXT.fullmatch(text):
        raise ValueError(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


# -- a scan at the venue while offline (签到签退, issue #15) -----------------------------------------------
# The organiser's venue device scans a member's own code with no connection; it signs the scan with its
# key (registered by the community, certified by the region) and syncs it later, in order, once per scan id:
#
#     timeledger/offline-scan/v1\n<canonical JSON of the record>
#
#     scan_id        the scan's id (UUID string): the sync's idempotency key
#     region         the region code the device was set up in
#     community      the community running the activity (UUID string)
#     activity       the activity (UUID string)
#     device_key_id  the device key's id, as the ledger registered it
#     member         the member whose code was scanned (UUID string)
#     action         "in" or "out"
#     scanned_at     when it was scanned, UTC, ISO 8601 as toISOString() writes it
OFFLINE_SCAN_PREFIX = b"timeledger/offline-scan/v1\n"
SCAN_FIELDS = frozenset({"scan_id", "region", "community", "activity", "device_key_id", "member", "action",
                         "scanned_at"})


def offline_scan_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes a venue device's key signs (and the ledger verifies) for one offline scan."""
    return OFFLINE_SCAN_PREFIX + canonical_bytes(record)


# -- a service record the member typed offline on their phone (服务记录, issue #15) --------------------------
#
#     timeledger/offline-session/v1\n<canonical JSON of the record>
#
#     session_id     the record's id (UUID string): the sync's idempotency key and the session's id
#     region, member, device_key_id   as above (the member's own device key)
#     activity, content, place, organiser, recipient   the form's texts ("" when left empty)
#     service_date   YYYY-MM-DD;  start_time, end_time   HH:MM;  minutes   an integer
#     post_id        the post's id (UUID string) or "";  order_id   the accepted order's id or ""
#     created_at     when the member saved it, UTC, ISO 8601 as toISOString() writes it
OFFLINE_SESSION_PREFIX = b"timeledger/offline-session/v1\n"
SESSION_FIELDS = frozenset({"session_id", "region", "member", "device_key_id", "activity", "content", "place",
                            "service_date", "start_time", "end_time", "minutes", "post_id", "order_id", "organiser",
                            "recipient", "created_at"})


def offline_session_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes a member's device key signs (and the ledger verifies) for one offline record."""
    return OFFLINE_SESSION_PREFIX + canonical_bytes(record)
