"""TimeAccount rules: never below zero, redemptions exactly once, clawbacks owed, storage cap."""

from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.domain.errors import BalanceWouldGoNegative, MemberFrozen, RedemptionExistsWithDifferentTerms
from ledger.domain.time_account import TimeAccount

COUNTER = uuid4()


def account_with(minutes: int) -> TimeAccount:
    account = TimeAccount.open(member_id=uuid4())
    if minutes:
        account.credit(source_id=uuid4(), kind="session", minutes=minutes, storage_cap_minutes=None)
    return account


def names(account: TimeAccount) -> list[str]:
    return [type(e).__name__ for e in account.collect_events()]


def test_redeem_reduces_the_balance_and_records_the_redemption() -> None:
    account = account_with(90)
    assert account.redeem(redemption_id=uuid4(), counter_id=COUNTER, lines=[], minutes=60)
    assert account.balance_minutes == 30
    assert names(account) == ["Opened", "Credited", "Redeemed"]


def test_redeem_more_than_the_balance_is_refused_and_changes_nothing() -> None:
    account = account_with(30)
    account.collect_events()
    with pytest.raises(BalanceWouldGoNegative) as refused:
        account.redeem(redemption_id=uuid4(), counter_id=COUNTER, lines=[], minutes=31)
    assert refused.value.code == "balance_would_go_negative"
    assert account.balance_minutes == 30
    assert names(account) == []


def test_the_same_redemption_again_is_applied_once() -> None:
    account = account_with(90)
    redemption_id = uuid4()
    assert account.redeem(redemption_id=redemption_id, counter_id=COUNTER, lines=[], minutes=60)
    assert not account.redeem(redemption_id=redemption_id, counter_id=COUNTER, lines=[], minutes=60)
    assert account.balance_minutes == 30


def test_the_same_redemption_id_with_other_terms_is_refused() -> None:
    account = account_with(90)
    redemption_id = uuid4()
    account.redeem(redemption_id=redemption_id, counter_id=COUNTER, lines=[], minutes=60)
    with pytest.raises(RedemptionExistsWithDifferentTerms):
        account.redeem(redemption_id=redemption_id, counter_id=COUNTER, lines=[], minutes=30)


def test_a_clawback_beyond_the_balance_is_owed_and_repaid_by_the_next_credit() -> None:
    account = account_with(60)
    account.redeem(redemption_id=uuid4(), counter_id=COUNTER, lines=[], minutes=50)
    account.claw_back(source_id=uuid4(), kind="complaint", minutes=60)
    assert (account.balance_minutes, account.owed_minutes) == (0, 50)
    account.credit(source_id=uuid4(), kind="session", minutes=80, storage_cap_minutes=None)
    assert (account.balance_minutes, account.owed_minutes) == (30, 0)


def test_credits_beyond_the_storage_cap_are_recorded_but_not_added() -> None:
    account = account_with(0)
    account.credit(source_id=uuid4(), kind="session", minutes=100, storage_cap_minutes=90)
    assert account.balance_minutes == 90
    assert account.over_cap_minutes_total == 10


def test_the_same_source_is_credited_once() -> None:
    account = account_with(0)
    source = uuid4()
    account.credit(source_id=source, kind="session", minutes=100, storage_cap_minutes=None)
    account.credit(source_id=source, kind="session", minutes=100, storage_cap_minutes=None)
    assert account.balance_minutes == 100


def test_a_frozen_account_cannot_redeem() -> None:
    account = account_with(100)
    account.freeze(transfer_id=uuid4())
    with pytest.raises(MemberFrozen):
        account.redeem(redemption_id=uuid4(), counter_id=COUNTER, lines=[], minutes=10)
