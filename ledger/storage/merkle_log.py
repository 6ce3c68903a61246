"""The region's Merkle log: a catch-up projection of the event store into its own tables.

Every stored event becomes one leaf, in notification order, with a contiguous 0-based leaf index
(notification ids may have gaps; leaf indexes never do). The leaf hash is the RFC 9162 hash of the
stored envelope bytes (`MAGIC ‖ signature ‖ signed statement`), which name the region, aggregate,
version and type, so a leaf commits to the whole row.

`catch_up()` reads notifications after the tracking position a page at a time, appends their leaf
hashes to the compact range in memory (`merkle.append_leaves`), and commits, in ONE transaction, the
page's leaves, every node the page completed, the new size, compact range and root, and the new
tracking position. The state row is advanced by compare-and-set (`WHERE size = old AND position =
old`) before anything else is written, so a crash, a rollback or a second builder never loses or
duplicates a leaf: either the whole page is in the log or none of it is, and the loser of a race
rolls back and continues from the winner's state.

The log answers `NodeReader.get_nodes` in one query, so inclusion and consistency proofs for any
stored size come straight from `ledger.signing.merkle`.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ledger.storage.database import Database
from ledger.signing import merkle
from ledger.signing.statement import SIGNED_OFFSET, event_type_of
from ledger.storage import log_tables as t
from ledger.storage.catch_up import follow

PAGE_EVENTS = 2000  # notifications per transaction
IN_LIST_MAX = 500  # values per `IN (…)` list
_SESSION_RECORDED = "ServiceSession.Recorded"


class LogMoved(RuntimeError):
    """Another builder advanced the log first (this page was rolled back)."""


class LogError(RuntimeError):
    """The log's stored state is not what its leaves say (a lost write or a tampered table)."""


@dataclass(frozen=True, slots=True)
class LogState:
    size: int
    position: int  # the last notification id appended (0 before any)
    compact_range: tuple[bytes, ...]
    root: bytes


@dataclass(frozen=True, slots=True)
class Leaf:
    index: int
    position: int
    aggregate_id: str
    version: int
    event_type: str
    member_id: str | None
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class CatchUp:
    appended: int  # leaves added by this call
    size: int
    position: int


def _member_of_recorded(envelope: bytes) -> str | None:
    try:
        body = envelope[SIGNED_OFFSET:].split(b"\n", 3)[3]
        member = json.loads(body)["payload"]["member_id"]
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    return member if isinstance(member, str) and len(member) <= 36 else None


def _chunks(values: Sequence[Any], size: int = IN_LIST_MAX) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class MerkleLog:
    """The Merkle log of one ledger's event store (see the module docstring).

    `source` is anything with `.database` and `.recorder` (a `Ledger`); `select` overrides how
    notifications are read: `select(after_position, limit)` returns notifications (objects with `id`,
    `originator_id`, `originator_version`, `state`) with ids > `after_position`, ascending.
    """

    _shared: weakref.WeakKeyDictionary[Any, MerkleLog] = weakref.WeakKeyDictionary()

    def __init__(self, source: Any = None, *, database: Database | None = None, engine: sa.Engine | None = None,
                 select: Callable[[int, int], Sequence[Any]] | None = None) -> None:
        self.database: Database | None = database or getattr(source, "database", None)
        recorder = getattr(source, "recorder", None)
        if select is None:
            if recorder is None:
                raise ValueError("a Merkle log needs a ledger (or a recorder / select function) to read events from")
            select = lambda after, limit: recorder.select_notifications(start=after + 1, limit=limit)  # noqa: E731 - the page reader, chosen by store kind
        self._select = select
        self.recorder = recorder
        if engine is None:
            if self.database is None:
                raise ValueError("a Merkle log needs a database or an engine")
            engine = t.create_engine(self.database)
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        self.fault: Callable[[str], None] | None = None  # tests: called between the page's writes
        t.create_tables(engine)
        with engine.begin() as connection:
            row = connection.execute(sa.select(t.state.c.name).where(t.state.c.name == t.STATE_NAME)).first()
            if row is None:
                connection.execute(t.state.insert().values(name=t.STATE_NAME, size=0, position=0, compact_range=b"",
                                                           root=merkle.EMPTY_ROOT))

    @classmethod
    def for_ledger(cls, ledger: Any) -> MerkleLog:
        """The one log object of a ledger (an in-memory store's log lives as long as its ledger)."""
        log = cls._shared.get(ledger)
        if log is None:
            log = cls._shared[ledger] = cls(ledger)
        return log

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # -- state ---------------------------------------------------------------------------------------
    def state(self, connection: sa.Connection | None = None) -> LogState:
        if connection is None:
            with self.engine.connect() as connection:
                return self.state(connection)
        row = connection.execute(sa.select(t.state).where(t.state.c.name == t.STATE_NAME)).one()
        size = int(row.size)
        try:
            peaks = merkle.decode_compact_range(size, bytes(row.compact_range))
        except ValueError as error:
            raise LogError(f"the log's compact range is damaged: {error}") from None
        return LogState(size, int(row.position), tuple(peaks), bytes(row.root))

    @property
    def size(self) -> int:
        return self.state().size

    # -- building ------------------------------------------------------------------------------------
    def catch_up(self, *, page_events: int = PAGE_EVENTS, pages_max: int | None = None) -> CatchUp:
        """Append every event after the tracking position, one page per transaction."""
        followed = follow(self.state(), read=lambda current, limit: self._select(current.position, limit),
                          apply=self._append_page, page_events=page_events, pages_max=pages_max,
                          moved=LogMoved, reload=self.state)
        return CatchUp(followed.events, followed.state.size, followed.state.position)

    def _append_page(self, current: LogState, notifications: Sequence[Any]) -> LogState:
        rows: list[dict[str, Any]] = []
        hashes: list[bytes] = []
        index = current.size
        last_position = current.position
        for notification in notifications:
            position = int(notification.id)
            if position <= last_position:
                raise LogError(f"notification {position} is not after position {last_position}")
            last_position = position
            envelope = bytes(notification.state)
            leaf = merkle.leaf_hash(envelope)
            event_type = event_type_of(envelope)
            rows.append({"leaf_index": index, "position": position, "aggregate_id": str(notification.originator_id),
                         "version": int(notification.originator_version), "event_type": event_type[:64],
                         "member_id": _member_of_recorded(envelope) if event_type == _SESSION_RECORDED else None,
                         "leaf_hash": leaf})
            hashes.append(leaf)
            index += 1
        size, peaks, completed = merkle.append_leaves(current.size, list(current.compact_range), hashes)
        root = merkle.root_from_compact_range(size, peaks)
        node_rows = [{"level": level, "node_index": node_index, "hash": value}
                     for (level, node_index), value in completed.items() if level > 0]
        fault = self.fault
        with self.engine.begin() as connection:
            moved = connection.execute(
                t.state.update()
                .where(t.state.c.name == t.STATE_NAME, t.state.c.size == current.size,
                       t.state.c.position == current.position)
                .values(size=size, position=last_position, compact_range=merkle.encode_compact_range(peaks),
                        root=root)).rowcount
            if moved != 1:
                raise LogMoved("the log moved on under this page")
            if fault is not None:
                fault("state")
            connection.execute(t.leaves.insert(), rows)
            if fault is not None:
                fault("leaves")
            if node_rows:
                connection.execute(t.nodes.insert(), node_rows)
            if fault is not None:
                fault("nodes")
        return LogState(size, last_position, tuple(peaks), root)

    # -- NodeReader and proofs -----------------------------------------------------------------------
    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        """Stored hashes of complete nodes (level 0 from the leaves), in as few queries as possible."""
        found: dict[merkle.NodeKey, bytes] = {}
        leaf_indexes = sorted({index for level, index in keys if level == 0})
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            if level > 0:
                by_level.setdefault(level, []).append(index)
        with self.engine.connect() as connection:
            for chunk in _chunks(leaf_indexes):
                for row in connection.execute(sa.select(t.leaves.c.leaf_index, t.leaves.c.leaf_hash)
                                              .where(t.leaves.c.leaf_index.in_(chunk))):
                    found[(0, int(row.leaf_index))] = bytes(row.leaf_hash)
            # one query for a proof's few nodes; bounded `IN` lists when many are asked for (an audit)
            conditions: list[Any] = []
            values = 0
            for level, indexes in sorted(by_level.items()):
                for chunk in _chunks(sorted(set(indexes))):
                    if conditions and values + len(chunk) > IN_LIST_MAX:
                        self._read_nodes(connection, conditions, found)
                        conditions, values = [], 0
                    conditions.append(sa.and_(t.nodes.c.level == level, t.nodes.c.node_index.in_(chunk)))
                    values += len(chunk)
            if conditions:
                self._read_nodes(connection, conditions, found)
        return found

    @staticmethod
    def _read_nodes(connection: sa.Connection, conditions: list[Any], found: dict[merkle.NodeKey, bytes]) -> None:
        for row in connection.execute(sa.select(t.nodes).where(sa.or_(*conditions))):
            found[(int(row.level), int(row.node_index))] = bytes(row.hash)

    def root_at(self, size: int) -> bytes:
        return merkle.root_at(self, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(self, index, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof(self, size1, size2)

    # -- leaves --------------------------------------------------------------------------------------
    @staticmethod
    def _leaf(row: Any) -> Leaf:
        return Leaf(int(row.leaf_index), int(row.position), row.aggregate_id, int(row.version), row.event_type,
                    row.member_id, bytes(row.leaf_hash))

    def _one(self, condition: Any) -> Leaf | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(t.leaves).where(condition).order_by(t.leaves.c.leaf_index)
                                     .limit(1)).first()
        return None if row is None else self._leaf(row)

    def leaf(self, index: int) -> Leaf | None:
        return self._one(t.leaves.c.leaf_index == index)

    def leaf_at_position(self, position: int) -> Leaf | None:
        return self._one(t.leaves.c.position == position)

    def leaves_at_positions(self, positions: Iterable[int]) -> dict[int, Leaf]:
        """The leaf of each of these notification positions that the log holds, by position."""
        wanted = sorted(set(positions))
        found: dict[int, Leaf] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(wanted):
                for row in connection.execute(sa.select(t.leaves).where(t.leaves.c.position.in_(chunk))):
                    found[int(row.position)] = self._leaf(row)
        return found

    def leaf_of_event(self, aggregate_id: str, version: int) -> Leaf | None:
        return self._one(sa.and_(t.leaves.c.aggregate_id == str(aggregate_id), t.leaves.c.version == version))

    def leaves_of_aggregates(self, aggregate_ids: Iterable[str], *, below: int | None = None) -> list[Leaf]:
        """Every leaf of these aggregates (below leaf index `below`), by aggregate then version."""
        ids = sorted({str(a) for a in aggregate_ids})
        result: list[Leaf] = []
        with self.engine.connect() as connection:
            for chunk in _chunks(ids):
                query = sa.select(t.leaves).where(t.leaves.c.aggregate_id.in_(chunk))
                if below is not None:
                    query = query.where(t.leaves.c.leaf_index < below)
                result.extend(self._leaf(row) for row in connection.execute(query))
        result.sort(key=lambda leaf: (leaf.aggregate_id, leaf.version, leaf.index))
        return result

    def sessions_of_member(self, member_id: str, *, below: int | None = None) -> list[str]:
        """The ids of the sessions recorded for a member (in leaf order)."""
        query = (sa.select(t.leaves.c.aggregate_id)
                 .where(t.leaves.c.member_id == str(member_id), t.leaves.c.event_type == _SESSION_RECORDED)
                 .order_by(t.leaves.c.leaf_index))
        if below is not None:
            query = query.where(t.leaves.c.leaf_index < below)
        with self.engine.connect() as connection:
            return list(dict.fromkeys(row.aggregate_id for row in connection.execute(query)))

    def iter_leaves(self, start: int = 0, stop: int | None = None, *, page: int = 10_000) -> Iterator[Leaf]:
        """Leaves `[start, stop)` in index order, streamed in pages (keyset pagination)."""
        next_index = start
        while True:
            query = sa.select(t.leaves).where(t.leaves.c.leaf_index >= next_index)
            if stop is not None:
                query = query.where(t.leaves.c.leaf_index < stop)
            with self.engine.connect() as connection:
                rows = connection.execute(query.order_by(t.leaves.c.leaf_index).limit(page)).all()
            if not rows:
                return
            for row in rows:
                yield self._leaf(row)
            next_index = int(rows[-1].leaf_index) + 1

    # -- the events behind leaves ----------------------------------------------------------------------
    def envelopes_of(self, leaves: Sequence[Leaf]) -> dict[int, bytes]:
        """The stored envelope of each leaf (by leaf index), read from the event store by aggregate.

        Raises `LogError` if an event is missing or its bytes no longer hash to its leaf: the store
        changed after the event was logged.
        """
        if self.recorder is None:
            raise LogError("this log has no event store to read envelopes from")
        from uuid import UUID

        wanted: dict[str, dict[int, Leaf]] = {}
        for leaf in leaves:
            wanted.setdefault(leaf.aggregate_id, {})[leaf.version] = leaf
        found: dict[int, bytes] = {}
        for aggregate_id, versions in wanted.items():
            low, high = min(versions), max(versions)
            stored = self.recorder.select_events(UUID(aggregate_id), gt=low - 1, lte=high)
            by_version = {int(event.originator_version): bytes(event.state) for event in stored}
            for version, leaf in versions.items():
                envelope = by_version.get(version)
                if envelope is None:
                    raise LogError(f"event {aggregate_id} v{version} (leaf {leaf.index}, position {leaf.position}) "
                                   "is missing from the event store")
                if merkle.leaf_hash(envelope) != leaf.leaf_hash:
                    raise LogError(f"event {aggregate_id} v{version} (leaf {leaf.index}, position {leaf.position}) "
                                   "changed in the event store after it was logged")
                found[leaf.index] = envelope
        return found
