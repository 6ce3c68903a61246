"""Signing keys as events: registration (certified by an authority), revocation, rotation."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import WrongState
from ledger.domain.values import stable_id


class Key(LedgerAggregate):
    """One public key of one actor. The event registering it is signed by the certifying key."""

    @staticmethod
    def create_id(key_id: str) -> UUID:
        return stable_id("key", key_id)

    @classmethod
    def register(cls, *, key_id: str, public_key: str, owner_id: UUID, role: str, certified_by: str,
                 label: str) -> "Key":
        return cls(key_id=key_id, public_key=public_key, owner_id=owner_id, role=role,
                   certified_by=certified_by, label=label)

    @event("Registered")
    def __init__(self, *, key_id: str, public_key: str, owner_id: UUID, role: str, certified_by: str,
                 label: str) -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.owner_id = owner_id
        self.role = role
        self.certified_by = certified_by
        self.label = label
        self.revoked_at: datetime | None = None
        self.replaced_by: str | None = None

    def revoke(self, *, effective_at: datetime, reason: str, replaced_by: str | None) -> None:
        if self.revoked_at is not None:
            raise WrongState(f"key {self.key_id} is already revoked")
        self._revoked(effective_at=effective_at, reason=reason, replaced_by=replaced_by)

    @event("Revoked")
    def _revoked(self, effective_at: datetime, reason: str, replaced_by: str | None) -> None:
        self.revoked_at = effective_at
        self.replaced_by = replaced_by

    def is_valid_at(self, moment: datetime) -> bool:
        return key_valid_between(self.created_on, self.revoked_at, moment)


def key_valid_between(registered_at: datetime, revoked_at: datetime | None, moment: datetime) -> bool:
    """The one key-validity rule (commands, events, bundles, checkpoints, certificate seals): a key
    signs from its registration up to, not including, its revocation."""
    return registered_at <= moment and (revoked_at is None or moment < revoked_at)
