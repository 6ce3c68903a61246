"""The signing mapper: the stored state of an event is its signed statement envelope; decoding
and upcasting a stored payload into its event class."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from ledger.domain.base import CHAIN_ATTRIBUTE
from ledger.signing.canonical import field_converters, to_json_value
from ledger.signing.statement import MAGIC, parse_signed_bytes, statement_hash, unpack


ENVELOPE_ATTRIBUTE = "_envelope"
HEADER_FIELDS = frozenset({"originator_id", "originator_version", "timestamp"})
CLASS_VERSION = "class_version"  # the payload key, named as eventsourcing's Mapper names it

# -------------------------------------------------------------------------------------------
# The signing mapper: the stored state of an event is its signed statement envelope.


def event_type_name(cls: type) -> str:
    """`Member.Registered`: the event type named inside signed statements."""
    return cls.__qualname__


def event_payload(domain_event: Any) -> dict[str, Any]:
    """The payload signed into the event's statement. An event class at `class_version` 2 or later
    says so in its payload (as eventsourcing's own Mapper does in the state it stores), so the
    decoder knows which upcasters an old statement needs; version 1 payloads carry no marker."""
    payload = {k: to_json_value(v) for k, v in vars(domain_event).items()
               if k not in HEADER_FIELDS and not k.startswith("_")}
    class_version = getattr(type(domain_event), "class_version", 1)
    if class_version > 1:
        payload[CLASS_VERSION] = class_version
    return payload


def upcast_payload(cls: type, payload: dict[str, Any]) -> dict[str, Any]:
    """A stored payload in the shape of today's `cls`. Statements are signed and never rewritten, so
    an event's schema evolves on decode: the class declares `class_version = N` and static methods
    `upcast_v1_v2(state)` … `upcast_v{N-1}_vN(state)` that bring an older payload (JSON values, as
    signed) up to date in place. See docs/schema-evolution.md."""
    class_version = getattr(cls, "class_version", 1)
    stored_version = payload.get(CLASS_VERSION, 1)
    if stored_version == class_version == 1:
        return payload
    if type(stored_version) is not int or not 1 <= stored_version <= class_version:
        raise ValueError(f"{cls.__qualname__}: a payload of class version {stored_version!r}; this code reads "
                         f"versions 1 to {class_version}")
    state = {k: v for k, v in payload.items() if k != CLASS_VERSION}
    for version in range(stored_version, class_version):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
    return state


def decode_event(cls: type, originator_id: UUID, version: int, time: str, payload: dict[str, Any],
                 chain: str) -> Any:
    payload = upcast_payload(cls, payload)
    converters = field_converters(cls)
    state: dict[str, Any] = {}
    for name, value in payload.items():
        convert = converters.get(name)
        state[name] = convert(value) if convert is not None else value
    state["originator_id"] = originator_id
    state["originator_version"] = version
    state["timestamp"] = datetime.fromisoformat(time)
    state[CHAIN_ATTRIBUTE] = chain
    domain_event: Any = object.__new__(cls)
    object.__setattr__(domain_event, "__dict__", state)
    return domain_event


class SigningMapper(Mapper[UUID]):
    """Stores an event as the envelope its signer produced; decodes events from the signed bytes.

    Snapshots (never signed: a cache, not a record) use the ordinary transcoder path.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        envelope = domain_event.__dict__.get(ENVELOPE_ATTRIBUTE)
        if envelope is None:
            return super().to_stored_event(domain_event)
        return StoredEvent(originator_id=domain_event.originator_id,
                           originator_version=domain_event.originator_version,
                           topic=get_topic(type(domain_event)), state=envelope)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = stored_event.state
        if not state.startswith(MAGIC):
            return super().to_domain_event(stored_event)
        _, signed_bytes = unpack(state)
        statement = parse_signed_bytes(signed_bytes, strict=False)
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(str(originator_id))
        return decode_event(resolve_topic(stored_event.topic), originator_id, stored_event.originator_version,
                            statement.time, statement.payload, statement_hash(signed_bytes))


def make_transcoder() -> JSONTranscoder:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder
