"""The Ledger: one method per use case, the only writer of events.

`LedgerCore` (core.py) holds the unit of work, loading, committing and signing (server- and
client-side) and the look-ups every family shares; each use-case family is a mixin in its own module
(keys, organisations, members, service, accounts). Transfers between regions (transfers.py) and the
Merkle log's checkpoints (checkpoints.py) are use cases that work on a `Ledger` from outside the
class. Only modules of this package touch the Ledger's private members (tests/unit/test_house.py).
"""

from __future__ import annotations

from ledger.application.accounts import AccountUseCases
from ledger.application.core import Actor, LedgerCore, RedemptionResult, StatementsPrepared
from ledger.application.keys import KeyUseCases
from ledger.application.members import MemberUseCases
from ledger.application.organisations import OrganisationUseCases
from ledger.application.service import ServiceUseCases


class Ledger(KeyUseCases, OrganisationUseCases, MemberUseCases, ServiceUseCases, AccountUseCases, LedgerCore):
    """The region's ledger: every command of every family, one store, one signer per actor."""

    name = "Ledger"


__all__ = ["Actor", "Ledger", "LedgerCore", "RedemptionResult", "StatementsPrepared"]
