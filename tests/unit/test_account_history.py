"""The time account as a passbook (issue #11 item 6): entries in the order they happened, each with
its change and the running balance after it; the summary's figures add up to the balance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.base import CLOCK
from ledger.domain.errors import BalanceWouldGoNegative, HoldCaptured, HoldNotFound, HoldReleased
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


@given(operations=st.lists(st.tuples(st.sampled_from(["credit", "redeem", "claw_back", "hold", "capture",
                                                       "release"]), st.integers(1, 600)), max_size=40))
def test_the_running_balance_is_the_accounts_balance_after_every_line(operations: list[tuple[str, int]]) -> None:
    account = TimeAccount.open(member_id=uuid4())
    balances = [0]
    open_holds: list[UUID] = []
    model_held = 0  # the plain model: minutes held and not yet captured or released
    for operation, minutes in operations:
        if operation == "credit":
            account.credit(source_id=uuid4(), kind="session", minutes=minutes, storage_cap_minutes=None)
        elif operation == "claw_back":
            account.claw_back(source_id=uuid4(), kind="correction", minutes=minutes)
        elif operation in ("capture", "release"):
            if not open_holds:
                continue
            hold_id = open_holds.pop(0)
            model_held -= account.holds[hold_id].minutes
            if operation == "capture":
                account.capture(redemption_id=hold_id, counter_region="320104", now=START, request_sha256="x")
            else:
                account.release(redemption_id=hold_id, counter_region="320104", reason="voided")
        else:
            try:
                if operation == "hold":
                    hold_id = uuid4()
                    account.hold(redemption_id=hold_id, counter_region="320104", counter_id="c", lines=[],
                                 minutes=minutes, expires_at=START + timedelta(hours=2), request_sha256="x")
                    open_holds.append(hold_id)
                    model_held += minutes
                else:
                    account.redeem(redemption_id=uuid4(), counter_id=uuid4(), lines=[], minutes=minutes)
            except BalanceWouldGoNegative:
                continue
        balances.append(account.balance_minutes)
        assert account.balance_minutes >= 0 and account.held_minutes == model_held
    lines = account_history(account.collect_events())
    assert [line.balance_minutes for line in lines] == balances
    assert all(line.balance_minutes == before.balance_minutes + line.change_minutes
               for before, line in zip(lines, lines[1:]))
    summary = summarise(lines)
    assert (summary.deposited_minutes - summary.clawed_back_minutes - summary.redeemed_minutes - summary.held_minutes
            == summary.available_minutes == account.balance_minutes)
    assert summary.held_minutes == account.held_minutes


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


def test_holds_for_another_regions_counter_show_on_the_passbook_and_the_summary_adds_up() -> None:
    """通存通兑: a hold takes the minutes out of what can be spent, its capture is a redemption, its
    release gives them back (repaying what is owed first)."""
    later = START + timedelta(days=1)
    account = TimeAccount.open(member_id=uuid4())
    account.credit(source_id=uuid4(), kind="session", minutes=200, storage_cap_minutes=None)
    first, second = uuid4(), uuid4()
    for hold_id, minutes in ((first, 60), (second, 90)):
        account.hold(redemption_id=hold_id, counter_region="320104", counter_id=str(uuid4()),
                     lines=[("毛巾", minutes // 30, 30)], minutes=minutes, expires_at=later, request_sha256="ab")
    account.capture(redemption_id=first, counter_region="320104", now=START, request_sha256="cd")
    account.claw_back(source_id=uuid4(), kind="complaint", minutes=80)  # 50 in the balance, 30 owed
    account.release(redemption_id=second, counter_region="320104", reason="voided")  # 30 repay, 60 back
    assert (account.balance_minutes, account.owed_minutes, account.held_minutes) == (60, 0, 0)
    lines = account_history(account.collect_events())
    assert [(line.kind, line.change_minutes, line.balance_minutes) for line in lines] == [
        ("Opened", 0, 0), ("Credited", 200, 200), ("Held", -60, 140), ("Held", -90, 50), ("HoldCaptured", 0, 50),
        ("ClawedBack", -50, 0), ("HoldReleased", 60, 60)]
    assert lines[2].items == (("毛巾", 2),) and lines[2].counter_region == "320104"
    assert lines[-1].repaid_minutes == 30
    summary = summarise(lines)
    assert (summary.deposited_minutes, summary.clawed_back_minutes, summary.redeemed_minutes, summary.held_minutes,
            summary.available_minutes) == (200, 80, 60, 0, 60)
    with pytest.raises(HoldReleased):
        account.capture(redemption_id=second, counter_region="320104", now=START, request_sha256="ef")
    with pytest.raises(HoldCaptured):
        account.release(redemption_id=first, counter_region="320104", reason="voided")
    with pytest.raises(HoldNotFound):  # another region cannot touch this hold
        account.capture(redemption_id=first, counter_region="320105", now=START, request_sha256="ef")
