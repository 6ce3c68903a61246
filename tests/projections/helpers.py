"""Helpers of the projection tests: table dumps, and fresh views on an in-memory database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.application import Ledger
from ledger.storage.database import Database
from projections import schema as t
from projections.projector import Views


def dump(views: Views) -> dict[str, list[tuple[Any, ...]]]:
    """Every view row, by table, in primary-key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with views.engine.connect() as connection:
        for table in t.VIEW_TABLES:
            order = list(table.primary_key.columns)
            tables[table.name] = [tuple(row) for row in connection.execute(sa.select(table).order_by(*order))]
    return tables


def fresh_views(ledger: Ledger) -> Views:
    """Views of `ledger` in a separate in-memory database (a clean rebuild to compare with)."""
    engine = t.create_view_engine(Database(url="memory:", kind="memory"))
    return Views(ledger, engine=engine)


def clean_rebuild(ledger: Ledger, page_events: int = 1000) -> dict[str, list[tuple[Any, ...]]]:
    views = fresh_views(ledger)
    try:
        views.rebuild(page_events=page_events)
        return dump(views)
    finally:
        views.engine.dispose()


def differences(left: dict[str, list[tuple[Any, ...]]], right: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """The tables that differ, with the first differing rows (for readable failures)."""
    found = {}
    for name, rows in left.items():
        if rows != right[name]:
            only_left = [row for row in rows if row not in right[name]][:3]
            only_right = [row for row in right[name] if row not in rows][:3]
            found[name] = {"only_left": only_left, "only_right": only_right}
    return found
