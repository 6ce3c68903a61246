"""三单制 orders (居民点单 → 支部下单 → 党员接单 → fulfilled) and suggestions (建议)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import NotPermitted, OrderWrongState, WrongState
from ledger.domain.limits import AGENCY_CHARS_MAX, CASE_REFERENCE_CHARS_MAX, NOTE_CHARS_MAX, REASON_CHARS_MAX
from ledger.domain.values import check_text


class Order(LedgerAggregate):
    PLACED, DISPATCHED, ACCEPTED, FULFILLED, CANCELLED = "placed", "dispatched", "accepted", "fulfilled", "cancelled"

    @classmethod
    def place(cls, *, order_id: UUID, community_id: UUID, menu_item_id: UUID, menu_title: str, resident_id: UUID,
              note: str, placed_on: date) -> "Order":
        return cls(id=order_id, community_id=community_id, menu_item_id=menu_item_id, menu_title=menu_title,
                   resident_id=resident_id, note=check_text(note, "note", chars_max=NOTE_CHARS_MAX, required=False),
                   placed_on=placed_on)

    @event("Placed")
    def __init__(self, *, id: UUID, community_id: UUID, menu_item_id: UUID, menu_title: str, resident_id: UUID,
                 note: str, placed_on: date) -> None:
        self.community_id = community_id
        self.menu_item_id = menu_item_id
        self.menu_title = menu_title
        self.resident_id = resident_id
        self.note = note
        self.placed_on = placed_on
        self.status = self.PLACED
        self.member_id: UUID | None = None
        self.session_id: UUID | None = None
        self.declined_reason = ""  # the latest 婉拒 reason, shown to the office when it dispatches again

    def _require(self, *states: str) -> None:
        if self.status not in states:
            raise OrderWrongState(f"order {self.id} is {self.status}, expected {' or '.join(states)}")

    def dispatch(self, *, member_id: UUID) -> None:
        self._require(self.PLACED, self.DISPATCHED)
        self._dispatched(member_id=member_id)

    @event("Dispatched")
    def _dispatched(self, member_id: UUID) -> None:
        self.status = self.DISPATCHED
        self.member_id = member_id

    def accept(self, *, member_id: UUID) -> None:
        self._require(self.DISPATCHED)
        if member_id != self.member_id:
            raise NotPermitted("only the member the order was dispatched to can accept it")
        self._accepted(member_id=member_id)

    @event("Accepted")
    def _accepted(self, member_id: UUID) -> None:
        self.status = self.ACCEPTED

    def decline(self, *, member_id: UUID, reason: str) -> None:
        """党员婉拒: the member it was dispatched to declines, with a reason; the order goes back to
        the office to dispatch again."""
        self._require(self.DISPATCHED)
        if member_id != self.member_id:
            raise NotPermitted("only the member the order was dispatched to can decline it")
        self._declined(member_id=member_id, reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX))

    @event("Declined")
    def _declined(self, member_id: UUID, reason: str) -> None:
        self.status = self.PLACED
        self.member_id = None
        self.declined_reason = reason

    def fulfil(self, *, session_id: UUID) -> None:
        self._require(self.ACCEPTED)
        self._fulfilled(session_id=session_id)

    @event("Fulfilled")
    def _fulfilled(self, session_id: UUID) -> None:
        self.status = self.FULFILLED
        self.session_id = session_id

    def cancel(self, *, reason: str) -> None:
        self._require(self.PLACED, self.DISPATCHED, self.ACCEPTED)
        self._cancelled(reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX))

    @event("Cancelled")
    def _cancelled(self, reason: str) -> None:
        self.status = self.CANCELLED


class Suggestion(LedgerAggregate):
    SUBMITTED, ADOPTED, FORWARDED = "submitted", "adopted", "forwarded"

    @classmethod
    def submit(cls, *, suggestion_id: UUID, member_id: UUID, community_id: UUID, content: str,
               submitted_on: date) -> "Suggestion":
        return cls(id=suggestion_id, member_id=member_id, community_id=community_id,
                   content=check_text(content, "content"), submitted_on=submitted_on)

    @event("Submitted")
    def __init__(self, *, id: UUID, member_id: UUID, community_id: UUID, content: str, submitted_on: date) -> None:
        self.member_id = member_id
        self.community_id = community_id
        self.content = content
        self.submitted_on = submitted_on
        self.status = self.SUBMITTED
        self.outcome_note = ""
        self.outcome_reference = ""

    def adopt(self, *, note: str) -> None:
        if self.status != self.SUBMITTED:
            raise WrongState(f"suggestion {self.id} is already {self.status}")
        self._adopted(note=check_text(note, "note", chars_max=NOTE_CHARS_MAX, required=False))

    @event("Adopted")
    def _adopted(self, note: str) -> None:
        self.status = self.ADOPTED
        self.outcome_note = note

    def forward(self, *, agency: str, reference: str = "") -> None:
        if self.status != self.SUBMITTED:
            raise WrongState(f"suggestion {self.id} is already {self.status}")
        self._forwarded(agency=check_text(agency, "agency", chars_max=AGENCY_CHARS_MAX),
                        reference=check_text(reference, "reference", chars_max=CASE_REFERENCE_CHARS_MAX,
                                             required=False))

    class Forwarded(LedgerAggregate.Event):
        """交转有关机构办理. Version 2 (the worked example of docs/schema-evolution.md) adds
        `reference`: the agency's case number (受理编号), so the community can follow the case up.
        Version 1 statements, signed before it existed, decode with no reference."""

        class_version = 2
        agency: str
        reference: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reference"] = ""

    @event(Forwarded)
    def _forwarded(self, agency: str, reference: str) -> None:
        self.status = self.FORWARDED
        self.outcome_note = agency
        self.outcome_reference = reference
