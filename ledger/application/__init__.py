"""The Ledger: one method per use case, the only writer of events.

`LedgerCore` (core.py) holds the unit of work, loading, committing and signing (server- and
client-side) and the look-ups every family shares; each use-case family is a mixin in its own module
(keys, organisations, members, service, accounts). Transfers between regions (transfers.py) and the
Merkle log's checkpoints (checkpoints.py) are use cases that work on a `Ledger` from outside the
class. Only modules of this package touch the Ledger's private members (tests/unit/test_house.py).
"""

from __future__ import annotations

from uuid import UUID

from ledger.application import ownership
from ledger.application.accounts import AccountUseCases
from ledger.application.activities import ActivityUseCases, ScanResult
from ledger.application.core import Actor, LedgerCore, RedemptionResult, StatementsPrepared
from ledger.application.keys import KeyUseCases
from ledger.application.members import MemberUseCases
from ledger.application.organisations import OrganisationUseCases
from ledger.application.ownership import Kind
from ledger.application.service import PaperSession, ServiceUseCases


class Ledger(KeyUseCases, OrganisationUseCases, MemberUseCases, ServiceUseCases, AccountUseCases, ActivityUseCases,
             LedgerCore):
    """The region's ledger: every command of every family, one store, one signer per actor."""

    name = "Ledger"

    def owns(self, actor: Actor, kind: Kind, object_id: UUID | str) -> bool:
        """Whether the object is the actor's own (ownership.py: the relations the commands refuse by,
        and the API's authorisation table asks). Raises NotFound when the object does not exist."""
        return ownership.owns(self, actor, kind, object_id)

    def has_authority(self, actor: Actor, target_id: UUID) -> bool:
        """Whether `actor` certifies (and so manages) the target actor (ownership.has_authority)."""
        return ownership.has_authority(self, actor, target_id)


__all__ = ["Actor", "Kind", "Ledger", "LedgerCore", "PaperSession", "RedemptionResult", "ScanResult",
           "StatementsPrepared"]
