"""Raw reads for verifiers: stored rows as they are, streamed in bounded memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator
from uuid import UUID


from ledger.storage.database import Database


# -------------------------------------------------------------------------------------------
# Raw reads for verifiers: stored rows as they are, streamed in bounded memory.

STREAM_PAGE_ROWS = 2000  # rows per fetch when streaming a whole store


@dataclass(frozen=True, slots=True)
class RawEvent:
    position: int  # notification id (may have gaps)
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def _pg_table(database: Database, suffix: str = "events") -> str:
    schema = database.schema or "public"
    return f'"{schema}"."ledger_{suffix}"'


def iter_raw_events(database: Database, *, recorder: Any = None, order: str = "aggregate") -> Iterator[RawEvent]:
    """Every stored event, ordered by aggregate then version (`order="aggregate"`) or by
    position (`order="position"`). In-memory stores need their recorder."""
    if database.kind == "memory":
        assert recorder is not None, "an in-memory store is read through its recorder"
        rows = [RawEvent(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
                for n in recorder.select_notifications(start=None, limit=10**9)]
        if order == "aggregate":
            rows.sort(key=lambda r: (UUID(r.originator_id).hex, r.originator_version))
        yield from rows
        return
    order_by = "originator_id, originator_version" if order == "aggregate" else "{pos}"
    if database.kind == "sqlite":
        import sqlite3

        path = database.sqlite_path
        assert path is not None
        connection = sqlite3.connect(path if path.startswith("file:") else f"file:{path}?mode=ro", uri=True)
        # a tampered text column may hold bytes that are not UTF-8: read them, the verifier names them
        connection.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
        try:
            cursor = connection.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY "  # noqa: S608 - the order is one of two fixed clauses
                + order_by.format(pos="rowid"))
            while page := cursor.fetchmany(STREAM_PAGE_ROWS):
                for record in page:
                    # a tampered row may hold any type in any column: passed on as read, for the verifier to name
                    state = bytes(record[4]) if isinstance(record[4], (bytes, bytearray, memoryview)) else record[4]
                    yield RawEvent(record[0], record[1], record[2], record[3], state)
        finally:
            connection.close()
        return
    import psycopg

    with psycopg.connect(database.libpq_url) as pg, pg.transaction():
        with pg.cursor(name="timeledger_verify") as named:
            named.itersize = STREAM_PAGE_ROWS
            named.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM "  # noqa: S608 - a quoted identifier and a fixed order
                + _pg_table(database) + " ORDER BY " + order_by.format(pos="notification_id"))
            for record in named:
                yield RawEvent(record[0], str(record[1]), record[2], record[3], bytes(record[4]))
