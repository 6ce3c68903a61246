"""The member's time account: certified minutes in, 爱心超市 redemptions out; never below zero."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import BalanceWouldGoNegative, MemberFrozen, RedemptionExistsWithDifferentTerms, WrongState
from ledger.domain.values import stable_id


class TimeAccount(LedgerAggregate):
    """Invariant: balance − owed = credited − clawed back − redeemed, balance ≥ 0, owed ≥ 0.

    A clawback (a correction down, an upheld complaint) larger than the balance leaves the rest as
    `owed_minutes`, which later credits repay first: the balance never goes below zero.
    """

    @staticmethod
    def create_id(member_id: UUID) -> UUID:
        return stable_id("time-account", member_id)

    @classmethod
    def open(cls, *, member_id: UUID) -> "TimeAccount":
        return cls(member_id=member_id)

    @event("Opened")
    def __init__(self, *, member_id: UUID) -> None:
        self.member_id = member_id
        self.balance_minutes = 0
        self.owed_minutes = 0
        self.credited_minutes_total = 0
        self.clawed_back_minutes_total = 0
        self.redeemed_minutes_total = 0
        self.over_cap_minutes_total = 0
        self.redemptions: dict[UUID, tuple[str, int, list[Any]]] = {}
        self.sources: set[UUID] = set()  # sessions / corrections already applied (exactly once)
        self.frozen_by: UUID | None = None
        self.closed = False

    def _require_open(self) -> None:
        if self.closed:
            raise WrongState(f"account {self.id} was transferred to another region")
        if self.frozen_by is not None:
            raise MemberFrozen(f"account {self.id} is frozen by pending transfer {self.frozen_by}")

    # -- credits and clawbacks ------------------------------------------------------------------
    def credit(self, *, source_id: UUID, kind: str, minutes: int, storage_cap_minutes: int | None) -> None:
        assert minutes > 0, minutes
        if source_id in self.sources:
            return  # the same certification applied twice is applied once
        repaid = min(self.owed_minutes, minutes)
        rest = minutes - repaid
        room = rest if storage_cap_minutes is None else max(0, min(rest, storage_cap_minutes - self.balance_minutes))
        self._credited(source_id=source_id, kind=kind, minutes=minutes, repaid_minutes=repaid,
                       to_balance_minutes=room, over_cap_minutes=rest - room)

    @event("Credited")
    def _credited(self, source_id: UUID, kind: str, minutes: int, repaid_minutes: int, to_balance_minutes: int,
                  over_cap_minutes: int) -> None:
        self.sources.add(source_id)
        self.owed_minutes -= repaid_minutes
        self.balance_minutes += to_balance_minutes
        self.credited_minutes_total += repaid_minutes + to_balance_minutes
        self.over_cap_minutes_total += over_cap_minutes
        assert self.owed_minutes >= 0 and self.balance_minutes >= 0

    def claw_back(self, *, source_id: UUID, kind: str, minutes: int) -> None:
        assert minutes > 0, minutes
        if source_id in self.sources:
            return
        applied = min(self.balance_minutes, minutes)
        self._clawed_back(source_id=source_id, kind=kind, minutes=minutes, from_balance_minutes=applied,
                          owed_added_minutes=minutes - applied)

    @event("ClawedBack")
    def _clawed_back(self, source_id: UUID, kind: str, minutes: int, from_balance_minutes: int,
                     owed_added_minutes: int) -> None:
        self.sources.add(source_id)
        self.balance_minutes -= from_balance_minutes
        self.owed_minutes += owed_added_minutes
        self.clawed_back_minutes_total += minutes
        assert self.balance_minutes >= 0

    # -- 爱心超市 redemption --------------------------------------------------------------------
    def redeem(self, *, redemption_id: UUID, counter_id: UUID, lines: list[dict[str, Any]], minutes: int) -> bool:
        """Returns False when this exact redemption was already applied (a retry)."""
        assert minutes > 0, minutes
        terms = (str(counter_id), minutes, lines)
        previous = self.redemptions.get(redemption_id)
        if previous is not None:
            if previous == terms:
                return False
            raise RedemptionExistsWithDifferentTerms(
                f"redemption {redemption_id} was already used with other terms")
        self._require_open()
        if minutes > self.balance_minutes:
            raise BalanceWouldGoNegative(
                f"余额不足: balance is {self.balance_minutes} minutes, redemption needs {minutes}")
        self._redeemed(redemption_id=redemption_id, counter_id=counter_id, lines=lines, minutes=minutes)
        return True

    @event("Redeemed")
    def _redeemed(self, redemption_id: UUID, counter_id: UUID, lines: list[dict[str, Any]], minutes: int) -> None:
        self.balance_minutes -= minutes
        self.redeemed_minutes_total += minutes
        self.redemptions[redemption_id] = (str(counter_id), minutes, lines)
        assert self.balance_minutes >= 0

    # -- transfer (转移接续) -----------------------------------------------------------------------
    def freeze(self, *, transfer_id: UUID) -> None:
        self._require_open()
        self._frozen(transfer_id=transfer_id, balance_minutes=self.balance_minutes)

    @event("Frozen")
    def _frozen(self, transfer_id: UUID, balance_minutes: int) -> None:
        self.frozen_by = transfer_id

    def unfreeze(self, *, transfer_id: UUID) -> None:
        if self.frozen_by != transfer_id:
            raise WrongState(f"account {self.id} is not frozen by {transfer_id}")
        self._unfrozen(transfer_id=transfer_id)

    @event("Unfrozen")
    def _unfrozen(self, transfer_id: UUID) -> None:
        self.frozen_by = None

    def transfer_out(self, *, transfer_id: UUID) -> None:
        if self.frozen_by != transfer_id:
            raise WrongState(f"account {self.id} is not frozen by {transfer_id}")
        self._transferred_out(transfer_id=transfer_id, minutes=self.balance_minutes, owed_minutes=self.owed_minutes)

    @event("TransferredOut")
    def _transferred_out(self, transfer_id: UUID, minutes: int, owed_minutes: int) -> None:
        self.balance_minutes -= minutes
        self.owed_minutes -= owed_minutes
        self.frozen_by = None
        self.closed = True
        assert self.balance_minutes == 0 and self.owed_minutes == 0

    def transfer_in(self, *, transfer_id: UUID, minutes: int, owed_minutes: int) -> None:
        if transfer_id in self.sources:
            return
        self._transferred_in(transfer_id=transfer_id, minutes=minutes, owed_minutes=owed_minutes)

    @event("TransferredIn")
    def _transferred_in(self, transfer_id: UUID, minutes: int, owed_minutes: int) -> None:
        self.sources.add(transfer_id)
        self.balance_minutes += minutes
        self.owed_minutes += owed_minutes
        self.closed = False
        assert self.balance_minutes >= 0
