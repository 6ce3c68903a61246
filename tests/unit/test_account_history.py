"""The time account as a passbook (issue #11 item 6): entries in the order they happened, each with
its change and the running balance after it; the summary's figures add up to the balance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.base import CLOCK
from ledger.domain.errors import BalanceWouldGoNegative
from ledger.domain.time_account import TimeAccount, account_history, summarise

START = datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)


def _ticking() -> object:
    moments = iter(START + timedelta(minutes=n) for n in range(10_000))
    return CLOCK.set(lambda: next(moments))


def test_a_passbook_lists_deposits_before_the_redemptions_they_paid_for_with_a_running_balance() -> None:
    token = _ticking()
    try:
        account = TimeAccount.open(member_id=uuid4())
        account.credit(source_id=uuid4(), kind="session", minutes=140, storage_cap_minutes=None)
        account.credit(source_id=uuid4(), kind="session", minutes=110, storage_cap_minutes=None)
        account.redeem(redemption_id=uuid4(), counter_id=uuid4(), lines=[], minutes=50)
        account.claw_back(source_id=uuid4(), kind="correction", minutes=20)
    finally:
        CLOCK.reset(token)  # type: ignore[arg-type]  # the token the test set
    events = account.collect_events()
    lines = account_history(reversed(events))  # given in any order, shown in the order they were applied
    assert [line.kind for line in lines] == ["Opened", "Credited", "Credited", "Redeemed", "ClawedBack"]
    assert [line.time for line in lines] == sorted(line.time for line in lines)
    assert [(line.change_minutes, line.balance_minutes) for line in lines] == [
        (0, 0), (140, 140), (110, 250), (-50, 200), (-20, 180)]
    summary = summarise(lines)
    assert (summary.deposited_minutes, summary.clawed_back_minutes, summary.redeemed_minutes,
            summary.available_minutes) == (250, 20, 50, 180) == (250, 20, 50, account.balance_minutes)


def test_owed_minutes_and_the_storage_cap_show_on_the_line_but_not_in_the_balance() -> None:
    account = TimeAccount.open(member_id=uuid4())
    account.credit(source_id=uuid4(), kind="session", minutes=60, storage_cap_minutes=None)
    account.claw_back(source_id=uuid4(), kind="complaint", minutes=90)  # 30 more than the balance: owed
    account.credit(source_id=uuid4(), kind="session", minutes=100, storage_cap_minutes=50)  # 30 repay, 50 in, 20 over
    lines = account_history(account.collect_events())
    assert [(line.change_minutes, line.balance_minutes) for line in lines] == [(0, 0), (60, 60), (-60, 0), (50, 50)]
    assert (lines[2].owed_added_minutes, lines[3].repaid_minutes, lines[3].over_cap_minutes) == (30, 30, 20)
    assert lines[-1].balance_minutes == account.balance_minutes


@given(operations=st.lists(st.tuples(st.sampled_from(["credit", "redeem", "claw_back"]), st.integers(1, 600)),
                           max_size=40))
def test_the_running_balance_is_the_accounts_balance_after_every_line(operations: list[tuple[str, int]]) -> None:
    account = TimeAccount.open(member_id=uuid4())
    balances = [0]
    for operation, minutes in operations:
        if operation == "credit":
            account.credit(source_id=uuid4(), kind="session", minutes=minutes, storage_cap_minutes=None)
        elif operation == "claw_back":
            account.claw_back(source_id=uuid4(), kind="correction", minutes=minutes)
        else:
            try:
                account.redeem(redemption_id=uuid4(), counter_id=uuid4(), lines=[], minutes=minutes)
            except BalanceWouldGoNegative:
                continue
        balances.append(account.balance_minutes)
    lines = account_history(account.collect_events())
    assert [line.balance_minutes for line in lines] == balances
    assert all(line.balance_minutes == before.balance_minutes + line.change_minutes
               for before, line in zip(lines, lines[1:]))
    summary = summarise(lines)
    assert (summary.deposited_minutes - summary.clawed_back_minutes - summary.redeemed_minutes
            == summary.available_minutes == account.balance_minutes)


def test_a_clock_set_back_does_not_reorder_the_passbook_into_a_negative_balance() -> None:
    """Found in the demo: a credit stamped June applied before one stamped April, then a redemption
    stamped May; sorted by time the running balance went below zero. The order applied is the truth."""
    moments = iter([START, START + timedelta(days=100), START + timedelta(days=30), START + timedelta(days=40),
                    START + timedelta(days=80), START + timedelta(days=81)])
    token = CLOCK.set(lambda: next(moments))
    try:
        account = TimeAccount.open(member_id=uuid4())
        account.credit(source_id=uuid4(), kind="session", minutes=170, storage_cap_minutes=None)
        account.credit(source_id=uuid4(), kind="session", minutes=240, storage_cap_minutes=None)
        account.claw_back(source_id=uuid4(), kind="complaint", minutes=240)
        account.redeem(redemption_id=uuid4(), counter_id=uuid4(),
                       lines=[{"item_id": "i", "name": "毛巾", "quantity": 1, "price_minutes": 45}], minutes=45)
        account.redeem(redemption_id=uuid4(), counter_id=uuid4(), lines=[], minutes=60)
    finally:
        CLOCK.reset(token)  # type: ignore[arg-type]  # the token the test set
    lines = account_history(account.collect_events())
    assert [line.balance_minutes for line in lines] == [0, 170, 410, 170, 125, 65]
    assert all(line.balance_minutes >= 0 for line in lines)
    assert lines[3].source_kind == "complaint" and lines[4].items == (("毛巾", 1),)
