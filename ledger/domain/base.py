"""The base aggregate: a clock for event timestamps, and the hash-chain head.

Event timestamps come from `CLOCK` (the server clock unless a caller such as the demo generator
sets another); appliers never read it. `_chain_head` is the SHA-256 of the aggregate's last signed
statement: the mapper attaches it to events it loads, and the ledger sets it when it signs.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Callable

from eventsourcing.domain import Aggregate


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


CLOCK: ContextVar[Callable[[], datetime]] = ContextVar("CLOCK", default=_utc_now)
CHAIN_ATTRIBUTE = "_statement_sha256"


class LedgerAggregate(Aggregate):
    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return CLOCK.get()()

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            chain = self.__dict__.get(CHAIN_ATTRIBUTE)
            if chain is not None:
                aggregate._chain_head = chain
            return aggregate

    class Created(Event, Aggregate.Created):
        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            aggregate.__dict__.setdefault("_chain_head", None)
            return aggregate
