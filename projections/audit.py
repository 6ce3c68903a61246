"""The audit's comparison of the read models (checks 5 and 6 of `ledger.verification.audit`).

The ledger's audit replays the events; this side brings the projections up to the store, compares
their balances with the replayed ones, and rebuilds them in a scratch database to compare yearly
points, stars and requirements. `audit` is the full audit that `timeledger audit` runs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.verification import audit as ledger_audit
from ledger.verification.audit import AuditReport
from projections import schema as views_schema
from projections.projector import Views


class ProjectionsAudit:
    """`ledger.verification.audit.ReadModels` for this package's projections."""

    def catch_up(self, ledger: Any, report: AuditReport) -> None:
        engine = views_schema.create_view_engine(ledger.database)
        try:
            inspector = sa.inspect(engine)
            if not inspector.has_table(views_schema.tracking.name):
                return  # no projections in this database: nothing lags
            live = Views(ledger, engine=engine)
            try:
                live.catch_up()
            finally:
                live.close()
        except Exception as error:  # noqa: BLE001 - a stored event the projections cannot apply is a finding
            report.add("views", f"the projections cannot take in the stored events: {type(error).__name__}: {error}")
            report.incomplete.append(f"the projections could not catch up: {type(error).__name__}")
        finally:
            engine.dispose()

    def compare(self, ledger: Any, balances: dict[str, tuple[int, int]], report: AuditReport) -> str:
        return _compare_views(ledger, balances, report)


def audit(ledger: Any, *, views: bool = True, **options: Any) -> AuditReport:
    """The full audit: `ledger.verification.audit.audit` with the projections compared (unless `views=False`)."""
    return ledger_audit.audit(ledger, views=ProjectionsAudit() if views else None, **options)


def _compare_views(ledger: Any, balances: dict[str, tuple[int, int]], report: AuditReport) -> str:
    """Live projections vs the replayed balances and vs a scratch rebuild (points, stars)."""
    if ledger.database.kind == "memory":
        return "skipped: an in-memory store has no shared projection tables"
    live_engine = views_schema.create_view_engine(ledger.database)
    try:
        inspector = sa.inspect(live_engine)
        if not inspector.has_table(views_schema.tracking.name) or not inspector.has_table(
                views_schema.accounts.name):
            return "skipped: no projections in this database"
        with live_engine.connect() as connection:
            position = connection.execute(sa.select(views_schema.tracking.c.position).where(
                views_schema.tracking.c.name == views_schema.TRACKING_NAME)).scalar()
            head = ledger.recorder.max_notification_id() or 0
            if position is None or position < head:
                return f"skipped: the projections are behind the log (at {position}, log at {head})"
            live_accounts = {row.member_id: (row.available_minutes, row.owed_minutes) for row in connection.execute(
                sa.select(views_schema.accounts.c.member_id, views_schema.accounts.c.available_minutes,
                          views_schema.accounts.c.owed_minutes))}
            live_years = _member_years(connection)
        for member_id, replayed in balances.items():
            shown = live_accounts.get(member_id)
            if shown != replayed:
                report.add("views", f"member {member_id}: the events give balance {replayed[0]} (owed {replayed[1]}), "
                           f"the projection shows {shown}")
        for member_id in set(live_accounts) - set(balances):
            report.add("views", f"member {member_id} has a projected account no event opened")
        scratch_engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                                          connect_args={"check_same_thread": False})
        scratch = Views(ledger, engine=scratch_engine)
        try:
            scratch.rebuild()
            with scratch_engine.connect() as connection:
                rebuilt_years = _member_years(connection)
        finally:
            scratch.close()
            scratch_engine.dispose()
        for key in sorted(set(live_years) | set(rebuilt_years)):
            if live_years.get(key) != rebuilt_years.get(key):
                report.add("views", f"member {key[0]} year {key[1]}: recomputed from the events "
                           f"{_describe_year(rebuilt_years.get(key))}, the projection shows "
                           f"{_describe_year(live_years.get(key))}")
        return "yes"
    finally:
        live_engine.dispose()


_YEAR_COLUMNS = ("sessions", "certified_minutes", "policy_version", "points_scaled", "stars", "requirements_met")


def _member_years(connection: sa.Connection) -> dict[tuple[str, int], tuple[Any, ...]]:
    table = views_schema.member_years
    columns = [table.c.member_id, table.c.year, *(table.c[name] for name in _YEAR_COLUMNS)]
    return {(row[0], int(row[1])): tuple(row[2:]) for row in connection.execute(sa.select(*columns))}


def _describe_year(values: tuple[Any, ...] | None) -> str:
    if values is None:
        return "no row"
    return ", ".join(f"{name} {value}" for name, value in zip(_YEAR_COLUMNS, values))


