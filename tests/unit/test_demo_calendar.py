"""The demo's year and the server clock do not depend on today's date (issue #10, "stop on 1 January").

`serve --demo` used to take its year from today's: from 1 January the demo year had four days in it,
no member had certified minutes and the counter and certificate web tests failed. The year now has
a documented default and can be pinned (`--year`); TIMELEDGER_CLOCK_START moves a demo server's
clock (only with --demo)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.demo import check_year, default_year, generate
from ledger.domain import base
from ledger.domain.errors import NotFound


@pytest.mark.parametrize(("today", "year"), [
    (date(2027, 1, 4), 2026),   # early January: last year, which is over
    (date(2026, 12, 31), 2026),
    (date(2027, 1, 1), 2026),   # 1 January in China while UTC still reads 31 December
    (date(2028, 2, 29), 2027),
    (date(2026, 9, 30), 2025),  # registration runs to 30 September
    (date(2026, 10, 1), 2026),
])
def test_the_default_demo_year_has_its_registration_season_behind_it(today: date, year: int) -> None:
    assert default_year(today) == year
    check_year(year, today)  # the default is always allowed


def test_a_demo_year_not_over_enough_is_refused() -> None:
    with pytest.raises(ValueError, match="2027"):
        check_year(2027, date(2027, 1, 4))
    with pytest.raises(ValueError):
        check_year(2030, date(2027, 1, 4))


def test_start_clock_at_moves_the_server_clock_and_it_runs_on() -> None:
    start = datetime(2027, 1, 4, 2, 0, tzinfo=timezone.utc)
    try:
        base.start_clock_at(start)
        first = base.utc_now()
        assert abs(first - start) < timedelta(seconds=5)
        assert base.utc_now() >= first  # it runs on
        assert Ledger.today() == date(2027, 1, 4)
    finally:
        base._CLOCK_OFFSET = timedelta(0)
    assert abs(base.utc_now() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    with pytest.raises(ValueError):
        base.start_clock_at(datetime(2027, 1, 4))  # naive: which zone?


def test_a_demo_generated_in_january_still_has_members_with_certified_minutes() -> None:
    """The demo of last year, generated on 4 January: the richest member can pay at the counter."""
    try:
        base.start_clock_at(datetime(2027, 1, 4, 2, 0, tzinfo=timezone.utc))
        ledger = Ledger("memory:")
        summary = generate(ledger, members=12, year=default_year(ledger.today()), seed=2014)
        assert summary.certified > 0
        balances = []
        for member_id in summary.member_ids:
            try:
                balances.append(ledger.get_balance_minutes(member_id))
            except NotFound:  # never registered: no account
                pass
        assert max(balances) >= 60
        ledger.close()
    finally:
        base._CLOCK_OFFSET = timedelta(0)


def test_demo_member_ids_are_the_same_on_every_run() -> None:
    ids = []
    for _ in range(2):
        ledger = Ledger("memory:")
        ids.append(generate(ledger, members=10, year=2025, seed=7).member_ids)
        ledger.close()
    assert ids[0] == ids[1]


def test_the_clock_start_is_honoured_only_with_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import app

    monkeypatch.setenv("TIMELEDGER_CLOCK_START", "2027-01-04T02:00:00Z")
    result = CliRunner().invoke(app, ["serve", "--db", "memory:", "--port", "0"])
    assert result.exit_code == 2
    assert "TIMELEDGER_CLOCK_START" in result.output
