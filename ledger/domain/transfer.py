"""转移接续: moving a member's signed history and balance to another region, two-phase.

Source side, `Transfer`: Initiated (pending; the member and the balance frozen; one destination)
→ Exported (a bundle was produced; may happen again, same content) → Completed (the destination's
signed receipt arrived: member closed here, balance out) or Voided (the destination's signed
rejection, or after the timeout its signed answer that it has not imported the transfer: unfrozen)
or VoidForced (after the timeout, a destination that never answers: the region admin's reasoned
override, flagged as such — the one path where a double credit stays possible). Destination side, `TransferImport`, one per (source, transfer):
Accepted (history imported, balance credited). A refusal the destination signed is recorded as a
`TransferRejection` under the same stable id: both are version 1 of one originator id, so the event
store's uniqueness holds the destination to one answer per transfer, imported or rejected, even with
several processes on one database. The stable id also makes importing the same bundle twice a no-op.
The destination's answer to a timeout query ("not imported") is such a rejection too, with the code
`NOT_IMPORTED`: signing it bars the import for good.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import WrongState
from ledger.domain.values import check_text, stable_id


class Transfer(LedgerAggregate):
    PENDING, COMPLETED, VOIDED = "pending", "completed", "voided"

    @classmethod
    def initiate(cls, *, transfer_id: UUID, member_id: UUID, destination: str, consent_id: UUID,
                 balance_minutes: int, owed_minutes: int, expires_at: datetime) -> "Transfer":
        return cls(id=transfer_id, member_id=member_id, destination=destination, consent_id=consent_id,
                   balance_minutes=balance_minutes, owed_minutes=owed_minutes, expires_at=expires_at)

    @event("Initiated")
    def __init__(self, *, id: UUID, member_id: UUID, destination: str, consent_id: UUID, balance_minutes: int,
                 owed_minutes: int, expires_at: datetime) -> None:
        self.member_id = member_id
        self.destination = destination
        self.consent_id = consent_id
        self.balance_minutes = balance_minutes
        self.owed_minutes = owed_minutes
        self.expires_at = expires_at
        self.status = self.PENDING
        self.bundle_sha256: str | None = None
        self.exported_bundles: list[str] = []  # every bundle exported for this transfer (SHA-256, hex)
        self.receipt_sha256: str | None = None
        self.void_reason: str | None = None
        self.void_forced = False  # voided by the region admin without the destination's answer

    def require_pending(self) -> None:
        if self.status != self.PENDING:
            raise WrongState(f"transfer {self.id} is already {self.status}")

    def record_export(self, *, bundle_sha256: str, log_size: int) -> None:
        self.require_pending()
        if self.bundle_sha256 == bundle_sha256:
            return
        self._exported(bundle_sha256=bundle_sha256, log_size=log_size)

    @event("Exported")
    def _exported(self, bundle_sha256: str, log_size: int) -> None:
        self.bundle_sha256 = bundle_sha256
        self.exported_bundles = [*self.exported_bundles, bundle_sha256]

    def exported(self, bundle_sha256: object) -> bool:
        """Whether these are the bytes of a bundle this region exported for this transfer: the only
        bundles a destination's receipt or rejection may answer."""
        return isinstance(bundle_sha256, str) and bundle_sha256 in self.exported_bundles

    def complete(self, *, receipt_sha256: str, receipt: dict[str, Any]) -> None:
        self.require_pending()
        self._completed(receipt_sha256=receipt_sha256, receipt=receipt)

    @event("Completed")
    def _completed(self, receipt_sha256: str, receipt: dict[str, Any]) -> None:
        self.status = self.COMPLETED
        self.receipt_sha256 = receipt_sha256

    def void(self, *, reason: str, rejection: dict[str, Any] | None) -> None:
        self.require_pending()
        self._voided(reason=check_text(reason, "reason", chars_max=500), rejection=rejection)

    @event("Voided")
    def _voided(self, reason: str, rejection: dict[str, Any] | None) -> None:
        self.status = self.VOIDED
        self.void_reason = reason

    def force_void(self, *, reason: str, now: datetime) -> None:
        """The region admin's override for a destination that never answered: only after the
        timeout, only with a reason. The destination may still have imported the transfer."""
        self.require_pending()
        if now < self.expires_at:
            raise WrongState(f"transfer {self.id} has not expired yet ({self.expires_at.isoformat()})")
        self._void_forced(reason=check_text(reason, "reason", chars_max=500))

    @event("VoidForced")
    def _void_forced(self, reason: str) -> None:
        self.status = self.VOIDED
        self.void_reason = reason
        self.void_forced = True


class TransferImport(LedgerAggregate):
    """The destination's record of one incoming transfer."""

    ACCEPTED, REJECTED = "accepted", "rejected"

    @staticmethod
    def create_id(source: str, transfer_id: UUID) -> UUID:
        return stable_id("transfer-import", source, transfer_id)

    @classmethod
    def accept(cls, *, source: str, transfer_id: UUID, member_id: UUID, bundle_sha256: str, balance_minutes: int,
               owed_minutes: int, events_count: int, summary: dict[str, Any]) -> "TransferImport":
        return cls(source=source, transfer_id=transfer_id, member_id=member_id, bundle_sha256=bundle_sha256,
                   balance_minutes=balance_minutes, owed_minutes=owed_minutes, events_count=events_count,
                   summary=summary)

    @event("Accepted")
    def __init__(self, *, source: str, transfer_id: UUID, member_id: UUID, bundle_sha256: str,
                 balance_minutes: int, owed_minutes: int, events_count: int, summary: dict[str, Any]) -> None:
        self.source = source
        self.transfer_id = transfer_id
        self.member_id = member_id
        self.bundle_sha256 = bundle_sha256
        self.balance_minutes = balance_minutes
        self.owed_minutes = owed_minutes
        self.events_count = events_count
        self.summary = summary
        self.status = self.ACCEPTED


class TransferRejection(LedgerAggregate):
    """The destination's signed refusal of one incoming transfer, kept so that it never also imports
    it. Its id is `TransferImport.create_id(source, transfer_id)`: a transfer is either imported or
    rejected here, never both (the store refuses a second version 1 of one id). `NOT_IMPORTED` is
    the code of the answer to a source's query after the timeout."""

    NOT_IMPORTED = "not_imported"

    @classmethod
    def record(cls, *, source: str, transfer_id: UUID, member_id: UUID, bundle_sha256: str, code: str,
               reason: str) -> "TransferRejection":
        return cls(source=source, transfer_id=transfer_id, member_id=member_id, bundle_sha256=bundle_sha256,
                   code=check_text(code, "code", chars_max=64), reason=check_text(reason, "reason", chars_max=500))

    @staticmethod
    def create_id(source: str, transfer_id: UUID) -> UUID:
        return TransferImport.create_id(source, transfer_id)

    @event("Recorded")
    def __init__(self, *, source: str, transfer_id: UUID, member_id: UUID, bundle_sha256: str, code: str,
                 reason: str) -> None:
        self.source = source
        self.transfer_id = transfer_id
        self.member_id = member_id
        self.bundle_sha256 = bundle_sha256  # the first bundle refused; later copies are refused by reference
        self.code = code
        self.reason = reason
