"""Reading stored events for the projections: straight from the signed statement bytes.

A stored event is `MAGIC(4) ‖ signature(64) ‖ signed bytes`, and the signed bytes are
`timeledger/v1\\n<region>\\n<event type>\\n<canonical JSON>`. The projections need only the event
type, the aggregate id, the event time and the payload's JSON values (ids stay strings, dates stay
ISO strings, which is how the view tables store them), so they skip the mapper's typed decoding.
Measured on a demo region (see `scripts/bench_projections.py`): this path decodes about 10x as many
events per second as `ledger.mapper.to_domain_event`, and events of types no view reads are not
parsed at all. Signatures are not checked here: `timeledger verify` does that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ledger.signing.statement import EnvelopeError, envelope_head

try:  # msgspec decodes typed structs about 4x as fast as json.loads; plain json is the fallback
    import msgspec
except ImportError:  # pragma: no cover - msgspec is installed with the dev extra
    msgspec = None  # type: ignore[assignment]  # no msgspec: plain json



class Notification(Protocol):
    """A stored event as read (eventsourcing's `Notification`, or our `RawNotification`): read-only."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> Any: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Fact:
    """One stored event as the projections see it."""

    position: int
    type: str  # "ServiceSession.Certified"
    aggregate_id: str
    version: int
    time: str  # ISO 8601 with offset
    payload: dict[str, Any]


if msgspec is not None:
    class _Body(msgspec.Struct):
        time: str
        payload: dict[str, Any]

    _decode_body: Callable[[Any], Any] = msgspec.json.Decoder(_Body).decode
    _DecodeError: type[Exception] = msgspec.DecodeError
else:  # pragma: no cover
    class _JsonBody:
        __slots__ = ("payload", "time")

        def __init__(self, document: dict[str, Any]) -> None:
            self.time = document["time"]
            self.payload = document["payload"]

    def _decode_body(body: Any) -> Any:
        return _JsonBody(json.loads(bytes(body)))

    _DecodeError = ValueError


def decode(notification: Notification, wanted: frozenset[str] | None = None) -> Fact | None:
    """The fact of one notification, or None when its type is not in `wanted` (not parsed then)."""
    state = notification.state
    try:
        event_type, body = envelope_head(state)
    except EnvelopeError as error:
        raise EnvelopeError(f"notification {notification.id}: {error}") from None
    if wanted is not None and event_type not in wanted:
        return None
    try:
        document = _decode_body(memoryview(state)[body:])  # the JSON, without copying it
    except (_DecodeError, ValueError) as error:
        raise EnvelopeError(f"notification {notification.id}: {error}") from None
    return Fact(notification.id, event_type, str(notification.originator_id), notification.originator_version,
                document.time, document.payload)


def decode_page(notifications: Sequence[Notification], wanted: frozenset[str] | None = None) -> list[Fact]:
    facts = []
    for notification in notifications:
        fact = decode(notification, wanted)
        if fact is not None:
            facts.append(fact)
    return facts


class RawNotification(NamedTuple):
    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class NotificationReader:
    """Pages of stored events after a position.

    On SQLite and PostgreSQL it selects the rows itself, through the recorder's own datastore,
    keeping the aggregate id as text (the recorder's `select_notifications` parses every id into a
    UUID, which the views would turn straight back into text: a quarter of the read time). Any
    other recorder (the in-memory POPO one) is read with `select_notifications`.
    """

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._sql: Any = None
        module = type(recorder).__module__
        table = getattr(recorder, "events_table_name", None)
        self._kind = "recorder"
        if module.startswith("eventsourcing.sqlite") and table:
            self._kind = "sqlite"
            self._sql = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "  # noqa: S608 - the recorder's own table name
                         "WHERE rowid >= ? ORDER BY rowid LIMIT ?")
        elif module.startswith("eventsourcing.postgres") and table:
            from psycopg import sql

            self._kind = "postgres"
            self._sql = sql.SQL(
                "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {}.{} "
                "WHERE notification_id >= %s ORDER BY notification_id LIMIT %s").format(
                sql.Identifier(recorder.datastore.schema), sql.Identifier(table))

    def page(self, start: int, limit: int) -> Sequence[Notification]:
        """At most `limit` notifications with ids ≥ `start`, in order."""
        if self._kind == "sqlite":
            with self.recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(self._sql, (start, limit))
                return [RawNotification(row[0], _dashed(row[1]), row[2], row[3], row[4]) for row in cursor.fetchall()]
        if self._kind == "postgres":
            with self.recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
                cursor.execute(self._sql, (start, limit), prepare=True)
                return [RawNotification(row["notification_id"], row["originator_id"], row["originator_version"],
                                        row["topic"], bytes(row["state"])) for row in cursor.fetchall()]
        return self.recorder.select_notifications(start=start, limit=limit)


def _dashed(hex_id: str) -> str:
    """eventsourcing's SQLite recorder stores UUIDs as 32 hex digits; the views use the canonical form."""
    if len(hex_id) != 32:
        return hex_id
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
