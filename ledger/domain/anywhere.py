"""通存通兑 at the counter's side: a redemption at this region's counter for a member of another region.

`RemoteRedemption`, one per redemption id (its stable id), kept by the counter's region (B):
Requested (the counter's basket at B's prices, and the request B signed for the member's home region
A) → Authorised (A's signed answer: the minutes are held there) → Captured (A's signed answer: the hold
became a redemption) — or Refused (A's signed refusal, e.g. not enough balance) or Released (A's signed
answer that the hold was released: voided by B, or expired). A's answers are kept verbatim (base64),
so B's auditor checks them with A's public key alone, and the settlement between A and B is built from
them. The home region's side is the member's `TimeAccount` (Held, HoldCaptured, HoldReleased).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import InvalidInput, OfflineBoundExceeded, OfflineRedemptionsOff, WrongState
from ledger.domain.values import stable_id

REQUEST_FORMAT = "timeledger-anywhere-request/v1"  # the counter region's signed requests
ANSWER_FORMAT = "timeledger-anywhere-answer/v1"  # the home region's signed answers (kept verbatim by the counter)


class RemoteRedemption(LedgerAggregate):
    REQUESTED, AUTHORISED, CAPTURED, REFUSED, RELEASED = "requested", "authorised", "captured", "refused", "released"
    OFFLINE = "offline"  # accepted without home's answer (home unreachable, within this region's offline bound)

    @staticmethod
    def create_id(redemption_id: UUID) -> UUID:
        return stable_id("remote-redemption", redemption_id)

    @classmethod
    def start(cls, *, redemption_id: UUID, home: str, member_id: UUID, counter_id: UUID,
                lines: list[dict[str, Any]], minutes: int, request: str) -> "RemoteRedemption":
        return cls(id=cls.create_id(redemption_id), redemption_id=redemption_id, home=home, member_id=member_id,
                   counter_id=counter_id, lines=lines, minutes=minutes, request=request)

    @event("Requested")
    def __init__(self, *, id: UUID, redemption_id: UUID, home: str, member_id: UUID, counter_id: UUID,
                 lines: list[dict[str, Any]], minutes: int, request: str) -> None:
        self.redemption_id = redemption_id
        self.home = home
        self.member_id = member_id
        self.counter_id = counter_id
        self.lines = lines
        self.minutes = minutes
        self.request = request  # the signed authorise request, base64: a retry sends these very bytes
        self.status = self.REQUESTED
        self.authorisation: str | None = None  # A's signed answers, base64
        self.capture: str | None = None
        self.refusal: str | None = None
        self.refusal_code: str | None = None
        self.release: str | None = None
        self.balance_minutes: int | None = None  # the member's balance at home after the hold, as A said
        self.offline_request: str | None = None  # the signed "offline" request presented to home later, base64
        self.owed_minutes = 0  # of one taken offline: what the member's balance at home no longer covered

    def same_terms(self, *, home: str, member_id: UUID, counter_id: UUID, lines: list[dict[str, Any]]) -> bool:
        return (self.home, self.member_id, self.counter_id, self.lines) == (home, member_id, counter_id, lines)

    def authorised(self, *, answer: str, balance_minutes: int) -> None:
        if self.status == self.REQUESTED:
            self._authorised(answer=answer, balance_minutes=balance_minutes)

    @event("Authorised")
    def _authorised(self, answer: str, balance_minutes: int) -> None:
        self.authorisation = answer
        self.balance_minutes = balance_minutes
        self.status = self.AUTHORISED

    def refused(self, *, answer: str, code: str) -> None:
        if self.status != self.REQUESTED:
            raise WrongState(f"redemption {self.redemption_id} is already {self.status}")
        self._refused(answer=answer, code=code)

    @event("Refused")
    def _refused(self, answer: str, code: str) -> None:
        self.refusal = answer
        self.refusal_code = code
        self.status = self.REFUSED

    def accept_offline(self, *, offline_request: str) -> None:
        if self.status != self.REQUESTED:
            raise WrongState(f"redemption {self.redemption_id} is already {self.status}")
        self._accepted_offline(offline_request=offline_request)

    @event("AcceptedOffline")
    def _accepted_offline(self, offline_request: str) -> None:
        self.offline_request = offline_request
        self.status = self.OFFLINE

    def captured(self, *, answer: str, owed_minutes: int = 0) -> None:
        if self.status == self.CAPTURED:
            return
        if self.status == self.OFFLINE:
            self._captured_offline(answer=answer, owed_minutes=owed_minutes)
            return
        if self.status != self.AUTHORISED:
            raise WrongState(f"redemption {self.redemption_id} is {self.status}, not authorised")
        self._captured(answer=answer)

    @event("Captured")
    def _captured(self, answer: str) -> None:
        self.capture = answer
        self.status = self.CAPTURED

    @event("OfflinePresented")
    def _captured_offline(self, answer: str, owed_minutes: int) -> None:
        self.capture = answer
        self.owed_minutes = owed_minutes
        self.status = self.CAPTURED

    def released(self, *, answer: str) -> None:
        if self.status == self.RELEASED:
            return
        if self.status not in (self.REQUESTED, self.AUTHORISED):
            raise WrongState(f"redemption {self.redemption_id} is {self.status}: it cannot be released")
        self._released(answer=answer)

    @event("Released")
    def _released(self, answer: str) -> None:
        self.release = answer
        self.status = self.RELEASED


class RemoteOfflineDay(LedgerAggregate):
    """What this region's counters accepted offline for one member of another region on one China day:
    the region's offline bound (`Region.offline_minutes_per_member_day`) caps it, so the exposure while
    the member's home region cannot be reached is bounded and known."""

    @staticmethod
    def create_id(home: str, member_id: UUID, day: str) -> UUID:
        return stable_id("remote-offline-day", home, member_id, day)

    @classmethod
    def open(cls, *, home: str, member_id: UUID, day: str) -> "RemoteOfflineDay":
        return cls(id=cls.create_id(home, member_id, day), home=home, member_id=member_id, day=day)

    @event("Opened")
    def __init__(self, *, id: UUID, home: str, member_id: UUID, day: str) -> None:
        self.home = home
        self.member_id = member_id
        self.day = day
        self.used_minutes = 0

    def use(self, *, redemption_id: UUID, minutes: int, bound_minutes: int) -> None:
        if bound_minutes <= 0:
            raise OfflineRedemptionsOff("the region allows no offline redemption")
        if self.used_minutes + minutes > bound_minutes:
            raise OfflineBoundExceeded(
                f"offline redemptions for this member on {self.day} would reach {self.used_minutes + minutes} "
                f"minutes, over the region's bound of {bound_minutes}", reason="offline_bound_exceeded",
                params={"bound_minutes": bound_minutes, "used_minutes": self.used_minutes})
        self._used(redemption_id=redemption_id, minutes=minutes)

    @event("Used")
    def _used(self, redemption_id: UUID, minutes: int) -> None:
        self.used_minutes += minutes


class SettlementLog(LedgerAggregate):
    """This region's checks of one peer's settlement statements (issue #14), one record per peer: each
    check is a signed event, the last is what the 联盟地区 page shows. Kept apart from the Region, so a
    peer's exchanges never grow the record every request loads."""

    @staticmethod
    def create_id(peer: str) -> UUID:
        return stable_id("settlement-log", peer)

    @classmethod
    def open(cls, *, peer: str) -> "SettlementLog":
        return cls(id=cls.create_id(peer), peer=peer)

    @event("Opened")
    def __init__(self, *, id: UUID, peer: str) -> None:
        self.peer = peer
        self.last: dict[str, Any] | None = None

    def checked(self, *, checked_at: str, agreed: int, they_owe_minutes: int, we_owe_minutes: int, disputes: int,
                sent: bool) -> None:
        if any(type(n) is not int or n < 0 for n in (agreed, they_owe_minutes, we_owe_minutes, disputes)):
            raise InvalidInput("a settlement verdict counts whole, non-negative numbers")
        self._checked(checked_at=checked_at, agreed=agreed, they_owe_minutes=they_owe_minutes,
                      we_owe_minutes=we_owe_minutes, disputes=disputes, sent=sent)

    @event("Checked")
    def _checked(self, checked_at: str, agreed: int, they_owe_minutes: int, we_owe_minutes: int, disputes: int,
                 sent: bool) -> None:
        self.last = {"checked_at": checked_at, "agreed": agreed, "they_owe_minutes": they_owe_minutes,
                     "we_owe_minutes": we_owe_minutes, "disputes": disputes, "sent": sent}
