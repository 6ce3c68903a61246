"""Reads the Ledger does not offer yet (account entries, a past balance).

They use only the public eventsourcing API (`repository.get`, `event_store.get`); orders and
suggestions are read through `Ledger.get_order` / `Ledger.get_suggestion`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.domain.time_account import HistoryLine, TimeAccount
from ledger.domain.time_account import account_history as history_of

ENTRIES_PAGE_MAX = 200  # account entries per page


def account_entries(ledger: Ledger, member_id: UUID, *, after_version: int, limit: int) -> list[Any]:
    """The time account's events after `after_version`, oldest first (a stable order: versions)."""
    account_id = TimeAccount.create_id(member_id)
    ledger.get_account(member_id)  # NotFound if the member has no account yet
    assert 1 <= limit <= ENTRIES_PAGE_MAX
    return list(ledger.repository.event_store.get(account_id, gt=after_version or None, limit=limit))


ACCOUNT_HISTORY_MAX = 10_000  # events read for one member's passbook page; years of weekly service fit


def balance_before(ledger: Ledger, member_id: UUID, *, after_version: int) -> int:
    """The account's balance after its first `after_version` events (0 before any)."""
    if after_version <= 0:
        return 0
    account: TimeAccount = ledger.repository.get(TimeAccount.create_id(member_id), version=after_version)
    return int(account.balance_minutes)


def account_history(ledger: Ledger, member_id: UUID) -> list[HistoryLine]:
    """The whole passbook, oldest first, with a running balance (`time_account.account_history`)."""
    account_id = TimeAccount.create_id(member_id)
    ledger.get_account(member_id)  # NotFound if the member has no account yet
    events = list(ledger.repository.event_store.get(account_id, limit=ACCOUNT_HISTORY_MAX))
    return history_of(events)
