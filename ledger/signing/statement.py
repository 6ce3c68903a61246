"""Signed statements: what every stored event is.

A statement is the canonical JSON of an event plus its context, behind a domain-separation prefix:

    timeledger/v1\\n<region>\\n<event type>\\n{"actor":…,"aggregate":…,"key":…,"payload":{…},
    "prev":…,"region":…,"request":…,"role":…,"time":…,"type":…,"v":1,"version":…}

`prev` is the SHA-256 (hex) of the previous statement of the same aggregate: a hash chain per
aggregate whose genesis is `GENESIS_HASH`. The stored row is an envelope
`MAGIC ‖ signature(64) ‖ signed bytes`: the signed bytes are kept verbatim, never upcast.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ledger.signing.canonical import CanonicalError, canonical_bytes
from ledger.signing.keys import SIGNATURE_BYTES

FORMAT = "timeledger/v1"
FORMAT_VERSION = 1
MAGIC = b"TLS1"
GENESIS_HASH = hashlib.sha256(b"timeledger/v1 genesis").hexdigest()
STATEMENT_FIELDS = frozenset(
    {"v", "region", "aggregate", "version", "type", "actor", "role", "key", "time", "request", "prev", "payload"}
)


class EnvelopeError(ValueError):
    """Stored bytes that are not a well-formed signed statement."""


@dataclass(frozen=True, slots=True)
class Statement:
    """The parsed content of a signed statement."""

    region: str
    aggregate: str
    version: int
    type: str
    actor: str
    role: str
    key: str
    time: str
    request: str | None
    prev: str
    payload: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "region": self.region,
            "aggregate": self.aggregate,
            "version": self.version,
            "type": self.type,
            "actor": self.actor,
            "role": self.role,
            "key": self.key,
            "time": self.time,
            "request": self.request,
            "prev": self.prev,
            "payload": self.payload,
        }


def prefix(region: str, event_type: str) -> bytes:
    return f"{FORMAT}\n{region}\n{event_type}\n".encode()


def encode_statement(statement: Statement, *, checked: bool = True) -> bytes:
    """The exact bytes that are signed."""
    return prefix(statement.region, statement.type) + canonical_bytes(statement.as_json(), checked=checked)


def statement_hash(signed_bytes: bytes) -> str:
    return hashlib.sha256(signed_bytes).hexdigest()


def pack(signature: bytes, signed_bytes: bytes) -> bytes:
    assert len(signature) == SIGNATURE_BYTES
    return MAGIC + signature + signed_bytes


def unpack(envelope: bytes) -> tuple[bytes, bytes]:
    """(signature, signed bytes) of a stored envelope."""
    if len(envelope) < len(MAGIC) + SIGNATURE_BYTES or envelope[: len(MAGIC)] != MAGIC:
        raise EnvelopeError("not a signed statement envelope")
    start = len(MAGIC)
    return envelope[start : start + SIGNATURE_BYTES], envelope[start + SIGNATURE_BYTES :]


SIGNED_OFFSET = len(MAGIC) + SIGNATURE_BYTES  # where the signed bytes start in an envelope
_FORMAT_BYTES = FORMAT.encode()
_HEAD_BYTES_MAX = 200  # the signed prefix (format, region, type) of any event fits in this


def envelope_head(envelope: bytes) -> tuple[str, int]:
    """(event type, offset of the JSON body) of a stored envelope, read from its signed prefix without
    parsing the body (the fast path of the read side, which trusts the store). Raises `EnvelopeError`
    unless it is an envelope of this format."""
    try:
        end_format = envelope.index(b"\n", SIGNED_OFFSET)
        end_region = envelope.index(b"\n", end_format + 1)
        end_type = envelope.index(b"\n", end_region + 1)
    except ValueError:
        raise EnvelopeError("unreadable statement") from None
    if envelope[: len(MAGIC)] != MAGIC or envelope[SIGNED_OFFSET:end_format] != _FORMAT_BYTES:
        raise EnvelopeError("not a signed statement of a known format")
    try:
        return envelope[end_region + 1 : end_type].decode(), end_type + 1
    except UnicodeDecodeError:
        raise EnvelopeError("unreadable event type") from None


def event_type_of(envelope: bytes) -> str:
    """The event type named in an envelope's signed prefix ('' when unreadable): for logs and
    findings, which name what they can of any bytes (nothing is trusted or verified here)."""
    head = envelope[SIGNED_OFFSET : SIGNED_OFFSET + _HEAD_BYTES_MAX].split(b"\n", 3)
    try:
        return head[2].decode() if len(head) > 3 and envelope[: len(MAGIC)] == MAGIC else ""
    except UnicodeDecodeError:
        return ""


def parse_signed_bytes(signed_bytes: bytes, *, strict: bool = True) -> Statement:
    """Parse signed bytes; with `strict`, also require the prefix to agree and the JSON to be canonical."""
    try:
        head_format, head_region, head_type, body = signed_bytes.split(b"\n", 3)
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise EnvelopeError(f"unreadable statement: {error}") from None
    except RecursionError:  # untrusted bytes: a deeply nested body is a finding, not a crash
        raise EnvelopeError("unreadable statement: JSON nested too deeply") from None
    if not isinstance(document, dict) or set(document) != STATEMENT_FIELDS:
        raise EnvelopeError("statement fields are not the format's fields")
    if document["v"] != FORMAT_VERSION or head_format != FORMAT.encode():
        raise EnvelopeError("unknown statement format version")
    try:
        statement = Statement(
            region=document["region"],
            aggregate=document["aggregate"],
            version=document["version"],
            type=document["type"],
            actor=document["actor"],
            role=document["role"],
            key=document["key"],
            time=document["time"],
            request=document["request"],
            prev=document["prev"],
            payload=document["payload"],
        )
    except KeyError as error:  # pragma: no cover - guarded by the field check
        raise EnvelopeError(f"missing field {error}") from None
    text_fields = (statement.region, statement.aggregate, statement.type, statement.actor, statement.role,
                   statement.key, statement.time, statement.prev)
    if (not isinstance(statement.version, int) or isinstance(statement.version, bool)
            or not isinstance(statement.payload, dict) or not all(isinstance(f, str) for f in text_fields)
            or not (statement.request is None or isinstance(statement.request, str))):
        raise EnvelopeError("statement field types are wrong")
    if strict:
        try:
            prefix_matches = head_region.decode() == statement.region and head_type.decode() == statement.type
            canonical = canonical_bytes(document) == body
        except (UnicodeError, CanonicalError) as error:
            raise EnvelopeError(f"statement is not in canonical form: {error}") from None
        if not prefix_matches:
            raise EnvelopeError("prefix does not match the statement")
        if not canonical:
            raise EnvelopeError("statement is not in canonical form")
    return statement
