"""CLI commands of the read side: `timeledger report KIND …` and `timeledger project`."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from ledger.domain.values import CHINA_TIME

FORMATS = ("pdf", "xlsx", "csv", "json")
REPORT_HELP = ("slip (附件1 报到单, needs --slip), receipt (附件1 回执单, needs --slip), member-form (附件2 登记表, "
               "needs --member), unit-stats (附件3), register (附件4), card (附件5, needs --member), feedback "
               "(服务纪实反馈), eligibility, stars, balances, overview")
NEEDS = {"slip": "slip", "receipt": "slip", "member-form": "member", "card": "member"}

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///file.db or postgresql://…); "
                                                 "default $TIMELEDGER_DATABASE_URL or sqlite:///timeledger.db")]


def _console(stderr: bool = True):
    from rich.console import Console

    return Console(stderr=stderr)


def _fail(message: str, code: int = 1) -> None:
    _console().print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _id(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return str(UUID(value))
    except ValueError:
        _fail(f"{value!r} is not a {what} id", 2)
    return None  # pragma: no cover


def _open(db: str | None):
    from ledger.application import Ledger
    from ledger.storage.database import ConfigurationError
    from projections.projector import Views

    try:
        ledger = Ledger(db)
    except ConfigurationError as error:
        _fail(f"configuration error: {error}", 2)
    if ledger.region_code is None:
        _fail("the database holds no region (run `timeledger init` or `timeledger demo`)", 2)
    return ledger, Views(ledger)


def report(
    kind: Annotated[str, typer.Argument(help=REPORT_HELP, show_default=False)],
    year: Annotated[int | None, typer.Option(min=2000, max=2100, help="Year (default: this year)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="pdf | xlsx | csv | json "
                                               "(default: from --out's extension, else json)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here (JSON and CSV go to standard "
                                                "output without it)")] = None,
    member: Annotated[str | None, typer.Option(help="Member id (card, member-form; balances of one member)")] = None,
    slip: Annotated[str | None, typer.Option("--slip", help="Report slip id (slip, receipt)")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit id (unit-stats, feedback, eligibility, stars, "
                                                "balances)")] = None,
    community: Annotated[str | None, typer.Option(help="Community id (register, eligibility, stars, "
                                                     "balances)")] = None,
    show_personal: Annotated[bool, typer.Option("--show-personal", help="Include personal fields (birth month, "
                                                "address, the member's phone …) on the register, the 登记表, the "
                                                "报到单 and the card: only for the member's own community or unit")
                             ] = False,
    db: DbOption = None,
) -> None:
    """Print a report of the read models (they are brought up to date first)."""
    from ledger.domain.errors import LedgerError
    from projections import reports
    from projections.render import render

    if kind not in reports.KINDS:
        _fail(f"unknown report {kind!r}; expected one of {', '.join(reports.KINDS)}", 2)
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out is not None else ""
        fmt = suffix if suffix in FORMATS else "json"
    if fmt not in FORMATS:
        _fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", 2)
    needed = NEEDS.get(kind)
    if needed is not None and not {"slip": slip, "member": member}[needed]:
        _fail(f"the {kind} report is for one {needed}: give --{needed} ID")
    if out is None and fmt in ("pdf", "xlsx") and sys.stdout.isatty():
        _fail(f"{fmt} is binary: give --out FILE (or redirect standard output)", 2)
    year = year or datetime.now(CHINA_TIME).year
    member_id, unit_id, community_id = _id(member, "member"), _id(unit, "unit"), _id(community, "community")
    slip_id = _id(slip, "report slip")
    ledger, views = _open(db)
    try:
        views.catch_up()
        document = reports.build(kind, views, year=year, member_id=member_id, unit_id=unit_id,
                                 community_id=community_id, slip_id=slip_id,
                                 personal_data=ledger.member_personal_data if show_personal else None,
                                 work_data=ledger.member_personal_data)
        data = render(document, fmt)  # type: ignore[arg-type]  # fmt is one of the formats the option allows
    except LedgerError as error:
        from ledger.commands.store import refusal_text

        _fail(refusal_text(error))
    finally:
        views.close()
        ledger.close()
    if out is None:
        sys.stdout.buffer.write(data)
        if fmt == "json":
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        _console().print(f"{document.title} ({kind}, {year}) written to {out} ({len(data):,} bytes)")


def project(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Empty the views and project from position 0")] = False,
    page_events: Annotated[int, typer.Option(min=1, max=100_000, help="Events per transaction")] = 1000,
    db: DbOption = None,
) -> None:
    """Bring the read models up to date with the event log (or rebuild them from the start)."""
    ledger, views = _open(db)
    try:
        started = time.perf_counter()
        result = views.rebuild(page_events=page_events) if rebuild else views.catch_up(page_events=page_events)
        seconds = time.perf_counter() - started
    finally:
        views.close()
        ledger.close()
    rate = f", {result.events / seconds:,.0f} events/s" if result.events and seconds > 0 else ""
    _console(stderr=False).print(f"{'rebuilt' if rebuild else 'caught up'}: {result.events} events in "
                                 f"{result.pages} pages, {seconds:.2f} s{rate}; position {result.position}")


def register(app: typer.Typer) -> None:
    """Add the read-side commands to the `timeledger` CLI."""
    app.command("report")(report)
    app.command("project")(project)
