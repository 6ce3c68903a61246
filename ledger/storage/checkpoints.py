"""The region's signed checkpoints as stored: their table, origin and time line (see
ledger/verification/checkpoints.py for what a checkpoint is and how it is trusted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from ledger.signing.note import (
    Checkpoint,
    parse_note,
)
from ledger.storage import log_tables as t
from ledger.storage.merkle_log import MerkleLog


ORIGIN_PREFIX = "timeledger/"


TIME_PREFIX = "time "


class CheckpointError(ValueError):
    """A checkpoint cannot be made, cosigned or trusted."""


def origin_of(region_code: str) -> str:
    return f"{ORIGIN_PREFIX}{region_code}"


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def checkpoint_time(checkpoint: Checkpoint) -> datetime:
    """The signing time named by the checkpoint's `time` extension line (exactly one is required)."""
    lines = [line for line in checkpoint.extensions if line.startswith(TIME_PREFIX)]
    if len(lines) != 1:
        raise CheckpointError(f"checkpoint has {len(lines)} 'time' extension lines, needs exactly one")
    text = lines[0][len(TIME_PREFIX):]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CheckpointError(f"checkpoint time {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() != timezone.utc.utcoffset(None) or format_time(moment) != text:
        raise CheckpointError(f"checkpoint time {text!r} is not in the canonical UTC form")
    return moment


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint_id: int
    origin: str
    size: int
    root: bytes
    time: str
    key_id: str  # the timeledger key id of the region key that signed
    note: str  # the signed note, witness cosignatures included

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(parse_note(self.note).text)

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.time)

    def witnesses(self) -> list[tuple[str, bytes]]:
        """(name, note key id) of every signature line other than the region's own."""
        return [(signature.name, signature.key_id) for signature in parse_note(self.note).signatures
                if signature.name != self.origin]


class CheckpointStore:
    """The `tlt_checkpoints` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        t.create_tables(engine)

    @classmethod
    def for_log(cls, log: MerkleLog) -> CheckpointStore:
        return cls(log.engine)

    @staticmethod
    def _row(row: Any) -> StoredCheckpoint:
        return StoredCheckpoint(int(row.checkpoint_id), row.origin, int(row.size), bytes(row.root), row.time,
                                row.key_id, row.note)

    def _query(self, query: Any) -> list[StoredCheckpoint]:
        with self.engine.connect() as connection:
            return [self._row(row) for row in connection.execute(query)]

    def latest(self) -> StoredCheckpoint | None:
        found = self._query(sa.select(t.checkpoints).order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1))
        return found[0] if found else None

    def get(self, checkpoint_id: int) -> StoredCheckpoint | None:
        found = self._query(sa.select(t.checkpoints).where(t.checkpoints.c.checkpoint_id == checkpoint_id))
        return found[0] if found else None

    def all(self) -> list[StoredCheckpoint]:
        return self._query(sa.select(t.checkpoints).order_by(t.checkpoints.c.checkpoint_id))

    def with_size(self, size: int) -> StoredCheckpoint | None:
        """The latest checkpoint of exactly this size."""
        found = self._query(sa.select(t.checkpoints).where(t.checkpoints.c.size == size)
                            .order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1))
        return found[0] if found else None

    def before(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint | None:
        found = self._query(sa.select(t.checkpoints).where(t.checkpoints.c.checkpoint_id < checkpoint.checkpoint_id)
                            .order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1))
        return found[0] if found else None

    def add(self, *, origin: str, size: int, root: bytes, time: str, key_id: str, note: str) -> StoredCheckpoint:
        with self.engine.begin() as connection:
            inserted = connection.execute(t.checkpoints.insert().values(
                origin=origin, size=size, root=root, time=time, key_id=key_id, note=note)).inserted_primary_key
            assert inserted is not None
            checkpoint_id = inserted[0]
        return StoredCheckpoint(int(checkpoint_id), origin, size, root, time, key_id, note)

    def replace_note(self, checkpoint: StoredCheckpoint, note: str) -> StoredCheckpoint:
        """Store the note with added cosignatures (its text must be the same checkpoint)."""
        if parse_note(note).text != parse_note(checkpoint.note).text:
            raise CheckpointError("a cosigned note must carry the same checkpoint text")
        with self.engine.begin() as connection:
            connection.execute(t.checkpoints.update().where(t.checkpoints.c.checkpoint_id == checkpoint.checkpoint_id)
                               .values(note=note))
        return StoredCheckpoint(checkpoint.checkpoint_id, checkpoint.origin, checkpoint.size, checkpoint.root,
                                checkpoint.time, checkpoint.key_id, note)
