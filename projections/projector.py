"""The projector: the event log, page by page, into the read-model tables.

`Views(ledger).catch_up()` reads notifications after the tracking position in pages
(`PAGE_EVENTS`), applies each event of a page to an in-memory change set, then writes the change
set and the new tracking position in ONE transaction. A crash at any point therefore neither loses
nor double-counts an event: either the page's rows and its position are committed, or neither is.
The tracking row is advanced by compare-and-set, so two projectors on one database cannot both
apply a page (the loser rolls back and reloads).

Counters (balances, a member's yearly totals) are written as increments, so a page needs no read
of the rows it bumps. Events that must look at earlier state (a certification needs its session's
member, year and rating; a member-year's set of posts served) read it from small two-generation
caches, filled from the database on a miss: memory stays bounded however long the log is. Within
one transaction the ledger stores events grouped by aggregate, not in command order (an order's
Fulfilled can precede its session's Recorded); the handlers accept either order.

Points and stars are derived data: a page marks the member-years whose counts, member facts or
scoring policy changed as `stale` (in its own transaction), and `rescore_stale()` — run at the
end of every catch-up, under the tracking row's lock — scores them from their committed counts and
the policy in force for the year (see `PolicyBook`), with the domain's rules
(`ledger.domain.scoring.score_totals`, the one place scoring is written). Queries score a row
that is still stale on the fly, so they never show an outdated star.
"""

from __future__ import annotations

import json
import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from ledger.domain.service_session import ServiceSession
from ledger.storage.catch_up import follow
from ledger.storage.mapper import upcast_payload
from ledger.domain.scoring import (
    PolicyAdoption,
    Score,
    YearTotals,
    missing_requirements,
    policy_version_for_year,
    score_totals,
)
from ledger.domain.values import CHINA_TIME, Rating
from ledger.storage.database import Database
from projections import schema as t
from projections.decode import Fact, Notification, NotificationReader, decode_page

log = logging.getLogger(__name__)

PAGE_EVENTS = 1000  # notifications per transaction: per-page commits are ~25x faster than per event
CACHE_ROWS_MAX = 20_000  # rows per cache generation (two generations): bounds memory on any log
IN_LIST_MAX = 500  # ids per `IN (…)` list
RESCORE_BATCH_ROWS = 5_000  # member-years scored per transaction

SCORE_COLUMNS = ("missing", "points_scaled", "policy_version", "requirements_met", "stale", "stars")
ORDER_CACHED = ("menu_item_id", "session_id")
SESSION_CACHED = ("member_id", "year", "status", "rating", "certified_minutes", "complaint_upheld", "item_key",
                  "order_fulfilled", "assurance")


class ProjectionError(RuntimeError):
    """An event the views cannot apply (it references a row no earlier event made)."""


class TrackingMoved(RuntimeError):
    """Another projector advanced the tracking position first."""


def local_day(time: str) -> str:
    """The China calendar date (ISO) of an event time."""
    if time.endswith("+08:00"):
        return time[:10]
    return datetime.fromisoformat(time).astimezone(CHINA_TIME).date().isoformat()


# -------------------------------------------------------------------------------------------------
# Scoring policy resolution


@dataclass
class PolicyBook:
    """The scoring policies, adoptions and re-scorings the views hold; which version scores a year
    is the domain's rule (`scoring.policy_version_for_year`)."""

    rules: dict[int, dict[str, Any]] = field(default_factory=dict)
    adoptions: list[PolicyAdoption] = field(default_factory=list)
    rescorings: dict[int, int] = field(default_factory=dict)  # year -> version (the latest re-scoring)

    def version_for(self, year: int) -> int | None:
        return policy_version_for_year(year, adoptions=self.adoptions, rescorings=self.rescorings)

    def score(self, year: int, totals: YearTotals) -> tuple[int | None, Score | None, tuple[str, ...]]:
        """(version, score, requirements missed) of a member-year: no score when no policy's rules
        cover the year (the requirements are the domain's all the same)."""
        version = self.version_for(year)
        rules = self.rules.get(version) if version is not None else None
        if rules is None:
            return version, None, missing_requirements(totals)
        result = score_totals(rules, totals)
        return version, result, result.missing

    @classmethod
    def load(cls, connection: sa.Connection) -> PolicyBook:
        book = cls()
        for row in connection.execute(sa.select(t.policies.c.version, t.policies.c.rules_json)):
            book.rules[row.version] = json.loads(row.rules_json)
        for row in connection.execute(sa.select(t.policy_adoptions).order_by(t.policy_adoptions.c.position)):
            book.adoptions.append(PolicyAdoption(position=row.position, from_year=row.from_year, version=row.version,
                                                 adopted_year=int(row.adopted_on[:4])))
        for row in connection.execute(sa.select(t.rescorings).order_by(t.rescorings.c.position)):
            book.rescorings[row.year] = row.version
        return book


# -------------------------------------------------------------------------------------------------
# One page's changes


Key = tuple[Any, ...]


class _Page:
    """Row changes of one page, in memory until they are written in one transaction."""

    def __init__(self) -> None:
        self.member_wide_deletes: dict[sa.Table, set[str]] = defaultdict(set)  # every row of a member
        self.deletes: dict[sa.Table, set[Key]] = defaultdict(set)
        self.inserts: dict[sa.Table, dict[Key, dict[str, Any]]] = defaultdict(dict)
        self.upserts: dict[sa.Table, dict[Key, dict[str, Any]]] = defaultdict(dict)
        self.updates: dict[sa.Table, dict[Key, dict[str, Any]]] = defaultdict(dict)
        self.increments: dict[sa.Table, dict[Key, dict[str, int]]] = defaultdict(dict)
        self.member_years: dict[Key, dict[str, int]] = {}
        self.item_deltas: dict[Key, dict[str, int]] = {}  # (member, year) -> item key -> sessions
        self.items_settled: dict[Key, dict[str, int]] = {}  # (member, year) -> the items after this page
        self.dirty_member_years: set[Key] = set()
        self.dirty_members: set[str] = set()
        self.policy_changed = False
        self.pending_fulfilments: list[str] = []  # sessions whose order was fulfilled before they showed up

    def insert(self, table: sa.Table, key: Key, row: dict[str, Any]) -> None:
        """A row no earlier event made (its aggregate's creation)."""
        assert key not in self.inserts[table], (table.name, key)
        self.inserts[table][key] = row

    def replace(self, table: sa.Table, key: Key, row: dict[str, Any]) -> None:
        """Insert the row, or overwrite the row with this key."""
        self.deletes[table].discard(key)
        self.updates[table].pop(key, None)
        self.increments[table].pop(key, None)
        self.inserts[table].pop(key, None)
        self.upserts[table][key] = row

    def delete(self, table: sa.Table, key: Key) -> None:
        self.inserts[table].pop(key, None)
        self.upserts[table].pop(key, None)
        self.updates[table].pop(key, None)
        self.deletes[table].add(key)

    def _pending_row(self, table: sa.Table, key: Key) -> dict[str, Any] | None:
        row = self.inserts[table].get(key)
        return row if row is not None else self.upserts[table].get(key)

    def update(self, table: sa.Table, key: Key, values: dict[str, Any]) -> None:
        pending = self._pending_row(table, key)
        if pending is not None:
            pending.update(values)
        else:
            self.updates[table].setdefault(key, {}).update(values)

    def increment(self, table: sa.Table, key: Key, deltas: dict[str, int]) -> None:
        pending = self._pending_row(table, key)
        target = pending if pending is not None else self.increments[table].setdefault(key, {})
        for column, delta in deltas.items():
            target[column] = target.get(column, 0) + delta

    def bump_member_year(self, member_id: str, year: int, deltas: dict[str, int]) -> None:
        key = (member_id, year)
        counts = self.member_years.setdefault(key, {})
        for column, delta in deltas.items():
            counts[column] = counts.get(column, 0) + delta
        self.dirty_member_years.add(key)

    def bump_item(self, member_id: str, year: int, item_key: str, delta: int) -> None:
        deltas = self.item_deltas.setdefault((member_id, year), {})
        deltas[item_key] = deltas.get(item_key, 0) + delta


class _Cache:
    """Rows by key in two generations: a full young generation becomes the old one."""

    def __init__(self, rows_max: int = CACHE_ROWS_MAX) -> None:
        self.rows_max = rows_max
        self.young: dict[str, dict[str, Any]] = {}
        self.old: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.young.get(key)
        if row is None:
            row = self.old.get(key)
            if row is not None:
                self.put(key, row)
        return row

    def put(self, key: str, row: dict[str, Any]) -> None:
        self.young[key] = row
        if len(self.young) >= self.rows_max:
            self.old, self.young = self.young, {}

    def clear(self) -> None:
        self.young, self.old = {}, {}


# -------------------------------------------------------------------------------------------------
# The views


@dataclass(frozen=True)
class CatchUpResult:
    events: int  # notifications read (applied or ignored)
    position: int  # the tracking position afterwards
    pages: int


class Views:
    """The read models of one ledger, and the loop that keeps them up to date.

    `source` is the ledger (anything with `.database` and `.recorder`). `engine` defaults to the
    ledger's own database (an in-memory SQLite database for the `memory:` store).
    """

    def __init__(self, source: Any, *, engine: sa.Engine | None = None, database: Database | None = None) -> None:
        self.recorder = source.recorder
        self.reader = NotificationReader(source.recorder)
        self.database: Database = database or source.database
        self.engine = engine or t.create_view_engine(self.database)
        self._owns_engine = engine is None
        self._sessions = _Cache()
        self._orders = _Cache()
        self._suggestions = _Cache()
        self._items = _Cache()  # "member|year" -> {item key: sessions}
        self._book = PolicyBook()
        self._memory_position: int | None = None  # the position the caches describe
        self._insert = pg_dialect.insert if self.engine.dialect.name == "postgresql" else sqlite_dialect.insert
        self._statements: dict[tuple[str, str, tuple[str, ...]], Any] = {}
        self._compiled: dict[tuple[str, sa.Table, tuple[str, ...]], tuple[str, Callable[[Any], Any] | None]] = {}
        self._reader: sa.Connection | None = None  # lookups while a page is applied
        self._handlers: dict[str, Callable[[Fact, _Page], None]] = {
            name[4:].replace("__", "."): getattr(self, name) for name in dir(self) if name.startswith("_on_")
        }
        self.handled_types = frozenset(self._handlers)
        self.setup()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # -- schema and tracking -----------------------------------------------------------------------
    def setup(self) -> None:
        """Create the tables; drop and recreate them when they were made by another VIEWS_VERSION."""
        with self.engine.begin() as connection:
            t.tracking.create(connection, checkfirst=True)
            row = connection.execute(sa.select(t.tracking).where(t.tracking.c.name == t.TRACKING_NAME)).first()
            if row is not None and row.views_version != t.VIEWS_VERSION:
                log.info("views version %s != %s: dropping the views for a rebuild", row.views_version,
                         t.VIEWS_VERSION)
                t.metadata.drop_all(connection, tables=list(t.VIEW_TABLES), checkfirst=True)
                connection.execute(t.tracking.delete().where(t.tracking.c.name == t.TRACKING_NAME))
                row = None
            t.metadata.create_all(connection, tables=list(t.VIEW_TABLES), checkfirst=True)
            if row is None:
                connection.execute(t.tracking.insert().values(name=t.TRACKING_NAME, position=0,
                                                              views_version=t.VIEWS_VERSION))
        self._reset_memory()

    def position(self) -> int:
        with self.engine.connect() as connection:
            return self._read_position(connection)

    @staticmethod
    def _read_position(connection: sa.Connection) -> int:
        position = connection.execute(sa.select(t.tracking.c.position)
                                      .where(t.tracking.c.name == t.TRACKING_NAME)).scalar_one()
        return int(position)

    def _reset_memory(self) -> None:
        """Forget cached rows and reload the policy book: after a rollback, or another writer."""
        self._sessions.clear()
        self._orders.clear()
        self._suggestions.clear()
        self._items.clear()
        with self.engine.connect() as connection:
            self._book = PolicyBook.load(connection)
            self._memory_position = self._read_position(connection)

    def rebuild(self, *, page_events: int = PAGE_EVENTS) -> CatchUpResult:
        """Empty every view and project the whole log again from position 0."""
        with self.engine.begin() as connection:
            # Dropping and creating the tables is far cheaper than deleting every row (a DELETE
            # writes every page of the old views to the WAL); both are transactional.
            t.metadata.drop_all(connection, tables=list(t.VIEW_TABLES))
            t.metadata.create_all(connection, tables=list(t.VIEW_TABLES))
            connection.execute(t.tracking.update().where(t.tracking.c.name == t.TRACKING_NAME).values(position=0))
        self._reset_memory()
        return self.catch_up(page_events=page_events)

    # -- the catch-up loop ---------------------------------------------------------------------------
    def catch_up(self, *, page_events: int = PAGE_EVENTS, events_max: int | None = None) -> CatchUpResult:
        """Apply every event after the tracking position (at most `events_max`), a page per transaction."""
        position = self.position()
        if position != self._memory_position:
            self._reset_memory()

        def apply(after: int, notifications: Sequence[Notification]) -> int:
            self.apply_page(notifications, after)
            return int(notifications[-1].id)

        followed = follow(position, read=lambda after, limit: self.reader.page(after + 1, limit), apply=apply,
                          page_events=page_events, events_max=events_max)
        self.rescore_stale()
        return CatchUpResult(events=followed.events, position=followed.state, pages=followed.pages)

    def apply_page(self, notifications: Sequence[Notification], position: int) -> None:
        """Apply one page after `position` and commit it with the new tracking position."""
        assert notifications and notifications[0].id > position
        new_position = notifications[-1].id
        page = _Page()
        try:
            for fact in decode_page(notifications, self.handled_types):
                try:
                    self._handlers[fact.type](fact, page)
                except ProjectionError:
                    raise
                except (KeyError, TypeError, ValueError) as error:
                    raise ProjectionError(f"cannot apply {fact.type} at position {fact.position} to aggregate "
                                          f"{fact.aggregate_id}: {type(error).__name__}") from error
            self._settle_fulfilments(page)
            self._settle_items(page)
            self._close_reader()
            with self.engine.begin() as connection:
                moved = connection.execute(
                    t.tracking.update()
                    .where(t.tracking.c.name == t.TRACKING_NAME, t.tracking.c.position == position)
                    .values(position=new_position)).rowcount
                if moved != 1:
                    raise TrackingMoved(f"the views are no longer at position {position}")
                self._write(connection, page)
                self._mark_stale(connection, page)
        except BaseException:
            self._close_reader()
            self._reset_memory()
            raise
        self._memory_position = new_position

    def _settle_items(self, page: _Page) -> None:
        """The items (posts, menu items) each touched member-year has served, after this page:
        the cached (or stored) ones plus the page's changes; items with no session left go."""
        missing = [key for key in page.item_deltas if self._items.get(f"{key[0]}|{key[1]}") is None]
        if missing:  # one query for the page's member-years the cache does not hold
            my = t.member_years
            if self._reader is None:
                self._reader = self.engine.connect()
            wanted = set(missing)
            found: dict[tuple[str, int], dict[str, Any]] = {key: {} for key in missing}
            for chunk in _chunks(sorted({member_id for member_id, _ in missing})):
                for row in self._reader.execute(sa.select(my.c.member_id, my.c.year, my.c.items_json)
                                                .where(my.c.member_id.in_(chunk))).all():
                    if (row.member_id, row.year) in wanted:
                        found[(row.member_id, row.year)] = json.loads(row.items_json)
            for (member_id, year), loaded in found.items():
                self._items.put(f"{member_id}|{year}", loaded)
        for key, deltas in page.item_deltas.items():
            member_id, year = key
            items = self._items.get(f"{member_id}|{year}")
            assert items is not None
            for item_key, delta in deltas.items():
                sessions = items.get(item_key, 0) + delta
                assert sessions >= 0, (key, item_key, sessions)
                if sessions:
                    items[item_key] = sessions
                else:
                    items.pop(item_key, None)
            page.items_settled[key] = items
            page.bump_member_year(member_id, year, {})  # the row is written (with its items) this page

    def _settle_fulfilments(self, page: _Page) -> None:
        """An order fulfilled before its session was seen: a session recorded later in this page
        read the fulfilment from the order; one recorded in an earlier page is updated now; one
        not recorded yet (later in the same transaction, in the next page) will read it then."""
        for session_id in page.pending_fulfilments:
            if (session_id,) in page.inserts[t.sessions]:
                continue
            if self._cached_or_none(self._sessions, t.sessions, session_id, SESSION_CACHED) is not None:
                self._change_session(page, session_id, {"order_fulfilled": True})

    # -- writing a page --------------------------------------------------------------------------------
    def _write(self, connection: sa.Connection, page: _Page) -> None:
        for table, member_ids in page.member_wide_deletes.items():
            for chunk in _chunks(sorted(member_ids)):
                connection.execute(table.delete().where(table.c.member_id.in_(chunk)))
        for table, keys in page.deletes.items():
            if keys:
                pk = list(table.primary_key.columns)
                self._many(connection, ("delete", table, ()), [
                    {f"k_{c.name}": k for c, k in zip(pk, key)} for key in keys])
        for table in t.VIEW_TABLES:
            width = len(table.columns)
            rows = page.inserts.get(table)
            if rows:
                self._many(connection, ("insert", table, ()), [
                    row if len(row) == width else _complete(table, row) for row in rows.values()])
            rows = page.upserts.get(table)
            if rows:
                self._many(connection, ("upsert", table, ()), [
                    row if len(row) == width else _complete(table, row) for row in rows.values()])
        for table, changes in page.updates.items():
            self._write_changes(connection, "update", table, changes)
        for table, deltas in page.increments.items():
            self._write_changes(connection, "increment", table, deltas)
        plain, with_items = [], []
        for (m, y), counts in page.member_years.items():
            row = _complete(t.member_years, {"member_id": m, "year": y, **counts})
            items = page.items_settled.get((m, y))
            if items is None:
                plain.append(row)
            else:
                row.update(items=len(items), items_json=json.dumps(items, sort_keys=True, ensure_ascii=False))
                with_items.append(row)
        if plain:
            self._many(connection, ("count", t.member_years, t.MEMBER_YEAR_COUNTS), plain)
        if with_items:
            self._many(connection, ("count_items", t.member_years, t.MEMBER_YEAR_COUNTS), with_items)

    def _write_changes(self, connection: sa.Connection, kind: str, table: sa.Table,
                       changes: dict[Key, dict[str, Any]]) -> None:
        """UPDATEs (`kind` "update": set values; "increment": add deltas), one executemany per
        set of columns."""
        pk = list(table.primary_key.columns)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for key, values in changes.items():
            if values:
                row = {f"v_{c}": v for c, v in values.items()}
                row.update({f"k_{c.name}": k for c, k in zip(pk, key)})
                groups[tuple(sorted(values))].append(row)
        for columns, rows in groups.items():
            changed = self._many(connection, (kind, table, columns), rows)
            if kind == "increment" and changed not in (-1, len(rows)):
                raise ProjectionError(f"{table.name}: an increment names a row no event created")

    def _many(self, connection: sa.Connection, statement_key: tuple[str, sa.Table, tuple[str, ...]],
              rows: list[dict[str, Any]]) -> int:
        """executemany on the DBAPI cursor with the statement compiled once: SQLAlchemy's own
        executemany spends more time preparing each row's parameters than the database spends
        writing it. Returns the rows changed (-1 when the driver does not say)."""
        compiled = self._compiled.get(statement_key)
        if compiled is None:
            kind, table, columns = statement_key
            statement = self._statement(kind, table, columns)
            kwargs: dict[str, Any] = {}
            translate = self.engine.get_execution_options().get("schema_translate_map")
            if translate:  # PostgreSQL in a schema: name it in the SQL (the raw cursor has no map)
                kwargs.update(schema_translate_map=translate, render_schema_translate=True)
            result = statement.compile(dialect=self.engine.dialect, **kwargs)
            getter = _tuple_getter(list(result.positiontup or [])) if result.positional else None
            compiled = self._compiled[statement_key] = (result.string, getter)
        sql, getter = compiled
        parameters: list[Any] = rows if getter is None else list(map(getter, rows))
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(sql, parameters)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _statement(self, kind: str, table: sa.Table, columns: tuple[str, ...] = ()) -> Any:
        """Statements built once (SQLAlchemy then reuses their compiled form)."""
        key = (kind, table.name, columns)
        statement = self._statements.get(key)
        if statement is not None:
            return statement
        pk = list(table.primary_key.columns)
        where = [c == sa.bindparam(f"k_{c.name}") for c in pk]
        if kind == "delete":
            statement = table.delete().where(*where)
        elif kind == "insert":
            statement = table.insert()
        elif kind == "upsert":
            statement = self._insert(table)
            upsert = {c.name: statement.excluded[c.name] for c in table.columns if c not in pk}
            statement = (statement.on_conflict_do_update(index_elements=pk, set_=upsert) if upsert
                         else statement.on_conflict_do_nothing(index_elements=pk))
        elif kind in ("count", "count_items"):  # INSERT … ON CONFLICT DO UPDATE SET c = c + excluded.c
            statement = self._insert(table)
            values: dict[str, Any] = {c: table.c[c] + statement.excluded[c] for c in columns}
            values["stale"] = sa.true()
            if kind == "count_items":  # and the member-year's items, computed from the cached ones
                values.update(items=statement.excluded["items"], items_json=statement.excluded["items_json"])
            statement = statement.on_conflict_do_update(index_elements=pk, set_=values)
        elif kind == "update":
            statement = table.update().where(*where).values({c: sa.bindparam(f"v_{c}") for c in columns})
        elif kind == "increment":
            statement = table.update().where(*where).values({c: table.c[c] + sa.bindparam(f"v_{c}") for c in columns})
        elif kind == "lookup":
            statement = sa.select(*[table.c[c] for c in columns]).where(*where)
        else:  # pragma: no cover
            raise AssertionError(kind)
        self._statements[key] = statement
        return statement

    # -- points and stars ------------------------------------------------------------------------------
    def _mark_stale(self, connection: sa.Connection, page: _Page) -> None:
        """Member-years whose score may have changed: those whose counts changed (the counting
        upsert marks them), every year of a member whose reporting or posts changed, every row
        when a policy was published, adopted or a year re-scored."""
        my = t.member_years
        if page.policy_changed:
            connection.execute(my.update().where(my.c.stale.is_(False)).values(stale=True))
        elif page.dirty_members:
            for chunk in _chunks(sorted(page.dirty_members)):
                connection.execute(my.update().where(my.c.member_id.in_(chunk), my.c.stale.is_(False))
                                   .values(stale=True))

    def rescore_stale(self) -> int:
        """Score every stale member-year from its committed counts; returns how many. Runs under
        the tracking row's lock, so no page changes the counts meanwhile."""
        rescored = 0
        while True:
            with self.engine.begin() as connection:
                connection.execute(t.tracking.update().where(t.tracking.c.name == t.TRACKING_NAME)
                                   .values(position=t.tracking.c.position))  # take the lock
                self._book = PolicyBook.load(connection)
                rows = connection.execute(_facts_query(stale_only=True).limit(RESCORE_BATCH_ROWS)).all()
                if not rows:
                    return rescored
                self._many(connection, ("update", t.member_years, SCORE_COLUMNS), [self._score_row(r) for r in rows])
                rescored += len(rows)

    def _score_row(self, row: Any) -> dict[str, Any]:
        reported = row.reported_on is not None and int(row.reported_on[:4]) <= row.year
        totals = YearTotals(
            sessions=row.sessions, minutes_excellent=row.minutes_excellent, minutes_good=row.minutes_good,
            minutes_fair=row.minutes_fair, assured_minutes=t.assured_minutes(row), items=row.items,
            excellent_orders=row.excellent_orders,
            suggestions=row.suggestions, adopted_suggestions=row.adopted_suggestions, reported=reported,
            exempted=bool(row.exempted), claimed_posts=row.claimed_posts if reported else 0)
        version, result, missing = self._book.score(row.year, totals)
        return {"k_member_id": row.member_id, "k_year": row.year, "v_stale": False, "v_policy_version": version,
                "v_points_scaled": result.points_scaled if result is not None else None,
                "v_stars": result.stars if result is not None else 0, "v_requirements_met": not missing,
                "v_missing": "；".join(missing)}

    # -- cached rows -----------------------------------------------------------------------------------
    def _cached(self, cache: _Cache, table: sa.Table, key: str, columns: Sequence[str]) -> dict[str, Any]:
        row = self._cached_or_none(cache, table, key, columns)
        if row is None:
            raise ProjectionError(f"{table.name} has no row {key}")
        return row

    def _cached_or_none(self, cache: _Cache, table: sa.Table, key: str,
                        columns: Sequence[str]) -> dict[str, Any] | None:
        row = cache.get(key)
        if row is None:
            if self._reader is None:
                self._reader = self.engine.connect()
            pk = next(iter(table.primary_key.columns))
            found = self._reader.execute(self._statement("lookup", table, tuple(columns)),
                                         {f"k_{pk.name}": key}).first()
            if found is None:
                return None
            row = dict(found._mapping)
            cache.put(key, row)
        return row

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _order(self, order_id: str) -> dict[str, Any]:
        return self._cached(self._orders, t.orders, order_id, ORDER_CACHED)

    def _session(self, session_id: str) -> dict[str, Any]:
        return self._cached(self._sessions, t.sessions, session_id, SESSION_CACHED)

    def _change_session(self, page: _Page, session_id: str, values: dict[str, Any]) -> None:
        """Update a session and move its contribution to the member's yearly totals."""
        session = self._session(session_id)
        before = _contribution(session)
        for column in SESSION_CACHED:
            if column in values:
                session[column] = values[column]
        after = _contribution(session)
        page.update(t.sessions, (session_id,), values)
        if before != after:
            _apply_contribution(page, before, -1)
            _apply_contribution(page, after, +1)

    # =================================================================================================
    # Event handlers: `_on_<Aggregate>__<Event>`. Each mirrors its aggregate's applier.

    # -- region and scoring policy -------------------------------------------------------------------
    def _on_Region__Initialised(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.region, (fact.aggregate_id,), {"region_id": fact.aggregate_id, "code": p["code"],
                                                       "name": p["name"], "display_name": p["display_name"],
                                                       "storage_cap_minutes": None})

    def _on_Region__SettingsChanged(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.update(t.region, (fact.aggregate_id,), {"display_name": p["display_name"],
                                                      "storage_cap_minutes": p["storage_cap_minutes"]})

    def _on_Region__ReportDeadlineSet(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.report_deadlines, (p["year"],), {"year": p["year"], "deadline": p["deadline"]})

    def _on_Region__CalendarPublished(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.calendars, (p["year"],), {
            "year": p["year"], "version": p["version"], "holidays_json": json.dumps(p["holidays"]),
            "workdays_json": json.dumps(p["workdays"]), "source": p["source"], "published_on": p["published_on"]})

    def _on_Region__PolicyAdopted(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        day = local_day(fact.time)
        page.insert(t.policy_adoptions, (fact.position,), {"position": fact.position, "from_year": p["from_year"],
                                                            "version": p["version"], "adopted_on": day})
        self._book.adoptions.append(PolicyAdoption(position=fact.position, from_year=p["from_year"],
                                                   version=p["version"], adopted_year=int(day[:4])))
        page.policy_changed = True

    def _on_Region__YearRescored(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.rescorings, (fact.position,), {"position": fact.position, "year": p["year"],
                                                      "version": p["version"], "rescored_on": local_day(fact.time)})
        self._book.rescorings[p["year"]] = p["version"]  # events arrive in log order: the latest wins
        page.policy_changed = True

    def _on_ScoringPolicy__Published(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.policies, (p["version"],), {
            "version": p["version"], "rules_json": json.dumps(p["rules"], ensure_ascii=False, sort_keys=True),
            "note": p["note"], "published_on": local_day(fact.time)})
        self._book.rules[p["version"]] = p["rules"]
        page.policy_changed = True

    # -- units, communities, counters ------------------------------------------------------------------
    def _on_Unit__Registered(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.units, (fact.aggregate_id,), {
            "unit_id": fact.aggregate_id, "position": fact.position, "name": p["name"], "unit_type": p["unit_type"],
            "declared_members": p["declared_members"], "community_id": None, "registered_on": local_day(fact.time)})

    def _on_Unit__MembersDeclared(self, fact: Fact, page: _Page) -> None:
        page.update(t.units, (fact.aggregate_id,), {"declared_members": fact.payload["count"]})

    def _on_Unit__Paired(self, fact: Fact, page: _Page) -> None:
        page.update(t.units, (fact.aggregate_id,), {"community_id": fact.payload["community_id"]})

    def _on_Community__Registered(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.communities, (fact.aggregate_id,), {
            "community_id": fact.aggregate_id, "position": fact.position, "name": p["name"], "county": p["county"],
            "street": p["street"],
            "registered_on": local_day(fact.time)})

    def _on_Community__PostDefined(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.posts, (p["post_id"],), {"post_id": p["post_id"], "community_id": fact.aggregate_id,
                                                 "name": p["name"], "standard": bool(p["standard"]),
                                                 "retired": False})

    def _on_Community__PostRetired(self, fact: Fact, page: _Page) -> None:
        page.update(t.posts, (fact.payload["post_id"],), {"retired": True})

    def _on_Community__TeamFormed(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.teams, (p["team_id"],), {"team_id": p["team_id"], "community_id": fact.aggregate_id,
                                                "name": p["name"], "kind": p["kind"]})

    def _on_Community__MenuItemPublished(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.menu_items, (p["item_id"],), {"item_id": p["item_id"], "community_id": fact.aggregate_id,
                                                      "title": p["title"], "post_id": p["post_id"],
                                                      "withdrawn": False})

    def _on_Community__MenuItemWithdrawn(self, fact: Fact, page: _Page) -> None:
        page.update(t.menu_items, (fact.payload["item_id"],), {"withdrawn": True})

    def _on_Counter__Opened(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.counters, (fact.aggregate_id,), {"counter_id": fact.aggregate_id,
                                                        "community_id": p["community_id"], "name": p["name"]})

    # -- members ----------------------------------------------------------------------------------------
    def _on_Member__Enrolled(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.members, (fact.aggregate_id,), {
            "member_id": fact.aggregate_id, "name": p["name"], "unit_id": p["unit_id"],
            "party_status": p["party_status"], "job_title": p["job_title"], "enrolled_on": local_day(fact.time)})

    def _on_Member__Registered(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        profile = p["profile"]
        page.update(t.members, (fact.aggregate_id,), {
            "community_id": p["community_id"], "reported_on": p["reported_on"], "report_late": bool(p["late"]),
            "slip_id": p["slip_id"], "willing_other_service": bool(p["willing_other_service"]),
            "has_personal": bool(p["personal_sealed"]),
            **{name: profile.get(name) for name in ("sex", "education", "party_joined", "specialities", "hobbies",
                                                     "available_time")}})
        page.dirty_members.add(fact.aggregate_id)

    def _on_Member__PostClaimed(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.member_posts, (fact.aggregate_id, p["post_id"]), {
            "member_id": fact.aggregate_id, "post_id": p["post_id"], "post_name": p["post_name"],
            "claimed_on": local_day(fact.time)})
        page.dirty_members.add(fact.aggregate_id)

    def _on_Member__PostReleased(self, fact: Fact, page: _Page) -> None:
        page.delete(t.member_posts, (fact.aggregate_id, fact.payload["post_id"]))
        page.dirty_members.add(fact.aggregate_id)

    def _on_Member__JoinedTeam(self, fact: Fact, page: _Page) -> None:
        team_id = fact.payload["team_id"]
        page.replace(t.member_teams, (fact.aggregate_id, team_id), {"member_id": fact.aggregate_id,
                                                                     "team_id": team_id})

    def _on_Member__LeftTeam(self, fact: Fact, page: _Page) -> None:
        page.delete(t.member_teams, (fact.aggregate_id, fact.payload["team_id"]))

    def _on_Member__ExemptionGranted(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.exemptions, (fact.aggregate_id, p["year"]), {
            "member_id": fact.aggregate_id, "year": p["year"], "reason": p["reason"],
            "granted_on": local_day(fact.time)})
        page.bump_member_year(fact.aggregate_id, p["year"], {})

    def _on_Member__ExemptionWithdrawn(self, fact: Fact, page: _Page) -> None:
        year = fact.payload["year"]
        page.delete(t.exemptions, (fact.aggregate_id, year))
        page.bump_member_year(fact.aggregate_id, year, {})

    def _on_Member__ConsentGiven(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.consents, (fact.aggregate_id, p["consent_id"]), {
            "member_id": fact.aggregate_id, "consent_id": p["consent_id"], "purpose": p["purpose"],
            "recipient": p["recipient"]})

    def _on_Member__ConsentWithdrawn(self, fact: Fact, page: _Page) -> None:
        page.delete(t.consents, (fact.aggregate_id, fact.payload["consent_id"]))

    def _on_Member__PersonalDataErased(self, fact: Fact, page: _Page) -> None:
        page.update(t.members, (fact.aggregate_id,), {"personal_erased": True})

    def _on_Member__Frozen(self, fact: Fact, page: _Page) -> None:
        page.update(t.members, (fact.aggregate_id,), {"frozen": True})

    def _on_Member__Unfrozen(self, fact: Fact, page: _Page) -> None:
        page.update(t.members, (fact.aggregate_id,), {"frozen": False})

    def _on_Member__Closed(self, fact: Fact, page: _Page) -> None:
        page.update(t.members, (fact.aggregate_id,), {"frozen": False, "closed_on": local_day(fact.time),
                                                      "destination": fact.payload["destination"]})

    def _on_Member__Reopened(self, fact: Fact, page: _Page) -> None:
        """A member who moved away comes back: a fresh start (no unit, community, posts, teams)."""
        member_id = fact.aggregate_id
        page.update(t.members, (member_id,), {
            "closed_on": None, "destination": None, "frozen": False, "community_id": None, "unit_id": None,
            "reported_on": None, "report_late": False})
        for table in (t.member_posts, t.member_teams):
            for key in [key for key in page.inserts[table] if key[0] == member_id]:
                page.delete(table, key)
            page.member_wide_deletes[table].add(member_id)
        page.dirty_members.add(member_id)

    def _on_Member__JoinedUnit(self, fact: Fact, page: _Page) -> None:
        page.update(t.members, (fact.aggregate_id,), {"unit_id": fact.payload["unit_id"]})

    def _on_Member__HistoryImported(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.replace(t.imported_histories, (fact.aggregate_id, p["transfer_id"]), {
            "member_id": fact.aggregate_id, "transfer_id": p["transfer_id"], "source": p["source"],
            "summary_json": json.dumps(p["summary"], ensure_ascii=False, sort_keys=True),
            "imported_on": local_day(fact.time)})
        if p.get("personal_sealed"):
            page.update(t.members, (fact.aggregate_id,), {"has_personal": True, "personal_erased": False})

    def _on_ReportSlip__Issued(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.slips, (fact.aggregate_id,), {
            "slip_id": fact.aggregate_id, "member_id": p["member_id"], "unit_id": p["unit_id"],
            "community_id": p["community_id"], "issued_on": p["issued_on"], "deadline": p["deadline"],
            "receipt_sent_on": None})

    def _on_ReportSlip__ReceiptSent(self, fact: Fact, page: _Page) -> None:
        page.update(t.slips, (fact.aggregate_id,), {"receipt_sent_on": fact.payload["sent_on"]})

    # -- service sessions and orders --------------------------------------------------------------------
    def _on_ServiceSession__Recorded(self, fact: Fact, page: _Page) -> None:
        p = upcast_payload(ServiceSession.Recorded, fact.payload)  # v1 statements: self-reported
        if p["post_id"] is not None:
            item_key = f"post:{p['post_id']}"
        elif p["order_id"] is not None:
            item_key = f"menu:{self._order(p['order_id'])['menu_item_id']}"
        else:
            item_key = f"activity:{p['activity']}"
        # In one transaction the events are grouped by aggregate, not by command: an order placed
        # earlier in the same batch has its Fulfilled event stored before this session's events.
        fulfilled = p["order_id"] is not None and self._order(p["order_id"])["session_id"] == fact.aggregate_id
        row = {
            "session_id": fact.aggregate_id, "position": fact.position, "member_id": p["member_id"],
            "community_id": p["community_id"], "year": int(p["service_date"][:4]),
            "service_date": p["service_date"], "start_time": p["start_time"], "end_time": p["end_time"],
            "activity": p["activity"], "content": p["content"], "place": p["place"], "minutes": p["minutes"],
            "post_id": p["post_id"], "order_id": p["order_id"], "item_key": item_key, "organiser": p["organiser"],
            "recipient": p["recipient"], "recorded_on": p["recorded_on"], "late": bool(p["late"]),
            "assurance": p["assurance"], "status": "recorded", "rating": None, "certified_minutes": 0,
            "certified_by": None, "certified_on": None, "complaint_upheld": False, "corrections": 0,
            "order_fulfilled": fulfilled, "rejection_reason": None}
        page.insert(t.sessions, (fact.aggregate_id,), row)
        self._sessions.put(fact.aggregate_id, {column: row[column] for column in SESSION_CACHED})

    def _on_ServiceSession__Rated(self, fact: Fact, page: _Page) -> None:
        self._change_session(page, fact.aggregate_id, {"rating": fact.payload["rating"]})

    def _on_ServiceSession__Certified(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        self._change_session(page, fact.aggregate_id, {
            "status": "certified", "certified_minutes": p["minutes"], "certified_by": p["certified_by"],
            "certified_on": p["certified_on"]})

    def _on_ServiceSession__Rejected(self, fact: Fact, page: _Page) -> None:
        self._change_session(page, fact.aggregate_id, {"status": "rejected",
                                                       "rejection_reason": fact.payload["reason"]})

    def _on_ServiceSession__Corrected(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        session = self._session(fact.aggregate_id)
        values: dict[str, Any] = dict(p["changes"])
        if "service_date" in values:
            values["year"] = int(values["service_date"][:4])
        values["certified_minutes"] = session["certified_minutes"] + p["credited_delta_minutes"]
        self._change_session(page, fact.aggregate_id, values)
        page.increment(t.sessions, (fact.aggregate_id,), {"corrections": 1})

    def _on_ServiceSession__ComplaintUpheld(self, fact: Fact, page: _Page) -> None:
        session = self._session(fact.aggregate_id)
        self._change_session(page, fact.aggregate_id, {
            "complaint_upheld": True, "minutes": 0,
            "certified_minutes": session["certified_minutes"] - fact.payload["taken_back_minutes"]})

    def _on_Order__Placed(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.insert(t.orders, (fact.aggregate_id,), {
            "order_id": fact.aggregate_id, "community_id": p["community_id"], "menu_item_id": p["menu_item_id"],
            "menu_title": p["menu_title"], "placed_on": p["placed_on"], "status": "placed", "member_id": None,
            "session_id": None, "resident_id": p["resident_id"], "note": p["note"], "declined_reason": None})
        self._orders.put(fact.aggregate_id, {"menu_item_id": p["menu_item_id"], "session_id": None})

    def _on_Order__Dispatched(self, fact: Fact, page: _Page) -> None:
        page.update(t.orders, (fact.aggregate_id,), {"status": "dispatched", "member_id": fact.payload["member_id"]})

    def _on_Order__Accepted(self, fact: Fact, page: _Page) -> None:
        page.update(t.orders, (fact.aggregate_id,), {"status": "accepted"})

    def _on_Order__Declined(self, fact: Fact, page: _Page) -> None:
        page.update(t.orders, (fact.aggregate_id,), {"status": "placed", "member_id": None,
                                                     "declined_reason": fact.payload["reason"]})

    def _on_Order__Fulfilled(self, fact: Fact, page: _Page) -> None:
        session_id = fact.payload["session_id"]
        page.update(t.orders, (fact.aggregate_id,), {"status": "fulfilled", "session_id": session_id})
        self._order(fact.aggregate_id)["session_id"] = session_id
        if self._sessions.get(session_id) is not None:
            self._change_session(page, session_id, {"order_fulfilled": True})
        else:  # in one transaction events are grouped by aggregate: the session may come next
            page.pending_fulfilments.append(session_id)

    def _on_Order__Cancelled(self, fact: Fact, page: _Page) -> None:
        page.update(t.orders, (fact.aggregate_id,), {"status": "cancelled"})

    # -- suggestions --------------------------------------------------------------------------------------
    def _on_Suggestion__Submitted(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        year = int(p["submitted_on"][:4])
        page.insert(t.suggestions, (fact.aggregate_id,), {
            "suggestion_id": fact.aggregate_id, "member_id": p["member_id"], "community_id": p["community_id"],
            "submitted_on": p["submitted_on"], "year": year, "status": "submitted"})
        self._suggestions.put(fact.aggregate_id, {"member_id": p["member_id"], "year": year})
        page.bump_member_year(p["member_id"], year, {"suggestions": 1})

    def _suggestion_outcome(self, fact: Fact, page: _Page, status: str, column: str) -> None:
        suggestion = self._cached(self._suggestions, t.suggestions, fact.aggregate_id, ("member_id", "year"))
        page.update(t.suggestions, (fact.aggregate_id,), {"status": status})
        page.bump_member_year(suggestion["member_id"], suggestion["year"], {column: 1})

    def _on_Suggestion__Adopted(self, fact: Fact, page: _Page) -> None:
        self._suggestion_outcome(fact, page, "adopted", "adopted_suggestions")

    def _on_Suggestion__Forwarded(self, fact: Fact, page: _Page) -> None:
        self._suggestion_outcome(fact, page, "forwarded", "forwarded_suggestions")

    # -- time accounts --------------------------------------------------------------------------------------
    def _on_TimeAccount__Opened(self, fact: Fact, page: _Page) -> None:
        page.insert(t.accounts, (fact.aggregate_id,), _complete(t.accounts, {
            "account_id": fact.aggregate_id, "member_id": fact.payload["member_id"]}))

    def _on_TimeAccount__Credited(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {
            "deposited_minutes": p["repaid_minutes"] + p["to_balance_minutes"],
            "available_minutes": p["to_balance_minutes"], "owed_minutes": -p["repaid_minutes"],
            "over_cap_minutes": p["over_cap_minutes"]})

    def _on_TimeAccount__ClawedBack(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {
            "clawed_back_minutes": p["minutes"], "available_minutes": -p["from_balance_minutes"],
            "owed_minutes": p["owed_added_minutes"]})

    def _on_TimeAccount__Redeemed(self, fact: Fact, page: _Page) -> None:
        minutes = fact.payload["minutes"]
        page.increment(t.accounts, (fact.aggregate_id,), {"redeemed_minutes": minutes,
                                                          "available_minutes": -minutes, "redemptions": 1})

    def _on_TimeAccount__RedeemedOffline(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {
            "redeemed_minutes": p["minutes"], "available_minutes": -p["from_balance_minutes"],
            "owed_minutes": p["owed_added_minutes"], "redemptions": 1})
        page.insert(t.offline_redemptions, (p["redemption_id"],), {
            "redemption_id": p["redemption_id"], "account_id": fact.aggregate_id, "counter_id": p["counter_id"],
            "device_key_id": p["device_key_id"], "captured_at": p["captured_at"], "captured_on": p["captured_on"],
            "synced_on": local_day(fact.time), "minutes": p["minutes"], "owed_added_minutes": p["owed_added_minutes"]})

    # 通存通兑: minutes held for a counter of another region are out of the balance until released
    def _on_TimeAccount__Held(self, fact: Fact, page: _Page) -> None:
        page.increment(t.accounts, (fact.aggregate_id,), {"available_minutes": -fact.payload["minutes"]})

    def _on_TimeAccount__HoldCaptured(self, fact: Fact, page: _Page) -> None:
        page.increment(t.accounts, (fact.aggregate_id,), {"redeemed_minutes": fact.payload["minutes"],
                                                          "redemptions": 1})

    def _on_TimeAccount__HoldReleased(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {"available_minutes": p["to_balance_minutes"],
                                                          "owed_minutes": -p["repaid_minutes"]})

    def _on_TimeAccount__CapturedOffline(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {
            "redeemed_minutes": p["minutes"], "available_minutes": -p["from_balance_minutes"],
            "owed_minutes": p["owed_added_minutes"], "redemptions": 1})

    def _on_TimeAccount__Frozen(self, fact: Fact, page: _Page) -> None:
        page.update(t.accounts, (fact.aggregate_id,), {"frozen": True})

    def _on_TimeAccount__Unfrozen(self, fact: Fact, page: _Page) -> None:
        page.update(t.accounts, (fact.aggregate_id,), {"frozen": False})

    def _on_TimeAccount__TransferredOut(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {
            "transferred_out_minutes": p["minutes"], "available_minutes": -p["minutes"],
            "owed_minutes": -p["owed_minutes"]})
        page.update(t.accounts, (fact.aggregate_id,), {"frozen": False, "closed": True})

    def _on_TimeAccount__TransferredIn(self, fact: Fact, page: _Page) -> None:
        p = fact.payload
        page.increment(t.accounts, (fact.aggregate_id,), {
            "transferred_in_minutes": p["minutes"], "available_minutes": p["minutes"],
            "owed_minutes": p["owed_minutes"]})
        page.update(t.accounts, (fact.aggregate_id,), {"closed": False})


# -------------------------------------------------------------------------------------------------
# Helpers


def _contribution(session: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a session adds to its member's yearly totals: only certified minutes count, and a
    session zeroed by an upheld complaint (投诉属实) counts as no activity."""
    if session["status"] != "certified" or session["complaint_upheld"] or session["certified_minutes"] <= 0:
        return None
    excellent = session["rating"] == Rating.EXCELLENT.value
    return (session["member_id"], session["year"], session["rating"], session["certified_minutes"],
            session["item_key"], bool(session["order_fulfilled"]) and excellent, session["assurance"])


def _apply_contribution(page: _Page, contribution: tuple[Any, ...] | None, sign: int) -> None:
    if contribution is None:
        return
    member_id, year, rating, minutes, item_key, excellent_order, assurance = contribution
    suffix = t.RATING_COLUMNS[rating]
    deltas = {"sessions": sign, "certified_minutes": sign * minutes, f"minutes_{suffix}": sign * minutes,
              f"sessions_{suffix}": sign, "excellent_orders": sign * int(excellent_order)}
    assured = t.ASSURED_MINUTES.get((assurance, rating))
    if assured is not None:
        deltas[assured] = sign * minutes
    page.bump_member_year(member_id, year, deltas)
    page.bump_item(member_id, year, item_key, sign)


_DEFAULTS: dict[str, dict[str, Any]] = {}


def _complete(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row with every column present (executemany needs the same keys in every row)."""
    defaults = _DEFAULTS.get(table.name)
    if defaults is None:
        defaults = {}
        for column in table.columns:
            if isinstance(column.type, sa.Boolean):
                defaults[column.name] = False
            elif column.default is not None or (column.name in t.MEMBER_YEAR_COUNTS + t.ACCOUNT_COUNTS):
                defaults[column.name] = 0
            else:
                defaults[column.name] = None
        if table is t.member_years:
            defaults.update(stars=0, requirements_met=False, missing="", stale=True, items=0, items_json="{}")
        _DEFAULTS[table.name] = defaults
    return {**defaults, **row}


def _tuple_getter(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Positional parameters from a row dict, in the compiled statement's order."""
    if len(names) == 1:
        only = names[0]
        return lambda row: (row[only],)
    return operator.itemgetter(*names)


def _chunks(values: Sequence[Any], size: int = IN_LIST_MAX) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _facts_query(*, stale_only: bool = False) -> sa.Select[Any]:
    """Member-year counts with the member-level facts the requirements need."""
    my, m = t.member_years, t.members
    posts = (sa.select(sa.func.count()).select_from(t.member_posts)
             .where(t.member_posts.c.member_id == my.c.member_id).scalar_subquery())
    exempted = (sa.select(sa.func.count()).select_from(t.exemptions)
                .where(t.exemptions.c.member_id == my.c.member_id, t.exemptions.c.year == my.c.year)
                .scalar_subquery())
    query = (sa.select(my.c.member_id, my.c.year, my.c.sessions, my.c.minutes_excellent, my.c.minutes_good,
                       my.c.minutes_fair, *(my.c[c] for c in t.ASSURED_MINUTES.values()), my.c.excellent_orders,
                       my.c.suggestions, my.c.adopted_suggestions,
                       m.c.reported_on, posts.label("claimed_posts"), my.c["items"],
                       exempted.label("exempted"))
             .select_from(my.outerjoin(m, m.c.member_id == my.c.member_id)))
    return query.where(my.c.stale.is_(True)) if stale_only else query


__all__ = [
    "PAGE_EVENTS",
    "CatchUpResult",
    "PolicyBook",
    "ProjectionError",
    "TrackingMoved",
    "Views",
    "YearTotals",
    "local_day",
]
