"""The member's time account: certified minutes in, 爱心超市 redemptions out; never below zero."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import (
    BalanceWouldGoNegative,
    HoldCaptured,
    HoldExpired,
    HoldNotFound,
    HoldPending,
    HoldReleased,
    MemberFrozen,
    OfflineBoundExceeded,
    OfflineRedemptionsOff,
    RedemptionExistsWithDifferentTerms,
    WrongState,
)
from ledger.domain.values import stable_id


RELEASE_CODES = ("voided", "expired")  # why a hold was released: the counter region voided it, or its time ran out


@dataclass(frozen=True)
class Hold:
    """Minutes held for a counter of another region (通存通兑) until it captures or voids them.
    Immutable: a change of status replaces the value (appliers assign at the top level only)."""

    counter_region: str
    counter_id: str
    minutes: int
    lines: tuple[tuple[str, int, int], ...]  # (item name, quantity, price in minutes) at the counter's prices
    expires_at: datetime | None  # None: taken offline by the counter region, captured as it was presented
    request_sha256: str  # of the counter region's signed request that asked for the hold
    balance_after_minutes: int  # the spendable balance right after the hold (said in the authorisation)
    status: str = "held"  # held → captured | released
    release_code: str = ""  # of a released hold: voided (by the counter region) or expired
    owed_minutes: int = 0  # of one taken offline: what the balance no longer covered when it was presented

    @property
    def terms(self) -> tuple[str, str, int, tuple[tuple[str, int, int], ...]]:
        return (self.counter_region, self.counter_id, self.minutes, self.lines)


class TimeAccount(LedgerAggregate):
    """Invariant: balance − owed = credited − clawed back − redeemed − held, balance ≥ 0, owed ≥ 0.

    A clawback (a correction down, an upheld complaint) larger than the balance leaves the rest as
    `owed_minutes`, which later credits repay first: the balance never goes below zero.
    `balance_minutes` is what can be spent: minutes held for a counter of another region (通存通兑)
    are out of it until the hold is captured (they become a redemption) or released (they come back,
    repaying what is owed first, like a credit).
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
        self.held_minutes = 0
        self.holds: dict[UUID, Hold] = {}  # by redemption id, every hold ever taken (exactly once)

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
        if redemption_id in self.holds:
            raise RedemptionExistsWithDifferentTerms(f"redemption {redemption_id} was held for another region")
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

    # -- 通存通兑: a hold for a counter of another region --------------------------------------------
    def hold(self, *, redemption_id: UUID, counter_region: str, counter_id: str,
             lines: Sequence[tuple[str, int, int]], minutes: int, expires_at: datetime, request_sha256: str) -> bool:
        """Hold `minutes` for another region's counter. Returns False when this exact hold exists
        already (a retried request); the same id with other terms, or the id of a local redemption,
        is refused."""
        assert minutes > 0, minutes
        wanted = Hold(counter_region=counter_region, counter_id=counter_id, minutes=minutes,
                      lines=tuple((str(n), int(q), int(p)) for n, q, p in lines), expires_at=expires_at,
                      request_sha256=request_sha256, balance_after_minutes=self.balance_minutes - minutes)
        previous = self.holds.get(redemption_id)
        if previous is not None:
            if previous.terms == wanted.terms:
                return False
            raise RedemptionExistsWithDifferentTerms(f"redemption {redemption_id} was already used with other terms")
        if redemption_id in self.redemptions:
            raise RedemptionExistsWithDifferentTerms(f"redemption {redemption_id} was already used at a counter here")
        self._require_open()
        if minutes > self.balance_minutes:
            raise BalanceWouldGoNegative(
                f"余额不足: balance is {self.balance_minutes} minutes, redemption needs {minutes}")
        self._held(redemption_id=redemption_id, counter_region=counter_region, counter_id=counter_id,
                   lines=[list(line) for line in wanted.lines], minutes=minutes, expires_at=expires_at,
                   request_sha256=request_sha256)
        return True

    @event("Held")
    def _held(self, redemption_id: UUID, counter_region: str, counter_id: str, lines: list[list[Any]],
              minutes: int, expires_at: datetime, request_sha256: str) -> None:
        self.holds[redemption_id] = Hold(counter_region=counter_region, counter_id=counter_id, minutes=minutes,
                                         lines=tuple((str(n), int(q), int(p)) for n, q, p in lines),
                                         expires_at=expires_at, request_sha256=request_sha256,
                                         balance_after_minutes=self.balance_minutes - minutes)
        self.balance_minutes -= minutes
        self.held_minutes += minutes
        assert self.balance_minutes >= 0

    def require_hold(self, redemption_id: UUID, counter_region: str) -> Hold:
        """The hold of `redemption_id` taken for `counter_region` (another region's id is not found)."""
        found = self.holds.get(redemption_id)
        if found is None or found.counter_region != counter_region:
            raise HoldNotFound(f"no hold of redemption {redemption_id} for region {counter_region}")
        return found

    def capture(self, *, redemption_id: UUID, counter_region: str, now: datetime, request_sha256: str) -> bool:
        """The counter gave the goods: the held minutes become a redemption. Returns False when it was
        captured already (a retry). A released hold cannot be captured; an expired one is refused
        (the use case releases it)."""
        found = self.require_hold(redemption_id, counter_region)
        if found.status == "captured":
            return False
        if found.status == "released":
            raise HoldReleased(f"the hold of redemption {redemption_id} was released")
        if found.expires_at is not None and now > found.expires_at:
            raise HoldExpired(f"the hold of redemption {redemption_id} expired at {found.expires_at.isoformat()}")
        self._hold_captured(redemption_id=redemption_id, counter_region=counter_region, minutes=found.minutes,
                            request_sha256=request_sha256)
        return True

    @event("HoldCaptured")
    def _hold_captured(self, redemption_id: UUID, counter_region: str, minutes: int, request_sha256: str) -> None:
        self.holds[redemption_id] = replace(self.holds[redemption_id], status="captured")
        self.held_minutes -= minutes
        self.redeemed_minutes_total += minutes
        assert self.held_minutes >= 0

    def release(self, *, redemption_id: UUID, counter_region: str, reason: str, request_sha256: str = "") -> bool:
        """The counter voided, or the hold expired: the minutes come back, repaying what is owed first.
        Returns False when it was released already; a captured hold cannot be released."""
        found = self.require_hold(redemption_id, counter_region)
        if found.status == "released":
            return False
        if found.status == "captured":
            raise HoldCaptured(f"the hold of redemption {redemption_id} was captured")
        assert reason in RELEASE_CODES, reason
        repaid = min(self.owed_minutes, found.minutes)
        self._hold_released(redemption_id=redemption_id, counter_region=counter_region, reason=reason,
                            minutes=found.minutes,
                            repaid_minutes=repaid, to_balance_minutes=found.minutes - repaid,
                            request_sha256=request_sha256)
        return True

    @event("HoldReleased")
    def _hold_released(self, redemption_id: UUID, counter_region: str, reason: str, minutes: int, repaid_minutes: int,
                       to_balance_minutes: int, request_sha256: str) -> None:
        self.holds[redemption_id] = replace(self.holds[redemption_id], status="released", release_code=reason)
        self.held_minutes -= minutes
        self.owed_minutes -= repaid_minutes
        self.balance_minutes += to_balance_minutes
        assert self.held_minutes >= 0 and self.owed_minutes >= 0

    def expired_holds(self, now: datetime) -> list[UUID]:
        return [rid for rid, found in self.holds.items()
                if found.status == "held" and found.expires_at is not None and now > found.expires_at]

    def capture_offline(self, *, redemption_id: UUID, counter_region: str, counter_id: str,
                        lines: Sequence[tuple[str, int, int]], minutes: int, request_sha256: str) -> bool:
        """A redemption a counter of another region accepted while this region could not be reached
        (within that region's offline bound), presented afterwards: the goods have left, so the balance
        pays what it can and the rest is owed (repaid first by later credits), never below zero. Returns
        False when it was presented already."""
        assert minutes > 0, minutes
        terms = (counter_region, counter_id, minutes, tuple((str(n), int(q), int(p)) for n, q, p in lines))
        previous = self.holds.get(redemption_id)
        if previous is not None:
            if previous.terms == terms and previous.status == "captured":
                return False
            raise RedemptionExistsWithDifferentTerms(f"redemption {redemption_id} was already used with other terms")
        if redemption_id in self.redemptions:
            raise RedemptionExistsWithDifferentTerms(f"redemption {redemption_id} was already used at a counter here")
        self._require_open()
        taken = min(self.balance_minutes, minutes)
        self._captured_offline(redemption_id=redemption_id, counter_region=counter_region, counter_id=counter_id,
                               lines=[list(line) for line in terms[3]], minutes=minutes, from_balance_minutes=taken,
                               owed_added_minutes=minutes - taken, request_sha256=request_sha256)
        return True

    @event("CapturedOffline")
    def _captured_offline(self, redemption_id: UUID, counter_region: str, counter_id: str, lines: list[list[Any]],
                          minutes: int, from_balance_minutes: int, owed_added_minutes: int,
                          request_sha256: str) -> None:
        self.holds[redemption_id] = Hold(counter_region=counter_region, counter_id=counter_id, minutes=minutes,
                                         lines=tuple((str(n), int(q), int(p)) for n, q, p in lines),
                                         expires_at=None, request_sha256=request_sha256,
                                         balance_after_minutes=self.balance_minutes - from_balance_minutes,
                                         status="captured", owed_minutes=owed_added_minutes)
        self.balance_minutes -= from_balance_minutes
        self.owed_minutes += owed_added_minutes
        self.redeemed_minutes_total += minutes
        assert self.balance_minutes >= 0 and from_balance_minutes + owed_added_minutes == minutes

    def release_expired(self, now: datetime) -> int:
        """Release every hold whose time ran out (reason `expired`): its minutes come back, repaying
        what is owed first. How many."""
        expired = self.expired_holds(now)
        for redemption_id in expired:
            self.release(redemption_id=redemption_id, counter_region=self.holds[redemption_id].counter_region,
                         reason="expired")
        return len(expired)
    # -- 爱心超市 redemption captured offline by a counter device (issue #15) ------------------------
    @property
    def offline_redemptions(self) -> dict[UUID, dict[str, Any]]:
        """Offline redemptions synced into this account: id -> what the sync recorded (accounts opened
        before offline capture existed have none)."""
        found: dict[UUID, dict[str, Any]] | None = self.__dict__.get("_offline")
        if found is None:
            found = self.__dict__["_offline"] = {}
        return found

    def redeem_offline(self, *, redemption_id: UUID, counter_id: UUID, lines: list[dict[str, Any]], minutes: int,
                       captured_at: str, captured_on: str, device_key_id: str, device_signature: str,
                       bound_minutes: int) -> tuple[bool, dict[str, Any]]:
        """Record a redemption a counter device signed while offline. The goods have left the shop, so
        a balance that no longer covers it does not refuse it: the balance goes to zero and the rest is
        owed (repaid first by later credits), never below zero. Refused: the region allows no offline
        redemption, or the member's offline redemptions at this counter that China day would pass the
        region's bound. Returns (applied, outcome); a retry of the same record returns the original
        outcome with applied False."""
        assert minutes > 0, minutes
        terms = (str(counter_id), minutes, lines)
        previous = self.redemptions.get(redemption_id)
        if previous is not None:
            if previous != terms:
                raise RedemptionExistsWithDifferentTerms(
                    f"redemption {redemption_id} was already used with other terms")
            return False, self.offline_redemptions.get(redemption_id, {"owed_added_minutes": 0, "offline": False})
        if redemption_id in self.holds:
            raise RedemptionExistsWithDifferentTerms(f"redemption {redemption_id} was held for another region")
        self._require_open()
        if bound_minutes <= 0:
            raise OfflineRedemptionsOff("the region allows no offline redemption")
        used = sum(entry["minutes"] for entry in self.offline_redemptions.values()
                   if entry["counter_id"] == str(counter_id) and entry["captured_on"] == captured_on)
        if used + minutes > bound_minutes:
            raise OfflineBoundExceeded(
                f"offline redemptions at this counter on {captured_on} would reach {used + minutes} minutes, "
                f"over the region's bound of {bound_minutes}",
                reason="offline_bound_exceeded", params={"bound_minutes": bound_minutes, "used_minutes": used})
        taken = min(self.balance_minutes, minutes)
        self._redeemed_offline(redemption_id=redemption_id, counter_id=counter_id, lines=lines, minutes=minutes,
                               from_balance_minutes=taken, owed_added_minutes=minutes - taken,
                               captured_at=captured_at, captured_on=captured_on, device_key_id=device_key_id,
                               device_signature=device_signature)
        return True, self.offline_redemptions[redemption_id]

    @event("RedeemedOffline")
    def _redeemed_offline(self, redemption_id: UUID, counter_id: UUID, lines: list[dict[str, Any]], minutes: int,
                          from_balance_minutes: int, owed_added_minutes: int, captured_at: str, captured_on: str,
                          device_key_id: str, device_signature: str) -> None:
        self.balance_minutes -= from_balance_minutes
        self.owed_minutes += owed_added_minutes
        self.redeemed_minutes_total += minutes
        self.redemptions[redemption_id] = (str(counter_id), minutes, lines)
        self.offline_redemptions[redemption_id] = {
            "counter_id": str(counter_id), "minutes": minutes, "captured_on": captured_on,
            "owed_added_minutes": owed_added_minutes, "offline": True}
        assert self.balance_minutes >= 0 and from_balance_minutes + owed_added_minutes == minutes

    # -- transfer (转移接续) -----------------------------------------------------------------------
    def freeze(self, *, transfer_id: UUID) -> None:
        self._require_open()
        if self.held_minutes:
            raise HoldPending(f"account {self.id} has {self.held_minutes} minutes held for counters of other regions")
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


# -- the account's history, as a passbook (存折) ---------------------------------------------------
# What each event does to the balance, read from the event's own fields: a credit adds what reached
# the balance (not what repaid an owed amount or went over the storage cap), a clawback takes what it
# took from the balance, a redemption and a transfer out take their minutes, a transfer in adds its.
_BALANCE_CHANGE: dict[str, tuple[str, int]] = {
    "Credited": ("to_balance_minutes", 1),
    "Held": ("minutes", -1),
    "HoldReleased": ("to_balance_minutes", 1),
    "ClawedBack": ("from_balance_minutes", -1),
    "Redeemed": ("minutes", -1),
    "RedeemedOffline": ("from_balance_minutes", -1),  # the rest, if any, is owed
    "CapturedOffline": ("from_balance_minutes", -1),  # 通存通兑 taken offline at another region: likewise
    "TransferredOut": ("minutes", -1),
    "TransferredIn": ("minutes", 1),
}


def balance_change_minutes(event: Any) -> int:
    """The change one account event made to the balance (0 for opening, freezing, unfreezing)."""
    field, sign = _BALANCE_CHANGE.get(type(event).__name__, ("", 0))
    return sign * int(getattr(event, field)) if field else 0


@dataclass(frozen=True)
class HistoryLine:
    """One line of the passbook: the event, its change to the balance, and the balance after it."""

    version: int
    time: datetime
    kind: str  # the event's type: Opened, Credited, ClawedBack, Redeemed, Frozen, …
    change_minutes: int
    balance_minutes: int
    repaid_minutes: int = 0  # of a credit: what repaid an owed amount first
    over_cap_minutes: int = 0  # of a credit: what the storage cap kept out
    owed_added_minutes: int = 0  # of a clawback or an offline redemption: what the balance could not cover
    source_id: UUID | None = None  # of a credit or clawback: what it came from (a session's id for kind "session")
    source_kind: str = ""  # of a credit or clawback: session, correction, complaint
    items: tuple[tuple[str, int], ...] = ()  # of a redemption or a hold: (item name, quantity)
    minutes: int = 0  # the event's own minutes (a hold, its capture or release: what was held)
    counter_region: str = ""  # of a hold: the region of the counter it is for (通存通兑)


def account_history(events: Iterable[Any], *, opening_balance_minutes: int = 0) -> list[HistoryLine]:
    """The account's events in the order the ledger applied them (the account's event number), oldest
    first, with a running balance; `opening_balance_minutes` is the balance before the first event
    given. That order is the one in which the balance moved, so every line's balance is one the account
    really had (never below zero); events are stamped when recorded, so it is also time order unless a
    clock was set back."""
    ordered = sorted(events, key=lambda e: e.originator_version)
    lines: list[HistoryLine] = []
    balance = opening_balance_minutes
    for entry in ordered:
        change = balance_change_minutes(entry)
        balance += change
        lines.append(HistoryLine(
            version=entry.originator_version, time=entry.timestamp, kind=type(entry).__name__,
            change_minutes=change, balance_minutes=balance,
            repaid_minutes=int(getattr(entry, "repaid_minutes", 0) or 0),
            over_cap_minutes=int(getattr(entry, "over_cap_minutes", 0) or 0),
            owed_added_minutes=int(getattr(entry, "owed_added_minutes", 0) or 0),
            source_id=getattr(entry, "source_id", None), source_kind=str(getattr(entry, "kind", "") or ""),
            items=tuple(_item(line) for line in getattr(entry, "lines", None) or ()),
            minutes=int(getattr(entry, "minutes", 0) or 0),
            counter_region=str(getattr(entry, "counter_region", "") or "")))
    return lines


def _item(line: Any) -> tuple[str, int]:
    """(name, quantity) of a redemption's line (a dict) or a hold's line ([name, quantity, price])."""
    if isinstance(line, dict):
        return str(line.get("name", "")), int(line.get("quantity", 0))
    return str(line[0]), int(line[1])


@dataclass(frozen=True)
class AccountSummary:
    """What a member page shows above the passbook; deposited − clawed back − redeemed − moved out
    = available, exactly (every figure is a sum of the lines' changes)."""

    deposited_minutes: int  # credits that reached the balance, and transfers in
    clawed_back_minutes: int  # what clawbacks took from the balance (and released holds repaid of them)
    redeemed_minutes: int  # at counters here, and captured by counters of other regions
    moved_out_minutes: int
    available_minutes: int
    held_minutes: int = 0  # held for counters of other regions, not yet captured or released


def summarise(lines: Sequence[HistoryLine], *, opening_balance_minutes: int = 0) -> AccountSummary:
    def total(*kinds: str) -> int:
        return sum(abs(line.change_minutes) for line in lines if line.kind in kinds)

    def minutes(kind: str) -> int:
        return sum(line.minutes for line in lines if line.kind == kind)

    captured, released = minutes("HoldCaptured"), minutes("HoldReleased")
    summary = AccountSummary(
        deposited_minutes=opening_balance_minutes + total("Credited", "TransferredIn"),
        clawed_back_minutes=total("ClawedBack") + sum(line.repaid_minutes for line in lines
                                                      if line.kind == "HoldReleased"),
        redeemed_minutes=total("Redeemed", "RedeemedOffline", "CapturedOffline") + captured, moved_out_minutes=total("TransferredOut"),
        available_minutes=lines[-1].balance_minutes if lines else opening_balance_minutes,
        held_minutes=minutes("Held") - captured - released)
    assert (summary.deposited_minutes - summary.clawed_back_minutes - summary.redeemed_minutes
            - summary.moved_out_minutes - summary.held_minutes == summary.available_minutes), summary
    return summary


class DeviceOfflineDay(LedgerAggregate):
    """What one counter device accepted offline on one China day, in all (issue #15): the region's total
    bound per device (`Region.offline_minutes_per_device_day`) caps it, beside the per-member bound, so
    what a lost or misused device can hand out before anyone sees it is known."""

    @staticmethod
    def create_id(device_key_id: str, day: str) -> UUID:
        return stable_id("device-offline-day", device_key_id, day)

    @classmethod
    def open(cls, *, device_key_id: str, day: str) -> "DeviceOfflineDay":
        return cls(id=cls.create_id(device_key_id, day), device_key_id=device_key_id, day=day)

    @event("Opened")
    def __init__(self, *, id: UUID, device_key_id: str, day: str) -> None:
        self.device_key_id = device_key_id
        self.day = day
        self.used_minutes = 0

    def use(self, *, redemption_id: UUID, minutes: int, bound_minutes: int) -> None:
        if self.used_minutes + minutes > bound_minutes:
            raise OfflineBoundExceeded(
                f"offline redemptions on this device on {self.day} would reach {self.used_minutes + minutes} "
                f"minutes, over the region's bound of {bound_minutes} per device", reason="offline_device_bound_exceeded",
                params={"bound_minutes": bound_minutes, "used_minutes": self.used_minutes})
        self._used(redemption_id=redemption_id, minutes=minutes)

    @event("Used")
    def _used(self, redemption_id: UUID, minutes: int) -> None:
        self.used_minutes += minutes
