"""Idempotency-Key: a retried command returns the original response, exactly once.

* The key is scoped to the signed-in actor (two counters may use the same key).
* The fingerprint is SHA-256 over the method, the path and the canonical JSON of the parsed body,
  so whitespace and key order do not matter but any changed value does.
* A successful response (2xx) is stored (`api_idempotency`) by the writer right after the batch
  that produced it commits; a retry with the same fingerprint gets it back with
  `Idempotent-Replayed: true`; a different fingerprint is refused with 409 `idempotency_key_reused`.
* Refusals are not stored: a refused command changed nothing, so running it again is safe and
  answers with today's state (a member whose balance was topped up can then redeem).
* The writer looks the keys of a whole batch up in one query before running it.
* While a request is running, a retry with the same key waits for it (in this process) instead of
  running the command twice; after `idempotency_wait_seconds` it gets 409
  `idempotency_key_in_progress` (safe to retry).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from api.errors import IdempotencyKeyInProgress, IdempotencyKeyReused, InvalidHeader
from api.store import ApiStore, idempotency

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces: a UUID fits


@dataclass(frozen=True)
class Slot:
    actor_id: UUID
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Stored:
    status_code: int
    body: Any
    replayed: bool = False


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise InvalidHeader("Idempotency-Key: 1 to 128 printable ASCII characters without spaces")
    return key


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, store: ApiStore, *, wait_seconds: float) -> None:
        self._store = store
        self._wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[UUID, str], threading.Event] = {}

    def claim(self, slot: Slot) -> None:
        """Hold the key while this request runs; a concurrent request with the same key waits here.

        The stored response (if any) is looked up by the writer, for the whole batch at once
        (`lookup_many`), so a new key costs no database round trip in the request thread. After a
        claim the caller must `release(slot)` on failure; on success the writer stores the
        response and releases the slot (`save_many`)."""
        ident = (slot.actor_id, slot.key)
        while True:
            with self._lock:
                running = self._in_flight.get(ident)
                if running is None:
                    self._in_flight[ident] = threading.Event()
                    return
            if not running.wait(self._wait_seconds):
                raise IdempotencyKeyInProgress("a request with this Idempotency-Key is still running; retry later")

    def lookup_many(self, slots: list[Slot]) -> dict[Slot, Stored | Exception]:
        """Stored responses for these slots (one query): a replay, or IdempotencyKeyReused when the
        key was used for a different request."""
        if not slots:
            return {}
        found: dict[Slot, Stored | Exception] = {}
        by_actor: dict[UUID, list[Slot]] = {}
        for slot in slots:
            by_actor.setdefault(slot.actor_id, []).append(slot)
        with self._store.connect() as connection:
            for actor_id, group in by_actor.items():
                rows = connection.execute(
                    sa.select(idempotency.c.idempotency_key, idempotency.c.fingerprint, idempotency.c.status_code,
                              idempotency.c.body)
                    .where(idempotency.c.actor_id == str(actor_id),
                           idempotency.c.idempotency_key.in_([s.key for s in group]))).all()
                stored = {row.idempotency_key: row for row in rows}
                for slot in group:
                    row = stored.get(slot.key)
                    if row is None:
                        continue
                    if row.fingerprint != slot.fingerprint:
                        found[slot] = IdempotencyKeyReused(
                            "this Idempotency-Key was already used for a different request")
                    else:
                        found[slot] = Stored(row.status_code, json.loads(row.body), replayed=True)
        return found

    def purge_older_than(self, seconds: float, *, now: datetime | None = None) -> int:
        """Delete records stored more than `seconds` ago (the retention setting
        `idempotency_retention_seconds`): a retry that late is a new request. Returns the count."""
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        with self._store.begin() as connection:
            return int(connection.execute(idempotency.delete().where(idempotency.c.created_at < cutoff)).rowcount or 0)

    def release(self, slot: Slot) -> None:
        with self._lock:
            event = self._in_flight.pop((slot.actor_id, slot.key), None)
        if event is not None:
            event.set()

    def save_many(self, done: list[tuple[Slot, Stored]]) -> None:
        """Store successful responses (one transaction), then release their slots."""
        try:
            now = datetime.now(UTC)
            rows = [{"actor_id": str(slot.actor_id), "idempotency_key": slot.key, "fingerprint": slot.fingerprint,
                     "status_code": stored.status_code,
                     "body": json.dumps(stored.body, ensure_ascii=False, separators=(",", ":")),
                     "created_at": now} for slot, stored in done if not stored.replayed]
            if not rows:
                return
            try:
                with self._store.begin() as connection:
                    connection.execute(idempotency.insert(), rows)
            except sa.exc.IntegrityError:  # another process stored one of them first: keep theirs
                for row in rows:
                    try:
                        with self._store.begin() as connection:
                            connection.execute(idempotency.insert(), [row])
                    except sa.exc.IntegrityError:
                        pass
        finally:
            for slot, _ in done:
                self.release(slot)
