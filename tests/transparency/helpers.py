"""Helpers for the transparency tests: a small region with service history, and raw store edits."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.storage.raw_events import _pg_table
from tests.scenario import Region, add_member, at_day, build_region, redeem, serve


@dataclass
class History:
    region: Region
    # member id -> the minutes the member's 2026 certificate must certify
    certified_2026: dict[UUID, int] = field(default_factory=dict)
    sessions: dict[UUID, list[UUID]] = field(default_factory=dict)


def build_history(ledger: Ledger, *, members: int = 2) -> History:
    """A region where the first member has certified, uncertified, corrected, complained-of and
    other-year sessions, and the others a few plain ones."""
    with at_day(date(2025, 3, 1)):
        region = build_region(ledger, members=members)
    history = History(region)
    first = region.members[0]
    with at_day(date(2025, 11, 3)):
        old = serve(region, first, 45, service_date=date(2025, 11, 3))  # another year
    with at_day(date(2026, 3, 2)):
        a = serve(region, first, 90, service_date=date(2026, 3, 2))
        b = serve(region, first, 120, rating="良", service_date=date(2026, 3, 2))
        serve(region, first, 30, certify=False, service_date=date(2026, 3, 2))  # rated, never certified
    with at_day(date(2026, 4, 6)):
        c = serve(region, first, 60, rating="一般", service_date=date(2026, 4, 6))
        d = serve(region, first, 100, service_date=date(2026, 4, 6))
    with at_day(date(2026, 4, 20)):
        ledger.correct_session(actor=region.community, session_id=b, changes={"minutes": 100},
                               reason="实际服务时间少二十分钟")
        ledger.uphold_complaint(actor=region.community, session_id=d, reason="投诉属实")
        redeem(region, first)
    history.certified_2026[first.actor_id] = 90 + 100 + 60
    history.sessions[first.actor_id] = [old, a, b, c, d]
    for member in region.members[1:]:
        with at_day(date(2026, 5, 8)):
            s = serve(region, member, 75, service_date=date(2026, 5, 8))
        history.certified_2026[member.actor_id] = 75
        history.sessions[member.actor_id] = [s]
    return history


def add_members(region: Region, count: int) -> None:
    for index in range(count):
        add_member(region, name=f"补充党员{index}")


# -- raw edits of the event store (what an attacker with database access could do) -------------------


def _pg(ledger: Ledger) -> Any:
    import psycopg

    return psycopg.connect(ledger.database.libpq_url, autocommit=True)


def stored_state(ledger: Ledger, position: int) -> bytes:
    if ledger.database.kind == "sqlite":
        with sqlite3.connect(ledger.database.sqlite_path) as connection:
            return bytes(connection.execute("SELECT state FROM stored_events WHERE rowid=?", (position,)).fetchone()[0])
    with _pg(ledger) as connection:
        row = connection.execute(f"SELECT state FROM {_pg_table(ledger.database)} WHERE notification_id=%s",
                                 (position,)).fetchone()
        return bytes(row[0])


def set_state(ledger: Ledger, position: int, state: bytes) -> None:
    if ledger.database.kind == "sqlite":
        with sqlite3.connect(ledger.database.sqlite_path) as connection:
            connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (state, position))
        return
    with _pg(ledger) as connection:
        connection.execute(f"UPDATE {_pg_table(ledger.database)} SET state=%s WHERE notification_id=%s",
                           (state, position))


def delete_event(ledger: Ledger, position: int) -> None:
    if ledger.database.kind == "sqlite":
        with sqlite3.connect(ledger.database.sqlite_path) as connection:
            connection.execute("DELETE FROM stored_events WHERE rowid=?", (position,))
        return
    with _pg(ledger) as connection:
        connection.execute(f"DELETE FROM {_pg_table(ledger.database)} WHERE notification_id=%s", (position,))


def last_position_of(ledger: Ledger, aggregate_id: UUID) -> tuple[int, int]:
    """(position, version) of an aggregate's last event."""
    from ledger.storage.raw_events import iter_raw_events

    rows = [r for r in iter_raw_events(ledger.database, recorder=ledger.recorder, order="position")
            if UUID(r.originator_id) == aggregate_id]
    return rows[-1].position, rows[-1].originator_version
